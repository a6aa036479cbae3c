"""How well akida_nb's NP estimate agrees with BrainChip's mapper (AKD1000, AKD1500), and where it does not.

Usage::

    python benchmarks/np_agreement.py [--target akd1000|akd1500] [--probes FILE] [--rows]

Maps every probe (a one-layer model the mapper mapped in its minimal mode, or refused) with
:func:`akida_nb.nps.compare_with_probes` and prints: the overall agreement (same NP count, or
the same refusal message — a "not enough NPs" message carries the count), the agreement per
layer type and per kind of mapper answer, the NP-type agreement, the six model-zoo totals, the
whole models of ``tests/data/akd1500/whole_models.jsonl`` per group of the mapper's answer (one
pass, multi-pass, refused: the verdict of ``ak.check``, the NP total, the passes), and the
disagreeing rows grouped by layer configuration (with ``--rows``, every disagreeing row).
The probes default to the target's: ``tests/data/np_probes.csv`` (akd1000) or
``tests/data/akd1500/np_probes.csv`` (akd1500).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import akida_nb as ak
from akida_nb.nps import PUBLISHED_TOTALS, compare_with_probes, estimate_nps, get_device

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
PROBES = {"akd1000": DATA / "np_probes.csv", "akd1500": DATA / "akd1500" / "np_probes.csv"}
WHOLE = DATA / "akd1500" / "whole_models.jsonl"
CONFIG = ["type", "kernel", "weights_bits", "in_channels"]


def rate_table(df: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows, agreeing rows and the agreement rate per value of ``by``."""
    g = df.groupby(by, dropna=False)["agrees"]
    return pd.DataFrame({"rows": g.size(), "agree": g.sum(), "rate": g.mean().map("{:.2%}".format)})


def outcome(nps, error: str, kind: str) -> str:
    """One probe's answer in a few words: ``"3 NPs"``, ``"needs 128"``, or the refusal kind."""
    if kind == "mapped":
        return f"{int(nps)} NPs"
    if kind == "not enough NPs":
        return f"needs {error.split(' are needed')[0].rsplit(' ', 1)[-1]}"
    return kind


def disagreements(df: pd.DataFrame) -> pd.DataFrame:
    """The disagreeing rows grouped by layer configuration: how many, and what each side said."""
    bad = df[~df["agrees"]].copy()
    bad["mapper"] = [outcome(n, e, k) for n, e, k in zip(bad["nps"], bad["error"].fillna(""), bad["kind"])]
    bad["estimate"] = [outcome(n, e, k) for n, e, k in zip(bad["est_nps"], bad["est_error"], bad["est_kind"])]
    sizes = df.groupby(CONFIG, dropna=False).size()
    rows = []
    for key, g in bad.groupby(CONFIG, dropna=False):
        pairs = sorted({f"{m} vs {e}" for m, e in zip(g["mapper"], g["estimate"])})
        rows.append({**dict(zip(CONFIG, key)), "rows": len(g), "of": sizes[key],
                     "mapper vs estimate": "; ".join(pairs[:4]) + (" …" if len(pairs) > 4 else "")})
    return pd.DataFrame(rows).sort_values("rows", ascending=False, ignore_index=True)


def whole_models(target: str) -> pd.DataFrame:
    """Per group of the mapper's answer: models, and how many agree on the verdict, the NP total and the passes."""
    import json

    device = get_device(target).name
    rows = []
    for line in WHOLE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        measured = row["devices"].get(device)
        if measured is None:
            continue
        m = ak.Model.from_dict(row["spec"])
        est = estimate_nps(m, target)
        group = "refused" if not measured["accepted"] else ("one pass" if measured["passes"] == 1 else "multi-pass")
        rows.append({"group": group, "verdict": ak.check(m, target).ok == measured["accepted"],
                     "total": est.attrs["total"] == measured.get("total_nps") if measured["accepted"] else None,
                     "passes": est.attrs["passes"] == measured.get("passes") if measured["accepted"] else None})
    df = pd.DataFrame(rows)
    g = df.groupby("group")
    return pd.DataFrame({"models": g.size(), "verdict": g["verdict"].sum(),
                         "total": g["total"].sum(min_count=1), "passes": g["passes"].sum(min_count=1)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=Path, default=None, help="np_probes.csv (default: the target's)")
    parser.add_argument("--target", default="akd1000", help="the target whose device was probed (default: akd1000)")
    parser.add_argument("--rows", action="store_true", help="also list every disagreeing row")
    args = parser.parse_args(argv)

    device = get_device(args.target)
    df = compare_with_probes(pd.read_csv(args.probes or PROBES[args.target]), args.target)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_colwidth", 90)
    print(f"NP estimate vs the {device.name} mapper ({device.nps} NPs): {df['agrees'].sum()} of {len(df)} probes agree "
          f"({df['agrees'].mean():.2%})\n")
    print("Per layer type:")
    print(rate_table(df, "type").to_string(), "\n")
    print("Per mapper answer (refusal kind):")
    print(rate_table(df, "kind").to_string(), "\n")
    mapped = df[df["kind"] == "mapped"]
    print(f"NP type (CNP1/FNP2/FNP3) agrees on {mapped['type_agrees'].mean():.2%} of {len(mapped)} mapped probes\n")

    print("Whole models (tests/data/akd1500/whole_models.jsonl), agreeing models per group of the mapper's answer:")
    print(whole_models(args.target).to_string(), "\n")

    print("AKD1000 model zoo totals (InputConvolutional on the HRC, not counted):")
    for name, published in PUBLISHED_TOTALS.items():
        total = estimate_nps(ak.example(name), args.target).attrs["total"]
        verdict = "ok" if total == published else "DIFFERS"
        print(f"  {name:32s} published {published:3d}  estimated {total:3d}  {verdict}")
    print()

    if df["agrees"].all():
        print("Every probe agrees.")
        return
    print("Where it disagrees, by layer configuration:")
    print(disagreements(df).to_string(index=False))
    if args.rows:
        cols = ["type", "kernel", "stride", "input_bits", "in_d0", "in_d1", "in_channels", "filters",
                "weights_bits", "nps", "est_nps", "error", "est_error"]
        print("\nDisagreeing rows:")
        print(df.loc[~df["agrees"], cols].to_string())


if __name__ == "__main__":
    main()
