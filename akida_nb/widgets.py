"""ipywidgets dashboards: :class:`Explorer`, :class:`Playground`, :class:`ConstraintBrowser` (``ak.widgets``).

Each dashboard is a plain class that owns its widgets (docs/design.md#widgets-and-plots): the root
container is ``.ui`` (a notebook displays the object itself), every control's ``value``
is observed by one update method, and the results go into ``HTML`` widgets and plain
attributes, so the dashboards can be driven and tested without a browser by setting
``.value`` on the controls. The HTML is deterministic (no timestamps, no random ids).

This module is loaded lazily (``ak.widgets``); ``import akida_nb`` does not import ipywidgets.

Examples
--------
>>> import akida_nb as ak
>>> pg = ak.widgets.Playground()
>>> pg.controls["kernel"].value = 4
>>> pg.summary
'nsoc_v1: 1 violation, 0 of 1 layers ok | nsoc_v2: 1 violation, 0 of 1 layers ok'
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from .check import check, compare
from .errors import AkidaNbError, SpecError, brief
from .html import badge, escape, page, render_html
from .model import LAYER_TYPES, Model
from .present import Block, Column, Line, Span, Table, badge_span, format_shape, plural as _plural, render_text
from .report import Comparison, CompatibilityReport
from .targets import compare_constraints, constraints, get_target, targets as _targets_frame

__all__ = ["SIDE_BY_SIDE", "ConstraintBrowser", "Explorer", "Playground"]

SIDE_BY_SIDE = ("nsoc_v1", "nsoc_v2")
"""The Explorer's default choice: both seed targets, side by side."""


def _target_names(targets: Any, argument: str) -> tuple[str, ...]:
    """Registered target names from one name or a sequence of names, or a typed error naming ``argument``."""
    if isinstance(targets, str):
        targets = (targets,)
    if not isinstance(targets, (list, tuple)) or not targets or not all(isinstance(t, str) for t in targets):
        raise SpecError(argument, f"a target name or a non-empty list of target names expected, got {brief(targets)}")
    return tuple(get_target(t).name for t in targets)


def _no_extra(cls: str, extra: dict[str, Any]) -> None:
    if extra:
        raise SpecError(cls, f"unknown argument {brief(next(iter(extra)))}")


def _page(blocks: Sequence[Block]) -> str:
    return page(render_text(blocks), render_html(blocks))


def _frame_table(title: str, df: Any, row_roles: Sequence[str] = (), long: Sequence[str] = ("note", "source"),
                 role: str = "") -> Table:
    """A DataFrame as a table block (every value shown as text); ``long`` columns wrap under their row."""
    rows = [["" if v is None else str(v) for v in row] for row in df.itertuples(index=False)]
    return Table(title, tuple(Column(str(c), long=c in long) for c in df.columns), rows, row_roles=row_roles,
                 role=role)


def _target_titles() -> dict[str, str]:
    df = _targets_frame()
    return dict(zip(df["name"], df["title"]))


def _reports(result: CompatibilityReport | Comparison) -> tuple[CompatibilityReport, ...]:
    return result.reports if isinstance(result, Comparison) else (result,)


def _counts(result: CompatibilityReport | Comparison) -> dict[str, dict[str, int]]:
    return {r.target: {"violations": len(r.entries), "layers_ok": sum(lv.ok for lv in r.layer_verdicts),
                       "layers": len(r.layer_verdicts)} for r in _reports(result)}


def _summary_text(counts: dict[str, dict[str, int]]) -> str:
    return " | ".join(f"{t}: {_plural(c['violations'], 'violation')}, {c['layers_ok']} of {c['layers']} layers ok"
                      for t, c in counts.items())


def _summary_html(result: CompatibilityReport | Comparison) -> str:
    counts = _counts(result)
    cells = []
    for r in _reports(result):
        c = counts[r.target]
        cells.append(f'<span class="akn-count"><span class="akn-target">{escape(r.target)}</span> '
                     f"{badge(r.ok, _plural(c['violations'], 'violation'))} "
                     f"{c['layers_ok']} of {c['layers']} layers ok</span>")
    return page(_summary_text(counts), '<div class="akn-counts">' + "".join(cells) + "</div>")


