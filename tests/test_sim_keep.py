"""Simulator.run(keep=...): what a run keeps, chunking that never changes a bit, memory checked before it starts."""
from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import akida_nb as ak
from akida_nb.sim import KeptArrays, Simulator, memory_budget, simulator

GOLDEN = sorted((Path(__file__).parent / "data" / "golden").glob("*.npz"))
KEEPS = ["all", "output", [0], [1, 2], [-1], (2, 0), np.array([1])]


@pytest.fixture(scope="module")
def sim():
    return Simulator(ak.example("vgg_utk_face"), seed=3)


@pytest.fixture(scope="module")
def x(sim):
    return np.random.default_rng(5).integers(0, 256, (7, *sim.model.input_shape), dtype=np.uint8)


@pytest.fixture(scope="module")
def whole(sim, x):
    return sim.run(x, batch_size=len(x))


def _kept(keep, n_layers):
    if isinstance(keep, str):
        return list(range(n_layers)) if keep == "all" else []
    return sorted({int(i) % n_layers for i in keep})


@pytest.mark.parametrize("keep", KEEPS, ids=str)
@pytest.mark.parametrize("batch_size", [None, 1, 2, 3, 7, 100])
def test_every_keep_and_chunking_gives_the_unchunked_bits(sim, x, whole, keep, batch_size):
    out = sim.run(x, keep=keep, batch_size=batch_size)
    n_layers = len(sim.model.layers)
    kept = _kept(keep, n_layers)
    assert out.kept == tuple(kept)
    for i in kept:
        assert np.array_equal(out.potentials[i], whole.potentials[i]) and out.potentials[i].dtype == np.int32
        assert np.array_equal(out.layer_outputs[i], whole.layer_outputs[i])
        assert out.layer_outputs[i].dtype == whole.layer_outputs[i].dtype
    assert out.output.dtype == whole.output.dtype and np.array_equal(out.output, whole.output)
    assert np.array_equal(out.predict, whole.predict) and out.predict.dtype == np.float32
    assert np.array_equal(out.events_per_sample, whole.events_per_sample)
    assert out.events_per_sample.dtype == np.int64
    assert out.events.equals(whole.events) and repr(out) == repr(whole)
    assert np.array_equal(out.input, x)
    with pytest.raises(ValueError):
        out.output[...] = 0


def test_event_counts_are_the_non_zero_outputs_whatever_is_kept(sim, x, whole):
    expected = np.array([[np.count_nonzero(o[n]) for o in whole.layer_outputs] for n in range(len(x))])
    assert np.array_equal(whole.events_per_sample, expected)
    assert np.array_equal(sim.run(x, keep="output", batch_size=2).events_per_sample, expected)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_partial_keeps_in_small_chunks_reproduce_the_engine(path):
    sim = Simulator.from_npz(path)
    ref = sim.reference
    middle = len(sim.model.layers) // 2
    out = sim.run(ref["input"], keep=[middle], batch_size=2)
    assert np.array_equal(out.potentials[middle], ref[f"L{middle}_potential"])
    assert np.array_equal(out.layer_outputs[middle], ref[f"L{middle}_output"])
    only = sim.run(ref["input"], keep="output", batch_size=1)
    for result in (out, only):
        assert result.output.dtype == ref["output"].dtype and np.array_equal(result.output, ref["output"])
        if "predict" in ref:
            assert np.array_equal(result.predict, ref["predict"])
        else:
            assert result.predict is None


def test_a_layer_not_kept_raises_and_says_how_to_keep_it(sim, x):
    out = sim.run(x, keep=[1])
    assert isinstance(out.potentials, KeptArrays) and len(out.potentials) == len(sim.model.layers)
    with pytest.raises(ak.SimulationError) as err:
        out.potentials[0]
    assert err.value.layer == sim.model.layers[0].name and err.value.variable == "potentials"
    assert "keep=[0" in str(err.value) and "keep='all'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ak.SimulationError, match="layer_outputs"):
        out.layer_outputs[-2]
    with pytest.raises(ak.SimulationError):
        list(out.potentials)
    with pytest.raises(ak.SimulationError):
        out.potentials[:2]
    assert [a.shape for a in out.potentials[1:2]] == [(7, *sim.model.layers[1].output_shape)]
    with pytest.raises(IndexError):
        out.potentials[len(sim.model.layers)]
    with pytest.raises(ak.SimulationError, match="int"):
        out.potentials["L1"]
    assert out.potentials.kept == (1,) and out.layer_outputs.kept == (1, len(sim.model.layers) - 1)
    assert repr(out.potentials) == f"KeptArrays(potentials of layers [1] of {len(sim.model.layers)})"
    only = sim.run(x, keep="output")
    with pytest.raises(ak.SimulationError, match="keep='output'"):
        only.potentials[-1]


def test_keep_all_holds_plain_lists(sim, x):
    out = sim.run(x)
    assert type(out.potentials) is list and type(out.layer_outputs) is list
    assert out.kept == tuple(range(len(sim.model.layers)))


