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

from ..html import Rendered
from ..model import Layer, Model
from ..present import Block, Cell, Column, Items, Line, Span, Table, badge_span, describe_layer
from ..report import RULE_ON_LAYER_COLUMNS, CompatibilityReport, RuleOnLayer
from .edit import Change, Variables

__all__ = ["CHANGE_COLUMNS", "UNSOLVED_COLUMNS", "FixResult", "Unsolved"]

CHANGE_COLUMNS = ["fix", "layer", "what", "before", "after", "exact", "note"]
UNSOLVED_COLUMNS = ["layer_index", "layer", "layer_type", "rule", "parameter", "value", "allowed", "fixes",
                    "reason"]


@dataclass(frozen=True)
class Unsolved(RuleOnLayer):
    """A violation left after fixing, with the fixes that address its rule and why none solved it.

    Examples
    --------
    >>> import akida_nb as ak
    >>> u = ak.fix(ak.example("ds_cnn_kws"), "nsoc_v1").unsolved_entries[0]
    >>> u.rule, u.fixes
    ('sepconv.avgpool_d0', 'fix_avgpool_size')
    """

    fixes: str
    reason: str


layer_text = describe_layer
"""One line describing a layer (:func:`akida_nb.present.describe_layer`)."""


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


@dataclass(frozen=True, eq=False, repr=False)
class FixResult(Rendered):
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

    # ------------------------------------------------------------------ the blocks both views render
    def blocks(self) -> list[Block]:
        """The result as :mod:`akida_nb.present` blocks: ``repr`` and ``_repr_html_`` both render these.

        Examples
        --------
        >>> import akida_nb as ak
        >>> [b.title for b in ak.fix(ak.example("broken"), "nsoc_v1").blocks() if hasattr(b, "columns")][0]
        'Changes'
        """
        blocks: list[Block] = [
            Line(["FixResult: ", Span(repr(self.original.name), "model"), " on ", Span(self.target, "target"), " ",
                  Span(f"({self.target_title})", "target-title")]),
            Line(["Before: ", badge_span(self.before.ok, self.before.summary_line())]),
            Line(["After:  ", badge_span(self.after.ok, self.after.summary_line())]),
            Line(["Fixes tried (in order): ", ", ".join(self.fixes) or "none"]),
            Line(["Applied: ", Span(", ".join(self.applied) or "none (nothing to change)", "strong")]),
            Line(self._numerics_line()),
            Line(f"Layers: {len(self.original.layers)} → {len(self.model.layers)}")]
        changes: list[list[Cell]] = [
            [Span(c.fix, "code"), c.layer, c.what, Span(c.before or "—", "layer"), Span(c.after, "layer"),
             badge_span(c.exact, "exact" if c.exact else "not exact"), c.note]
            for c in self.change_rows]
        blocks.append(Table("Changes", (Column("fix", flow="[{}] "), Column("layer", flow="{}: "),
                                        Column("what", flow="{} "), Column("before", flow="{} → "),
                                        Column("after", flow="{}  "), Column("exact", flow="({})"),
                                        Column("note", long=True, label=False)),
                            changes, role="changes", numbered=True, flow=True))
        if self.unsolved_entries:
            rows: list[list[Cell]] = [[*u.cells(), u.reason, u.fixes or "none"] for u in self.unsolved_entries]
            blocks.append(Table("Remaining violations, and why no fix solved them",
                                RULE_ON_LAYER_COLUMNS + (Column("why", long=True), Column("fixes", long=True)),
                                rows, role="unsolved", numbered=True, flow=True))
        else:
            blocks.append(Line(["Remaining violations: ", badge_span(True, "none")]))
        diff = layer_diff(self.original, self.model)
        marks = {"": "=", "changed": "*", "inserted": "+", "removed": "-"}
        blocks.append(Table("Layers, before → after (= same, * changed, + inserted, - removed)",
                            (Column("", flow="{} "), Column("before", flow="{}"),
                             Column("after", long=True, label=False, flow="→ {}")),
                            [[marks[status], Span(describe_layer(old) if old else "(none)", "layer"),
                              Span(describe_layer(new) if new and status else "", "layer")]
                             for old, new, status in diff],
                            row_roles=[status for _, _, status in diff], role="diff",
                            flow=True))
        blocks.append(Items("Notes on the fixed model", self.after.notes))
        return blocks

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
