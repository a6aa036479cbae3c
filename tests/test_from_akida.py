"""``from_akida`` / ``map_akida_layers``: Akida v1 layer parameters to the native format.

The mapping is exercised with stand-in objects shaped like ``akida.Model`` (``.layers``,
``layer.name``, ``layer.parameters``), so it is covered without the akida package;
one test builds a real ``akida.Model`` when akida is installed.
"""
from __future__ import annotations

import enum
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any

import pytest

from akida_nb import ModelImportError
from akida_nb.io import from_akida, from_keras_config, map_akida_layers

DATA = Path(__file__).parent / "data" / "keras"
EXPECTED = json.loads((DATA / "expected_akida_layers.json").read_text())
POOL_NAMES = {"none": "NoPooling", "max": "Max", "global_avg": "Average"}


def stand_in_layer(record: dict[str, Any]) -> NS:
    """An akida v1 layer stand-in from a converter record (expected_akida_layers.json)."""
    p = {"layer_type": record["type"], "weights_bits": record["weights_bits"], "act_bits": record["act_bits"],
         "activation": bool(record["activation"])}
    if record["type"] == "FullyConnected":
        p["units"] = record["filters"]
    else:
        p.update(kernel_size=tuple(record["kernel_size"]), filters=record["filters"],
                 kernel_stride=tuple(record["strides"]), padding=record["padding"].capitalize(),
                 pool_type=POOL_NAMES[record["pool_type"]], pool_size=tuple(record["pool_size"]),
                 pool_stride=tuple(record["pool_stride"]))
    if record["type"] == "InputConvolutional":
        p.update(input_shape=tuple(record["input_shape"]), padding_value=0)
    return NS(name=record["name"], parameters=NS(**p))


@pytest.mark.parametrize("model", list(EXPECTED))
def test_converter_layers_map_like_the_keras_reader(model: str) -> None:
    got = map_akida_layers(NS(layers=[stand_in_layer(r) for r in EXPECTED[model]["layers"]]), name=model)
    keras = from_keras_config(json.loads((DATA / f"{model}_quantized.json").read_text()))
    assert got.layers == keras.layers
    assert (got.name, got.input_shape, got.input_bits) == (model, keras.input_shape, 8)
    assert [l.output_shape for l in got.layers] == [tuple(r["output_shape"]) for r in EXPECTED[model]["layers"]]


class LayerType(enum.IntEnum):
    InputData = 0
    Convolutional = 2
    FullyConnected = 4


class Padding(enum.IntEnum):
    Valid = 0
    Same = 1


class PoolType(enum.IntEnum):
    NoPooling = 0
    Max = 1
    Average = 2


def input_data(shape: tuple[int, int, int] = (16, 16, 8), bits: Any = 2, layer_type: Any = "InputData") -> NS:
    return NS(name="input", parameters=NS(layer_type=layer_type, input_shape=shape, input_bits=bits))


def conv_params(**overrides: Any) -> NS:
    p = dict(layer_type="Convolutional", kernel_size=(3, 3), filters=16, kernel_stride=(1, 1), padding="Same",
             pool_type="Max", pool_size=(2, 2), pool_stride=(2, 2), weights_bits=2, act_bits=2, activation=True)
    return NS(**{**p, **overrides})


def fc(**overrides: Any) -> NS:
    p = dict(layer_type="FullyConnected", units=10, weights_bits=2, act_bits=1, activation=False)
    return NS(name="fc", parameters=NS(**{**p, **overrides}))


def np_int(value: int) -> Any:
    """akida hands back numpy scalars in places; the mapping casts them."""
    import numpy as np

    return np.int32(value)


def test_input_data_gives_the_input_bits() -> None:
    m = map_akida_layers(NS(layers=[input_data(bits=np_int(4)), NS(name="conv", parameters=conv_params()), fc()]))
    assert (m.input_shape, m.input_bits) == ((16, 16, 8), 4)
    conv = m.layers[0]
    assert (conv.type, conv.kernel_size, conv.pool_type, conv.pool_size, conv.output_shape) == (
        "Convolutional", (3, 3), "max", (2, 2), (8, 8, 16))
    assert (m.layers[1].units, m.layers[1].activation) == (10, False)


