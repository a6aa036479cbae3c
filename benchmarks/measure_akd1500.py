"""Measure BrainChip's AKD1000 and AKD1500 mappers (akida 2.19.3) into tests/data/akd1500/.

Usage (in a venv with BrainChip's ``akida`` package; not akida_nb's own environment)::

    python benchmarks/measure_akd1500.py rules    # rule_probes.csv: one model per probe, on both devices
    python benchmarks/measure_akd1500.py probes [--limit N] [--seed S]   # np_probes.csv re-measured on the AKD1500
    python benchmarks/measure_akd1500.py whole [--count N] [--seed S]    # whole_models.jsonl + whole_models.csv

Every model is built from akida's own v1 layers (InputData / InputConvolutional / Convolutional /
SeparableConvolutional / FullyConnected) from a spec in akida_nb's native format (a dict with
``input: {shape, bits}`` and ``layers``), given all-ones weights (the mapper refuses all-zero
separable weights), threshold 0 and act_step 1 unless the probe says otherwise, and mapped with
``model.map(device, hw_only=True, mode=akida.MapMode.Minimal)``. What is read back from a mapped model:

* ``model.sequences`` — one ``akida.Sequence`` when ``hw_only=True``; ``sequence.passes`` its
  hardware passes; ``pass.layers`` the layers of that pass (the input layer, when it is an
  InputData, belongs to no pass);
* ``layer.mapping.nps`` — the NP components of a layer: ``np.type`` (``akida.NP.Type.CNP1``,
  ``CNP2``, ``FNP2``, ``FNP3``, ``HRC``), ``np.ident`` ((row, column, id)), ``np.filters``.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "tests" / "data" / "akd1500"
DEVICES = ("AKD1000", "AKD1500")


# ---------------------------------------------------------------- spec → akida model
def _pair(v, default=(-1, -1)):
    if v is None:
        return default
    return tuple(int(x) for x in v) if isinstance(v, (list, tuple)) else (int(v), int(v))


def build(spec: dict, variables: dict | None = None):
    """An ``akida.Model`` from a native spec. ``variables``: {layer index: {name: value}} set after ones-weights."""
    import akida
    import numpy as np

    pad = {"same": akida.Padding.Same, "valid": akida.Padding.Valid}
    pool = {"none": akida.PoolType.NoPooling, "max": akida.PoolType.Max, "average": akida.PoolType.Average}
    shape = tuple(int(x) for x in spec["input"]["shape"])
    layers = []
    specs = spec["layers"]
    if specs[0]["type"] != "InputConvolutional":
        layers.append(akida.InputData(input_shape=shape, input_bits=int(spec["input"].get("bits", 4)),
                                      name="input"))
    for i, ls in enumerate(specs):
        name = ls.get("name") or f"L{i}_{ls['type']}"
        common = dict(name=name, weights_bits=int(ls.get("weights_bits", 4)),
                      activation=bool(ls.get("activation", True)), act_bits=int(ls.get("act_bits", 4)))
        if ls["type"] == "FullyConnected":
            layers.append(akida.FullyConnected(units=int(ls["units"]), **common))
            continue
        conv = dict(kernel_size=_pair(ls["kernel_size"]), filters=int(ls["filters"]),
                    kernel_stride=_pair(ls.get("kernel_stride"), (1, 1)),
                    padding=pad[ls.get("padding", "same")], pool_type=pool[ls.get("pool_type", "none")],
                    pool_size=_pair(ls.get("pool_size")), pool_stride=_pair(ls.get("pool_stride")), **common)
        if ls["type"] == "InputConvolutional":
            layers.append(akida.InputConvolutional(input_shape=shape, padding_value=int(ls.get("padding_value", 0)),
                                                   **conv))
        else:
            layers.append(getattr(akida, ls["type"])(**conv))
    model = akida.Model(layers=layers)
    first = 1 if specs[0]["type"] != "InputConvolutional" else 0
    for i, layer in enumerate(model.layers[first:]):
        for n in layer.variables.names:
            if n.startswith("weights"):
                layer.variables[n] = np.ones(layer.variables[n].shape, np.int8)
        for n, v in (variables or {}).get(i, {}).items():
            layer.variables[n] = np.full(layer.variables[n].shape, v, layer.variables[n].dtype)
    return model


def map_spec(spec: dict, device_name: str, variables: dict | None = None) -> dict:
    """Build and map; the mapper's answer as a dict (see the module docstring for the attributes read)."""
    import akida

    t0 = time.perf_counter()
    try:
        model = build(spec, variables)
    except Exception as e:  # noqa: BLE001 - the construction's refusal is a measured fact
        return {"mapped": False, "stage": "build", "message": " ".join(str(e).split()), "seconds": 0.0}
    try:
        model.map(getattr(akida, device_name)(), hw_only=True, mode=akida.MapMode.Minimal)
    except Exception as e:  # noqa: BLE001
        return {"mapped": False, "stage": "map", "message": " ".join(str(e).split()),
                "seconds": round(time.perf_counter() - t0, 3)}
    passes = []
    for seq in model.sequences:
        for p in seq.passes:
            passes.append([layer.name for layer in p.layers])
    layer_pass = {name: k for k, names in enumerate(passes) for name in names}
    layers = []
    for layer in model.layers:
        mp = layer.mapping
        if mp is None:
            continue
        nps = list(mp.nps)
        layers.append({"name": layer.name, "pass": layer_pass.get(layer.name),
                       "nps": len(nps), "np_types": sorted({n.type.name for n in nps}),
                       "idents": [[n.ident.col, n.ident.row, n.ident.id] for n in nps]})
    return {"mapped": True, "stage": "map", "message": "", "sequences": len(model.sequences),
            "passes": len(passes), "pass_layers": passes, "layers": layers,
            "seconds": round(time.perf_counter() - t0, 3)}


