"""Compare akida_nb's Keras import with cnn2snn's conversion, layer by layer (report only, no assertions).

Run with the project's venv (no TensorFlow needed)::

    PYTHONPATH=$PWD python benchmarks/compare_quantizeml_import.py [--json OUT.json]

For every model in ``tests/data/quantizeml/expected_akida_layers.json`` (and ``fbz/layers.json``) it imports
the float config
(with the model's quantization bits as ``weights_bits``/``act_bits``/``input_weights_bits``) and the
quantized config with ``akida_nb.load_model`` (lenient: ``strict=False``), and prints every field
that differs from what cnn2snn converted, per layer.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "quantizeml"
FIELDS = ["name", "type", "input_shape", "output_shape", "kernel_size", "filters", "units", "kernel_stride",
          "padding", "pool_type", "pool_size", "pool_stride", "weights_bits", "act_bits", "activation",
          "padding_value"]


def expected_fields(layer: dict[str, Any]) -> dict[str, Any]:
    """A converter layer record in akida_nb's vocabulary (as tests/test_keras_expected.py reads it)."""
    fc = layer["type"] == "FullyConnected"
    conv = "kernel_size" in layer
    pool_type = layer.get("pool_type")
    pool = "average" if pool_type == "global_avg" else pool_type

    def pair(key: str) -> Any:
        return None if not conv or layer[key] == [-1, -1] else tuple(layer[key])
    out = {"name": layer["name"], "type": layer["type"],
           "input_shape": tuple(layer["input_shape"]), "output_shape": tuple(layer["output_shape"]),
           "kernel_size": tuple(layer["kernel_size"]) if conv else None,
           "filters": layer.get("filters") if conv else None, "units": layer.get("filters") if fc else None,
           "kernel_stride": tuple(layer["strides"]) if conv else None,
           "padding": layer.get("padding"), "pool_type": pool if conv else None,
           "pool_size": pair("pool_size"), "pool_stride": pair("pool_stride"),
           "weights_bits": layer.get("weights_bits"),
           "act_bits": layer.get("act_bits") if layer.get("activation") else None,
           "activation": bool(layer.get("activation")),
           "padding_value": layer.get("padding_value")}
    return out


def actual_fields(layer: Any) -> dict[str, Any]:
    out = {key: getattr(layer, key, None) for key in FIELDS}
    if not layer.activation:
        out["act_bits"] = None
    if layer.type != "InputConvolutional":
        out["padding_value"] = None
    elif out["padding_value"] is None:
        out["padding_value"] = 0
    return out


def compare(expected: dict[str, Any], model: Any) -> list[str]:
    lines = []
    first = expected["layers"][0]
    input_bits = first.get("input_bits", 8)  # an InputConvolutional takes 8-bit images
    if tuple(model.input_shape) != tuple(expected["input_shape"]):
        lines.append(f"model input_shape got {model.input_shape}, cnn2snn {tuple(expected['input_shape'])}")
    if model.input_bits != input_bits:
        lines.append(f"model input_bits got {model.input_bits}, cnn2snn {input_bits}")
    exp_layers = [l for l in expected["layers"] if l["type"] != "InputData"]
    got = list(model.layers)
    if len(got) != len(exp_layers):
        lines.append(f"layer count: got {len(got)}, cnn2snn {len(exp_layers)}")
    for i, (e, g) in enumerate(zip(exp_layers, got)):
        ef, gf = expected_fields(e), actual_fields(g)
        for key in FIELDS:
            if ef[key] != gf[key]:
                lines.append(f"L{i} {e['name']}: {key} got {gf[key]!r}, cnn2snn {ef[key]!r}")
    if getattr(model, "unmapped", ()):
        lines.append("unmapped: " + ", ".join(f"{u.name} ({u.layer_class})" for u in model.unmapped))
    return lines


def main(argv: list[str] | None = None) -> int:
    import akida_nb as ak
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the differences as JSON")
    args = parser.parse_args(argv)
    expected = json.loads((DATA / "expected_akida_layers.json").read_text())
    report: dict[str, dict[str, list[str]]] = {}
    for name, exp in expected.items():
        if name.startswith("_"):
            continue
        bits = exp["quantization"]
        float_kwargs = {"weights_bits": bits["weight_bits"], "act_bits": bits["activation_bits"],
                        "input_weights_bits": bits["input_weight_bits"]}
        for variant, suffix, kwargs in (("float", "", float_kwargs), ("quantized", "_quantized", {})):
            path = DATA / "configs" / f"{name}{suffix}.json"
            try:
                model = ak.load_model(path, strict=False, **kwargs)
                lines = compare(exp, model)
            except Exception as exc:  # noqa: BLE001 - a report: any failure is listed, not raised
                lines = [f"import failed: {type(exc).__name__}: {str(exc)[:300]}"]
            report.setdefault(name, {})[variant] = lines
            status = "OK" if not lines else f"{len(lines)} differences"
            print(f"{name} [{variant}]: {status}")
            for line in lines:
                print("   ", line)
    digits = DATA.parent / "digits"
    others = [(f"fbz/{name}", exp, DATA / "fbz" / f"{name}_quantized.json")
              for name, exp in json.loads((DATA / "fbz" / "layers.json").read_text()).items()]
    others += [("digits/digits_cnn", json.loads((digits / "layers.json").read_text())["digits_cnn"],
                digits / "digits_cnn_quantized.json")]
    for name, exp, path in others:  # the .fbz models: quantized configs only
        try:
            lines = compare(exp, ak.load_model(path, strict=False))
        except Exception as exc:  # noqa: BLE001 - a report: any failure is listed, not raised
            lines = [f"import failed: {type(exc).__name__}: {str(exc)[:300]}"]
        report.setdefault(name, {})["quantized"] = lines
        print(f"{name} [quantized]: {'OK' if not lines else f'{len(lines)} differences'}")
        for line in lines:
            print("   ", line)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
