"""The :class:`Simulator`: runs a :class:`~akida_nb.Model` bit-exactly as Akida's software engine does.

Variables (``weights``, ``weights_pw``, ``threshold``, ``act_step`` per layer) are validated
once; runs are vectorised over the batch and processed in chunks of bounded memory
(:data:`CHUNK_BYTES`). Every run returns a :class:`SimulationResult` with the event counts
(non-zero activations) an event-based chip pays for and what it was asked to keep: the exact
potentials and outputs of every layer (``keep="all"``), of some layers, or the model's output
only. A run or a simulator that would not fit in :func:`memory_budget` raises a
:class:`~akida_nb.SimulationError` with the bytes it needs before allocating them.

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
import math
import operator
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from types import MappingProxyType
from typing import Any, TypeVar, overload

import numpy as np

from ..errors import SimulationError, SpecError, brief, one_line
from ..model import Layer, Model, fmt_shape, model_macs
from . import kernels as K
from .variables import (
    MIN_ACT_STEP,
    VARIABLE_KEYS,
    by_layer,
    layer_variables,
    normalize_variables,
    potential_bound,
    variable_shapes,
)

__all__ = ["KeptArrays", "MIN_ACT_STEP", "SCHEMA_VERSION", "SimulationResult", "Simulator", "memory_budget",
           "read_model_npz", "variable_shapes"]

CHUNK_BYTES = 32 << 20
"""Working set of one chunk of a run: samples are computed this many bytes of temporaries at a time.

Small enough that each worker's share of a chunk stays near the caches (measured, keep="output" on
DS-CNN: 7,800 samples/s in chunks of 262 samples, 9,500–15,000 in chunks of 64–128), large enough
that a chunk is worth splitting among the workers (:data:`PARALLEL_SAMPLES_MACS`; AkidaNet: 380
samples/s in chunks of 2, 460 in chunks of 4–12).

A run holds what it keeps (see :meth:`Simulator.run`) plus one chunk's temporaries, so its peak
memory is the kept bytes plus about ``CHUNK_BYTES`` (one sample's temporaries when a single
sample needs more), whatever the number of samples."""
MEMORY_BUDGET: int | None = None
"""Bytes a simulator may hold at once; ``None`` (the default): ask the machine, see :func:`memory_budget`."""
PARALLEL_SAMPLES_MACS = 1 << 27
"""A chunk of at least this many multiply-accumulates is split among the workers by samples.

Each worker then runs every layer on its own samples and the workers meet once per chunk: on
many small products, handing work to a thread and back costs more than it saves (measured on
DS-CNN and GX-NOR, batch 8: 1 thread faster than 2), on large ones it halves the time (VGG,
AkidaNet). Below it, the large products of a chunk are still split by rows
(:data:`akida_nb.sim.kernels.PARALLEL_MACS`)."""
CALIBRATION_SAMPLES = 2
"""Random inputs used to place the thresholds and steps of seeded random variables."""
CALIBRATION_QUANTILES = (0.7, 0.98)
"""A seeded neuron's threshold sits at the first quantile of its potentials, its top level at the second."""


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
    winograd: np.ndarray | None = None
    """The transformed kernel when the layer is a 3×3, stride 1 convolution that Winograd's F(2×2, 3×3)
    computes exactly (:func:`~akida_nb.sim.kernels.winograd_weights`)."""
    summed: bool = False
    """Global average pooling that cannot saturate: the potentials are :func:`~akida_nb.sim.kernels.summed_conv2d`."""
    levels: Callable[[np.ndarray], np.ndarray] | None = None
    """The activation planned once for every potential the layer's bound allows (after pooling: the sum
    bound, 20-bit where the layer saturates). None: no activation, or a bound that does not prove the
    floating path, so that each batch's range decides."""

    def potential(self, x: np.ndarray) -> np.ndarray:
        """The layer's potentials (after pooling) for inputs ``x``, exact in a floating array."""
        layer = self.layer
        if layer.type == "FullyConnected":
            return K.fully_connected(x, self.weights)
        stride, padding = _built(layer.kernel_stride), _built(layer.padding)
        if self.summed:
            if layer.type == "SeparableConvolutional":
                return K.summed_conv2d(x, self.weights[..., 0], stride, padding,
                                       pointwise=_built(self.weights_pw)[0, 0])
            return K.summed_conv2d(x, self.weights, stride, padding, flip=layer.type != "InputConvolutional",
                                   pad_value=layer.padding_value or 0)
        if self.winograd is not None:
            p = K.winograd_conv2d(x, self.winograd, padding)
        elif layer.type == "SeparableConvolutional":
            p = K.separable_conv2d(x, self.weights, _built(self.weights_pw), stride, padding)
        else:
            p = K.conv2d(x, self.weights, stride, padding,
                         flip=layer.type != "InputConvolutional", pad_value=layer.padding_value or 0)
        if layer.pool_type == "max":
            return K.max_pool(p, _built(layer.pool_size), _built(layer.pool_stride), padding)
        if layer.pool_type == "average":
            return K.global_sum_pool(p)
        return p

    def activation(self, p: np.ndarray) -> np.ndarray:
        """The layer's outputs for potentials ``p``: uint8 levels, or int32 potentials without activation."""
        if not self.layer.activation:
            return p.astype(np.int32)
        if self.levels is not None:
            return self.levels(p)
        # The layer's bound did not prove the floating path (that is why there is no plan): the data decide.
        return K.activation(p, self.variables["threshold"], self.variables["act_step"], self.layer.act_bits)

    def chunk_bytes(self) -> int:
        """Bytes of the largest temporaries one sample needs in this layer."""
        return _sample_bytes(self.layer, self.weights.dtype.itemsize)


