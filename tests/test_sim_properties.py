"""Property tests: random small models agree with the slow loop reference (tests/sim_reference.py)."""
from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import akida_nb as ak
from akida_nb.sim import Simulator, kernels, variable_shapes

import sim_reference as ref

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

pairs = st.one_of(st.integers(1, 5), st.tuples(st.integers(1, 5), st.integers(1, 5)).map(list))
strides = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)).map(list))
bits = st.integers(1, 8)


@st.composite
def conv_layers(draw, layer_type):
    layer = {"type": layer_type, "kernel_size": draw(pairs), "filters": draw(st.integers(1, 5)),
             "kernel_stride": draw(strides), "padding": draw(st.sampled_from(["same", "valid"])),
             "weights_bits": draw(bits), "act_bits": draw(bits)}
    pool = draw(st.sampled_from(["none", "max", "average"]))
    layer["pool_type"] = pool
    if pool == "max":
        size = draw(st.integers(1, 3))
        layer["pool_size"] = size
        layer["pool_stride"] = draw(st.integers(1, size))
    if layer_type == "InputConvolutional":
        layer["padding_value"] = draw(st.integers(0, 255))
    return layer


@st.composite
def specs(draw):
    n_layers = draw(st.integers(1, 3))
    first_input_conv = draw(st.booleans())
    layers = []
    for i in range(n_layers):
        if i == 0 and first_input_conv:
            layers.append(draw(conv_layers("InputConvolutional")))
            continue
        kind = draw(st.sampled_from(["Convolutional", "SeparableConvolutional", "FullyConnected"]))
        if kind == "FullyConnected":
            layers.append({"type": kind, "units": draw(st.integers(1, 6)), "weights_bits": draw(bits),
                           "act_bits": draw(bits)})
        else:
            layers.append(draw(conv_layers(kind)))
    layers[-1]["activation"] = draw(st.booleans())
    shape = [draw(st.integers(1, 10)), draw(st.integers(1, 10)), draw(st.integers(1, 4))]
    spec = {"input": {"shape": shape, "bits": 8 if first_input_conv else draw(bits)}, "layers": layers}
    try:
        return ak.Model.from_dict(spec)
    except ak.SpecError:  # an empty output ('valid' kernel or pool larger than its input)
        assume(False)


def extreme_variables(model, rng):
    """Weights from the whole range, biased to one sign; thresholds and steps anywhere the engine allows."""
    variables = []
    for layer in model.layers:
        lo, hi = kernels.weight_range(layer.weights_bits)
        v = {}
        for key, shape in variable_shapes(layer).items():
            f = shape[0]
            if key.startswith("weights"):
                mode = rng.integers(3)
                low, high = (lo, hi) if mode == 0 else ((max(lo, 0), hi) if mode == 1 else (lo, min(hi, 0)))
                v[key] = rng.integers(low, high + 1, shape).astype(np.int8)
            elif key == "threshold":
                scale = int(rng.choice([1 << 4, 1 << 12, 1 << 20, 1 << 31]))
                v[key] = rng.integers(max(-scale, -(1 << 31)), min(scale, (1 << 31) - 1), f).astype(np.int32)
            else:
                kind = rng.integers(3)
                if kind == 0:  # on the 1/16 grid
                    step = rng.integers(1, 1 << 12, f) / 16
                elif kind == 1:  # anywhere
                    step = rng.uniform(1 / 16, 300.0, f)
                else:  # huge: the engine's step register wraps modulo 2**28
                    step = rng.uniform(2.0**20, 2.0**34, f)
                step = step.astype(np.float32)
                step[kernels.step_register(step) == 0] = 1.0
                v[key] = step
        variables.append(v)
    return variables


def inputs(model, rng, n=2):
    top = (1 << model.input_bits) - 1
    x = rng.integers(0, top + 1, (n, *model.input_shape))
    x[0] = np.where(rng.random(model.input_shape) < 0.7, top, x[0])  # drive sums towards saturation
    return x.astype(np.uint8)


def assert_matches_reference(sim, x):
    out = sim.run(x)
    for n in range(len(x)):
        potentials, outputs = ref.run_sample(sim.model, sim.variables, x[n])
        for i in range(len(sim.model.layers)):
            assert np.array_equal(out.potentials[i][n], np.array(potentials[i])), f"layer {i} potential"
            assert np.array_equal(out.layer_outputs[i][n], np.array(outputs[i])), f"layer {i} output"
        if out.predict is not None:
            last = sim.variables[-1]
            expected = np.array(ref.predict(potentials[-1], last["threshold"], last["act_step"]), np.float32)
            assert np.array_equal(out.predict[n], expected)


@SETTINGS
@given(model=specs(), seed=st.integers(0, 2**16))
def test_seeded_random_models_run_and_match_reference(model, seed):
    sim = Simulator(model, seed=seed)
    assert_matches_reference(sim, inputs(model, np.random.default_rng(seed)))