# ---------------------------------------------------------------- 1. rule probes
def _conv(ltype="Convolutional", k=3, s=1, f=32, **kw) -> dict:
    d = {"type": ltype, "kernel_size": _pair(k), "kernel_stride": _pair(s), "filters": f, "padding": "same",
         "pool_type": "none", "weights_bits": 4, "act_bits": 4, "activation": True}
    d.update(kw)
    for key in ("kernel_size", "kernel_stride", "pool_size", "pool_stride"):
        if key in d:
            d[key] = list(_pair(d[key]))
    return d


def _fc(units=10, **kw) -> dict:
    d = {"type": "FullyConnected", "units": units, "weights_bits": 4, "act_bits": 4, "activation": True}
    d.update(kw)
    return d


def _model(shape, layers, bits=4) -> dict:
    return {"input": {"shape": list(shape), "bits": bits}, "layers": layers}


FOLLOW = _conv("SeparableConvolutional", 3, 1, 16)   # a max-pooled Conv/SepConv must feed a Conv/SepConv


def rule_probes():
    """Yield (rule, what, spec, variables) for every probe of the akd1000 target's rules."""
    ic = "InputConvolutional"
    # InputConvolutional (HRC)
    for d1 in (4, 5, 256, 257):
        yield "input_conv.input_d1", f"d1={d1}", _model((32, d1, 3), [_conv(ic, 3, 1, 16, weights_bits=8)], 8), None
    for d0 in (4, 5, 256, 1024, 2048):
        yield "input_conv.input_d0", f"d0={d0}", _model((d0, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8)], 8), None
    for c in (1, 2, 3, 4):
        yield "input_conv.input_channels", f"c={c}", _model((32, 32, c), [_conv(ic, 3, 1, 16, weights_bits=8)], 8), None
    for k in (1, 2, 3, 4, 5, 7, 9, (3, 5)):
        yield "input_conv.kernel_size", f"k={k}", _model((32, 32, 3), [_conv(ic, k, 1, 16, weights_bits=8)], 8), None
    for k, s in ((3, 1), (3, 2), (3, 3), (5, 3), (7, 3), (7, 4), (3, 4), (3, (1, 2))):
        yield "input_conv.kernel_stride", f"k={k} s={s}", _model((32, 32, 3), [_conv(ic, k, s, 16, weights_bits=8)],
                                                                  8), None
    for p in ("same", "valid"):
        yield "input_conv.padding", p, _model((32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8, padding=p)], 8), None
    for (k, c), mx in {(3, 1): 512, (5, 1): 192, (7, 1): 96, (3, 3): 192, (5, 3): 64, (7, 3): 32}.items():
        for f in (mx, mx + 1, 2 * mx, 1024):
            yield "input_conv.filters", f"k={k} c={c} f={f}", _model((32, 32, c), [_conv(ic, k, 1, f, weights_bits=8)],
                                                                      8), None
    for ps, st in ((1, 1), (2, 2), (3, 3), ((1, 2), (1, 2)), ((2, 1), (2, 1)), (2, 1), (3, 2), (3, 1), (4, 4)):
        yield "input_conv.pool", f"max size={ps} stride={st}", _model(
            (32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8, pool_type="max", pool_size=ps, pool_stride=st)], 8), None
    yield "input_conv.pool_type", "average", _model((32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8,
                                                                        pool_type="average")], 8), None
    yield "input_conv.pool_next", "max-pooled then FC", _model(
        (32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8, pool_type="max", pool_size=2, pool_stride=2), _fc()], 8), None
    for wb in (1, 2, 4, 8, 9):
        yield "input_conv.weights_bits", f"wb={wb}", _model((32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=wb)], 8), None
    for ab in (1, 2, 3, 4, 8):
        yield "input_conv.act_bits", f"ab={ab}", _model((32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8,
                                                                           act_bits=ab)], 8), None
    yield "input_conv.activation", "off", _model((32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8, activation=False)],
                                                 8), None
    for th in (8388607, 8388608, -8388608, -8388609):
        yield "input_conv.threshold_range", f"threshold={th}", _model(
            (32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8)], 8), {0: {"threshold": th}}
    for st in (1048575, 1048576):
        yield "input_conv.act_step_range", f"act_step={st}", _model(
            (32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=8)], 8), {0: {"act_step": st}}
    # Convolutional and SeparableConvolutional
    for t, pre in (("Convolutional", "conv"), ("SeparableConvolutional", "sepconv")):
        for k in (1, 2, 3, 4, 5, 7, 9, (3, 5)):
            yield f"{pre}.kernel_size", f"k={k}", _model((16, 16, 32), [_conv(t, k, 1, 32)]), None
        for k, s in ((1, 2), (3, 2), (5, 2), (7, 2), (3, 3), (5, 3), (5, 4), (3, (1, 2))):
            yield f"{pre}.kernel_stride", f"k={k} s={s}", _model((16, 16, 32), [_conv(t, k, s, 32)]), None
        for p in ("same", "valid"):
            yield f"{pre}.padding", p, _model((16, 16, 32), [_conv(t, 3, 1, 32, padding=p)]), None
        for ps, st in ((1, 1), (2, 2), (2, 1), (3, 3), (3, 2), (3, 1), (4, 4), (4, 2), (2, 3), ((2, 1), (2, 1))):
            yield f"{pre}.pool_size", f"max size={ps} stride={st}", _model(
                (16, 16, 32), [_conv(t, 3, 1, 32, pool_type="max", pool_size=ps, pool_stride=st), FOLLOW]), None
        yield f"{pre}.maxpool_next", "max-pooled last layer", _model(
            (16, 16, 32), [_conv(t, 3, 1, 32, pool_type="max", pool_size=2, pool_stride=2)]), None
        yield f"{pre}.maxpool_next", "max-pooled then FC", _model(
            (16, 16, 32), [_conv(t, 3, 1, 32, pool_type="max", pool_size=2, pool_stride=2), _fc()]), None
        yield f"{pre}.maxpool_next", "3x3 max-pooled last layer", _model(
            (16, 16, 32), [_conv(t, 3, 1, 32, pool_type="max", pool_size=3, pool_stride=2)]), None
        for d0, d1, s in ((32, 16, 1), (33, 16, 1), (32, 16, 2), (33, 16, 2), (64, 16, 2), (40, 16, 1), (64, 64, 1),
                          (16, 2, 1), (16, 3, 1), (16, 4, 2), (16, 6, 2), (16, 5, 2), (1, 3, 1), (8, 300, 1)):
            yield f"{pre}.avgpool", f"average in={d0}x{d1} stride={s}", _model(
                (d0, d1, 32), [_conv(t, 3, s, 32, pool_type="average")]), None
        for ib in (1, 2, 3, 4, 5, 8):
            yield f"{pre}.input_bits", f"ib={ib}", _model((16, 16, 32), [_conv(t, 3, 1, 32)], ib), None
        for wb in (1, 2, 3, 4, 8):
            yield f"{pre}.weights_bits", f"wb={wb}", _model((16, 16, 32), [_conv(t, 3, 1, 32, weights_bits=wb)]), None
        for ab in (1, 2, 3, 4, 8):
            yield f"{pre}.act_bits", f"ab={ab}", _model((16, 16, 32), [_conv(t, 3, 1, 32, act_bits=ab)]), None
        yield f"{pre}.activation", "off", _model((16, 16, 32), [_conv(t, 3, 1, 32, activation=False)]), None
        yield f"{pre}.activation", "off, not last", _model((16, 16, 32), [_conv(t, 3, 1, 32, activation=False),
                                                                          FOLLOW]), None
        for c in (2048, 2049, 4096):
            yield f"{pre}.input_channels", f"c={c}", _model((4, 4, c), [_conv(t, 1 if t == "Convolutional" else 3, 1, 16,
                                                                              weights_bits=1 if t[0] == "C" else 2)]), None
        for f in (504, 505, 512, 513, 1024, 1025, 1536, 1537, 2048, 4096):
            yield f"{pre}.filters", f"f={f}", _model((8, 8, 16), [_conv(t, 3, 1, f)]), None
        for d0, d1 in ((32, 32), (33, 32), (64, 16), (16, 256), (16, 257), (8, 1024), (128, 128), (256, 256)):
            yield f"{pre}.input_size", f"in={d0}x{d1}", _model((d0, d1, 16), [_conv(t, 3, 1, 16)]), None
        for d0, d1, c, f in ((16, 16, 64, 64), (32, 32, 64, 64), (32, 32, 128, 128), (64, 64, 64, 64)):
            yield f"{pre}.stride2_maxpool", f"in={d0}x{d1}x{c} f={f}", _model(
                (d0, d1, c), [_conv(t, 3, 2, f, pool_type="max", pool_size=2, pool_stride=2), FOLLOW]), None
        for d0, d1, c, f, ps, st in ((32, 32, 128, 128, 3, 2), (64, 64, 64, 64, 3, 3), (64, 64, 64, 64, 3, 1),
                                     (64, 64, 64, 64, 2, 1), (64, 64, 64, 64, 2, 2), (16, 16, 32, 32, 3, 2)):
            yield f"{pre}.stride2_maxpool", f"in={d0}x{d1}x{c} f={f} stride 2, max {ps}/{st}", _model(
                (d0, d1, c), [_conv(t, 3, 2, f, pool_type="max", pool_size=ps, pool_stride=st), FOLLOW]), None
            yield f"{pre}.pool_size", f"in={d0}x{d1}x{c} f={f} stride 1, max {ps}/{st}", _model(
                (d0, d1, c), [_conv(t, 3, 1, f, pool_type="max", pool_size=ps, pool_stride=st), FOLLOW]), None
        for th in (524287, 524288, -524288, -524289):
            yield f"{pre}.threshold_range", f"threshold={th}", _model((16, 16, 32), [_conv(t, 3, 1, 32)]), \
                {0: {"threshold": th}}
        for st in (65535, 65536):
            yield f"{pre}.act_step_range", f"act_step={st}", _model((16, 16, 32), [_conv(t, 3, 1, 32)]), \
                {0: {"act_step": st}}
    # FullyConnected
    for ib in (1, 2, 3, 4, 8):
        yield "fc.input_bits", f"ib={ib}", _model((1, 1, 64), [_fc()], ib), None
    for wb in (1, 2, 3, 4, 8):
        yield "fc.weights_bits", f"wb={wb}", _model((1, 1, 64), [_fc(weights_bits=wb)], 2), None
    for ab in (1, 2, 3, 4, 8):
        yield "fc.act_bits", f"ab={ab}", _model((1, 1, 64), [_fc(act_bits=ab), _fc()], 2), None
    yield "fc.activation", "off, not last", _model((1, 1, 64), [_fc(activation=False), _fc()], 2), None
    for d0, d1, c in ((4, 4, 64), (7, 7, 256), (1, 16, 16), (32, 32, 56), (16, 16, 224), (32, 32, 80), (32, 32, 81),
                      (64, 64, 20), (64, 64, 21)):
        yield "fc.input_d0_d1", f"in={d0}x{d1}x{c}", _model((d0, d1, c), [_fc()], 2), None
    for u in (1, 1024, 2048, 2049, 4096, 8192, 16384):
        yield "fc.units", f"units={u}", _model((1, 1, 64), [_fc(units=u)], 2), None
    for th in (524287, 524288):
        yield "fc.threshold_range", f"threshold={th}", _model((1, 1, 64), [_fc()], 2), {0: {"threshold": th}}
    for st in (65535, 65536):
        yield "fc.act_step_range", f"act_step={st}", _model((1, 1, 64), [_fc()], 2), {0: {"act_step": st}}
    # device: how many FullyConnected / CNP-only layers fit
    for n in (1, 4, 7, 8, 9, 18, 19, 20, 22, 23, 26, 30, 40, 60, 80):
        yield "device.fc_chain", f"{n}× FC 1×1×16→16", _model((1, 1, 16), [_fc(16) for _ in range(n)], 2), None
    for n in (16, 31, 32, 33, 40, 60, 78, 79, 100):
        yield "device.conv_chain", f"{n}× Conv 3×3 8×8×16→16", _model((8, 8, 16), [_conv("Convolutional", 3, 1, 16)
                                                                                   for _ in range(n)]), None


