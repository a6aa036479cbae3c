"""Editing a model and its variables for the fixes: the :class:`Edit` workbench and numeric helpers.

A fix never touches its input. It opens an :class:`Edit` on the model (a fresh copy of
the native-format layer dicts and, when variables are given, of every variable array),
changes layers *by name* (names are unique and survive insertions), records one
:class:`Change` per change, and :meth:`Edit.finish` rebuilds a validated :class:`Model`
and checks that every carried-over variable has the shape the new layer needs.

Numeric helpers (all return new arrays):

- :func:`identity_variables` — the exact identity SeparableConvolutional of Akida's helper;
- :func:`requantize` — weights into a narrower bit width, with the scale that was applied;
- :func:`rescale_activation` — threshold and act_step scaled to follow a potential scale;
- :func:`embed_fc_weights`, :func:`pool_fc_weights` — FullyConnected weights for a
  grown input (zeros at the new border positions) or a globally pooled input.

Examples
--------
>>> import akida_nb as ak
>>> e = Edit(ak.example("ds_cnn_kws"), None, "demo")
>>> e.set("separable_1", "act_bits", 2, exact=False)
>>> model, changes, variables = e.finish()
>>> model.layers[1].act_bits, changes[0].what, variables is None
(2, 'act_bits', True)
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import FixError
from ..model import Layer, Model
from ..present import format_value
from ..sim import variable_shapes
from ..sim.kernels import step_register, weight_range
from ..sim.variables import normalize_variables as validated_variables

__all__ = ["IDENTITY_WEIGHTS_BITS", "Change", "Edit", "Variables", "embed_fc_weights", "identity_layer",
           "identity_variables", "is_identity", "normalize_variables", "pool_fc_weights", "potential_bound",
           "requantize", "rescale_activation"]

Variables = list[dict[str, np.ndarray]]
"""Per layer, the variables in the Simulator's list form (writable copies)."""

IDENTITY_WEIGHTS_BITS = 2
"""Weight bits of an inserted identity SeparableConvolutional (its weights are 0 and 1)."""
_INT32 = (-(1 << 31), (1 << 31) - 1)
_MAX_ACT_STEP = float((1 << 24) - 1)


@dataclass(frozen=True)
class Change:
    """One change a fix made: which fix, which layer, what, from what to what, and whether it is exact.

    ``exact`` is True only when the fix proves that the simulator's outputs stay
    bit-identical for this change; ``note`` says why (or why not).

    Examples
    --------
    >>> Change("clamp_bits", "c1", "weights_bits", "4", "2", False, "weights requantized").exact
    False
    """

    fix: str
    layer: str
    what: str
    before: str
    after: str
    exact: bool
    note: str = ""


def normalize_variables(model: Model, variables) -> Variables | None:
    """Validate variables as the :class:`~akida_nb.sim.Simulator` does and return writable copies.

    Accepts what the Simulator accepts (a list in layer order, a dict keyed by layer
    name) or a Simulator itself; returns the list form with the engine's dtypes.
    Validation is :func:`akida_nb.sim.variables.normalize_variables` (every variable
    of every layer required), so the errors are the Simulator's.

    Raises
    ------
    SimulationError
        Naming the layer and the variable that is missing, misshaped or out of range.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.sim import Simulator
    >>> v = normalize_variables(ak.example("gxnor_mnist"), Simulator(ak.example("gxnor_mnist"), seed=0))
    >>> len(v), v[0]["weights"].flags.writeable
    (5, True)
    """
    if variables is None:
        return None
    checked = validated_variables(model, variables)
    return [{key: np.array(value) for key, value in layer_vars.items()} for layer_vars in checked]