class _Dashboard:
    """Shared plumbing: ``.ui``, notebook display, and observing controls' values with ``self._update``."""

    ui: w.Widget

    def _update(self, change: dict | None = None) -> None:
        raise NotImplementedError

    def _watch(self, *controls: w.Widget) -> None:
        for control in controls:
            control.observe(self._update, names="value")

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)


# ------------------------------------------------------------------------------ Explorer
class Explorer(_Dashboard):
    """Explore one model: pick a target (or both seed targets side by side), toggle fixes, read the report.

    The target picker lists every registered target and ``nsoc_v1 + nsoc_v2`` side
    by side (its value is a tuple of target names). Below it, one checkbox per fix
    that :func:`akida_nb.fixes.applicable_fixes` offers for the chosen target(s);
    checking some re-runs :func:`akida_nb.fix` with them and shows the fixed model's
    report and the changes. Side by side, each target in turn (in the picker's order)
    gets the checked fixes offered for it, so one fixed model is shown on both.

    Parameters
    ----------
    model : Model
    target : tuple of str
        Initial choice; defaults to :data:`SIDE_BY_SIDE`.

    Attributes
    ----------
    ui : VBox
        The root container.
    target : Dropdown
        Value: a tuple of target names.
    fix_checks : dict of str to Checkbox
        The fix checkboxes of the current target choice, by fix name. A fix keeps its
        checkbox (and whether it is checked) when the target changes and back.
    current_model : Model
        The model after the checked fixes (the input model when none is checked).
    current_report : CompatibilityReport or Comparison
        ``current_model`` checked on the chosen target(s).
    changes : DataFrame
        The fixes' change rows with a leading ``target`` column (empty without fixes).
    counts : dict
        Per target: ``violations``, ``layers_ok``, ``layers``.
    summary : str
        The counts in one line.
    summary_html, changes_html, report_html : HTML
        The rendered counts, changes and report (``current_report._repr_html_()``).

    Examples
    --------
    >>> import akida_nb as ak
    >>> ex = ak.widgets.Explorer(ak.example("ds_cnn_kws"))
    >>> ex.summary.split(" | ")[1]
    'nsoc_v2: 0 violations, 6 of 6 layers ok'
    >>> ex.target.value = ("nsoc_v2",)
    >>> ex.current_report.ok
    True
    """

    current_report: CompatibilityReport | Comparison

    def __init__(self, model: Model, target: str | Sequence[str] = SIDE_BY_SIDE, **unknown: Any) -> None:
        _no_extra("Explorer", unknown)
        if not isinstance(model, Model):
            raise SpecError("model", f"Explorer needs an akida_nb.Model, got {type(model).__name__}")
        chosen = _target_names(target, "target")
        self.model = model
        options: list[tuple[str, tuple[str, ...]]] = [(f"{name} — {title}", (name,))
                                                      for name, title in _target_titles().items()]
        for combo in (SIDE_BY_SIDE, chosen):
            if len(combo) > 1 and combo not in [v for _, v in options]:
                options.append((f"{' + '.join(combo)} side by side", combo))
        self.target = w.Dropdown(options=options, value=chosen, description="Target",
                                 layout=w.Layout(width="max-content"))
        self.fix_checks: dict[str, w.Checkbox] = {}
        self._boxes: dict[str, w.Checkbox] = {}
        self._offered: dict[str, set[str]] = {}
        self._fix_targets: tuple[str, ...] | None = None
        self.fix_box = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.fix_label = w.HTML()
        self.summary_html = w.HTML()
        self.changes_html = w.HTML()
        self.report_html = w.HTML()
        self.ui = w.VBox([w.HTML(f"<b>{escape(model.name)}</b>: {_plural(len(model.layers), 'layer')}"),
                          self.target, self.fix_label, self.fix_box, self.summary_html, self.changes_html,
                          self.report_html])
        self._watch(self.target)
        self._update()

    def _rebuild_fixes(self, chosen: tuple[str, ...]) -> None:
        from .fixes import applicable_fixes, fix, list_fixes

        # what applies now, and what a full fix() run reaches (a fix can make another applicable)
        self._offered = {t: set(applicable_fixes(self.model, t)) | set(fix(self.model, t).changes["fix"])
                         for t in chosen}
        wanted = set().union(*self._offered.values())
        table = list_fixes().sort_values(["order", "name"])
        self.fix_checks = {}
        for row in table.itertuples():
            if row.name not in wanted:
                continue
            if row.name not in self._boxes:  # one checkbox per fix, kept (with its state) across switches
                self._boxes[row.name] = w.Checkbox(
                    value=False, description=row.name, tooltip=row.description, indent=False,
                    layout=w.Layout(width="max-content", margin="0 12px 0 0"))
                self._watch(self._boxes[row.name])
            self.fix_checks[row.name] = self._boxes[row.name]
        self.fix_box.children = tuple(self.fix_checks.values())
        self.fix_label.value = ("<b>Fixes</b> (check to apply):" if self.fix_checks
                                else "<b>Fixes</b>: none applies to this model on this target.")
        self._fix_targets = chosen

    def _apply_fixes(self, chosen: tuple[str, ...], names: list[str]):
        """The model after the checked fixes offered for each target in turn, the changes, the last result."""
        import pandas as pd

        from .fixes import fix

        model, frames, result = self.model, [], None
        for t in chosen:
            wanted = [n for n in names if n in self._offered[t]]
            if wanted:  # a fix with nothing left to do (after another target's fixes) changes nothing
                result = fix(model, t, fixes=wanted)
                model = result.model
                frames.append(result.changes.assign(target=t))
        changes = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["target"])
        return model, changes[["target"] + [c for c in changes.columns if c != "target"]], result

    def _changes_html(self) -> str:
        if self.changes.empty:
            return ""
        return _page([_frame_table("Changes", self.changes, role="changes")])

    def _update(self, change: dict | None = None) -> None:
        chosen = tuple(self.target.value)
        if chosen != self._fix_targets:
            self._rebuild_fixes(chosen)
        names = [name for name, box in self.fix_checks.items() if box.value]
        self.current_model, self.changes, result = self._apply_fixes(chosen, names)
        if len(chosen) > 1:
            self.current_report = compare(self.current_model, chosen)
        else:  # fix() already checked the fixed model again
            self.current_report = result.after if result is not None else check(self.current_model, chosen[0])
        self.counts = _counts(self.current_report)
        self.summary = _summary_text(self.counts)
        self.summary_html.value = _summary_html(self.current_report)
        self.changes_html.value = self._changes_html()
        self.report_html.value = self.current_report._repr_html_()


