"""Careless and hostile inputs to the Simulator get one typed line naming what was wrong, never a raw error."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import akida_nb as ak
from akida_nb.sim import Simulator

GOLDEN = Path(__file__).parent / "data" / "golden" / "ds_cnn_kws_v1.npz"


def assert_one_line(err: Exception, *words: str) -> None:
    text = str(err)
    assert "\n" not in text and len(text) <= 400, text
    for word in words:
        assert word in text, (word, text)


@pytest.fixture(scope="module")
def model():
    return ak.Model.from_dict({"name": "tiny", "input": {"shape": [4, 4, 2], "bits": 4}, "layers": [
        {"type": "Convolutional", "kernel_size": 3, "filters": 3, "weights_bits": 4, "act_bits": 2},
        {"type": "FullyConnected", "units": 2, "weights_bits": 2, "activation": False}]})


@pytest.mark.parametrize("seed", ["abc", -1, 1.5, True, None, [1, 2], 2 ** 200 * -1])
def test_bad_seed_raises(model, seed):
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, seed=seed)
    assert err.value.variable == "seed"
    assert_one_line(err.value, "int ≥ 0")


def test_numpy_integer_seeds_are_seeds(model):
    a, b = Simulator(model, seed=np.int64(5)).variables, Simulator(model, seed=5).variables
    assert all(np.array_equal(a[i][k], b[i][k]) for i in range(2) for k in a[i])


@pytest.mark.parametrize("bad", [None, "ds_cnn_kws", {"input": {"shape": [4, 4, 2]}}, 5])
def test_a_model_that_is_not_a_model_raises(bad):
    with pytest.raises(ak.SimulationError) as err:
        Simulator(bad)
    assert err.value.variable == "model"
    assert_one_line(err.value, "akida_nb.Model")


@pytest.mark.parametrize("bad, words", [
    (None, "dtype object"),
    ("abc", "dtype <U3"),
    ([[1, 2], [3]], "integer array"),
    (np.full((1, 4, 4, 2), np.nan), "dtype float64"),
    (np.zeros((1, 4, 4, 2), np.complex64), "dtype complex64"),
    (np.zeros((4, 4), np.uint8), "shape"),
    (np.zeros((1, 1, 4, 4, 2), np.uint8), "shape"),
    (np.uint8(3), "shape"),
    (np.full((1, 4, 4, 2), 16, np.int32), "[0, 15]"),
    (np.full((1, 4, 4, 2), 2 ** 40, np.int64), "[0, 15]"),
    (np.array([[[[10 ** 30] * 2] * 4] * 4]), "dtype object"),
])
def test_bad_inputs_raise_one_line(model, bad, words):
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, seed=0).run(bad)
    assert err.value.variable == "input"
    assert_one_line(err.value, words)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, "2", True])
def test_bad_batch_size_raises(model, batch_size):
    with pytest.raises(ak.SimulationError) as err:
        Simulator(model, seed=0).run(np.zeros((4, 4, 2), np.uint8), batch_size=batch_size)
    assert err.value.variable == "batch_size"


def test_numpy_integer_batch_size_is_a_batch_size(model):
    x = np.random.default_rng(0).integers(0, 16, (5, 4, 4, 2))
    sim = Simulator(model, seed=0)
    assert np.array_equal(sim.run(x, batch_size=np.int64(2)).output, sim.run(x).output)


def _golden_arrays():
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


def _write(tmp_path, name, arrays, **kwargs):
    path = tmp_path / name
    np.savez(path, **arrays, **kwargs)
    return path


def _npz_cases(tmp_path):
    arrays = _golden_arrays()
    text = tmp_path / "model.npz"
    text.write_text("not an archive")
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.zeros(3))
    pickled = tmp_path / "pickled.npz"
    with open(pickled, "wb") as f:
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(GOLDEN.read_bytes()[:2000])
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    members = tmp_path / "members.npz"
    with zipfile.ZipFile(members, "w") as z:
        z.writestr("spec_json.npy", b"\x93NUMPY garbage")
    no_spec = {k: v for k, v in arrays.items() if k != "spec_json"}
    no_weights = {k: v for k, v in arrays.items() if k != "L1_weights_pw"}
    misshaped = {**arrays, "L2_threshold": np.zeros(3, np.int32)}
    spec = json.loads(str(arrays["spec_json"]))
    return [
        (tmp_path / "missing.npz", ak.SimulationError, ["missing.npz", "cannot read"]),
        (tmp_path, ak.SimulationError, ["not a regular file"]),
        (text, ak.SimulationError, ["model.npz", "not an .npz"]),
        (empty, ak.SimulationError, ["empty.npz", "not an .npz"]),
        (single, ak.SimulationError, ["single.npz", "single .npy"]),
        (pickled, ak.SimulationError, ["pickled.npz"]),
        (truncated, ak.SimulationError, ["truncated.npz"]),
        (members, ak.SimulationError, ["members.npz", "spec_json"]),
        (_write(tmp_path, "objects.npz", {**arrays, "input": np.array([None, 1], dtype=object)}),
         ak.SimulationError, ["objects.npz", "'input'", "pickled"]),
        (_write(tmp_path, "no_spec.npz", no_spec), ak.SimulationError, ["no_spec.npz", "spec_json"]),
        (_write(tmp_path, "bad_json.npz", {**arrays, "spec_json": np.array("{bad")}), ak.SpecError,
         ["bad_json.npz", "JSON"]),
        (_write(tmp_path, "deep.npz", {**arrays, "spec_json": np.array("[" * 100_000)}), ak.SpecError,
         ["deep.npz", "JSON"]),
        (_write(tmp_path, "list.npz", {**arrays, "spec_json": np.array("[1, 2]")}), ak.SpecError,
         ["list.npz", "JSON object"]),
        (_write(tmp_path, "number.npz", {**arrays, "spec_json": np.arange(3)}), ak.SpecError,
         ["number.npz", "JSON string"]),
        (_write(tmp_path, "bad_spec.npz", {**arrays, "spec_json": np.array(json.dumps({**spec, "layers": 5}))}),
         ak.SpecError, ["bad_spec.npz"]),
        (_write(tmp_path, "no_weights.npz", no_weights), ak.SimulationError,
         ["no_weights.npz", "L1_weights_pw", "missing"]),
        (_write(tmp_path, "misshaped.npz", misshaped), ak.SimulationError,
         ["misshaped.npz", "L2_threshold", "shape"]),
        (_write(tmp_path, "stray.npz", {**arrays, "L0_weights_pw": np.zeros((1, 1, 1, 1), np.int8)}),
         ak.SimulationError, ["stray.npz", "L0_weights_pw", "takes weights, threshold, act_step"]),
        (_write(tmp_path, "beyond.npz", {**arrays, "L99_threshold": np.zeros(3, np.int32)}),
         ak.SimulationError, ["beyond.npz", "L99_threshold", "the model has 6 layers"]),
    ]


def test_from_npz_keeps_arrays_that_are_not_variables(tmp_path):
    """A stored run and the user's own arrays are the file's rest, never refused, never dropped."""
    arrays = dict(np.load(GOLDEN, allow_pickle=False))
    path = _write(tmp_path, "extra.npz", {**arrays, "labels": np.arange(3), "L0_note": np.array("mine")})
    sim = Simulator.from_npz(path)
    assert np.array_equal(sim.reference["labels"], np.arange(3)) and str(sim.reference["L0_note"]) == "mine"


def test_from_npz_refuses_what_is_not_a_simulator_file(tmp_path):
    for path, error, words in _npz_cases(tmp_path):
        with pytest.raises(error) as err:
            Simulator.from_npz(path)
        assert_one_line(err.value, *words)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_from_npz_refuses_a_fifo_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(ak.SimulationError, match="not a regular file"):
        Simulator.from_npz(fifo)


@pytest.mark.parametrize("path", [None, 5, ["a.npz"]])
def test_from_npz_wants_a_path(path):
    with pytest.raises(ak.SimulationError) as err:
        Simulator.from_npz(path)
    assert err.value.variable == "path"


def test_from_npz_refuses_arrays_beyond_the_memory_budget(tmp_path, monkeypatch):
    from akida_nb.sim import simulator

    monkeypatch.setattr(simulator, "MEMORY_BUDGET", 1000)
    with pytest.raises(ak.SimulationError, match="bytes"):
        Simulator.from_npz(GOLDEN)


def test_from_npz_still_loads_a_good_file_as_str_or_path():
    assert repr(Simulator.from_npz(str(GOLDEN))) == repr(Simulator.from_npz(GOLDEN))