def identity_layer(name: str, channels: int, bits: int, pool: Mapping[str, Any] | None = None) -> dict:
    """The native-format dict of an identity SeparableConvolutional (3×3, stride 1, same padding).

    ``pool`` adds pooling keys (``pool_type``, ``pool_size``, ``pool_stride``).

    Examples
    --------
    >>> identity_layer("id", 8, 4)["kernel_size"], identity_layer("id", 8, 4, {"pool_type": "average"})["pool_type"]
    ([3, 3], 'average')
    """
    layer = {"type": "SeparableConvolutional", "name": name, "kernel_size": [3, 3], "filters": channels,
             "kernel_stride": [1, 1], "padding": "same", "pool_type": "none",
             "weights_bits": IDENTITY_WEIGHTS_BITS, "act_bits": bits, "activation": True}
    layer.update(pool or {})
    return layer


def identity_variables(channels: int, bits: int, positions: int = 1) -> dict[str, np.ndarray]:
    """Variables of the identity SeparableConvolutional of Akida's helper.

    Depthwise 3×3 kernels with centre 1, identity pointwise, threshold 0 and act_step
    ``positions · 2**bits / 16``. With ``positions = 1`` the engine's step register is
    ``2**bits`` and a ``bits``-bit input ``a`` comes out as ``ceil(a · 2**bits / 2**bits) = a``:
    the layer is exact. Under a global average pooling of ``positions`` cells it outputs the
    rounded-up mean of its inputs.

    Examples
    --------
    >>> v = identity_variables(2, 4)
    >>> v["weights"][:, :, 0, 0].tolist(), v["weights_pw"][0, 0].tolist(), v["act_step"].tolist()
    ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], [[1, 0], [0, 1]], [1.0, 1.0])
    """
    dw = np.zeros((3, 3, channels, 1), np.int8)
    dw[1, 1, :, 0] = 1
    return {"weights": dw, "weights_pw": np.eye(channels, dtype=np.int8).reshape(1, 1, channels, channels),
            "threshold": np.zeros(channels, np.int32),
            "act_step": np.full(channels, positions * 2.0 ** bits / 16, np.float32)}


def is_identity(layer: Layer, variables: Mapping[str, np.ndarray] | None = None) -> bool:
    """Whether a layer is (shaped like) the identity SeparableConvolutional of :func:`identity_layer`.

    Without variables only the structure is judged (3×3 SeparableConvolutional, stride 1,
    same padding, as many filters as input channels, act_bits equal to its input bits);
    with variables, the values must be those of :func:`identity_variables` too.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.example("ds_cnn_kws")
    >>> is_identity(m.layers[1]), is_identity(m.layers[1], identity_variables(64, 4))
    (True, True)
    """
    shaped = (layer.type == "SeparableConvolutional" and layer.kernel_size == (3, 3)
              and layer.kernel_stride == (1, 1) and layer.padding == "same" and layer.activation
              and layer.filters == layer.input_shape[2] and layer.act_bits == layer.input_bits)
    if not shaped or variables is None:
        return shaped
    ident = identity_variables(layer.outputs, layer.act_bits)
    return (all(np.array_equal(variables[k], ident[k]) for k in ("weights", "weights_pw", "threshold"))
            and bool(np.all(step_register(variables["act_step"]) == 1 << layer.act_bits)))


