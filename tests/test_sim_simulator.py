"""The Simulator's API: variables in both forms, seeds, batches and chunks, events, validation errors."""
from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest

import akida_nb as ak
from akida_nb.sim import SimulationResult, Simulator, kernels, simulator, variable_shapes

import sim_reference as ref


def small_model(**first):
    layer = {"type": "Convolutional", "kernel_size": 3, "filters": 4, "weights_bits": 4, "act_bits": 2,
             "pool_type": "max", "pool_size": 2}
    layer.update(first)
    return ak.Model.from_dict({"name": "small", "input": {"shape": [6, 5, 3], "bits": 4}, "layers": [
        layer,
        {"type": "SeparableConvolutional", "kernel_size": 3, "filters": 5, "weights_bits": 4, "act_bits": 4,
         "pool_type": "average"},
        {"type": "FullyConnected", "units": 3, "weights_bits": 2, "activation": False}]})


@pytest.fixture
def model():
    return small_model()


@pytest.fixture
def x(model):
    return np.random.default_rng(3).integers(0, 16, (5, *model.input_shape), dtype=np.uint8)


def test_variables_as_list_or_dict_by_name_give_the_same_run(model, x):
    sim = Simulator(model, seed=4)
    by_name = {layer.name: v for layer, v in zip(model.layers, sim.variables)}
    a, b = Simulator(model, sim.variables).run(x), Simulator(model, variables=by_name).run(x)
    for p, q in zip(a.potentials + a.layer_outputs, b.potentials + b.layer_outputs):
        assert np.array_equal(p, q)
    assert np.array_equal(a.predict, sim.run(x).predict)


def test_variables_have_engine_dtypes_and_shapes(model):
    for layer, v in zip(model.layers, Simulator(model, seed=0).variables):
        assert {k: a.shape for k, a in v.items()} == variable_shapes(layer)
        assert v["weights"].dtype == np.int8 and v["threshold"].dtype == np.int32
        assert v["act_step"].dtype == np.float32 and v["act_step"].min() >= 1 / 16
        lo, hi = kernels.weight_range(layer.weights_bits)
        assert lo <= v["weights"].min() and v["weights"].max() <= hi


def test_seeds_are_deterministic_and_distinct(model):
    a, b, c = (Simulator(model, seed=s).variables for s in (7, 7, 8))
    assert all(np.array_equal(a[i][k], b[i][k]) for i in range(3) for k in a[i])
    assert not all(np.array_equal(a[i][k], c[i][k]) for i in range(3) for k in a[i])


def test_seeded_layers_fire_on_part_of_their_outputs():
    out = Simulator(ak.example("vgg_utk_face"), seed=0).run(
        np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8))
    sparsity = out.events["sparsity"].to_numpy()[:-1]
    assert ((sparsity > 0.3) & (sparsity < 0.95)).all(), sparsity


def test_single_sample_keeps_a_batch_axis(model, x):
    sim = Simulator(model, seed=0)
    one, batch = sim.run(x[2]), sim.run(x[2:3])
    assert one.input.shape == (1, *model.input_shape)
    assert one.output.shape == (1, 1, 1, 3) and one.events_per_sample.shape == (1, 3)
    assert np.array_equal(one.output, batch.output)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 100])
def test_chunks_do_not_change_results(model, x, batch_size):
    sim = Simulator(model, seed=1)
    whole, chunked = sim.run(x), sim.run(x, batch_size=batch_size)
    for p, q in zip(whole.potentials + whole.layer_outputs, chunked.potentials + chunked.layer_outputs):
        assert np.array_equal(p, q)


def test_progress_bar_is_optional(model, x, capsys):
    sim = Simulator(model, seed=1)
    assert np.array_equal(sim.run(x, progress=True).output, sim.run(x).output)
    assert "sample" in capsys.readouterr().err


