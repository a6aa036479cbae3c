"""Replay every reference run of Akida's engine (tests/data/golden/*.npz): equal, not close."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from akida_nb.sim import Simulator

import sim_reference as ref

GOLDEN = sorted((Path(__file__).parent / "data" / "golden").glob("*.npz"))


def assert_identical(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.array_equal(actual, expected), f"{what}: {int(np.sum(actual != expected))} values differ"


def test_every_golden_run_is_found():
    assert len(GOLDEN) == 31


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_simulator_reproduces_engine(path):
    sim = Simulator.from_npz(path)
    expected = sim.reference
    out = sim.run(expected["input"])
    for i in range(len(sim.model.layers)):
        assert_identical(out.potentials[i], expected[f"L{i}_potential"], f"L{i}_potential")
        assert_identical(out.layer_outputs[i], expected[f"L{i}_output"], f"L{i}_output")
    assert_identical(out.output, expected["output"], "output")
    if "predict" in expected:
        assert_identical(out.predict, expected["predict"], "predict")
    else:
        assert out.predict is None


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_simulator_reproduces_engine_one_sample_at_a_time(path):
    sim = Simulator.from_npz(path)
    out = sim.run(sim.reference["input"], batch_size=1)
    assert_identical(out.output, sim.reference["output"], "output")


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_loop_reference_reproduces_engine(path):
    """The slow reference the property tests rely on is itself right on the engine's runs."""
    sim = Simulator.from_npz(path)
    x = sim.reference["input"][0]
    potentials, outputs = ref.run_sample(sim.model, sim.variables, x)
    for i in range(len(sim.model.layers)):
        assert np.array_equal(np.array(potentials[i]), sim.reference[f"L{i}_potential"][0])
        assert np.array_equal(np.array(outputs[i]), sim.reference[f"L{i}_output"][0])
    if "predict" in sim.reference:
        last = sim.variables[-1]
        expected = np.array(ref.predict(potentials[-1], last["threshold"], last["act_step"]), np.float32)
        assert np.array_equal(expected, sim.reference["predict"][0])
