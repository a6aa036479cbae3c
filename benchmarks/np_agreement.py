"""How well akida_nb's NP estimate agrees with BrainChip's AKD1000 mapper, and where it does not.

Usage::

    python benchmarks/np_agreement.py [--probes tests/data/np_probes.csv] [--target akd1000] [--rows]

Maps every probe (a one-layer model the mapper mapped in its minimal mode, or refused) with
:func:`akida_nb.nps.compare_with_probes` and prints: the overall agreement (same NP count, or
the same refusal message — a "not enough NPs" message carries the count), the agreement per
layer type and per kind of mapper answer, the NP-type agreement, the six model-zoo totals, and
the disagreeing rows grouped by layer configuration (with ``--rows``, every disagreeing row).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import akida_nb as ak
from akida_nb.nps import PUBLISHED_TOTALS, compare_with_probes, estimate_nps, get_device

PROBES = Path(__file__).resolve().parent.parent / "tests" / "data" / "np_probes.csv"
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=Path, default=PROBES, help="np_probes.csv (default: the repository's)")
    parser.add_argument("--target", default="akd1000", help="the target whose device was probed (default: akd1000)")
    parser.add_argument("--rows", action="store_true", help="also list every disagreeing row")
    args = parser.parse_args(argv)

    device = get_device(args.target)
    df = compare_with_probes(pd.read_csv(args.probes), args.target)
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