PROBE_COLS = ["probe", "rule", "what", "device", "mapped", "nps", "np_types", "passes", "message", "spec"]


def _summary_row(res: dict) -> dict:
    if not res["mapped"]:
        return {"mapped": False, "nps": "", "np_types": "", "passes": "", "message": res["message"]}
    types = sorted({t for layer in res["layers"] if layer["np_types"] != ["HRC"] for t in layer["np_types"]})
    return {"mapped": True, "nps": sum(layer["nps"] for layer in res["layers"] if layer["np_types"] != ["HRC"]),
            "np_types": "+".join(types), "passes": res["passes"], "message": ""}


def fc_bisection(device: str, units: int, weights_bits: int, input_bits: int = 2, hi: int = 1 << 21):
    """Largest accepted 1×1×c FullyConnected input c on ``device`` (every tried c is yielded)."""
    lo = 1
    probe = lambda c: _model((1, 1, c), [_fc(units, weights_bits=weights_bits)], input_bits)  # noqa: E731
    res = map_spec(probe(hi), device)
    yield hi, probe(hi), res
    if res["mapped"]:
        return
    while hi - lo > 1:
        mid = (lo + hi) // 2
        res = map_spec(probe(mid), device)
        yield mid, probe(mid), res
        lo, hi = (mid, hi) if res["mapped"] else (lo, mid)


