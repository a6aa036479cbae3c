"""The :class:`Simulator`: runs a :class:`~akida_nb.Model` bit-exactly as Akida's software engine does.

Variables (``weights``, ``weights_pw``, ``threshold``, ``act_step`` per layer) are validated
once; runs are vectorised over the batch and processed in chunks of bounded memory. Every run
returns a :class:`SimulationResult` with the exact potentials and outputs of every layer and
the event counts (non-zero activations) an event-based chip pays for.

Examples
--------
>>> import numpy as np
>>> import akida_nb as ak
>>> from akida_nb.sim import Simulator
>>> sim = Simulator(ak.example("gxnor_mnist"), seed=0)
>>> x = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
>>> out = sim.run(x)
>>> out.output.shape, out.output.dtype, out.events_per_sample.shape
((4, 1, 1, 10), dtype('int32'), (4, 5))
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import SimulationError
from ..model import Layer, Model, fmt_shape
from . import kernels as K

__all__ = ["Simulator", "SimulationResult", "variable_shapes"]

MIN_ACT_STEP = 1 / 16
"""Smallest act_step the engine accepts (its step register holds act_step·16)."""
CHUNK_BYTES = 64 << 20
"""Target size of the largest temporary array of one chunk of a run."""
CALIBRATION_SAMPLES = 2
"""Random inputs used to place the thresholds and steps of seeded random variables."""
CALIBRATION_QUANTILES = (0.7, 0.98)
"""A seeded neuron's threshold sits at the first quantile of its potentials, its top level at the second."""

_INT32 = (-(1 << 31), (1 << 31) - 1)


def variable_shapes(layer: Layer) -> dict[str, tuple[int, ...]]:
    """The variables a layer needs and their shapes (engine layouts, docs/design.md#simulator-arithmetic).

    Examples
    --------
    >>> import akida_nb as ak
    >>> variable_shapes(ak.example("ds_cnn_kws").layers[1])
    {'weights': (3, 3, 64, 1), 'weights_pw': (1, 1, 64, 64), 'threshold': (64,), 'act_step': (64,)}
    """
    d0, d1, c = layer.input_shape
    f = layer.outputs
    if layer.type == "FullyConnected":
        shapes = {"weights": (1, 1, d0 * d1 * c, f)}
    elif layer.type == "SeparableConvolutional":
        shapes = {"weights": (*layer.kernel_size, c, 1), "weights_pw": (1, 1, c, f)}
    else:
        shapes = {"weights": (*layer.kernel_size, c, f)}
    return {**shapes, "threshold": (f,), "act_step": (f,)}