@pytest.mark.slow
def test_memory_of_a_large_batch_stays_bounded():
    sim = Simulator(ak.example("akidanet_imagenet_a025_224"), seed=0)
    x = np.random.default_rng(0).integers(0, 256, (24, 224, 224, 3), dtype=np.uint8)
    tracemalloc.start()
    try:
        out = sim.run(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = sum(a.nbytes for a in out.potentials + out.layer_outputs) + out.input.nbytes
    assert peak - kept < 1.25 * simulator.CHUNK_BYTES


def test_events_count_non_zero_outputs(model, x):
    out = Simulator(model, seed=2).run(x)
    expected = np.array([[np.count_nonzero(o[n]) for o in out.layer_outputs] for n in range(len(x))])
    assert np.array_equal(out.events_per_sample, expected)
    assert out.events_per_sample.dtype == np.int64
    events = out.events
    assert list(events.columns) == ["layer", "events", "possible", "sparsity"]
    assert events["layer"].tolist() == [layer.name for layer in model.layers]
    assert events["events"].tolist() == expected.sum(axis=0).tolist()
    assert events["possible"].tolist() == [o.size for o in out.layer_outputs]
    assert np.allclose(events["sparsity"], 1 - expected.sum(axis=0) / events["possible"])


def test_result_keeps_model_and_input_read_only(model, x):
    out = Simulator(model, seed=2).run(x)
    assert isinstance(out, SimulationResult) and out.model is model
    assert np.array_equal(out.input, x) and out.input.dtype == np.uint8
    assert out.output is out.layer_outputs[-1] and out.output.dtype == np.int32
    assert out.predict.dtype == np.float32 and out.predict.shape == out.output.shape
    with pytest.raises(ValueError):
        out.potentials[0][...] = 0


def test_reprs_are_short_and_deterministic(model, x):
    sim = Simulator(model, seed=2)
    text = repr(sim.run(x))
    assert text == repr(sim.run(x)) and "0x" not in text
    assert text.startswith("SimulationResult(model 'small', 5 samples, 3 layers, output 5×1×1×3 int32, ")
    assert repr(sim) == "Simulator(model 'small', 3 layers, input 6×5×3 (4-bit), compute float32)"


def test_large_sums_run_in_float64_and_stay_exact():
    model = ak.Model.from_dict({"input": {"shape": [3, 3, 24], "bits": 8}, "layers": [
        {"type": "Convolutional", "kernel_size": 5, "filters": 2, "weights_bits": 8, "act_bits": 8}]})
    w = np.full((5, 5, 24, 2), 127, np.int8)
    w[..., 1] = -128
    v = [{"weights": w, "threshold": np.array([3, -7], np.int32), "act_step": np.array([1e4, 3.5], np.float32)}]
    sim = Simulator(model, v)
    assert "float64" in repr(sim)
    x = np.full((1, 3, 3, 24), 255, np.uint8)
    x[0, 1, 1, 5] = 254
    potentials, outputs = ref.run_sample(model, sim.variables, x[0])
    out = sim.run(x)
    assert np.array_equal(out.potentials[0][0], np.array(potentials[0]))
    assert np.array_equal(out.output[0], np.array(outputs[0]))


def test_sums_beyond_int32_raise():
    model = ak.Model.from_dict({"input": {"shape": [1, 1, 70000], "bits": 8}, "layers": [
        {"type": "FullyConnected", "units": 1, "weights_bits": 8}]})
    v = [{"weights": np.full((1, 1, 70000, 1), -128, np.int8), "threshold": np.zeros(1, np.int32),
          "act_step": np.ones(1, np.float32)}]
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, v)
    assert (err.value.layer, err.value.variable) == ("L0_FullyConnected", "weights")
    assert "int32" in str(err.value)


def _broken(model, layer, key, value):
    variables = Simulator(model, seed=0).variables
    if value is None:
        del variables[layer][key]
    else:
        variables[layer][key] = value
    return variables


@pytest.mark.parametrize("layer, key, value, words", [
    (0, "weights", None, "missing"),
    (0, "weights", np.zeros((3, 3, 3, 5), np.int8), "shape"),
    (0, "weights", np.zeros((3, 3, 3, 4), np.float32), "integer"),
    (0, "weights", np.full((3, 3, 3, 4), 8, np.int16), "[-7, 7]"),
    (1, "weights_pw", np.full((1, 1, 4, 5), -8), "[-7, 7]"),
    (2, "weights", np.full((1, 1, 5, 3), 2), "[-1, 1]"),
    (0, "threshold", np.array([0, 1, 2, 1 << 31]), "[-2147483648, 2147483647]"),
    (0, "threshold", np.zeros(4), "integer"),
    (0, "act_step", np.full(4, 0.05, np.float32), "1/16"),
    (0, "act_step", np.full(4, 0.1), "float32"),
    (0, "act_step", np.array([1, np.nan, 1, 1], np.float32), "finite"),
    (0, "act_step", np.full(4, 2.0**24, np.float32), "2**28"),
    (0, "act_step", np.ones(3, np.float32), "shape"),
    (0, "act_step", np.array(["1"] * 4), "real"),
    (0, "bias", np.zeros(4), "unknown"),
    (0, "weights", np.ones((3, 3, 3, 4), bool), "dtype bool"),
    (0, "threshold", np.zeros(4, bool), "dtype bool"),
    (0, "act_step", np.ones(4, bool), "dtype bool"),
])
def test_bad_variables_name_the_layer_and_the_variable(model, layer, key, value, words):
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, _broken(model, layer, key, value))
    assert err.value.layer == model.layers[layer].name and err.value.variable == key
    assert words in err.value.problem


