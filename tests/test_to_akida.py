"""The bridge to BrainChip's akida, both ways, against akida itself (tests marked ``akida``).

Random ``akida.Model`` objects are built with akida's own v1 layer API over every layer option
(InputData or InputConvolutional first; Convolutional, SeparableConvolutional, FullyConnected;
same/valid padding; no, max and global average pooling; strides; weight, activation and input bits;
padding values; a last layer without activation), given random variables with ``layer.set_variable``,
and run by akida's software engine: ``ak.Simulator(ak.from_akida(m))`` must give the same outputs bit
for bit, and ``to_akida`` must give the same model back. The packaged examples (and what ``ak.fix``
makes of them) that pass ``ak.check(…, "akd1000")`` must map on ``akida.AKD1000()`` with
``hw_only=True``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import akida_nb as ak
from akida_nb import ModelImportError
from akida_nb.sim.kernels import weight_range
from akida_nb.sim.variables import attach_variables

AKIDA_REASON = 'needs BrainChip\'s akida package (pip install "akida_nb[akida]")'
SEEDS = range(40)


@pytest.fixture(scope="module")
def akida() -> Any:
    return pytest.importorskip("akida", reason=AKIDA_REASON)


def _pair(rng: np.random.Generator, values: list[int]) -> tuple[int, int]:
    return int(rng.choice(values)), int(rng.choice(values))


def _spatial_options(akida: Any, rng: np.random.Generator) -> dict[str, Any]:
    pool = rng.choice(["none", "max", "average"], p=[0.5, 0.35, 0.15])
    options: dict[str, Any] = dict(kernel_size=_pair(rng, [1, 3, 5]), kernel_stride=_pair(rng, [1, 1, 2, 3]),
                                   padding=akida.Padding.Same if rng.random() < 0.6 else akida.Padding.Valid)
    if pool == "max":
        size = _pair(rng, [1, 2, 3])
        stride = (-1, -1) if rng.random() < 0.4 else _pair(rng, [1, 2, 3])
        options.update(pool_type=akida.PoolType.Max, pool_size=size, pool_stride=stride)
    elif pool == "average":
        options.update(pool_type=akida.PoolType.Average)
    return options


def _akida_layer(akida: Any, rng: np.random.Generator, i: int, last: bool) -> Any:
    kind = rng.choice(["Convolutional", "SeparableConvolutional", "FullyConnected"], p=[0.4, 0.35, 0.25])
    common = dict(name=f"{kind[:3].lower()}_{i}", act_bits=int(rng.choice([1, 2, 4])),
                  activation=not (last and rng.random() < 0.5))
    if kind == "FullyConnected":
        return akida.FullyConnected(units=int(rng.integers(1, 12)), weights_bits=int(rng.choice([1, 2, 4])),
                                    **common)
    return getattr(akida, kind)(filters=int(rng.integers(1, 12)), weights_bits=int(rng.choice([1, 2, 4])),
                                **_spatial_options(akida, rng), **common)


def random_akida_model(akida: Any, seed: int) -> Any:
    """A random akida v1 model (akida's own checks decide what is buildable) with random variables."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        model = akida.Model()
        try:
            shape = (int(rng.integers(3, 14)), int(rng.integers(3, 14)))
            if rng.random() < 0.5:
                channels = int(rng.choice([1, 3]))
                model.add(akida.InputConvolutional(
                    input_shape=(*shape, channels), filters=int(rng.integers(1, 12)), name="conv_in",
                    weights_bits=int(rng.choice([1, 2, 4, 8])), act_bits=int(rng.choice([1, 2, 4])),
                    padding_value=int(rng.integers(0, 256)), **_spatial_options(akida, rng)))
            else:
                model.add(akida.InputData(input_shape=(*shape, int(rng.integers(1, 9))),
                                          input_bits=int(rng.choice([1, 2, 4, 8])), name="input"))
            n = int(rng.integers(1, 4))
            for i in range(n):
                model.add(_akida_layer(akida, rng, i, last=i == n - 1))
        except (ValueError, RuntimeError):  # akida refuses these options (shapes, bits): draw again
            continue
        break
    else:
        raise AssertionError(f"seed {seed}: no buildable model in 100 draws")
    for layer in model.layers:
        names = layer.get_variable_names()
        if not names:
            continue
        fan_in = 0
        for key in ("weights", "weights_pw"):
            if key in names:
                shape = layer.get_variable(key).shape
                lo, hi = weight_range(int(layer.parameters.weights_bits))
                layer.set_variable(key, rng.integers(lo, hi + 1, shape).astype(np.int8))
                fan_in = max(fan_in, int(np.prod(shape[:-1])))
        f = layer.get_variable("threshold").shape
        scale = max(1, fan_in * (1 << int(layer.input_bits)) // 8)
        layer.set_variable("threshold", rng.integers(-scale // 4, scale, f).astype(np.int32))
        layer.set_variable("act_step", np.float32(rng.uniform(1 / 16, scale / 4 + 1, f)).astype(np.float32))
    return model


def random_input(model: ak.Model, rng: np.random.Generator, n: int = 6) -> np.ndarray:
    return rng.integers(0, 1 << model.input_bits, (n, *model.input_shape), dtype=np.uint8)


def same_variables(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(
        sorted(x) == sorted(y) and all(np.array_equal(x[k], y[k]) and x[k].dtype == y[k].dtype for k in x)
        for x, y in zip(a, b))


@pytest.mark.akida
@pytest.mark.parametrize("seed", SEEDS)
def test_simulator_of_from_akida_equals_akida_forward(akida: Any, seed: int) -> None:
    akm = random_akida_model(akida, seed)
    model = ak.from_akida(akm, name=f"random_{seed}")
    assert model.variables is not None
    x = random_input(model, np.random.default_rng(seed))
    out = ak.Simulator(model).run(x, keep="output")
    expected = akm.forward(x)
    assert out.output.dtype == expected.dtype and np.array_equal(out.output, expected)
    if not model.layers[-1].activation:
        assert out.predict is not None and np.array_equal(out.predict, akm.predict(x))
    # ... and back: to_akida gives the same model, the same variables, the same outputs
    again = ak.to_akida(model)
    back = ak.from_akida(again, name=model.name)
    assert back == model and same_variables(back.variables, model.variables)
    assert np.array_equal(again.forward(x), expected)


@pytest.mark.akida
def test_random_models_cover_every_option_and_produce_events(akida: Any) -> None:
    """The random models above are not trivial: they span the options and their outputs vary."""
    seen: set[Any] = set()
    varied = 0
    for seed in SEEDS:
        akm = random_akida_model(akida, seed)
        model = ak.from_akida(akm)
        for layer in model.layers:
            seen |= {layer.type, f"pool {layer.pool_type}", f"padding {layer.padding}", f"w{layer.weights_bits}",
                     f"act {layer.activation}"}
        seen.add(f"first {akm.layers[0].parameters.layer_type}")
        out = akm.forward(random_input(model, np.random.default_rng(seed)))
        varied += len(np.unique(out)) > 1
    expected = {"InputConvolutional", "Convolutional", "SeparableConvolutional", "FullyConnected", "pool max",
                "pool average", "pool none", "padding same", "padding valid", "w1", "w2", "w4", "w8", "act True",
                "act False"}
    assert expected <= seen
    assert varied >= len(SEEDS) * 3 // 4


def _mappable(name: str) -> list[tuple[str, ak.Model]]:
    """The example as it is and as ``ak.fix`` makes it for akd1000 and nsoc_v1, each where it passes akd1000."""
    m = ak.example(name)
    v = ak.Simulator(m, seed=0)
    out = [("as is", attach_variables(m, v))] if ak.check(m, "akd1000").ok else []
    for target in ("akd1000", "nsoc_v1"):
        res = ak.fix(m, target, variables=v)
        if res.applied and ak.check(res.model, "akd1000").ok:
            out.append((f"ak.fix(…, {target!r}): {', '.join(res.applied)}", res.model))
    return out


@pytest.mark.akida
@pytest.mark.slow
@pytest.mark.parametrize("name", list(ak.examples()))
def test_examples_and_their_fixes_map_on_akd1000(akida: Any, name: str) -> None:
    candidates = _mappable(name)
    if not candidates:
        assert name == "broken"  # its conv_pool's 3×3 pool stays (no fix for conv.pool_size)
        return
    rng = np.random.default_rng(0)
    for how, model in candidates:
        assert model.variables is not None, how
        akm = ak.to_akida(model)
        x = random_input(model, rng, n=2)
        assert np.array_equal(akm.forward(x), ak.Simulator(model).run(x, keep="output").output), how
        akm.map(akida.AKD1000(), hw_only=True)
        assert akm.sequences and all(s.backend == akida.BackendType.Hardware for s in akm.sequences), how


@pytest.mark.akida
def test_fixed_examples_reach_the_mapper(akida: Any) -> None:
    """The test above maps fixed models too, not only the examples that pass akd1000 as they are."""
    fixed = [how for name in ak.examples() for how, _ in _mappable(name) if how != "as is"]
    assert len(fixed) >= 7 and any("input_conv_to_conv" in how and "split_maxpool" in how for how in fixed)


CONVERTED = sorted((Path(__file__).parent / "data").rglob("*.fbz"))
"""``.fbz`` files made once by cnn2snn (issue 12: CI has akida but not cnn2snn); untrained weights."""


@pytest.mark.akida
def test_converted_fbz_files_import_with_their_variables(akida: Any) -> None:
    """Every converted file under tests/data: bit-exact under the simulator and round-tripping (none: nothing to do)."""
    for path in CONVERTED:
        akm = akida.Model(str(path))
        model = ak.from_akida(akm, name=path.stem)
        x = random_input(model, np.random.default_rng(0), n=8)
        assert np.array_equal(ak.Simulator(model).run(x, keep="output").output, akm.forward(x)), path.name
        back = ak.from_akida(ak.to_akida(model), name=path.stem)
        assert back == model and same_variables(back.variables, model.variables), path.name


@pytest.mark.akida
def test_explicit_variables_win_over_carried_ones(akida: Any) -> None:
    m = ak.example("gxnor_mnist")
    carried = ak.fix(m, "nsoc_v2", variables=ak.Simulator(m, seed=0)).model
    other = ak.Simulator(m, seed=1)
    back = ak.from_akida(ak.to_akida(carried, other), name=m.name)
    assert same_variables(back.variables, other.variables)
    assert not same_variables(back.variables, carried.variables)


@pytest.mark.akida
def test_to_akida_refusals(akida: Any) -> None:
    m = ak.example("gxnor_mnist")
    with pytest.raises(ModelImportError, match=r"carries no variables and none are given: pass variables="):
        ak.to_akida(m)
    spec = {"name": "even", "input": {"shape": [8, 8, 2], "bits": 2},
            "layers": [{"type": "Convolutional", "name": "c", "kernel_size": [2, 2], "filters": 4}]}
    even = ak.Model.from_dict(spec)
    with pytest.raises(ModelImportError, match=r"layer 'c' \(Convolutional\): akida refuses it: .*odd") as info:
        ak.to_akida(even, ak.Simulator(even, seed=0))
    assert "\n" not in str(info.value)
    with pytest.raises(ak.SimulationError, match="expected one mapping per layer"):
        ak.to_akida(m, [{}])


@pytest.mark.skipif(importlib.util.find_spec("akida") is not None, reason="akida is installed")
def test_without_akida_the_error_says_how_to_install_it() -> None:
    m = ak.example("gxnor_mnist")
    for call in (lambda: ak.to_akida(m, ak.Simulator(m, seed=0)), lambda: ak.from_akida(object())):
        with pytest.raises(ModelImportError, match=r'akida package \(pip install "akida_nb\[akida\]"\)'):
            call()