def run_rules(args) -> None:
    rows = []
    k = 0
    for rule, what, spec, variables in rule_probes():
        for dev in DEVICES:
            res = map_spec(spec, dev, variables)
            rows.append({"probe": k, "rule": rule, "what": what, "device": dev, **_summary_row(res),
                         "spec": json.dumps({**spec, "variables": variables} if variables else spec,
                                            separators=(",", ":"))})
        k += 1
    for dev in DEVICES:
        for units, wb in ((10, 4), (10, 1), (100, 2)):
            for c, spec, res in fc_bisection(dev, units, wb):
                rows.append({"probe": k, "rule": "fc.input_size", "what": f"bisection units={units} wb={wb} c={c}",
                             "device": dev, **_summary_row(res), "spec": json.dumps(spec, separators=(",", ":"))})
                k += 1
    with open(OUT / "rule_probes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, PROBE_COLS)
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} rows, {k} probes → {OUT / 'rule_probes.csv'}")


# ---------------------------------------------------------------- 2. the single-layer NP probe grid
GRID = HERE / "tests" / "data" / "np_probes.csv"
SPEC_COLS = ["type", "kernel", "stride", "padding", "input_bits", "in_d0", "in_d1", "in_channels", "filters",
             "weights_bits"]


def probe_spec(row: dict) -> dict:
    """One np_probes.csv row as a one-layer model named ``L0_<type>`` (as akida_nb.nps._probe_spec reads it)."""
    layer = {"type": row["type"], "name": f"L0_{row['type']}", "weights_bits": int(row["weights_bits"])}
    if row["type"] == "FullyConnected":
        layer["units"] = int(row["filters"])
    else:
        layer.update(kernel_size=[int(float(row["kernel"]))] * 2, kernel_stride=[int(float(row["stride"]))] * 2,
                     padding=row["padding"], filters=int(row["filters"]))
    return _model((int(row["in_d0"]), int(row["in_d1"]), int(row["in_channels"])), [layer], int(row["input_bits"]))


