"""How many neural processors (NPs) a model takes on the AKD1000: an estimate of the mapper.

BrainChip's mapper places every Convolutional and SeparableConvolutional layer on one or more
CNPs and every FullyConnected layer on one FNP; the InputConvolutional layer runs on a separate
input unit (HRC) that is not counted. :func:`estimate_nps` predicts the mapper's answer in its
minimal mode (what the model zoo publishes) with a small model of the hardware, fitted to the
4,836 single-layer mappings in ``tests/data/np_probes.csv`` (see ``benchmarks/np_agreement.py``
for how well it agrees, and where not).

The model, per layer (numbers from ``akd1000-engine.md`` unless marked *fitted*):

* **Input pieces.** The layer's input is cut into ``n0 × n1`` pieces, at most 32 along d0
  (``cnp_max_width``) and 256 along d1 (``cnp_max_height``). A piece holds its input plus the
  kernel's halo, ``(k - 1) // 2`` on each side that borders another piece, with the d0 extent
  rounded up to even (*fitted*); ``extent0 × extent1 × channels × input_bits`` must fit the
  43,008 input bytes of a CNP. The mapper takes the fewest pieces. Strided and pooled layers are
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
* **FullyConnected**: one FNP. FNP3 (internal memory, 8 lanes of 44,800 bits) when
  ``ceil(units / 8)`` neurons of ``inputs · w + 128`` bits fit one lane (*fitted*), otherwise
  FNP2 (weights in external memory). At most 57,334 inputs (``d0 · d1 · c``).

Refusals use the mapper's words: a filter that fits no lane, more NPs than the device has, a
strided max-pooled layer that needs more than one NP, too many FNP inputs. An input that no
tiling fits (not seen in the probes) is refused in the estimate's own words.

Examples
--------
>>> import akida_nb as ak
>>> est = ak.estimate_nps(ak.example("ds_cnn_kws"))
>>> est.attrs["total"], est.attrs["fits"], est.attrs["available"]
(5, True, 78)
>>> est[["layer", "nps", "np_type"]].head(2).values.tolist()
[['conv_0', 0, 'HRC'], ['separable_1', 1, 'CNP1']]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UnknownTargetError
from .model import Layer, Model, fmt_pair

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["NpEstimate", "estimate_layer_nps", "estimate_nps", "compare_with_probes", "refusal_kind", "TARGETS"]

TARGETS = ("akd1000",)

# Device facts, from ../shared/akd1000-engine.md ("The device and neural processors").
AVAILABLE_NPS = 78  # 80 slots in 20 nodes, 2 taken by DMA
# NPs the BrainChip model zoo publishes for its AKD1000 models (packaged examples of the same architectures)
PUBLISHED_TOTALS = {
    "ds_cnn_kws": 5,
    "vgg_utk_face": 6,
    "akidanet_imagenet_a025_224": 22,
    "akidanet_imagenet_a05_160": 24,
    "mobilenet_imagenet_a025_224": 22,
    "akidanet_edge_imagenet_a05_160": 38,
}
FNP3_SLOTS = 18  # NPs that accept CNP1 or FNP3
FNP2_SLOTS = 4  # NPs that accept CNP1 or FNP2
INPUT_BYTES_PER_NP = 43_008
WEIGHT_BYTES_PER_NP = 44_800
CNP_MAX_FILTERS = 504
CNP_MAX_WIDTH = 32  # input piece extent along d0 (akida's "width")
CNP_MAX_HEIGHT = 256  # input piece extent along d1 (akida's "height")
FNP_MAX_INPUTS = 57_334

# The NP model's own constants, fitted to tests/data/np_probes.csv (see the module docstring):
# every filter count per NP the probes show is a multiple of 8, and 5×5 filters fill 44,800 bits
# per lane exactly (e.g. 14 per lane of 5×5×64 at 2 bits = 112 per NP).
LANES = 8  # weight lanes per NP; filters are placed one per lane
LANE_BITS = WEIGHT_BYTES_PER_NP * 8 // LANES  # 44,800 bits
WORD_BITS = 128  # a channel's kernel longer than this takes whole words; pointwise filters round up to it
CONV_MAX_POSITION_BITS = 1024  # c · w of one kernel position; beyond: "Filter size is too big"
SMALL_KERNEL = 3  # kernels up to 3×3 (also 1×1) reserve lane memory per input channel:
SMALL_KERNEL_RESERVE_PER_CHANNEL = 36  # bits per input channel,
FULL_POSITION_RESERVE = 18_432  # and at least this when c · w = CONV_MAX_POSITION_BITS
SEPCONV_RESERVE_PER_CHANNEL = 9  # SeparableConvolutional lane reserve: bits per input channel,
SEPCONV_DEPTHWISE_RESERVE = (15, 64)  # or this fraction of the depthwise weight bits, if larger
FNP_NEURON_OVERHEAD_BITS = 128  # per FullyConnected neuron in an FNP3 lane (probes allow 103 to 294)

_PREFIX = "Cannot map layer '{name}'. "
_FILTER_TOO_BIG = "Filter size is too big to fit in a CNP: try decreasing the input channels or the bitwidth."
_CANNOT_SPLIT = "Cannot split to fit weights in ram."
_NOT_ENOUGH = "Not enough hardware components of type {np_type} available. {n} are needed but {available} are available."
_STRIDE_MAXPOOL = "Cannot have convolution stride > 1 and max pooling if the layer is mapped on multiple NPs."
_FNP_INPUTS = f"Input dimensions are too large to fit in a FNP. The maximum value is {FNP_MAX_INPUTS}."
_NO_TILING = ("The input cannot be split into pieces that fit a CNP's {b:,}-byte input memory "
              "(estimate; the mapper's message for this case was not measured).")


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


def _pieces_along_d1(d1: int, max_extent: int, halo: int) -> int | None:
    """Fewest pieces along d1 whose extent (with halo) is at most ``max_extent`` and ≤ 256."""
    for n in (1, 2):
        if n <= d1 and _ceil_div(d1, n) <= CNP_MAX_HEIGHT and _ceil_div(d1, n) + halo * (n - 1) <= max_extent:
            return n
    t_max = min(max_extent - 2 * halo, CNP_MAX_HEIGHT)
    if t_max < 1:
        return None
    n = max(3, _ceil_div(d1, t_max))
    return n if n <= d1 else None


def _input_pieces(d0: int, d1: int, c: int, bits: int, kernel: tuple[int, int]) -> tuple[int, int] | None:
    """Fewest ``(n0, n1)`` input pieces that fit a CNP's input memory, or None.

    Examples
    --------
    >>> _input_pieces(32, 32, 128, 4, (1, 1)), _input_pieces(16, 300, 16, 4, (3, 3))
    ((1, 2), (1, 2))
    """
    budget = INPUT_BYTES_PER_NP * 8
    h0, h1 = (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
    best: tuple[int, int] | None = None
    for n0 in range(_ceil_div(d0, CNP_MAX_WIDTH), d0 + 1):
        if best is not None and n0 >= best[0] * best[1]:
            break
        extent0 = _ceil_div(d0, n0) + h0 * min(n0 - 1, 2)
        extent0 += extent0 % 2
        n1 = _pieces_along_d1(d1, budget // (extent0 * c * bits), h1)
        if n1 is not None and (best is None or n0 * n1 < best[0] * best[1]):
            best = (n0, n1)
    return best


def _conv_filters_per_lane(kernel: tuple[int, int], c: int, w: int) -> int:
    per_channel = kernel[0] * kernel[1] * w
    if per_channel > WORD_BITS:
        per_channel = _ceil_div(per_channel, WORD_BITS) * WORD_BITS
    if c * w > CONV_MAX_POSITION_BITS:
        return 0
    reserve = 0
    if max(kernel) <= SMALL_KERNEL:
        reserve = SMALL_KERNEL_RESERVE_PER_CHANNEL * c
        if c * w == CONV_MAX_POSITION_BITS:
            reserve = max(reserve, FULL_POSITION_RESERVE)
    return max(LANE_BITS - reserve, 0) // (per_channel * c)


def _sepconv_filters_per_lane(kernel: tuple[int, int], c: int, w: int) -> int:
    num, den = SEPCONV_DEPTHWISE_RESERVE
    reserve = max(SEPCONV_RESERVE_PER_CHANNEL * c, _ceil_div(num * kernel[0] * kernel[1] * c * w, den))
    pointwise = _ceil_div(c * w, WORD_BITS) * WORD_BITS
    return max(LANE_BITS - reserve, 0) // pointwise


def _fc_estimate(layer: Layer, prefix: str) -> NpEstimate:
    d0, d1, c = layer.input_shape
    inputs = d0 * d1 * c
    if inputs > FNP_MAX_INPUTS:
        return NpEstimate(None, "FNP2", f"{inputs} inputs (d0·d1·c) exceed an FNP's {FNP_MAX_INPUTS}",
                          prefix + _FNP_INPUTS)
    per_lane = _ceil_div(layer.units, LANES)
    lane_bits = per_lane * (inputs * layer.weights_bits + FNP_NEURON_OVERHEAD_BITS)
    fits = lane_bits <= LANE_BITS
    how = (f"{per_lane} neurons per lane × ({inputs} inputs × {layer.weights_bits} bits + "
           f"{FNP_NEURON_OVERHEAD_BITS}) = {lane_bits:,} bits {'≤' if fits else '>'} a {LANE_BITS:,}-bit FNP3 lane")
    if fits:
        return NpEstimate(1, "FNP3", f"one FNP3: {how}")
    return NpEstimate(1, "FNP2", f"one FNP2 (weights in external memory): {how}")


def estimate_layer_nps(layer: Layer) -> NpEstimate:
    """Estimate the NPs one layer takes on the AKD1000 (the mapper's minimal mode).

    The layer must come from a :class:`~akida_nb.Model` (its input shape and input bits are
    used). The model of the hardware is described in :mod:`akida_nb.nps`; it does not check
    the layer against the target's rules (that is :func:`akida_nb.check`'s business).

    Parameters
    ----------
    layer : Layer
        A layer of a model.

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
    >>> e.refused
    "Cannot map layer 'L0_Convolutional'. Filter size is too big to fit in a CNP: try decreasing the input channels or the bitwidth."
    >>> m = ak.Model.from_dict({"input": {"shape": [32, 32, 256], "bits": 4}, "layers": [
    ...     {"type": "Convolutional", "kernel_size": 3, "filters": 64, "weights_bits": 2}]})
    >>> e = estimate_layer_nps(m.layers[0])
    >>> e.nps, e.refused
    (8, '')
    >>> print(e.why)
    input 32×32×256 at 4 bits in 4 pieces (1 along d0 × 4 along d1) × 64 filters in 2 groups of ≤ 56 (weight memory)
    """
    prefix = _PREFIX.format(name=layer.name)
    if layer.type == "InputConvolutional":
        return NpEstimate(0, "HRC", "runs on the HRC input unit, which is not counted among the NPs")
    if layer.type == "FullyConnected":
        return _fc_estimate(layer, prefix)

    d0, d1, c = layer.input_shape
    kernel, w = layer.kernel_size, layer.weights_bits
    if layer.type == "SeparableConvolutional":
        per_lane = _sepconv_filters_per_lane(kernel, c, w)
        if per_lane < 1:
            return NpEstimate(None, "CNP1", "the depthwise reserve leaves no lane room for one pointwise filter",
                              prefix + _CANNOT_SPLIT)
    else:
        per_lane = _conv_filters_per_lane(kernel, c, w)
        if per_lane < 1:
            why = (f"{c} channels × {w} bits = {c * w} weight bits per kernel position > {CONV_MAX_POSITION_BITS}"
                   if c * w > CONV_MAX_POSITION_BITS else
                   f"one {fmt_pair(kernel)}×{c} filter at {w} bits fits no {LANE_BITS:,}-bit weight lane")
            return NpEstimate(None, "CNP1", why, prefix + _FILTER_TOO_BIG)
    per_np = min(LANES * per_lane, CNP_MAX_FILTERS)
    limit = "the 504-filter limit" if per_np == CNP_MAX_FILTERS else "weight memory"

    pieces = _input_pieces(d0, d1, c, layer.input_bits, kernel)
    if pieces is None:
        return NpEstimate(None, "CNP1", f"input {d0}×{d1}×{c} has no tiling into CNP input memory",
                          prefix + _NO_TILING.format(b=INPUT_BYTES_PER_NP))
    n0, n1 = pieces
    groups = _ceil_div(layer.filters, per_np)
    nps = n0 * n1 * groups
    where = (f"input {d0}×{d1}×{c} at {layer.input_bits} bits in "
             + ("1 piece" if n0 * n1 == 1 else f"{n0 * n1} pieces ({n0} along d0 × {n1} along d1)"))
    what = (f"{layer.filters} filters in " + ("1 group" if groups == 1 else f"{groups} groups")
            + f" of ≤ {per_np} ({limit})")
    why = f"{where} × {what}"
    if nps > AVAILABLE_NPS:
        return NpEstimate(nps, "CNP1", why,
                          prefix + _NOT_ENOUGH.format(np_type="CNP1", n=nps, available=AVAILABLE_NPS))
    if nps > 1 and layer.pool_type == "max" and max(layer.kernel_stride) > 1:
        return NpEstimate(nps, "CNP1", why, prefix + _STRIDE_MAXPOOL)
    return NpEstimate(nps, "CNP1", why)


def estimate_nps(model: Model, target: str = "akd1000") -> "pd.DataFrame":
    """Estimate the NPs each layer of a model takes, and whether the model fits the device.

    Parameters
    ----------
    model : Model
    target : str
        Only ``"akd1000"`` (the mapper's current AKD1000 rules) for now.

    Returns
    -------
    pandas.DataFrame
        One row per layer: ``layer`` (name), ``type``, ``nps`` (nullable int: ``<NA>`` for a
        refused layer with no count), ``np_type``, ``why``, ``refused`` (the mapper's message,
        or ``""``). ``attrs["total"]`` is the sum of ``nps``; ``attrs["available"]`` the device's
        78 NPs; ``attrs["fits"]`` is True when no layer is refused, the total is at most 78,
        and the FullyConnected layers fit the device's 18 FNP3 and 4 FNP2 slots.

    Raises
    ------
    UnknownTargetError
        For any target other than ``"akd1000"`` (a :class:`~akida_nb.AkidaNbError`).

    Examples
    --------
    >>> import akida_nb as ak
    >>> est = estimate_nps(ak.example("akidanet_imagenet_a025_224"))
    >>> est.attrs["total"], est.attrs["fits"]
    (22, True)
    >>> est.loc[1, "why"]
    'input 112×112×8 at 4 bits in 4 pieces (4 along d0 × 1 along d1) × 16 filters in 1 group of ≤ 504 (the 504-filter limit)'
    >>> estimate_nps(ak.example("ds_cnn_kws"), "nsoc_v2")
    Traceback (most recent call last):
    ...
    akida_nb.errors.UnknownTargetError: unknown target 'nsoc_v2'; known targets: akd1000
    """
    import pandas as pd

    if target not in TARGETS:
        raise UnknownTargetError(target, TARGETS)
    estimates = [estimate_layer_nps(layer) for layer in model.layers]
    df = pd.DataFrame({
        "layer": [layer.name for layer in model.layers],
        "type": [layer.type for layer in model.layers],
        "nps": pd.array([e.nps for e in estimates], dtype="Int64"),
        "np_type": [e.np_type for e in estimates],
        "why": [e.why for e in estimates],
        "refused": [e.refused for e in estimates],
    })
    total = int(df["nps"].sum())
    fnp = df["np_type"].value_counts()
    df.attrs["total"] = total
    df.attrs["available"] = AVAILABLE_NPS
    df.attrs["fits"] = bool(all(e.mapped for e in estimates) and total <= AVAILABLE_NPS
                            and fnp.get("FNP3", 0) <= FNP3_SLOTS and fnp.get("FNP2", 0) <= FNP2_SLOTS)
    return df


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


def compare_with_probes(probes: "pd.DataFrame") -> "pd.DataFrame":
    """Compare the estimate with single-layer mapper measurements (the ``np_probes.csv`` format).

    Parameters
    ----------
    probes : pandas.DataFrame
        Columns ``type, kernel, stride, padding, input_bits, in_d0, in_d1, in_channels,
        filters`` (units for FullyConnected), ``weights_bits`` and the mapper's answer:
        ``nps``, ``np_types`` (empty when refused) and ``error`` (its message, empty when
        mapped). Each row is mapped as a one-layer model named ``L0_<type>``.

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
    estimates = [estimate_layer_nps(Model.from_dict(_probe_spec(row)).layers[0]) for row in out.itertuples()]
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
