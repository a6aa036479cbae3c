"""How many neural processors (NPs) a model takes on the AKD1000 or the AKD1500, in how many passes.

BrainChip's mapper places every Convolutional and SeparableConvolutional layer on one or more
CNPs and every FullyConnected layer on one FNP; the InputConvolutional layer runs on a separate
input unit (HRC) that is not counted. :func:`estimate_nps` predicts the mapper's answer in its
minimal mode (what the model zoo publishes) with a small model of the hardware, fitted to the
4,836 single-layer mappings in ``tests/data/np_probes.csv`` (see ``benchmarks/np_agreement.py``
for how well it agrees, and where not).

The device is data: a target's ``device:`` block (``data/targets/akd1000.yaml``,
``data/targets/akd1500.yaml``) holds the NP mesh (NP slots by the NP types they accept, in the
order convolutional layers take them), whether the mapper splits a model into passes
(``multipass``: the AKD1500's does, the AKD1000's refuses instead), which NP types serve one
layer per model (``once_per_model``: the AKD1500's FNP2), which type a layer falls back to
(``fallback``: FNP3 → FNP2) and every constant of the model below, each marked there as measured
or fitted; :func:`get_device` reads it, so a new device needs a data file, not code. The model,
per layer (the AKD1000's numbers, from ``akd1000-engine.md`` unless marked *fitted*; the AKD1500
takes 512 filters per CNP and 81,920 FullyConnected inputs):

* **Input pieces.** The layer's input is cut into ``n0 × n1`` pieces, at most 32 along d0
  (``cnp_max_width``) and 256 along d1 (``cnp_max_height``). A piece holds its input plus the
  kernel's halo, ``(k - 1) // 2`` on each side that borders another piece, with the d0 extent
  rounded up to even (*fitted*); ``extent0 × extent1 × channels × input_bits`` must fit the
  43,008 input bytes of a CNP. The mapper takes the fewest pieces (found in a bounded number of
  steps, however large the input). Strided and pooled layers are
  cut by their input too (pooling is done inside the layer's NPs).
* **Filters per NP.** A CNP's 44,800 weight bytes work as 8 lanes of 44,800 bits, and filters
  are placed 8 at a time, one per lane (*fitted*), at most 504 per NP (``cnp_max_filters``).
  A lane holds as many filters as fit after a reserve:

  - Convolutional: a filter costs ``k0 · k1 · w`` bits per input channel, except that a
    channel's kernel longer than a 128-bit word takes whole words (7×7 at 4 bits: 196 → 256).
    At most 1,024 weight bits per kernel position (``c · w``). Kernels up to 3×3 reserve 36
    bits per input channel, and at least 18,432 bits when ``c · w`` is the full 1,024 (*fitted*).
  - SeparableConvolutional: a filter is its pointwise part, ``c · w`` bits rounded up to 128;
    the lane reserves ``max(9 · c, 15/64 · depthwise bits)`` for the depthwise part (*fitted*).
* **NPs** = input pieces × ``ceil(filters / filters per NP)``.
* **FullyConnected**: one FNP. FNP3 (internal memory) when ``units × (inputs' · s + 128)`` bits
  fit its 43,008 bytes, ``inputs'`` being ``d0 · d1 · c`` rounded up to 32 and ``s`` the bits
  stored per weight (1, 2 and 6 for 1-, 2- and 4-bit weights; measured by bisection on both
  devices), otherwise FNP2 (weights in external memory). At most 57,334 inputs (``d0 · d1 · c``),
  and at most 2,048 channels when ``d0 · d1 > 1``.

**The whole model** (:func:`place_layers`): the layers are placed in order on the mesh, pass by
pass, the way the mapper does (measured on 389 whole models, ``tests/data/akd1500/``): which NP
type each FullyConnected takes when its type runs short, which pass each layer goes in, and where
the mapper refuses the model.

Refusals use the mapper's words: a filter that fits no lane, more NPs than the device (or the
pass) has, a strided max-pooled Convolutional on several NPs, overlapping max pooling or average
pooling on a split input, too many FNP inputs, a shortage of an NP type in the whole model. An
input that no tiling fits (not seen in the probes) is refused in the estimate's own words.

Examples
--------
>>> import akida_nb as ak
>>> est = ak.estimate_nps(ak.example("ds_cnn_kws"))
>>> est.attrs["total"], est.attrs["fits"], est.attrs["available"]
(5, True, 78)
>>> est[["layer", "nps", "np_type", "pass"]].head(2).values.tolist()
[['conv_0', 0, 'HRC', 1], ['separable_1', 1, 'CNP1', 1]]
>>> big = ak.estimate_nps(ak.example("akidanet_edge_imagenet_a05_160"), "akd1500")
>>> big.attrs["maps"], big.attrs["passes"], big.groupby("pass")["nps"].sum().tolist()
(True, 2, [23, 15])
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .errors import SpecError, UnknownTargetError, brief, one_line
from .model import LAYER_TYPES, Layer, Model, ensure_model, fmt_pair
from .targets import Target, get_target, targets

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "Device",
    "NpEstimate",
    "compare_with_probes",
    "device_targets",
    "estimate_layer_nps",
    "estimate_nps",
    "get_device",
    "layer_np_contexts",
    "np_contexts_and_estimate",
    "place_layers",
    "Placement",
    "refusal_kind",
]

# NPs the BrainChip model zoo publishes for its AKD1000 models (packaged examples of the same architectures);
# test and benchmark data, not used by the estimate.
PUBLISHED_TOTALS = {
    "ds_cnn_kws": 5,
    "vgg_utk_face": 6,
    "akidanet_imagenet_a025_224": 22,
    "akidanet_imagenet_a05_160": 24,
    "mobilenet_imagenet_a025_224": 22,
    "akidanet_edge_imagenet_a05_160": 38,
}

_PREFIX = "Cannot map layer '{name}'. "
_FILTER_TOO_BIG = "Filter size is too big to fit in a CNP: try decreasing the input channels or the bitwidth."
_CANNOT_SPLIT = "Cannot split to fit weights in ram."
_NOT_ENOUGH = ("Not enough hardware components of type {np_type} available. "
               "{n} are needed but {available} are available.")
_STRIDE_MAXPOOL = "Cannot have convolution stride > 1 and max pooling if the layer is mapped on multiple NPs."
_FNP_INPUTS = "Input dimensions are too large to fit in a FNP. The maximum value is {max}."
_FNP_CHANNELS = "The maximum input channel value is {max} (got {got})."
_AVG_SPLIT = "With average pooling, spatial split is impossible."
_OVERLAP_POOL = "Cannot have pooling size > pooling stride if the layer is mapped spatially on multiple NPs."
_NO_TILING = ("The input cannot be split into pieces that fit a CNP's {b:,}-byte input memory "
              "(estimate; the mapper's message for this case was not measured).")
_INT64_MAX = 2 ** 63 - 1  # larger counts show as <NA> in the DataFrame's Int64 column (the text keeps them)


@dataclass(frozen=True)
class Device:
    """A device's NP mesh and the constants of its NP model, read from a target's ``device:`` block.

    The block's keys: ``name``, ``mesh`` (a list of ``{types: [...], count: n}``: NP slots by the NP
    types they accept), ``takes`` (NP type → the layer types it takes), ``multipass`` (whether the
    mapper splits a model that does not fit into several passes), ``np_model`` (the constants
    below, each commented in the data file as measured or fitted) and, optionally,
    ``once_per_model`` (NP types whose NPs serve one layer per model, whatever the passes) and
    ``fallback`` (NP type → the type a layer takes when the slots of its own type run out).

    Examples
    --------
    >>> d = get_device("akd1000")
    >>> d.name, d.nps, d.slots("FNP3"), d.slots("FNP2"), d.multipass
    ('AKD1000', 78, 18, 4, False)
    >>> d.lane_bits, d.fallback, d.once_per_model
    (44800, {'FNP3': 'FNP2'}, ())
    """

    name: str
    mesh: tuple[tuple[tuple[str, ...], int], ...]
    takes: Mapping[str, tuple[str, ...]]
    multipass: bool
    input_bytes: int
    weight_bytes: int
    cnp_max_filters: int
    cnp_max_width: int
    cnp_max_height: int
    fnp_max_inputs: int
    lanes: int
    word_bits: int
    conv_max_position_bits: int
    small_kernel: int
    small_kernel_reserve_per_channel: int
    full_position_reserve: int
    sepconv_reserve_per_channel: int
    sepconv_depthwise_reserve: tuple[int, int]
    fnp_neuron_overhead_bits: int
    d0_extent_even: bool
    fnp3_weight_bytes: int
    fnp_input_granule: int
    fnp3_stored_bits: tuple[tuple[int, int], ...]
    fnp_max_spatial_channels: int
    once_per_model: tuple[str, ...] = ()
    fallback: Mapping[str, str] = field(default_factory=dict)

    @property
    def nps(self) -> int:
        """All NPs of the mesh."""
        return sum(count for _, count in self.mesh)

    @property
    def lane_bits(self) -> int:
        """Bits of one weight lane: an NP's weight memory shared by its lanes."""
        return self.weight_bytes * 8 // self.lanes

    def slots(self, np_type: str) -> int:
        """How many NPs accept ``np_type``."""
        return sum(count for types, count in self.mesh if np_type in types)

    def stored_bits(self, weights_bits: int) -> int | None:
        """Bits an FNP3 stores per weight of ``weights_bits`` bits (``None``: not measured, the layer takes an FNP2)."""
        return dict(self.fnp3_stored_bits).get(weights_bits)

    @classmethod
    def from_mapping(cls, raw: Any, where: str) -> Device:
        """Read a ``device:`` block; ``where`` names it in errors (e.g. ``"akd1000.device"``).

        Examples
        --------
        >>> Device.from_mapping({"name": "X"}, "t.device")
        Traceback (most recent call last):
        ...
        akida_nb.errors.SpecError: t.device: missing key(s): mesh, multipass, np_model, takes
        """
        top = {"name", "mesh", "takes", "multipass", "np_model"}
        optional = {"once_per_model", "fallback"}
        _keys(raw, where, top, optional)
        consts = {f.name for f in fields(cls)} - top - optional
        _keys(raw["np_model"], f"{where}.np_model", consts)
        mesh = []
        for i, group in enumerate(_seq(raw["mesh"], f"{where}.mesh")):
            _keys(group, f"{where}.mesh[{i}]", {"types", "count"})
            mesh.append((_names(group["types"], f"{where}.mesh[{i}].types"),
                         _positive(group["count"], f"{where}.mesh[{i}].count")))
        takes = {str(k): _names(v, f"{where}.takes.{k}") for k, v in _mapping(raw["takes"], f"{where}.takes").items()}
        fallback = {str(k): _name(v, f"{where}.fallback.{k}")
                    for k, v in _mapping(raw.get("fallback", {}), f"{where}.fallback").items()}
        _known_names(where, mesh, takes, fallback)
        once = _names(raw["once_per_model"], f"{where}.once_per_model") if raw.get("once_per_model") else ()
        values: dict[str, Any] = {}
        for key in consts:
            value, at = raw["np_model"][key], f"{where}.np_model.{key}"
            if key == "d0_extent_even":
                values[key] = _flag(value, at)
            elif key in ("sepconv_depthwise_reserve", "fnp3_stored_bits"):
                values[key] = _pairs(value, at) if key == "fnp3_stored_bits" else _pair_of(value, at)
            else:
                values[key] = _positive(value, at)
        if not isinstance(raw["name"], str) or not raw["name"]:
            raise SpecError(f"{where}.name", f"must be a non-empty string, got {brief(raw['name'])}")
        return cls(name=raw["name"], mesh=tuple(mesh), takes=takes,
                   multipass=_flag(raw["multipass"], f"{where}.multipass"), once_per_model=once,
                   fallback=fallback, **values)


