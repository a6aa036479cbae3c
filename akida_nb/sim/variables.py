"""The one validator of layer variables, shared by :func:`~akida_nb.check`, :func:`~akida_nb.fix` and the Simulator.

Variables are what the engine stores per layer: ``weights`` (and ``weights_pw`` for a
SeparableConvolutional layer) as integers within the layer's weight range, ``threshold``
as int32 and ``act_step`` as float32 values of at least 1/16, in engine layouts (see
:func:`variable_shapes`). They are given as a list in layer order, a dict keyed by layer
name, or a :class:`~akida_nb.Simulator` (its validated variables).

Every entry point validates through :func:`normalize_variables`, so the same bad input
gives the same :class:`~akida_nb.SimulationError` (naming the layer and the variable)
whether it reaches :func:`~akida_nb.check`, :func:`~akida_nb.fix` or the Simulator. The
Simulator needs every variable of every layer (``complete=True``); ``check`` also accepts
a part of them (``complete=False``: the ranges it judges are those of the variables given).

This module lives in :mod:`akida_nb.sim` because it uses the engine's arithmetic facts of
:mod:`akida_nb.sim.kernels` (weight ranges, the step register, potential bounds).

Examples
--------
>>> import numpy as np
>>> import akida_nb as ak
>>> m = ak.example("gxnor_mnist")
>>> normalize_variables(m, [{"thresholds": np.zeros(32, np.int32)}] + [{}] * 4,
...                     complete=False)  # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
akida_nb.errors.SimulationError: layer 'block_1/conv_1', thresholds: unknown variable for a InputConvolutional layer
    (expected: weights, threshold, act_step)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import SimulationError, brief, one_line
from ..model import Layer, Model
from .kernels import step_register, sum_bound, weight_range

__all__ = [
    "MIN_ACT_STEP",
    "VARIABLE_KEYS",
    "attach_variables",
    "by_layer",
    "layer_variables",
    "normalize_variables",
    "potential_bound",
    "variable_ranges",
    "variable_shapes",
]

MIN_ACT_STEP = 1 / 16
"""Smallest act_step the engine accepts (its step register holds act_step·16)."""
_ACTIVATION_KEYS = ("threshold", "act_step")
VARIABLE_KEYS = {
    "InputConvolutional": ("weights",) + _ACTIVATION_KEYS,
    "Convolutional": ("weights",) + _ACTIVATION_KEYS,
    "SeparableConvolutional": ("weights", "weights_pw") + _ACTIVATION_KEYS,
    "FullyConnected": ("weights",) + _ACTIVATION_KEYS,
}
"""The variables of each layer type, in the order the engine lists them."""
_INT32 = (-(1 << 31), (1 << 31) - 1)


def variable_shapes(layer: Layer) -> dict[str, tuple[int, ...]]:
    """The variables a layer needs and their shapes (engine layouts).

    Examples
    --------
    >>> import akida_nb as ak
    >>> variable_shapes(ak.example("ds_cnn_kws").layers[1])
    {'weights': (3, 3, 64, 1), 'weights_pw': (1, 1, 64, 64), 'threshold': (64,), 'act_step': (64,)}
    """
    d0, d1, c = layer.input_shape
    f = layer.outputs
    shapes: dict[str, tuple[int, ...]]
    if layer.type == "FullyConnected":
        shapes = {"weights": (1, 1, d0 * d1 * c, f)}
    elif layer.type == "SeparableConvolutional":
        shapes = {"weights": (*layer.geometry()[0], c, 1), "weights_pw": (1, 1, c, f)}
    else:
        shapes = {"weights": (*layer.geometry()[0], c, f)}
    return {**shapes, "threshold": (f,), "act_step": (f,)}


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _array(value: Any, layer: Layer, name: str, shape: tuple[int, ...], kinds: str, what: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:  # ragged lists and objects numpy cannot hold
        raise SimulationError(layer.name, name, f"expected {what}, got {one_line(str(e), 80)}") from None
    if arr.dtype.kind == "b":  # True/False are not numbers here, even for 1-bit weights (the engine takes int8)
        raise SimulationError(layer.name, name, f"expected {what}, got dtype bool: pass .astype(np.int8) "
                                                "if the 0/1 values are meant")
    if arr.dtype.kind not in kinds:
        raise SimulationError(layer.name, name, f"expected {what}, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise SimulationError(layer.name, name, f"expected shape {brief(shape)}, got {brief(arr.shape)}")
    return arr


def _integers(value: Any, layer: Layer, name: str, shape: tuple[int, ...], lo: int, hi: int,
              dtype: type) -> np.ndarray:
    arr = _array(value, layer, name, shape, "iu", "an integer array")
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise SimulationError(layer.name, name,
                              f"values must be in [{lo}, {hi}], got [{int(arr.min())}, {int(arr.max())}]")
    return _frozen(arr.astype(dtype))


def _act_step(value: Any, layer: Layer, shape: tuple[int, ...]) -> np.ndarray:
    name = "act_step"
    arr = _array(value, layer, name, shape, "iuf", "a real array")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise SimulationError(layer.name, name, "values must be finite")
    if arr.dtype.kind != "f" and arr.size and int(np.abs(arr.astype(np.int64)).max()) >= 1 << 24:
        raise SimulationError(layer.name, name, "integer values from 2**24 on are not exact in float32")
    step = arr.astype(np.float32)
    if arr.dtype.kind == "f" and not np.array_equal(step.astype(arr.dtype), arr):
        raise SimulationError(layer.name, name,
                              "values are not exactly representable in float32 (the engine's type); "
                              "pass np.float32 values")
    if arr.size and float(step.min()) < MIN_ACT_STEP:
        raise SimulationError(layer.name, name, f"values must be >= 1/16, got {float(step.min())}")
    if not step_register(step).all():
        raise SimulationError(layer.name, name,
                              "act_step·16 is a multiple of 2**28, which leaves the engine's step at 0")
    return _frozen(step)


def potential_bound(layer: Layer, variables: Mapping[str, np.ndarray]) -> int:
    """Largest ``|potential|`` the layer's weights can produce on its inputs (0 without weights).

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.sim import Simulator
    >>> m = ak.example("gxnor_mnist")
    >>> 0 < potential_bound(m.layers[0], Simulator(m, seed=0).variables[0]) < 2**31
    True
    """
    if "weights" not in variables:
        return 0
    x_max = (1 << layer.input_bits) - 1
    weights = variables["weights"]
    if layer.type == "SeparableConvolutional":  # the depthwise sums, then the pointwise ones
        per_channel = np.abs(weights[..., 0].astype(np.int64)).sum(axis=(0, 1))
        bound = sum_bound(per_channel[None], x_max)
        if "weights_pw" in variables:
            pointwise = per_channel[:, None] * np.abs(variables["weights_pw"][0, 0].astype(np.int64))
            bound = max(bound, sum_bound(pointwise, x_max))
        return bound
    return sum_bound(weights, x_max)


def layer_variables(layer: Layer, raw: Any, *, complete: bool = True) -> dict[str, np.ndarray]:
    """One layer's variables, validated, as read-only arrays of the engine's dtypes.

    Checks the keys known for the layer type, every shape, integer dtypes (int8 weights,
    int32 threshold), the value ranges (the weight range of ``weights_bits``, act_step
    at least 1/16 and exact in float32), the layer's ``padding_value`` and that its
    potentials stay within int32.

    Parameters
    ----------
    layer : Layer
        A layer of a :class:`~akida_nb.Model`.
    raw : Mapping
        Variable name → array-like.
    complete : bool
        Require every variable of the layer (the Simulator does); otherwise validate
        those given.

    Raises
    ------
    SimulationError
        Naming the layer and the variable.

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> layer = ak.example("gxnor_mnist").layers[-1]
    >>> layer_variables(layer, {"threshold": np.zeros(10, np.int64)}, complete=False)["threshold"].dtype
    dtype('int32')
    """
    if not isinstance(raw, Mapping):
        raise SimulationError(layer.name, None, f"variables must be a mapping of variable name → array, "
                                                f"got {type(raw).__name__}")
    shapes = variable_shapes(layer)
    for key in raw:
        if key not in shapes:
            raise SimulationError(layer.name, one_line(str(key), 40),
                                  f"unknown variable for a {layer.type} layer (expected: {', '.join(shapes)})")
    if complete:
        for key in shapes:
            if key not in raw:
                raise SimulationError(layer.name, key, "missing")
    lo, hi = weight_range(layer.weights_bits)
    v = {key: _integers(raw[key], layer, key, shapes[key], lo, hi, np.int8)
         for key in ("weights", "weights_pw") if key in raw}
    if "threshold" in raw:
        v["threshold"] = _integers(raw["threshold"], layer, "threshold", shapes["threshold"], *_INT32, np.int32)
    if "act_step" in raw:
        v["act_step"] = _act_step(raw["act_step"], layer, shapes["act_step"])
    x_max = (1 << layer.input_bits) - 1
    if layer.padding_value is not None and not 0 <= layer.padding_value <= x_max:
        raise SimulationError(layer.name, "padding_value",
                              f"must be an input value in [0, {x_max}], got {brief(layer.padding_value)}")
    bound = potential_bound(layer, v)
    if bound > _INT32[1]:
        raise SimulationError(layer.name, "weights",
                              f"potentials can reach {bound} (Σ|weights| · {x_max}), beyond the engine's "
                              "int32: this model is outside what the engine defines")
    return v


def _is_simulator(obj: Any) -> bool:
    return (not isinstance(obj, (Mapping, Sequence)) and isinstance(getattr(obj, "model", None), Model)
            and hasattr(obj, "variables"))


def by_layer(model: Model, variables: Any, *, complete: bool = True) -> list[Mapping[str, Any]]:
    """The variables as one mapping per layer, in layer order (not yet validated).

    Accepts a list in layer order, a dict keyed by layer name (with ``complete=False``,
    layers may be left out) or a Simulator (its variables).

    Raises
    ------
    SimulationError
        For a list of the wrong length, an unknown layer name, a missing layer, or
        anything else.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.example("gxnor_mnist")
    >>> len(by_layer(m, {"fc_1": {}}, complete=False))
    5
    >>> by_layer(m, [{}])
    Traceback (most recent call last):
    ...
    akida_nb.errors.SimulationError: variables: expected one mapping per layer (5 per-layer dicts), got 1
    """
    if _is_simulator(variables):
        variables = variables.variables
    names = [layer.name for layer in model.layers]
    if isinstance(variables, Mapping):
        for key in variables:
            if key not in names:
                shown = one_line(", ".join(names), 200)
                raise SimulationError(one_line(str(key), 60), None,
                                      f"no layers named {brief(key)} (layers: {shown})")
        if complete:
            for name in names:
                if name not in variables:
                    raise SimulationError(name, None, "no variables given for this layer")
        return [variables.get(name, {}) for name in names]
    if isinstance(variables, (str, bytes)) or not isinstance(variables, Sequence):
        raise SimulationError(None, "variables", "expected a list of per-layer dicts, a dict keyed by layer name "
                                                 f"or a Simulator, got {type(variables).__name__}")
    if len(variables) != len(names):
        raise SimulationError(None, "variables", f"expected one mapping per layer ({len(names)} per-layer dicts), "
                                                 f"got {len(variables)}")
    return list(variables)


def normalize_variables(model: Model, variables: Any, *, complete: bool = True) -> list[dict[str, np.ndarray]]:
    """Validate variables for ``model``: per layer, read-only arrays of the engine's dtypes.

    The one validator behind ``check(variables=…)``, ``fix(variables=…)`` and the
    Simulator (see the module docstring for what is accepted and checked).

    Parameters
    ----------
    model : Model
    variables : list of dict, dict of dict, or Simulator
    complete : bool
        Require every variable of every layer (the Simulator's and fix's need), or
        validate the part given (``check``'s).

    Raises
    ------
    SimulationError
        Naming the layer and the variable that is unknown, missing, misshaped, of a
        wrong dtype or out of range.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.sim import Simulator
    >>> m = ak.example("gxnor_mnist")
    >>> v = normalize_variables(m, Simulator(m, seed=0))
    >>> len(v), v[0]["weights"].dtype, v[0]["weights"].flags.writeable
    (5, dtype('int8'), False)
    """
    return [layer_variables(layer, raw, complete=complete)
            for layer, raw in zip(model.layers, by_layer(model, variables, complete=complete))]


def variable_ranges(model: Model, variables: Any) -> list[dict[str, tuple[Any, Any]]]:
    """Per layer, ``(min, max)`` of each variable given, after :func:`normalize_variables` (``complete=False``).

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> m = ak.example("gxnor_mnist")
    >>> variable_ranges(m, {"fc_1": {"threshold": np.arange(512)}})[3]
    {'threshold': (0, 511)}
    """
    out = []
    for layer_vars in normalize_variables(model, variables, complete=False):
        out.append({key: (arr.min().item(), arr.max().item()) for key, arr in layer_vars.items() if arr.size})
    return out


def attach_variables(model: Model, variables: Any) -> Model:
    """``model`` carrying ``variables`` (validated, every variable of every layer) as :attr:`Model.variables`.

    ``None`` gives the model without variables. The model's structure is unchanged, so the
    result equals ``model`` (equality is structural).

    Raises
    ------
    SimulationError
        As :func:`normalize_variables` (``complete=True``).

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.sim import Simulator
    >>> m = ak.example("gxnor_mnist")
    >>> carried = attach_variables(m, Simulator(m, seed=0))
    >>> carried == m, m.variables is None, carried.variables[0]["weights"].dtype
    (True, True, dtype('int8'))
    """
    if variables is None:
        return replace(model, variables=None)
    checked = normalize_variables(model, variables, complete=True)
    return replace(model, variables=tuple(_LayerVariables(v) for v in checked))


class _LayerVariables(Mapping[str, np.ndarray]):
    """One layer's carried variables: a read-only mapping of read-only arrays that pickles and copies."""

    __slots__ = ("_arrays",)

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self._arrays = dict(arrays)

    def __getitem__(self, key: str) -> np.ndarray:
        return self._arrays[key]

    def __iter__(self) -> Any:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v.dtype}{list(v.shape)}" for k, v in self._arrays.items()) + "}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_LayerVariables, (self._arrays,))
