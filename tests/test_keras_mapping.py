"""How the Keras reader groups layers into Akida layers, and what it refuses (strict) or lists (lenient)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import akida_nb as ak
from akida_nb import ModelImportError
from akida_nb.io import UnmappedLayer, from_keras_config

DATA = Path(__file__).parent / "data" / "keras"


def L(cls: str, name: str, **config: Any) -> dict[str, Any]:
    """A tf.keras 2 Sequential layer record."""
    return {"class_name": cls, "config": {"name": name, **config}}


def conv(name: str, filters: int = 8, kernel: int = 3, **config: Any) -> dict[str, Any]:
    defaults = {"kernel_size": [kernel, kernel], "strides": [1, 1], "padding": "same", "activation": "linear"}
    return L("Conv2D", name, filters=filters, **{**defaults, **config})


def relu(name: str) -> dict[str, Any]:
    return L("ReLU", name, max_value=6.0, negative_slope=0.0, threshold=0.0)


def dense(name: str, units: int = 10, **config: Any) -> dict[str, Any]:
    return L("Dense", name, units=units, activation=config.pop("activation", "linear"), **config)


def seq(*layers: dict[str, Any], shape: tuple[Any, ...] = (None, 16, 16, 3)) -> dict[str, Any]:
    first = L("InputLayer", "input", batch_input_shape=list(shape), dtype="float32")
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [first, *layers]}}


def read(config: dict[str, Any], **kwargs: Any) -> ak.Model:
    return from_keras_config(config, weights_bits=2, act_bits=2, input_bits=2, **kwargs)


def refused(config: dict[str, Any]) -> ModelImportError:
    with pytest.raises(ModelImportError) as info:
        read(config)
    return info.value


def kinds(model: ak.Model) -> list[tuple[str, str | None, bool]]:
    return [(l.type, l.pool_type, l.activation) for l in model.layers]


# ---------------------------------------------------------------------- grouping
def test_block_takes_batch_norm_one_pool_and_one_activation() -> None:
    m = read(seq(conv("c0"), L("MaxPooling2D", "p0", pool_size=[2, 2], strides=None, padding="same"),
                 L("BatchNormalization", "bn0"), relu("r0"), L("Dropout", "d0", rate=0.1),
                 conv("c1", 16), L("GlobalAveragePooling2D", "gap"), L("BatchNormalization", "bn1"), relu("r1"),
                 dense("out")))
    assert [l.name for l in m.layers] == ["c0", "c1", "out"]
    assert kinds(m) == [("InputConvolutional", "max", True), ("Convolutional", "average", True),
                        ("FullyConnected", None, False)]
    assert m.layers[0].pool_size == m.layers[0].pool_stride == (2, 2)
    assert m.layers[0].output_shape == (8, 8, 8) and m.layers[1].output_shape == (1, 1, 16)


def test_depthwise_then_pointwise_is_one_separable_layer() -> None:
    m = read(seq(conv("c0"), relu("r0"),
                 L("DepthwiseConv2D", "dw", kernel_size=[3, 3], strides=[2, 2], padding="same", depth_multiplier=1,
                   activation="linear"),
                 conv("pw", filters=32, kernel=1), L("BatchNormalization", "bn"), relu("r1")))
    sep = m.layers[1]
    assert (sep.type, sep.name, sep.kernel_size, sep.kernel_stride, sep.filters) == (
        "SeparableConvolutional", "dw", (3, 3), (2, 2), 32)
    assert sep.output_shape == (8, 8, 32) and sep.activation


def test_quantized_depthwise_pointwise_bits() -> None:
    q = {"quant_config": {"weight_quantizer": {"bitwidth": 4}}}
    m = read(seq(conv("c0"), relu("r0"),
                 L("QuantizedDepthwiseConv2D", "dw", kernel_size=[3, 3], padding="same", **q),
                 L("QuantizedConv2D", "pw", filters=32, kernel_size=[1, 1], padding="same", **q),
                 L("QuantizedReLU", "r1", quant_config={"output_quantizer": {"bitwidth": 1}})))
    assert (m.layers[1].type, m.layers[1].weights_bits, m.layers[1].act_bits) == ("SeparableConvolutional", 4, 1)


def test_activation_forms() -> None:
    m = read(seq(conv("c0", activation="relu"),
                 conv("c1"), L("Activation", "a1", activation="relu"),
                 conv("c2"), L("Activation", "a2", activation={"module": "keras.activations", "class_name": "function",
                                                               "config": "relu6", "registered_name": "relu6"}),
                 L("Flatten", "flat"), dense("out", activation="softmax")))
    assert kinds(m)[:3] == [("InputConvolutional", "none", True), ("Convolutional", "none", True),
                            ("Convolutional", "none", True)]
    assert kinds(m)[3] == ("FullyConnected", None, False)


def test_trailing_layers_are_absorbed() -> None:
    m = read(seq(L("Rescaling", "scale", scale=1 / 255, offset=0), conv("c0"), relu("r0"), L("Flatten", "f"),
                 dense("out"), L("Dequantizer", "deq"), L("Activation", "sm", activation="softmax"),
                 L("Softmax", "sm2")))
    assert [l.name for l in m.layers] == ["c0", "out"] and not m.layers[-1].activation


@pytest.mark.parametrize("target", [[1, 1, 32], [1, 1, -1], [32]])
def test_reshape_to_a_vector_before_dense(target: list[int]) -> None:
    m = read(seq(conv("c0", 32), L("GlobalAveragePooling2D", "gap", keepdims=True), relu("r0"),
                 L("Reshape", "rs", target_shape=target), dense("out")))
    assert m.layers[1].input_shape == (1, 1, 32)


def test_first_conv_on_image_is_input_convolutional_with_8_bit_input() -> None:
    m = from_keras_config(seq(conv("c0"), relu("r0")), input_bits=2, input_weights_bits=6)
    assert (m.layers[0].type, m.input_bits, m.layers[0].weights_bits) == ("InputConvolutional", 8, 6)


@pytest.mark.parametrize("shape, first", [((None, 16, 16, 16), "Convolutional"), ((None, 16, 16, 2), "Convolutional")])
def test_first_conv_on_many_channels_is_convolutional(shape: tuple[Any, ...], first: str) -> None:
    m = read(seq(conv("c0"), relu("r0"), shape=shape))
    assert (m.layers[0].type, m.input_bits) == (first, 2)


def test_first_separable_on_image_is_not_input_convolutional() -> None:
    m = read(seq(L("SeparableConv2D", "s0", filters=8, kernel_size=[3, 3], padding="same"), relu("r0")))
    assert (m.layers[0].type, m.input_bits) == ("SeparableConvolutional", 2)


def test_vector_input_to_dense() -> None:
    m = read(seq(dense("h", 32), relu("r"), dense("out"), shape=(None, 100)))
    assert m.input_shape == (1, 1, 100) and kinds(m) == [("FullyConnected", None, True),
                                                         ("FullyConnected", None, False)]


def test_max_pool_padding_may_differ_when_sizes_agree() -> None:
    m = read(seq(conv("c0", padding="valid"), L("MaxPooling2D", "p", pool_size=[2, 2], padding="same"),
                 relu("r"), shape=(None, 18, 18, 1)))
    assert m.layers[0].output_shape == (8, 8, 8)


def test_max_pool_after_the_relu_joins_the_block() -> None:
    """quantizeml moves a max pool that follows the ReLU before it (they commute), as cnn2snn then converts it."""
    before = read(seq(conv("c0"), L("MaxPooling2D", "p", pool_size=[2, 2]), relu("r"), conv("c1"), relu("r1")))
    after = read(seq(conv("c0"), relu("r"), L("MaxPooling2D", "p", pool_size=[2, 2]), conv("c1"), relu("r1")))
    assert after.layers == before.layers and not after.unmapped
    assert (after.layers[0].pool_type, after.layers[0].output_shape) == ("max", (8, 8, 8))


def test_one_by_one_kernel_is_always_same() -> None:
    m = read(seq(conv("c0"), relu("r"), conv("c1", kernel=1, padding="valid", strides=[2, 2]), relu("r1")))
    assert (m.layers[1].padding, m.layers[1].output_shape) == ("same", (8, 8, 8))


@pytest.mark.parametrize(("rescaling", "pad", "bits", "expected"), [
    ({"scale": 1 / 128, "offset": -1}, "same", 8, ("same", 127)),
    ({"scale": 1 / 128, "offset": -1}, "same", 4, ("same", 112)),
    ({"scale": 1 / 255, "offset": -0.2}, "same", 4, ("same", 48)),
    ({"scale": 1 / 255, "offset": -0.2}, "same", 8, ("same", 51)),
    ({"scale": 1 / 255, "offset": 0}, "same", 8, ("same", 0)),
    ({"scale": 1 / 128, "offset": -1}, "valid", 8, ("valid", 0)),
])
def test_float_first_conv_after_an_offset_rescaling_gets_its_padding_value(
        rescaling: dict[str, Any], pad: str, bits: int, expected: tuple[str, int]) -> None:
    m = read(seq(L("Rescaling", "rs", **rescaling), conv("c0", padding=pad), relu("r")), input_weights_bits=bits)
    assert (m.layers[0].padding, m.layers[0].padding_value) == expected


@pytest.mark.parametrize(("pad_value", "scale", "bits", "expected"), [
    ([1.0], 1 / 128, 8, 127), ([1.0], 1 / 127.5, 8, 127), ([0.5], 1 / 255, 8, 127), ([0.2], 1 / 255, 8, 51),
    ([1.0], 1 / 128, 4, 112), ([1.0], 1 / 127.5, 4, 112), ([0.2], 1 / 255, 4, 48), ([0.0], 1 / 255, 8, 0),
])
def test_quantized_padding_value_pads_same(pad_value: list[float], scale: float, bits: int, expected: int) -> None:
    """The cnn2snn measurements of tests/data/quantizeml/SEMANTICS.md: a stored padding_value means 'same'."""
    qconv = L("QuantizedConv2D", "c0", filters=8, kernel_size=[3, 3], strides=[2, 2], padding="valid",
              padding_value=pad_value, quant_config={"weight_quantizer": {"bitwidth": bits}})
    m = read(seq(L("QuantizedRescaling", "rs", scale=scale, offset=0), qconv, relu("r"), shape=(None, 224, 224, 3)))
    first = m.layers[0]
    assert (first.padding, first.padding_value, first.output_shape) == ("same", expected, (112, 112, 8))


def test_padding_value_refusals() -> None:
    qconv = L("QuantizedConv2D", "c0", filters=8, kernel_size=[3, 3], padding="valid",
              padding_value=[0.0, 1.0, 0.0], quant_config={"weight_quantizer": {"bitwidth": 8}})
    err = refused(seq(L("QuantizedRescaling", "rs", scale=1 / 128, offset=0), qconv, relu("r")))
    assert err.layer == "c0" and "differs between channels" in str(err)
    lenient = read(seq(L("QuantizedRescaling", "rs", scale=1 / 128, offset=0), qconv, relu("r")), strict=False)
    assert lenient.layers[0].padding_value == 127 and [u.name for u in lenient.unmapped] == ["c0"]
    bad_scale = seq(L("Rescaling", "rs", scale=0, offset=-1), conv("c0"), relu("r"))
    assert "scale 0 is not a finite number" in str(refused(bad_scale))
    negative = L("QuantizedConv2D", "c0", filters=8, kernel_size=[3, 3], padding="valid", padding_value=[-1.0],
                 quant_config={"weight_quantizer": {"bitwidth": 8}})
    assert "outside the 8-bit input range" in str(refused(seq(negative, relu("r"))))
    inner = L("QuantizedConv2D", "c1", filters=8, kernel_size=[3, 3], padding="valid", padding_value=[1.0],
              quant_config={"weight_quantizer": {"bitwidth": 4}})
    err = refused(seq(conv("c0"), relu("r"), inner, relu("r1")))
    assert err.layer == "c1" and "only an Akida InputConvolutional" in str(err)


# ---------------------------------------------------------------------- refusals, strict
REFUSALS = {
    "depthwise followed by batch norm": (
        seq(L("DepthwiseConv2D", "dw", kernel_size=[3, 3], padding="same"), L("BatchNormalization", "bn"),
            relu("r")), "dw", "DepthwiseConv2D", "1×1 Conv2D"),
    "depthwise followed by a 3x3 conv": (
        seq(L("DepthwiseConv2D", "dw", kernel_size=[3, 3], padding="same"), conv("c"), relu("r")),
        "dw", "DepthwiseConv2D", "1×1 Conv2D"),
    "depthwise last": (seq(L("DepthwiseConv2D", "dw", kernel_size=[3, 3], padding="same")),
                       "dw", "DepthwiseConv2D", "last layer"),
    "depthwise with fused relu": (
        seq(L("DepthwiseConv2D", "dw", kernel_size=[3, 3], padding="same", activation="relu"),
            conv("pw", kernel=1)), "dw", "DepthwiseConv2D", "between the depthwise and the pointwise"),
    "activation missing between processing layers": (
        seq(conv("c0"), L("BatchNormalization", "bn"), conv("c1"), relu("r")), "c0", "Conv2D",
        "no activation between it and the next processing layer 'c1'"),
    "unsupported class": (seq(conv("c0"), L("LeakyReLU", "lr", negative_slope=0.1)), "lr", "LeakyReLU",
                          "no Akida v1 equivalent"),
    "leaky relu": (seq(conv("c0"), L("ReLU", "r", negative_slope=0.1)), "r", "ReLU", "negative_slope"),
    "lambda": (seq(conv("c0"), L("Lambda", "lam", function={"class_name": "__lambda__", "config": {
        "value": ["4wEAAAAAAAAA", None, None]}}), relu("r")), "lam", "Lambda", "never executes"),
    "serialized activation code": (
        seq(conv("c0", activation={"class_name": "__lambda__", "config": {"value": ["4wEA", None, None]}})),
        "c0", "Conv2D", "never executes"),
    "tanh": (seq(conv("c0", activation="tanh")), "c0", "Conv2D", "'tanh' has no Akida equivalent"),
    "softmax inside the model": (seq(conv("c0"), L("Activation", "sm", activation="softmax"), conv("c1"),
                                     relu("r")), "sm", "Activation", "after the last processing layer"),
    "average pool after activation": (seq(conv("c0"), relu("r"), L("GlobalAveragePooling2D", "p")),
                                      "p", "GlobalAveragePooling2D", "after the activation of 'c0'"),
    "max pool after activation and batch norm": (
        seq(conv("c0"), relu("r"), L("BatchNormalization", "bn"), L("MaxPooling2D", "p", pool_size=[2, 2])),
        "bn", "BatchNormalization", "after the activation of 'c0'"),
    "second pool": (seq(conv("c0"), L("MaxPooling2D", "p0", pool_size=[2, 2]),
                        L("MaxPooling2D", "p1", pool_size=[2, 2]), relu("r")), "p1", "MaxPooling2D", "second pooling"),
    "batch norm after activation": (seq(conv("c0"), relu("r"), L("BatchNormalization", "bn")),
                                    "bn", "BatchNormalization", "after the activation"),
    "second batch norm": (seq(conv("c0"), L("BatchNormalization", "bn0"), L("BatchNormalization", "bn1")),
                          "bn1", "BatchNormalization", "second BatchNormalization"),
    "second activation": (seq(conv("c0"), relu("r0"), relu("r1")), "r1", "ReLU", "after the activation"),
    "activation before any processing layer": (seq(relu("r0"), conv("c0")), "r0", "ReLU",
                                               "no processing layer before it"),
    "pooling a dense layer": (seq(L("Flatten", "f"), dense("d"), L("GlobalAveragePooling2D", "g")),
                              "g", "GlobalAveragePooling2D", "FullyConnected layers do not pool"),
    "average pooling window": (seq(conv("c0"), L("AveragePooling2D", "ap", pool_size=[2, 2])),
                               "ap", "AveragePooling2D", "GlobalAveragePooling2D"),
    "dense on a feature map": (seq(conv("c0"), relu("r"), dense("d")), "d", "Dense", "add a Flatten"),
    "conv after flatten": (seq(L("Flatten", "f"), conv("c0")), "c0", "Conv2D", "flattened"),
    "reshape to a map": (seq(conv("c0"), relu("r"), L("Reshape", "rs", target_shape=[16, 128])),
                         "rs", "Reshape", "(1, 1, N)"),
    "dilation": (seq(conv("c0", dilation_rate=[2, 2])), "c0", "Conv2D", "dilated"),
    "channels first": (seq(conv("c0", data_format="channels_first")), "c0", "Conv2D", "channels-last"),
    "groups": (seq(conv("c0", groups=2)), "c0", "Conv2D", "grouped"),
    "depth multiplier": (seq(L("SeparableConv2D", "s", filters=8, kernel_size=[3, 3], depth_multiplier=2)),
                         "s", "SeparableConv2D", "depth_multiplier"),
    "max pool padding changes the size": (
        seq(conv("c0", padding="valid"), L("MaxPooling2D", "p", pool_size=[2, 2], padding="same"), relu("r"),
            shape=(None, 17, 17, 1)), "p", "MaxPooling2D", "'same' padding gives a 8×8 output"),
    "kernel larger than its input": (seq(conv("c0", kernel=5, padding="valid"), shape=(None, 3, 3, 1)),
                                     "c0", "Conv2D", "layers[0].kernel_size"),
    "quantized bit width out of range": (
        seq(L("QuantizedConv2D", "q", filters=8, kernel_size=[3, 3], quant_config={"weight_quantizer": {
            "bitwidth": 16}})), "q", "QuantizedConv2D", "bit widths are 1 to 8"),
    "separable with two bit widths": (
        seq(L("QuantizedSeparableConv2D", "s", filters=8, kernel_size=[3, 3], quant_config={
            "dw_weight_quantizer": {"bitwidth": 4}, "pw_weight_quantizer": {"bitwidth": 2}})),
        "s", "QuantizedSeparableConv2D", "different bit widths (4 and 2)"),
    "nested model": (seq(conv("c0"), relu("r"), {"class_name": "Sequential", "config": {"name": "inner",
                                                                                      "layers": []}}),
                     "inner", "Sequential", "nested model"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_strict_refusal_names_layer_class_and_reason(case: str) -> None:
    config, name, cls, reason = REFUSALS[case]
    error = refused(config)
    assert (error.layer, error.layer_class) == (name, cls)
    assert reason in error.problem
    assert str(error).startswith(f"layer {name!r} ({cls}): ")


# ---------------------------------------------------------------------- lenient
def test_lenient_lists_unmapped_layers() -> None:
    config = seq(conv("c0"), L("Lambda", "lam", function={"class_name": "__lambda__", "config": {"value": ["x"]}}),
                 relu("r0"), L("LeakyReLU", "lr"), conv("c1", 16, dilation_rate=[2, 2]),
                 L("BatchNormalization", "bn1"), relu("r1"), L("Flatten", "f"), dense("out"))
    m = read(config, strict=False)
    assert [l.name for l in m.layers] == ["c0", "out"]
    assert [(u.name, u.layer_class) for u in m.unmapped] == [("lam", "Lambda"), ("lr", "LeakyReLU"), ("c1", "Conv2D")]
    assert all(isinstance(u, UnmappedLayer) for u in m.unmapped)
    assert str(m.unmapped[0]) == "lam (Lambda): " + m.unmapped[0].reason
    assert json.loads(json.dumps([u.to_dict() for u in m.unmapped]))[1] == {
        "name": "lr", "layer_class": "LeakyReLU", "reason": "LeakyReLU has no Akida v1 equivalent"}
    assert "unmapped: lam (Lambda)" in repr(m)


def test_lenient_missing_activation_maps_the_layer_activated() -> None:
    m = read(seq(conv("c0"), conv("c1"), relu("r1")), strict=False)
    assert kinds(m) == [("InputConvolutional", "none", True), ("Convolutional", "none", True)]
    assert m.layers[0].act_bits == 2
    assert [u.name for u in m.unmapped] == ["c0"]


def test_lenient_skipped_depthwise_takes_its_followers_along() -> None:
    m = read(seq(conv("c0"), relu("r0"), L("DepthwiseConv2D", "dw", kernel_size=[3, 3], padding="same"),
                 L("BatchNormalization", "bn"), relu("r1"), L("Flatten", "f"), dense("out")), strict=False)
    assert [l.name for l in m.layers] == ["c0", "out"] and [u.name for u in m.unmapped] == ["dw"]


def test_lenient_separable_bits_take_the_larger() -> None:
    config, *_ = REFUSALS["separable with two bit widths"]
    m = read(config, strict=False)
    assert m.layers[0].weights_bits == 4 and m.unmapped[0].name == "s"


def test_lenient_with_nothing_mappable_raises() -> None:
    with pytest.raises(ModelImportError, match="no Keras layer maps.*lstm \\(LSTM\\)"):
        read(seq(L("LSTM", "lstm", units=4), shape=(None, 10, 4, 1)), strict=False)


def test_load_model_passes_strict(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(seq(conv("c0"), relu("r"), L("Lambda", "lam"))))
    with pytest.raises(ModelImportError, match="lam"):
        ak.load_model(path)
    assert [u.name for u in ak.load_model(path, strict=False).unmapped] == ["lam"]


# ---------------------------------------------------------------------- schemas and graphs
def keras3_tensor(source: str) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"shape": [None, 8, 8, 4], "dtype": "float32",
                                                          "keras_history": [source, 0, 0]}}


def functional(*layers: tuple[str, str, dict[str, Any], list[str]], keras3: bool = False,
               inputs: Any = None, outputs: Any = None) -> dict[str, Any]:
    """A Functional config from (class, name, config, sources) tuples, in either schema."""
    records = []
    for cls, name, config, sources in layers:
        if keras3:
            nodes = [{"args": [[keras3_tensor(s) for s in sources]] if len(sources) > 1 else
                      [keras3_tensor(s) for s in sources], "kwargs": {}}] if sources else []
        else:
            nodes = [[[s, 0, 0, {}] for s in sources]] if sources else []
        records.append({"class_name": cls, "config": {"name": name, **config}, "name": name, "inbound_nodes": nodes})
    first, last = layers[0][1], layers[-1][1]
    return {"class_name": "Functional", "config": {
        "name": "f", "layers": records,
        "input_layers": inputs if inputs is not None else ([first, 0, 0] if keras3 else [[first, 0, 0]]),
        "output_layers": outputs if outputs is not None else ([last, 0, 0] if keras3 else [[last, 0, 0]])}}


INPUT = ("InputLayer", "in", {"batch_shape": [None, 8, 8, 4]}, [])
CONV = {"filters": 4, "kernel_size": [3, 3], "padding": "same"}


@pytest.mark.parametrize("keras3", [False, True], ids=["tf.keras2", "keras3"])
def test_functional_chain_in_either_schema(keras3: bool) -> None:
    config = functional(INPUT, ("Conv2D", "c0", CONV, ["in"]), ("ReLU", "r0", {}, ["c0"]),
                        ("Flatten", "f", {}, ["r0"]), ("Dense", "d", {"units": 3}, ["f"]), keras3=keras3)
    config["config"]["layers"].reverse()  # the order of the records does not matter, the graph does
    m = read(config)
    assert [l.name for l in m.layers] == ["c0", "d"] and m.input_shape == (8, 8, 4)


@pytest.mark.parametrize("keras3", [False, True], ids=["tf.keras2", "keras3"])
def test_merge_is_refused(keras3: bool) -> None:
    config = functional(INPUT, ("Conv2D", "a", CONV, ["in"]), ("Conv2D", "b", CONV, ["in"]),
                        ("Add", "add", {}, ["a", "b"]), keras3=keras3)
    with pytest.raises(ModelImportError, match=r"layer 'add' \(Add\): merges 2 tensors \(a, b\)"):
        read(config)
    with pytest.raises(ModelImportError, match=r"layer 'add' \(Add\): merges 2 tensors \(in, in2\)"):
        read(functional(INPUT, ("InputLayer", "in2", {"batch_shape": [None, 8, 8, 4]}, []),
                        ("Add", "add", {}, ["in", "in2"]), keras3=keras3))


def test_branch_is_refused() -> None:
    config = functional(INPUT, ("Conv2D", "a", CONV, ["in"]), ("ReLU", "r", {}, ["a"]), ("ReLU", "s", {}, ["a"]))
    with pytest.raises(ModelImportError, match=r"layer 'a' \(Conv2D\): feeds 2 layers \(r, s\)"):
        read(config)
    with pytest.raises(ModelImportError, match="feeds 2 layers"):
        read(config, strict=False)  # a graph that is not a chain is refused in lenient mode too


def test_shared_layer_is_refused() -> None:
    config = functional(INPUT, ("Conv2D", "a", CONV, ["in"]))
    config["config"]["layers"][1]["inbound_nodes"] *= 2
    with pytest.raises(ModelImportError, match=r"layer 'a' \(Conv2D\): is called 2 times"):
        read(config)


def test_two_inputs_are_refused() -> None:
    config = functional(INPUT, ("Conv2D", "a", CONV, ["in"]), inputs=[["in", 0, 0], ["a", 0, 0]])
    with pytest.raises(ModelImportError, match="the model has 2 inputs"):
        read(config)


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["config"]["layers"][1]["inbound_nodes"][0][0].__setitem__(0, "ghost"), "unknown layer 'ghost'"),
    (lambda c: c["config"]["layers"].append({"class_name": "ReLU", "config": {"name": "loose"}, "name": "loose",
                                             "inbound_nodes": []}), "not on the path"),
    (lambda c: c["config"].__setitem__("output_layers", [["in", 0, 0]]), "the model output is 'in'"),
    (lambda c: c["config"].__setitem__("input_layers", "in"), "config.input_layers"),
    (lambda c: c["config"]["layers"][1].__setitem__("inbound_nodes", [["in"]]), "malformed inbound node"),
])
def test_malformed_graphs(mutate: Any, message: str) -> None:
    config = functional(INPUT, ("Conv2D", "a", CONV, ["in"]), ("ReLU", "r", {}, ["a"]))
    mutate(config)
    with pytest.raises(ModelImportError, match=message):
        read(config)


def sequential_variants() -> dict[str, dict[str, Any]]:
    """The float VGG as a Sequential in the ways tf.keras 2 and Keras 3 record its input."""
    layers = json.loads((DATA / "vgg_utk_face_v1.json").read_text())["config"]["layers"]
    records = [{k: v for k, v in layer.items() if k not in ("name", "inbound_nodes")} for layer in layers]
    first_carries_shape = json.loads(json.dumps(records[1:]))
    first_carries_shape[0]["config"]["batch_input_shape"] = records[0]["config"]["batch_input_shape"]
    keras3 = json.loads(json.dumps(records))
    keras3[0]["config"]["batch_shape"] = keras3[0]["config"].pop("batch_input_shape")
    return {
        "tf.keras2 with InputLayer": {"class_name": "Sequential", "config": {
            "name": "vgg_utk_face", "layers": records}},
        "first layer carries batch_input_shape": {"class_name": "Sequential", "config": {
            "name": "vgg_utk_face", "layers": first_carries_shape}},
        "old list config": {"class_name": "Sequential", "config": first_carries_shape},
        "keras3 with build_input_shape": {"module": "keras", "class_name": "Sequential", "registered_name": None,
                                          "config": {"name": "vgg_utk_face", "trainable": True, "layers": keras3,
                                                     "build_input_shape": [None, 32, 32, 3]}},
        "build_input_shape only": {"class_name": "Sequential", "config": {
            "name": "vgg_utk_face", "layers": records[1:], "build_input_shape": [None, 32, 32, 3]}},
    }


@pytest.mark.parametrize("variant", list(sequential_variants()))
def test_sequential_variants(variant: str) -> None:
    functional_model = from_keras_config(json.loads((DATA / "vgg_utk_face_v1.json").read_text()),
                                         weights_bits=2, act_bits=2)
    m = from_keras_config(sequential_variants()[variant], weights_bits=2, act_bits=2)
    assert m.layers == functional_model.layers and m.input_shape == (32, 32, 3)


@pytest.mark.parametrize("config, message", [
    ([1, 2], "expected a Keras model config"),
    ({"class_name": "MyModel", "config": {}}, "top-level class 'MyModel'"),
    ({"class_name": "Sequential", "config": {"layers": []}}, "non-empty list"),
    ({"class_name": "Sequential", "config": {"layers": [{"config": {}}]}}, "class_name and config"),
    ({"class_name": "Functional", "config": []}, "not a mapping"),
    (seq(conv("c"))["config"]["layers"][1:], "expected a Keras model config"),
    ({"class_name": "Sequential", "config": {"layers": [conv("c")]}}, "does not record the input shape"),
    (seq(conv("c"), shape=(None, None, None, 3)), "known positive sizes"),
    (seq(conv("c"), shape=(None, 10, 3)), "known positive sizes"),
    (seq(conv("c", kernel_size="big")), "kernel_size 'big' is not a pair"),
    ("{not json", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_malformed_configs(config: Any, message: str) -> None:
    with pytest.raises(ModelImportError, match=message):
        read(config)


def test_deeply_nested_config_is_refused() -> None:
    config = functional(INPUT, ("Conv2D", "a", CONV, ["in"]), keras3=True)
    nested: Any = []
    for _ in range(5000):
        nested = [nested]
    config["config"]["layers"][1]["inbound_nodes"][0]["kwargs"] = {"deep": nested}
    with pytest.raises(ModelImportError, match="nested too deeply"):
        read(config)


@pytest.mark.parametrize("name, value", [("weights_bits", 0), ("act_bits", 9), ("input_bits", True),
                                         ("input_weights_bits", "8")])
def test_bit_arguments_are_checked(name: str, value: Any) -> None:
    with pytest.raises(ModelImportError, match=f"{name} must be an int from 1 to 8"):
        from_keras_config(seq(conv("c"), relu("r")), **{name: value})


def test_messages_quote_config_values_briefly() -> None:
    with pytest.raises(ModelImportError, match=r"kernel_size \[0, 1, 2, 3, 4, 5, \.\.\.\] is not a pair") as info:
        read(seq(conv("c", kernel_size=list(range(100_000)))))
    assert len(str(info.value)) < 120
