"""Variables travel with the model: ``Model.variables``, ``ak.save`` / ``ak.load``, and the hostile npz files.

``ak.save`` writes one ``.npz`` (spec JSON, ``schema_version``, one array per variable) that
``ak.load`` and ``Simulator.from_npz`` read through the same reader; every malformed file gives a
typed one-line error naming the file and the array.
"""
from __future__ import annotations

import copy
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import akida_nb as ak
from akida_nb import SimulationError, SpecError
from akida_nb.sim import simulator
from akida_nb.sim.variables import attach_variables

GOLDEN = Path(__file__).parent / "data" / "golden"


def carried(name: str = "ds_cnn_kws", seed: int = 0) -> ak.Model:
    m = ak.example(name)
    return attach_variables(m, ak.Simulator(m, seed=seed))


def same_variables(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(
        sorted(x) == sorted(y) and all(np.array_equal(x[k], y[k]) and x[k].dtype == y[k].dtype for k in x)
        for x, y in zip(a, b))


def inputs(model: ak.Model, n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1 << model.input_bits, (n, *model.input_shape), dtype=np.uint8)


# ---------------------------------------------------------------- Model.variables


def test_variables_are_not_structure() -> None:
    m, c = ak.example("ds_cnn_kws"), carried()
    assert m.variables is None and c.variables is not None
    assert c == m and hash(c) == hash(m) and c.to_dict() == m.to_dict()
    assert "variables" not in c.to_json() and "weights" not in repr(c)
    assert all(not arr.flags.writeable for layer in c.variables for arr in layer.values())
    with pytest.raises(TypeError):
        c.variables[0]["weights"] = np.zeros(1)  # type: ignore[index]
    for copied in (pickle.loads(pickle.dumps(c)), copy.deepcopy(c)):
        assert copied == c and copied.variables is not None and same_variables(copied.variables, c.variables)
    assert c.replace_layers(c.layers).variables is None


def test_simulator_uses_carried_variables_and_explicit_ones_win() -> None:
    m = ak.example("gxnor_mnist")
    sim1, sim2 = ak.Simulator(m, seed=1), ak.Simulator(m, seed=2)
    c = attach_variables(m, sim1)
    x = inputs(m)
    assert same_variables(ak.Simulator(c).variables, sim1.variables)
    assert not same_variables(ak.Simulator(c, seed=2).variables, sim2.variables)  # a seed draws nothing
    assert same_variables(ak.Simulator(c, sim2.variables).variables, sim2.variables)
    assert np.array_equal(ak.Simulator(c).run(x).output, sim1.run(x).output)
    assert not np.array_equal(sim1.run(x).output, sim2.run(x).output)


def test_check_judges_carried_variables_and_explicit_ones_win() -> None:
    m = ak.example("gxnor_mnist")
    sim = ak.Simulator(m, seed=0)
    bare, c = ak.check(m, "akd1000"), ak.check(attach_variables(m, sim), "akd1000")
    assert any("Not checked (no variables given)" in n for n in bare.notes)
    assert not any("Not checked (no variables given)" in n for n in c.notes)
    assert c.to_dict() == ak.check(m, "akd1000", variables=sim).to_dict() and c.ok
    huge = [dict(v, threshold=np.full_like(v["threshold"], 2**30)) for v in sim.variables]
    explicit = ak.check(attach_variables(m, sim), "akd1000", variables=huge)
    assert explicit.to_dict() == ak.check(m, "akd1000", variables=huge).to_dict()
    assert not explicit.ok and "threshold" in set(explicit.violations["parameter"])


def test_fix_carries_the_variables_through() -> None:
    m = ak.example("gxnor_mnist")
    sim = ak.Simulator(m, seed=0)
    res = ak.fix(attach_variables(m, sim), "nsoc_v1")
    assert res.model.variables is not None and same_variables(res.model.variables, res.variables)
    assert same_variables(ak.fix(m, "nsoc_v1", variables=sim).variables, res.variables)
    other = ak.Simulator(m, seed=3)
    assert same_variables(ak.fix(attach_variables(m, sim), "nsoc_v1", variables=other).variables,
                          ak.fix(m, "nsoc_v1", variables=other).variables)
    assert ak.fix(m, "nsoc_v1").model.variables is None
    exact = ak.fix(attach_variables(m, sim), "nsoc_v2", fixes=["identity_after_maxpool"])
    x = inputs(m)
    assert exact.exact and np.array_equal(ak.Simulator(exact.model).run(x).output, sim.run(x).output)
    assert ak.applicable_fixes(attach_variables(m, sim), "nsoc_v1") == ak.applicable_fixes(m, "nsoc_v1", sim)


# ---------------------------------------------------------------- save / load


@pytest.mark.parametrize("name", ["ds_cnn_kws", "gxnor_mnist", "vgg_utk_face"])
def test_save_load_round_trip_is_exact(tmp_path: Path, name: str) -> None:
    c = carried(name, seed=5)
    path = tmp_path / "model.file"  # written exactly there: no suffix added
    ak.save(c, path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.file"]
    back = ak.load(path)
    assert c.variables is not None and back.variables is not None
    assert back == c and back.name == c.name and same_variables(back.variables, c.variables)
    with np.load(path, allow_pickle=False) as data:
        files = set(data.files)
        assert int(data["schema_version"]) == ak.io.SCHEMA_VERSION
        assert json.loads(str(data["spec_json"])) == c.to_dict()
    assert files == {"spec_json", "schema_version"} | {
        f"L{i}_{k}" for i, layer in enumerate(c.variables) for k in layer}
    sim = ak.Simulator.from_npz(path)
    x = inputs(c)
    assert sim.reference is not None and dict(sim.reference) == {}
    assert np.array_equal(sim.run(x).output, ak.Simulator(c).run(x).output)


def test_save_without_variables_and_explicit_ones_win(tmp_path: Path) -> None:
    m = ak.example("gxnor_mnist")
    ak.save(m, tmp_path / "bare.npz")
    assert ak.load(tmp_path / "bare.npz").variables is None
    with pytest.raises(SimulationError, match=r"layer 'block_1/conv_1', weights: missing \(array L0_weights of"):
        ak.Simulator.from_npz(tmp_path / "bare.npz")
    other = ak.Simulator(m, seed=9)
    ak.save(carried("gxnor_mnist"), tmp_path / "other.npz", variables=other)
    assert same_variables(ak.load(tmp_path / "other.npz").variables, other.variables)


def test_golden_runs_load_as_models_with_variables() -> None:
    path = GOLDEN / "rand101_003.npz"
    model, sim = ak.load(path), ak.Simulator.from_npz(path)
    assert sim.reference is not None
    assert model == sim.model and same_variables(model.variables, sim.variables)
    assert np.array_equal(ak.Simulator(model).run(sim.reference["input"]).output, sim.reference["output"])


def test_save_refusals(tmp_path: Path) -> None:
    m = ak.example("gxnor_mnist")
    with pytest.raises(SpecError, match="expected an akida_nb.Model"):
        ak.save({"layers": []}, tmp_path / "x.npz")  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="cannot write"):
        ak.save(m, tmp_path / "no_such_dir" / "x.npz")
    with pytest.raises(SimulationError, match="expected a file path"):
        ak.save(m, 3)  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="expected one mapping per layer"):
        ak.save(m, tmp_path / "x.npz", variables=[{}])


