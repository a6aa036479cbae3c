"""Build the quantizeml / cnn2snn reference data in ``tests/data/quantizeml/`` (scratch venv only).

Run in a venv holding akida, cnn2snn, quantizeml, akida_models and tf_keras (versions in
``tests/data/quantizeml/README.md``), never in the project's own venv::

    nice python benchmarks/make_reference_models.py [--only NAME ...] [--fbz]

For each Akida model-zoo v1 architecture, inside ``cnn2snn.set_akida_version(AkidaVersion.v1)``:
build it with akida_models (random, untrained weights: pretrained files are not on a package
registry), save the float config (``model.to_json()``), quantize it with quantizeml using the
zoo's v1 bit widths, save the quantized config, convert it with ``cnn2snn.convert`` and record
the converted akida layers in ``expected_akida_layers.json`` (same shape as the project's
``tests/data/keras/expected_akida_layers.json``, plus ``padding_value``, ``input_bits`` and
``params``: every raw akida layer parameter). Models that cannot be built are listed with the
reason under ``"_not_built"``. With ``--fbz`` it also writes small ``.fbz`` files with their
(random) variables and the akida ``forward()`` output on a fixed input.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "quantizeml"
CONFIGS = OUT / "configs"
FBZ = OUT / "fbz"
CALIBRATION_SAMPLES = 16  # random calibration: the weights are random too, only the structure matters


def qbits(input_weight_bits: int, weight_bits: int, activation_bits: int) -> dict[str, int]:
    return {"input_weight_bits": input_weight_bits, "weight_bits": weight_bits,
            "activation_bits": activation_bits}


Z448 = qbits(8, 4, 4)  # the zoo's v1 files are named *_iq8_wq4_aq4


def zoo() -> dict[str, tuple[Callable[[], Any], dict[str, int], str]]:
    """name -> (builder, quantization bits, where the bits come from)."""
    from akida_models import (
        akidanet_edge_imagenet,
        akidanet_imagenet,
        convtiny_dvs,
        ds_cnn_kws,
        gxnor_mnist,
        mobilenet_imagenet,
        pointnet_plus_modelnet40,
        vgg_utk_face,
        yolo_base,
    )

    def akidanet(alpha: float, res: int, classes: int = 1000) -> Callable[[], Any]:
        return lambda: akidanet_imagenet(input_shape=(res, res, 3), alpha=alpha, classes=classes)

    def edge(alpha: float, res: int) -> Callable[[], Any]:
        return lambda: akidanet_edge_imagenet(akidanet_imagenet(input_shape=(res, res, 3), alpha=alpha),
                                              classes=1000)

    def mobilenet(alpha: float, res: int) -> Callable[[], Any]:
        return lambda: mobilenet_imagenet(input_shape=(res, res, 3), alpha=alpha)

    models: dict[str, tuple[Callable[[], Any], dict[str, int], str]] = {}
    for alpha, tag in ((0.25, "25"), (0.5, "50"), (1.0, "100")):
        for res in (224, 160):
            models[f"akidanet_{tag}_{res}"] = (akidanet(alpha, res), Z448, "akidanet_imagenet_*_iq8_wq4_aq4")
    models["akidanet_edge_50_160"] = (edge(0.5, 160), Z448, "akidanet_imagenet_224_alpha_50_edge_iq8_wq4_aq4")
    models["akidanet_edge_50_224"] = (edge(0.5, 224), Z448, "akidanet_imagenet_224_alpha_50_edge_iq8_wq4_aq4")
    models["akidanet_vww_25_96"] = (akidanet(0.25, 96, 2), Z448, "akidanet_vww_iq8_wq4_aq4 (96x96, 2 classes assumed)")
    models["akidanet_plantvillage_50_224"] = (akidanet(0.5, 224, 38), Z448,
                                              "akidanet_plantvillage_iq8_wq4_aq4 (38 classes assumed)")
    for alpha, tag in ((0.25, "25"), (0.5, "50"), (1.0, "100")):
        models[f"mobilenet_{tag}_224"] = (mobilenet(alpha, 224), Z448, "mobilenet_imagenet_224_*iq8_wq4_aq4")
    models["ds_cnn_kws"] = (ds_cnn_kws, Z448, "ds_cnn_kws_iq8_wq4_aq4_laq1")
    models["vgg_utk_face"] = (vgg_utk_face, qbits(8, 2, 2), "vgg_utk_face_iq8_wq2_aq2")
    models["gxnor_mnist"] = (gxnor_mnist, qbits(2, 2, 1), "gxnor_mnist_iq2_wq2_aq1")
    # cnn2snn's InputConvolutional takes 4- or 8-bit weights only: the zoo's iq2 does not convert here
    models["gxnor_mnist_iq4"] = (gxnor_mnist, qbits(4, 2, 1), "gxnor_mnist_iq2_wq2_aq1 with 4-bit input weights")
    models["convtiny_dvs_gesture"] = (lambda: convtiny_dvs(input_shape=(64, 64, 10), classes=10), qbits(4, 4, 4),
                                      "convtiny_dvs_gesture_iq4_wq4_aq4")
    models["pointnet_plus_modelnet40"] = (pointnet_plus_modelnet40, Z448, "pointnet_plus_modelnet40_iq8_wq4_aq4")
    models["yolo_akidanet_voc"] = (lambda: yolo_base(input_shape=(224, 224, 3), classes=2, nb_box=5, alpha=0.5),
                                   Z448, "yolo_akidanet_voc_iq8_wq4_aq4 (alpha 0.5, 2 classes, 5 boxes assumed)")
    models["yolo_akidanet_widerface"] = (lambda: yolo_base(input_shape=(224, 224, 3), classes=1, nb_box=5,
                                                           alpha=0.5),
                                         Z448, "yolo_akidanet_widerface_iq8_wq4_aq4 (alpha 0.5 assumed)")
    return models


def pair(a: int, b: int) -> list[int]:
    return [int(a), int(b)]


def layer_record(layer: Any) -> dict[str, Any]:
    """One converted akida v1 layer, in the vocabulary of expected_akida_layers.json.

    akida names the first spatial axis "width"/"x" (its dims are [x, y, c]), which is the
    Keras first axis (rows): so ``kernel_size = [kernel_width, kernel_height]`` here.
    """
    import akida
    p = layer.parameters
    names = [k for k in dir(p) if not k.startswith("_")]
    raw = {k: getattr(p, k) for k in names}
    ltype = p.layer_type.name
    rec: dict[str, Any] = {"name": layer.name, "type": ltype,
                           "input_shape": [int(v) for v in layer.input_dims],
                           "output_shape": [int(v) for v in layer.output_dims]}
    if ltype in ("InputConvolutional", "Convolutional", "SeparableConvolutional"):
        rec["kernel_size"] = pair(raw["kernel_width"], raw["kernel_height"])
        rec["filters"] = int(raw["filters"])
        rec["strides"] = pair(raw["stride_x"], raw["stride_y"])
        rec["padding"] = akida.Padding(raw["padding"]).name.lower()
        pool = akida.PoolType(raw["pool_type"])
        rec["pool_type"] = {"NoPooling": "none", "Max": "max", "Average": "global_avg"}[pool.name]
        rec["pool_size"] = pair(raw["pooling_width"], raw["pooling_height"])
        rec["pool_stride"] = pair(raw["pooling_stride_x"], raw["pooling_stride_y"])
    elif ltype == "FullyConnected":
        rec["filters"] = int(raw["units"])
    if "weights_bits" in raw:
        rec["weights_bits"] = int(raw["weights_bits"])
    if "act_bits" in raw:
        rec["act_bits"] = int(raw["act_bits"])
    if "activation" in raw:
        rec["activation"] = int(bool(raw["activation"]))
    if "padding_value" in raw:
        rec["padding_value"] = int(raw["padding_value"])
    if "input_bits" in raw:
        rec["input_bits"] = int(raw["input_bits"])
    rec["params"] = {k: (v.name if hasattr(v, "name") and not isinstance(v, (int, float)) else
                         v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in raw.items()}
    rec["variables"] = sorted(layer.variables.names)
    return rec


def model_record(akida_model: Any) -> dict[str, Any]:
    return {"input_shape": [int(v) for v in akida_model.input_shape],
            "layers": [layer_record(layer) for layer in akida_model.layers]}


def build_one(name: str, builder: Callable[[], Any], bits: dict[str, int]) -> tuple[Any, Any, Any]:
    """The float Keras model, its quantizeml-quantized form and the cnn2snn akida model."""
    import cnn2snn
    from quantizeml.models import QuantizationParams, quantize
    with cnn2snn.set_akida_version(cnn2snn.AkidaVersion.v1):
        model = builder()
        qmodel = quantize(model, qparams=QuantizationParams(**bits), num_samples=CALIBRATION_SAMPLES,
                          batch_size=CALIBRATION_SAMPLES)
        akida_model = cnn2snn.convert(qmodel)
    return model, qmodel, akida_model


def versions() -> dict[str, str]:
    from importlib.metadata import version
    return {pkg: version(pkg) for pkg in ("akida", "cnn2snn", "quantizeml", "akida_models", "tensorflow",
                                          "tf_keras")}


def write(target: Path, data: dict[str, Any], not_built: dict[str, str]) -> None:
    out = {"_meta": {"versions": versions(), "akida_version": "v1", "weights": "random (untrained)",
                     "calibration": f"{CALIBRATION_SAMPLES} random samples"},
           **{k: data[k] for k in sorted(data)}, "_not_built": dict(sorted(not_built.items()))}
    target.write_text(json.dumps(out, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="model names to (re)build; others are kept from the file")
    args = parser.parse_args(argv)
    CONFIGS.mkdir(parents=True, exist_ok=True)
    target = OUT / "expected_akida_layers.json"
    data: dict[str, Any] = json.loads(target.read_text()) if target.exists() else {}
    not_built: dict[str, str] = data.pop("_not_built", {})
    data.pop("_meta", None)
    models = zoo()
    for name in args.only or list(models):
        builder, bits, source = models[name]
        print(f"== {name}", flush=True)
        try:
            model, qmodel, akida_model = build_one(name, builder, bits)
        except Exception as exc:  # noqa: BLE001 - a model the toolchain cannot build: record why
            traceback.print_exc()
            not_built[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            data.pop(name, None)
        else:
            not_built.pop(name, None)
            (CONFIGS / f"{name}.json").write_text(model.to_json())
            (CONFIGS / f"{name}_quantized.json").write_text(qmodel.to_json())
            record = model_record(akida_model)
            record["quantization"] = bits
            record["zoo_file"] = source
            data[name] = record
            print(f"   {len(record['layers'])} akida layers", flush=True)
        write(target, data, not_built)  # after each model: a long run keeps what it built
    return 0


if __name__ == "__main__":
    sys.exit(main())
