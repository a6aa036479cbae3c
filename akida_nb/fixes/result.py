""":class:`FixResult`: what :func:`akida_nb.fix` did, in text, HTML and JSON.

It follows the reports' style (:mod:`akida_nb.report`): a complete text ``__repr__``
(before/after verdicts, every change, every remaining violation with the reason no fix
solved it, a layer diff); ``_repr_html_`` built with :func:`~akida_nb.report.html_page`
(escaped text fallback first, CSS scoped under an id derived from the text, JupyterLab
theme variables, no JavaScript) showing before/after badges, the changes, what remains,
and the layers side by side with changed rows highlighted; ``to_dict()`` for JSON.

Examples
--------
>>> import akida_nb as ak
>>> res = ak.fix(ak.example("broken"), "nsoc_v2")
>>> print(repr(res).splitlines()[1])
Before: INCOMPATIBLE (13 violations in 4 of 4 layers)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..model import Layer, Model, fmt_pair, fmt_shape
from ..report import CompatibilityReport, _esc, _list_html, _table, badge, html_page
from .edit import Change, Variables

__all__ = ["FixResult", "Unsolved", "CHANGE_COLUMNS", "UNSOLVED_COLUMNS"]

CHANGE_COLUMNS = ["fix", "layer", "what", "before", "after", "exact", "note"]
UNSOLVED_COLUMNS = ["layer_index", "layer", "layer_type", "rule", "parameter", "value", "allowed", "fixes",
                    "reason"]


@dataclass(frozen=True)
class Unsolved:
    """A violation left after fixing, with the fixes that address its rule and why none solved it.

    Examples
    --------
    >>> import akida_nb as ak
    >>> u = ak.fix(ak.example("ds_cnn_kws"), "nsoc_v1").unsolved_entries[0]
    >>> u.rule, u.fixes
    ('sepconv.avgpool_d0', 'fix_avgpool_size')
    """

    layer_index: int
    layer: str
    layer_type: str
    rule: str
    parameter: str
    value: str
    allowed: str
    fixes: str
    reason: str


def layer_text(layer: Layer) -> str:
    """One line describing a layer: name, type, geometry, shapes and bits.

    Examples
    --------
    >>> import akida_nb as ak
    >>> layer_text(ak.example("ds_cnn_kws").layers[4])
    'separable_4 SeparableConvolutional k3×3 s1×1 same, global average: 25×5×64 → 1×1×64, i4 w4 a4'
    """
    geometry = ""
    if layer.type != "FullyConnected":
        geometry = f" k{fmt_pair(layer.kernel_size)} s{fmt_pair(layer.kernel_stride)} {layer.padding}"
        if layer.pool_type == "max":
            geometry += f", max {fmt_pair(layer.pool_size)}/{fmt_pair(layer.pool_stride)}"
        elif layer.pool_type == "average":
            geometry += ", global average"
    act = f"a{layer.act_bits}" if layer.activation else "no activation"
    return (f"{layer.name} {layer.type}{geometry}: {fmt_shape(layer.input_shape)} → {fmt_shape(layer.output_shape)}, "
            f"i{layer.input_bits} w{layer.weights_bits} {act}")


def layer_diff(before: Model, after: Model) -> list[tuple[Layer | None, Layer | None, str]]:
    """Layers side by side, matched by name: ``(before, after, status)``.

    ``status`` is ``""`` (unchanged), ``"changed"``, ``"inserted"`` or ``"removed"``.

    Examples
    --------
    >>> import akida_nb as ak
    >>> res = ak.fix(ak.example("broken"), "nsoc_v2", fixes=["identity_after_maxpool"])
    >>> [status for _, _, status in layer_diff(res.original, res.model)]
    ['', '', '', 'inserted', '']
    """
    after_names = {l.name for l in after.layers}
    rows: list[tuple[Layer | None, Layer | None, str]] = []
    pending = list(before.layers)
    for layer in after.layers:
        old = next((l for l in pending if l.name == layer.name), None)
        if old is None:
            rows.append((None, layer, "inserted"))
            continue
        while pending[0] is not old:
            gone = pending.pop(0)
            if gone.name not in after_names:
                rows.append((gone, None, "removed"))
        pending.pop(0)
        rows.append((old, layer, "" if layer_text(old) == layer_text(layer) else "changed"))
    rows.extend((l, None, "removed") for l in pending)
    return rows


@dataclass(frozen=True, eq=False)
class FixResult:
    """The result of :func:`akida_nb.fix`: the new model, every change, and fresh checks before and after.

    A fix never claims success: ``after`` is a new :func:`~akida_nb.check` of the fixed
    model, and whatever no fix could solve is listed in ``unsolved`` with the reason.

    Attributes
    ----------
    model : Model
        The fixed model (the input model is untouched).
    original : Model
        The model that was given.
    variables : list of dict or None
        The carried-over variables (when variables were given), for the Simulator.
    changes : DataFrame
        One row per change: fix, layer, what, before, after, exact, note.
    before, after : CompatibilityReport
        Checks of the original and the fixed model (with the variables when given).
    unsolved : DataFrame
        The violations left, with the fixes that address their rule and why none solved them.
    fixes : tuple of str
        The fixes tried, in application order; ``applied`` those that changed something.

    Examples
    --------
    >>> import akida_nb as ak
    >>> res = ak.fix(ak.example("vgg_utk_face"), "nsoc_v1")
    >>> res.before.ok, res.after.ok, res.applied
    (False, True, ('input_conv_to_conv', 'valid_to_same', 'clamp_bits', 'split_maxpool'))
    """

    model: Model
    original: Model
    target: str
    target_title: str
    fixes: tuple[str, ...]
    applied: tuple[str, ...]
    change_rows: tuple[Change, ...] = field(repr=False)
    before: CompatibilityReport = field(repr=False)
    after: CompatibilityReport = field(repr=False)
    unsolved_entries: tuple[Unsolved, ...] = field(repr=False)
    variables: Variables | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ views
    @property
    def ok(self) -> bool:
        """Whether the fixed model passes the target (``after.ok``)."""
        return self.after.ok

    @property
    def exact(self) -> bool:
        """Whether every change keeps the simulator's outputs bit-identical (True without changes).

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.fix(ak.example("ds_cnn_kws"), "nsoc_v1", fixes=["pad_avgpool_filters"]).exact
        True
        """
        return all(c.exact for c in self.change_rows)

    @property
    def changes(self):
        """DataFrame, one row per change: fix, layer, what, before, after, exact, note.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.fix(ak.example("broken"), "nsoc_v2", fixes=["widen_pool_to_stride"]).changes.loc[0, "after"]
        '3×3'
        """
        import pandas as pd

        return pd.DataFrame([asdict(c) for c in self.change_rows], columns=CHANGE_COLUMNS)

    @property
    def unsolved(self):
        """DataFrame of the violations left: layer, rule, value, allowed, fixes, reason.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.fix(ak.example("broken"), "nsoc_v1").unsolved["rule"].tolist()[:2]
        ['sepconv.avgpool_d0', 'sepconv.avgpool_d1']
        """
        import pandas as pd

        return pd.DataFrame([asdict(u) for u in self.unsolved_entries], columns=UNSOLVED_COLUMNS)

    def _numerics_line(self) -> str:
        if not self.change_rows:
            return "Numerics: unchanged (no change)"
        approx = sum(1 for c in self.change_rows if not c.exact)
        carried = ("variables carried over" if self.variables is not None else "no variables given")
        if not approx:
            return f"Numerics: exact — every change keeps the simulator's outputs bit-identical ({carried})"
        return (f"Numerics: approximate — {approx} of {len(self.change_rows)} changes are not exact "
                f"({carried}; retrain or recalibrate)")

    # ------------------------------------------------------------------ text
    def __repr__(self) -> str:
        lines = [f"FixResult: {self.original.name!r} on {self.target} ({self.target_title})",
                 f"Before: {self.before.summary_line()}",
                 f"After:  {self.after.summary_line()}",
                 f"Fixes tried (in order): {', '.join(self.fixes) or 'none'}",
                 f"Applied: {', '.join(self.applied) or 'none (nothing to change)'}",
                 self._numerics_line(),
                 f"Layers: {len(self.original.layers)} → {len(self.model.layers)}"]
        if self.change_rows:
            lines += ["", f"Changes ({len(self.change_rows)}):"]
            for k, c in enumerate(self.change_rows, 1):
                arrow = f"{c.before or '—'} → {c.after}"
                lines.append(f"  {k}. [{c.fix}] {c.layer}: {c.what} {arrow}  "
                             f"({'exact' if c.exact else 'not exact'})")
                if c.note:
                    lines.append(f"     {c.note}")
        if self.unsolved_entries:
            lines += ["", f"Remaining violations ({len(self.unsolved_entries)}), and why no fix solved them:"]
            for k, u in enumerate(self.unsolved_entries, 1):
                lines.append(f"  {k}. layer {u.layer_index} {u.layer!r} ({u.layer_type}), rule {u.rule}: "
                             f"{u.parameter} = {u.value}, allowed {u.allowed}")
                lines.append(f"     why: {u.reason}")
        else:
            lines += ["", "Remaining violations: none"]
        lines += ["", "Layers (before → after, * = changed, + = inserted, - = removed):"]
        for old, new, status in layer_diff(self.original, self.model):
            mark = {"": " ", "changed": "*", "inserted": "+", "removed": "-"}[status]
            if status == "":
                lines.append(f"  {mark} {layer_text(new)}")
            else:
                lines.append(f"  {mark} {layer_text(old) if old else '(none)'}")
                lines.append(f"      → {layer_text(new) if new else '(removed)'}")
        if self.after.notes:
            lines += ["", "Notes on the fixed model:"] + [f"  - {n}" for n in self.after.notes]
        return "\n".join(lines)

    __str__ = __repr__

    # ------------------------------------------------------------------ HTML
    def _rich_body(self) -> str:
        head = (f'<div class="akn-header"><span class="akn-model">{_esc(self.original.name)}</span> on '
                f'<span class="akn-target">{_esc(self.target)}</span> '
                f'<span class="akn-target-title">({_esc(self.target_title)})</span></div>'
                f'<div class="akn-header">before {badge(self.before.ok, self.before.summary_line())} → after '
                f'{badge(self.after.ok, self.after.summary_line())}</div>'
                f'<div class="akn-header">Fixes tried: {_esc(", ".join(self.fixes) or "none")}; applied: '
                f'<b>{_esc(", ".join(self.applied) or "none")}</b>. {_esc(self._numerics_line())}. '
                f'Layers: {len(self.original.layers)} → {len(self.model.layers)}.</div>')
        parts = [head]
        if self.change_rows:
            rows = [[_esc(k), f"<code>{_esc(c.fix)}</code>", _esc(c.layer), _esc(c.what),
                     f'<span class="akn-layer">{_esc(c.before or "—")}</span>',
                     f'<span class="akn-layer">{_esc(c.after)}</span>',
                     badge(c.exact, "exact" if c.exact else "not exact"), f'<span class="akn-note">{_esc(c.note)}</span>']
                    for k, c in enumerate(self.change_rows, 1)]
            parts.append(f'<details class="akn-changes" open><summary>Changes ({len(self.change_rows)})</summary>'
                         + _table(["#", "fix", "layer", "what", "before", "after", "exact", "note"], rows)
                         + "</details>")
        if self.unsolved_entries:
            rows = [[_esc(u.layer_index), _esc(u.layer), _esc(u.layer_type), f"<code>{_esc(u.parameter)}</code>",
                     f'<span class="akn-value">{_esc(u.value)}</span>', _esc(u.allowed),
                     f'<div class="akn-msg">{_esc(u.reason)}</div>'
                     f'<div class="akn-note">rule {_esc(u.rule)}; fixes: {_esc(u.fixes or "none")}</div>']
                    for u in self.unsolved_entries]
            parts.append(f'<details class="akn-unsolved" open><summary>Remaining violations '
                         f'({len(self.unsolved_entries)}) and why no fix solved them</summary>'
                         + _table(["#", "layer", "type", "parameter", "value", "allowed", "why"], rows)
                         + "</details>")
        else:
            parts.append(f'<div class="akn-header">{badge(True, "no violation left")}</div>')
        parts.append('<details class="akn-diff" open><summary>Layers, before and after</summary>'
                     + self._diff_table() + "</details>")
        parts.append(_list_html("Notes on the fixed model", self.after.notes, "akn-notes"))
        return "".join(parts)

    def _diff_table(self) -> str:
        body = []
        for old, new, status in layer_diff(self.original, self.model):
            cls = ' class="akn-changed"' if status else ""
            cells = [_esc(status or "="),
                     f'<span class="akn-layer">{_esc(layer_text(old)) if old else "—"}</span>',
                     f'<span class="akn-layer">{_esc(layer_text(new)) if new else "—"}</span>']
            body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return ('<table class="akn-table akn-diff"><thead><tr><th></th><th>before</th><th>after</th></tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>")

    def _repr_html_(self) -> str:
        return html_page(repr(self), self._rich_body())

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: models before and after, changes, both reports, what remains.

        Variables (numpy arrays) are not included; ``variables_carried`` says whether
        ``res.variables`` holds them.

        Examples
        --------
        >>> import akida_nb as ak, json
        >>> d = ak.fix(ak.example("ds_cnn_kws"), "nsoc_v1").to_dict()
        >>> d["kind"], d["after"]["ok"], len(json.dumps(d)) > 0
        ('FixResult', False, True)
        """
        return {"kind": "FixResult", "target": self.target, "target_title": self.target_title,
                "fixes": list(self.fixes), "applied": list(self.applied), "ok": self.ok, "exact": self.exact,
                "variables_carried": self.variables is not None,
                "model_before": self.original.to_dict(), "model_after": self.model.to_dict(),
                "changes": [asdict(c) for c in self.change_rows],
                "before": self.before.to_dict(), "after": self.after.to_dict(),
                "unsolved": [asdict(u) for u in self.unsolved_entries]}