def _integers(value: Any, layer: Layer, name: str, shape: tuple[int, ...], lo: int, hi: int,
              dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biu":
        raise SimulationError(layer.name, name, f"expected an integer array, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise SimulationError(layer.name, name, f"expected shape {shape}, got {arr.shape}")
    if arr.size and (int(arr.min()) < lo or int(arr.max()) > hi):
        raise SimulationError(layer.name, name,
                              f"values must be in [{lo}, {hi}], got [{int(arr.min())}, {int(arr.max())}]")
    return _frozen(arr.astype(dtype))


def _act_step(value: Any, layer: Layer, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    name = "act_step"
    if arr.dtype.kind not in "biuf":
        raise SimulationError(layer.name, name, f"expected a real array, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise SimulationError(layer.name, name, f"expected shape {shape}, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise SimulationError(layer.name, name, "values must be finite")
    if arr.dtype.kind != "f" and arr.size and int(np.abs(arr).max()) >= 1 << 24:
        raise SimulationError(layer.name, name, "integer values from 2**24 on are not exact in float32")
    step = arr.astype(np.float32)
    if arr.dtype.kind == "f" and not np.array_equal(step.astype(arr.dtype), arr):
        raise SimulationError(layer.name, name,
                              "values are not exactly representable in float32 (the engine's type); "
                              "pass np.float32 values")
    if arr.size and float(step.min()) < MIN_ACT_STEP:
        raise SimulationError(layer.name, name, f"values must be >= 1/16, got {float(step.min())}")
    if not K.step_register(step).all():
        raise SimulationError(layer.name, name,
                              "act_step·16 is a multiple of 2**28, which leaves the engine's step at 0")
    return _frozen(step)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class _Prepared:
    """One layer's validated variables and their floating copies for the BLAS kernels."""

    layer: Layer
    variables: Mapping[str, np.ndarray]
    weights: np.ndarray
    weights_pw: np.ndarray | None

    def potential(self, x: np.ndarray) -> np.ndarray:
        """The layer's potentials (after pooling) for inputs ``x``, exact in a floating array."""
        layer = self.layer
        if layer.type == "FullyConnected":
            return K.fully_connected(x, self.weights)
        if layer.type == "SeparableConvolutional":
            p = K.separable_conv2d(x, self.weights, self.weights_pw, layer.kernel_stride, layer.padding)
        else:
            p = K.conv2d(x, self.weights, layer.kernel_stride, layer.padding,
                         flip=layer.type != "InputConvolutional", pad_value=layer.padding_value or 0)
        if layer.pool_type == "max":
            return K.max_pool(p, layer.pool_size, layer.pool_stride, layer.padding)
        if layer.pool_type == "average":
            return K.global_sum_pool(p)
        return p

    def activation(self, p: np.ndarray) -> np.ndarray:
        """The layer's outputs for potentials ``p``: uint8 levels, or int32 potentials without activation."""
        if not self.layer.activation:
            return p.astype(np.int32)
        return K.activation(p, self.variables["threshold"], self.variables["act_step"], self.layer.act_bits)

    def chunk_bytes(self) -> int:
        """Bytes of the largest temporaries one sample needs in this layer."""
        layer, item = self.layer, self.weights.dtype.itemsize
        d0, d1, c = layer.input_shape
        o0, o1, f = layer.conv_shape
        if layer.type == "FullyConnected":
            return (d0 * d1 * c + 4 * f) * 8
        if layer.type == "SeparableConvolutional":
            return (d0 * d1 * c + 3 * o0 * o1 * c + 4 * o0 * o1 * f) * item
        return (o0 * o1 * (layer.kernel_size[0] * layer.kernel_size[1] * c + 4 * f) + d0 * d1 * c) * item


def _prepare(layer: Layer, raw: Mapping[str, Any]) -> _Prepared:
    if not isinstance(raw, Mapping):
        raise SimulationError(layer.name, None, f"variables must be a mapping, got {type(raw).__name__}")
    shapes = variable_shapes(layer)
    for key in raw:
        if key not in shapes:
            raise SimulationError(layer.name, key, f"unknown variable for a {layer.type} layer "
                                                   f"(expected: {', '.join(shapes)})")
    for key in shapes:
        if key not in raw:
            raise SimulationError(layer.name, key, "missing")
    lo, hi = K.weight_range(layer.weights_bits)
    v = {key: _integers(raw[key], layer, key, shapes[key], lo, hi, np.int8)
         for key in ("weights", "weights_pw") if key in shapes}
    v["threshold"] = _integers(raw["threshold"], layer, "threshold", shapes["threshold"], *_INT32, np.int32)
    v["act_step"] = _act_step(raw["act_step"], layer, shapes["act_step"])

    x_max = (1 << layer.input_bits) - 1
    if layer.type == "InputConvolutional" and not 0 <= layer.padding_value <= x_max:
        raise SimulationError(layer.name, "padding_value",
                              f"must be an input value in [0, {x_max}], got {layer.padding_value}")
    if layer.type == "SeparableConvolutional":  # the depthwise sums, then the pointwise ones
        per_channel = np.abs(v["weights"][..., 0].astype(np.int64)).sum(axis=(0, 1))
        pointwise = per_channel[:, None] * np.abs(v["weights_pw"][0, 0].astype(np.int64))
        bound = max(K.sum_bound(per_channel[None], x_max), K.sum_bound(pointwise, x_max))
    else:
        bound = K.sum_bound(v["weights"], x_max)
    if bound > _INT32[1]:
        raise SimulationError(layer.name, "weights",
                              f"potentials can reach {bound} (Σ|weights| · {x_max}), beyond the engine's "
                              "int32: this model is outside what the engine defines")
    dtype = np.float32 if bound < 1 << 24 else np.float64
    pw = v.get("weights_pw")
    return _Prepared(layer=layer, variables=MappingProxyType(v), weights=v["weights"].astype(dtype),
                     weights_pw=None if pw is None else pw.astype(dtype))


def _calibrate(p: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    flat = p.reshape(-1, p.shape[-1]).astype(np.float64)
    low, high = np.quantile(flat, CALIBRATION_QUANTILES, axis=0)
    threshold = np.round(low)
    spread = np.maximum(high - threshold, 1)
    step = np.clip(np.ceil(spread * (1 << bits) / ((1 << bits) - 1)), 1, 1 << 20)
    return threshold.astype(np.int32), (step / 16).astype(np.float32)


def _random_layers(model: Model, seed: int) -> list[_Prepared]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << model.input_bits, (CALIBRATION_SAMPLES, *model.input_shape), dtype=np.uint8)
    layers = []
    for layer in model.layers:
        shapes = variable_shapes(layer)
        lo, hi = K.weight_range(layer.weights_bits)
        v: dict[str, np.ndarray] = {key: rng.integers(lo, hi + 1, shapes[key], dtype=np.int8)
                                    for key in ("weights", "weights_pw") if key in shapes}
        f = layer.outputs
        draft = _prepare(layer, {**v, "threshold": np.zeros(f, np.int32), "act_step": np.ones(f, np.float32)})
        p = draft.potential(x)
        v["threshold"], v["act_step"] = _calibrate(p, layer.act_bits)
        prepared = _prepare(layer, v)
        layers.append(prepared)
        x = prepared.activation(p)
    return layers


@dataclass(frozen=True, eq=False, repr=False)
class SimulationResult:
    """What a :meth:`Simulator.run` computed: every layer's exact potentials and outputs, and events.

    The batch axis is always first, also for a single sample given as ``(d0, d1, C)``.

    Attributes
    ----------
    model : Model
        The simulated model.
    input : ndarray (N, d0, d1, C) of uint8
        The input that was run.
    potentials : list of ndarray (N, d0, d1, F) of int32
        Per layer, pre-activation potentials after pooling.
    layer_outputs : list of ndarray (N, d0, d1, F)
        Per layer, uint8 activations (int32 potentials for a last layer without activation).
    predict : ndarray of float32 or None
        ``float32(p - threshold) / act_step`` of the last layer when its activation is off.
    events_per_sample : ndarray (N, layers) of int64
        Non-zero outputs of each layer for each sample.

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> out = Simulator(ak.example("ds_cnn_kws"), seed=1).run(np.zeros((49, 10, 1), np.uint8))
    >>> out.output.shape, len(out.potentials)
    ((1, 1, 1, 33), 6)
    """

    model: Model
    input: np.ndarray
    potentials: list[np.ndarray]
    layer_outputs: list[np.ndarray]
    predict: np.ndarray | None
    events_per_sample: np.ndarray

    @property
    def output(self) -> np.ndarray:
        """The last layer's output (``layer_outputs[-1]``).

        Examples
        --------
        >>> import numpy as np
        >>> import akida_nb as ak
        >>> out = Simulator(ak.example("vgg_utk_face"), seed=0).run(np.zeros((32, 32, 3), np.uint8))
        >>> out.output.shape, out.output.dtype
        ((1, 1, 1, 1), dtype('int32'))
        """
        return self.layer_outputs[-1]

    @property
    def events(self):
        """DataFrame, one row per layer: ``layer``, ``events`` (batch total), ``possible``, ``sparsity``.

        ``possible`` counts every output value of the batch; ``sparsity`` is the fraction that is zero.

        Examples
        --------
        >>> import numpy as np
        >>> import akida_nb as ak
        >>> out = Simulator(ak.example("gxnor_mnist"), seed=0).run(np.zeros((2, 28, 28, 1), np.uint8))
        >>> list(out.events.columns), int(out.events.loc[0, "possible"])
        (['layer', 'events', 'possible', 'sparsity'], 12544)
        """
        import pandas as pd

        events = self.events_per_sample.sum(axis=0)
        possible = np.array([o.size for o in self.layer_outputs], dtype=np.int64)
        return pd.DataFrame({"layer": [layer.name for layer in self.model.layers], "events": events,
                             "possible": possible, "sparsity": 1 - events / possible})

    def __repr__(self) -> str:
        total = int(self.events_per_sample.sum())
        possible = sum(o.size for o in self.layer_outputs)
        return (f"SimulationResult(model {self.model.name!r}, {self.input.shape[0]} samples, "
                f"{len(self.layer_outputs)} layers, output {fmt_shape(self.output.shape)} {self.output.dtype}, "
                f"{total} events of {possible} ({1 - total / possible:.1%} sparse))")


class Simulator:
    """Bit-exact simulator of an Akida model (docs/design.md#simulator-arithmetic).

    Parameters
    ----------
    model : Model
    variables : list of dict, or dict of dict, optional
        Per layer ``weights`` (and ``weights_pw`` for SeparableConvolutional) as integers within
        the layer's weight range, ``threshold`` (int32) and ``act_step`` (float32 values ≥ 1/16),
        in engine layouts (see :func:`variable_shapes`); a list in layer order or a dict keyed by
        layer name. Without them, seeded random variables are drawn.
    seed : int
        Seed of the random variables (ignored when ``variables`` are given): uniform weights;
        thresholds and steps placed on the potentials of random inputs so that about 30 % of
        each layer's outputs are events.

    Attributes
    ----------
    model : Model
    reference : Mapping or None
        For a simulator loaded by :meth:`from_npz`: the run stored beside the variables
        (``input``, ``L{i}_potential``, ``L{i}_output``, ``output``, ``predict``…), else None.

    Raises
    ------
    SimulationError
        Naming the layer and the variable that is missing, misshaped, of a wrong dtype or out of
        range, or a layer whose potentials could leave int32 (outside what the engine defines).

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> model = ak.Model.from_dict({"input": {"shape": [1, 1, 2], "bits": 4},
    ...                             "layers": [{"type": "FullyConnected", "units": 1, "act_bits": 2}]})
    >>> v = [{"weights": np.ones((1, 1, 2, 1), np.int8), "threshold": np.array([0]),
    ...       "act_step": np.array([1.0], np.float32)}]
    >>> Simulator(model, v).run(np.array([[[[1, 2]]]], np.uint8)).potentials[0].ravel()
    array([3], dtype=int32)
    """

    def __init__(self, model: Model, variables: Sequence[Mapping] | Mapping[str, Mapping] | None = None,
                 seed: int = 0):
        if not isinstance(model, Model):
            raise SimulationError(None, "model", f"must be an akida_nb.Model, got {type(model).__name__}")
        self.model = model
        self.reference: Mapping[str, np.ndarray] | None = None
        if variables is None:
            self._layers = _random_layers(model, seed)
        else:
            self._layers = [_prepare(layer, raw) for layer, raw in zip(model.layers, _by_layer(model, variables))]
        self._chunk = max(1, CHUNK_BYTES // max(p.chunk_bytes() for p in self._layers))

    @property
    def variables(self) -> list[dict[str, np.ndarray]]:
        """Per layer, the validated variables (read-only arrays: int8 weights, int32 threshold, float32 act_step).

        Examples
        --------
        >>> import akida_nb as ak
        >>> v = Simulator(ak.example("ds_cnn_kws"), seed=0).variables
        >>> sorted(v[1]), v[1]["weights_pw"].dtype
        (['act_step', 'threshold', 'weights', 'weights_pw'], dtype('int8'))
        """
        return [dict(p.variables) for p in self._layers]

    @classmethod
    def from_npz(cls, path: str | PathLike) -> "Simulator":
        """A simulator for a reference run in ``.npz`` (docs/design.md#simulator-arithmetic), the run in ``.reference``.

        The file holds ``spec_json`` (the native model format) and per layer ``L{i}_weights``,
        ``L{i}_weights_pw``, ``L{i}_threshold``, ``L{i}_act_step``; every other array (the stored
        ``input``, potentials, outputs, …) is exposed in :attr:`reference`.

        Examples
        --------
        >>> import numpy as np
        >>> from pathlib import Path
        >>> import akida_nb
        >>> path = Path(akida_nb.__file__).parents[1] / "tests/data/golden/ds_cnn_kws_v1.npz"
        >>> sim = Simulator.from_npz(path)
        >>> out = sim.run(sim.reference["input"])
        >>> np.array_equal(out.output, sim.reference["output"])
        True
        """
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        if "spec_json" not in arrays:
            raise SimulationError(None, "spec_json", f"{path} holds no model spec")
        model = Model.from_dict(json.loads(str(arrays.pop("spec_json"))), source=str(path))
        variables = []
        for i, layer in enumerate(model.layers):
            variables.append({key: arrays.pop(f"L{i}_{key}") for key in variable_shapes(layer)
                              if f"L{i}_{key}" in arrays})
        sim = cls(model, variables)
        sim.reference = MappingProxyType(arrays)
        return sim

    def run(self, x: np.ndarray, *, batch_size: int | None = None, progress: bool = False) -> SimulationResult:
        """Run a batch ``(N, d0, d1, C)`` or one sample ``(d0, d1, C)`` of integer inputs.

        Parameters
        ----------
        x : ndarray of integers
            Values in ``[0, 2**input_bits)``; uint8 or any integer dtype (no value is changed).
        batch_size : int, optional
            Samples computed at once; by default as many as keep the largest temporary near 64 MB.
        progress : bool
            Show a tqdm progress bar over samples.

        Returns
        -------
        SimulationResult
            Always with a batch axis (N = 1 for a single sample).

        Examples
        --------
        >>> import numpy as np
        >>> import akida_nb as ak
        >>> sim = Simulator(ak.example("vgg_utk_face"), seed=0)
        >>> sim.run(np.full((3, 32, 32, 3), 128, np.uint8), batch_size=2).layer_outputs[0].shape
        (3, 30, 30, 32)
        """
        from tqdm import tqdm

        x = self._check_input(x)
        n = x.shape[0]
        chunk = self._chunk if batch_size is None else batch_size
        if not isinstance(chunk, int) or chunk < 1:
            raise SimulationError(None, "batch_size", f"must be a positive int, got {batch_size!r}")
        potentials = [np.empty((n, *p.layer.output_shape), np.int32) for p in self._layers]
        outputs = [np.empty((n, *p.layer.output_shape), np.uint8 if p.layer.activation else np.int32)
                   for p in self._layers]
        with tqdm(total=n, unit="sample", disable=not progress, desc=self.model.name) as bar:
            for start in range(0, n, chunk):
                h = x[start:start + chunk]
                for i, prepared in enumerate(self._layers):
                    p = prepared.potential(h)
                    h = prepared.activation(p)
                    potentials[i][start:start + len(h)] = p
                    outputs[i][start:start + len(h)] = h
                bar.update(len(h))
        last = self._layers[-1]
        predict = None
        if not last.layer.activation:
            predict = _frozen(K.predict(potentials[-1], last.variables["threshold"], last.variables["act_step"]))
        events = np.stack([np.count_nonzero(o.reshape(n, -1), axis=1) for o in outputs], axis=1).astype(np.int64)
        return SimulationResult(model=self.model, input=_frozen(x), potentials=[_frozen(p) for p in potentials],
                                layer_outputs=[_frozen(o) for o in outputs], predict=predict,
                                events_per_sample=_frozen(events))

    def _check_input(self, x: Any) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biu":
            raise SimulationError(None, "input", f"expected integers (uint8), got dtype {arr.dtype}")
        if arr.ndim == 3:
            arr = arr[None]
        shape = self.model.input_shape
        if arr.ndim != 4 or arr.shape[1:] != shape or arr.shape[0] == 0:
            raise SimulationError(None, "input", f"expected shape (N, {', '.join(map(str, shape))}) with N ≥ 1 "
                                                 f"or {shape}, got {np.shape(x)}")
        top = (1 << self.model.input_bits) - 1
        if int(arr.min()) < 0 or int(arr.max()) > top:
            raise SimulationError(None, "input", f"values must be in [0, {top}] ({self.model.input_bits}-bit "
                                                 f"input), got [{int(arr.min())}, {int(arr.max())}]")
        return np.array(arr, dtype=np.uint8)

    def __repr__(self) -> str:
        return (f"Simulator(model {self.model.name!r}, {len(self._layers)} layers, input "
                f"{fmt_shape(self.model.input_shape)} ({self.model.input_bits}-bit), "
                f"compute {'/'.join(sorted({p.weights.dtype.name for p in self._layers}))})")


def _by_layer(model: Model, variables: Sequence[Mapping] | Mapping[str, Mapping]) -> list[Mapping]:
    names = [layer.name for layer in model.layers]
    if isinstance(variables, Mapping):
        for key in variables:
            if key not in names:
                raise SimulationError(str(key), None, f"no such layer (layers: {', '.join(names)})")
        for name in names:
            if name not in variables:
                raise SimulationError(name, None, "no variables given for this layer")
        return [variables[name] for name in names]
    if isinstance(variables, (str, bytes)) or not isinstance(variables, Sequence):
        raise SimulationError(None, "variables", "expected a list of per-layer dicts or a dict keyed by layer name, "
                                                 f"got {type(variables).__name__}")
    if len(variables) != len(names):
        raise SimulationError(None, "variables", f"expected {len(names)} per-layer dicts, got {len(variables)}")
    return list(variables)
