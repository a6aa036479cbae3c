"""Compatibility reports: :class:`CompatibilityReport` (one target) and :class:`Comparison` (several).

Both have a complete text ``__repr__``, a rich ``_repr_html_`` for JupyterLab, DataFrame
views and a lossless JSON form. The HTML follows the pattern of xarray's and
scikit-learn's reprs: the escaped text comes first as a fallback (shown where CSS is
stripped, hidden by the CSS otherwise), then the rich view, hidden by an inline style
that the CSS overrides. The CSS ships in ``akida_nb/static/report.css``, is scoped
under one id derived from the report's content (deterministic, no ``uuid4``) and takes
every colour from JupyterLab's ``var(--jp-…, fallback)`` theme variables. No JavaScript.

Examples
--------
>>> import akida_nb as ak
>>> rep = ak.check(ak.example("ds_cnn_kws"), "nsoc_v2")
>>> print(repr(rep).splitlines()[1])
Verdict: COMPATIBLE (6 layers checked, no violations)
>>> ak.CompatibilityReport.from_json(rep.to_json()) == rep
True
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import SpecError, brief
from .html import Rendered, badge, page
from .present import (
    Block,
    Cell,
    Column,
    Items,
    Line,
    Section,
    Span,
    Table,
    badge_span,
    diagram,
    format_shape,
    plural,
)

html_page = page
"""The page wrapper of :mod:`akida_nb.html` under its former name."""

__all__ = ["RULE_ON_LAYER_COLUMNS", "Comparison", "CompatibilityReport", "LayerVerdict", "RuleOnLayer", "Violation",
           "badge", "html_page", "rule_anchor", "violation_key"]

VIOLATION_COLUMNS = ["layer_index", "layer", "layer_type", "rule", "parameter", "value", "allowed", "message",
                     "fix", "note", "source", "severity"]


@dataclass(frozen=True)
class RuleOnLayer:
    """Where a rule is broken: the layer, the rule, its parameter, the value and what is allowed.

    The leading fields of :class:`Violation` and of :class:`akida_nb.fixes.Unsolved`.

    Examples
    --------
    >>> import akida_nb as ak
    >>> v = ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").entries[0]
    >>> isinstance(v, RuleOnLayer), [str(c) for c in v.cells()[:4]]
    (True, ['0', 'conv_0', 'InputConvolutional', 'input_conv.type'])
    """

    layer_index: int
    layer: str
    layer_type: str
    rule: str
    parameter: str
    value: str
    allowed: str

    def cells(self) -> list[Cell]:
        """The table cells of :data:`RULE_ON_LAYER_COLUMNS`."""
        return [self.layer_index, self.layer, self.layer_type, self.rule, Span(self.parameter, "code"),
                Span(self.value, "value"), self.allowed]


RULE_ON_LAYER_COLUMNS = (Column("#", right=True, flow="layer {} "), Column("layer", flow="{} "),
                         Column("type", flow="({}), "), Column("rule", flow="rule {}: "),
                         Column("parameter", flow="{} = "), Column("value", flow="{}, "),
                         Column("allowed", flow="allowed {}"))
"""Columns of the tables of violations and of what fixing left: text rows read as sentences."""


@dataclass(frozen=True)
class Violation(RuleOnLayer):
    """One broken rule on one layer.

    Examples
    --------
    >>> import akida_nb as ak
    >>> v = ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").entries[0]
    >>> v.layer, v.rule, v.value
    ('conv_0', 'input_conv.type', 'InputConvolutional')
    """

    message: str
    fix: str
    note: str = ""
    source: str = ""
    severity: str = "error"
    """``error`` (the model does not map), ``warning`` or ``note`` (shown, never part of the verdict)."""


@dataclass(frozen=True)
class LayerVerdict:
    """Per-layer summary of a check: shapes and the number of violations.

    Examples
    --------
    >>> import akida_nb as ak
    >>> lv = ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").layer_verdicts[4]
    >>> lv.name, lv.violations, lv.ok
    ('separable_4', 2, False)
    """

    index: int
    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    violations: int

    @property
    def ok(self) -> bool:
        """True when the layer breaks no rule."""
        return self.violations == 0

    @property
    def summary(self) -> str:
        """``'ok'`` or ``'2 violations'``."""
        return "ok" if self.ok else f"{self.violations} violation{'s' if self.violations != 1 else ''}"

    @property
    def mark(self) -> str:
        """``'ok'`` or ``'✗ 2'``: the short form of tables and comparisons."""
        return "ok" if self.ok else f"✗ {self.violations}"


# ------------------------------------------------------------------------------ blocks
_LAYER_COLUMNS = (Column("#", right=True), Column("layer"), Column("type"), Column("input", right=True),
                  Column("output", right=True))
_VIOLATION_COLUMNS = RULE_ON_LAYER_COLUMNS + (Column("message", long=True, label=False), Column("fix", long=True),
                                             Column("note", long=True))


def _layer_cells(l: LayerVerdict) -> list[Cell]:
    return [l.index, l.name, l.type, format_shape(l.input_shape), format_shape(l.output_shape)]


def violation_key(v: RuleOnLayer) -> tuple[str, str]:
    """What identifies a violation across two checks of related models: its layer's name and its rule.

    Examples
    --------
    >>> import akida_nb as ak
    >>> violation_key(ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").entries[0])
    ('conv_0', 'input_conv.type')
    """
    return (v.layer, v.rule)


def anchor(model_name: str, target: str, layer_index: int) -> str:
    """The element id of a layer's first violation in a report's HTML (deterministic).

    Examples
    --------
    >>> anchor("net", "nsoc_v1", 3)
    'akn-v-nsoc_v1-3-391b6629'
    """
    return f"akn-v-{_id_part(target, 200)}-{layer_index}-{_digest(model_name)}"


def _id_part(text: str, limit: int = 40) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:limit]


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode("utf-8", "backslashreplace")).hexdigest()[:8]


def rule_anchor(model_name: str, target: str, rule: str) -> str:
    """The element id of a rule's row in the Rules table of a report's HTML (deterministic).

    The violations' rule ids link to it, as a layer's badges link to its :func:`anchor`.

    Examples
    --------
    >>> rule_anchor("net", "nsoc_v1", "fc.units")
    'akn-r-nsoc_v1-fc_units-e7ab1c87'
    """
    return f"akn-r-{_id_part(target)}-{_id_part(rule)}-{_digest(chr(0).join((model_name, target, rule)))}"


_RULE_COLUMNS = (Column("rule", flow="{}: "), Column("layer type", flow="{} "), Column("severity", flow="({})"),
                 Column("allowed", long=True), Column("note", long=True), Column("source", long=True))


def _rules_table(entries: Sequence[Violation], model_name: str = "", target: str = "") -> Table:
    """One row per broken rule (in the order first broken): id, layer types, severity, allowed, note, source."""
    first: dict[str, Violation] = {}
    types: dict[str, list[str]] = {}
    for v in entries:
        first.setdefault(v.rule, v)
        if v.layer_type not in types.setdefault(v.rule, []):
            types[v.rule].append(v.layer_type)
    rows: list[list[Cell]] = [[Span(r, "code"), ", ".join(types[r]), v.severity, v.allowed, v.note, v.source]
                              for r, v in first.items()]
    ids = [rule_anchor(model_name, target, r) for r in first] if target else ()
    return Table("Rules", _RULE_COLUMNS, rows, role="rules", flow=True, row_ids=ids)


def _violations_table(entries: Sequence[Violation], title: str = "Violations",
                      introduced: frozenset = frozenset(), model_name: str = "", target: str = "") -> Table:
    def cells(v: Violation) -> list[Cell]:
        out = v.cells()
        if target:  # the rule id links to its row of the Rules table
            out[3] = Span(v.rule, "rule", "go to this rule in the Rules table", rule_anchor(model_name, target, v.rule))
        return out

    rows: list[list[Cell]] = [
        [*cells(v), [Span("new", "new", "introduced by the fixes: the model before them did not break this"),
                      " ", v.message] if violation_key(v) in introduced else v.message,
         v.fix, [v.note, " ", Span(f"[{v.rule} · {v.source}]" if v.source else f"[{v.rule}]", "source")]]
        for v in entries]
    roles = ["introduced" if violation_key(v) in introduced else "" for v in entries] if introduced else ()
    seen: set[int] = set()
    ids = []
    for v in entries:  # the first violation of each layer is where the layer's badges link to
        ids.append(anchor(model_name, target, v.layer_index) if target and v.layer_index not in seen else "")
        seen.add(v.layer_index)
    return Table(title, _VIOLATION_COLUMNS, rows, role="violations", numbered=True, flow=True, row_roles=roles,
                 row_ids=ids if target else ())


# ------------------------------------------------------------------------------ JSON input
def _parse_json(text: Any, where: str) -> Any:
    if not isinstance(text, (str, bytes, bytearray)):
        raise SpecError(where, f"JSON text expected, got {type(text).__name__}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise SpecError(where, f"not valid JSON: {e}") from None


def _mapping(d: Any, kind: str, where: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise SpecError(where, f"not a {kind} dict: got {brief(d)}")
    return d


def _typed(d: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in d:
        raise SpecError(where, f"not a CompatibilityReport dict: missing {key!r}")
    value = d[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise SpecError(f"{where}.{key}", f"{kind.__name__} expected, got {brief(value)}")
    return value


def _strings(values: Any, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise SpecError(where, f"a list of strings expected, got {brief(values)}")
    return values


def _record(cls: type, raw: Any, where: str) -> Any:
    """A Violation or LayerVerdict from its dict, every field of the right type."""
    import dataclasses
    import typing

    raw = _mapping(raw, cls.__name__, where)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise SpecError(where, f"not a {cls.__name__} dict: unknown key {brief(unknown[0])}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in raw:
            if f.default is dataclasses.MISSING:
                raise SpecError(where, f"not a {cls.__name__} dict: missing {f.name!r}")
            continue
        kind = typing.get_origin(hints[f.name]) or hints[f.name]
        value = raw[f.name]
        if kind is tuple:
            if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                      for v in value):
                raise SpecError(f"{where}.{f.name}", f"a list of integers expected, got {brief(value)}")
            value = tuple(value)
        elif not isinstance(value, kind) or isinstance(value, bool):
            raise SpecError(f"{where}.{f.name}", f"{kind.__name__} expected, got {brief(value)}")
        values[f.name] = value
    return cls(**values)


# ------------------------------------------------------------------------------ one target
@dataclass(frozen=True, repr=False)
class CompatibilityReport(Rendered):
    """The result of :func:`akida_nb.check`: every violation of one model on one target.

    Attributes
    ----------
    ok : bool
        No violation (and nothing unmapped).
    violations : DataFrame
        One row per violation: layer_index, layer, layer_type, rule, parameter,
        value, allowed, message, fix, note, source.
    layers : DataFrame
        One row per layer with shapes and the violation count.
    layer_verdicts : tuple of LayerVerdict
        The same rows as objects.
    entries : tuple of Violation
        The same violations as objects.
    notes : tuple of str
        What the table does not say (unchecked variable rules, engine differences).

    Examples
    --------
    >>> import akida_nb as ak
    >>> rep = ak.check(ak.example("broken"), "nsoc_v1")
    >>> rep.ok, rep.violations["layer"].nunique() > 1
    (False, True)
    """

    model_name: str
    target: str
    target_title: str
    layer_verdicts: tuple[LayerVerdict, ...] = field(repr=False)
    entries: tuple[Violation, ...] = field(repr=False)
    notes: tuple[str, ...] = ()
    unmapped: tuple[str, ...] = ()

    # --- views
    @property
    def ok(self) -> bool:
        """True when the model maps onto the target: no error-severity violation, nothing left unmapped."""
        return not any(v.severity == "error" for v in self.entries) and not self.unmapped

    @property
    def violations(self):
        """DataFrame of every violation (see the class docstring for columns)."""
        import pandas as pd

        return pd.DataFrame([asdict(v) for v in self.entries], columns=VIOLATION_COLUMNS)

    @property
    def layers(self):
        """DataFrame, one row per layer: index, layer, type, shapes, violations, verdict."""
        import pandas as pd

        return pd.DataFrame([{"layer_index": l.index, "layer": l.name, "layer_type": l.type,
                              "input_shape": format_shape(l.input_shape),
                              "output_shape": format_shape(l.output_shape),
                              "violations": l.violations, "verdict": "ok" if l.ok else "violation"}
                             for l in self.layer_verdicts])

    @property
    def caveats(self) -> tuple[str, ...]:
        """Notes saying that a refinement of the target (the AKD1000's mapper) refuses what its table accepts.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.compare(ak.example("ds_cnn_kws"), ["nsoc_v2", "akd1000"])["nsoc_v2"].caveats
        ()
        """
        return tuple(n for n in self.notes if " refuses it: " in n and "Check against " in n)

    def verdict_span(self) -> Span:
        """The verdict as a badge: its summary line, a tooltip, and the caveat a refinement note brings.

        A report that passes its table while a note says a refinement (the AKD1000's mapper)
        refuses the model gets a ``⚠`` badge that says so, not a plain ``✓``.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.check(ak.example("ds_cnn_kws"), "nsoc_v2").verdict_span().role
        'badge-ok'
        """
        if self.ok and self.caveats:
            return badge_span(True, f"{self.summary_line()} — on the {self.target} table; a refinement refuses it "
                                    "(see the note)", "; ".join(self.caveats), caveat=True)
        tip = ("no violation of an error rule and no unmapped layer" if self.ok else
               "the model does not map onto this target: see the violations below")
        return badge_span(self.ok, self.summary_line(), tip)

    def summary_line(self) -> str:
        """One line: the verdict in words.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.check(ak.example("ds_cnn_kws"), "nsoc_v2").summary_line()
        'COMPATIBLE (6 layers checked, no violations)'
        """
        n, bad = len(self.entries), sum(1 for l in self.layer_verdicts if not l.ok)
        if self.ok:
            return f"COMPATIBLE ({plural(len(self.layer_verdicts), 'layer')} checked, no violations)"
        parts = []
        if n:
            parts.append(f"{n} violation{'s' if n != 1 else ''} in {bad} of {len(self.layer_verdicts)} layers")
        if self.unmapped:
            parts.append(f"{len(self.unmapped)} unmapped layer{'s' if len(self.unmapped) != 1 else ''}")
        return "INCOMPATIBLE (" + ", ".join(parts) + ")"

    # --- the blocks both views render
    def detail_blocks(self, layers: bool = True, introduced: frozenset = frozenset()) -> list[Block]:
        """Unmapped layers, notes, the layer table (unless ``layers=False``) and the violations, as blocks.

        Violations whose :func:`violation_key` is in ``introduced`` are marked "new" (the
        Explorer passes those its fixes introduced).

        Examples
        --------
        >>> import akida_nb as ak
        >>> [b.title for b in ak.check(ak.example("broken"), "nsoc_v1").detail_blocks(layers=False)]
        ['Unmapped layers (not checked)', 'Notes', 'Violations', 'Rules']
        """
        blocks: list[Block] = [Items("Unmapped layers (not checked)", self.unmapped, "unmapped"),
                               Items("Notes", self.notes, "notes")]
        if layers:
            rows = [_layer_cells(l) + [badge_span(l.ok, l.summary if l.ok else f"✗ {l.summary}",
                                                  "no violation" if l.ok else "go to this layer's violations",
                                                  "" if l.ok else anchor(self.model_name, self.target, l.index))]
                    for l in self.layer_verdicts]
            blocks.append(Table("Layers", _LAYER_COLUMNS + (Column("verdict"),), rows,
                                open=len(rows) <= 20, role="layers"))
        blocks.append(_violations_table(self.entries, introduced=introduced, model_name=self.model_name,
                                        target=self.target))
        blocks.append(_rules_table(self.entries, self.model_name, self.target))
        return blocks

    def blocks(self, introduced: frozenset = frozenset()) -> list[Block]:
        """The report as :mod:`akida_nb.present` blocks: ``repr`` and ``_repr_html_`` both render these.

        Examples
        --------
        >>> import akida_nb as ak
        >>> [type(b).__name__ for b in ak.check(ak.example("broken"), "nsoc_v1").blocks()][:4]
        ['Line', 'Line', 'Diagram', 'Items']
        """
        head: list[Block] = [Line(["CompatibilityReport: ", Span(repr(self.model_name), "model"), " on ",
                                   Span(self.target, "target"), " ", Span(f"({self.target_title})", "target-title")]),
                             Line(["Verdict: ", self.verdict_span()]),
                             diagram(self.layer_verdicts, reports=(self,))]
        return head + self.detail_blocks(introduced=introduced)

    # --- JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` restores the identical report.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").to_dict()["ok"]
        False
        """
        return {"kind": "CompatibilityReport", "model_name": self.model_name, "target": self.target,
                "target_title": self.target_title, "ok": self.ok,
                "layers": [dict(asdict(l), input_shape=list(l.input_shape), output_shape=list(l.output_shape))
                           for l in self.layer_verdicts],
                "violations": [asdict(v) for v in self.entries],
                "notes": list(self.notes), "unmapped": list(self.unmapped)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompatibilityReport:
        """Rebuild a report from :meth:`to_dict` output.

        Examples
        --------
        >>> import akida_nb as ak
        >>> rep = ak.check(ak.example("broken"), "nsoc_v2")
        >>> ak.CompatibilityReport.from_dict(rep.to_dict()) == rep
        True
        """
        d = _mapping(d, "CompatibilityReport", "report")
        model_name, target, title = (_typed(d, k, str, "report") for k in ("model_name", "target", "target_title"))
        layers = [_record(LayerVerdict, l, f"report.layers[{i}]")
                  for i, l in enumerate(_typed(d, "layers", list, "report"))]
        entries = [_record(Violation, v, f"report.violations[{i}]")
                   for i, v in enumerate(_typed(d, "violations", list, "report"))]
        notes, unmapped = (tuple(_strings(d.get(k, []), f"report.{k}")) for k in ("notes", "unmapped"))
        return cls(model_name=model_name, target=target, target_title=title, layer_verdicts=tuple(layers),
                   entries=tuple(entries), notes=notes, unmapped=unmapped)

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> CompatibilityReport:
        """Inverse of :meth:`to_json`; text that is not such JSON raises a one-line :class:`SpecError`.

        Examples
        --------
        >>> import akida_nb as ak
        >>> try:
        ...     ak.CompatibilityReport.from_json("{bad")
        ... except ak.SpecError as e:
        ...     print(str(e).split(":")[:2])
        ['report', ' not valid JSON']
        """
        return cls.from_dict(_parse_json(text, "report"))


# ------------------------------------------------------------------------------ several targets
@dataclass(frozen=True, repr=False)
class Comparison(Rendered):
    """The result of :func:`akida_nb.compare`: one model, several targets, side by side.

    Attributes
    ----------
    ok : dict
        ``{target: bool}``.
    verdicts : DataFrame
        One row per layer, one column per target: ``ok`` or ``✗ n``.
    violations : DataFrame
        Every violation of every target, with a ``target`` column.

    Examples
    --------
    >>> import akida_nb as ak
    >>> cmp = ak.compare(ak.example("ds_cnn_kws"), ["nsoc_v1", "nsoc_v2"])
    >>> cmp.verdicts.loc[0, "nsoc_v1"], cmp.verdicts.loc[0, "nsoc_v2"]
    ('✗ 1', 'ok')
    """

    model_name: str
    reports: tuple[CompatibilityReport, ...] = field(repr=False)

    @property
    def targets(self) -> list[str]:
        """Target names, in the order checked."""
        return [r.target for r in self.reports]

    @property
    def ok(self) -> dict[str, bool]:
        """``{target: verdict}``."""
        return {r.target: r.ok for r in self.reports}

    def __getitem__(self, target: str) -> CompatibilityReport:
        for r in self.reports:
            if r.target == target:
                return r
        from .errors import UnknownTargetError

        raise UnknownTargetError(target, self.targets)

    @property
    def verdicts(self):
        """Layers × targets DataFrame of verdicts (``ok`` or ``✗ n``)."""
        import pandas as pd

        first = self.reports[0]
        data = {"layer": [l.name for l in first.layer_verdicts], "layer_type": [l.type for l in first.layer_verdicts]}
        for r in self.reports:
            data[r.target] = [l.mark for l in r.layer_verdicts]
        return pd.DataFrame(data)

    @property
    def violations(self):
        """All violations of all targets, with a leading ``target`` column."""
        import pandas as pd

        frames = [r.violations.assign(target=r.target) for r in self.reports]
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return df[["target"] + VIOLATION_COLUMNS]

    def blocks(self, introduced: Mapping[str, frozenset] | None = None) -> list[Block]:
        """The comparison as :mod:`akida_nb.present` blocks: ``repr`` and ``_repr_html_`` both render these.

        ``introduced`` maps a target to the :func:`violation_key` s to mark "new".

        Examples
        --------
        >>> import akida_nb as ak
        >>> type(ak.compare(ak.example("broken")).blocks()[-1]).__name__
        'Section'
        """
        blocks: list[Block] = [Line(["Comparison: ", Span(repr(self.model_name), "model"), " on ",
                                     ", ".join(self.targets)])]
        blocks += [Line(["  ", Span(r.target, "target"), " ", Span(f"({r.target_title})", "target-title"), ": ",
                         r.verdict_span()]) for r in self.reports]
        first = self.reports[0]
        blocks.append(diagram(first.layer_verdicts, reports=self.reports))
        rows = [_layer_cells(l) + [badge_span(r.layer_verdicts[i].ok, r.layer_verdicts[i].mark,
                                              f"{r.target}: {r.layer_verdicts[i].summary}",
                                              "" if r.layer_verdicts[i].ok else anchor(r.model_name, r.target, i))
                                   for r in self.reports]
                for i, l in enumerate(first.layer_verdicts)]
        blocks.append(Table("Verdict per layer", _LAYER_COLUMNS + tuple(Column(t) for t in self.targets), rows,
                            role="compare"))
        blocks += [Section([Span(r.target, "target"), ": ", r.verdict_span()],
                           r.detail_blocks(layers=False, introduced=(introduced or {}).get(r.target, frozenset())),
                           role="target-details") for r in self.reports]
        return blocks

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with every report; :meth:`from_dict` restores it."""
        return {"kind": "Comparison", "model_name": self.model_name, "ok": self.ok,
                "reports": [r.to_dict() for r in self.reports]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Comparison:
        """Inverse of :meth:`to_dict`.

        Examples
        --------
        >>> import akida_nb as ak
        >>> cmp = ak.compare(ak.example("gxnor_mnist"))
        >>> ak.Comparison.from_dict(cmp.to_dict()) == cmp
        True
        """
        d = _mapping(d, "Comparison", "comparison")
        reports = _typed(d, "reports", list, "comparison")
        if not reports:
            raise SpecError("comparison.reports", "a Comparison needs at least one report")
        return cls(model_name=_typed(d, "model_name", str, "comparison"),
                   reports=tuple(CompatibilityReport.from_dict(r) for r in reports))

    @classmethod
    def from_json(cls, text: str) -> Comparison:
        """Inverse of :meth:`to_json`; text that is not such JSON raises a one-line :class:`SpecError`.

        Examples
        --------
        >>> import akida_nb as ak
        >>> cmp = ak.compare(ak.example("broken"))
        >>> ak.Comparison.from_json(cmp.to_json()) == cmp
        True
        """
        return cls.from_dict(_parse_json(text, "comparison"))

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
