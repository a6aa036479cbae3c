"""Reports: complete text, rich HTML that carries the same facts, escaping, scoping, JSON round trips."""
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

import akida_nb as ak


class _Text(HTMLParser):
    """Collects the visible text of the rich view (everything but the fallback <pre> and <style>)."""

    def __init__(self):
        super().__init__()
        self.rich, self.fallback, self._stack = [], [], []

    def handle_starttag(self, tag, attrs):
        self._stack.append((tag, dict(attrs).get("class", "")))

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        classes = {c for _, c in self._stack}
        if any(t == "style" for t, _ in self._stack):
            return
        (self.fallback if "akn-fallback" in classes else self.rich).append(data)


def texts(html):
    p = _Text()
    p.feed(html)
    return " ".join(p.rich), "".join(p.fallback)


REPORTS = [(name, target) for name in ("broken", "ds_cnn_kws", "vgg_utk_face") for target in ("nsoc_v1", "nsoc_v2")]


@pytest.mark.parametrize("name, target", REPORTS)
def test_every_fact_of_the_text_repr_is_in_the_rich_html(name, target):
    rep = ak.check(ak.example(name), target)
    text = repr(rep)
    html = rep._repr_html_()
    rich, fallback = texts(html)
    assert fallback == text
    assert rep.summary_line() in rich
    assert ("COMPATIBLE" if rep.ok else "INCOMPATIBLE") in text
    for v in rep.entries:
        for fact in (v.layer, v.parameter, v.value, v.allowed, v.message, v.fix):
            assert fact in text
            assert fact in rich, fact
    for l in rep.layer_verdicts:
        assert l.name in rich


def test_comparison_html_carries_each_target_and_violation():
    cmp = ak.compare(ak.example("broken"), ["nsoc_v1", "nsoc_v2"])
    rich, fallback = texts(cmp._repr_html_())
    assert fallback == repr(cmp)
    for r in cmp.reports:
        assert r.summary_line() in rich
        for v in r.entries:
            assert v.message in rich and v.value in rich


def test_html_structure_scoping_and_theme_colours():
    rep = ak.check(ak.example("broken"), "nsoc_v2")
    html = rep._repr_html_()
    scope = re.match(r'<div id="(akn-[0-9a-f]{12})" class="akn-root"><pre class="akn-fallback">', html).group(1)
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    rules = [r.split("{")[0].strip() for r in re.sub(r"/\*.*?\*/", "", css, flags=re.S).split("}") if "{" in r]
    assert rules and all(sel.strip().startswith(f"#{scope}") for rule in rules for sel in rule.split(","))
    colours = re.findall(r"(?:color|background|border-color|border-left|border-bottom|border)\s*:\s*([^;]+);", css)
    for value in colours:
        if "#" in value or "rgb" in value:
            assert "var(--jp-" in value, value
    assert "<script" not in html and "uuid" not in html
    assert html == ak.check(ak.example("broken"), "nsoc_v2")._repr_html_()  # deterministic
    assert 'style="display:none"' in html  # the rich view shows only where the CSS does


def test_user_strings_are_escaped():
    evil = '<script>alert("x")</script>&'
    m = ak.Model.from_dict({"name": evil, "input": {"shape": [8, 8, 4], "bits": 2}, "layers": [
        {"type": "Convolutional", "name": evil + "layer", "kernel_size": 9, "filters": 4}]})
    for obj in (ak.check(m, "nsoc_v1"), ak.compare(m)):
        html = obj._repr_html_()
        assert "<script>" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html
        rich, fallback = texts(html)
        assert evil in rich and evil in fallback


def test_unmapped_layers_make_the_report_incompatible_and_are_shown():
    m = replace(ak.example("ds_cnn_kws"), unmapped=("lambda_1 (Lambda): arbitrary code is not mapped",))
    rep = ak.check(m, "nsoc_v2")
    assert not rep.ok and rep.entries == ()
    assert "1 unmapped layer" in rep.summary_line()
    assert "lambda_1 (Lambda)" in repr(rep)
    assert "lambda_1 (Lambda)" in texts(rep._repr_html_())[0]


@pytest.mark.parametrize("name", ["broken", "gxnor_mnist"])
def test_json_round_trips_are_lossless(name):
    cmp = ak.compare(ak.example(name))
    assert ak.Comparison.from_dict(cmp.to_dict()) == cmp
    for rep in cmp.reports:
        back = ak.CompatibilityReport.from_json(rep.to_json())
        assert back == rep and repr(back) == repr(rep) and back._repr_html_() == rep._repr_html_()
        assert rep.to_dict()["ok"] == rep.ok


def test_from_dict_rejects_garbage_with_a_typed_error():
    with pytest.raises(ak.SpecError, match="not a CompatibilityReport"):
        ak.CompatibilityReport.from_dict({"target": "x"})


def test_report_dataframes():
    rep = ak.check(ak.example("broken"), "nsoc_v1")
    assert list(rep.layers.columns) == ["layer_index", "layer", "layer_type", "input_shape", "output_shape",
                                        "violations", "verdict"]
    assert rep.layers["violations"].sum() == len(rep.violations)
    ok = ak.check(ak.example("ds_cnn_kws"), "nsoc_v2")
    assert ok.violations.empty and list(ok.violations.columns)[:2] == ["layer_index", "layer"]


def test_constraint_tables_render():
    df = ak.constraints("nsoc_v2")
    assert list(df.columns[:8]) == ["target", "layer_type", "section", "parameter", "allowed", "axis", "note",
                                    "source"]
    assert set(df.layer_type) == {"InputConvolutional", "Convolutional", "SeparableConvolutional", "FullyConnected"}
    wide = ak.compare_constraints("nsoc_v1", "nsoc_v2")
    assert wide["differs"].dtype == bool
    same = wide.loc[("Convolutional", "conv.padding")]
    assert not same["differs"] and same["nsoc_v1"] == same["nsoc_v2"] == "[same]"
    assert wide.loc[("InputConvolutional", "input_conv.type"), "nsoc_v2"] == "—"
    html = ak.style_differences(wide).to_html()
    style = html.split("</style>")[0]
    assert style.count("var(--jp-warn-color3") == 1
    highlighted_rows = {int(r) for r in re.findall(r"#T_akn-constraints_row(\d+)_col\d+", style)}
    assert highlighted_rows == {i for i, d in enumerate(wide["differs"]) if d}
    assert html == ak.style_differences(ak.compare_constraints("nsoc_v1", "nsoc_v2")).to_html()
    with pytest.raises(ak.SpecError, match="unknown layer type"):
        ak.constraints("nsoc_v2", "Dense")
