"""ak.widgets: dashboards driven by setting control values; assertions on their attributes and HTML."""
import html
import re
import subprocess
import sys

import numpy as np
import pytest

import akida_nb as ak
from akida_nb.model import LAYER_TYPES
from akida_nb.report import violation_key

W = ak.widgets


def _text(page: str) -> str:
    """The visible text of a rendered page (fallback and style removed)."""
    page = re.sub(r'<pre class="akn-fallback">.*?</pre>|<style>.*?</style>', "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_widgets_are_loaded_lazily():
    code = ("import sys, akida_nb as ak; assert 'ipywidgets' not in sys.modules; "
            "ak.widgets.Playground; assert 'ipywidgets' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("make", [W.Playground, W.ConstraintBrowser], ids=["Playground", "ConstraintBrowser"])
def test_displays_its_ui(make):
    dash = make()
    bundle = dash._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dash.ui.model_id


# ------------------------------------------------------------------------------ Playground
def test_playground_starts_compatible_on_both_seed_targets():
    pg = W.Playground()
    assert pg.current_report.targets == ["nsoc_v1", "nsoc_v2"]
    assert pg.current_report.ok == {"nsoc_v1": True, "nsoc_v2": True}
    assert pg.summary == "nsoc_v1: 0 violations, 1 of 1 layers ok | nsoc_v2: 0 violations, 1 of 1 layers ok"
    assert pg.counts == {"nsoc_v1": {"violations": 0, "layers_ok": 1, "layers": 1},
                         "nsoc_v2": {"violations": 0, "layers_ok": 1, "layers": 1}}
    assert "input 32×32×8 (2-bit) → my_layer 32×32×32" in _text(pg.verdict_html.value)


def test_playground_shows_the_violated_rules_note_and_fix():
    pg = W.Playground()
    pg.controls["stride"].value = 2
    assert pg.current_report.ok == {"nsoc_v1": False, "nsoc_v2": True}
    (v,) = pg.current_report["nsoc_v1"].entries
    assert v.rule == "conv.kernel_stride"
    note = ak.constraints("nsoc_v1", "Convolutional").set_index("rule").loc["conv.kernel_stride", "note"]
    text = _text(pg.verdict_html.value)
    assert note in text and v.fix in text and v.value in text and v.allowed in text
    assert "nsoc_v1: 1 violation, 0 of 1 layers ok" in pg.summary


def test_playground_next_layer_and_sequence_rule():
    pg = W.Playground()
    pg.controls["pool_type"].value = "max"
    assert {v.rule for r in pg.current_report.reports for v in r.entries} == {"conv.maxpool_next"}
    pg.controls["next"].value = "Convolutional 3×3"
    assert pg.current_report.ok == {"nsoc_v1": True, "nsoc_v2": True}
    assert [l.name for l in pg.model.layers] == ["my_layer", "next"]


def test_playground_disables_what_does_not_apply():
    pg = W.Playground()
    c = pg.controls
    assert c["pool_size"].disabled and c["pool_stride"].disabled and not c["kernel"].disabled
    c["pool_type"].value = "max"
    assert not c["pool_size"].disabled
    c["type"].value = "FullyConnected"
    assert all(c[k].disabled for k in ("kernel", "stride", "padding", "pool_type", "pool_size", "pool_stride"))
    assert pg.model.layers[0].units == c["filters"].value
    c["activation"].value = False
    assert c["act_bits"].disabled and pg.model.layers[0].activation is False


def test_playground_reports_an_invalid_spec():
    pg = W.Playground()
    pg.controls["d0"].value = 2
    pg.controls["padding"].value = "valid"
    assert pg.model is None and pg.current_report is None and pg.counts == {}
    assert "layers[0].kernel_size" in pg.error
    assert pg.error in _text(pg.verdict_html.value)
    pg.controls["padding"].value = "same"
    assert pg.error is None and pg.model is not None


def test_playground_every_control_drives_the_verdict():
    """Random settings of every control: the shown verdict is always check/compare of the spec."""
    rng = np.random.default_rng(7)
    pg = W.Playground()
    choices = {
        "type": list(LAYER_TYPES),
        "d0": [1, 3, 5, 8, 16, 32, 33, 64, 256, 257], "d1": [1, 4, 8, 16, 30, 256, 280],
        "channels": [1, 3, 8, 64, 2048, 90000], "input_bits": range(1, 9), "kernel": range(1, 10),
        "stride": range(1, 4), "padding": ["same", "valid"], "pool_type": ["none", "max", "average"],
        "pool_size": range(1, 5), "pool_stride": range(1, 5), "filters": [1, 8, 12, 64, 600],
        "weights_bits": range(1, 9), "act_bits": range(1, 9), "activation": [True, False],
        "next": list(pg.controls["next"].options),
    }
    assert set(choices) == set(pg.controls)
    seen_error = seen_bad = False
    for _ in range(150):
        name = rng.choice(sorted(choices))
        options = list(choices[name])
        pg.controls[name].value = options[rng.integers(len(options))]
        try:
            model = ak.Model.from_dict(pg.spec())
        except ak.SpecError as e:
            assert pg.current_report is None and pg.error == str(e)
            seen_error = True
            continue
        assert pg.model == model
        assert pg.current_report == ak.compare(model, ["nsoc_v1", "nsoc_v2"])
        for r in pg.current_report.reports:
            assert r.summary_line() in _text(pg.verdict_html.value)
        seen_bad |= not all(pg.current_report.ok.values())
    assert seen_error and seen_bad


def test_playground_html_is_deterministic_and_themed():
    a, b = W.Playground(), W.Playground()
    for pg in (a, b):
        pg.controls["kernel"].value = 4
    assert a.verdict_html.value == b.verdict_html.value
    page = a.verdict_html.value
    assert "<script" not in page
    colours = re.findall(r"(?:color|background)\s*:\s*([^;}]+)", page)
    # every colour is a JupyterLab theme variable, directly or through the report's --akn-* names
    names = dict(re.findall(r"(--akn-[\w-]+)\s*:\s*([^;}]+)", page))
    assert names and all("var(--jp-" in v and "#" not in v.replace("var(--jp-", "").split(",")[0]
                         for v in names.values())
    assert colours and all(c.strip().startswith(("var(--jp-", "var(--akn-")) for c in colours)


def test_playground_other_targets():
    pg = W.Playground(targets=["nsoc_v2", "akd1000"])
    assert pg.current_report.targets == ["nsoc_v2", "akd1000"]
    with pytest.raises(ak.UnknownTargetError):
        W.Playground(targets=["nope"])


# ------------------------------------------------------------------------------ ConstraintBrowser
def test_browser_default_compares_seed_targets_and_highlights_differences():
    cb = W.ConstraintBrowser()
    cmp = ak.compare_constraints("nsoc_v1", "nsoc_v2")
    assert len(cb.table) == len(cmp)
    assert cb.table["differs"].tolist() == cmp["differs"].tolist()
    assert cb.table[["nsoc_v1", "nsoc_v2"]].values.tolist() == cmp[["nsoc_v1", "nsoc_v2"]].values.tolist()
    assert cb.table_html.value.count('<tr class="akn-differs">') == int(cmp["differs"].sum())
    assert cb.summary == f"all layer types: {len(cmp)} rules on nsoc_v1, nsoc_v2; {int(cmp['differs'].sum())} differ"
    notes = ak.constraints("nsoc_v1").set_index("rule")["note"]
    row = cb.table.set_index("rule").loc["conv.kernel_stride"]
    assert row["note"] == notes["conv.kernel_stride"]
    assert notes["conv.kernel_stride"] in _text(cb.table_html.value)


def test_browser_filters():
    cb = W.ConstraintBrowser()
    cb.layer_type.value = "FullyConnected"
    assert set(cb.table["layer_type"]) == {"FullyConnected"}
    cb.only_differences.value = True
    assert cb.table["differs"].all() and len(cb.table) == 2
    assert cb.summary.endswith("2 differ (only those shown)")
    cb.targets.value = ("nsoc_v2",)
    assert cb.only_differences.disabled
    expected = ak.constraints("nsoc_v2", "FullyConnected")
    assert cb.table["allowed"].tolist() == expected["allowed"].tolist()
    assert '<tr class="akn-differs">' not in cb.table_html.value
    cb.targets.value = ()
    assert cb.table is None and "at least one target" in _text(cb.table_html.value)


def test_browser_lists_every_registered_target():
    cb = W.ConstraintBrowser()
    assert list(cb.targets.options) == list(ak.targets()["name"])
    cb.targets.value = tuple(ak.targets()["name"])
    assert [c for c in cb.table.columns if c in cb.targets.options] == list(ak.targets()["name"])


# ------------------------------------------------------------------------------ Explorer
@pytest.fixture()
def fixes():
    return pytest.importorskip("akida_nb.fixes")


def _offered(fixes, model, t):
    """What applies now, plus what a full fix() run reaches (one fix can make another applicable)."""
    return set(fixes.applicable_fixes(model, t)) | set(fixes.fix(model, t).changes["fix"])


def _applicable(fixes, model, chosen):
    names = set().union(*(_offered(fixes, model, t) for t in chosen))
    order = fixes.list_fixes().sort_values(["order", "name"])["name"]
    return [n for n in order if n in names]


def test_explorer_default_is_side_by_side(fixes):
    model = ak.example("ds_cnn_kws")
    ex = W.Explorer(model)
    assert ex.target.value == ("nsoc_v1", "nsoc_v2")
    assert ex.current_report == ak.compare(model, ["nsoc_v1", "nsoc_v2"])
    assert ex.report_html.value == ex.current_report._repr_html_()
    v1 = ex.current_report["nsoc_v1"]
    n, ok = len(v1.entries), sum(lv.ok for lv in v1.layer_verdicts)
    assert ex.summary == (f"nsoc_v1: {n} violation{'s' if n != 1 else ''}, {ok} of 6 layers ok | "
                          "nsoc_v2: 0 violations, 6 of 6 layers ok")
    assert ex.changes.empty and ex.changes_html.value == ""
    assert ex.plan_for.value == "nsoc_v1" and ex.plan_for.layout.display != "none"  # fixes planned for one target
    assert list(ex.fix_checks) == _applicable(fixes, model, ("nsoc_v1",))
    assert ex._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.ui.model_id


def test_explorer_offers_every_registered_target(fixes):
    ex = W.Explorer(ak.example("gxnor_mnist"))
    values = [v for _, v in ex.target.options]
    assert values == [(n,) for n in ak.targets()["name"]] + [("nsoc_v1", "nsoc_v2")]
    for value in values:
        ex.target.value = value
        expected = ak.check(ex.model, value[0]) if len(value) == 1 else ak.compare(ex.model, value)
        assert ex.current_report == expected
        assert list(ex.fix_checks) == _applicable(fixes, ex.model, value[:1])
        assert set(ex.counts) == set(value)


def test_explorer_single_target_shows_a_report(fixes):
    model = ak.example("broken")
    ex = W.Explorer(model, target=("nsoc_v2",))
    assert isinstance(ex.current_report, ak.CompatibilityReport)
    assert ex.current_report == ak.check(model, "nsoc_v2")
    n = len(ex.current_report.entries)
    assert ex.counts["nsoc_v2"] == {"violations": n, "layers_ok": 0, "layers": 4}
    assert f"{n} violations" in _text(ex.summary_html.value)


@pytest.mark.parametrize("target", ["nsoc_v1", "nsoc_v2"])
def test_explorer_fix_toggle_reruns_fix(fixes, target):
    model = ak.example("broken")
    ex = W.Explorer(model, target=(target,))
    names = list(ex.fix_checks)
    assert names, "the broken model should offer fixes"
    for name in names:
        ex.fix_checks[name].value = True
        checked = [n for n in ex.fix_checks if ex.fix_checks[n].value]
        res = fixes.fix(model, target, fixes=checked)
        assert ex.current_model == res.model
        assert ex.current_report == ak.check(res.model, target)
        before = {violation_key(v) for v in ak.check(model, target).entries}
        new = {violation_key(v) for v in ex.current_report.entries} - before
        assert ex.introduced[target] == new
        if new:  # what the fixes introduced is marked in the report
            assert len(re.findall(r'<tr(?: id="[^"]*")? class="akn-introduced">', ex.report_html.value)) == sum(
                violation_key(v) in new for v in ex.current_report.entries)
        else:
            assert ex.report_html.value == ex.current_report._repr_html_()
        quoted = ", ".join(f'"{n}"' for n in checked)
        assert ex.code.value == f'ak.fix(model, "{target}", fixes=[{quoted}])'
        n_before, n_after = len(ak.check(model, target).entries), len(ex.current_report.entries)
        if n_before != n_after:
            assert f"{n_before} → {n_after} violation" in _text(ex.summary_html.value)
        assert ex.changes.drop(columns="target").reset_index(drop=True).equals(res.changes.reset_index(drop=True))
        assert set(ex.changes["target"]) <= {target}
        for layer in res.changes.get("layer", []):
            assert str(layer) in _text(ex.changes_html.value)
    for name in names:
        ex.fix_checks[name].value = False
    assert ex.current_model == model and ex.changes.empty
    assert ex.current_report == ak.check(model, target)


@pytest.mark.slow
@pytest.mark.parametrize("plan", ["nsoc_v1", "nsoc_v2"])
def test_explorer_side_by_side_plans_fixes_for_one_target_and_shows_the_others(fixes, plan):
    model = ak.example("broken")
    ex = W.Explorer(model)
    ex.plan_for.value = plan
    assert list(ex.fix_checks) == _applicable(fixes, model, (plan,))
    assert plan in _text(ex.fix_label.value)
    for box in ex.fix_checks.values():
        box.value = True
    expected = fixes.fix(model, plan, fixes=list(ex.fix_checks)).model
    assert ex.current_model == expected
    assert ex.current_report == ak.compare(expected, ["nsoc_v1", "nsoc_v2"])
    assert set(ex.changes["target"]) == {plan}  # the changes table names the target the fixes were planned for
    for t in ("nsoc_v1", "nsoc_v2"):
        before = {violation_key(v) for v in ak.check(model, t).entries}
        assert ex.introduced[t] == {violation_key(v) for v in ex.current_report[t].entries} - before


def test_explorer_reset_unticks_every_fix(fixes):
    model = ak.example("broken")
    ex = W.Explorer(model, target=("nsoc_v1",))
    pristine = (ex.summary_html.value, ex.report_html.value)
    for box in ex.fix_checks.values():
        box.value = True
    assert ex.current_model != model
    ex.reset.click()
    assert not any(b.value for b in ex.fix_checks.values())
    assert ex.current_model == model and ex.changes.empty
    assert (ex.summary_html.value, ex.report_html.value) == pristine
    assert ex.code.value == 'ak.check(model, "nsoc_v1")'


def test_explorer_checkboxes_carry_description_and_exactness(fixes):
    ex = W.Explorer(ak.example("broken"), target=("nsoc_v1",))
    table = fixes.list_fixes().set_index("name")
    for row in ex.fix_box.children:
        box, note = row.children
        text = _text(note.value)
        assert table.loc[box.description, "description"] in text
        assert ("approximate" in text) == (table.loc[box.description, "exact"] == "no")
        assert table.loc[box.description, "description"] in box.tooltip


def test_explorer_download_links_are_data_uris_of_the_current_report(fixes):
    import base64
    import json

    ex = W.Explorer(ak.example("broken"), target=("nsoc_v1",))
    next(iter(ex.fix_checks.values())).value = True
    links = dict(re.findall(r'download="[^"]+\.(html|json)" href="data:[^;]+;charset=utf-8;base64,([^"]+)"',
                            ex.downloads.value))
    assert set(links) == {"html", "json"} and "<script" not in ex.downloads.value
    assert json.loads(base64.b64decode(links["json"])) == json.loads(ex.current_report.to_json())
    assert ex.report_html.value in base64.b64decode(links["html"]).decode("utf-8")
    assert ex.code.disabled  # read-only


def test_explorer_remembers_fix_checkboxes_across_target_switch(fixes):
    model = ak.example("broken")
    ex = W.Explorer(model, target=("nsoc_v1",))
    name, box = next(iter(ex.fix_checks.items()))
    box.value = True
    for _, value in ex.target.options:
        ex.target.value = value
        offered = name in _applicable(fixes, model, value)
        assert (name in ex.fix_checks) == offered
        if offered:
            assert ex.fix_checks[name] is box and box.value
    ex.target.value = ("nsoc_v1",)
    assert ex.fix_checks[name] is box and box.value
    assert ex.current_model == fixes.fix(model, "nsoc_v1", fixes=[name]).model


def test_explorer_html_is_deterministic(fixes):
    a, b = (W.Explorer(ak.example("broken")) for _ in range(2))
    for ex in (a, b):
        next(iter(ex.fix_checks.values())).value = True
    assert (a.summary_html.value, a.changes_html.value, a.report_html.value) == \
           (b.summary_html.value, b.changes_html.value, b.report_html.value)


def test_explorer_needs_a_model():
    with pytest.raises(ak.SpecError, match="akida_nb.Model"):
        W.Explorer("ds_cnn_kws")


# ------------------------------------------------------------------------------ without a kernel
@pytest.mark.parametrize("make", [lambda: W.Explorer(ak.example("broken")), W.Playground, W.ConstraintBrowser],
                         ids=["Explorer", "Playground", "ConstraintBrowser"])
def test_static_fallback_is_a_readable_snapshot(make):
    dash = make()
    bundle = dash._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dash.ui.model_id
    html_ = bundle["text/html"]
    assert "Run the cell to interact" in html_ and "<script" not in html_
    assert "VBox(" not in html_ and "HBox(" not in html_ and "VBox(" not in bundle["text/plain"]
    assert "run the cell to interact" in bundle["text/plain"]
    shown = {"Explorer": ("report_html", "summary_html"), "Playground": ("verdict_html",),
             "ConstraintBrowser": ("table_html",)}[type(dash).__name__]
    for name in shown:
        assert getattr(dash, name).value in html_
    assert html_ == make()._repr_mimebundle_()["text/html"]  # deterministic


def test_playground_shows_every_verdict_before_any_details():
    pg = W.Playground()
    pg.controls["kernel"].value = 4
    pg.controls["stride"].value = 3
    page = pg.verdict_html.value
    rich = page[page.index("akn-wrap"):]
    first_details = rich.index("<details")
    for r in pg.current_report.reports:
        assert rich.index(f'<span class="akn-target">{r.target}</span>') < first_details
    assert all(pg.controls[n].style.button_width == "auto" for n in ("padding", "pool_type"))  # "average" uncut