def run_probes(args) -> None:
    with open(GRID, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if args.limit and args.limit < len(rows):
        rng = random.Random(args.seed)
        groups: dict = {}
        for r in rows:
            groups.setdefault((r["type"], r["kernel"], r["weights_bits"]), []).append(r)
        share = args.limit / len(rows)
        rows = [r for g in groups.values() for r in rng.sample(g, max(1, round(share * len(g))))]
    out = []
    t0 = time.perf_counter()
    for i, r in enumerate(rows):
        res = map_spec(probe_spec(r), args.device)
        s = _summary_row(res)
        out.append({**{c: r[c] for c in SPEC_COLS}, "nps": s["nps"], "np_types": s["np_types"],
                    "error": s["message"]})
        if i % 500 == 0:
            print(f"{i}/{len(rows)} {time.perf_counter() - t0:.0f}s", flush=True)
    name = "np_probes.csv" if args.device == "AKD1500" else f"np_probes_{args.device.lower()}.csv"
    with open(OUT / name, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, SPEC_COLS + ["nps", "np_types", "error"])
        w.writeheader()
        w.writerows(out)
    print(f"{len(out)} probes on the {args.device} → {OUT / name}")


def run_whole(args) -> None:
    raise NotImplementedError


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["rules", "probes", "whole"])
    parser.add_argument("--limit", type=int, default=0, help="probes: a stratified subset of this many rows")
    parser.add_argument("--count", type=int, default=300, help="whole: number of random models")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--device", default="AKD1500", choices=DEVICES, help="probes: the device to map on")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    {"rules": run_rules, "probes": run_probes, "whole": run_whole}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
