"""The automatic fixes, one documented function each, registered with their declared order.

Every fix has the signature ``(model, target, variables=None) -> (new model, change rows,
new variables)``: it leaves its inputs untouched, works on the layers that violate the
rules it addresses (or, for an engine quirk, on the layers the quirk concerns), and
returns one :class:`~akida_nb.fixes.edit.Change` per change with its exactness. Given
variables (as the :class:`~akida_nb.sim.Simulator` takes them) it carries them over:
bit-exact where the fix is exact, approximately rescaled (and marked so) where it is not.

Each fix is written as a *plan* step for one layer (a plan, or a
:class:`~akida_nb.fixes.registry.Refusal` saying why not) and an *apply* step making the
planned edits; :func:`~akida_nb.fixes.registry.register` declares it (what it addresses,
what it runs after and why, its exactness) and :meth:`~akida_nb.fixes.registry.Fix.attempt`
is the one driver that runs them.

Examples
--------
>>> import akida_nb as ak
>>> model, changes, _ = identity_after_maxpool(ak.example("broken"), "nsoc_v2")
>>> [l.name for l in model.layers], changes[0].exact
(['conv_bad', 'sep_avg', 'conv_pool', 'conv_pool_identity', 'classifier'], True)
"""
from __future__ import annotations

from itertools import product
from typing import Any, NamedTuple

import numpy as np

from ..errors import SpecError
from ..model import Model
from ..present import format_value
from ..rules import Rule, layer_context
from ..sim.kernels import INT20_MAX, STEP_MODULUS, same_pads
from ..targets import Target
from .edit import (
    Change,
    Edit,
    Variables,
    identity_layer,
    identity_variables,
    is_identity,
    pool_fc_weights,
    potential_bound,
    requantize,
    rescale_activation,
)
from .registry import Refusal, register

__all__ = ["clamp_bits", "fix_avgpool_size", "identity_after_maxpool", "input_conv_to_conv", "pad_avgpool_filters",
           "pad_kernel", "pool_before_fc", "split_maxpool", "stride_to_maxpool", "valid_to_same",
           "widen_pool_to_stride"]

FixOutput = tuple[Model, list[Change], Variables | None]
BitSlots = dict[tuple[str, str | None], int]
"""clamp_bits' plan: the new width of each ``("weights" | "act", layer name)`` or ``("input", None)`` slot."""
CNP_TYPES = ("Convolutional", "SeparableConvolutional")
"""The layer types Akida's helper calls CNPs (the max-pooling notes concern them)."""
DOWNSAMPLING_STRIDES = (2, 3)
"""Square max-pooling strides (= sizes) :func:`fix_avgpool_size` tries, up to three times."""
AFTER_CLAMP_BITS = "the identity layers it inserts copy the bit widths clamp_bits has set around them"
"""Why a fix inserting identity layers runs after clamp_bits (a reason several fixes declare)."""
AFTER_INPUT_CONV = "it treats the Convolutional that replaces an InputConvolutional"
"""Why a fix runs after input_conv_to_conv (a reason several fixes declare)."""


# ---------------------------------------------------------------------------- shared helpers
def _allowed_bits(model: Model, target: Target, i: int, field: str) -> set[int]:
    """Bit widths 1–8 that every applicable allowed/range rule on ``field`` of layer ``i`` accepts."""
    ctx = layer_context(model, i)
    allowed = set(range(1, 9))
    for rule in target.rules_for(model.layers[i].type):
        if rule.field != field or not rule.applies(ctx):
            continue
        if rule.kind == "allowed":
            allowed &= {v for v in rule.values if isinstance(v, int)}
        elif rule.kind == "range":
            allowed &= {b for b in range(1, 9)
                        if (rule.min is None or b >= rule.min) and (rule.max is None or b <= rule.max)}
    return allowed


def _nearest(current: int, allowed: set[int]) -> int:
    """The allowed width closest to ``current``; ties go to the wider one (it loses less)."""
    return min(allowed, key=lambda b: (abs(b - current), -b))


def _shift_note(old: int, new: int) -> str:
    op = f"x >> {old - new}" if new < old else f"x << {new - old}"
    return f"feed inputs quantized to {new} bits ({op} for {old}-bit data)"


def _judge(model: Model, target: Target, i: int, ids: frozenset[str]) -> list[Rule]:
    """The rules among ``ids`` that layer ``i`` of ``model`` breaks."""
    ctx = layer_context(model, i)
    return [r for r in target.rules_for(model.layers[i].type)
            if r.id in ids and r.applies(ctx) and r.judge(ctx) is not None]


def _try_model(model: Model, layers: list[dict], input_bits: int | None = None) -> Model | None:
    """``model`` with other layer dicts (and input bits), or None when the shapes do not work out."""
    spec = model.to_dict()
    spec["layers"] = layers
    if input_bits is not None:
        spec["input"]["bits"] = input_bits
    try:
        return Model.from_dict(spec)
    except SpecError:
        return None


# ---------------------------------------------------------------------------- input_conv_to_conv
class _ToConv(NamedTuple):
    input_bits: int | None                     # the model input's new bits (None: they stay)
    pads_differ: bool                          # some padding cell held padding_value ≠ 0


def _plan_input_conv(model: Model, target: Target, i: int) -> _ToConv | Refusal:
    layer = model.layers[i]
    if layer.type != "InputConvolutional":
        return Refusal("not an InputConvolutional layer")
    layers = model.to_dict()["layers"]
    layers[i]["type"] = "Convolutional"
    del layers[i]["padding_value"]
    bits = None
    if i == 0:
        converted = _try_model(model, layers)
        allowed = _allowed_bits(converted, target, 0, "input_bits") if converted else set()
        if allowed and model.input_bits not in allowed:
            bits = _nearest(model.input_bits, allowed)
    (k0, k1), (s0, s1), padding = layer.geometry()
    d0, d1, _ = layer.input_shape
    padded = padding == "same" and (any(same_pads(d0, k0, s0)) or any(same_pads(d1, k1, s1)))
    return _ToConv(bits, padded and layer.padding_value != 0)