@pytest.mark.parametrize("form", ["int values with enums", "enum members", "enum text"])
def test_enum_parameter_forms(form: str) -> None:
    if form == "int values with enums":
        values, enums = (0, 2, 1, 1), {"layer_type": LayerType, "padding": Padding, "pool_type": PoolType}
    elif form == "enum members":
        values, enums = (LayerType.InputData, LayerType.Convolutional, Padding.Same, PoolType.Max), None
    else:
        values, enums = ("LayerType.InputData", "LayerType.Convolutional", "Padding.Same", "PoolType.Max"), None
    data_type, conv_type, padding, pool = values
    conv = NS(name="conv", parameters=conv_params(layer_type=conv_type, padding=padding, pool_type=pool))
    m = map_akida_layers(NS(layers=[input_data(layer_type=data_type), conv]), enums=enums)
    assert (m.layers[0].type, m.layers[0].padding, m.layers[0].pool_type) == ("Convolutional", "same", "max")


class LayerParams:
    """Like akida 2's ``LayerParams``: split width/height keys, ints for enums, ValueError for unknown keys."""

    def __init__(self, layer_type: LayerType, **values: Any):
        self.layer_type, self._values = layer_type, values

    def __getattr__(self, key: str) -> Any:
        pairs = {"kernel_size": ("kernel_width", "kernel_height"), "kernel_stride": ("stride_x", "stride_y"),
                 "pool_size": ("pooling_width", "pooling_height"),
                 "pool_stride": ("pooling_stride_x", "pooling_stride_y")}
        if key in pairs:
            return [self._values[k] for k in pairs[key]]
        if key in self._values:
            return self._values[key]
        raise ValueError(f"Key {key} not found")


def test_akida2_layer_params_with_split_pairs_and_int_enums() -> None:
    data = NS(name="in", parameters=LayerParams(LayerType.InputData, input_width=32, input_height=20,
                                                  input_channels=8, input_bits=4, input_signed=0))
    conv = NS(name="conv", parameters=LayerParams(
        LayerType.Convolutional, kernel_width=5, kernel_height=3, stride_x=2, stride_y=1, padding=1, filters=16,
        pool_type=1, pooling_width=2, pooling_height=1, pooling_stride_x=2, pooling_stride_y=1,
        weights_bits=2, act_bits=2, activation=1))
    m = map_akida_layers(NS(layers=[data, conv]), enums={"padding": Padding, "pool_type": PoolType})
    layer = m.layers[0]
    assert (m.input_shape, m.input_bits) == ((32, 20, 8), 4)
    assert (layer.kernel_size, layer.kernel_stride, layer.padding, layer.pool_size, layer.activation) == (
        (5, 3), (2, 1), "same", (2, 1), True)
    assert layer.output_shape == (8, 20, 16)  # akida: d0 = width, d1 = height


def test_missing_input_shape() -> None:
    data = NS(name="in", parameters=LayerParams(LayerType.InputData, input_bits=4))
    with pytest.raises(ModelImportError, match=r"layer 'in' \(InputData\): its parameters record no input shape"):
        map_akida_layers(NS(layers=[data, fc()]))


def test_max_pool_stride_minus_one_is_the_pool_size() -> None:
    conv = NS(name="conv", parameters=conv_params(pool_size=(3, 3), pool_stride=(-1, -1)))
    assert map_akida_layers(NS(layers=[input_data(), conv])).layers[0].pool_stride == (3, 3)


def test_global_average_pool_ignores_its_size() -> None:
    conv = NS(name="conv", parameters=conv_params(pool_type="Average", pool_size=(-1, -1), pool_stride=(-1, -1)))
    layer = map_akida_layers(NS(layers=[input_data(), conv])).layers[0]
    assert (layer.pool_type, layer.pool_size, layer.output_shape) == ("average", None, (1, 1, 16))


