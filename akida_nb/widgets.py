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
from .fixes.result import CHANGE_COLUMNS
from .html import badge, escape, page, render_html
from .model import LAYER_TYPES, Model
from .present import Block, Column, Line, Section, Span, Table, format_shape, plural as _plural, render_text
from .report import Comparison, CompatibilityReport, violation_key
from .targets import compare_constraints, constraints, default_targets, get_target, targets as _targets_frame

__all__ = ["SIDE_BY_SIDE", "ConstraintBrowser", "Explorer", "Playground"]

SIDE_BY_SIDE = default_targets()
"""The widgets' default choice: the targets whose data file says ``default: true`` (the seed tables), side by side."""


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
                 open: bool = True, role: str = "") -> Table:
    """A DataFrame as a table block (every value shown as text); ``long`` columns wrap under their row."""
    rows = [["" if v is None else str(v) for v in row] for row in df.itertuples(index=False)]
    return Table(title, tuple(Column(str(c), long=c in long) for c in df.columns), rows, row_roles=row_roles,
                 open=open, role=role)


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


def _summary_html(result: CompatibilityReport | Comparison,
                  before: dict[str, CompatibilityReport] | None = None,
                  introduced: dict[str, frozenset] | None = None) -> str:
    """Per target: the verdict badge, the count (``5 → 3`` when ``before`` differs) and what is new."""
    counts = _counts(result)
    cells = []
    for r in _reports(result):
        c = counts[r.target]
        old = (before or {}).get(r.target)
        n = c["violations"]
        was = f"{len(old.entries)} → " if old is not None and len(old.entries) != n else ""
        new = len((introduced or {}).get(r.target, ()))
        tip = f"before the fixes: {old.summary_line()}" if was and old is not None else r.summary_line()
        cells.append(f'<span class="akn-count"><span class="akn-target">{escape(r.target)}</span> '
                     f"{badge(r.ok, was + _plural(n, 'violation'), tip)} "
                     f"{c['layers_ok']} of {c['layers']} layers ok"
                     + (f' <span class="akn-new">{new} new</span>' if new else "") + "</span>")
    return page(_summary_text(counts), '<div class="akn-counts">' + "".join(cells) + "</div>")


class _Dashboard:
    """Shared plumbing: ``.ui``, notebook display, and observing controls' values with ``self._update``."""

    ui: w.Widget

    def _update(self, change: dict | None = None) -> None:
        raise NotImplementedError

    def _watch(self, *controls: w.Widget) -> None:
        for control in controls:
            control.observe(self._update, names="value")

    def _snapshot(self) -> list[str]:
        """The rendered HTML widgets that make the static snapshot."""
        raise NotImplementedError

    def snapshot_html(self) -> str:
        """What the dashboard shows now, as static HTML, under "run the cell to interact".

        Notebook viewers without a kernel (nbconvert's HTML, a stored notebook opened
        before running) show this instead of the widget's Python repr.

        Examples
        --------
        >>> import akida_nb as ak
        >>> html = ak.widgets.Playground().snapshot_html()
        >>> "Run the cell to interact" in html, "<script" in html
        (True, False)
        """
        hint = (f"{type(self).__name__} (static snapshot). Run the cell to interact: the controls need a "
                "running kernel.")
        return _page([Line(hint, "hint")]) + "".join(self._snapshot())

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.ui._repr_mimebundle_(**kwargs)
        bundle["text/html"] = self.snapshot_html()
        bundle["text/plain"] = f"{type(self).__name__}: {getattr(self, 'summary', '')} (run the cell to interact)"
        return bundle


