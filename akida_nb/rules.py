"""Rules and their kinds: how one constraint of a target judges one layer, and how it says so.

A :class:`Rule` is one cell (or note) of a target's constraint table, loaded from the
target's data file. Each rule reads one *field* of a layer's context (see
:data:`FIELDS`) and judges it with its *kind*. A kind is one object in
:data:`RULE_KINDS` holding everything about it: the rule keys it needs, its judgement,
its "allowed" text and its message. Adding a kind means adding one class here.

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

A rule may carry ``when``: a mapping field → list of values; the rule is judged only when
every listed field's value is in its list; ``once: true``: of all the ``once`` rules on one
field, only the first layer that breaks one is reported (a device-wide budget runs out
once); ``severity``: ``error`` (the default: the model does not map), ``warning`` (reported,
not part of the verdict) or ``note`` (a remark in the report's notes); ``message``: a
template of plain ``{field}`` names (plus ``{value}`` and ``{allowed}``).

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
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import SpecError, brief, one_line
from .model import LAYER_TYPES, PADDINGS, POOL_TYPES
from .present import format_value

__all__ = [
    "ABSENT",
    "FIELDS",
    "LAYER_FIELDS",
    "NP_FIELDS",
    "RULE_KINDS",
    "SEVERITIES",
    "VARIABLE_FIELDS",
    "Kind",
    "Rule",
    "format_value",
    "layer_context",
]

_INDEXED = re.compile(r"^(\w+)\[(\d)\]$")

LAYER_ATTRIBUTES = ("type", "name", "index", "kernel_size", "filters", "kernel_stride", "padding", "pool_type",
                    "pool_size", "pool_stride", "weights_bits", "act_bits", "activation", "units", "input_bits",
                    "padding_value")
"""The fields read from the :class:`~akida_nb.Layer` as they are."""
LAYER_FIELDS = LAYER_ATTRIBUTES + ("input_d0", "input_d1", "input_channels", "input_size", "input_dims", "conv_d0",
                                   "conv_d1", "output_d0", "output_d1", "next_type", "is_last")
"""The fields :func:`layer_context` gives every layer: its attributes, then derived ones."""
NP_FIELDS = ("nps", "np_refused", "cumulative_nps")
"""The fields the neural-processor estimate adds (targets whose rules read them get it)."""
VARIABLE_FIELDS = ("weights", "weights_pw", "threshold", "act_step")
"""Layer variables: a rule on one reads its (min, max) over the layer, when variables are given."""
FIELDS = LAYER_FIELDS + NP_FIELDS + VARIABLE_FIELDS
"""Every field a rule may read."""
ABSENT: dict[str, tuple[str, ...]] = {
    "InputConvolutional": ("units",),
    "Convolutional": ("units", "padding_value"),
    "SeparableConvolutional": ("units", "padding_value"),
    "FullyConnected": ("kernel_size", "filters", "kernel_stride", "padding", "pool_type", "pool_size", "pool_stride",
                       "padding_value"),
}
"""Fields a layer type never has (a rule on one would never fire)."""
DOMAINS: dict[str, tuple[Any, ...]] = {
    "type": LAYER_TYPES, "next_type": (*LAYER_TYPES, None), "padding": PADDINGS, "pool_type": POOL_TYPES,
    "activation": (True, False), "is_last": (True, False)}
"""The only values some fields take: a ``when`` or ``values`` outside them could never match."""
SEVERITIES = ("error", "warning", "note")
TEMPLATE_NAMES = frozenset(FIELDS) | {"value", "allowed"}
"""The names a rule's ``message`` template may use."""


def _norm(value: Any) -> Any:
    """Lists from YAML become tuples so that they compare with the model's pairs."""
    if isinstance(value, list):
        return tuple(_norm(v) for v in value)
    return value


