"""The simulator's fast lowerings against the slow loop reference (tests/sim_reference.py), one kernel at a time.

Compiled depthwise convolution and max pooling, the planned activation, the summed convolution
that replaces a convolution followed by global average pooling, and the split of a batch among
workers by samples: each gives, bit for bit, what the reference loops give.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from test_sim_properties import assert_matches_reference, extreme_variables, inputs, specs

import akida_nb as ak
from akida_nb.sim import Simulator, kernels, simulator as sim_module

import sim_reference as ref
from strategies import Reach

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

geometry = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
                     st.sampled_from(["same", "valid"]))


def _shape_ok(h, w, k0, k1, padding):
    return padding == "same" or (h >= k0 and w >= k1)


@SETTINGS
@given(geo=geometry, h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 9), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_depthwise_matches_reference(geo, h, w, c, seed, dtype):
    k0, k1, s0, s1, padding = geo
    if not _shape_ok(h, w, k0, k1, padding):
        return
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (2, h, w, c)).astype(np.uint8)
    dw = rng.integers(-128, 128, (k0, k1, c)).astype(dtype)
    got = kernels.depthwise_conv2d(x, dw, (s0, s1), padding)
    for n in range(2):  # the reference's separable layer with an identity pointwise step is the depthwise sums
        expected = ref.separable(x[n].tolist(), dw[..., None].astype(np.int64), np.eye(c, dtype=np.int64)[None, None],
                                 (s0, s1), padding)
        assert np.array_equal(got[n], np.array(expected)), (n, got[n], expected)


@SETTINGS
@given(size=st.tuples(st.integers(1, 3), st.integers(1, 3)), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.sampled_from(["same", "valid"]), h=st.integers(1, 8), w=st.integers(1, 8), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64, np.int64]))
def test_max_pool_matches_reference(size, stride, padding, h, w, seed, dtype):
    if not _shape_ok(h, w, *size, padding):
        return
    rng = np.random.default_rng(seed)
    p = rng.integers(-(1 << 21), 1 << 21, (2, h, w, 3)).astype(dtype)  # beyond 20 bits: the clip acts
    got = kernels.max_pool(p, size, stride, padding)
    for n in range(2):
        assert np.array_equal(got[n], np.array(ref.max_pool(p[n].astype(np.int64).tolist(), size, stride, padding)))


SUMMED = Reach()


@SETTINGS
@given(geo=geometry, h=st.integers(1, 8), w=st.integers(1, 8), c=st.integers(1, 5), f=st.integers(1, 4),
       kind=st.sampled_from(["Convolutional", "InputConvolutional", "SeparableConvolutional"]),
       bits=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_summed_convolution_is_the_pooled_sum(geo, h, w, c, f, kind, bits, seed):
    """summed_conv2d equals the convolution's potentials summed with the engine's saturating sum."""
    k0, k1, s0, s1, padding = geo
    if not _shape_ok(h, w, k0, k1, padding):
        return
    SUMMED.example()
    rng = np.random.default_rng(seed)
    x_max = (1 << bits) - 1
    x = rng.integers(0, x_max + 1, (2, h, w, c)).astype(np.uint8)
    pad_value = int(rng.integers(0, x_max + 1)) if kind == "InputConvolutional" else 0
    if kind == "SeparableConvolutional":
        dw = rng.integers(-7, 8, (k0, k1, c)).astype(np.float32)
        pw = rng.integers(-7, 8, (c, f)).astype(np.float32)
        got = kernels.summed_conv2d(x, dw, (s0, s1), padding, pointwise=pw)
        direct = [ref.separable(x[n].tolist(), dw[..., None].astype(np.int64), pw[None, None].astype(np.int64),
                                (s0, s1), padding) for n in range(2)]
    else:
        wt = rng.integers(-7, 8, (k0, k1, c, f)).astype(np.float32)
        flip = kind == "Convolutional"
        got = kernels.summed_conv2d(x, wt, (s0, s1), padding, flip=flip, pad_value=pad_value)
        direct = [ref.conv(x[n].tolist(), wt.astype(np.int64), (s0, s1), padding, flip, pad_value) for n in range(2)]
    sums = [np.array(ref.global_sum(d)) for d in direct]
    plain = [int(np.abs(np.array(d)).sum(axis=(0, 1)).max()) for d in direct]
    if max(plain) <= kernels.INT20_MAX:  # the sum cannot saturate: the lowering's condition
        SUMMED.reached()
        for n in range(2):
            assert np.array_equal(got[n], sums[n].reshape(1, 1, -1)), (n, got[n], sums[n])


def test_summed_convolution_examples_reach_their_assertion():
    SUMMED.assert_reached(test_summed_convolution_is_the_pooled_sum, 0.5)


def test_the_simulator_sums_only_when_the_bound_proves_it():
    """A layer's summed path is chosen from its weights' bound, and matches the reference either way."""
    spec = {"input": {"shape": [6, 6, 2], "bits": 2},
            "layers": [{"type": "Convolutional", "kernel_size": 3, "filters": 3, "padding": "same",
                        "pool_type": "average", "weights_bits": 2, "act_bits": 2}]}
    model = ak.Model.from_dict(spec)
    rng = np.random.default_rng(0)
    small = Simulator(model, [{"weights": rng.integers(-1, 2, (3, 3, 2, 3)).astype(np.int8),
                               "threshold": np.zeros(3, np.int32), "act_step": np.ones(3, np.float32)}])
    spec["input"]["bits"], spec["layers"][0]["weights_bits"] = 8, 8
    big_model = ak.Model.from_dict(spec)
    big = Simulator(big_model, [{"weights": np.full((3, 3, 2, 3), 127, np.int8),
                                 "threshold": np.zeros(3, np.int32), "act_step": np.ones(3, np.float32)}])
    assert small._layers[0].summed and not big._layers[0].summed
    assert_matches_reference(small, rng.integers(0, 4, (3, 6, 6, 2)).astype(np.uint8))
    assert_matches_reference(big, np.full((2, 6, 6, 2), 255, np.uint8))  # saturates: the pooled sum clips


PARTS = Reach()


@SETTINGS
@given(model=specs(), seed=st.integers(0, 2**16), workers=st.integers(2, 3), n=st.integers(2, 5))
def test_batches_split_by_samples_match_reference(model, seed, workers, n):
    """Every chunk split among the workers by samples (the threshold at 0): the same results, any keep."""
    PARTS.example()
    rng = np.random.default_rng(seed)
    sim = Simulator(model, extreme_variables(model, rng))
    x = inputs(model, rng, n=n)
    saved = sim_module.PARALLEL_SAMPLES_MACS
    sim_module.PARALLEL_SAMPLES_MACS = 0
    try:
        with kernels.compute_threads(workers):
            whole = sim.run(x, keep="output").output
            assert_matches_reference(sim, x)
            assert np.array_equal(sim.run(x, keep="output", batch_size=2).output, whole)
            PARTS.reached()
    finally:
        sim_module.PARALLEL_SAMPLES_MACS = saved


def test_split_batch_examples_reach_their_assertion():
    PARTS.assert_reached(test_batches_split_by_samples_match_reference)


def test_in_parts_runs_every_item_once_and_reraises():
    seen = []
    with kernels.compute_threads(3):
        kernels.in_parts(seen.append, list(range(7)))
    assert sorted(seen) == list(range(7))

    def boom(item):
        if item == 2:
            raise ValueError("part 2")

    with kernels.compute_threads(2), pytest.raises(ValueError, match="part 2"):
        kernels.in_parts(boom, [0, 1, 2, 3])


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_planned_activation_equals_the_data_driven_one(bits):
    rng = np.random.default_rng(bits)
    p = rng.integers(-5000, 5000, (50, 7)).astype(np.float32)
    threshold = rng.integers(-100, 100, 7).astype(np.int32)
    step = (rng.integers(1, 4000, 7) / 16).astype(np.float32)
    plan = kernels.activation_plan(threshold, step, bits, np.float32, -5000, 5000)
    assert plan is not None
    nested = p.astype(np.int64).reshape(50, 1, 7).tolist()
    expected = np.array(ref.activate(nested, threshold, step, bits)).reshape(50, 7)
    assert np.array_equal(plan(p), expected)
    assert np.array_equal(kernels.activation(p, threshold, step, bits), expected)


def test_activation_plan_refuses_what_it_cannot_prove():
    one = np.ones(1, np.float32)
    assert kernels.activation_plan(np.zeros(1), one, 8, np.float32, -(1 << 30), 1 << 30) is None
    with pytest.raises(ak.SimulationError, match="act_step"):
        kernels.activation_plan(np.zeros(1), np.array([2.0**24], np.float32), 4, np.float32, 0, 1)


WINOGRAD = Reach()


@SETTINGS
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 6), f=st.integers(1, 5),
       padding=st.sampled_from(["same", "valid"]), flip=st.booleans(), bits=st.integers(1, 8),
       wbits=st.integers(1, 8), seed=st.integers(0, 2**16), dtype=st.sampled_from([np.float32, np.float64]))
def test_winograd_matches_reference(h, w, c, f, padding, flip, bits, wbits, seed, dtype):
    """F(2×2, 3×3) gives the reference convolution exactly whenever winograd_weights accepts the kernel."""
    if not _shape_ok(h, w, 3, 3, padding):
        return
    WINOGRAD.example()
    rng = np.random.default_rng(seed)
    x_max = (1 << bits) - 1
    x = rng.integers(0, x_max + 1, (2, h, w, c)).astype(np.uint8)
    x[0] = x_max  # the largest inputs, where a lost bit would show
    lo, hi = kernels.weight_range(wbits)
    wt = rng.integers(lo, hi + 1, (3, 3, c, f)).astype(np.int8)
    saved, kernels.WINOGRAD_MIN_CHANNELS = kernels.WINOGRAD_MIN_CHANNELS, 1  # exactness at any channel count
    try:
        u = kernels.winograd_weights(wt, x_max, flip=flip, dtype=dtype)
    finally:
        kernels.WINOGRAD_MIN_CHANNELS = saved
    if u is None:  # the bound does not prove it exact: the simulator uses conv2d instead
        return
    WINOGRAD.reached()
    got = kernels.winograd_conv2d(x, u, padding)
    for n in range(2):
        expected = np.array(ref.conv(x[n].tolist(), wt.astype(np.int64), (1, 1), padding, flip, 0))
        assert np.array_equal(got[n], expected), n


def test_winograd_examples_reach_their_assertion():
    WINOGRAD.assert_reached(test_winograd_matches_reference, 0.6)


def test_simulator_uses_winograd_where_exact():
    spec = {"input": {"shape": [9, 8, 16], "bits": 4},
            "layers": [{"type": "Convolutional", "kernel_size": 3, "filters": 5, "padding": "same",
                        "weights_bits": 4, "act_bits": 4},
                       {"type": "Convolutional", "kernel_size": 3, "filters": 3, "kernel_stride": 2,
                        "weights_bits": 4, "act_bits": 4}]}
    model = ak.Model.from_dict(spec)
    sim = Simulator(model, seed=3)
    assert sim._layers[0].winograd is not None and sim._layers[1].winograd is None  # stride 2: im2col
    assert_matches_reference(sim, np.random.default_rng(3).integers(0, 16, (3, 9, 8, 16)).astype(np.uint8))
