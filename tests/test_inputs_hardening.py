"""Careless and hostile inputs to the model front door: typed errors, in bounded time, never a silent default.

Small and specific (issue 11): the hardened readers (size, special files, depth, aliases,
duplicate keys, huge integers, surrogates), the model guard and lookups, ``padding_value``,
packaged example names, Keras bit widths and paddings, and the one variables validator
shared by check, fix and the Simulator.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import akida_nb as ak
from akida_nb import ModelImportError, SimulationError, SpecError
from akida_nb._safeload import MAX_DEPTH, MAX_FILE_BYTES, MAX_YAML_NODES, parse_json, parse_yaml, read_text
from akida_nb.errors import MESSAGE_LIMIT
from akida_nb.io import from_keras_config
from akida_nb.model import ensure_model
from akida_nb.sim import Simulator
from akida_nb.sim.variables import normalize_variables

NATIVE = {"name": "tiny", "input": {"shape": [4, 4, 1], "bits": 8}, "layers": [
    {"type": "InputConvolutional", "name": "conv", "kernel_size": 3, "filters": 2, "padding_value": 0},
    {"type": "FullyConnected", "name": "fc", "units": 3, "activation": False}]}

BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def one_bounded_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and len(text) <= MESSAGE_LIMIT + 200, text
    return text


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------- files
def test_the_native_round_trip_still_loads(tmp_path: Path) -> None:
    m = ak.Model.from_dict(NATIVE)
    assert ak.load_model(write(tmp_path, "m.json", json.dumps(NATIVE))) == m
    assert ak.load_model(write(tmp_path, "m.yaml", json.dumps(NATIVE))) == m


@pytest.mark.parametrize("path", [None, 5, ["m.json"], b"m.json"])
def test_load_model_wants_a_path(path: Any) -> None:
    with pytest.raises(SpecError, match="expected a file path") as err:
        ak.load_model(path)
    assert err.value.path == "path"
    one_bounded_line(err.value)


def test_special_files_are_refused_without_being_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)  # opening it for reading would block forever
    directory = tmp_path / "dir.yaml"
    directory.mkdir()
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    keras_fifo = tmp_path / "pipe.keras"
    os.mkfifo(keras_fifo)
    for path, kind in [(fifo, "a FIFO"), (directory, "a directory"), (zero, "a device"), (keras_fifo, "a FIFO")]:
        start = time.perf_counter()
        with pytest.raises(SpecError, match=f"not a regular file \\({kind}\\)"):
            ak.load_model(path)
        assert time.perf_counter() - start < 5


def test_native_files_over_the_size_limit_are_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:  # sparse: the size is stated, nothing is written
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(SpecError, match=f"over the {MAX_FILE_BYTES}-byte limit"):
        ak.load_model(big)
    with pytest.raises(SpecError, match="over the 10-byte limit"):
        read_text(write(tmp_path, "m.json", json.dumps(NATIVE)), limit=10)


def test_a_native_json_file_over_the_native_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    from akida_nb.io import load

    monkeypatch.setattr(load, "MAX_FILE_BYTES", 50)
    with pytest.raises(SpecError, match="over the 50-byte limit for native model files"):
        ak.load_model(write(tmp_path, "m.json", json.dumps(NATIVE)))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_nested_lists_give_a_spec_error_not_a_recursion_error(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path, "deep" + suffix, "[" * 5000 + "]" * 5000)  # 10 KB
    start = time.perf_counter()
    with pytest.raises(SpecError, match="nested too deeply") as err:
        ak.load_model(path)
    assert time.perf_counter() - start < 5
    one_bounded_line(err.value)
    parse_yaml("- " * (MAX_DEPTH - 1) + "x")  # the limit itself is accepted
    parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH)


def test_yaml_alias_expansion_is_bounded(tmp_path: Path) -> None:
    assert len(BILLION_LAUGHS) < 500
    path = write(tmp_path, "lol.yaml", BILLION_LAUGHS)
    start = time.perf_counter()
    with pytest.raises(SpecError, match=f"more than {MAX_YAML_NODES} nodes") as err:
        ak.load_model(path)
    assert time.perf_counter() - start < 5
    one_bounded_line(err.value)
    with pytest.raises(SpecError, match="nodes"):
        ak.Model.from_yaml(BILLION_LAUGHS)
    assert parse_yaml("a: &a [1, 2]\nb: *a") == {"a": [1, 2], "b": [1, 2]}  # small aliases still work


@pytest.mark.parametrize("suffix, text", [
    (".json", '{"name": "a", "name": "b", "input": {"shape": [4, 4, 1]}, "layers": []}'),
    (".yaml", "name: a\nname: b\ninput: {shape: [4, 4, 1]}\nlayers: []\n"),
    (".json", '{"input": {"shape": [4, 4, 1], "bits": 4, "bits": 8}, "layers": []}'),
])
def test_duplicate_keys_are_refused(tmp_path: Path, suffix: str, text: str) -> None:
    with pytest.raises(SpecError, match="duplicate key"):
        ak.load_model(write(tmp_path, "dup" + suffix, text))


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_integers_of_thousands_of_digits_are_refused(tmp_path: Path, suffix: str) -> None:
    huge = "9" * 5000
    text = f'{{"input": {{"shape": [4, {huge}, 1]}}, "layers": [{{"type": "FullyConnected", "units": 2}}]}}'
    with pytest.raises(SpecError, match="digits") as err:
        ak.load_model(write(tmp_path, "huge" + suffix, text))
    one_bounded_line(err.value)


@pytest.mark.parametrize("where, spec", [
    ("input.shape", {"input": {"shape": [2**40, 4, 1]}, "layers": [{"type": "FullyConnected", "units": 2}]}),
    ("layers[0].units", {"input": {"shape": [4, 4, 1]}, "layers": [{"type": "FullyConnected", "units": 2**31}]}),
    ("layers[0].kernel_size", {"input": {"shape": [4, 4, 1]}, "layers": [
        {"type": "Convolutional", "kernel_size": [1, 10**30], "filters": 2}]}),
])
def test_absurd_sizes_are_spec_errors(where: str, spec: dict) -> None:
    with pytest.raises(SpecError, match="at most") as err:
        ak.Model.from_dict(spec)
    assert err.value.path == where


def test_a_lone_surrogate_in_a_name_is_refused_everywhere(tmp_path: Path) -> None:
    text = json.dumps({**NATIVE, "layers": [{**NATIVE["layers"][0], "name": "fc\udfff"}, NATIVE["layers"][1]]})
    assert "\\udfff" in text
    with pytest.raises(SpecError, match="lone surrogate") as err:
        ak.load_model(write(tmp_path, "s.json", text))
    assert err.value.path == "layers[0].name"
    with pytest.raises(SpecError, match="lone surrogate"):
        ak.Model.from_dict({**NATIVE, "name": "m\ud800"})
    cfg = {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 8]}},
        {"class_name": "Dense", "config": {"name": "d\udfff", "units": 2}}]}}
    with pytest.raises(ModelImportError, match="lone surrogate"):
        from_keras_config(cfg)


def test_from_json_and_from_yaml_want_text() -> None:
    for parse in (ak.Model.from_yaml, ak.Model.from_json):
        with pytest.raises(SpecError, match="got int"):
            parse(5)
    assert ak.Model.from_json(json.dumps(NATIVE)) == ak.Model.from_yaml(json.dumps(NATIVE))


# ------------------------------------------------------------------------------------------- model
def test_layer_lookup_errors_are_typed() -> None:
    m = ak.example("ds_cnn_kws")
    assert m.layer(-1) == m.layers[-1] and m.layer("dense_5") == m.layers[-1]
    for key, words in [(99, "the model has 6 layers"), (-7, "the model has 6 layers"), ("nope", "no layer named"),
                       (None, "index (int) or name (str)"), (True, "index (int) or name (str)")]:
        with pytest.raises(SpecError, match=re.escape(words)) as err:
            m.layer(key)
        assert err.value.path == "layers"


@pytest.mark.parametrize("bits, value, ok", [(8, 255, True), (8, 256, False), (4, 15, True), (4, 16, False),
                                             (8, -1, False), (1, 1, True)])
def test_padding_value_is_an_input_value(bits: int, value: int, ok: bool) -> None:
    spec = {**NATIVE, "input": {"shape": [4, 4, 1], "bits": bits},
            "layers": [{**NATIVE["layers"][0], "padding_value": value}, NATIVE["layers"][1]]}
    if ok:
        assert ak.Model.from_dict(spec).layers[0].padding_value == value
        return
    with pytest.raises(SpecError, match=rf"\[0, {(1 << bits) - 1}\]") as err:
        ak.Model.from_dict(spec)
    assert err.value.path == "layers[0].padding_value"


def test_one_model_guard() -> None:
    m = ak.example("gxnor_mnist")
    assert ensure_model(m) is m
    with pytest.raises(SpecError, match="expected an akida_nb.Model, got dict") as err:
        ensure_model(m.to_dict(), "model")
    assert err.value.path == "model"


def test_layers_of_a_model_are_resolved_and_hand_made_layers_still_construct() -> None:
    m = ak.example("ds_cnn_kws")
    assert all(layer.resolved and layer.input_bits > 0 and min(layer.output_shape) > 0 for layer in m.layers)
    hand = ak.Layer("FullyConnected", "fc_new", weights_bits=2, act_bits=2, units=7, activation=False)
    assert not hand.resolved
    grown = m.replace_layers([*m.layers[:-1], hand])
    assert grown.layers[-1].resolved and grown.layers[-1].output_shape == (1, 1, 7)


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "models/ds_cnn_kws", "ds_cnn_kws.json", "", None, 5,
                                  "..", "ds_cnn_kws/../ds_cnn_kws"])
def test_example_takes_only_packaged_names(name: Any) -> None:
    with pytest.raises(SpecError, match="examples: .*ds_cnn_kws") as err:
        ak.example(name)
    one_bounded_line(err.value)


# ------------------------------------------------------------------------------------------- keras
def _quantized(bitwidth: Any, quantizer: str = "weight_quantizer", **extra: Any) -> dict:
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 8, 8, 3]}},
        {"class_name": "QuantizedConv2D", "config": {
            "name": "qconv", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
            "activation": "linear", "quant_config": {quantizer: {"bitwidth": bitwidth}}}},
        {"class_name": "ReLU", "config": {"name": "r", **extra}}]}}


@pytest.mark.parametrize("bitwidth", [0, "2", 2.0, True, 9, -1, [4]])
@pytest.mark.parametrize("strict", [True, False])
def test_keras_bitwidths_outside_quantizeml_are_refused(bitwidth: Any, strict: bool) -> None:
    with pytest.raises(ModelImportError, match="quant_config.weight_quantizer.bitwidth") as err:
        from_keras_config(_quantized(bitwidth), strict=strict)
    assert err.value.layer == "qconv"
    one_bounded_line(err.value)
    assert from_keras_config(_quantized(2)).layers[0].weights_bits == 2


def _pooled(padding: Any, conv_padding: Any = "same") -> dict:
    return {"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [None, 8, 8, 4]}},
        {"class_name": "Conv2D", "config": {"name": "c", "filters": 4, "kernel_size": [3, 3], "strides": [1, 1],
                                            "padding": conv_padding, "activation": "linear"}},
        {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "padding": padding}},
        {"class_name": "ReLU", "config": {"name": "r"}}]}}


@pytest.mark.parametrize("strict", [True, False])
def test_keras_paddings_other_than_valid_and_same_are_refused(strict: bool) -> None:
    with pytest.raises(ModelImportError, match="padding 'causal'") as err:
        from_keras_config(_pooled("causal"), strict=strict)
    assert err.value.layer == "p"
    with pytest.raises(ModelImportError, match="padding 'causal'") as err:
        from_keras_config(_pooled("same", conv_padding="causal"), strict=strict)
    assert err.value.layer == "c"
    assert from_keras_config(_pooled("same")).layers[0].pool_type == "max"


# ------------------------------------------------------------------------------------------- variables
@pytest.fixture(scope="module")
def small() -> tuple[ak.Model, list[dict[str, np.ndarray]]]:
    m = ak.example("gxnor_mnist")
    return m, Simulator(m, seed=0).variables


def _errors_everywhere(model: ak.Model, variables: Any) -> list[BaseException]:
    """The error check, fix, applicable_fixes, the Simulator and the validator raise for the same variables."""
    found = []
    for call in (lambda: ak.check(model, "nsoc_v2", variables=variables),
                 lambda: ak.fix(model, "nsoc_v1", variables=variables),
                 lambda: ak.applicable_fixes(model, "nsoc_v1", variables=variables),
                 lambda: Simulator(model, variables),
                 lambda: normalize_variables(model, variables)):
        with pytest.raises(SimulationError) as err:
            call()
        found.append(err.value)
    return found


@pytest.mark.parametrize("layer, key, value, words", [
    (0, "thresholds", np.zeros(32, np.int32), "unknown variable"),
    (1, "act_steps", np.ones(64, np.float32), "unknown variable"),
    (1, "threshold", np.zeros(63, np.int32), "shape"),
    (1, "threshold", np.zeros(64, np.float32), "integer"),
    (2, "weights", np.full((3, 3, 64, 128), 5, np.int8), "[-1, 1]"),
    (3, "act_step", np.full(512, 0.01, np.float32), "1/16"),
])
def test_bad_variables_give_the_same_error_in_check_fix_and_simulator(small, layer, key, value, words) -> None:
    model, good = small
    bad = [dict(v) for v in good]
    bad[layer][key] = value
    errors = _errors_everywhere(model, bad)
    assert len({str(e) for e in errors}) == 1, errors
    assert errors[0].layer == model.layers[layer].name and errors[0].variable == key
    assert words in errors[0].problem
    one_bounded_line(errors[0])


def test_check_validates_the_part_of_the_variables_it_is_given(small) -> None:
    model, good = small
    partial = {model.layers[3].name: {"threshold": good[3]["threshold"]}}
    assert ak.check(model, "nsoc_v2", variables=partial).ok
    with pytest.raises(SimulationError, match="unknown variable") as err:
        ak.check(model, "nsoc_v2", variables={model.layers[3].name: {"thresholds": good[3]["threshold"]}})
    assert (err.value.layer, err.value.variable) == (model.layers[3].name, "thresholds")
    with pytest.raises(SimulationError, match="no variables given"):  # the Simulator needs them all
        Simulator(model, partial)


def test_a_simulator_is_accepted_wherever_variables_are(small) -> None:
    model, good = small
    sim = Simulator(model, good)
    assert ak.check(model, "akd1000", variables=sim) == ak.check(model, "akd1000", variables=good)
    assert ak.applicable_fixes(model, "nsoc_v1", variables=sim) == ak.applicable_fixes(model, "nsoc_v1",
                                                                                       variables=good)
    x = np.zeros((1, *model.input_shape), np.uint8)
    assert np.array_equal(Simulator(model, sim).run(x).output, sim.run(x).output)


@pytest.mark.parametrize("variables, words", [
    ("weights", "got str"), (5, "got int"), ([{}], "one mapping per layer"), ({"nope": {}}, "no layers named"),
])
def test_malformed_variable_containers_are_one_error(small, variables, words) -> None:
    model, _ = small
    errors = _errors_everywhere(model, variables)
    assert len({str(e) for e in errors}) == 1 and words in str(errors[0])


def test_a_replaced_model_with_a_bad_padding_value_is_refused_by_the_validator(small) -> None:
    model = ak.Model.from_dict(NATIVE)
    bad = dataclasses.replace(model, layers=(dataclasses.replace(model.layers[0], padding_value=300),
                                             model.layers[1]))
    with pytest.raises(SimulationError, match=r"\[0, 255\]"):
        normalize_variables(bad, Simulator(model, seed=0).variables)


def test_an_akida_input_layer_with_a_padding_value_outside_its_input_is_refused() -> None:
    from types import SimpleNamespace as NS

    from akida_nb.io import map_akida_layers

    def input_conv(padding_value: int) -> NS:
        return NS(name="in_conv", parameters=NS(
            layer_type="InputConvolutional", input_shape=(8, 8, 1), kernel_size=(3, 3), filters=4,
            kernel_stride=(1, 1), padding="Same", pool_type="NoPooling", pool_size=(-1, -1), pool_stride=(-1, -1),
            weights_bits=4, act_bits=2, activation=True, padding_value=padding_value))

    assert map_akida_layers(NS(layers=[input_conv(255)])).layers[0].padding_value == 255
    with pytest.raises(ModelImportError, match=r"\[0, 255\]") as err:
        map_akida_layers(NS(layers=[input_conv(256)]))
    assert err.value.layer == "in_conv"