def _prepare(layer: Layer, raw: Mapping[str, Any]) -> _Prepared:
    v = layer_variables(layer, raw)
    bound = potential_bound(layer, v)
    dtype = np.float32 if bound < 1 << 24 else np.float64
    pw = v.get("weights_pw")
    saturates = layer.type == "FullyConnected" or layer.pool_type == "average" or (
        layer.pool_type == "max" and tuple(_built(layer.pool_size)) != (1, 1))
    conv = layer.conv_shape
    summed = layer.pool_type == "average" and conv is not None and conv[0] * conv[1] * bound <= K.INT20_MAX
    bound = min(bound, 1 << 19) if saturates else bound
    winograd = None  # a summed layer never computes its convolution
    if not summed and layer.type != "SeparableConvolutional" and layer.kernel_stride == (1, 1) \
            and not layer.padding_value:
        winograd = K.winograd_weights(v["weights"], (1 << _built(layer.input_bits)) - 1,
                                      flip=layer.type == "Convolutional", dtype=dtype)
    levels = None
    if layer.activation:
        levels = K.activation_plan(v["threshold"], v["act_step"], _built(layer.act_bits), dtype, -bound, bound)
    return _Prepared(layer=layer, variables=MappingProxyType(v), weights=v["weights"].astype(dtype),
                     weights_pw=None if pw is None else pw.astype(dtype), winograd=winograd, summed=summed,
                     levels=levels)


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


_T = TypeVar("_T")


def _built(value: _T | None) -> _T:
    """A layer field that the model fills in when it is built (shapes) or that the layer's type sets."""
    assert value is not None, "a built model's layers have their shapes and fields"
    return value


def memory_budget() -> int:
    """Bytes a simulator may allocate: :data:`MEMORY_BUDGET` when set, else what the machine can give now.

    That is the least of the physical memory (``os.sysconf``), the memory the system reports
    available (``MemAvailable`` of ``/proc/meminfo``, where there is one) and the room left under
    this process's address-space limit (``RLIMIT_AS``, when set). A :class:`Simulator` and each
    :meth:`Simulator.run` check their needs against it before allocating and raise a
    :class:`~akida_nb.SimulationError` with the bytes they would need, never a numpy MemoryError.

    Examples
    --------
    >>> memory_budget() > 0
    True
    """
    if MEMORY_BUDGET is not None:
        return int(MEMORY_BUDGET)
    limits = []
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * page)
    except (AttributeError, ValueError, OSError):
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            limits += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            try:
                with open("/proc/self/statm", encoding="ascii") as f:
                    used = int(f.read().split()[0]) * page
            except (OSError, ValueError, IndexError):
                used = 0
            limits.append(max(soft - used, 0))
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else 1 << 62


def _size(n: int) -> str:
    unit, scale = ("GiB", 1 << 30) if n >= 1 << 30 else ("MiB", 1 << 20)
    return f"{n:,} bytes ({n / scale:.1f} {unit})"


def _sample_bytes(layer: Layer, item: int) -> int:
    """Bytes of the largest temporaries one sample needs in ``layer``, computing in ``item``-byte floats."""
    d0, d1, c = _built(layer.input_shape)
    o0, o1, f = _built(layer.conv_shape)
    if layer.type == "FullyConnected":
        return (d0 * d1 * c + 4 * f) * 8
    if layer.type == "SeparableConvolutional":
        return (d0 * d1 * c + 3 * o0 * o1 * c + 4 * o0 * o1 * f) * item
    k0, k1 = _built(layer.kernel_size)
    return (o0 * o1 * (k0 * k1 * c + 4 * f) + d0 * d1 * c) * item


