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

import hashlib
import html
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from .model import fmt_shape

__all__ = ["Violation", "LayerVerdict", "CompatibilityReport", "Comparison", "html_page", "badge"]

VIOLATION_COLUMNS = ["layer_index", "layer", "layer_type", "rule", "parameter", "value", "allowed", "message",
                     "fix", "note", "source", "severity"]


@dataclass(frozen=True)
class Violation:
    """One broken rule on one layer.

    Examples
    --------
    >>> import akida_nb as ak
    >>> v = ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").entries[0]
    >>> v.layer, v.rule, v.value
    ('conv_0', 'input_conv.type', 'InputConvolutional')
    """

    layer_index: int
    layer: str
    layer_type: str
    rule: str
    parameter: str
    value: str
    allowed: str
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


# ------------------------------------------------------------------------------ HTML helpers
def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def badge(ok: bool, text: str | None = None) -> str:
    """A small verdict badge (``✓`` / ``✗``) as HTML; colours come from the report CSS.

    Examples
    --------
    >>> badge(False, "2 violations")
    '<span class="akn-badge akn-bad">✗ 2 violations</span>'
    """
    label = text if text is not None else ("compatible" if ok else "incompatible")
    return f'<span class="akn-badge {"akn-ok" if ok else "akn-bad"}">{"✓" if ok else "✗"} {_esc(label)}</span>'


def html_page(text: str, body: str, title: str = "") -> str:
    """Wrap a rich view: scoped CSS, escaped text fallback first, rich view hidden until the CSS shows it.

    ``body`` must already be escaped HTML. The scope id is derived from the text, so
    the same report always renders the same HTML.

    Examples
    --------
    >>> page = html_page("plain <text>", "<b>rich</b>")
    >>> page.index("plain &lt;text&gt;") < page.index("<b>rich</b>")
    True
    """
    from .resources import static_text

    scope = "akn-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
    css = static_text("report.css").replace("#SCOPE", f"#{scope}")
    heading = f'<div class="akn-title">{_esc(title)}</div>' if title else ""
    return (f'<div id="{scope}" class="akn-root">'
            f'<pre class="akn-fallback">{_esc(text)}</pre>'
            f"<style>{css}</style>"
            f'<div class="akn-wrap" style="display:none">{heading}{body}</div></div>')


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="akn-table {cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _violations_html(entries) -> str:
    rows = [[_esc(v.layer_index), _esc(v.layer), _esc(v.layer_type), f"<code>{_esc(v.parameter)}</code>",
             f'<span class="akn-value">{_esc(v.value)}</span>', _esc(v.allowed),
             f'<div class="akn-msg">{_esc(v.message)}</div><div class="akn-fix">fix: {_esc(v.fix)}</div>'
             f'<div class="akn-note">{_esc(v.note)} <span class="akn-source">[{_esc(v.rule)} · '
             f"{_esc(v.source)}]</span></div>"]
            for v in entries]
    return _table(["#", "layer", "type", "parameter", "value", "allowed", "message, fix and rule"], rows,
                  "akn-violations")


def _list_html(title: str, items, cls: str) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{_esc(i)}</li>" for i in items)
    return f'<div class="{cls}"><b>{_esc(title)}</b><ul>{lis}</ul></div>'


# ------------------------------------------------------------------------------ one target
@dataclass(frozen=True)
class CompatibilityReport:
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
                              "input_shape": fmt_shape(l.input_shape), "output_shape": fmt_shape(l.output_shape),
                              "violations": l.violations, "verdict": "ok" if l.ok else "violation"}
                             for l in self.layer_verdicts])

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
            return f"COMPATIBLE ({len(self.layer_verdicts)} layers checked, no violations)"
        parts = []
        if n:
            parts.append(f"{n} violation{'s' if n != 1 else ''} in {bad} of {len(self.layer_verdicts)} layers")
        if self.unmapped:
            parts.append(f"{len(self.unmapped)} unmapped layer{'s' if len(self.unmapped) != 1 else ''}")
        return "INCOMPATIBLE (" + ", ".join(parts) + ")"

    # --- text
    def __repr__(self) -> str:
        lines = [f"CompatibilityReport: {self.model_name!r} on {self.target} ({self.target_title})",
                 f"Verdict: {self.summary_line()}", "", "Layers:"]
        w = max([5] + [len(l.name) for l in self.layer_verdicts])
        lines.append(f"  {'#':>3}  {'layer':<{w}}  {'type':<22}  {'input':>11}  {'output':>11}  verdict")
        for l in self.layer_verdicts:
            verdict = l.summary if l.ok else f"✗ {l.summary}"
            lines.append(f"  {l.index:>3}  {l.name:<{w}}  {l.type:<22}  {fmt_shape(l.input_shape):>11}  "
                         f"{fmt_shape(l.output_shape):>11}  {verdict}")
        if self.entries:
            lines += ["", "Violations:"]
            for k, v in enumerate(self.entries, 1):
                lines.append(f"  {k}. layer {v.layer_index} {v.layer!r} ({v.layer_type}), rule {v.rule}")
                lines.append(f"     parameter: {v.parameter}   value: {v.value}   allowed: {v.allowed}")
                lines.append(f"     {v.message}")
                lines.append(f"     fix: {v.fix}")
        if self.unmapped:
            lines += ["", "Unmapped layers (not checked):"] + [f"  - {u}" for u in self.unmapped]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    __str__ = __repr__

    # --- HTML
    def _rich_body(self) -> str:
        rows = [[_esc(l.index), _esc(l.name), _esc(l.type), _esc(fmt_shape(l.input_shape)),
                 _esc(fmt_shape(l.output_shape)),
                 badge(l.ok, l.summary)]
                for l in self.layer_verdicts]
        parts = [f'<div class="akn-header"><span class="akn-model">{_esc(self.model_name)}</span> on '
                 f'<span class="akn-target">{_esc(self.target)}</span> '
                 f'<span class="akn-target-title">({_esc(self.target_title)})</span> '
                 f'{badge(self.ok, self.summary_line())}</div>',
                 _list_html("Unmapped layers (not checked)", self.unmapped, "akn-unmapped"),
                 _list_html("Notes", self.notes, "akn-notes"),
                 f'<details class="akn-layers" {"open" if len(self.layer_verdicts) <= 20 else ""}>'
                 f"<summary>Layers ({len(self.layer_verdicts)})</summary>"
                 + _table(["#", "layer", "type", "input", "output", "verdict"], rows) + "</details>"]
        if self.entries:
            parts.append(f'<details class="akn-viol" open><summary>Violations ({len(self.entries)})</summary>'
                         + _violations_html(self.entries) + "</details>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return html_page(repr(self), self._rich_body())

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
    def from_dict(cls, d: Mapping[str, Any]) -> "CompatibilityReport":
        """Rebuild a report from :meth:`to_dict` output.

        Examples
        --------
        >>> import akida_nb as ak
        >>> rep = ak.check(ak.example("broken"), "nsoc_v2")
        >>> ak.CompatibilityReport.from_dict(rep.to_dict()) == rep
        True
        """
        from .errors import SpecError

        try:
            return cls(model_name=d["model_name"], target=d["target"], target_title=d["target_title"],
                       layer_verdicts=tuple(LayerVerdict(**dict(l, input_shape=tuple(l["input_shape"]),
                                                        output_shape=tuple(l["output_shape"])))
                                    for l in d["layers"]),
                       entries=tuple(Violation(**v) for v in d["violations"]),
                       notes=tuple(d.get("notes", ())), unmapped=tuple(d.get("unmapped", ())))
        except (KeyError, TypeError) as e:
            raise SpecError("report", f"not a CompatibilityReport dict: {e}") from None

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "CompatibilityReport":
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))