@pytest.mark.parametrize("keep", ["some", "", None, 1, 1.5, [7], [-8], [True], ["L0"], [0.0], {"a": 1}, b"\x00"])
def test_bad_keep_raises(sim, x, keep):
    with pytest.raises(ak.SimulationError) as err:
        sim.run(x, keep=keep)
    assert err.value.variable == "keep" and "'all', 'output'" in err.value.problem


def test_a_partial_keep_holds_a_view_of_a_uint8_input(sim, x):
    given = x.copy()
    out = sim.run(given, keep="output")
    assert np.shares_memory(out.input, given) and not out.input.flags.writeable and given.flags.writeable
    assert not np.shares_memory(sim.run(given).input, given)  # keep="all": a copy, as always
    wide = sim.run(given.astype(np.int64), keep="output").input
    assert wide.dtype == np.uint8 and np.array_equal(wide, given)


def test_memory_of_keep_output_does_not_grow_with_samples(monkeypatch):
    monkeypatch.setattr(simulator, "CHUNK_BYTES", 2 << 20)
    sim = Simulator(ak.example("gxnor_mnist"), seed=0)
    x = np.random.default_rng(0).integers(0, 256, (800, 28, 28, 1), dtype=np.uint8)
    peaks = []
    for n in (200, 800):
        tracemalloc.start()
        try:
            out = sim.run(x[:n], keep="output")
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        kept = out.output.nbytes + out.events_per_sample.nbytes
        assert peaks[-1] - kept < 1.25 * simulator.CHUNK_BYTES
    everything = sim.run(x[:800])
    kept_all = sum(a.nbytes for a in everything.potentials + everything.layer_outputs)
    assert peaks[1] < kept_all / 4


def test_a_run_whose_kept_results_do_not_fit_raises_before_it_starts():
    sim = Simulator(ak.example("gxnor_mnist"), seed=0)
    x = np.zeros((2, 28, 28, 1), np.uint8)
    small = sim.run(x)
    per_sample = (sum(a.nbytes for a in small.potentials + small.layer_outputs) + small.input.nbytes
                  + small.events_per_sample.nbytes + small.predict.nbytes) // 2
    n = 2_000_000
    huge = np.broadcast_to(x[:1], (n, 28, 28, 1))  # no memory behind it
    with pytest.raises(ak.SimulationError) as err:
        sim.run(huge)
    message = str(err.value)
    needed = int(re.search(r"needs ([\d,]+) bytes", message).group(1).replace(",", ""))
    assert needed == n * per_sample > memory_budget()
    assert err.value.variable == "keep" and "keep='output'" in message and "\n" not in message


def test_the_budget_decides_and_a_short_budget_shrinks_chunks_without_changing_bits(monkeypatch):
    sim = Simulator(ak.example("ds_cnn_kws"), seed=0)
    x = np.random.default_rng(1).integers(0, 256, (12, 49, 10, 1), dtype=np.uint8)
    whole = sim.run(x)
    one = max(p.chunk_bytes() for p in sim._layers)
    kept_all = sum(a.nbytes for a in whole.potentials + whole.layer_outputs) + x.nbytes
    monkeypatch.setattr(simulator, "MEMORY_BUDGET", kept_all // 2)
    assert memory_budget() == kept_all // 2
    with pytest.raises(ak.SimulationError, match="bytes"):
        sim.run(x)
    monkeypatch.setattr(simulator, "MEMORY_BUDGET", whole.output.nbytes + 1000 + 3 * one)
    out = sim.run(x, keep="output")  # fits 3 samples at a time: chunks of at most 3
    assert np.array_equal(out.output, whole.output) and np.array_equal(out.events_per_sample,
                                                                         whole.events_per_sample)
    with pytest.raises(ak.SimulationError) as err:
        sim.run(x, keep="output", batch_size=12)
    assert err.value.variable == "batch_size"
    monkeypatch.setattr(simulator, "MEMORY_BUDGET", one - 1)
    with pytest.raises(ak.SimulationError) as err:
        sim.run(x[:1], keep="output")
    assert err.value.layer in [layer.name for layer in sim.model.layers] and "one sample needs" in str(err.value)


def test_a_model_too_large_for_memory_raises_with_the_bytes():
    model = ak.Model.from_dict({"input": {"shape": [28, 28, 1]}, "layers": [
        {"type": "Convolutional", "kernel_size": 3, "filters": 10 ** 7}]})
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, seed=0)
    assert err.value.layer == model.layers[0].name
    needed = int(re.search(r"need ([\d,]+) bytes", str(err.value)).group(1).replace(",", ""))
    assert needed > memory_budget()


def test_one_sample_too_large_raises_at_run(monkeypatch):
    model = ak.Model.from_dict({"input": {"shape": [28, 28, 1]}, "layers": [
        {"type": "Convolutional", "kernel_size": 3, "filters": 64}]})
    sim = Simulator(model, seed=0)
    monkeypatch.setattr(simulator, "MEMORY_BUDGET", 28 * 28 * 64 * 4)
    with pytest.raises(ak.SimulationError, match="one sample needs [\\d,]+ bytes"):
        sim.run(np.zeros((28, 28, 1), np.uint8))


def test_the_budget_respects_an_address_space_limit():
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY)); "
            "from akida_nb.sim import memory_budget; print(memory_budget())")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert 0 <= int(done.stdout) < 3 << 30