# ------------------------------------------------------------------------------ Playground
_NEXT_LAYERS = {
    "nothing (last layer)": None,
    "Convolutional 3×3": {"type": "Convolutional", "name": "next", "kernel_size": 3, "filters": 16,
                          "weights_bits": 2, "act_bits": 2},
    "SeparableConvolutional 3×3": {"type": "SeparableConvolutional", "name": "next", "kernel_size": 3,
                                   "filters": 16, "weights_bits": 2, "act_bits": 2},
    "FullyConnected": {"type": "FullyConnected", "name": "next", "units": 10, "weights_bits": 2,
                       "activation": False},
}


class Playground(_Dashboard):
    """Build one layer with dropdowns and sliders and see its verdict on each target, live.

    Each violation comes with the rule's teaching note, the allowed values and a fix.
    A layer can be followed by a small next layer, because some rules are about what
    comes next (a max-pooled convolution must be followed by a convolution) or about
    the input bits the layer hands on.

    Parameters
    ----------
    targets : sequence of str
        The targets judged side by side.

    Attributes
    ----------
    ui : HBox
        The root container: controls left, verdicts right.
    controls : dict of str to widget
        ``type``, ``d0``, ``d1``, ``channels``, ``input_bits``, ``kernel``, ``stride``,
        ``padding``, ``pool_type``, ``pool_size``, ``pool_stride``, ``filters``,
        ``weights_bits``, ``act_bits``, ``activation``, ``next``.
    model : Model or None
        The model built from the controls (None when the controls describe no valid model).
    error : str or None
        Why no model could be built.
    current_report : Comparison or None
    counts : dict
        Per target: ``violations``, ``layers_ok``, ``layers``.
    summary : str
    verdict_html : HTML
        The model, then per target its verdict and every violation with note and fix.

    Examples
    --------
    >>> import akida_nb as ak
    >>> pg = ak.widgets.Playground()
    >>> pg.current_report.ok
    {'nsoc_v1': True, 'nsoc_v2': True}
    >>> pg.controls["stride"].value = 2
    >>> pg.current_report.ok
    {'nsoc_v1': False, 'nsoc_v2': True}
    """

    model: Model | None
    error: str | None
    current_report: Comparison | None

    def __init__(self, targets: str | Sequence[str] = SIDE_BY_SIDE, **unknown: Any) -> None:
        _no_extra("Playground", unknown)
        self.targets = _target_names(targets, "targets")
        narrow = {"style": {"description_width": "90px"}, "layout": w.Layout(width="320px")}
        self.controls: dict[str, w.ValueWidget] = {
            "type": w.Dropdown(options=LAYER_TYPES, value="Convolutional", description="layer type", **narrow),
            "d0": w.IntSlider(value=32, min=1, max=300, description="input d0", **narrow),
            "d1": w.IntSlider(value=32, min=1, max=300, description="input d1", **narrow),
            "channels": w.BoundedIntText(value=8, min=1, max=200_000, description="channels", **narrow),
            "input_bits": w.IntSlider(value=2, min=1, max=8, description="input bits", **narrow),
            "kernel": w.IntSlider(value=3, min=1, max=9, description="kernel", **narrow),
            "stride": w.IntSlider(value=1, min=1, max=3, description="stride", **narrow),
            "padding": w.ToggleButtons(options=["same", "valid"], value="same", description="padding",
                                       style={"description_width": "90px", "button_width": "60px"}),
            "pool_type": w.ToggleButtons(options=["none", "max", "average"], value="none", description="pooling",
                                         style={"description_width": "90px", "button_width": "60px"}),
            "pool_size": w.IntSlider(value=2, min=1, max=4, description="pool size", **narrow),
            "pool_stride": w.IntSlider(value=2, min=1, max=4, description="pool stride", **narrow),
            "filters": w.BoundedIntText(value=32, min=1, max=4096, description="filters/units", **narrow),
            "weights_bits": w.IntSlider(value=2, min=1, max=8, description="weights bits", **narrow),
            "act_bits": w.IntSlider(value=2, min=1, max=8, description="act bits", **narrow),
            "activation": w.Checkbox(value=True, description="activation", indent=False),
            "next": w.Dropdown(options=list(_NEXT_LAYERS), value="nothing (last layer)", description="followed by",
                               **narrow),
        }
        self.verdict_html = w.HTML(layout=w.Layout(flex="1 1 auto"))
        self.ui = w.HBox([w.VBox(list(self.controls.values()), layout=w.Layout(flex="0 0 auto")),
                          self.verdict_html])
        self._watch(*self.controls.values())
        self._update()

    def spec(self) -> dict[str, Any]:
        """The native-format dict the controls describe.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.widgets.Playground().spec()["layers"][0]["kernel_size"]
        [3, 3]
        """
        c = {name: control.value for name, control in self.controls.items()}
        layer: dict[str, Any] = {"type": c["type"], "name": "my_layer", "weights_bits": c["weights_bits"],
                                 "act_bits": c["act_bits"], "activation": c["activation"]}
        if c["type"] == "FullyConnected":
            layer["units"] = c["filters"]
        else:
            layer.update(kernel_size=[c["kernel"]] * 2, filters=c["filters"], kernel_stride=[c["stride"]] * 2,
                         padding=c["padding"], pool_type=c["pool_type"])
            if c["pool_type"] == "max":
                layer.update(pool_size=[c["pool_size"]] * 2, pool_stride=[c["pool_stride"]] * 2)
        layers = [layer] + ([_NEXT_LAYERS[c["next"]]] if _NEXT_LAYERS[c["next"]] else [])
        return {"name": "playground", "input": {"shape": [c["d0"], c["d1"], c["channels"]], "bits": c["input_bits"]},
                "layers": layers}

    def _update(self, change: dict | None = None) -> None:
        is_fc = self.controls["type"].value == "FullyConnected"
        for name in ("kernel", "stride", "padding", "pool_type"):
            self.controls[name].disabled = is_fc
        for name in ("pool_size", "pool_stride"):
            self.controls[name].disabled = is_fc or self.controls["pool_type"].value != "max"
        self.controls["act_bits"].disabled = not self.controls["activation"].value
        try:
            self.model = Model.from_dict(self.spec())
        except AkidaNbError as e:
            self.model, self.error, self.current_report, self.counts = None, str(e), None, {}
            self.summary = f"not a valid model: {e}"
            self.verdict_html.value = _page([Line(self.summary, "error")])
            return
        self.error = None
        self.current_report = compare(self.model, self.targets)
        self.counts = _counts(self.current_report)
        self.summary = _summary_text(self.counts)
        self.verdict_html.value = self._render()

    def _render(self) -> str:
        m, report = self.model, self.current_report
        assert m is not None and report is not None  # only called once a model is built
        shapes = " → ".join([f"input {format_shape(m.input_shape)} ({m.input_bits}-bit)"]
                            + [f"{l.name} {format_shape(l.output_shape)}" for l in m.layers])
        blocks: list[Block] = [Line(shapes, "shapes")]
        for r in report.reports:
            blocks.append(Line([Span(r.target, "target"), " ", Span(f"({r.target_title})", "target-title"), ": ",
                                badge_span(r.ok, r.summary_line())]))
            blocks += r.detail_blocks(layers=False)
        return _page(blocks)