# ------------------------------------------------------------------------------ Explorer
class Explorer(_Dashboard):
    """Explore one model: pick a target (or both seed targets side by side), toggle fixes, read the report.

    The target picker lists every registered target and ``nsoc_v1 + nsoc_v2`` side
    by side (its value is a tuple of target names). Fixes are planned for one target,
    ``plan_for`` (the chosen target, or side by side one of the chosen targets, the
    first by default): one checkbox per fix that :func:`akida_nb.fixes.applicable_fixes`
    offers for it, with its description and whether it keeps the outputs exact.
    Checking some re-runs :func:`akida_nb.fix` on that target; side by side, the other
    targets show how the same fixed model fares there. Each target's count reads
    before → after, violations the fixes introduced are marked "new", Reset unticks
    every fix, ``code`` holds the equivalent ``ak.fix(...)`` line and ``downloads``
    links the current report as HTML and JSON.

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
    plan_for : ToggleButtons
        The target the fixes are planned for (shown side by side only).
    fix_checks : dict of str to Checkbox
        The fix checkboxes of the planned target, by fix name. A fix keeps its checkbox
        (and whether it is checked) when the target changes and back.
    reset : Button
        Unticks every fix.
    current_model : Model
        The model after the checked fixes (the input model when none is checked).
    current_report : CompatibilityReport or Comparison
        ``current_model`` checked on the chosen target(s).
    baseline : dict of str to CompatibilityReport
        The input model checked on each chosen target.
    introduced : dict of str to frozenset
        Per target, the violations (:func:`akida_nb.report.violation_key`) the fixes introduced.
    changes : DataFrame
        The fixes' change rows with a leading ``target`` column (empty without fixes).
    counts : dict
        Per target: ``violations``, ``layers_ok``, ``layers``.
    summary : str
        The counts in one line.
    code : Text
        Read-only: the equivalent ``ak.fix(model, target, fixes=[...])`` line.
    summary_html, changes_html, report_html, downloads : HTML
        The rendered counts (before → after), changes, report and download links.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ex = ak.widgets.Explorer(ak.example("ds_cnn_kws"))
    >>> ex.summary.split(" | ")[1]
    'nsoc_v2: 0 violations, 6 of 6 layers ok'
    >>> ex.target.value = ("nsoc_v2",)
    >>> ex.current_report.ok
    True
    >>> ex.target.value = ("nsoc_v1",)
    >>> ex.fix_checks["clamp_bits"].value = True
    >>> ex.code.value
    'ak.fix(model, "nsoc_v1", fixes=["clamp_bits"])'
    >>> ex.reset.click(); ex.current_model == ex.model
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
                                 layout=w.Layout(width="max-content", max_width="100%"))
        self.plan_for = w.ToggleButtons(options=list(chosen), value=chosen[0], description="Fixes for",
                                        style={"button_width": "auto"},
                                        tooltip="The target the fixes are planned for; the others show how the "
                                                "fixed model fares there")
        self.plan_for.layout.display = "" if len(chosen) > 1 else "none"
        self.fix_checks: dict[str, w.Checkbox] = {}
        self._boxes: dict[str, w.Checkbox] = {}
        self._rows: dict[str, w.HBox] = {}
        self._offered: dict[str, set[str]] = {}
        self._baseline: dict[str, CompatibilityReport] = {}
        self._fix_targets: tuple[str, ...] | None = None
        self._quiet = False
        self.fix_box = w.VBox(layout=w.Layout(max_width="100%"))
        self.fix_label = w.HTML()
        self.reset = w.Button(description="Reset", tooltip="Untick every fix", icon="undo",
                              layout=w.Layout(width="auto"))
        self.reset.on_click(self._reset)
        self.code = w.Text(value="", disabled=True, description="As code",
                           layout=w.Layout(width="100%"), tooltip="The equivalent call")
        self.summary_html = w.HTML()
        self.downloads = w.HTML()
        self.changes_html = w.HTML()
        self.report_html = w.HTML()
        self.ui = w.VBox([w.HTML(f"<b>{escape(model.name)}</b>: {_plural(len(model.layers), 'layer')}"),
                          self.target, self.plan_for, w.HBox([self.fix_label, self.reset]), self.fix_box,
                          self.summary_html, self.code, self.downloads, self.changes_html, self.report_html],
                          layout=w.Layout(max_width="100%"))
        self._watch(self.target, self.plan_for)
        self._update()
        self._warm(options)

    def _warm(self, options: Sequence[tuple[str, tuple[str, ...]]]) -> None:
        """Check every offered target once now, so the first switch to it stays as quick as the others."""
        from .fixes import applicable_fixes, fix

        for t in dict.fromkeys(t for _, combo in options for t in combo):
            if t not in self._baseline:
                self._baseline[t] = check(self.model, t)
            if t not in self._offered:
                self._offered[t] = set(applicable_fixes(self.model, t)) | set(fix(self.model, t).changes["fix"])

    def _snapshot(self) -> list[str]:
        return [self.summary_html.value, self.changes_html.value, self.report_html.value]

    def _reset(self, _button: Any = None) -> None:
        """Untick every fix, then update once."""
        self._quiet = True
        try:
            for box in self._boxes.values():
                box.value = False
        finally:
            self._quiet = False
        self._update()

    def _fix_row(self, row: Any) -> w.HBox:
        exact = {"yes": "exact", "no": "approximate", "conditional": "exact"}.get(str(row.exact), str(row.exact))
        when = f" {row.exact_when}" if str(row.exact) == "conditional" and row.exact_when else ""
        box = w.Checkbox(value=False, description=row.name, indent=False,
                         tooltip=f"{row.description} ({exact}{when})",
                         layout=w.Layout(width="max-content", min_width="190px", margin="0 8px 0 0"))
        self._watch(box)
        self._boxes[row.name] = box
        note = w.HTML(f'<span class="akn-fix-desc" style="line-height:1.3">{escape(row.description)} '
                      f"<i>({escape(exact + when)})</i></span>", layout=w.Layout(flex="1 1 auto"))
        return w.HBox([box, note], layout=w.Layout(align_items="flex-start", max_width="100%"))

    def _rebuild_fixes(self, chosen: tuple[str, ...], plan: str) -> None:
        from .fixes import applicable_fixes, fix, list_fixes

        # what applies now, and what a full fix() run reaches (a fix can make another applicable)
        if plan not in self._offered:
            self._offered[plan] = set(applicable_fixes(self.model, plan)) | set(fix(self.model, plan).changes["fix"])
        wanted = self._offered[plan]
        table = list_fixes().sort_values(["order", "name"])
        self.fix_checks = {}
        for row in table.itertuples():
            if row.name not in wanted:
                continue
            if row.name not in self._boxes:  # one checkbox per fix, kept (with its state) across switches
                self._rows[row.name] = self._fix_row(row)
            self.fix_checks[row.name] = self._boxes[row.name]
        self.fix_box.children = tuple(self._rows[n] for n in self.fix_checks)
        self.fix_label.value = (f"<b>Fixes</b> planned for <b>{escape(plan)}</b> (check to apply):"
                                if self.fix_checks
                                else f"<b>Fixes</b>: none applies to this model on {escape(plan)}.")
        self._fix_targets = (*chosen, plan)

    def _choose(self) -> tuple[tuple[str, ...], str]:
        """The chosen targets and the one fixes are planned for (the plan picker follows the choice)."""
        chosen = tuple(self.target.value)
        if tuple(self.plan_for.options) != chosen:
            self._quiet = True
            try:
                self.plan_for.options = list(chosen)
                self.plan_for.value = chosen[0]
            finally:
                self._quiet = False
            self.plan_for.layout.display = "" if len(chosen) > 1 else "none"
        return chosen, self.plan_for.value

    def _update(self, change: dict | None = None) -> None:
        if self._quiet:
            return
        from .fixes import fix

        chosen, plan = self._choose()
        if (*chosen, plan) != self._fix_targets:
            self._rebuild_fixes(chosen, plan)
        for t in chosen:
            if t not in self._baseline:
                self._baseline[t] = check(self.model, t)
        self.baseline = {t: self._baseline[t] for t in chosen}
        names = [name for name, box in self.fix_checks.items() if box.value]
        result = fix(self.model, plan, fixes=names) if names else None
        self.current_model = result.model if result is not None else self.model
        self.changes = (result.changes.assign(target=plan) if result is not None
                        else _empty_changes())[["target", *CHANGE_COLUMNS]]
        if len(chosen) > 1:
            reports = tuple(result.after if result is not None and t == plan else
                            (self._baseline[t] if result is None else check(self.current_model, t)) for t in chosen)
            self.current_report = Comparison(self.model.name, reports)
        else:
            self.current_report = result.after if result is not None else self._baseline[plan]
        self.introduced = {r.target: frozenset(violation_key(v) for v in r.entries)
                           - {violation_key(v) for v in self._baseline[r.target].entries}
                           for r in _reports(self.current_report)}
        self.counts = _counts(self.current_report)
        self.summary = _summary_text(self.counts)
        self.summary_html.value = _summary_html(self.current_report, self.baseline, self.introduced)
        self.code.value = (f'ak.fix(model, "{plan}", fixes=[{", ".join(chr(34) + n + chr(34) for n in names)}])'
                           if names else f'ak.check(model, "{plan}")' if len(chosen) == 1 else
                           f"ak.compare(model, [{', '.join(chr(34) + t + chr(34) for t in chosen)}])")
        self.changes_html.value = "" if self.changes.empty else _page([_frame_table(
            "Changes", self.changes, long=("note",), open=len(self.changes) <= 8, role="changes")])
        if any(self.introduced.values()):
            blocks = (self.current_report.blocks(introduced=self.introduced)
                      if isinstance(self.current_report, Comparison)
                      else self.current_report.blocks(introduced=self.introduced[self.current_report.target]))
            self.report_html.value = _page(blocks)
        else:
            self.report_html.value = self.current_report._repr_html_()
        self.downloads.value = _downloads(self.current_report, self.report_html.value)


def _empty_changes():
    import pandas as pd

    return pd.DataFrame(columns=["target", *CHANGE_COLUMNS])


def _downloads(report: CompatibilityReport | Comparison, html: str) -> str:
    """Data-URI links to the report as a standalone HTML page and as JSON (no JavaScript)."""
    import base64

    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in report.model_name)[:60] or "model"
    targets = "_".join(r.target for r in _reports(report))
    doc = f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(report.model_name)}</title></head>' \
          f"<body>{html}</body></html>"
    links = []
    for kind, mime, data in (("HTML", "text/html", doc), ("JSON", "application/json", report.to_json())):
        encoded = base64.b64encode(data.encode("utf-8", "backslashreplace")).decode("ascii")
        links.append(f'<a download="{escape(name)}_{escape(targets)}.{kind.lower()}" '
                     f'href="data:{mime};charset=utf-8;base64,{encoded}" title="Save the report as {kind}">'
                     f"⤓ {kind}</a>")
    return f'<span style="font-size:0.92em">Download the report: {" · ".join(links)}</span>'


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
                                       style={"description_width": "90px", "button_width": "auto"},
                                       layout=w.Layout(width="320px", display="flex", flex_flow="row nowrap")),
            "pool_type": w.ToggleButtons(options=["none", "max", "average"], value="none", description="pooling",
                                         style={"description_width": "90px", "button_width": "auto"},
                                         layout=w.Layout(width="320px", display="flex", flex_flow="row nowrap")),
            "pool_size": w.IntSlider(value=2, min=1, max=4, description="pool size", **narrow),
            "pool_stride": w.IntSlider(value=2, min=1, max=4, description="pool stride", **narrow),
            "filters": w.BoundedIntText(value=32, min=1, max=4096, description="filters/units", **narrow),
            "weights_bits": w.IntSlider(value=2, min=1, max=8, description="weights bits", **narrow),
            "act_bits": w.IntSlider(value=2, min=1, max=8, description="act bits", **narrow),
            "activation": w.Checkbox(value=True, description="activation", indent=False),
            "next": w.Dropdown(options=list(_NEXT_LAYERS), value="nothing (last layer)", description="followed by",
                               **narrow),
        }
        self.verdict_html = w.HTML(layout=w.Layout(flex="1 1 300px", min_width="0"))
        self.ui = w.HBox([w.VBox(list(self.controls.values()), layout=w.Layout(flex="0 0 auto")),
                          self.verdict_html], layout=w.Layout(flex_flow="row wrap", max_width="100%"))
        self._watch(*self.controls.values())
        self._update()

    def _snapshot(self) -> list[str]:
        return [self.verdict_html.value]

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
        # every target's verdict first, so none falls off screen under another's violations
        blocks += [Line([Span(r.target, "target"), " ", Span(f"({r.target_title})", "target-title"), ": ",
                         r.verdict_span()]) for r in report.reports]
        blocks += [Section([Span(r.target, "target"), ": ", r.verdict_span()], r.detail_blocks(layers=False),
                           open=True, role="target-details") for r in report.reports if not r.ok or r.notes]
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

    def _snapshot(self) -> list[str]:
        return [self.table_html.value]

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