# ------------------------------------------------------------------------------ several targets
@dataclass(frozen=True)
class Comparison:
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

    def __repr__(self) -> str:
        lines = [f"Comparison: {self.model_name!r} on {', '.join(self.targets)}"]
        for r in self.reports:
            lines.append(f"  {r.target} ({r.target_title}): {r.summary_line()}")
        lines += ["", "Verdict per layer:"]
        first = self.reports[0]
        w = max([5] + [len(l.name) for l in first.layer_verdicts])
        cw = max(8, *(len(t) for t in self.targets))
        lines.append(f"  {'#':>3}  {'layer':<{w}}  {'type':<22}  " + "  ".join(f"{t:<{cw}}" for t in self.targets))
        for i, l in enumerate(first.layer_verdicts):
            cells = []
            for r in self.reports:
                lv = r.layer_verdicts[i]
                cells.append(f"{lv.mark:<{cw}}")
            lines.append(f"  {l.index:>3}  {l.name:<{w}}  {l.type:<22}  " + "  ".join(cells))
        for r in self.reports:
            lines += ["", "─" * 8 + f" {r.target} " + "─" * 8, repr(r)]
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        head = "".join(f'<div class="akn-header"><span class="akn-target">{_esc(r.target)}</span> '
                       f'<span class="akn-target-title">({_esc(r.target_title)})</span> '
                       f"{badge(r.ok, r.summary_line())}</div>" for r in self.reports)
        first = self.reports[0]
        rows = []
        for i, l in enumerate(first.layer_verdicts):
            cells = [_esc(l.index), _esc(l.name), _esc(l.type), _esc(fmt_shape(l.input_shape)),
                     _esc(fmt_shape(l.output_shape))]
            for r in self.reports:
                lv = r.layer_verdicts[i]
                cells.append(badge(lv.ok, "ok" if lv.ok else f"{lv.violations}"))
            rows.append(cells)
        table = _table(["#", "layer", "type", "input", "output"] + self.targets, rows, "akn-compare")
        details = "".join(
            f'<details class="akn-target-details"><summary>{_esc(r.target)}: {_esc(r.summary_line())}'
            f"</summary>{_list_html('Unmapped layers (not checked)', r.unmapped, 'akn-unmapped')}"
            f"{_list_html('Notes', r.notes, 'akn-notes')}"
            f"{_violations_html(r.entries) if r.entries else ''}</details>"
            for r in self.reports)
        body = (f'<div class="akn-header"><span class="akn-model">{_esc(self.model_name)}</span></div>'
                + head + table + details)
        return html_page(repr(self), body)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with every report; :meth:`from_dict` restores it."""
        return {"kind": "Comparison", "model_name": self.model_name, "ok": self.ok,
                "reports": [r.to_dict() for r in self.reports]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Comparison":
        """Inverse of :meth:`to_dict`.

        Examples
        --------
        >>> import akida_nb as ak
        >>> cmp = ak.compare(ak.example("gxnor_mnist"))
        >>> ak.Comparison.from_dict(cmp.to_dict()) == cmp
        True
        """
        return cls(model_name=d["model_name"],
                   reports=tuple(CompatibilityReport.from_dict(r) for r in d["reports"]))

    def to_json(self, indent: int | None = 1) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