def requantize(weights: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """Weights in the range of ``bits`` (docs/design.md#weight-ranges) and the scale that was applied.

    Weights already in range come back unchanged with scale 1 (the change is exact);
    otherwise they are scaled by ``hi / max|w|``, rounded and clipped (negative weights
    clip to 0 for 1-bit weights).

    Examples
    --------
    >>> w, s = requantize(np.array([-100, 50, 7], np.int8), 2)
    >>> w.tolist(), s
    ([-1, 0, 0], 0.01)
    >>> requantize(np.array([1, 0, -1], np.int8), 2)[1]
    1.0
    """
    lo, hi = weight_range(bits)
    w = np.asarray(weights, dtype=np.int64)
    if w.size == 0 or (w.min() >= lo and w.max() <= hi):
        return w.astype(np.int8), 1.0
    top = int(np.abs(w).max())
    scale = hi / top if top > hi else 1.0
    return np.clip(np.rint(w * scale), lo, hi).astype(np.int8), scale


def rescale_activation(layer_vars: Mapping[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    """A layer's variables with threshold and act_step multiplied by ``factor`` (rounded, in range).

    When a layer's potentials scale by ``factor``, scaling its threshold and step alike
    keeps its activation approximately where it was.

    Examples
    --------
    >>> v = rescale_activation({"threshold": np.array([10], np.int32), "act_step": np.array([2.0], np.float32)}, 0.25)
    >>> v["threshold"].tolist(), v["act_step"].tolist()
    ([2], [0.5])
    """
    out = dict(layer_vars)
    if factor == 1:
        return out
    out["threshold"] = np.clip(np.rint(layer_vars["threshold"].astype(np.float64) * factor), *_INT32).astype(np.int32)
    out["act_step"] = np.clip(layer_vars["act_step"].astype(np.float64) * factor, 1 / 16,
                              _MAX_ACT_STEP).astype(np.float32)
    return out


def embed_fc_weights(weights: np.ndarray, old: tuple[int, int, int], new: tuple[int, int, int]) -> np.ndarray:
    """FullyConnected weights for an input grown from ``old`` to ``new`` (same channels).

    The old (d0, d1) grid sits centred in the new one (offset ``(new − old) // 2`` per axis,
    which is where "same" padding puts a "valid" output); the new positions get zero
    weights. Indices follow the engine's Fortran-order flatten (docs/design.md#fully-connected-layers).

    Examples
    --------
    >>> w = np.arange(1, 3, dtype=np.int8).reshape(1, 1, 2, 1)   # input 1×2×1
    >>> embed_fc_weights(w, (1, 2, 1), (3, 4, 1)).ravel().tolist()
    [0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0]
    """
    (d0, d1, c), (e0, e1, c2) = old, new
    if c2 != c or e0 < d0 or e1 < d1:
        raise ValueError(f"cannot embed a {old} input into {new}")
    units = weights.shape[-1]
    o0, o1 = (e0 - d0) // 2, (e1 - d1) // 2
    grid = np.zeros((c, e1, e0, units), weights.dtype)
    grid[:, o1:o1 + d1, o0:o0 + d0] = weights.reshape(c, d1, d0, units)
    return grid.reshape(1, 1, e0 * e1 * c, units)


def pool_fc_weights(weights: np.ndarray, old: tuple[int, int, int], bits: int) -> tuple[np.ndarray, float]:
    """FullyConnected weights for a globally pooled input: the sum over positions, requantized.

    Returns the ``(1, 1, C, U)`` weights and the scale :func:`requantize` applied.

    Examples
    --------
    >>> w = np.ones((1, 1, 2 * 2 * 1, 3), np.int8)                 # a 2×2×1 input, 3 units
    >>> new, scale = pool_fc_weights(w, (2, 2, 1), 4)
    >>> new.shape, new.ravel().tolist(), scale
    ((1, 1, 1, 3), [4, 4, 4], 1.0)
    """
    d0, d1, c = old
    units = weights.shape[-1]
    summed = weights.astype(np.int64).reshape(c, d0 * d1, units).sum(axis=1)
    new, scale = requantize(summed, bits)
    return new.reshape(1, 1, c, units), scale


def potential_bound(layer: Layer, layer_vars: Mapping[str, np.ndarray]) -> int:
    """Largest ``|potential|`` of a layer's convolution for inputs in ``[0, 2**input_bits − 1]``.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.example("ds_cnn_kws")
    >>> potential_bound(m.layers[1], identity_variables(64, 4))
    15
    """
    x_max = (1 << layer.input_bits) - 1
    w = np.abs(np.asarray(layer_vars["weights"], dtype=np.int64))
    if layer.type == "SeparableConvolutional":
        dw = w[..., 0].reshape(-1, w.shape[2]).sum(axis=0)                 # per channel
        pw = np.abs(np.asarray(layer_vars["weights_pw"], dtype=np.int64))[0, 0]
        return int((dw[:, None] * pw).sum(axis=0).max(initial=0)) * x_max
    return int(w.reshape(-1, w.shape[-1]).sum(axis=0).max(initial=0)) * x_max


class Edit:
    """A workbench for one fix: copies of the layers and variables, changed by layer name.

    Parameters
    ----------
    model : Model
        Left untouched.
    variables : list of dict or None
        As returned by :func:`normalize_variables` (copied again here).
    fix : str
        The fix's name, written into every :class:`Change`.

    Examples
    --------
    >>> import akida_nb as ak
    >>> e = Edit(ak.example("vgg_utk_face"), None, "demo")
    >>> e.insert_after("conv_1", identity_layer(e.fresh_name("conv_1_identity"), 32, 2), None,
    ...                exact=True, note="identity")
    >>> [l.name for l in e.finish()[0].layers][:3]
    ['conv_0', 'conv_1', 'conv_1_identity']
    """

    def __init__(self, model: Model, variables: Sequence[Mapping[str, np.ndarray]] | None, fix: str):
        self.original = model
        self.fix = fix
        spec = model.to_dict()
        self.name = spec["name"]
        self.input = spec["input"]
        self.layers: list[dict] = spec["layers"]
        self.variables: Variables | None = (None if variables is None
                                            else [{k: np.array(a) for k, a in v.items()} for v in variables])
        self.changes: list[Change] = []
        self._taken = {layer["name"] for layer in self.layers}

    # ------------------------------------------------------------------ lookups
    def index(self, name: str) -> int:
        """Current index of the layer called ``name``."""
        for i, layer in enumerate(self.layers):
            if layer["name"] == name:
                return i
        raise FixError(self.fix, f"internal: no layer {name!r} in the model being edited")

    def layer(self, name: str) -> dict:
        """The (mutable copy of the) layer dict called ``name``."""
        return self.layers[self.index(name)]

    def vars(self, name: str) -> dict[str, np.ndarray] | None:
        """The variables of layer ``name`` (``None`` when the fix runs without variables)."""
        return None if self.variables is None else self.variables[self.index(name)]

    def fresh_name(self, base: str) -> str:
        """``base``, or ``base_2``, ``base_3`` … whichever no layer uses yet (reserved at once).

        Examples
        --------
        >>> import akida_nb as ak
        >>> e = Edit(ak.example("ds_cnn_kws"), None, "demo")
        >>> e.fresh_name("conv_0"), e.fresh_name("conv_0"), e.fresh_name("extra")
        ('conv_0_2', 'conv_0_3', 'extra')
        """
        name, k = base, 2
        while name in self._taken:
            name, k = f"{base}_{k}", k + 1
        self._taken.add(name)
        return name

    # ------------------------------------------------------------------ changes
    def record(self, layer: str, what: str, before: Any, after: Any, *, exact: bool, note: str = "") -> None:
        """Add one :class:`Change` row (values are shown as the tables show them)."""
        self.changes.append(Change(self.fix, layer, what, _show(before), _show(after), bool(exact), note))

    def set(self, name: str, key: str, value: Any, *, exact: bool, note: str = "") -> None:
        """Set one field of layer ``name`` and record the change."""
        layer = self.layer(name)
        before = layer.get(key)
        layer[key] = list(value) if isinstance(value, tuple) else value
        self.record(name, key, before, value, exact=exact, note=note)

    def set_vars(self, name: str, layer_vars: Mapping[str, np.ndarray]) -> None:
        """Replace the variables of layer ``name`` (ignored when the fix runs without variables)."""
        if self.variables is not None:
            self.variables[self.index(name)] = dict(layer_vars)

    def set_input_bits(self, bits: int, *, exact: bool, note: str = "") -> None:
        """Change the model input's bit width and record it (layer shown as ``input``)."""
        before = self.input["bits"]
        self.input["bits"] = bits
        self.record("input", "input bits", before, bits, exact=exact, note=note)

    def insert_after(self, name: str | None, layer: dict, layer_vars: Mapping[str, np.ndarray] | None, *,
                     exact: bool, note: str) -> None:
        """Insert ``layer`` right after layer ``name`` (``name=None``: first) and record it."""
        at = 0 if name is None else self.index(name) + 1
        if self.variables is not None:
            if layer_vars is None:
                raise FixError(self.fix, f"internal: no variables for the inserted layer {layer['name']!r}")
            self.variables.insert(at, dict(layer_vars))
        self.layers.insert(at, layer)
        self.record(layer["name"], "inserted layer", "", _describe(layer), exact=exact, note=note)

    def insert_before(self, name: str, layer: dict, layer_vars: Mapping[str, np.ndarray] | None, *,
                      exact: bool, note: str) -> None:
        """Insert ``layer`` right before layer ``name`` and record it."""
        at = self.index(name)
        self.insert_after(self.layers[at - 1]["name"] if at else None, layer, layer_vars, exact=exact, note=note)

    # ------------------------------------------------------------------ result
    def finish(self) -> tuple[Model, list[Change], Variables | None]:
        """The new model (validated, shapes re-inferred), the change rows and the new variables.

        FullyConnected weights whose input grew (a layer before them gained "same"
        padding) are embedded with :func:`embed_fc_weights`; any other variable whose
        shape no longer fits is a bug of the fix and raises :class:`FixError`.

        Examples
        --------
        >>> import akida_nb as ak
        >>> from akida_nb.sim import Simulator
        >>> m = ak.Model.from_dict({"input": {"shape": [4, 4, 1], "bits": 2}, "layers": [
        ...     {"type": "Convolutional", "kernel_size": 3, "filters": 2, "padding": "valid", "act_bits": 2},
        ...     {"type": "FullyConnected", "units": 1, "activation": False}]})
        >>> e = Edit(m, Simulator(m, seed=0).variables, "demo")
        >>> e.set("L0_Convolutional", "padding", "same", exact=True)
        >>> new, _, v = e.finish()
        >>> v[1]["weights"].shape                      # 2×2×2 inputs grew to 4×4×2
        (1, 1, 32, 1)
        """
        model = replace(Model.from_dict({"name": self.name, "input": self.input, "layers": self.layers},
                                        source=self.original.source), unmapped=self.original.unmapped)
        if self.variables is None:
            return model, self.changes, None
        for layer, layer_vars in zip(model.layers, self.variables):
            for key, shape in variable_shapes(layer).items():
                have = layer_vars[key].shape
                if have == shape:
                    continue
                old = self._old_input_shape(layer, have)
                if layer.type != "FullyConnected" or key != "weights" or old is None:
                    raise FixError(self.fix, f"internal: variable {key} of layer {layer.name!r} has shape "
                                             f"{have}, the new layer needs {shape}")
                layer_vars[key] = embed_fc_weights(layer_vars[key], old, layer.input_shape)
        return model, self.changes, self.variables

    def _old_input_shape(self, layer: Layer, have: tuple[int, ...]) -> tuple[int, int, int] | None:
        for old in self.original.layers:
            if old.name == layer.name and old.type == "FullyConnected" and old.input_shape != layer.input_shape:
                d0, d1, c = old.input_shape
                e0, e1, c2 = layer.input_shape
                if have[2] == d0 * d1 * c and c2 == c and e0 >= d0 and e1 >= d1:
                    return old.input_shape
        return None


def _show(value: Any) -> str:
    if value is None:
        return ""
    return format_value(tuple(value) if isinstance(value, list) else value)


def _describe(layer: Mapping[str, Any]) -> str:
    """A short description of a layer dict: ``SeparableConvolutional 3×3 ×16, max 2×2/2×2, a4``."""
    text = f"{layer['type']} {_show(layer['kernel_size'])} ×{layer['filters']}"
    if layer.get("pool_type") == "max":
        text += f", max {_show(layer['pool_size'])}/{_show(layer.get('pool_stride', layer['pool_size']))}"
    elif layer.get("pool_type") == "average":
        text += ", global average"
    return text + f", a{layer['act_bits']}"