NP_TYPES = ("CNP1", "CNP2", "FNP2", "FNP3", "HRC")
"""The NP types of the Akida 1.0 mesh the NP model knows (the HRC input unit included)."""


def _known_names(where: str, mesh: Sequence[tuple[tuple[str, ...], int]], takes: Mapping[str, tuple[str, ...]],
                 fallback: Mapping[str, str]) -> None:
    """Refuse NP types and layer types the NP model does not know, and a layer type no NP type takes."""
    named = [(f"{where}.mesh[{i}].types", t) for i, (types, _) in enumerate(mesh) for t in types]
    named += [(f"{where}.takes", t) for t in takes]
    named += [(f"{where}.fallback.{k}", t) for k, v in fallback.items() for t in (k, v)]
    for at, name in named:
        if name not in NP_TYPES:
            raise SpecError(at, f"unknown NP type {brief(name)} (NP types: {', '.join(NP_TYPES)})")
    for np_type, layer_types in takes.items():
        for layer_type in layer_types:
            if layer_type not in LAYER_TYPES:
                raise SpecError(f"{where}.takes.{np_type}",
                                f"unknown layer type {brief(layer_type)} (layer types: {', '.join(LAYER_TYPES)})")
    untaken = [t for t in LAYER_TYPES if not any(t in v for v in takes.values())]
    if untaken:
        raise SpecError(f"{where}.takes", f"no NP type takes {', '.join(untaken)}")