# ------------------------------------------------------------------------------ ConstraintBrowser
class ConstraintBrowser(_Dashboard):
    """The constraint tables, filtered by target(s) and layer type; rows that differ are highlighted.

    With one target selected, its table (:func:`akida_nb.constraints`); with several,
    the targets side by side (:func:`akida_nb.compare_constraints`), each rule's note
    from the first target that has it, and an option to show only the rows that differ.

    Parameters
    ----------
    targets : sequence of str
        Initially selected targets.

    Attributes
    ----------
    ui : VBox
    targets : SelectMultiple
        Value: a tuple of target names.
    layer_type : Dropdown
        ``"all"`` or a layer type.
    only_differences : Checkbox
    table : DataFrame or None
        The rows shown (None when no target is selected).
    summary : str
    table_html : HTML

    Examples
    --------
    >>> import akida_nb as ak
    >>> cb = ak.widgets.ConstraintBrowser()
    >>> cb.layer_type.value = "FullyConnected"
    >>> cb.summary
    'FullyConnected: 6 rules on nsoc_v1, nsoc_v2; 2 differ'
    """

    def __init__(self, targets: str | Sequence[str] = SIDE_BY_SIDE, **unknown: Any) -> None:
        _no_extra("ConstraintBrowser", unknown)
        names = list(_target_titles())
        self.targets = w.SelectMultiple(options=names, value=_target_names(targets, "targets"),
                                        description="targets", rows=min(6, len(names)))
        self.layer_type = w.Dropdown(options=["all", *LAYER_TYPES], value="all", description="layer type")
        self.only_differences = w.Checkbox(value=False, description="only rows that differ", indent=False)
        self.table_html = w.HTML()
        self.ui = w.VBox([w.HBox([self.targets, w.VBox([self.layer_type, self.only_differences])]),
                          self.table_html])
        self._watch(self.targets, self.layer_type, self.only_differences)
        self._update()

    def _update(self, change: dict | None = None) -> None:
        chosen = tuple(self.targets.value)
        layer_type = None if self.layer_type.value == "all" else self.layer_type.value
        scope = layer_type or "all layer types"
        self.only_differences.disabled = len(chosen) < 2
        if not chosen:
            self.table, self.summary = None, "Select at least one target."
            self.table_html.value = _page([Line(self.summary, "")])
            return
        if len(chosen) == 1:
            df = constraints(chosen[0], layer_type)
            self.table = df[["layer_type", "section", "parameter", "axis", "allowed", "note", "source"]]
            self.summary = f"{scope}: {_plural(len(df), 'rule')} on {chosen[0]}"
            classes: list[str] = []
        else:
            cmp = compare_constraints(*chosen, layer_type=layer_type)
            notes: dict[tuple[str, str], str] = {}
            for t in chosen:
                for row in constraints(t, layer_type).itertuples():
                    notes.setdefault((row.layer_type, row.rule), row.note)
            cmp["note"] = [notes.get(key, "") for key in cmp.index]
            differ = int(cmp["differs"].sum())
            self.summary = f"{scope}: {_plural(len(cmp), 'rule')} on {', '.join(chosen)}; {differ} differ"
            if self.only_differences.value:
                cmp = cmp[cmp["differs"]]
                self.summary += " (only those shown)"
            self.table = cmp.reset_index()[["layer_type", "section", "parameter", "axis", *chosen, "differs", "note",
                                            "rule"]]
            classes = ["differs" if d else "" for d in self.table["differs"]]
        shown = self.table.drop(columns=["differs"], errors="ignore")
        self.table_html.value = _page([Line(self.summary), _frame_table("Rules", shown, classes)])
