"""Measure BrainChip's AKD1000 and AKD1500 mappers (akida 2.19.3) into tests/data/akd1500/.

Usage (in a venv with BrainChip's ``akida`` package; not akida_nb's own environment)::

    python benchmarks/measure_akd1500.py rules    # rule_probes.csv: one model per probe, on both devices
    python benchmarks/measure_akd1500.py probes [--limit N] [--seed S]   # np_probes.csv re-measured on the AKD1500
    python benchmarks/measure_akd1500.py whole --count 380 [--seed 13]   # whole_models.jsonl + whole_models.csv

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
        common = {"name": name, "weights_bits": int(ls.get("weights_bits", 4)),
                  "activation": bool(ls.get("activation", True)), "act_bits": int(ls.get("act_bits", 4))}
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
        yield ("input_conv.weights_bits", f"wb={wb}",
               _model((32, 32, 3), [_conv(ic, 3, 1, 16, weights_bits=wb)], 8), None)
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
            layer = _conv(t, 1 if t == "Convolutional" else 3, 1, 16, weights_bits=1 if t[0] == "C" else 2)
            yield f"{pre}.input_channels", f"c={c}", _model((4, 4, c), [layer]), None
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

    def probe(c: int) -> dict:
        return _model((1, 1, c), [_fc(units, weights_bits=weights_bits)], input_bits)

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


# ---------------------------------------------------------------- 3. whole models
ZOO = Path("/work/shared/zoo")
IC_MAX = {(3, 1): 512, (5, 1): 192, (7, 1): 96, (3, 3): 192, (5, 3): 64, (7, 3): 32}


def random_model(rng: random.Random, name: str) -> dict:
    """A random model that looks like a real one: an input, a conv/separable stack, a FullyConnected head."""
    n_fc = rng.choice([0, 1, 1, 1, 2, 2, 3]) if rng.random() < 0.7 else rng.randint(4, 20)
    n_conv = rng.randint(1 if n_fc else 2, 5) if rng.random() < 0.2 else rng.randint(6, max(6, min(33, 36 - n_fc)))
    layers: list = []
    if rng.random() < 0.6:   # an image model
        size = rng.choice([32, 64, 96, 128, 160, 224, 224])
        c = rng.choice([1, 3, 3])
        k = rng.choice([3, 3, 3, 5, 7])
        f = min(rng.choice([8, 16, 16, 24, 32, 32, 64]), IC_MAX[(k, c)])
        ic = _conv("InputConvolutional", k, rng.choice([1, 2, 2]), f, weights_bits=8,
                   act_bits=rng.choice([1, 2, 4, 4, 4]))
        if rng.random() < 0.2:
            ic.update(pool_type="max", pool_size=[2, 2], pool_stride=[2, 2])
        shape, bits = (size, size if rng.random() < 0.8 else rng.choice([32, 64, 96]), c), 8
        layers.append(ic)
        n_conv = max(1, n_conv - 1)
        down = ic["kernel_stride"][0] * (2 if ic["pool_type"] == "max" else 1)
        d0, d1 = -(-shape[0] // down), -(-shape[1] // down)
    else:
        shape = (rng.choice([8, 16, 16, 32, 32, 49, 64, 100]), rng.choice([8, 10, 16, 32, 32, 64]),
                 rng.choice([1, 2, 8, 16, 32, 64, 128]))
        bits = rng.choice([1, 2, 4, 4])
        f = rng.choice([16, 32, 64, 64])
        d0, d1 = shape[0], shape[1]
    fmax = rng.choice([256, 512, 512, 1024])
    p_down = rng.choice([0.05, 0.1, 0.15, 0.25])
    p_pool3 = 0.5 if rng.random() < 0.25 else 0.0   # some designers like 3×3 max pooling
    careless = rng.random() < 0.2      # ignore the spatial sizes, as a careless designer would
    for i in range(n_conv):
        last_conv = i == n_conv - 1
        t = "SeparableConvolutional" if (layers or i) and rng.random() < 0.6 else "Convolutional"
        k = 3 if rng.random() < 0.8 else rng.choice([1, 5, 7] if t == "Convolutional" else [5, 7])
        if t == "Convolutional" and f >= 256 and not careless:
            k = 1 if rng.random() < 0.5 else 3
        layer = _conv(t, k, 1, f, weights_bits=rng.choice([2, 4, 4]) if t[0] == "S" else rng.choice([1, 2, 4, 4]),
                      act_bits=rng.choice([1, 2, 4, 4, 4]))
        d_in = d0
        if (careless or min(d0, d1) >= 6) and rng.random() < p_down:
            f = min(fmax, f * 2)
            layer["filters"] = f
            if k == 3 and rng.random() < 0.5:
                layer["kernel_stride"] = [2, 2]
            elif not last_conv:
                ps = 3 if rng.random() < p_pool3 else 2
                layer.update(pool_type="max", pool_size=[ps, ps], pool_stride=[2, 2])
            d0, d1 = -(-d0 // 2), -(-d1 // 2)
        if last_conv and n_fc and rng.random() < 0.6 and (careless or (d1 >= 3 and d_in <= 32)):
            layer["pool_type"] = "average"
        layers.append(layer)
    if n_fc and layers[-1]["pool_type"] != "average" and d0 * d1 * f > 81920 and not careless:
        while d0 > 32:   # a real designer downsamples, then pools before the head
            layers.append(_conv("SeparableConvolutional", 3, 2, f))
            d0, d1 = -(-d0 // 2), -(-d1 // 2)
        layers.append(_conv("SeparableConvolutional", 3, 1, f, pool_type="average"))
    units = [16, 32, 64, 128, 256, 512, 1024] if n_fc < 4 else [16, 32, 64, 128, 256]
    for i in range(n_fc):
        last = i == n_fc - 1
        layers.append(_fc(rng.choice([2, 10, 33, 100, 1000]) if last else rng.choice(units),
                          weights_bits=rng.choice([1, 2, 4, 4]), act_bits=rng.choice([1, 2, 4]), activation=not last))
    if not n_fc:
        layers[-1]["activation"] = rng.random() < 0.5
    for i, layer in enumerate(layers):
        layer["name"] = f"L{i}_{layer['type']}"
    return {"name": name, **_model(shape, layers, bits)}


def issue_models() -> list:
    """The examples of issue 13: 19 and 30 FullyConnected layers (1×1×16 → 16 units)."""
    out = []
    for n in (19, 30):
        layers = [{**_fc(16, weights_bits=4, act_bits=4), "name": f"L{i}_FullyConnected"} for i in range(n)]
        out.append({"name": f"fc_chain_{n}", **_model((1, 1, 16), layers, 4)})
    return out


def _result(res: dict) -> dict:
    if not res["mapped"]:
        return {"accepted": False, "message": res["message"]}
    total = sum(layer["nps"] for layer in res["layers"] if "HRC" not in layer["np_types"])
    per_pass = [sum(layer["nps"] for layer in res["layers"] if layer["pass"] == k and "HRC" not in layer["np_types"])
                for k in range(res["passes"])]
    return {"accepted": True, "message": "", "sequences": res["sequences"], "passes": res["passes"],
            "total_nps": total, "nps_per_pass": per_pass, "pass_layers": res["pass_layers"],
            "layers": [{k: v for k, v in layer.items()} for layer in res["layers"]]}


SUMMARY_COLS = ["id", "group", "name", "n_layers", "n_fc", "device", "accepted", "sequences", "passes", "total_nps",
                "nps_per_pass", "np_types", "message"]


def run_whole(args) -> None:
    rng = random.Random(args.seed)
    models = [("issue", m) for m in issue_models()]
    models += [("zoo", json.loads(p.read_text())) for p in sorted(ZOO.glob("*.json"))]
    models += [("random", random_model(rng, f"rand_{i:03d}")) for i in range(args.count)]
    lines, rows = [], []
    t0 = time.perf_counter()
    for k, (group, spec) in enumerate(models):
        devices = {dev: _result(map_spec(spec, dev)) for dev in DEVICES}
        lines.append(json.dumps({"id": k, "group": group, "spec": spec, "devices": devices}, separators=(",", ":")))
        for dev, r in devices.items():
            types: dict = {}
            for layer in r.get("layers", []):
                for t in layer["np_types"]:
                    types[t] = types.get(t, 0) + (layer["nps"] if len(layer["np_types"]) == 1 else 0)
            rows.append({"id": k, "group": group, "name": spec.get("name", ""), "n_layers": len(spec["layers"]),
                         "n_fc": sum(layer["type"] == "FullyConnected" for layer in spec["layers"]), "device": dev,
                         "accepted": r["accepted"], "sequences": r.get("sequences", ""), "passes": r.get("passes", ""),
                         "total_nps": r.get("total_nps", ""),
                         "nps_per_pass": " ".join(map(str, r.get("nps_per_pass", []))),
                         "np_types": " ".join(f"{t}:{n}" for t, n in sorted(types.items())), "message": r["message"]})
        if k % 25 == 0:
            print(f"{k}/{len(models)} {time.perf_counter() - t0:.0f}s", flush=True)
    stem = args.output or "whole_models"
    (OUT / f"{stem}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(OUT / f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, SUMMARY_COLS)
        w.writeheader()
        w.writerows(rows)
    for dev in DEVICES:
        sub = [r for r in rows if r["device"] == dev and r["group"] == "random"]
        acc = [r for r in sub if r["accepted"]]
        multi = [r for r in acc if r["passes"] > 1]
        print(f"{dev}: {len(sub)} random models, {len(acc)} accepted, {len(multi)} multi-pass, "
              f"{len(sub) - len(acc)} refused")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["rules", "probes", "whole"])
    parser.add_argument("--limit", type=int, default=0, help="probes: a stratified subset of this many rows")
    parser.add_argument("--count", type=int, default=380, help="whole: number of random models")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--output", default="", help="whole: file stem (default whole_models)")
    parser.add_argument("--device", default="AKD1500", choices=DEVICES, help="probes: the device to map on")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    {"rules": run_rules, "probes": run_probes, "whole": run_whole}[args.what](args)


if __name__ == "__main__":
    main()
