"""The Keras import agrees with cnn2snn (Akida v1) on every model of ``tests/data/quantizeml``, field by field.

The reference (``expected_akida_layers.json``, ``fbz/layers.json``, ``../digits/layers.json``) was made once
with quantizeml 1.2.5 / cnn2snn 2.19.3 from the Akida model zoo's v1 architectures with **untrained weights**
(only the structure matters here; see ``tests/data/quantizeml/README.md``). Each model is imported from its
float config (with the bit widths it was quantized to) and from its quantized config, and every field of every
layer (type, kernel, stride, padding, filters/units, pooling type/size/stride, weights/act/input bits,
activation, padding value, shapes) must equal what cnn2snn converted. The field readers are those of
``benchmarks/compare_quantizeml_import.py`` (the report that lists the differences), loaded from there so that
the test and the report cannot drift apart.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

import akida_nb as ak

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "quantizeml"
DIGITS = Path(__file__).parent / "data" / "digits"
REFERENCE = json.loads((DATA / "expected_akida_layers.json").read_text())
NOT_BUILT: dict[str, str] = REFERENCE["_not_built"]
ZOO = sorted(name for name in REFERENCE if not name.startswith("_"))
FBZ = json.loads((DATA / "fbz" / "layers.json").read_text())

CANNOT_MAP: dict[str, str] = {}
"""``"model[variant]"`` → why akida_nb cannot map it (each entry is checked to still fail). None today."""


def _compare_module() -> Any:
    spec = importlib.util.spec_from_file_location("compare_quantizeml_import",
                                                  ROOT / "benchmarks" / "compare_quantizeml_import.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COMPARE = _compare_module()


def cases() -> list[Any]:
    out = []
    for name in ZOO:
        bits = REFERENCE[name]["quantization"]
        floats = {"weights_bits": bits["weight_bits"], "act_bits": bits["activation_bits"],
                  "input_weights_bits": bits["input_weight_bits"]}
        out.append(pytest.param(REFERENCE[name], DATA / "configs" / f"{name}.json", floats, id=f"{name}[float]"))
        out.append(pytest.param(REFERENCE[name], DATA / "configs" / f"{name}_quantized.json", {},
                                id=f"{name}[quantized]"))
    out += [pytest.param(layers, DATA / "fbz" / f"{name}_quantized.json", {}, id=f"fbz/{name}[quantized]")
            for name, layers in FBZ.items()]
    digits = json.loads((DIGITS / "layers.json").read_text())["digits_cnn"]
    out.append(pytest.param(digits, DIGITS / "digits_cnn_quantized.json", {}, id="digits_cnn[quantized]"))
    return out


@pytest.mark.parametrize(("expected", "path", "kwargs"), cases())
def test_import_equals_cnn2snn_field_by_field(request: pytest.FixtureRequest, expected: dict[str, Any], path: Path,
                                              kwargs: dict[str, int]) -> None:
    case = request.node.callspec.id
    if case in CANNOT_MAP:
        with pytest.raises(ak.errors.ModelImportError):
            ak.load_model(path, **kwargs)
        return
    model = ak.load_model(path, **kwargs)  # strict: a layer that cannot be mapped fails here, with its reason
    assert not model.unmapped
    exp_layers = [layer for layer in expected["layers"] if layer["type"] != "InputData"]
    assert len(model.layers) == len(exp_layers)
    assert model.input_shape == tuple(expected["input_shape"])
    assert model.input_bits == expected["layers"][0].get("input_bits", 8)
    checked = 0
    for i, (exp, got) in enumerate(zip(exp_layers, model.layers)):
        want, have = COMPARE.expected_fields(exp), COMPARE.actual_fields(got)
        differing = {key: (have[key], want[key]) for key in COMPARE.FIELDS if have[key] != want[key]}
        assert not differing, f"layer {i} {exp['name']!r}: field: (akida_nb, cnn2snn) {differing}"
        checked += len(COMPARE.FIELDS)
    assert checked == len(exp_layers) * len(COMPARE.FIELDS) > 0


def test_every_field_of_the_brief_is_compared() -> None:
    assert set(COMPARE.FIELDS) >= {"type", "kernel_size", "kernel_stride", "padding", "filters", "units",
                                   "pool_type", "pool_size", "pool_stride", "weights_bits", "act_bits",
                                   "activation", "padding_value", "input_shape", "output_shape"}


def test_every_reference_model_has_both_configs() -> None:
    for name in ZOO:
        assert (DATA / "configs" / f"{name}.json").is_file() and (DATA / "configs" / f"{name}_quantized.json").is_file()
    assert len(ZOO) >= 20 and {"pointnet_plus_modelnet40", "akidanet_25_224", "yolo_akidanet_voc"} <= set(ZOO)


@pytest.mark.parametrize("name", sorted(NOT_BUILT))
def test_models_cnn2snn_could_not_build_are_reported(name: str) -> None:
    """cnn2snn refused these while the reference was made: nothing to compare, said in the test output."""
    assert NOT_BUILT[name] and name not in ZOO
    pytest.skip(f"{name}: cnn2snn could not convert it for the reference ({NOT_BUILT[name]})")


def test_the_first_conv_pads_same_with_the_quantized_padding_value() -> None:
    """Issue 12's case: the quantized AkidaNet 0.25/224 first conv is 'same', 112×112×8, padding value 127."""
    first = ak.load_model(DATA / "configs" / "akidanet_25_224_quantized.json").layers[0]
    assert (first.padding, first.output_shape, first.padding_value) == ("same", (112, 112, 8), 127)


def test_the_packaged_trained_example_is_the_converted_digits_model() -> None:
    """ak.example("digits_cnn") (trained variables) has the structure of its quantized config and cnn2snn's layers,
    and the simulator's argmax on the packaged test digits is right as often as akida's forward() was."""
    import numpy as np

    model = ak.example("digits_cnn")
    keras = ak.load_model(DIGITS / "digits_cnn_quantized.json")
    assert model.layers == keras.layers and model.input_shape == keras.input_shape
    recorded = json.loads((DIGITS / "accuracy.json").read_text())
    x, y = ak.example_data("digits")
    with np.load(DIGITS / "digits_test.npz") as data:
        assert np.array_equal(x, data["x"]) and np.array_equal(y, data["y"])
    assert (len(x), x.dtype, y.dtype) == (recorded["n_test"], np.uint8, np.int64)
    out = ak.Simulator(model).run(x, keep="output").output.reshape(len(x), -1)
    assert float((out.argmax(axis=1) == y).mean()) == recorded["accuracy"]["akida"]
    with pytest.raises(ak.SpecError, match="no example data set named 'mnist'; data sets: digits"):
        ak.example_data("mnist")