# ---------------------------------------------------------------- hostile files


def _arrays(model: ak.Model | None = None) -> dict[str, Any]:
    c = model or carried("gxnor_mnist")
    out: dict[str, Any] = {"spec_json": np.array(c.to_json(indent=None)), "schema_version": np.array(1)}
    for i, layer in enumerate(c.variables or ()):
        out.update({f"L{i}_{k}": np.array(v) for k, v in layer.items()})
    return out


def _write(path: Path, arrays: dict[str, Any], objects: bool = False) -> Path:
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=objects, **arrays)
    return path


def _changed(**changes: Any) -> dict[str, Any]:
    arrays = _arrays()
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    return arrays


HOSTILE: dict[str, tuple[dict[str, Any], type[Exception], str]] = {
    "pickled object array": (dict(L0_weights=np.array([{"a": 1}], dtype=object)), SimulationError,
                             r"array 'L0_weights': holds Python objects \(pickled data\), refused"),
    "float weights": (dict(L0_weights=np.zeros((3, 3, 1, 32), np.float32)), SimulationError,
                      r"layer 'block_1/conv_1', weights: expected an integer array, got dtype float32 "
                      r"\(array L0_weights of"),
    "misshaped threshold": (dict(L2_threshold=np.zeros(3, np.int32)), SimulationError,
                            r"threshold: expected shape \(\d+,\), got \(3,\) \(array L2_threshold of"),
    "out-of-range weights": (dict(L4_weights=np.full((1, 1, 512, 10), 100, np.int8)), SimulationError,
                             r"weights: values must be in \[-1, 1\], got \[100, 100\] \(array L4_weights of"),
    "act_step below 1/16": (dict(L1_act_step=np.zeros(64, np.float32)), SimulationError,
                            r"act_step: values must be >= 1/16"),
    "string act_step": (dict(L1_act_step=np.array(["1"] * 64)), SimulationError, r"act_step: expected a real"),
    "missing array": (dict(L3_threshold=None), SimulationError,
                      r"threshold: missing \(array L3_threshold of"),
    "missing spec": (dict(spec_json=None), SimulationError, r"holds no model spec \(array spec_json\)"),
    "spec not JSON": (dict(spec_json=np.array("{nope")), SpecError, r"spec_json: .*not valid JSON"),
    "spec not a string": (dict(spec_json=np.zeros(3)), SpecError, r"expected the model as a JSON string"),
    "spec not a model": (dict(spec_json=np.array('{"input": {"shape": [0, 1, 1]}, "layers": []}')), SpecError,
                         r"input.shape"),
    "newer schema": (dict(schema_version=np.array(2)), SpecError,
                     r"schema_version: .*version 2, this akida_nb reads version 1"),
    "schema not an int": (dict(schema_version=np.array("1")), SpecError, r"schema_version: .*expected an integer"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_npz_files_give_typed_one_line_errors(tmp_path: Path, case: str) -> None:
    changes, error, message = HOSTILE[case]
    path = _write(tmp_path / "hostile.npz", _changed(**changes), objects=case.startswith("pickled"))
    for read in (ak.load, ak.Simulator.from_npz):
        with pytest.raises(error, match=message) as info:
            read(path)
        assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.npz"
    with open(path, "wb") as f:
        np.savez_compressed(f, **_arrays(), L0_extra=np.zeros(64 << 20, np.uint8))  # 64 MiB of zeros
    assert path.stat().st_size < 1 << 20
    monkeypatch.setattr(simulator, "MEMORY_BUDGET", 16 << 20)
    for read in (ak.load, ak.Simulator.from_npz):
        with pytest.raises(SimulationError, match=r"unpacks to 67,[\d,]+ bytes .* more than the 16,777,216 bytes"):
            read(path)


@pytest.mark.parametrize("content, message", [
    (b"not a zip at all", "is not an .npz archive (no zip header)"),
    (b"\x93NUMPY" + b"\0" * 40, "holds a single .npy array, not an .npz archive"),
    (b"PK\x03\x04" + b"\0" * 40, "is not an .npz archive"),
])
def test_files_that_are_not_npz_archives(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(SimulationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ak.load(path)


def test_a_member_that_is_not_an_npy_array(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("spec_json.npy", b"garbage, not an npy header")
    path = tmp_path / "x.npz"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(SimulationError, match=r"array 'spec_json': not a readable .npy array"):
        ak.load(path)
    with pytest.raises(SimulationError, match="is not a regular file"):
        ak.load(tmp_path)