@SETTINGS
@given(model=specs(), seed=st.integers(0, 2**16))
def test_extreme_variables_match_reference(model, seed):
    rng = np.random.default_rng(seed)
    sim = Simulator(model, extreme_variables(model, rng))
    assert_matches_reference(sim, inputs(model, rng))


@contextmanager
def tiny_tiles():
    """Every product split into one-row tiles and handed to the worker pool, however small."""
    saved = kernels.TILE_BYTES, kernels.SERIAL_TILE_BYTES, kernels.PARALLEL_MACS
    kernels.TILE_BYTES, kernels.SERIAL_TILE_BYTES, kernels.PARALLEL_MACS = 1, 1, 0
    try:
        yield
    finally:
        kernels.TILE_BYTES, kernels.SERIAL_TILE_BYTES, kernels.PARALLEL_MACS = saved


@SETTINGS
@given(model=specs(), seed=st.integers(0, 2**16), workers=st.integers(1, 3))
def test_tiles_and_workers_do_not_change_results(model, seed, workers):
    rng = np.random.default_rng(seed)
    sim = Simulator(model, extreme_variables(model, rng))
    x = inputs(model, rng, n=3)
    with tiny_tiles(), kernels.compute_threads(workers):
        assert_matches_reference(sim, x)


def test_compute_threads_restores_blas_threads_and_nests():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    with kernels.compute_threads(2) as outer:
        inside = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
        with kernels.compute_threads(1) as inner:
            assert inner == 1
        assert outer == 2
    after = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    assert inside == [1] * len(before)
    assert after == before


_forked: list[Simulator] = []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_runs_with_its_own_workers():
    """The parent's worker threads do not exist in a forked child: its runs must not wait for them."""
    sim = Simulator(ak.example("gxnor_mnist"), seed=0)
    _forked[:] = [sim]
    x = np.random.default_rng(0).integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    with tiny_tiles():
        expected = sim.run(x, keep="output").output
        with multiprocessing.get_context("fork").Pool(1) as pool:
            result = pool.apply_async(_run_output, (x,))
            assert np.array_equal(result.get(timeout=60), expected)


def _run_output(x):
    with tiny_tiles():  # the simulator reaches the forked child through the module, as it was at the fork
        return _forked[0].run(x, keep="output").output


@SETTINGS
@given(p=st.lists(st.integers(-(1 << 31), (1 << 31) - 1), min_size=1, max_size=40),
       threshold=st.integers(-(1 << 31), (1 << 31) - 1),
       step=st.floats(1 / 16, 2.0**40, width=32), act_bits=bits, slack=st.sampled_from([0, 1, 1 << 20, 1 << 40]))
def test_activation_matches_reference_formula(p, threshold, step, act_bits, slack):
    assume(kernels.step_register(np.float32(step)) != 0)
    arr = np.array(p, np.float64).reshape(-1, 1)
    out = kernels.activation(arr, np.array([threshold]), np.array([step], np.float32), act_bits)
    expected = ref.activate([[[v] for v in p]], [threshold], [step], act_bits)
    assert out.ravel().tolist() == [cell[0] for cell in expected[0]]
    bounded = kernels.activation(arr.astype(np.float32) if max(map(abs, p)) < 1 << 24 else arr, np.array([threshold]),
                                 np.array([step], np.float32), act_bits, bound=max(map(abs, p)) + slack)
    assert bounded.ravel().tolist() == [cell[0] for cell in expected[0]]  # a bound never changes a level


@SETTINGS
@given(p=st.lists(st.integers(-(1 << 19), 1 << 19), min_size=1, max_size=40),
       threshold=st.integers(-(1 << 19), 1 << 19), grid=st.integers(1, (1 << 16) - 1), act_bits=bits)
def test_float32_activation_path_is_exact(p, threshold, grid, act_bits):
    """|d| <= 2**20 and S < 2**16: the single float32 division path, which must stay exact."""
    arr = np.array(p, np.float32).reshape(-1, 1)
    step = np.array([grid / 16], np.float32)
    out = kernels.activation(arr, np.array([threshold]), step, act_bits)
    expected = ref.activate([[[v] for v in p]], [threshold], step, act_bits)
    assert out.ravel().tolist() == [cell[0] for cell in expected[0]]


@SETTINGS
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 7), st.integers(1, 3)),
       scale=st.sampled_from([1, 1 << 10, 1 << 16, 1 << 20, 1 << 31]), seed=st.integers(0, 2**16))
def test_global_sum_pool_matches_sequential_saturation(shape, scale, seed):
    p = np.random.default_rng(seed).integers(-scale, scale, shape)
    out = kernels.global_sum_pool(p)
    for n in range(shape[0]):
        assert np.array_equal(out[n], np.array(ref.global_sum(p[n].tolist())))