def _variable_bytes(layer: Layer) -> int:
    """Bytes of a layer's validated variables and their floating copies (float64 at most)."""
    weights = sum(math.prod(shape) for key, shape in variable_shapes(layer).items() if key.startswith("weights"))
    return weights * (1 + 8) + layer.outputs * 8


def _check_variables_fit(model: Model, seeded: bool) -> None:
    """Raise before allocating when the variables (and the calibration of seeded ones) would not fit."""
    layers = model.layers
    need = [_variable_bytes(layer) for layer in layers]
    work = [0] * len(layers)
    if seeded:  # the calibration runs CALIBRATION_SAMPLES through each layer and sorts its potentials
        work = [CALIBRATION_SAMPLES * (_sample_bytes(layer, 8) + 3 * 8 * math.prod(_built(layer.conv_shape)))
                for layer in layers]
    total = sum(need) + max(work)
    budget = memory_budget()
    if total > budget:
        worst = max(range(len(layers)), key=lambda i: need[i] + work[i])
        what = "seeded random variables and their calibration" if seeded else "variables"
        raise SimulationError(layers[worst].name, None,
                              f"the model's {what} need {_size(total)} (this layer the most), more than the "
                              f"{_size(budget)} of memory available")


def _load_npz(path: Any) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file; what is not one raises a one-line SimulationError naming file and array."""
    if not isinstance(path, (str, PathLike)):
        raise SimulationError(None, "path", f"expected a file path, got {brief(path)}")
    name = brief(os.fspath(path))
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        reason = one_line(getattr(e, "strerror", None) or str(e), 80)
        raise SimulationError(None, "path", f"cannot read {name}: {reason}") from None
    if not stat.S_ISREG(mode):
        raise SimulationError(None, "path", f"{name} is not a regular file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic == b"\x93NUMPY":
            raise SimulationError(None, "path", f"{name} holds a single .npy array, not an .npz archive")
        if not magic.startswith(b"PK"):
            raise SimulationError(None, "path", f"{name} is not an .npz archive (no zip header)")
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, SimulationError):
            raise
        raise SimulationError(None, "path", f"{name} is not an .npz archive ({one_line(str(e), 80)})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise SimulationError(None, "path", f"{name} is not an .npz archive")
    budget, total, arrays = memory_budget(), 0, {}
    with data:
        archive = _built(data.zip)
        members = set(archive.namelist())
        unpacked = sum(info.file_size for info in archive.infolist())  # zipfile never reads past these sizes
        if unpacked > budget:
            raise SimulationError(None, "path", f"{name} unpacks to {_size(unpacked)}, more than the "
                                                f"{_size(budget)} of memory available")
        for key in data.files:
            where = f"{name}, array {brief(key)}"
            try:
                with archive.open(key + ".npy" if key + ".npy" in members else key) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(f)
                if dtype.hasobject:
                    raise SimulationError(None, "path", f"{where}: holds Python objects (pickled data), refused")
                total += math.prod(shape) * dtype.itemsize
                if total > budget:
                    raise SimulationError(None, "path", f"{where}: the arrays need {_size(total)}, more than the "
                                                        f"{_size(budget)} of memory available")
                arrays[key] = data[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                if isinstance(e, SimulationError):
                    raise
                raise SimulationError(None, "path", f"{where}: not a readable .npy array ({one_line(str(e), 80)})"
                                      ) from None
    return arrays


SCHEMA_VERSION = 1
"""Version of the model file format (``ak.save``): ``spec_json``, ``schema_version`` and ``L{i}_{variable}``."""


def read_model_npz(path: str | PathLike, *, require_variables: bool = False
                   ) -> tuple[Model, list[dict[str, np.ndarray]] | None, dict[str, np.ndarray]]:
    """The model, its validated variables and the other arrays of a model file (``ak.save``'s format).

    The one reader of model ``.npz`` files, behind ``ak.load`` and :meth:`Simulator.from_npz`: loaded
    with ``allow_pickle=False`` after checking each array's header (no objects, sizes within
    :func:`memory_budget`); ``spec_json`` is the native model format, ``schema_version`` (absent in
    golden runs, made before it) must be :data:`SCHEMA_VERSION`, and ``L{i}_{variable}`` are layer
    ``i``'s variables, validated as the Simulator does. A file without any variable array gives
    ``None`` variables unless ``require_variables``; one with some gives an error naming each
    missing one, and a variable array that no layer takes (``L0_weights_pw`` of a Convolutional,
    ``L9_threshold`` of a 6-layer model) is refused rather than dropped. Every other array is
    returned as the file's rest.

    Raises
    ------
    SimulationError
        A file that is not a readable ``.npz`` archive of plain arrays, arrays beyond the memory
        available, no ``spec_json``, or a variable that is missing, misshaped, of a wrong dtype,
        out of range or not taken by its layer (naming the file and the array).
    SpecError
        A ``spec_json`` or ``schema_version`` that this format does not allow.

    Examples
    --------
    >>> from pathlib import Path
    >>> import akida_nb
    >>> path = Path(akida_nb.__file__).parents[1] / "tests/data/golden/ds_cnn_kws_v1.npz"
    >>> model, variables, rest = read_model_npz(path)
    >>> model.name, len(variables), "input" in rest
    ('ds_cnn_kws_v1', 6, True)
    """
    arrays = _load_npz(path)
    name = brief(os.fspath(path))
    version = arrays.pop("schema_version", None)
    if version is not None:
        if version.ndim != 0 or version.dtype.kind not in "iu":
            raise SpecError("schema_version", f"{name}: expected an integer, got a {version.dtype} array of "
                                              f"shape {version.shape}")
        if int(version) != SCHEMA_VERSION:
            raise SpecError("schema_version", f"{name}: version {int(version)}, this akida_nb reads version "
                                              f"{SCHEMA_VERSION}")
    if "spec_json" not in arrays:
        raise SimulationError(None, "spec_json", f"{name} holds no model spec (array spec_json)")
    spec = arrays.pop("spec_json")
    if spec.dtype.kind not in "US" or spec.ndim != 0:
        raise SpecError("spec_json", f"{name}: expected the model as a JSON string, got a "
                                     f"{spec.dtype} array of shape {spec.shape}")
    try:
        raw = json.loads(str(spec))
    except (ValueError, RecursionError) as e:
        raise SpecError("spec_json", f"{name}: not valid JSON ({one_line(str(e), 80)})") from None
    if not isinstance(raw, dict):
        raise SpecError("spec_json", f"{name}: expected a JSON object, got {type(raw).__name__}")
    try:
        model = Model.from_dict(raw, source=str(path))
    except SpecError as e:
        raise SpecError(e.path, f"{e.problem} (spec_json of {name})") from None
    variables = []
    for i, layer in enumerate(model.layers):
        variables.append({key: arrays.pop(f"L{i}_{key}") for key in variable_shapes(layer)
                          if f"L{i}_{key}" in arrays})
    _refuse_stray_variables(arrays, model, name)
    if not require_variables and not any(variables):
        return model, None, arrays
    try:
        checked = normalize_variables(model, variables)
    except SimulationError as e:
        index = next((i for i, layer in enumerate(model.layers) if layer.name == e.layer), None)
        where = f"array L{index}_{e.variable} of " if index is not None and e.variable else ""
        raise SimulationError(e.layer, e.variable, f"{e.problem} ({where}{name})") from None
    return model, checked, arrays


_VARIABLE_ARRAY = re.compile(r"L(\d+)_(" + "|".join(sorted({k for keys in VARIABLE_KEYS.values() for k in keys})) + ")")


def _refuse_stray_variables(arrays: Mapping[str, np.ndarray], model: Model, name: str) -> None:
    """A variable array (``L{i}_weights``…) that no layer of the model takes would be silently dropped: refuse it.

    Other arrays (a stored run: ``input``, ``L{i}_potential``…; or the user's own) are kept as the file's rest.
    """
    for key in sorted(arrays):
        match = _VARIABLE_ARRAY.fullmatch(key)
        if match is None:
            continue
        i, variable = int(match.group(1)), match.group(2)
        if i >= len(model.layers):
            raise SimulationError(None, variable, f"array {key} of {name}: the model has {len(model.layers)} "
                                                  f"layers (L0 to L{len(model.layers) - 1})")
        layer = model.layers[i]
        raise SimulationError(layer.name, variable, f"array {key} of {name}: a {layer.type} layer takes "
                                                    f"{', '.join(VARIABLE_KEYS[layer.type])}, not {variable}")


def _keep_indices(keep: Any, n_layers: int) -> tuple[int, ...]:
    """The layer indices a ``keep`` argument of :meth:`Simulator.run` asks for, sorted."""
    if isinstance(keep, str):
        if keep == "all":
            return tuple(range(n_layers))
        if keep == "output":
            return ()
    elif isinstance(keep, (Sequence, np.ndarray, set, frozenset)) and not isinstance(keep, (bytes, bytearray)):
        indices = set()
        for i in keep:
            if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)) \
                    or not -n_layers <= i < n_layers:
                break
            indices.add(int(i) % n_layers)
        else:
            return tuple(sorted(indices))
    raise SimulationError(None, "keep", f"expected 'all', 'output' or a list of layer indices in "
                                        f"[0, {n_layers - 1}], got {brief(keep)}")


class KeptArrays(Sequence[np.ndarray]):
    """Per-layer arrays of a run that kept only some layers (``Simulator.run(x, keep=...)``).

    Indexing works as on a list; a layer the run did not keep raises a
    :class:`~akida_nb.SimulationError` that says how to keep it.

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> out = Simulator(ak.example("gxnor_mnist"), seed=0).run(np.zeros((2, 28, 28, 1), np.uint8), keep=[1])
    >>> out.potentials
    KeptArrays(potentials of layers [1] of 5)
    >>> out.potentials[1].shape
    (2, 7, 7, 64)
    >>> try:
    ...     out.potentials[0]
    ... except ak.SimulationError as e:
    ...     print(e)
    layer 'block_1/conv_1', potentials: not kept by this run (keep=[1]); run(x, keep=[0, ...]) or keep='all' keeps it
    """

    def __init__(self, model: Model, what: str, arrays: Sequence[np.ndarray | None], keep: Any):
        self._model, self._what, self._arrays, self._keep = model, what, list(arrays), keep

    def __len__(self) -> int:
        return len(self._arrays)

    @overload
    def __getitem__(self, i: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, i: slice) -> list[np.ndarray]: ...

    def __getitem__(self, i: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        try:
            j = operator.index(i)
        except TypeError:
            raise SimulationError(None, self._what, f"layers are indexed by int, got {brief(i)}") from None
        arr = self._arrays[j]  # IndexError out of range, as a list
        if arr is None:
            j %= len(self)
            raise SimulationError(self._model.layers[j].name, self._what,
                                  f"not kept by this run (keep={brief(self._keep)}); run(x, keep=[{j}, ...]) "
                                  "or keep='all' keeps it")
        return arr

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[j] for j in range(len(self)))

    @property
    def kept(self) -> tuple[int, ...]:
        """Indices of the layers held.

        Examples
        --------
        >>> import numpy as np
        >>> import akida_nb as ak
        >>> out = Simulator(ak.example("gxnor_mnist"), seed=0).run(np.zeros((1, 28, 28, 1), np.uint8),
        ...                                                         keep="output")
        >>> out.layer_outputs.kept, out.potentials.kept
        ((4,), ())
        """
        return tuple(i for i, a in enumerate(self._arrays) if a is not None)

    def __repr__(self) -> str:
        return f"KeptArrays({self._what} of layers {list(self.kept)} of {len(self)})"


@dataclass(frozen=True, eq=False, repr=False)
class SimulationResult:
    """What a :meth:`Simulator.run` computed: every layer's exact potentials and outputs, and events.

    The batch axis is always first, also for a single sample given as ``(d0, d1, C)``.

    Attributes
    ----------
    model : Model
        The simulated model.
    input : ndarray (N, d0, d1, C) of uint8
        The input that was run (read-only; for a run with ``keep`` other than ``"all"``, a view
        of the given array, not a copy, when it is uint8).
    potentials : list of ndarray (N, d0, d1, F) of int32, or KeptArrays
        Per layer, pre-activation potentials after pooling. A run with ``keep`` other than
        ``"all"`` holds only the kept layers (a :class:`KeptArrays`: the others raise).
    layer_outputs : list of ndarray (N, d0, d1, F), or KeptArrays
        Per layer, uint8 activations (int32 potentials for a last layer without activation);
        the last layer's is always kept.
    predict : ndarray of float32 or None
        ``float32(p - threshold) / act_step`` of the last layer when its activation is off.
    events_per_sample : ndarray (N, layers) of int64
        Non-zero outputs of each layer for each sample (always, whatever was kept).
    kept : tuple of int
        Indices of the layers whose potentials and outputs were kept.

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
    potentials: Sequence[np.ndarray]
    layer_outputs: Sequence[np.ndarray]
    predict: np.ndarray | None
    events_per_sample: np.ndarray
    kept: tuple[int, ...]

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
        possible = np.array(self._possible(), dtype=np.int64)
        return pd.DataFrame({"layer": [layer.name for layer in self.model.layers], "events": events,
                             "possible": possible, "sparsity": 1 - events / possible})

    def _possible(self) -> list[int]:
        n = self.events_per_sample.shape[0]
        return [n * math.prod(_built(layer.output_shape)) for layer in self.model.layers]

    def __repr__(self) -> str:
        total = int(self.events_per_sample.sum())
        possible = sum(self._possible())
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
        layer name. Without them, the variables the model carries (``model.variables``, e.g. from
        ``ak.from_akida`` or ``ak.load``); a model without any gets seeded random variables.
    seed : int
        Seed (an int ≥ 0) of the random variables (ignored when variables are given or carried): uniform
        weights; thresholds and steps placed on the potentials of random inputs so that about 30 %
        of each layer's outputs are events.

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
        range, or a layer whose potentials could leave int32 (outside what the engine defines);
        a ``model`` that is not a :class:`~akida_nb.Model`, a bad ``seed``, or variables that
        would not fit in :func:`memory_budget` (with the bytes they need).

    Notes
    -----
    The first run on a machine compiles the simulator's loops (numba; about 4 s once, then cached
    on disk, so that a new process loads them in well under a second). Runs use every usable core
    (see :func:`akida_nb.sim.kernels.compute_threads`) and docs/design.md#the-simulator-run-loop for
    how each layer is lowered and why the results stay exact.

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
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise SimulationError(None, "seed", f"must be an int ≥ 0, got {brief(seed)}")
        self.model = model
        self.reference: Mapping[str, np.ndarray] | None = None
        variables = model.variables if variables is None else variables  # explicit variables win
        _check_variables_fit(model, seeded=variables is None)
        if variables is None:
            self._layers = _random_layers(model, int(seed))
        else:
            self._layers = [_prepare(layer, raw) for layer, raw in zip(model.layers, by_layer(model, variables))]
        self._work = [p.chunk_bytes() for p in self._layers]
        self._macs = model_macs(model)
        self._chunk = max(1, CHUNK_BYTES // max(self._work))
        sizes = [math.prod(_built(p.layer.output_shape)) for p in self._layers]
        self._potential_bytes = [4 * size for size in sizes]
        self._output_bytes = [(1 if p.layer.activation else 4) * size for p, size in zip(self._layers, sizes)]

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
    def from_npz(cls, path: str | PathLike) -> Simulator:
        """A simulator for a reference run stored as ``.npz``, with its run in ``.reference``.

        See docs/design.md#simulator-arithmetic.

        The file holds ``spec_json`` (the native model format) and per layer ``L{i}_weights``,
        ``L{i}_weights_pw``, ``L{i}_threshold``, ``L{i}_act_step`` (the format of ``ak.save``, read by
        :func:`read_model_npz`; golden runs have no ``schema_version``); every other array (the
        stored ``input``, potentials, outputs, …) is exposed in :attr:`reference`.

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

        Raises
        ------
        SimulationError
            A path that is not a regular readable file, not an ``.npz`` archive, an array that holds
            pickled objects or cannot be read, arrays that would not fit in :func:`memory_budget`,
            a missing ``spec_json`` or a missing or misshaped variable (naming the file and array).
        SpecError
            A ``spec_json`` that is not a JSON object of the native model format.
        """
        model, variables, rest = read_model_npz(path, require_variables=True)
        sim = cls(model, variables)
        sim.reference = MappingProxyType(rest)
        return sim

    def run(self, x: np.ndarray, *, keep: str | Sequence[int] = "all", batch_size: int | None = None,
            progress: bool = False) -> SimulationResult:
        """Run a batch ``(N, d0, d1, C)`` or one sample ``(d0, d1, C)`` of integer inputs.

        Samples are computed in chunks whose temporaries stay near :data:`CHUNK_BYTES`, so a run
        holds what it keeps plus that working set; results are the same, bit for bit, whatever
        the chunking. Before computing, a run whose kept results and working set would not fit
        in :func:`memory_budget` raises a :class:`~akida_nb.SimulationError` with the bytes it
        would need.

        Parameters
        ----------
        x : ndarray of integers
            Values in ``[0, 2**input_bits)``; uint8 or any integer dtype (no value is changed).
        keep : "all", "output" or list of int
            What the result holds besides the per-layer event counts (always counted):
            ``"all"`` (the default) every layer's potentials and outputs; ``"output"`` the
            model's output (and ``predict``) only; a list of layer indices those layers'
            potentials and outputs, plus the model's output.
        batch_size : int, optional
            Samples computed at once; by default as many as keep the temporaries near
            :data:`CHUNK_BYTES` (fewer when memory is short).
        progress : bool
            Show a tqdm progress bar over samples.

        Returns
        -------
        SimulationResult
            Always with a batch axis (N = 1 for a single sample).

        Raises
        ------
        SimulationError
            An input that is not an integer array of the model's input shape and range, a bad
            ``keep`` or ``batch_size``, or a run that would not fit in memory (naming the bytes).

        Examples
        --------
        >>> import numpy as np
        >>> import akida_nb as ak
        >>> sim = Simulator(ak.example("vgg_utk_face"), seed=0)
        >>> sim.run(np.full((3, 32, 32, 3), 128, np.uint8), batch_size=2).layer_outputs[0].shape
        (3, 30, 30, 32)
        >>> out = sim.run(np.full((3, 32, 32, 3), 128, np.uint8), keep="output")
        >>> out.output.shape, out.events_per_sample.shape, out.kept
        ((3, 1, 1, 1), (3, 7), ())
        """
        from tqdm import tqdm

        arr = self._input_array(x)
        n, layers = arr.shape[0], self._layers
        kept = _keep_indices(keep, len(layers))
        keep_all = isinstance(keep, str) and keep == "all"
        if batch_size is not None and (isinstance(batch_size, (bool, np.bool_))
                                       or not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise SimulationError(None, "batch_size", f"must be a positive int, got {brief(batch_size)}")
        copy_input = keep_all or arr.dtype != np.uint8
        chunk = self._plan(n, kept, copy_input, None if batch_size is None else int(batch_size))
        self._check_range(arr)
        if copy_input:
            x = np.array(arr, dtype=np.uint8)
        else:  # a read-only view: keeping a partial run never copies its input
            x = arr.view()
        last = len(layers) - 1
        keep_p, keep_o = set(kept), set(kept) | {last}
        workers = K.default_workers()
        # A chunk large enough is split among the workers by samples, each running every layer on
        # its own part (see PARALLEL_SAMPLES_MACS); a smaller one runs on the calling thread, its
        # large products still shared row by row.
        parts = min(workers, chunk) if chunk * self._macs >= PARALLEL_SAMPLES_MACS else 1
        single = chunk >= n and parts == 1  # one piece: keep the arrays computed, no copy
        potentials: list[np.ndarray | None] = [None] * len(layers)
        outputs: list[np.ndarray | None] = [None] * len(layers)
        predict = None
        last_layer = layers[last].layer
        if not single:
            for i in keep_p:
                potentials[i] = np.empty((n, *_built(layers[i].layer.output_shape)), np.int32)
            for i in keep_o:
                outputs[i] = np.empty((n, *_built(layers[i].layer.output_shape)),
                                      np.uint8 if layers[i].layer.activation else np.int32)
            if not last_layer.activation:
                predict = np.empty((n, *_built(last_layer.output_shape)), np.float32)
        events = np.empty((n, len(layers)), np.int64)

        def forward(rows: slice) -> None:
            nonlocal predict
            h = x[rows]
            for i, prepared in enumerate(layers):
                p = prepared.potential(h)
                h = prepared.activation(p)
                K.count_nonzero(h, events[rows, i])
                if single:
                    if i in keep_p:  # without activation, the outputs are the int32 potentials
                        potentials[i] = h if not prepared.layer.activation else p.astype(np.int32)
                    if i in keep_o:
                        outputs[i] = h
                else:
                    if i in keep_p:
                        potentials[i][rows] = p  # type: ignore[index]
                    if i in keep_o:
                        outputs[i][rows] = h  # type: ignore[index]
            if not last_layer.activation:
                v = layers[last].variables
                part_predict = K.predict(h, v["threshold"], v["act_step"])
                if single:
                    predict = part_predict
                else:
                    predict[rows] = part_predict  # type: ignore[index]
            K.release_scratch()  # this thread's temporaries, when they grew large

        with tqdm(total=n, unit="sample", disable=not progress, desc=self.model.name) as bar, \
                K.compute_threads(workers):
            for start in range(0, n, chunk):
                m = min(chunk, n - start)
                if parts > 1 and m > 1:
                    cuts = [start + m * k // parts for k in range(parts + 1)]
                    K.in_parts(forward, [slice(lo, hi) for lo, hi in zip(cuts, cuts[1:]) if hi > lo])
                else:
                    forward(slice(start, start + m))
                bar.update(m)
        potentials = [None if a is None else _frozen(a) for a in potentials]
        outputs = [None if a is None else _frozen(a) for a in outputs]
        held_p: Sequence[np.ndarray]
        held_o: Sequence[np.ndarray]
        if keep_all:
            held_p, held_o = [a for a in potentials if a is not None], [a for a in outputs if a is not None]
        else:
            held_p = KeptArrays(self.model, "potentials", potentials, keep)
            held_o = KeptArrays(self.model, "layer_outputs", outputs, keep)
        return SimulationResult(model=self.model, input=_frozen(x), potentials=held_p, layer_outputs=held_o,
                                predict=None if predict is None else _frozen(predict),
                                events_per_sample=_frozen(events), kept=kept)

    def _plan(self, n: int, kept: tuple[int, ...], copy_input: bool, batch_size: int | None) -> int:
        """The chunk size of a run of ``n`` samples, after checking that it fits in memory.

        A run that needs at most :data:`CHUNK_BYTES` in all (kept results and working set) is not
        checked against :func:`memory_budget` unless :data:`MEMORY_BUDGET` is set: asking the
        machine costs more than such a run.
        """
        layers, work = self._layers, self._work
        one, last = max(work), len(layers) - 1
        stored = 8 * len(layers) + (math.prod(self.model.input_shape) if copy_input else 0)
        for i in kept:
            stored += self._potential_bytes[i] + self._output_bytes[i]
        if last not in kept:
            stored += self._output_bytes[last]
        if not layers[last].layer.activation:
            stored += self._potential_bytes[last]  # predict, float32
        held = n * stored
        chunk = min(n, self._chunk if batch_size is None else batch_size)
        if MEMORY_BUDGET is None and held + chunk * one <= CHUNK_BYTES:
            return chunk
        budget = memory_budget()
        if one > budget:
            worst = layers[work.index(one)].layer
            raise SimulationError(worst.name, None, f"one sample needs {_size(one)} of working memory in this "
                                                    f"layer, more than the {_size(budget)} available")
        if held + one > budget:
            what = ("every layer's potentials and outputs" if len(kept) == len(layers)
                    else f"the output and layers {list(kept)}" if kept else "the output")
            raise SimulationError(None, "keep", f"keeping {what} of {n:,} samples needs {_size(held)} plus "
                                                f"{_size(one)} of working memory, more than the {_size(budget)} "
                                                "available: keep='output' or fewer layers, or run fewer samples")
        if held + chunk * one > budget:
            if batch_size is not None:
                raise SimulationError(None, "batch_size", f"{batch_size} samples at once need {_size(chunk * one)} "
                                                          f"of working memory besides {_size(held)} kept, more "
                                                          f"than the {_size(budget)} available")
            chunk = max(1, (budget - held) // one)
        return chunk

    def _input_array(self, x: Any) -> np.ndarray:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as e:  # ragged nested sequences
            raise SimulationError(None, "input", f"expected an integer array, got {brief(x)} ({one_line(str(e), 80)})"
                                  ) from None
        if arr.dtype.kind not in "biu":
            raise SimulationError(None, "input", f"expected integers (uint8), got dtype {arr.dtype}")
        if arr.ndim == 3:
            arr = arr[None]
        shape = self.model.input_shape
        if arr.ndim != 4 or arr.shape[1:] != shape or arr.shape[0] == 0:
            raise SimulationError(None, "input", f"expected shape (N, {', '.join(map(str, shape))}) with N ≥ 1 "
                                                 f"or {shape}, got {brief(np.shape(x))}")
        return arr

    def _check_range(self, arr: np.ndarray) -> None:
        top = (1 << self.model.input_bits) - 1
        if arr.dtype == np.uint8 and top >= 255:  # every uint8 value is an input value
            return
        if int(arr.min()) < 0 or int(arr.max()) > top:
            raise SimulationError(None, "input", f"values must be in [0, {top}] ({self.model.input_bits}-bit "
                                                 f"input), got [{int(arr.min())}, {int(arr.max())}]")

    def __repr__(self) -> str:
        return (f"Simulator(model {self.model.name!r}, {len(self._layers)} layers, input "
                f"{fmt_shape(self.model.input_shape)} ({self.model.input_bits}-bit), "
                f"compute {'/'.join(sorted({p.weights.dtype.name for p in self._layers}))})")