@pytest.mark.parametrize("layers, name, layer_class, message", [
    ([input_data(), NS(name="v2", parameters=NS(layer_type="Conv2D"))], "v2", "Conv2D", "not an Akida v1 layer"),
    ([fc()], "fc", "FullyConnected", "starts with an InputData or InputConvolutional"),
    ([input_data()], "input", "InputData", "no layer after its input"),
    ([input_data(), NS(name="conv", parameters=conv_params(padding="Causal"))], "conv", "Convolutional",
     "unknown padding"),
    ([input_data(shape=(2, 2, 8)), NS(name="conv", parameters=conv_params(padding="Valid", pool_type="NoPooling"))],
     "conv", "Convolutional", "layers[0].kernel_size"),
    ([input_data(bits=12), fc()], None, None, "input.bits"),
])
def test_refusals(layers: list[NS], name: str | None, layer_class: str | None, message: str) -> None:
    with pytest.raises(ModelImportError) as info:
        map_akida_layers(NS(layers=layers))
    assert (info.value.layer, info.value.layer_class) == (name, layer_class)
    assert message in str(info.value)


def test_empty_model() -> None:
    with pytest.raises(ModelImportError, match="no layers"):
        map_akida_layers(NS(layers=[]))


@pytest.mark.skipif(importlib.util.find_spec("akida") is not None, reason="akida is installed")
def test_from_akida_without_akida_says_what_is_missing() -> None:
    with pytest.raises(ModelImportError, match=r'needs BrainChip\'s akida package \(pip install "akida_nb\[akida\]"\)'):
        from_akida(NS(layers=[]))


@pytest.mark.akida
def test_from_akida_real_model() -> None:
    import numpy as np

    akida = pytest.importorskip("akida", reason='needs BrainChip\'s akida package (pip install "akida_nb[akida]")')
    model = akida.Model()
    model.add(akida.InputConvolutional(input_shape=(32, 20, 3), kernel_size=(5, 3), filters=16,
                                       kernel_stride=(2, 1), padding=akida.Padding.Same,
                                       pool_type=akida.PoolType.Max, pool_size=(2, 2),
                                       weights_bits=8, act_bits=4, name="conv"))
    model.add(akida.SeparableConvolutional(kernel_size=(3, 3), filters=32, padding=akida.Padding.Same,
                                           pool_type=akida.PoolType.Average, weights_bits=4, act_bits=4,
                                           name="sep"))
    model.add(akida.FullyConnected(units=10, weights_bits=4, activation=False, name="fc"))
    m = from_akida(model, name="real")
    assert [(l.type, l.name) for l in m.layers] == [("InputConvolutional", "conv"),
                                                     ("SeparableConvolutional", "sep"), ("FullyConnected", "fc")]
    conv, sep, out = m.layers
    assert (conv.kernel_size, conv.kernel_stride, conv.pool_type, conv.pool_size, conv.pool_stride) == (
        (5, 3), (2, 1), "max", (2, 2), (2, 2))
    assert (m.input_shape, m.input_bits, conv.weights_bits, conv.act_bits) == ((32, 20, 3), 8, 8, 4)
    assert (sep.pool_type, sep.weights_bits, out.units, out.activation) == ("average", 4, 10, False)
    assert [l.output_shape for l in m.layers] == [tuple(layer.output_dims) for layer in model.layers]
    # the variables travel too, as akida stores them (its initial ones here: zero weights, act_step 1)
    model.layers[1].set_variable("threshold", np.arange(32, dtype=np.int32))
    m = from_akida(model, name="real")
    assert [sorted(v) for v in m.variables] == [["act_step", "threshold", "weights"],
                                                ["act_step", "threshold", "weights", "weights_pw"],
                                                ["act_step", "threshold", "weights"]]
    for layer, carried in zip(model.layers, m.variables):
        for key, value in carried.items():
            expected = layer.get_variable(key)
            assert value.dtype == expected.dtype and np.array_equal(value, expected)
    assert m == from_akida(model, name="real") and m.variables[1]["threshold"][5] == 5
    data = akida.Model(layers=[akida.InputData(input_shape=(16, 12, 8), input_bits=2, name="in"),
                               akida.Convolutional(kernel_size=(3, 3), filters=8, padding=akida.Padding.Valid,
                                                   weights_bits=2, act_bits=2, name="c")])
    m = from_akida(data)
    assert (m.input_shape, m.input_bits, m.layers[0].padding, m.layers[0].pool_type) == ((16, 12, 8), 2, "valid",
                                                                                          "none")
    assert m.layers[0].output_shape == tuple(data.layers[1].output_dims)
    assert len(m.variables) == 1  # the InputData layer has none
    with pytest.raises(ModelImportError, match="expected an akida.Model"):
        from_akida(NS(layers=[]))


