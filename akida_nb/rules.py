"""The rule kinds: small pure functions that judge one layer against one rule.

A :class:`Rule` is one cell (or note) of a target's constraint table, loaded from
the target's data file. Each rule reads one *field* of a layer's context (see
:func:`layer_context`) and judges it with its *kind*:

``allowed``      value in ``values`` (pairs match only as pairs: ``[3, 5]`` matches no ``3×3`` cell)
``range``        ``min`` ≤ value ≤ ``max`` (either bound may be absent)
``multiple_of``  value is a multiple of ``multiple``
``le_field``     value ≤ the field ``other`` on each axis (``input_dims`` = (d0, d1))
``eq_field``     value equals the field ``other`` (pool stride = pool size)
``max_by``       value ≤ the ``max`` of the ``table`` row whose ``keys`` match (no row: not judged)
``next_type``    the next layer's type is in ``values`` (the last layer has none)
``equal_axes``   a pair whose two axes are equal (square kernels, strides, pools)
``odd``          every axis of the value is odd
``unsupported``  the layer type cannot run on the target at all
``maps``         the field (a refusal reason) is empty: the layer fits the hardware's resources
``variable_range``  every element of a layer variable (threshold, act_step…) is in ``[min, max]``;
                    judged only when variables are given

A rule may carry ``when``: a mapping field → list of values; the rule is judged
only when every listed field's value is in its list; and ``once: true``: of all the
``once`` rules on one field, only the first layer that breaks one is reported (a
device-wide budget runs out once).

Examples
--------
>>> from akida_nb.rules import Rule
>>> r = Rule.from_dict({"id": "conv.weights_bits", "layer_type": "Convolutional",
...     "section": "Quantization", "parameter": "Weights", "field": "weights_bits",
...     "kind": "allowed", "values": [1, 2], "note": "n", "fix": "f", "source": "s"})
>>> r.judge({"weights_bits": 4})
'4'
>>> r.allowed_text()
'[1, 2]'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import SpecError
from .present import format_value

__all__ = ["Rule", "RULE_KINDS", "layer_context", "format_value"]

_INDEXED = re.compile(r"^(\w+)\[(\d)\]$")


def _norm(value: Any) -> Any:
    """Lists from YAML become tuples so that they compare with the model's pairs."""
    if isinstance(value, list):
        return tuple(_norm(v) for v in value)
    return value


def layer_context(model, index: int) -> dict[str, Any]:
    """Every field a rule can read, for layer ``index`` of ``model``.

    Layer fields (``kernel_size``, ``weights_bits`` …) plus derived ones:
    ``input_bits``, ``input_d0``, ``input_d1``, ``input_channels``,
    ``input_size`` (d0·d1·c), ``input_dims`` (d0, d1), ``conv_d0``/``conv_d1``
    (convolution output before pooling), ``next_type`` (``None`` for the last layer),
    ``is_last``.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ctx = layer_context(ak.example("ds_cnn_kws"), 5)
    >>> ctx["type"], ctx["input_size"], ctx["next_type"]
    ('FullyConnected', 64, None)
    """
    layer = model.layers[index]
    d0, d1, c = layer.input_shape
    ctx = {key: getattr(layer, key) for key in (
        "type", "name", "index", "kernel_size", "filters", "kernel_stride", "padding", "pool_type",
        "pool_size", "pool_stride", "weights_bits", "act_bits", "activation", "units", "input_bits",
        "padding_value")}
    ctx.update(
        input_d0=d0, input_d1=d1, input_channels=c, input_size=d0 * d1 * c, input_dims=(d0, d1),
        conv_d0=layer.conv_shape[0], conv_d1=layer.conv_shape[1],
        output_d0=layer.output_shape[0], output_d1=layer.output_shape[1],
        next_type=model.layers[index + 1].type if index + 1 < len(model.layers) else None,
        is_last=index + 1 == len(model.layers),
    )
    return ctx


def _get(ctx: Mapping[str, Any], name: str) -> Any:
    m = _INDEXED.match(name)
    if m:
        value = ctx.get(m.group(1))
        return None if value is None else value[int(m.group(2))]
    return ctx.get(name)


# ---------------------------------------------------------------------------- kinds
# Each kind: (judge(rule, ctx, value) -> bool ok, allowed_text(rule) -> str).
def _allowed_ok(rule, ctx, value):
    return value in rule.values


def _allowed_text(rule):
    return "[" + ", ".join(format_value(v) for v in rule.values) + "]"


def _range_ok(rule, ctx, value):
    return (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)


def _range_text(rule):
    if rule.min is not None and rule.max is not None:
        return f"[{format_value(rule.min)}:{format_value(rule.max)}]"
    if rule.min is not None:
        return f">= {format_value(rule.min)}"
    return f"<= {format_value(rule.max)}"