def _apply_input_conv(e: Edit, model: Model, i: int, plan: _ToConv) -> None:
    layer = model.layers[i]
    note = "kernel flipped on both axes: a Convolutional convolves where the InputConvolutional correlates"
    if plan.pads_differ:
        note += f"; padding cells become 0 instead of {layer.padding_value}"
    e.set(layer.name, "type", "Convolutional", exact=not plan.pads_differ, note=note)
    del e.layer(layer.name)["padding_value"]
    lv = e.vars(layer.name)
    if lv is not None:
        e.set_vars(layer.name, dict(lv, weights=np.ascontiguousarray(lv["weights"][::-1, ::-1])))
    if plan.input_bits is not None:
        old, new = model.input_bits, plan.input_bits
        e.set_input_bits(new, exact=False, note=_shift_note(old, new) + "; the first layer's threshold "
                         f"and act_step are scaled by 2**{new - old}")
        lv = e.vars(layer.name)
        if lv is not None:
            e.set_vars(layer.name, rescale_activation(lv, 2.0 ** (new - old)))


def input_conv_to_conv(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Replace an InputConvolutional layer by a Convolutional one reading quantized input.

    For the pre-production chip (no image input layer) and for inputs whose channel count
    the InputConvolutional does not take. The kernel is flipped on both spatial axes (the
    InputConvolutional correlates, a Convolutional convolves: docs/design.md#the-image-layer-correlates), so
    the potentials are unchanged; padding cells become 0 instead of ``padding_value``; the
    model input's bits go to the nearest width a Convolutional reads (8 → 4), and the first
    layer's threshold and act_step are scaled with the input (2**(new − old)) — the data
    must then be fed quantized (``x >> 4``). Other parameters stay; fixes that run later
    (``clamp_bits``, ``stride_to_maxpool``) handle weights and strides.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = input_conv_to_conv(ak.example("ds_cnn_kws"), "nsoc_v1")
    >>> m.layers[0].type, m.input_bits, [c.what for c in changes]
    ('Convolutional', 4, ['type', 'input bits'])
    """
    return INPUT_CONV_TO_CONV.attempt(model, target, variables).output


INPUT_CONV_TO_CONV = register(
    input_conv_to_conv, plan=_plan_input_conv, apply=_apply_input_conv, exact="conditional",
    exact_when="when the model input keeps its bit width (a Convolutional must read 1, 2 or 4 bits) "
               "and no padding cell differs (padding_value 0, or no padding)")


# ---------------------------------------------------------------------------- valid_to_same
class _Padding(NamedTuple):
    exact: bool
    note: str


def _plan_valid(model: Model, target: Target, i: int) -> _Padding | Refusal:
    layer = model.layers[i]
    if not layer.is_conv or layer.padding != "valid":
        return Refusal("the layer has no 'valid' padding")
    nxt = model.layers[i + 1] if i + 1 < len(model.layers) else None
    if layer.kernel_size == (1, 1) and layer.pool_type != "max":
        return _Padding(True, "1×1 kernel: no padding either way")
    if (layer.kernel_stride == (1, 1) and layer.pool_type == "none" and nxt is not None
            and nxt.type == "FullyConnected"):
        return _Padding(True, "the output grows by the border positions; the FullyConnected after it gets zero "
                              "weights for them, so its potentials are unchanged")
    if layer.pool_type == "average":
        return _Padding(False, "the global sum now includes the border positions")
    return _Padding(False, "the output grows by border positions computed on zero padding; later layers see "
                           "them (a later FullyConnected gets zero weights for new positions, centred)")


def _apply_valid(e: Edit, model: Model, i: int, plan: _Padding) -> None:
    e.set(model.layers[i].name, "padding", "same", exact=plan.exact, note=plan.note)


def valid_to_same(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Switch a convolution from 'valid' to 'same' padding where the target only takes 'same'.

    The output keeps the input's size instead of shrinking by the kernel. Later
    layers take the larger shapes; a later FullyConnected keeps its weights at the old
    positions (centred, which is where 'same' puts a 'valid' output) and gets zero
    weights for the new border positions — exact when it follows directly a stride-1
    layer without pooling, approximate otherwise. A 1×1 kernel pads nothing: exact,
    unless the layer max-pools (the pooling follows the layer's padding too).

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = valid_to_same(ak.example("broken"), "nsoc_v2")
    >>> m.layers[0].padding, m.layers[0].output_shape, changes[0].exact
    ('same', (40, 10, 16), False)
    """
    return VALID_TO_SAME.attempt(model, target, variables).output


VALID_TO_SAME = register(
    valid_to_same, plan=_plan_valid, apply=_apply_valid, exact="conditional",
    exact_when="for 1×1 kernels without max pooling, and for a stride-1 layer without pooling followed "
               "by a FullyConnected (which gets zero weights for the new border positions)",
    after={"input_conv_to_conv": AFTER_INPUT_CONV})


# ---------------------------------------------------------------------------- pad_kernel
def _kernel_rule(rule: Rule) -> bool:
    return rule.field == "kernel_size" and rule.kind in ("allowed", "equal_axes", "odd") and not rule.when


def _kernel_offsets(n: tuple[int, int], k: tuple[int, int], big: int, s: tuple[int, int]) -> tuple[int, int] | None:
    """Per axis, where a k-window sits inside the big-window under 'same' padding (None: not inside)."""
    offsets = []
    for n_a, k_a, s_a in zip(n, k, s):
        delta = same_pads(n_a, big, s_a)[0] - same_pads(n_a, k_a, s_a)[0]
        if not 0 <= delta <= big - k_a:
            return None
        offsets.append(delta)
    return offsets[0], offsets[1]


class _Grow(NamedTuple):
    size: int                                  # the new square kernel
    offsets: tuple[int, int]                   # where the old kernel sits in it (unflipped)


def _plan_kernel(model: Model, target: Target, i: int) -> _Grow | Refusal:
    layer = model.layers[i]
    if not layer.is_conv:
        return Refusal("not a convolution")
    ids = PAD_KERNEL.rule_ids(target)
    k, stride, padding = layer.geometry()
    if padding != "same":
        return Refusal("'valid' padding: a larger kernel would shrink the output ('same' padding would keep it)")
    for big in range(max(k), max(k) + 9):
        layers = model.to_dict()["layers"]
        layers[i]["kernel_size"] = [big, big]
        candidate = _try_model(model, layers)
        if candidate is None or _judge(candidate, target, i, ids):
            continue
        offsets = _kernel_offsets(layer.input_shape[:2], k, big, stride)
        if offsets is None:
            return Refusal(f"a {big}×{big} kernel's 'same' padding would not align with the {format_value(k)} "
                           f"kernel's on this {format_value(layer.input_shape[:2])} input")
        return _Grow(big, offsets)
    return Refusal(f"no square kernel from {max(k)}×{max(k)} up satisfies the target's kernel rules")


def _apply_kernel(e: Edit, model: Model, i: int, plan: _Grow) -> None:
    layer, big = model.layers[i], plan.size
    e.set(layer.name, "kernel_size", (big, big), exact=True,
          note=f"the {format_value(layer.kernel_size)} weights sit inside a {big}×{big} kernel of zeros, aligned "
               "with the 'same' padding: same windows, same potentials")
    lv = e.vars(layer.name)
    if lv is not None:
        w = lv["weights"]
        grown = np.zeros((big, big, *w.shape[2:]), w.dtype)
        (k0, k1), (d0, d1) = layer.geometry()[0], plan.offsets
        if layer.type != "InputConvolutional":  # docs/design.md#convolution-is-a-true-convolution
            d0, d1 = big - k0 - d0, big - k1 - d1
        grown[d0:d0 + k0, d1:d1 + k1] = w
        e.set_vars(layer.name, dict(lv, weights=grown))


def pad_kernel(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Grow an unsupported kernel (3×5, 1×1 separable, 4×4 …) to the smallest supported square one.

    The old weights sit inside the new kernel, zeros around them, exactly where 'same'
    padding aligns the two windows, so every potential is unchanged: exact. Applies to
    'same' padding only (with 'valid' the output would shrink). A depthwise 1×1 kernel
    becomes a 3×3 one with the weight at the centre.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = pad_kernel(ak.example("broken"), "nsoc_v1")
    >>> m.layers[1].kernel_size, changes[0].before, changes[0].after, changes[0].exact
    ((3, 3), '1×1', '3×3', True)
    """
    return PAD_KERNEL.attempt(model, target, variables).output


PAD_KERNEL = register(
    pad_kernel, plan=_plan_kernel, apply=_apply_kernel, exact="yes", matches=_kernel_rule,
    exact_when="always (it only applies where the smaller kernel's windows sit inside the larger ones)",
    after={"input_conv_to_conv": AFTER_INPUT_CONV,
           "valid_to_same": "it grows kernels under 'same' padding only, which valid_to_same sets"})


# ---------------------------------------------------------------------------- stride_to_maxpool
class _Unstride(NamedTuple):
    average: bool                              # global average pooling: the stride just goes


def _plan_stride(model: Model, target: Target, i: int) -> _Unstride | Refusal:
    layer = model.layers[i]
    if not layer.is_conv or layer.kernel_stride == (1, 1):
        return Refusal("the layer has stride 1")
    if layer.pool_type == "max":
        return Refusal("the layer already has max pooling: fold the stride into the pooling by hand "
                "(stride 1 and a larger pooling stride)")
    if layer.pool_type == "average":
        return _Unstride(average=True)
    stride = layer.geometry()[1]
    layers = model.to_dict()["layers"]
    layers[i].update(kernel_stride=[1, 1], pool_type="max", pool_size=list(stride), pool_stride=list(stride))
    candidate = _try_model(model, layers)
    if candidate is None or candidate.layers[i].output_shape != layer.output_shape:
        return Refusal("with 'valid' padding the pooled output would not keep the strided output's shape "
                "(with 'same' padding it would)")
    return _Unstride(average=False)


def _apply_stride(e: Edit, model: Model, i: int, plan: _Unstride) -> None:
    layer = model.layers[i]
    stride = layer.geometry()[1]
    if plan.average:
        e.set(layer.name, "kernel_stride", (1, 1), exact=False,
              note="the global sum now covers every position, not every stride-th one")
        return
    e.set(layer.name, "kernel_stride", (1, 1), exact=False,
          note=f"the convolution now runs at every position; a {format_value(stride)} max pooling downsamples")
    e.set(layer.name, "pool_type", "max", exact=False, note=f"max pooling {format_value(stride)}/"
          f"{format_value(stride)}: each output is the maximum of its window's potentials (clipped to 20 bits), "
          "not one sample")
    e.layer(layer.name).update(pool_size=list(stride), pool_stride=list(stride))


def stride_to_maxpool(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Replace an unsupported convolution stride by stride 1 and a max pooling of the same size.

    The output keeps its shape ('same' padding), but each output is now the maximum
    of the stride-1 potentials over its window (clipped to 20 bits) instead of the one
    potential the stride kept: approximate — this is the workaround the tables teach
    ("downsample with max pooling instead"). With global average pooling the stride just
    goes (the sum then covers every position). A layer that already has max pooling is
    left alone.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = stride_to_maxpool(ak.example("gxnor_mnist"), "nsoc_v1")
    >>> l = m.layers[1]
    >>> l.kernel_stride, l.pool_type, l.pool_size, l.output_shape
    ((1, 1), 'max', (2, 2), (7, 7, 64))
    """
    return STRIDE_TO_MAXPOOL.attempt(model, target, variables).output


STRIDE_TO_MAXPOOL = register(
    stride_to_maxpool, plan=_plan_stride, apply=_apply_stride, exact="no",
    exact_when="never: the maximum of each window replaces the subsampled value",
    after={"input_conv_to_conv": AFTER_INPUT_CONV,
           "valid_to_same": "the pooled output keeps the strided output's shape only under 'same' padding",
           "pad_kernel": "the kernel is made exact on the layer's own stride, before the stride becomes pooling"})


# ---------------------------------------------------------------------------- widen_pool_to_stride
def _pool_stride_rule(rule: Rule) -> bool:
    return rule.field == "pool_stride" and rule.kind == "le_field" and rule.other == "pool_size"


def _plan_widen(model: Model, target: Target, i: int) -> tuple[int, ...] | Refusal:
    """The widened pooling size, or why not."""
    layer = model.layers[i]
    if layer.pool_type != "max":
        return Refusal("the layer has no max pooling")
    size = tuple(max(p, s) for p, s in zip(*layer.pooling()))
    layers = model.to_dict()["layers"]
    layers[i]["pool_size"] = list(size)
    candidate = _try_model(model, layers)
    if candidate is None or candidate.layers[i].output_shape != layer.output_shape:
        return Refusal(f"a {format_value(size)} window would change the pooled output's shape ('valid' padding)")
    return size


def _apply_widen(e: Edit, model: Model, i: int, size: tuple[int, ...]) -> None:
    e.set(model.layers[i].name, "pool_size", size, exact=False,
          note="each window now covers its whole stride: the maximum is taken over more positions")


def widen_pool_to_stride(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Widen a max-pooling window to its stride where the stride exceeds the size.

    Pooling windows may overlap but never skip input. With 'same' padding the output
    shape depends on the stride only, so it stays; each maximum now covers the
    positions the old windows skipped: approximate.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = widen_pool_to_stride(ak.example("broken"), "nsoc_v2")
    >>> m.layers[2].pool_size, m.layers[2].pool_stride
    ((3, 3), (3, 3))
    """
    return WIDEN_POOL_TO_STRIDE.attempt(model, target, variables).output


WIDEN_POOL_TO_STRIDE = register(
    widen_pool_to_stride, plan=_plan_widen, apply=_apply_widen, exact="no", matches=_pool_stride_rule,
    exact_when="never: each maximum is taken over a larger window",
    after={"stride_to_maxpool": "the max poolings exist once stride_to_maxpool has added its own"})


# ---------------------------------------------------------------------------- clamp_bits
def _plan_bits(model: Model, target: Target, i: int) -> BitSlots | Refusal:
    """Bit slots of layer ``i`` to change: ``{("weights"|"act", layer) or ("input", None): bits}``."""
    layers = model.layers
    layer = layers[i]
    plan: BitSlots = {}
    slots: list[tuple[tuple[str, str | None], int, set[int], str]] = [
        (("weights", layer.name), layer.weights_bits, _allowed_bits(model, target, i, "weights_bits"),
         f"{layer.name!r} weights_bits")]
    if layer.activation:
        allowed = _allowed_bits(model, target, i, "act_bits")
        if i + 1 < len(layers):
            allowed &= _allowed_bits(model, target, i + 1, "input_bits")
        slots.append((("act", layer.name), layer.act_bits, allowed,
                      f"{layer.name!r} act_bits and the next layer's input bits"))
    if i == 0:
        slots.append((("input", None), model.input_bits, _allowed_bits(model, target, 0, "input_bits"),
                      "the model input's bits"))
    else:
        prev = layers[i - 1]
        slots.append((("act", prev.name), prev.act_bits,
                      _allowed_bits(model, target, i - 1, "act_bits") & _allowed_bits(model, target, i, "input_bits"),
                      f"{prev.name!r} act_bits and {layer.name!r} input bits"))
    for slot, current, allowed, what in slots:
        if not allowed:
            return Refusal(f"no bit width satisfies every rule on {what}")
        if current not in allowed:
            plan[slot] = _nearest(current, allowed)
    return plan


def _clamp_weights(e: Edit, model: Model, name: str, bits: int) -> None:
    layer = model.layer(name)
    old = layer.weights_bits
    lv = e.vars(name)
    if lv is None:
        exact = bits > old
        note = ("wider weights hold every old value" if exact else
                f"weights must be requantized to {bits} bits (exact only if every weight already fits: "
                "pass variables to find out)")
        e.set(name, "weights_bits", bits, exact=exact, note=note)
        return
    new = dict(lv)
    scale = 1.0
    for key in ("weights", "weights_pw"):
        if key in lv:
            new[key], s = requantize(lv[key], bits)
            scale *= s
    if scale == 1.0 and all(np.array_equal(new[k], lv[k]) for k in ("weights", "weights_pw") if k in lv):
        e.set(name, "weights_bits", bits, exact=True, note=f"every weight already fits in {bits} bits")
    else:
        new = rescale_activation(new, scale)
        e.set(name, "weights_bits", bits, exact=False,
              note=f"weights requantized (scaled by {scale:.4g}, rounded, clipped); threshold and act_step "
                   "scaled alike")
    e.set_vars(name, new)


def _clamp_act(e: Edit, model: Model, name: str, bits: int) -> None:
    old = model.layer(name).act_bits
    names = [layer.name for layer in model.layers]
    i = names.index(name)
    follow = "the next layer's threshold and act_step are scaled by " \
             f"2**{bits - old} to follow" if i + 1 < len(names) else "the model's output levels change"
    e.set(name, "act_bits", bits, exact=False, note=f"outputs now take {2 ** bits} levels; {follow}")
    nxt = e.vars(names[i + 1]) if i + 1 < len(names) else None
    if nxt is not None:
        e.set_vars(names[i + 1], rescale_activation(nxt, 2.0 ** (bits - old)))


def _clamp_input(e: Edit, model: Model, bits: int) -> None:
    old = model.input_bits
    e.set_input_bits(bits, exact=False, note=_shift_note(old, bits) + "; the first layer's threshold and "
                     f"act_step are scaled by 2**{bits - old}")
    first = model.layers[0]
    if first.type == "InputConvolutional" and first.padding_value is not None:  # always set on that type
        value = min(round(first.padding_value * 2.0 ** (bits - old)), (1 << bits) - 1)
        if value != first.padding_value:
            e.set(first.name, "padding_value", value, exact=False, note="padding value requantized too")
    lv = e.vars(first.name)
    if lv is not None:
        e.set_vars(first.name, rescale_activation(lv, 2.0 ** (bits - old)))


def _apply_bits(e: Edit, model: Model, i: int, plan: BitSlots) -> None:
    for (kind, name), bits in plan.items():
        if name is None:
            _clamp_input(e, model, bits)
        elif kind == "weights":
            _clamp_weights(e, model, name, bits)
        elif e.layer(name).get("act_bits") != bits:       # else the next layer's plan has already set it
            _clamp_act(e, model, name, bits)


def clamp_bits(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Move weight, activation and input bit widths to the nearest width the target supports.

    The input bits of a layer are the activation bits of the layer before it (or the
    model input's bits), so both layers' rules decide together. Ties go to the wider
    width. Weights moved to a wider width keep every value: exact. Narrower weights are
    requantized (scaled to the new range, rounded; the layer's threshold and act_step
    follow the scale): exact only when every weight already fitted. A new activation
    width changes the output levels (the next layer's threshold and act_step are
    scaled by 2**(new − old) to follow); a new input width means feeding requantized
    data: both approximate.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = clamp_bits(ak.example("ds_cnn_kws"), "nsoc_v1")
    >>> [(c.layer, c.what, c.before, c.after) for c in changes]
    [('dense_5', 'weights_bits', '4', '2'), ('separable_4', 'act_bits', '4', '2')]
    """
    return CLAMP_BITS.attempt(model, target, variables).output


CLAMP_BITS = register(
    clamp_bits, plan=_plan_bits, apply=_apply_bits, exact="conditional",
    exact_when="for weights moved to a wider width, or to a narrower one they already fit in; "
               "never for activation or input bits",
    after={"input_conv_to_conv": "it judges the bits of the Convolutional (and input) input_conv_to_conv leaves"})


# ---------------------------------------------------------------------------- pool_before_fc
def _plan_pool_fc(model: Model, target: Target, i: int) -> bool | Refusal:
    """Whether the previous layer takes the pooling (else an identity layer is inserted), or why not."""
    layer = model.layers[i]
    if layer.type != "FullyConnected":
        return Refusal("not a FullyConnected layer")
    d0, d1, c = layer.input_shape
    if d0 == d1 == 1:
        return Refusal(f"its input is already 1×1: the {c} channels themselves are too many; reduce the filters of "
                "the layer before it")
    prev = model.layers[i - 1] if i else None
    return prev is not None and prev.type in CNP_TYPES and prev.pool_type == "none"


def _apply_pool_fc(e: Edit, model: Model, i: int, on_previous: bool) -> None:
    fc = model.layers[i]
    d0, d1, c = fc.input_shape
    positions = d0 * d1
    if on_previous:
        prev = model.layers[i - 1]
        e.set(prev.name, "pool_type", "average", exact=False,
              note=f"global average pooling (a sum over {positions} positions); threshold and act_step "
                   f"× {positions} so that it activates on the mean potential")
        lv = e.vars(prev.name)
        if lv is not None:
            e.set_vars(prev.name, rescale_activation(lv, float(positions)))
    else:
        bits = fc.input_bits
        name = e.fresh_name(f"{fc.name}_pool")
        e.insert_before(fc.name, identity_layer(name, c, bits, {"pool_type": "average"}),
                        identity_variables(c, bits, positions), exact=False,
                        note=f"identity SeparableConvolutional with global average pooling: outputs the "
                             f"rounded-up mean of each channel over {positions} positions")
    lv = e.vars(fc.name)
    note = f"input {d0}×{d1}×{c} → 1×1×{c}"
    if lv is not None:
        weights, scale = pool_fc_weights(lv["weights"], fc.input_shape, fc.weights_bits)
        e.set_vars(fc.name, rescale_activation(dict(lv, weights=weights), scale))
        note += f"; weights summed over positions and requantized (scale {scale:.4g})"
    e.record(fc.name, "input", f"{d0}×{d1}×{c}", f"1×1×{c}", exact=False, note=note)


def pool_before_fc(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Give a FullyConnected layer a 1×1 input: global average pooling before it.

    When the layer before is a Convolutional/SeparableConvolutional without pooling, it
    gets global average pooling (the engine's sum of potentials: its threshold and
    act_step are multiplied by the number of positions, so it activates on the mean
    potential). Otherwise an identity SeparableConvolutional with global average pooling
    is inserted (act_step = positions · 2**b / 16: it outputs the rounded-up mean of its
    inputs). The FullyConnected weights become the sum over positions of the old ones,
    requantized to its weight bits (threshold and act_step follow the scale):
    approximate. An input that is already 1×1 but has too many channels is left alone.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.Model.from_dict({"input": {"shape": [4, 4, 2], "bits": 2}, "layers": [
    ...     {"type": "Convolutional", "kernel_size": 3, "filters": 8, "act_bits": 2},
    ...     {"type": "FullyConnected", "units": 3, "activation": False}]})
    >>> fixed, changes, _ = pool_before_fc(m, "nsoc_v2")
    >>> fixed.layers[0].pool_type, fixed.layers[1].input_shape
    ('average', (1, 1, 8))
    """
    return POOL_BEFORE_FC.attempt(model, target, variables).output


POOL_BEFORE_FC = register(
    pool_before_fc, plan=_plan_pool_fc, apply=_apply_pool_fc, exact="no",
    exact_when="never: the FullyConnected reads one value per channel instead of every position",
    after={"clamp_bits": AFTER_CLAMP_BITS})


# ---------------------------------------------------------------------------- fix_avgpool_size
def _avgpool_rule(rule: Rule) -> bool:
    return rule.field in ("input_d0", "input_d1") and ("pool_type", ("average",)) in rule.when


def _avgpool_layers(model: Model, i: int, strides: tuple[int, ...]) -> tuple[list[dict], list[tuple[str, int]]]:
    """Layer dicts with the downsampling ``strides`` before layer ``i``, and where each went."""
    layers = model.to_dict()["layers"]
    layer = model.layers[i]
    prev = model.layers[i - 1] if i else None
    steps: list[tuple[str, int]] = []
    inserted: list[dict[str, Any]] = []
    for k, s in enumerate(strides):
        if (k == 0 and prev is not None and prev.type in CNP_TYPES and prev.pool_type == "none"
                and prev.padding == "same"):
            layers[i - 1].update(pool_type="max", pool_size=[s, s], pool_stride=[s, s])
            steps.append(("previous", s))
        else:
            inserted.append(identity_layer(f"·candidate {len(inserted) + 1}", layer.input_shape[2],
                                           layer.input_bits, {"pool_type": "max", "pool_size": [s, s],
                                                              "pool_stride": [s, s]}))
            steps.append(("insert", s))
    return layers[:i] + inserted + layers[i:], steps


def _plan_avgpool(model: Model, target: Target, i: int) -> list[tuple[str, int]] | Refusal:
    """The downsampling steps (``("previous" | "insert", stride)``), or why none works."""
    layer = model.layers[i]
    if layer.pool_type != "average":
        return Refusal("the layer has no average pooling")
    ids = FIX_AVGPOOL_SIZE.rule_ids(target)
    plans = [p for n in (1, 2, 3) for p in product(DOWNSAMPLING_STRIDES, repeat=n)]
    for strides in sorted(plans, key=lambda p: (len(p), np.prod(p))):
        layers, steps = _avgpool_layers(model, i, strides)
        candidate = _try_model(model, layers)
        inserted = sum(1 for how, _ in steps if how == "insert")
        if candidate is not None and not _judge(candidate, target, i + inserted, ids):
            return steps
    broken = _judge(model, target, i, ids)
    wanted = "; ".join(f"{r.field} {r.allowed_text()}" for r in broken) or "the target's average-pooling rules"
    return Refusal(f"no max pooling before it (strides {', '.join(map(str, DOWNSAMPLING_STRIDES))}, up to 3 times) "
            f"brings its {format_value(layer.input_shape[:2])} input to {wanted}; resize the model input")


def _apply_avgpool(e: Edit, model: Model, i: int, steps: list[tuple[str, int]]) -> None:
    layer = model.layers[i]
    c, bits = layer.input_shape[2], layer.input_bits
    for how, s in steps:
        pool = {"pool_type": "max", "pool_size": [s, s], "pool_stride": [s, s]}
        if how == "previous":
            prev = model.layers[i - 1]
            e.set(prev.name, "pool_type", "max", exact=False,
                  note=f"max pooling {s}×{s}/{s} shrinks {layer.name!r}'s input")
            e.layer(prev.name).update(pool_size=[s, s], pool_stride=[s, s])
        else:
            name = e.fresh_name(f"{layer.name}_downsample")
            e.insert_before(layer.name, identity_layer(name, c, bits, pool), identity_variables(c, bits),
                            exact=False, note=f"identity SeparableConvolutional with max pooling {s}×{s}/{s} "
                                              f"shrinks {layer.name!r}'s input")


def fix_avgpool_size(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Bring an average-pooled layer's input to a size the target accepts by max pooling before it.

    Tries the fewest and smallest square max poolings (2×2/2 or 3×3/3, up to three)
    whose result passes the target's average-pooling rules for that layer: the first
    goes onto the previous layer when it is a convolution without pooling, the others
    into inserted identity SeparableConvolutional layers. Sizes that no downsampling
    reaches (a 7×7 input on the pre-production chip, which wants multiples of 8) are
    left alone: resize the model input. Approximate.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.Model.from_dict({"input": {"shape": [64, 64, 2], "bits": 2}, "layers": [
    ...     {"type": "Convolutional", "kernel_size": 3, "filters": 8, "act_bits": 2},
    ...     {"type": "Convolutional", "kernel_size": 3, "filters": 8, "pool_type": "average"}]})
    >>> fixed, changes, _ = fix_avgpool_size(m, "nsoc_v2")
    >>> fixed.layers[0].pool_size, fixed.layers[1].input_shape
    ((2, 2), (32, 32, 8))
    """
    return FIX_AVGPOOL_SIZE.attempt(model, target, variables).output


FIX_AVGPOOL_SIZE = register(
    fix_avgpool_size, plan=_plan_avgpool, apply=_apply_avgpool, exact="no", matches=_avgpool_rule,
    exact_when="never: the sum covers fewer, max-pooled positions",
    after={"clamp_bits": AFTER_CLAMP_BITS, "pool_before_fc": "it may need the average pooling pool_before_fc adds"})


# ---------------------------------------------------------------------------- split_maxpool
def _plan_split(model: Model, target: Target, i: int) -> None | Refusal:
    layer = model.layers[i]
    if layer.type not in CNP_TYPES or layer.pool_type != "max":
        return Refusal("no max pooling on a Convolutional or SeparableConvolutional layer")
    if not layer.activation:
        return Refusal("its activation is off (last layer): no layer can follow it to carry the pooling")
    if layer.padding != "same":
        return Refusal("'valid' padding: the identity layer carrying the pooling pads 'same' "
                       "(valid_to_same comes first)")
    return None


def _split_exact(layer, layer_vars) -> tuple[bool, str]:
    b = layer.act_bits
    rule = ("exact when |potentials| ≤ 2**19 − 1 (no 20-bit clip before the activation) and "
            "(|potential| + |threshold|)·2**b ≤ 2**28 (no modular wrap): the activation is then monotone, so "
            "the maximum can be taken after it")
    if layer_vars is None:
        return False, rule + " — pass variables to verify"
    bound = potential_bound(layer, layer_vars)
    theta = int(np.abs(layer_vars["threshold"].astype(np.int64)).max(initial=0))
    clip_ok = layer.pool_size == (1, 1) or bound <= INT20_MAX
    wrap_ok = (bound + theta) << b <= STEP_MODULUS
    if clip_ok and wrap_ok:
        return True, (f"exact: |potentials| ≤ {bound} and thresholds ≤ {theta} keep the 20-bit clip and the "
                      "modular activation inert, and a monotone activation commutes with the maximum")
    return False, rule + f"; here |potentials| can reach {bound} (thresholds up to {theta})"


def _apply_split(e: Edit, model: Model, i: int, plan: None) -> None:
    layer = model.layers[i]
    lv = e.vars(layer.name)
    if is_identity(layer, lv):          # its pooling is carried already (or it is such a layer itself)
        return
    exact, note = _split_exact(layer, lv)
    pool_size, pool_stride = layer.pooling()
    pool = {"pool_type": "max", "pool_size": list(pool_size), "pool_stride": list(pool_stride)}
    e.set(layer.name, "pool_type", "none", exact=exact, note=note)
    e.layer(layer.name).pop("pool_size")
    e.layer(layer.name).pop("pool_stride")
    name = e.fresh_name(f"{layer.name}_pool")
    e.insert_after(layer.name, identity_layer(name, layer.outputs, layer.act_bits, pool),
                   identity_variables(layer.outputs, layer.act_bits), exact=exact,
                   note=f"identity SeparableConvolutional (threshold 0) carrying the "
                        f"{format_value(pool_size)}/{format_value(pool_stride)} max pooling")


def split_maxpool(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Split a max-pooled convolution into the convolution and an identity layer carrying the pooling.

    A pre-production engine quirk (Akida's helper): a CNP with max pooling and negative
    thresholds is not supported, so every max-pooled Convolutional/SeparableConvolutional
    that is not itself an identity layer becomes the convolution without pooling,
    followed by an identity SeparableConvolutional (threshold 0) with the pooling.

    The engine pools *potentials* before the activation (docs/design.md#max-pooling); after the
    split the pooling acts on the activations. The activation is a non-decreasing
    function of the potential, and the maximum commutes with non-decreasing functions,
    so the outputs are bit-identical — as long as the pooled potential is not clipped to
    20 bits (``|p| ≤ 2**19 − 1``, or a 1×1 pool) and the activation's modular arithmetic
    stays inert (``(|p| + |threshold|)·2**b ≤ 2**28``). With variables the fix checks
    both bounds per layer and marks the change exact only then.

    Identity layers are left alone: with variables, those holding exactly the identity
    values; without, those shaped like one (3×3 SeparableConvolutional, stride 1, as many
    filters as input channels, act_bits equal to its input bits) — so the fix does not
    split its own pooling layers again, but may also spare a real layer of that shape:
    pass variables to decide by the values.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = split_maxpool(ak.example("vgg_utk_face"), "nsoc_v1")
    >>> [l.name for l in m.layers][:4], m.layers[2].pool_size
    (['conv_0', 'conv_1', 'conv_1_pool', 'conv_2'], (2, 2))
    """
    return SPLIT_MAXPOOL.attempt(model, target, variables).output


SPLIT_MAXPOOL = register(
    split_maxpool, plan=_plan_split, apply=_apply_split, exact="conditional", quirk_of=("nsoc_v1",),
    exact_when="when the layer's potentials stay within ±(2**19 − 1) and (|potential| + |threshold|)·2**b "
               "≤ 2**28: then max(activation(p)) = activation(max(p))",
    after={"clamp_bits": AFTER_CLAMP_BITS, "stride_to_maxpool": "it splits the max pooling stride_to_maxpool adds too",
           "widen_pool_to_stride": "the identity layer carries the final pooling size",
           "fix_avgpool_size": "it splits the max pooling fix_avgpool_size adds too"})


# ---------------------------------------------------------------------------- identity_after_maxpool
def _plan_identity(model: Model, target: Target, i: int) -> None | Refusal:
    layer = model.layers[i]
    if layer.type not in CNP_TYPES or layer.pool_type != "max":
        return Refusal("no max pooling on a Convolutional or SeparableConvolutional layer")
    nxt = model.layers[i + 1] if i + 1 < len(model.layers) else None
    if nxt is not None and nxt.type in CNP_TYPES:
        return Refusal("already followed by a convolution")
    if nxt is None and not layer.activation:
        return Refusal("its activation is off (last layer): no layer can follow it; turn the activation on or drop "
                "the pooling")
    return None


def _apply_identity(e: Edit, model: Model, i: int, plan: None) -> None:
    layer = model.layers[i]
    f, b = layer.outputs, layer.act_bits
    name = e.fresh_name(f"{layer.name}_identity")
    e.insert_after(layer.name, identity_layer(name, f, b), identity_variables(f, b), exact=True,
                   note=f"identity SeparableConvolutional (3×3 centre 1, identity pointwise, threshold 0, "
                        f"act_step 2**{b}/16): outputs its {b}-bit input unchanged")


def identity_after_maxpool(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Insert an identity SeparableConvolutional after a max-pooled layer not followed by a convolution.

    The hardware finishes max pooling in the next convolution, so a max-pooled
    Convolutional/SeparableConvolutional must not be last nor feed a FullyConnected.
    The identity layer (Akida's helper): 3×3 depthwise kernels with centre 1, identity
    pointwise, threshold 0 and act_step 2**b/16 with b its act_bits (the pooled layer's):
    the engine's step register is then 2**b and every b-bit input ``a`` comes out as
    ``ceil(a·2**b / 2**b) = a`` — exact. A last layer without activation cannot be
    followed by another layer and is left alone.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = identity_after_maxpool(ak.example("broken"), "nsoc_v1")
    >>> m.layers[3].name, m.layers[3].type, changes[0].exact
    ('conv_pool_identity', 'SeparableConvolutional', True)
    """
    return IDENTITY_AFTER_MAXPOOL.attempt(model, target, variables).output


IDENTITY_AFTER_MAXPOOL = register(
    identity_after_maxpool, plan=_plan_identity, apply=_apply_identity, exact="yes",
    exact_when="always: the identity layer outputs its input unchanged",
    after={"clamp_bits": AFTER_CLAMP_BITS,
           "stride_to_maxpool": "the max pooling stride_to_maxpool adds needs a convolution after it too",
           "fix_avgpool_size": "the max pooling fix_avgpool_size adds needs a convolution after it too",
           "split_maxpool": "the pooling layer the split inserts needs a convolution after it too"})


# ---------------------------------------------------------------------------- pad_avgpool_filters
def _extra_filters(filters: int) -> int:
    """Akida's count of dummy filters: 8, plus what rounds the filters up to a multiple of 8."""
    return 8 + (8 - filters % 8 if filters % 8 else 0)


def _plan_pad(model: Model, target: Target, i: int) -> int | Refusal:
    """How many dummy filters the layer gets, or why none."""
    layer = model.layers[i]
    if layer.type != "SeparableConvolutional" or layer.pool_type != "average":
        return Refusal("not a SeparableConvolutional with average pooling")
    return _extra_filters(layer.outputs)


def _already_padded(layer, layer_vars) -> bool:
    if layer_vars is None or layer.filters % 8 or layer.filters < 16:
        return False
    return (not layer_vars["weights_pw"][..., -8:].any() and not layer_vars["threshold"][-8:].any()
            and bool(np.all(layer_vars["act_step"][-8:] == 1)))


def _pad_next(e: Edit, nxt, extra: int) -> None:
    lv = e.vars(nxt.name)
    if lv is None:
        return
    new = dict(lv)
    keys = ("weights", "weights_pw") if nxt.type == "SeparableConvolutional" else ("weights",)
    for key in keys:
        w = lv[key]
        new[key] = np.concatenate([w, np.zeros((*w.shape[:2], extra, w.shape[3]), w.dtype)], axis=2)
    e.set_vars(nxt.name, new)


def _apply_pad(e: Edit, model: Model, i: int, extra: int) -> None:
    layer = model.layers[i]
    if _already_padded(layer, e.vars(layer.name)):
        return
    f = layer.outputs
    nxt = model.layers[i + 1] if i + 1 < len(model.layers) else None
    e.set(layer.name, "filters", f + extra, exact=nxt is not None,
          note=f"{extra} dummy filters (zero pointwise weights, threshold 0, act_step 1) always output 0"
               + ("" if nxt is not None else "; as the last layer, its output gains those channels"))
    lv = e.vars(layer.name)
    if lv is not None:
        pw = lv["weights_pw"]
        e.set_vars(layer.name, dict(
            lv, weights_pw=np.concatenate([pw, np.zeros((1, 1, pw.shape[2], extra), pw.dtype)], axis=3),
            threshold=np.concatenate([lv["threshold"], np.zeros(extra, np.int32)]),
            act_step=np.concatenate([lv["act_step"], np.ones(extra, np.float32)])))
    if nxt is not None:
        e.record(nxt.name, "input channels", f, f + extra, exact=True,
                 note=f"zero weights for the {extra} dummy channels")
        _pad_next(e, nxt, extra)


def pad_avgpool_filters(model: Model, target: Target | str, variables: Any = None) -> FixOutput:
    """Give every average-pooled SeparableConvolutional dummy filters (a pre-production quirk).

    The pre-production engine wants a filter count that is a multiple of 8 with
    average pooling, and processes the last filters only if 8 more follow (the table
    does not state it; Akida's helper works around it). Each such layer gets
    ``8 + (8 − F mod 8 if F mod 8 else 0)`` extra filters with zero pointwise weights,
    threshold 0 and act_step 1 — they always output 0 — and the next layer gets zero
    weights for the extra channels: exact. When the padded layer is last, its output
    gains those always-zero channels. With variables, a layer whose last 8 filters are
    already such dummies is left alone (without variables the fix cannot tell).

    Examples
    --------
    >>> import akida_nb as ak
    >>> m, changes, _ = pad_avgpool_filters(ak.example("ds_cnn_kws"), "nsoc_v1")
    >>> m.layers[4].filters, m.layers[5].input_shape, [c.exact for c in changes]
    (72, (1, 1, 72), [True, True])
    """
    return PAD_AVGPOOL_FILTERS.attempt(model, target, variables).output


PAD_AVGPOOL_FILTERS = register(
    pad_avgpool_filters, plan=_plan_pad, apply=_apply_pad, exact="conditional", quirk_of=("nsoc_v1",),
    exact_when="when the padded layer is not the last one (else the output gains channels that are 0)",
    after={"pool_before_fc": "the average-pooled layers are final", "fix_avgpool_size": "its inserted layers are final",
           "split_maxpool": "the padded layers' successors are final",
           "identity_after_maxpool": "the padded layers' successors are final"})