REAL_FBZ = sorted((Path(__file__).parent / "data" / "quantizeml" / "fbz").glob("*.fbz")) + [
    Path(__file__).parent / "data" / "digits" / "digits_cnn.fbz"]
"""Files converted once by cnn2snn: the zoo-derived ones carry **untrained weights** (random, see
tests/data/quantizeml/README.md), ``digits_cnn`` trained ones; each ``.npz`` beside holds ``x``, akida's
``forward(x)`` as ``y`` and every akida layer's output as ``layer_<k>``."""


@pytest.mark.akida
@pytest.mark.parametrize("path", REAL_FBZ, ids=[p.stem for p in REAL_FBZ])
def test_real_converted_files_run_bit_exact(path: Path) -> None:
    """from_akida of a cnn2snn file (zoo-derived ones: untrained weights) reproduces akida's stored outputs exactly."""
    import numpy as np

    import akida_nb as ak

    akida = pytest.importorskip("akida", reason='needs BrainChip\'s akida package (pip install "akida_nb[akida]")')
    akm = akida.Model(str(path))
    model = ak.from_akida(akm, name=path.stem)
    assert model.variables is not None and len(model.variables) == len(model.layers)
    reference = json.loads((path.parent / "layers.json").read_text())[path.stem]
    offset = 1 if reference["layers"][0]["type"] == "InputData" else 0
    assert [l.name for l in model.layers] == [r["name"] for r in reference["layers"][offset:]]
    recorded = (path.parent / f"{path.stem}.npz") if path.stem != "digits_cnn" else None
    if recorded is None:  # the trained digits model: its whole test split, against akida's forward() now
        x, labels = ak.example_data("digits")
        y, layer_outputs = akm.forward(x), {}
        accuracy = json.loads((path.parent / "accuracy.json").read_text())["accuracy"]["akida"]
        assert float((y.reshape(len(x), -1).argmax(axis=1) == labels).mean()) == accuracy
        packaged = ak.example("digits_cnn")  # the packaged example is this file, variables included
        assert packaged == model and packaged.variables is not None
        for mine, theirs in zip(packaged.variables, model.variables):
            assert mine.keys() == theirs.keys()
            assert all(mine[k].dtype == theirs[k].dtype and np.array_equal(mine[k], theirs[k]) for k in mine)
    else:
        with np.load(recorded) as data:
            x, y = data["x"], data["y"]
            layer_outputs = {int(k.split("_")[1]): data[k] for k in data.files if k.startswith("layer_")}
    result = ak.Simulator(model).run(x)
    assert result.output.dtype == y.dtype and np.array_equal(result.output, y)
    assert np.array_equal(akm.forward(x), y)  # the installed akida agrees with the recorded run
    for k, expected in layer_outputs.items():
        got = result.layer_outputs[k - offset]
        assert got.dtype == expected.dtype and np.array_equal(got, expected), f"{path.stem} layer {k}"
    assert recorded is None or len(layer_outputs) == len(model.layers)