def _multiple_ok(rule, ctx, value):
    return value % rule.multiple == 0


def _multiple_text(rule):
    return f"multiple of {rule.multiple}"


def _le_field_ok(rule, ctx, value):
    other = _get(ctx, rule.other)
    return all(v <= o for v, o in zip(value, other))


def _le_field_text(rule):
    return f"<= {rule.other} (each axis)"


def _eq_field_ok(rule, ctx, value):
    return value == _get(ctx, rule.other)


def _max_by_row(rule, ctx):
    for row in rule.table:
        if all(_norm(row[k]) == _get(ctx, k) for k in rule.keys):
            return row
    return None


def _max_by_ok(rule, ctx, value):
    row = _max_by_row(rule, ctx)
    return row is None or value <= row["max"]


def _max_by_text(rule):
    rows = "; ".join(", ".join(format_value(_norm(row[k])) for k in rule.keys) + f" → {row['max']}"
                     for row in rule.table)
    return f"<= by {', '.join(rule.keys)}: {rows}"


def _next_text(rule):
    return "followed by " + " or ".join(rule.values)


def _equal_axes_ok(rule, ctx, value):
    return value[0] == value[1]


def _odd_ok(rule, ctx, value):
    return all(v % 2 == 1 for v in value)


def _unsupported_ok(rule, ctx, value):
    return False


def _variable_range_ok(rule, ctx, value):
    # value: (min, max) of the variable over the layer, computed by check()
    lo, hi = value
    return (rule.min is None or lo >= rule.min) and (rule.max is None or hi <= rule.max)


RULE_KINDS: dict[str, tuple[Callable, Callable]] = {
    "allowed": (_allowed_ok, _allowed_text),
    "range": (_range_ok, _range_text),
    "multiple_of": (_multiple_ok, _multiple_text),
    "le_field": (_le_field_ok, _le_field_text),
    "max_by": (_max_by_ok, _max_by_text),
    "next_type": (_allowed_ok, _next_text),
    "equal_axes": (_equal_axes_ok, lambda rule: "equal on both axes"),
    "odd": (_odd_ok, lambda rule: "odd on both axes"),
    "eq_field": (_eq_field_ok, lambda rule: f"= {rule.other}"),
    "unsupported": (_unsupported_ok, lambda rule: "not supported"),
    "maps": (lambda rule, ctx, value: value == "", lambda rule: "fits the hardware"),
    "variable_range": (_variable_range_ok, _range_text),
}

_REQUIRED = ("id", "layer_type", "section", "parameter", "field", "kind", "note", "fix", "source")
_OPTIONAL = ("values", "min", "max", "multiple", "other", "keys", "table", "when", "axis", "fixes", "message",
             "once")
_KIND_NEEDS = {
    "allowed": ("values",), "next_type": ("values",), "multiple_of": ("multiple",), "le_field": ("other",),
    "max_by": ("keys", "table"), "eq_field": ("other",),
}