def _keys(raw: Any, where: str, expected: set[str], optional: frozenset[str] | set[str] = frozenset()) -> None:
    if not isinstance(raw, Mapping):
        raise SpecError(where, f"must be a mapping, got {brief(raw)}")
    missing, unknown = expected - set(raw), set(raw) - expected - optional
    if missing:
        raise SpecError(where, f"missing key(s): {', '.join(sorted(missing))}")
    if unknown:
        raise SpecError(where, one_line(f"unknown key(s): {brief(sorted(map(str, unknown)))} (allowed: "
                                        f"{', '.join(sorted(expected | optional))})", 200))


def _mapping(value: Any, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise SpecError(where, f"must map NP types to names, got {brief(value)}")
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(where, f"must be a name, got {brief(value)}")
    return value


def _pair_of(value: Any, where: str) -> tuple[int, int]:
    pair = _seq(value, where)
    if len(pair) != 2:
        raise SpecError(where, f"must be [numerator, denominator], got {brief(value)}")
    return _positive(pair[0], where), _positive(pair[1], where)


def _pairs(value: Any, where: str) -> tuple[tuple[int, int], ...]:
    return tuple(_pair_of(item, where) for item in _seq(value, where))


def _seq(value: Any, where: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise SpecError(where, f"must be a list, got {brief(value)}")
    return list(value)


def _names(value: Any, where: str) -> tuple[str, ...]:
    names = _seq(value, where)
    if not names or not all(isinstance(n, str) for n in names):
        raise SpecError(where, f"must be a non-empty list of names, got {brief(value)}")
    return tuple(names)


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(where, f"must be a positive integer, got {brief(value)}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(where, f"must be true or false, got {brief(value)}")
    return value


def device_targets() -> tuple[str, ...]:
    """The names of the known targets that have a device (an NP model), in table order.

    Examples
    --------
    >>> "akd1000" in device_targets(), "nsoc_v2" in device_targets()
    (True, False)
    """
    return tuple(name for name in targets()["name"] if get_target(name).device is not None)


def get_device(target: str | Target | Device = "akd1000") -> Device:
    """The device of a target (its NP mesh and NP model), from the target's ``device:`` block.

    Raises
    ------
    UnknownTargetError
        For an unknown target, or one without a device; the message names the targets that have one.
    SpecError
        For a malformed ``device:`` block.

    Examples
    --------
    >>> get_device("akd1000").cnp_max_filters
    504
    >>> get_device("nsoc_v2")
    Traceback (most recent call last):
    ...
    akida_nb.errors.UnknownTargetError: target 'nsoc_v2' has no device (no NP model); targets with a device: \
akd1000, akd1500
    """
    if isinstance(target, Device):
        return target
    t = get_target(target)
    if t.device is None:
        err = UnknownTargetError(t.name, device_targets())
        known = ", ".join(err.known) or "none"
        err.args = (f"target {t.name!r} has no device (no NP model); targets with a device: {known}",)
        raise err
    return Device.from_mapping(t.device, f"{t.name}.device")


@dataclass(frozen=True)
class NpEstimate:
    """The estimated mapping of one layer.

    Attributes
    ----------
    nps : int or None
        NPs the layer takes (0 for InputConvolutional, on the HRC unit). A layer refused for
        needing more NPs than the device has carries that need; ``None`` when no count exists.
    np_type : str
        ``"CNP1"``, ``"FNP3"``, ``"FNP2"`` or ``"HRC"``.
    why : str
        How the count comes about: input pieces and filter groups, or the FNP's memory.
    refused : str
        The mapper's refusal message, or ``""`` when the layer maps.

    Examples
    --------
    >>> import akida_nb as ak
    >>> e = ak.nps.estimate_layer_nps(ak.example("vgg_utk_face").layers[1])
    >>> e.nps, e.np_type, e.mapped
    (1, 'CNP1', True)
    """

    nps: int | None
    np_type: str
    why: str
    refused: str = ""

    @property
    def mapped(self) -> bool:
        """True when the layer maps (``refused`` is empty)."""
        return not self.refused


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _num(n: int) -> str:
    """``n`` with thousands separators, or its digit count when Python would refuse to format it."""
    return f"{n:,}" if n.bit_length() <= 200 else brief(n)


def _pieces_along_d1(d1: int, max_extent: int, halo: int, dev: Device) -> int | None:
    """Fewest pieces along d1 whose extent (with halo) is at most ``max_extent`` and ``cnp_max_height``.

    Never more for a larger ``max_extent`` (``None``, no tiling, counts as infinitely many).
    """
    for n in (1, 2):
        if n <= d1 and _ceil_div(d1, n) <= dev.cnp_max_height and _ceil_div(d1, n) + halo * (n - 1) <= max_extent:
            return n
    t_max = min(max_extent - 2 * halo, dev.cnp_max_height)
    if t_max < 1:
        return None
    n = max(3, _ceil_div(d1, t_max))
    return n if n <= d1 else None


def _input_pieces(d0: int, d1: int, c: int, bits: int, kernel: tuple[int, int],
                  dev: Device) -> tuple[int, int] | None:
    """Fewest ``(n0, n1)`` input pieces that fit a CNP's input memory (fewest along d0 on a tie), or None.

    The answer of trying every ``n0`` from ``ceil(d0 / cnp_max_width)`` to ``d0``, in a bounded
    number of steps: from ``n0 = 3`` on, a piece's d0 extent never grows with ``n0``, so ``n1`` never
    rises; ``n1`` takes at most ``cnp_max_height + 2`` values, and bisection finds the fewest ``n0``
    that brings each lower one. At most about ``258 × log2(d0)`` evaluations, whatever the sizes.

    Examples
    --------
    >>> dev = get_device("akd1000")
    >>> _input_pieces(32, 32, 128, 4, (1, 1), dev), _input_pieces(16, 300, 16, 4, (3, 3), dev)
    ((1, 2), (1, 2))
    >>> _input_pieces(10 ** 9, 10 ** 9, 1, 4, (3, 3), dev)
    (31250000, 3906250)
    """
    budget = dev.input_bytes * 8
    h0, h1 = (kernel[0] - 1) // 2, (kernel[1] - 1) // 2

    def n1_for(n0: int) -> int | float:  # pieces along d1 when d0 is cut in n0; inf: no tiling
        extent0 = _ceil_div(d0, n0) + h0 * min(n0 - 1, 2)
        if dev.d0_extent_even:
            extent0 += extent0 % 2
        n1 = _pieces_along_d1(d1, budget // (extent0 * c * bits), h1, dev)
        return math.inf if n1 is None else n1

    best: tuple[int, int] | None = None

    def better(n0: int, n1: float) -> bool:
        return n1 != math.inf and (best is None or n0 * n1 < best[0] * best[1])

    first = _ceil_div(d0, dev.cnp_max_width)
    for n0 in range(first, min(2, d0) + 1):  # the halo grows from 1 to 3 pieces: try these directly
        n1 = n1_for(n0)
        if better(n0, n1):
            best = (n0, int(n1))
    n0, last = max(first, 3), n1_for(d0)
    while n0 <= d0 and (best is None or n0 < best[0] * best[1]):
        n1 = n1_for(n0)
        if better(n0, n1):
            best = (n0, int(n1))
        if last >= n1:  # no larger n0 takes fewer pieces along d1
            break
        lo, hi = n0 + 1, d0  # the fewest n0 with fewer pieces along d1 (d0 has)
        while lo < hi:
            mid = (lo + hi) // 2
            if n1_for(mid) < n1:
                hi = mid
            else:
                lo = mid + 1
        n0 = lo
    return best


def _conv_filters_per_lane(kernel: tuple[int, int], c: int, w: int, dev: Device) -> int:
    per_channel = kernel[0] * kernel[1] * w
    if per_channel > dev.word_bits:
        per_channel = _ceil_div(per_channel, dev.word_bits) * dev.word_bits
    if c * w > dev.conv_max_position_bits:
        return 0
    reserve = 0
    if max(kernel) <= dev.small_kernel:
        reserve = dev.small_kernel_reserve_per_channel * c
        if c * w == dev.conv_max_position_bits:
            reserve = max(reserve, dev.full_position_reserve)
    return max(dev.lane_bits - reserve, 0) // (per_channel * c)


def _sepconv_filters_per_lane(kernel: tuple[int, int], c: int, w: int, dev: Device) -> int:
    num, den = dev.sepconv_depthwise_reserve
    reserve = max(dev.sepconv_reserve_per_channel * c, _ceil_div(num * kernel[0] * kernel[1] * c * w, den))
    pointwise = _ceil_div(c * w, dev.word_bits) * dev.word_bits
    return max(dev.lane_bits - reserve, 0) // pointwise


def _fc_estimate(layer: Layer, prefix: str, dev: Device) -> NpEstimate:
    d0, d1, c = layer.input_shape
    inputs = d0 * d1 * c
    if inputs > dev.fnp_max_inputs:
        return NpEstimate(None, "FNP2", f"{brief(inputs)} inputs (d0·d1·c) exceed an FNP's {dev.fnp_max_inputs}",
                          prefix + _FNP_INPUTS.format(max=dev.fnp_max_inputs))
    if d0 * d1 > 1 and c > dev.fnp_max_spatial_channels:
        return NpEstimate(None, "FNP2", f"a {brief(d0)}×{brief(d1)} input of {brief(c)} channels (more than "
                                        f"{dev.fnp_max_spatial_channels} with d0·d1 > 1)",
                          prefix + _FNP_CHANNELS.format(max=dev.fnp_max_spatial_channels, got=brief(c)))
    stored = dev.stored_bits(layer.weights_bits)
    granule = dev.fnp_input_granule
    padded = _ceil_div(inputs, granule) * granule
    budget = dev.fnp3_weight_bytes * 8
    if stored is None:
        return NpEstimate(1, "FNP2", f"one FNP2 (weights in external memory): {layer.weights_bits}-bit weights "
                                     "are not stored in an FNP3")
    need = layer.outputs * (padded * stored + dev.fnp_neuron_overhead_bits)
    fits = need <= budget
    how = (f"{brief(layer.outputs)} neurons × ({brief(padded)} inputs × {stored} bits + "
           f"{dev.fnp_neuron_overhead_bits}) = {_num(need)} bits {'≤' if fits else '>'} an FNP3's {_num(budget)}")
    if fits:
        return NpEstimate(1, "FNP3", f"one FNP3: {how}")
    return NpEstimate(1, "FNP2", f"one FNP2 (weights in external memory): {how}")


def estimate_layer_nps(layer: Layer, target: str | Target | Device = "akd1000") -> NpEstimate:
    """Estimate the NPs one layer takes on a target's device (the mapper's minimal mode).

    The layer must come from a :class:`~akida_nb.Model` (its input shape and input bits are
    used). The model of the hardware is described in :mod:`akida_nb.nps`; its constants come from
    the target's ``device:`` block (see :func:`get_device`). It does not check the layer against
    the target's rules (that is :func:`akida_nb.check`'s business).

    Parameters
    ----------
    layer : Layer
        A layer of a model.
    target : str, Target or Device
        A target with a device (default ``"akd1000"``).

    Returns
    -------
    NpEstimate

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.Model.from_dict({"input": {"shape": [32, 32, 512], "bits": 4}, "layers": [
    ...     {"type": "Convolutional", "kernel_size": 3, "filters": 64, "weights_bits": 4}]})
    >>> e = estimate_layer_nps(m.layers[0])
    >>> e.nps, e.np_type
    (None, 'CNP1')
    >>> e.refused == ("Cannot map layer 'L0_Convolutional'. Filter size is too big to fit in a CNP: "
    ...               "try decreasing the input channels or the bitwidth.")
    True
    >>> m = ak.Model.from_dict({"input": {"shape": [32, 32, 256], "bits": 4}, "layers": [
    ...     {"type": "Convolutional", "kernel_size": 3, "filters": 64, "weights_bits": 2}]})
    >>> e = estimate_layer_nps(m.layers[0], "akd1000")
    >>> e.nps, e.refused
    (8, '')
    >>> print(e.why)
    input 32×32×256 at 4 bits in 4 pieces (1 along d0 × 4 along d1) × 64 filters in 2 groups of ≤ 56 (weight memory)
    """
    dev = get_device(target)
    prefix = _PREFIX.format(name=layer.name)
    if layer.type == "InputConvolutional":
        return NpEstimate(0, "HRC", "runs on the HRC input unit, which is not counted among the NPs")
    if layer.type == "FullyConnected":
        return _fc_estimate(layer, prefix, dev)

    d0, d1, c = layer.input_shape
    (kernel, stride, _), w = layer.geometry(), layer.weights_bits
    if layer.type == "SeparableConvolutional":
        per_lane = _sepconv_filters_per_lane(kernel, c, w, dev)
        if per_lane < 1:
            return NpEstimate(None, "CNP1", "the depthwise reserve leaves no lane room for one pointwise filter",
                              prefix + _CANNOT_SPLIT)
    else:
        per_lane = _conv_filters_per_lane(kernel, c, w, dev)
        if per_lane < 1:
            why = (f"{brief(c)} channels × {w} bits = {brief(c * w)} weight bits per kernel position > "
                   f"{dev.conv_max_position_bits}" if c * w > dev.conv_max_position_bits else
                   f"one {fmt_pair(kernel)}×{brief(c)} filter at {w} bits fits no {_num(dev.lane_bits)}-bit "
                   "weight lane")
            return NpEstimate(None, "CNP1", why, prefix + _FILTER_TOO_BIG)
    per_np = min(dev.lanes * per_lane, dev.cnp_max_filters)
    limit = f"the {dev.cnp_max_filters}-filter limit" if per_np == dev.cnp_max_filters else "weight memory"

    shape = f"{brief(d0)}×{brief(d1)}×{brief(c)}"
    pieces = _input_pieces(d0, d1, c, layer.input_bits, kernel, dev)
    if pieces is None:
        return NpEstimate(None, "CNP1", f"input {shape} has no tiling into CNP input memory",
                          prefix + _NO_TILING.format(b=dev.input_bytes))
    n0, n1 = pieces
    groups = _ceil_div(layer.outputs, per_np)
    nps = n0 * n1 * groups
    spread = "1 piece" if n0 * n1 == 1 else f"{brief(n0 * n1)} pieces ({brief(n0)} along d0 × {brief(n1)} along d1)"
    where = f"input {shape} at {layer.input_bits} bits in {spread}"
    what = (f"{brief(layer.outputs)} filters in " + ("1 group" if groups == 1 else f"{brief(groups)} groups")
            + f" of ≤ {per_np} ({limit})")
    why = f"{where} × {what}"
    if nps > dev.nps:
        return NpEstimate(nps, "CNP1", why,
                          prefix + _NOT_ENOUGH.format(np_type="CNP1", n=brief(nps), available=dev.nps))
    pool_refusals = []  # the mapper states both when both apply
    if nps > 1 and layer.pool_type == "max" and max(stride) > 1 and layer.type == "Convolutional":
        pool_refusals.append(_STRIDE_MAXPOOL)
    if n0 * n1 > 1 and layer.pool_type == "max" and any(a > b for a, b in zip(*layer.pooling())):
        pool_refusals.append(_OVERLAP_POOL)
    if pool_refusals:
        return NpEstimate(nps, "CNP1", why, prefix + " ".join(pool_refusals))
    # average pooling refuses a split along d0, or along d1 beyond the height limit's (fitted: 8×300 maps on 2 NPs)
    if layer.pool_type == "average" and (n0 > 1 or n1 > _ceil_div(d1, dev.cnp_max_height)):
        return NpEstimate(nps, "CNP1", why, prefix + _AVG_SPLIT)
    return NpEstimate(nps, "CNP1", why)


def _not_enough(np_type: str, needed: int, available: int) -> str:
    """The mapper's shortage message, with its singular for one NP."""
    verb = "is" if needed == 1 else "are"
    verb_available = "is" if available == 1 else "are"
    return (f"Not enough hardware components of type {np_type} available. {_num(needed)} {verb} needed but "
            f"{available} {verb_available} available.")


@dataclass(frozen=True)
class Placement:
    """Where the mapper puts one layer of a whole model (see :func:`place_layers`).

    Attributes
    ----------
    np_type : str
        The NP type the layer takes in the model: the estimate's own, or its ``fallback``
        when the slots of that type run out (an FNP3-sized FullyConnected on the FNP2).
    pass_index : int or None
        The hardware pass, from 1; ``None`` for a layer the mapper does not reach (it stops at
        the first refusal) or refuses.
    refused : str
        The mapper's refusal of the model at this layer (a shortage of NPs), with its
        ``Cannot map layer '…'.`` prefix, or ``""``. A layer's own refusal stays in its
        :class:`NpEstimate`.
    how : str
        A remark on the placement (``""`` when the layer takes its own type in the current pass).

    Examples
    --------
    >>> Placement("FNP2", 1, "", "the pass's FNP3 NPs are taken").pass_index
    1
    """

    np_type: str
    pass_index: int | None
    refused: str = ""
    how: str = ""


def place_layers(layers: Sequence[Layer], estimates: Sequence[NpEstimate], dev: Device) -> list[Placement]:
    """Place a model's layers on the device's mesh the way the mapper does, pass after pass.

    Layers are placed greedily in order. A Convolutional or SeparableConvolutional layer takes
    its NPs from the mesh groups in the order the device block lists them (measured: CNP1-only
    NPs first, then CNP1+CNP2, CNP1+FNP3 and last CNP1+FNP2); a FullyConnected layer takes one
    free NP of its type, or of its ``fallback`` type (the FNP2) when none is free. An NP used
    as a type listed in ``once_per_model`` serves no later pass. A layer that does not fit
    opens the next pass on a ``multipass`` device, where it must fit beside the NPs of a previous
    convolutional layer (measured on the AKD1500: the mapper's "available" count is then the
    device's NPs less that layer's; the layers after it may use them); otherwise, or if it does
    not fit there either, the mapper refuses the model at that layer. The mapper stops at the
    first refusal (a layer's own or the model's). O(layers × mesh groups), whatever the input sizes.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.Model.from_dict({"input": {"shape": [1, 1, 16], "bits": 4}, "layers": [
    ...     {"type": "FullyConnected", "units": 16, "weights_bits": 4} for _ in range(19)]})
    >>> dev = get_device("akd1500")
    >>> placed = place_layers(m.layers, [estimate_layer_nps(layer, dev) for layer in m.layers], dev)
    >>> [p.pass_index for p in placed].count(1), placed[7].np_type, placed[-1].pass_index
    (8, 'FNP2', 3)
    """
    groups = [types for types, _ in dev.mesh]
    counts = [count for _, count in dev.mesh]
    gone = [0] * len(groups)  # NPs used as a once-per-model type: no later pass has them

    def fresh(keep: list[int] | None) -> tuple[list[int], list[int]]:
        free = [c - g for c, g in zip(counts, gone)]
        held = [0] * len(groups)  # NPs taken by convolutional layers in this pass
        for g, k in enumerate(keep or ()):
            free[g] -= k
            held[g] += k
        return free, held

    def take(np_type: str, n: int, free: list[int]) -> list[int] | None:
        got = [0] * len(groups)
        if np_type == "CNP1":
            need = n
            for g, types in enumerate(groups):
                if "CNP1" in types and need:
                    got[g] = min(free[g], need)
                    need -= got[g]
            return None if need else got
        slot = next((g for g, types in enumerate(groups) if np_type in types and free[g] >= n), None)
        if slot is None:
            return None
        got[slot] = n
        return got

    out: list[Placement] = []
    pass_index, used = 1, 0
    free, held = fresh(None)
    previous: list[int] | None = None  # the NPs of the previous convolutional layer (None after an FC)
    stopped = False
    for layer, est in zip(layers, estimates):
        if stopped:
            out.append(Placement(est.np_type, None))
            continue
        if est.np_type == "HRC":
            out.append(Placement("HRC", 1 if est.mapped else None))
            stopped = not est.mapped
            continue
        too_many = est.nps is not None and est.np_type == "CNP1" and est.nps > dev.nps
        if not est.mapped and not too_many:
            out.append(Placement(est.np_type, None))
            stopped = True
            continue
        n = int(est.nps or 0)
        chain = [est.np_type]
        while chain[-1] in dev.fallback and dev.fallback[chain[-1]] not in chain:
            chain.append(dev.fallback[chain[-1]])
        state = (free, held)
        found = next(((t, got) for t in chain if (got := take(t, n, free)) is not None), None)
        if found is None and dev.multipass and used:
            state = fresh(previous)
            found = next(((t, got) for t in chain if (got := take(t, n, state[0])) is not None), None)
            if found is not None:  # the previous layer's NPs are free again for the layers after this one
                pass_index, used = pass_index + 1, 0
                free, held = state
                for g, k in enumerate(previous or ()):
                    free[g] += k
                    held[g] -= k
        if found is None:
            out.append(Placement(est.np_type, None, _PREFIX.format(name=layer.name)
                                 + _shortage(est.np_type, chain, n, state, groups)))
            stopped = True
            continue
        np_type, got = found
        for g, k in enumerate(got):
            free[g] -= k
            if np_type == "CNP1":
                held[g] += k
            elif np_type in dev.once_per_model:
                gone[g] += k
        used += n
        previous = got if np_type == "CNP1" else None
        out.append(Placement(np_type, pass_index, "", "" if np_type == est.np_type else
                             f"the {est.np_type} NPs of the pass are taken: on the {np_type}"))
    return out


def _shortage(np_type: str, chain: list[str], n: int, state: tuple[list[int], list[int]],
              groups: list[tuple[str, ...]]) -> str:
    """The mapper's shortage message: the last type tried whose NPs convolutional layers hold, else the layer's own."""
    free, held = state
    shown = np_type
    for fallback in chain[1:]:
        if any(held[g] for g, types in enumerate(groups) if fallback in types):
            shown = fallback
    available = sum(free[g] for g, types in enumerate(groups) if shown in types)
    return _not_enough(shown, n, max(available, 0))


def estimate_nps(model: Model, target: str | Target = "akd1000") -> pd.DataFrame:
    """Estimate how the mapper maps a whole model: NPs, NP type and pass of each layer, and its verdict.

    Each layer's NPs come from :func:`estimate_layer_nps`; :func:`place_layers` then places
    the layers on the device's mesh in order, as the mapper does: which NP type each layer
    takes when types run short, which hardware pass it goes in (on a ``multipass`` device such
    as the AKD1500), and where the mapper refuses the model.

    Parameters
    ----------
    model : Model
    target : str or Target
        A target with a device (its ``device:`` block: the NP mesh and the NP model's
        constants): ``"akd1000"`` or ``"akd1500"`` (see :func:`device_targets`).

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``layer`` (name), ``type``, ``nps`` (nullable int: ``<NA>`` for a
        refused layer with no count, or a count beyond int64, which ``why`` and ``refused``
        still state), ``np_type`` (the type the layer takes in the model), ``pass`` (nullable
        int, from 1; ``<NA>`` where the mapper stops), ``why``, ``refused`` (the mapper's
        message for the layer or for the model at that layer, or ``""``).
        ``attrs``: ``total`` (the layers' NPs, the InputConvolutional's HRC not counted),
        ``available`` (the device's NPs: one pass), ``passes`` (hardware passes used),
        ``maps`` (the mapper accepts the model, in any number of passes), ``fits`` (it maps
        in one pass), ``device`` (the device's name) and ``multipass``.

    Raises
    ------
    UnknownTargetError
        For an unknown target or a target without a device (a :class:`~akida_nb.AkidaNbError`);
        the message names the targets that have one.

    Examples
    --------
    >>> import akida_nb as ak
    >>> est = estimate_nps(ak.example("akidanet_imagenet_a025_224"))
    >>> est.attrs["total"], est.attrs["fits"], est.attrs["passes"]
    (22, True, 1)
    >>> est.loc[1, "why"] == ("input 112×112×8 at 4 bits in 4 pieces (4 along d0 × 1 along d1) "
    ...                       "× 16 filters in 1 group of ≤ 504 (the 504-filter limit)")
    True
    >>> big = estimate_nps(ak.example("akidanet_edge_imagenet_a05_160"), "akd1500")
    >>> big.attrs["total"], big.attrs["passes"], big.attrs["maps"], big.attrs["fits"]
    (38, 2, True, False)
    >>> estimate_nps(ak.example("ds_cnn_kws"), "nsoc_v2")
    Traceback (most recent call last):
    ...
    akida_nb.errors.UnknownTargetError: target 'nsoc_v2' has no device (no NP model); targets with a device: \
akd1000, akd1500
    """
    ensure_model(model)
    dev = get_device(target)
    estimates = [estimate_layer_nps(layer, dev) for layer in model.layers]
    return _frame(model, dev, estimates, place_layers(model.layers, estimates, dev))


def _frame(model: Model, dev: Device, estimates: list[NpEstimate], placed: list[Placement]) -> pd.DataFrame:
    """The :func:`estimate_nps` frame from the per-layer estimates and their placement."""
    import pandas as pd

    counts = [e.nps if e.nps is None or e.nps <= _INT64_MAX else None for e in estimates]
    df = pd.DataFrame({
        "layer": [layer.name for layer in model.layers],
        "type": [layer.type for layer in model.layers],
        "nps": pd.array(counts, dtype="Int64"),
        "np_type": [p.np_type for p in placed],
        "pass": pd.array([p.pass_index for p in placed], dtype="Int64"),
        "why": [e.why + (f"; {p.how}" if p.how else "") for e, p in zip(estimates, placed)],
        "refused": [p.refused or e.refused for e, p in zip(estimates, placed)],
    })
    maps = all(e.mapped for e in estimates) and not any(p.refused for p in placed)
    passes = max((p.pass_index or 0 for p in placed), default=0)
    df.attrs.update(total=sum(e.nps or 0 for e in estimates), available=dev.nps, passes=passes, maps=maps,
                    fits=maps and passes <= 1, device=dev.name, multipass=dev.multipass)
    return df


def layer_np_contexts(model: Model, target: str | Target = "akd1000") -> list[dict]:
    """Per layer, what the rules on NP use judge: ``nps``, ``np_refused`` and ``cumulative_nps``.

    ``nps`` is the layer's estimated count (``None`` when refused without one), ``np_refused``
    the mapper's refusal of the layer, or of the whole model at that layer (a shortage of NPs
    of a type, see :func:`place_layers`), without its ``Cannot map layer '…'.`` prefix (the
    report names the layer), or ``""``; ``cumulative_nps`` (only for a layer that maps) the NPs
    of the mapped layers so far, this one included. A context provider for :func:`akida_nb.check`.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ctx = layer_np_contexts(ak.example("ds_cnn_kws"), "akd1000")
    >>> ctx[0], ctx[-1]
    ({'nps': 0, 'np_refused': '', 'cumulative_nps': 0}, {'nps': 1, 'np_refused': '', 'cumulative_nps': 5})
    """
    return np_contexts_and_estimate(model, target)[0]


def np_contexts_and_estimate(model: Model, target: str | Target = "akd1000") -> tuple[list[dict], pd.DataFrame]:
    """:func:`layer_np_contexts` and :func:`estimate_nps` from one estimate (what a check on a device needs).

    Examples
    --------
    >>> import akida_nb as ak
    >>> ctx, est = np_contexts_and_estimate(ak.example("ds_cnn_kws"), "akd1000")
    >>> ctx[-1]["cumulative_nps"] == est.attrs["total"]
    True
    """
    dev = get_device(target)
    estimates = [estimate_layer_nps(layer, dev) for layer in model.layers]
    placed = place_layers(model.layers, estimates, dev)
    return _contexts(model, estimates, placed), _frame(model, dev, estimates, placed)


def _contexts(model: Model, estimates: list[NpEstimate], placed: list[Placement]) -> list[dict]:
    out, running = [], 0
    for layer, est, place in zip(model.layers, estimates, placed):
        prefix = _PREFIX.format(name=layer.name)
        reason = (place.refused or est.refused).removeprefix(prefix)
        ctx: dict[str, Any] = {"nps": est.nps, "np_refused": reason}
        if est.mapped:
            running += est.nps or 0
            ctx["cumulative_nps"] = running
        out.append(ctx)
    return out


REFUSAL_KINDS = {
    "Filter size is too big": "filter too big",
    "Cannot split to fit weights": "cannot split",
    "Not enough hardware components": "not enough NPs",
    "Cannot have convolution stride": "stride with max pooling",
    "Input dimensions are too large": "FNP inputs",
}


def refusal_kind(message: str) -> str:
    """The kind of a mapper message: ``"mapped"`` for ``""``, a short name, or ``"other"``.

    Examples
    --------
    >>> refusal_kind(""), refusal_kind("Cannot map layer 'x'. Cannot split to fit weights in ram.")
    ('mapped', 'cannot split')
    """
    if not message:
        return "mapped"
    return next((kind for key, kind in REFUSAL_KINDS.items() if key in message), "other")


def _probe_spec(row) -> dict:
    layer = {"type": row.type, "weights_bits": int(row.weights_bits)}
    if row.type == "FullyConnected":
        layer["units"] = int(row.filters)
    else:
        layer.update(kernel_size=int(row.kernel), kernel_stride=int(row.stride), padding=row.padding,
                     filters=int(row.filters))
    return {"input": {"shape": [int(row.in_d0), int(row.in_d1), int(row.in_channels)], "bits": int(row.input_bits)},
            "layers": [layer]}


def compare_with_probes(probes: pd.DataFrame, target: str | Target = "akd1000") -> pd.DataFrame:
    """Compare the estimate with single-layer mapper measurements (the ``np_probes.csv`` format).

    Parameters
    ----------
    probes : pandas.DataFrame
        Columns ``type, kernel, stride, padding, input_bits, in_d0, in_d1, in_channels,
        filters`` (units for FullyConnected), ``weights_bits`` and the mapper's answer:
        ``nps``, ``np_types`` (empty when refused) and ``error`` (its message, empty when
        mapped). Each row is mapped as a one-layer model named ``L0_<type>``.
    target : str or Target
        The target whose device was probed (default ``"akd1000"``).

    Returns
    -------
    pandas.DataFrame
        The probes with ``est_nps``, ``est_np_type``, ``est_error``, ``kind`` and ``est_kind``
        (see :func:`refusal_kind`), ``agrees`` (same message, and the same NP count when mapped:
        a "not enough" message carries the count) and ``type_agrees`` (same NP type when both
        map).

    Examples
    --------
    >>> import pandas as pd
    >>> probes = pd.DataFrame([dict(type="Convolutional", kernel=3, stride=1, padding="same", input_bits=4,
    ...     in_d0=20, in_d1=20, in_channels=256, filters=100, weights_bits=2, nps=4, np_types="CNP1", error="")])
    >>> compare_with_probes(probes)[["est_nps", "est_np_type", "agrees"]].values.tolist()
    [[4, 'CNP1', True]]
    """
    import pandas as pd

    out = probes.copy()
    measured = out["error"].fillna("").astype(str)
    dev = get_device(target)
    estimates = [estimate_layer_nps(Model.from_dict(_probe_spec(row)).layers[0], dev) for row in out.itertuples()]
    out["est_nps"] = pd.array([e.nps for e in estimates], dtype="Int64")
    out["est_np_type"] = [e.np_type for e in estimates]
    out["est_error"] = [e.refused for e in estimates]
    out["kind"] = [refusal_kind(m) for m in measured]
    out["est_kind"] = [refusal_kind(e.refused) for e in estimates]
    mapped = out["kind"] == "mapped"
    same_count = pd.Series(out["est_nps"].astype("Float64").to_numpy() == out["nps"].astype("Float64").to_numpy(),
                           index=out.index).fillna(False)
    out["agrees"] = (measured == out["est_error"]) & (~mapped | same_count)
    out["type_agrees"] = ~mapped | (out["np_types"] == out["est_np_type"])
    return out