def test_one_bit_weights_are_unsigned():
    model = ak.Model.from_dict({"input": {"shape": [1, 1, 2]}, "layers": [{"type": "FullyConnected", "units": 1}]})
    v = [{"weights": np.array([-1, 1]).reshape(1, 1, 2, 1), "threshold": np.zeros(1, np.int32),
          "act_step": np.ones(1, np.float32)}]
    with pytest.raises(ak.SimulationError, match=r"\[0, 1\]"):
        Simulator(model, v)


def test_variables_by_name_must_match_the_layers(model):
    by_name = {layer.name: v for layer, v in zip(model.layers, Simulator(model, seed=0).variables)}
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, {**by_name, "nope": {}})
    assert err.value.layer == "nope"
    del by_name[model.layers[1].name]
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, by_name)
    assert err.value.layer == model.layers[1].name
    with pytest.raises(ak.SimulationError, match="3 per-layer"):
        Simulator(model, Simulator(model, seed=0).variables[:2])


def test_padding_value_must_be_an_input_value():
    spec = {"input": {"shape": [5, 5, 1], "bits": 8}, "layers": [
        {"type": "InputConvolutional", "kernel_size": 3, "filters": 2, "padding_value": 256}]}
    with pytest.raises(ak.SpecError) as spec_err:  # refused when the model is built
        ak.Model.from_dict(spec)
    assert spec_err.value.path == "layers[0].padding_value"
    spec["layers"][0]["padding_value"] = 255
    model = ak.Model.from_dict(spec)
    bad = dataclasses.replace(model, layers=(dataclasses.replace(model.layers[0], padding_value=256),))
    with pytest.raises(ak.SimulationError) as err:  # and by the Simulator, for a model built around from_dict
        Simulator(bad, seed=0)
    assert err.value.variable == "padding_value"


@pytest.mark.parametrize("bad, words", [
    (np.zeros((2, 6, 5, 3), np.float32), "dtype float32"),
    (np.zeros((2, 5, 6, 3), np.uint8), "shape"),
    (np.zeros((0, 6, 5, 3), np.uint8), "N ≥ 1"),
    (np.full((2, 6, 5, 3), 16, np.uint8), "[0, 15]"),
    (np.full((2, 6, 5, 3), -1, np.int16), "[0, 15]"),
])
def test_bad_inputs_raise(model, bad, words):
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, seed=0).run(bad)
    assert err.value.layer is None and err.value.variable == "input" and words in err.value.problem


def test_integer_inputs_of_any_dtype_are_accepted_unchanged(model, x):
    sim = Simulator(model, seed=0)
    assert np.array_equal(sim.run(x.astype(np.int64)).output, sim.run(x).output)


def test_bad_batch_size_and_model_raise(model, x):
    with pytest.raises(ak.SimulationError):
        Simulator(model, seed=0).run(x, batch_size=0)
    with pytest.raises(ak.SimulationError, match="model: must be an akida_nb.Model"):
        Simulator(model.to_dict(), seed=0)


def test_separable_sums_bounded_with_full_int8_range():
    """Separable sums beyond 2**24, with -128 weights, run in float64 and stay exact."""
    model = ak.Model.from_dict({"input": {"shape": [5, 5, 16], "bits": 8}, "layers": [
        {"type": "SeparableConvolutional", "kernel_size": 5, "filters": 1, "weights_bits": 8, "act_bits": 8,
         "padding": "valid", "activation": False}]})
    pw = np.full((1, 1, 16, 1), -128, np.int8)
    pw[0, 0, ::2] = -127
    v = [{"weights": np.full((5, 5, 16, 1), 127, np.int8), "weights_pw": pw,
          "threshold": np.zeros(1, np.int32), "act_step": np.ones(1, np.float32)}]
    sim = Simulator(model, v)
    assert "float64" in repr(sim)
    x = np.full((1, 5, 5, 16), 255, np.uint8)
    x[0, 2, 2, 3] = 254
    expected = sum(127 * int(x[0, :, :, c].astype(np.int64).sum()) * int(pw[0, 0, c, 0]) for c in range(16))
    assert sim.run(x).output.ravel().tolist() == [expected]