@dataclass(frozen=True)
class Rule:
    """One constraint of a target: which field of which layer type, judged how, and why.

    Examples
    --------
    >>> import akida_nb as ak
    >>> rule = ak.get_target("nsoc_v1").rule("conv.kernel_stride")
    >>> rule.allowed_text(), rule.judge({"kernel_stride": (2, 2)})
    ('[1×1]', '2×2')
    """

    id: str
    layer_type: str
    section: str
    parameter: str
    field: str
    kind: str
    note: str
    fix: str
    source: str
    values: tuple = ()
    min: Any = None
    max: Any = None
    multiple: int | None = None
    other: str | None = None
    keys: tuple = ()
    table: tuple = ()
    when: tuple = ()  # ((field, (values…)), …)
    axis: str = ""
    fixes: tuple = ()
    message: str | None = None  # a custom message template (str.format with value, allowed, layer…)
    once: bool = False  # report only the first layer that breaks the rule

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "rule") -> "Rule":
        """Validate one rule of a target file.

        Raises
        ------
        SpecError
            Naming the rule's place in the file and the problem.

        Examples
        --------
        >>> Rule.from_dict({"id": "x", "layer_type": "FullyConnected", "section": "Input",
        ...     "parameter": "Width", "field": "input_d0", "kind": "range", "max": 1,
        ...     "note": "n", "fix": "f", "source": "s"}).allowed_text()
        '<= 1'
        """
        if not isinstance(raw, Mapping):
            raise SpecError(where, "a rule must be a mapping")
        for key in _REQUIRED:
            if key not in raw:
                raise SpecError(f"{where}.{key}", "missing")
        for key in raw:
            if key not in _REQUIRED + _OPTIONAL:
                raise SpecError(f"{where}.{key}", "unknown rule key")
        if raw["kind"] not in RULE_KINDS:
            raise SpecError(f"{where}.kind", f"unknown rule kind {raw['kind']!r} (kinds: {', '.join(RULE_KINDS)})")
        for key in _KIND_NEEDS.get(raw["kind"], ()):
            if key not in raw:
                raise SpecError(f"{where}.{key}", f"required by kind {raw['kind']!r}")
        when = raw.get("when", {}) or {}
        if not isinstance(when, Mapping):
            raise SpecError(f"{where}.when", "expected a mapping field → list of values")
        kw = {k: raw[k] for k in _REQUIRED}
        kw.update(
            values=_norm(list(raw.get("values", ()))),
            min=raw.get("min"), max=raw.get("max"), multiple=raw.get("multiple"), other=raw.get("other"),
            keys=tuple(raw.get("keys", ())), table=tuple(raw.get("table", ())),
            when=tuple((k, _norm(list(v))) for k, v in when.items()),
            axis=str(raw.get("axis", "")), fixes=tuple(raw.get("fixes", ())), message=raw.get("message"),
            once=bool(raw.get("once", False)),
        )
        return cls(**kw)

    def applies(self, ctx: Mapping[str, Any]) -> bool:
        """Whether the rule is judged for this layer context (type and ``when`` match).

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").rule("conv.pool_size").applies({"type": "Convolutional", "pool_type": "none"})
        False
        """
        if ctx.get("type") != self.layer_type:
            return False
        return all(_get(ctx, k) in values for k, values in self.when)

    def judge(self, ctx: Mapping[str, Any]) -> str | None:
        """``None`` when the layer passes, else the offending value as text.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").rule("fc.input_size").judge({"input_size": 90000})
        '90000'
        """
        ok, _ = RULE_KINDS[self.kind]
        value = _get(ctx, self.field)
        if self.kind == "next_type":
            return None if ok(self, ctx, value) else (value or "nothing (last layer)")
        if self.kind == "unsupported":
            return str(ctx.get("type"))
        if value is None:
            return None
        if ok(self, ctx, value):
            return None
        if self.kind == "variable_range":
            return f"[{format_value(value[0])}, {format_value(value[1])}]"
        return format_value(value)

    def allowed_text(self) -> str:
        """The allowed values in the tables' words: ``[1, 2]``, ``[5:256]``, ``<= 81920``.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").rule("input_conv.input_d1").allowed_text()
        '[5:256]'
        """
        return RULE_KINDS[self.kind][1](self)

    def condition_text(self) -> str:
        """The ``when`` condition in words (empty when unconditional).

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").rule("conv.stride2_kernel").condition_text()
        'when kernel_stride is 2×2'
        """
        if not self.when:
            return ""
        parts = [f"{k} is {' or '.join(format_value(v) for v in values)}" for k, values in self.when]
        return "when " + " and ".join(parts)

    def message_for(self, ctx: Mapping[str, Any], value: str) -> str:
        """The violation message, in Akida's words: ``weights_bits must be in [1, 2], currently at 4``.

        Examples
        --------
        >>> import akida_nb as ak
        >>> r = ak.get_target("nsoc_v1").rule("conv.weights_bits")
        >>> r.message_for({"name": "c1", "type": "Convolutional"}, "4")
        "Layer 'c1' (Convolutional): weights_bits must be in [1, 2], currently at 4."
        """
        head = f"Layer {ctx.get('name')!r} ({ctx.get('type')}): "
        if self.message:
            return head + self.message.format(value=value, allowed=self.allowed_text(), **{
                k: v for k, v in ctx.items() if k not in ("value", "allowed")})
        if self.kind == "unsupported":
            return head + f"the {self.layer_type} layer type is not supported on this target."
        if self.kind == "next_type":
            return head + f"a layer with max pooling must be {self.allowed_text()}, currently {value}."
        cond = self.condition_text()
        if self.kind in ("allowed", "variable_range"):
            phrase = f"must be in {self.allowed_text()}"
        elif self.kind == "range":
            phrase = f"must be {self.allowed_text()}" if self.min is None or self.max is None else \
                f"must be in {self.allowed_text()}"
        elif self.kind == "multiple_of":
            phrase = f"must be a multiple of {self.multiple}"
        elif self.kind == "eq_field":
            phrase = f"must equal {self.other} ({format_value(_get(ctx, self.other))})"
        elif self.kind == "maps":
            return head + f"the layer cannot be mapped: {value}"
        elif self.kind == "le_field":
            phrase = f"cannot be greater than {self.other} ({format_value(_get(ctx, self.other))})"
        elif self.kind == "max_by":
            row = _max_by_row(self, ctx)
            keys = ", ".join(f"{k} {format_value(_get(ctx, k))}" for k in self.keys)
            phrase = f"must be <= {row['max']} with {keys}"
        else:
            phrase = f"must be {self.allowed_text()}"
        return head + f"{self.field} {phrase}{' ' + cond if cond else ''}, currently at {value}."