def layer_context(model, index: int) -> dict[str, Any]:
    """Every field a rule can read, for layer ``index`` of ``model`` (the keys of :data:`LAYER_FIELDS`).

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
    ctx = {key: getattr(layer, key) for key in LAYER_ATTRIBUTES}
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


def field_known(name: str) -> bool:
    """Whether a rule may read ``name`` (a field of :data:`FIELDS`, or ``field[i]`` of a pair field).

    Examples
    --------
    >>> field_known("kernel_size"), field_known("input_dims[1]"), field_known("kernal_size")
    (True, True, False)
    """
    m = _INDEXED.match(name)
    return (m.group(1) if m else name) in FIELDS


# ---------------------------------------------------------------------------- kinds
class Kind:
    """One rule kind: the rule keys it needs, its judgement, its "allowed" text and its message.

    Subclasses override :meth:`ok` and :meth:`allowed` (and :meth:`phrase`,
    :meth:`judge` or :meth:`message` where their words differ from the default
    ``<field> must be <allowed> [when …], currently at <value>.``).

    Examples
    --------
    >>> RULE_KINDS["multiple_of"].needs
    ('multiple',)
    """

    name: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ()
    reads: ClassVar[tuple[str, ...]] = LAYER_FIELDS + NP_FIELDS
    """The fields a rule of this kind may judge."""

    def problem(self, raw: Mapping[str, Any]) -> tuple[str, str] | None:
        """The key and the reason why a rule of this kind, as written, can never be judged right (or ``None``)."""
        return None

    def ok(self, rule: Rule, ctx: Mapping[str, Any], value: Any) -> bool:
        """Whether ``value`` (the rule's field, never ``None``) passes."""
        raise NotImplementedError

    def allowed(self, rule: Rule) -> str:
        """The allowed values in the tables' words."""
        raise NotImplementedError

    def phrase(self, rule: Rule, ctx: Mapping[str, Any]) -> str:
        """What the field must be, as the message says it."""
        return f"must be {self.allowed(rule)}"

    def shown(self, value: Any) -> str:
        """The offending value as text."""
        return format_value(value)

    def judge(self, rule: Rule, ctx: Mapping[str, Any]) -> str | None:
        """``None`` when the layer passes (or the field is absent), else the offending value as text."""
        value = _get(ctx, rule.field)
        if value is None or self.ok(rule, ctx, value):
            return None
        return self.shown(value)

    def message(self, rule: Rule, ctx: Mapping[str, Any], value: str) -> str:
        """The violation message after ``Layer 'name' (type): ``."""
        cond = rule.condition_text()
        return f"{rule.field} {self.phrase(rule, ctx)}{' ' + cond if cond else ''}, currently at {value}."


class _Allowed(Kind):
    name = "allowed"
    needs = ("values",)

    def ok(self, rule, ctx, value):
        return value in rule.values

    def allowed(self, rule):
        return "[" + ", ".join(format_value(v) for v in rule.values) + "]"

    def phrase(self, rule, ctx):
        return f"must be in {self.allowed(rule)}"


class _Range(Kind):
    name = "range"

    def problem(self, raw):
        return None if raw.get("min") is not None or raw.get("max") is not None else ("max", "needs min or max")

    def ok(self, rule, ctx, value):
        return (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)

    def allowed(self, rule):
        if rule.min is not None and rule.max is not None:
            return f"[{format_value(rule.min)}:{format_value(rule.max)}]"
        if rule.min is not None:
            return f">= {format_value(rule.min)}"
        return f"<= {format_value(rule.max)}"

    def phrase(self, rule, ctx):
        bounded = rule.min is not None and rule.max is not None
        return f"must be {'in ' if bounded else ''}{self.allowed(rule)}"


class _VariableRange(_Range):
    """The (min, max) of a layer variable, given by the variables provider of :func:`akida_nb.check`."""

    name = "variable_range"
    reads = VARIABLE_FIELDS

    def ok(self, rule, ctx, value):
        lo, hi = value
        return super().ok(rule, ctx, lo) and super().ok(rule, ctx, hi)

    def shown(self, value):
        return f"[{format_value(value[0])}, {format_value(value[1])}]"

    def phrase(self, rule, ctx):
        return f"must be in {self.allowed(rule)}"


class _MultipleOf(Kind):
    name = "multiple_of"
    needs = ("multiple",)

    def ok(self, rule, ctx, value):
        return value % rule.multiple == 0

    def allowed(self, rule):
        return f"multiple of {rule.multiple}"

    def phrase(self, rule, ctx):
        return f"must be a {self.allowed(rule)}"


class _LeField(Kind):
    name = "le_field"
    needs = ("other",)

    def ok(self, rule, ctx, value):
        return all(v <= o for v, o in zip(value, _get(ctx, rule.other)))

    def allowed(self, rule):
        return f"<= {rule.other} (each axis)"

    def phrase(self, rule, ctx):
        return f"cannot be greater than {rule.other} ({format_value(_get(ctx, rule.other))})"


class _EqField(Kind):
    name = "eq_field"
    needs = ("other",)

    def ok(self, rule, ctx, value):
        return value == _get(ctx, rule.other)

    def allowed(self, rule):
        return f"= {rule.other}"

    def phrase(self, rule, ctx):
        return f"must equal {rule.other} ({format_value(_get(ctx, rule.other))})"


class _MaxBy(Kind):
    name = "max_by"
    needs = ("keys", "table")

    def problem(self, raw):
        keys = list(raw.get("keys", ()))
        for i, row in enumerate(raw.get("table", ())):
            if not isinstance(row, Mapping) or sorted(row) != sorted(keys + ["max"]):
                return "table", f"table[{i}] must hold exactly the keys {', '.join(keys)} and max"
        return None

    @staticmethod
    def row(rule, ctx) -> Mapping[str, Any] | None:
        for row in rule.table:
            if all(_norm(row[k]) == _get(ctx, k) for k in rule.keys):
                return row
        return None

    def ok(self, rule, ctx, value):
        row = self.row(rule, ctx)
        return row is None or value <= row["max"]

    def allowed(self, rule):
        rows = "; ".join(", ".join(format_value(_norm(row[k])) for k in rule.keys) + f" → {row['max']}"
                         for row in rule.table)
        return f"<= by {', '.join(rule.keys)}: {rows}"

    def phrase(self, rule, ctx):
        row = self.row(rule, ctx) or {"max": "?"}
        keys = ", ".join(f"{k} {format_value(_get(ctx, k))}" for k in rule.keys)
        return f"must be <= {row['max']} with {keys}"


class _NextType(_Allowed):
    name = "next_type"

    def judge(self, rule, ctx):
        value = _get(ctx, rule.field)
        return None if value in rule.values else (value or "nothing (last layer)")

    def allowed(self, rule):
        return "followed by " + " or ".join(rule.values)

    def message(self, rule, ctx, value):
        return f"a layer with max pooling must be {self.allowed(rule)}, currently {value}."


class _EqualAxes(Kind):
    name = "equal_axes"

    def ok(self, rule, ctx, value):
        return value[0] == value[1]

    def allowed(self, rule):
        return "equal on both axes"


class _Odd(Kind):
    name = "odd"

    def ok(self, rule, ctx, value):
        return all(v % 2 == 1 for v in value)

    def allowed(self, rule):
        return "odd on both axes"


class _Unsupported(Kind):
    name = "unsupported"

    def judge(self, rule, ctx):
        return str(ctx.get("type"))

    def allowed(self, rule):
        return "not supported"

    def message(self, rule, ctx, value):
        return f"the {rule.layer_type} layer type is not supported on this target."


class _Maps(Kind):
    name = "maps"

    def ok(self, rule, ctx, value):
        return value == ""

    def allowed(self, rule):
        return "fits the hardware"

    def message(self, rule, ctx, value):
        return f"the layer cannot be mapped: {value}"


RULE_KINDS: dict[str, Kind] = {k.name: k for k in (
    _Allowed(), _Range(), _MultipleOf(), _LeField(), _MaxBy(), _NextType(), _EqualAxes(), _Odd(), _EqField(),
    _Unsupported(), _Maps(), _VariableRange())}
"""Every rule kind by name."""


def template_problem(template: str) -> str | None:
    """Why a ``message`` template is refused (``None`` when it is fine): plain ``{name}`` fields only.

    Examples
    --------
    >>> template_problem("has {filters} filters"), template_problem("{name.__class__}")
    (None, "'{name.__class__}': only plain {field} names are allowed")
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        return f"not a valid template: {e}"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if spec or conversion or not name.isidentifier():
            return f"{brief(shown)}: only plain {{field}} names are allowed"
        if name not in TEMPLATE_NAMES:
            return f"{brief(shown)}: unknown field (fields: value, allowed and the rule fields)"
    return None


# ---------------------------------------------------------------------------- rules
_REQUIRED = ("id", "layer_type", "section", "parameter", "field", "kind", "note", "fix", "source")
_OPTIONAL = ("values", "min", "max", "multiple", "other", "keys", "table", "when", "axis", "fixes", "message",
             "once", "severity")


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
    message: str | None = None  # a custom message template: plain {field} names, {value} and {allowed}
    once: bool = False  # report only the first layer that breaks the rule
    severity: str = "error"  # error | warning | note

    def __post_init__(self) -> None:
        where = f"rule {one_line(str(self.id), 60)}"
        if self.kind not in RULE_KINDS:
            raise SpecError(f"{where}: kind", f"unknown rule kind {brief(self.kind)} (kinds: {', '.join(RULE_KINDS)})")
        if self.severity not in SEVERITIES:
            raise SpecError(f"{where}: severity",
                            f"expected one of {', '.join(SEVERITIES)}, got {brief(self.severity)}")
        if self.message is not None:
            problem = template_problem(self.message) if isinstance(self.message, str) else "expected a string"
            if problem:
                raise SpecError(f"{where}: message", problem)

    @property
    def kind_object(self) -> Kind:
        """The :class:`Kind` that judges this rule."""
        return RULE_KINDS[self.kind]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "rule") -> Rule:
        """Build one rule from a mapping (target files are validated against their schema first).

        Raises
        ------
        SpecError
            Naming the rule's place and the problem.

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
                raise SpecError(f"{where}: {key}", "missing")
        for key in raw:
            if key not in _REQUIRED + _OPTIONAL:
                raise SpecError(f"{where}: {brief(key)}", "unknown rule key")
        kind = RULE_KINDS.get(raw["kind"]) if isinstance(raw["kind"], str) else None
        if kind is None:
            raise SpecError(f"{where}: kind",
                            f"unknown rule kind {brief(raw['kind'])} (kinds: {', '.join(RULE_KINDS)})")
        for key in kind.needs:
            if key not in raw:
                raise SpecError(f"{where}: {key}", f"required by kind {raw['kind']!r}")
        for key in ("min", "max"):
            if raw.get(key) != raw.get(key):  # NaN: no value is ever compared right against it
                raise SpecError(f"{where}: {key}", "not a number")
        problem = kind.problem(raw)
        if problem:
            raise SpecError(f"{where}: {problem[0]}", problem[1])
        when = raw.get("when", {}) or {}
        if not isinstance(when, Mapping) or not all(isinstance(v, list) for v in when.values()):
            raise SpecError(f"{where}: when", "expected a mapping field → list of values")
        if not isinstance(raw["field"], str) or raw["field"].split("[")[0] not in kind.reads:
            what = "a layer variable" if kind.reads == VARIABLE_FIELDS else "a layer or NP field"
            raise SpecError(f"{where}: field", f"kind {raw['kind']!r} cannot judge field {brief(raw['field'])} "
                                              f"(it judges {what})")
        for key in [raw["field"], *when, *([raw["other"]] if raw.get("other") else []), *raw.get("keys", ())]:
            absent = ABSENT.get(raw["layer_type"], ()) if isinstance(raw["layer_type"], str) else ()
            if isinstance(key, str) and key.split("[")[0] in absent:
                raise SpecError(f"{where}: {'field' if key == raw['field'] else 'when' if key in when else 'other'}",
                                f"a {raw['layer_type']} layer has no {key}: the rule would never be judged")
        for key, listed in [(raw["field"], raw.get("values", ())), *when.items()]:
            unknown = [v for v in listed if key in DOMAINS and v not in DOMAINS[key]]
            if unknown:
                raise SpecError(f"{where}: {'values' if key == raw['field'] else 'when'}",
                                f"{key} is never {brief(unknown[0])} (it is one of "
                                f"{', '.join(map(format_value, DOMAINS[key]))})")
        for key in [*when, *([raw["other"]] if raw.get("other") else []), *raw.get("keys", ())]:
            if not isinstance(key, str) or not field_known(key):
                raise SpecError(f"{where}: {'when' if key in when else 'other' if key == raw.get('other') else 'keys'}",
                                f"unknown field {brief(key)}")
        kw = {k: raw[k] for k in _REQUIRED}
        kw.update(
            values=_norm(list(raw.get("values", ()))),
            min=raw.get("min"), max=raw.get("max"), multiple=raw.get("multiple"), other=raw.get("other"),
            keys=tuple(raw.get("keys", ())), table=tuple(raw.get("table", ())),
            when=tuple((k, _norm(list(v))) for k, v in when.items()),
            axis=str(raw.get("axis", "")), fixes=tuple(raw.get("fixes", ())), message=raw.get("message"),
            once=bool(raw.get("once", False)), severity=raw.get("severity", "error"),
        )
        try:
            return cls(**kw)
        except SpecError as e:  # the checks every Rule makes, named with the rule's place in its file
            raise SpecError(f"{where}: {e.path.rsplit(': ', 1)[-1]}", e.problem) from None

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

    def violated(self, ctx: Mapping[str, Any], spent: set[str]) -> str | None:
        """The offending value as text when the rule applies to ``ctx`` and is broken, else ``None``.

        ``spent`` holds the fields of the ``once`` rules already reported for this model
        (a device-wide budget runs out once); it is updated here.

        Examples
        --------
        >>> import akida_nb as ak
        >>> rule, spent = ak.get_target("akd1000").rule("conv.device_nps"), set()
        >>> ctx = {"type": "Convolutional", "cumulative_nps": 80}
        >>> rule.violated(ctx, spent), rule.violated(ctx, spent)
        ('80', None)
        """
        if not self.applies(ctx):
            return None
        value = self.judge(ctx)
        if value is None or (self.once and self.field in spent):
            return None
        if self.once:
            spent.add(self.field)
        return value

    def judge(self, ctx: Mapping[str, Any]) -> str | None:
        """``None`` when the layer passes, else the offending value as text.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").rule("fc.input_size").judge({"input_size": 90000})
        '90000'
        """
        return self.kind_object.judge(self, ctx)

    def allowed_text(self) -> str:
        """The allowed values in the tables' words: ``[1, 2]``, ``[5:256]``, ``<= 81920``.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v2").rule("input_conv.input_d1").allowed_text()
        '[5:256]'
        """
        return self.kind_object.allowed(self)

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

    def fix_text(self) -> str:
        """The remedy in words, naming the automatic fixes that address the rule.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.get_target("nsoc_v1").rule("conv.padding").fix_text()
        "Use 'same' padding. (automatic fix: valid_to_same)"
        """
        return self.fix + (f" (automatic fix: {', '.join(self.fixes)})" if self.fixes else "")

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
            names = {k: v if isinstance(v, str) else format_value(v) for k, v in ctx.items()}
            names.update(value=value, allowed=self.allowed_text())
            return head + self.message.format_map(_Names(names))
        return head + self.kind_object.message(self, ctx, value)


class _Names(dict):
    """Template values: a field the layer lacks reads ``none`` (templates are checked at load)."""

    def __missing__(self, key: str) -> str:
        return "none"
