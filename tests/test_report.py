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
    assert style.count("var(--jp-warn-color2") == 1
    highlighted_rows = {int(r) for r in re.findall(r"#T_akn-constraints_row(\d+)_col\d+", style)}
    assert highlighted_rows == {i for i, d in enumerate(wide["differs"]) if d}
    assert html == ak.style_differences(ak.compare_constraints("nsoc_v1", "nsoc_v2")).to_html()
    with pytest.raises(ak.SpecError, match="unknown layer type"):
        ak.constraints("nsoc_v2", "Dense")


# ------------------------------------------------------------------------------ theme contrast
def _theme_vars(name):
    """The custom properties of one of JupyterLab's theme stylesheets (``theme-light-extension`` …)."""
    from pathlib import Path

    import jupyterlab

    path = Path(jupyterlab.__file__).parent / "themes" / "@jupyterlab" / name / "index.css"
    if not path.exists():
        pytest.skip(f"JupyterLab's {name} stylesheet is not installed")
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;{}]+)", path.read_text()))


def _split_args(text):
    depth, parts, cur = 0, [], ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    return parts + [cur.strip()]


_NAMED = {"white": (255, 255, 255, 1.0), "black": (0, 0, 0, 1.0)}


def _colour(value, env):
    """An RGBA tuple from a CSS colour: hex, rgb(a), a few names, var() with fallbacks, color-mix in srgb."""
    value = value.strip()
    m = re.fullmatch(r"var\((--[\w-]+)\s*(?:,(.*))?\)", value, re.S)
    if m:
        if m.group(1) in env:
            return _colour(env[m.group(1)], env)
        assert m.group(2) is not None, f"{m.group(1)} has no value and no fallback"
        return _colour(m.group(2), env)
    m = re.fullmatch(r"color-mix\(in srgb,(.*)\)", value, re.S)
    if m:
        (a, pa), (b, pb) = [(re.sub(r"\s[\d.]+%$", "", p.strip()), re.search(r"\s([\d.]+)%$", p.strip()))
                            for p in _split_args(m.group(1))]
        wa = float(pa.group(1)) / 100 if pa else (1 - float(pb.group(1)) / 100 if pb else 0.5)
        ca, cb = _colour(a, env), _colour(b, env)
        alpha = ca[3] * wa + cb[3] * (1 - wa)
        return (*(((ca[i] * ca[3] * wa + cb[i] * cb[3] * (1 - wa)) / alpha) for i in range(3)), alpha)
    if value.startswith("#"):
        h = value[1:]
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 1.0)
    m = re.fullmatch(r"rgba?\(([^)]*)\)", value)
    if m:
        parts = [float(p) for p in m.group(1).split(",")]
        return (*parts[:3], parts[3] if len(parts) > 3 else 1.0)
    return _NAMED[value]


def _over(fg, bg):
    """``fg`` composited over the opaque ``bg``."""
    return tuple(fg[i] * fg[3] + bg[i] * (1 - fg[3]) for i in range(3)) + (1.0,)


def _luminance(c):
    def lin(v):
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])


def contrast(fg, bg):
    """WCAG contrast ratio of two colours (``fg`` may be translucent, ``bg`` is made opaque)."""
    a, b = _luminance(_over(fg, bg)), _luminance(bg)
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def _css_rules():
    from akida_nb.resources import static_text

    css = re.sub(r"/\*.*?\*/", "", static_text("report.css"), flags=re.S)
    rules = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        decls = dict((k.strip(), v.strip()) for k, v in (d.split(":", 1) for d in body.split(";") if ":" in d))
        rules.append((selector.strip(), decls))
    return rules


def _colour_pairs(theme):
    """Every (text colour, background) pair the report CSS can put on screen, resolved in ``theme``."""
    env = _theme_vars(theme)
    rules = _css_rules()
    for _, decls in rules:  # the --akn-* names, resolved against the theme
        env.update({k: v for k, v in decls.items() if k.startswith("--akn-")})
    clean = {k: v.replace("!important", "").strip() for k, v in env.items()}
    root = _colour("var(--akn-bg)", clean)
    # the areas text may sit on: every background set without its own text colour, the page's own backgrounds
    areas = {"page": _colour("var(--jp-layout-color0, white)", clean), "cell": root}
    texts = {"default": _colour("var(--akn-fg)", clean), "secondary": _colour("var(--akn-fg2)", clean)}
    pairs = []
    for selector, decls in rules:
        bg = decls.get("background")
        fg = decls.get("color")
        if bg and bg.replace("!important", "").strip().startswith(("var", "#", "rgb", "color-mix")):
            bgc = _colour(bg.replace("!important", ""), clean)
            if fg:
                pairs.append((selector, _colour(fg, clean), bgc))
            else:
                areas[selector] = bgc
        elif fg:
            texts[selector] = _colour(fg, clean)
    for area, bgc in areas.items():
        pairs += [(f"{t} on {area}", fgc, bgc) for t, fgc in texts.items()]
    return pairs


@pytest.mark.parametrize("theme", ["theme-light-extension", "theme-dark-extension"])
def test_every_text_colour_of_the_report_css_reads_on_every_background_in_both_themes(theme):
    pairs = _colour_pairs(theme)
    assert len(pairs) > 40
    print(theme, "lowest contrast:", min((round(contrast(fg, bg), 2), what) for what, fg, bg in pairs))
    low = [(what, round(contrast(fg, bg), 2)) for what, fg, bg in pairs if contrast(fg, bg) < 4.5]
    assert not low, low


def test_the_old_highlight_pair_is_what_the_contrast_check_catches():
    """The dark theme keeps --jp-warn-color3 light while its text turns white: the check must see it."""
    env = _theme_vars("theme-dark-extension")
    fg, bg = _colour("var(--jp-content-font-color1)", env), _colour("var(--jp-warn-color3)", env)
    assert contrast(fg, bg) < 1.5
    light = _theme_vars("theme-light-extension")
    assert contrast(_colour("var(--jp-content-font-color1)", light), _colour("var(--jp-warn-color3)", light)) > 4.5


@pytest.mark.parametrize("theme", ["theme-light-extension", "theme-dark-extension"])
def test_style_differences_highlight_reads_in_both_themes(theme):
    html = ak.style_differences(ak.compare_constraints("nsoc_v1", "nsoc_v2")).to_html()
    body = re.search(r"\{([^}]*background-color[^}]*)\}", html).group(1)
    decl = dict(map(str.strip, d.split(":", 1)) for d in body.split(";") if ":" in d)
    env = _theme_vars(theme)
    fg, bg = _colour(decl["color"], env), _colour(decl["background-color"], env)
    assert contrast(fg, bg) >= 4.5


# ------------------------------------------------------------------------------ sizes
def test_every_table_scrolls_in_a_fixed_height_box_under_a_sticky_header():
    html = ak.fix(ak.example("broken"), "nsoc_v1")._repr_html_() + ak.compare(ak.example("broken"))._repr_html_()
    assert html.count('<table class="akn-table') == html.count('<div class="akn-scroll"><table class="akn-table')
    rules = dict(_css_rules())
    box = rules["#SCOPE .akn-scroll"]
    assert box["overflow"] == "auto" and box["max-height"].endswith("px") and box["max-width"] == "100%"
    assert rules["#SCOPE .akn-table th"]["position"] == "sticky"
    assert rules["#SCOPE .akn-table td"]["overflow-wrap"] == "anywhere"  # long words wrap, never widen
    assert "nowrap" not in rules["#SCOPE .akn-badge"].get("white-space", "")


def test_plain_dataframes_stay_plain_and_pandas_options_untouched():
    import pandas as pd

    options = {k: pd.get_option(k) for k in ("display.max_colwidth", "display.max_rows", "display.width",
                                             "display.html.use_mathjax", "styler.render.max_elements")}
    ak.widgets.ConstraintBrowser()
    ak.widgets.Explorer(ak.example("ds_cnn_kws"))._repr_mimebundle_()
    ak.check(ak.example("broken"), "nsoc_v1")._repr_html_()
    assert type(ak.constraints("nsoc_v2")) is pd.DataFrame
    assert type(ak.example("ds_cnn_kws").summary()) is pd.DataFrame
    assert {k: pd.get_option(k) for k in options} == options


# ------------------------------------------------------------------------------ the model at a glance
def _nodes(html):
    return re.findall(r'<div class="akn-node( akn-\w+)?"(?: title="([^"]*)")?><b>([^<]*)</b>(.*?)</div>', html)


def test_model_renders_one_box_per_layer_with_type_shapes_and_bits():
    from akida_nb.present import format_shape

    m = ak.example("ds_cnn_kws")
    html = m._repr_html_()
    assert html == ak.example("ds_cnn_kws")._repr_html_() and "<script" not in html
    nodes = _nodes(html)
    assert [n[2] for n in nodes] == ["input"] + [f"{l.index} {l.name}" for l in m.layers]
    for layer, (_, _, _, body) in zip(m.layers, nodes[1:]):
        assert layer.type in body and f"{format_shape(layer.input_shape)} → {format_shape(layer.output_shape)}" in body
        assert f"weights {layer.weights_bits}-bit" in body


def test_report_diagram_is_coloured_by_verdict_per_target():
    m = ak.example("ds_cnn_kws")
    cmp = ak.compare(m, ["nsoc_v1", "nsoc_v2"])
    nodes = _nodes(cmp._repr_html_())
    assert len(nodes) == len(m.layers)  # a report knows no input bits: no input box
    for i, (state, tip, _, body) in enumerate(nodes):
        verdicts = [r.layer_verdicts[i] for r in cmp.reports]
        expected = " akn-ok" if all(v.ok for v in verdicts) else " akn-bad" if not any(v.ok for v in verdicts) else ""
        assert state == expected
        for r, v in zip(cmp.reports, verdicts):
            assert f"{r.target}: {v.summary}" in tip and ("akn-ok" if v.ok else "akn-bad") in body


def test_model_diagram_shows_np_counts_where_known():
    from akida_nb.html import model_diagram

    m = ak.example("ds_cnn_kws")
    est = ak.estimate_nps(m, "akd1000")
    nodes = _nodes(model_diagram(m, nps=est))
    for n, (_, _, _, body) in zip(est["nps"], nodes[1:]):
        assert (f"{int(n)} NP" in body) if n == n and n is not None else ("NP" not in body)


# ------------------------------------------------------------------------------ badges that explain themselves
POOL3 = {"name": "pool3", "input": {"shape": [32, 32, 16], "bits": 4}, "layers": [
    {"type": "Convolutional", "kernel_size": 3, "filters": 32, "weights_bits": 4, "act_bits": 4,
     "pool_type": "max", "pool_size": 3, "pool_stride": 2},
    {"type": "Convolutional", "kernel_size": 3, "filters": 32, "weights_bits": 4, "act_bits": 4,
     "pool_type": "average"},
    {"type": "FullyConnected", "units": 10, "weights_bits": 4, "activation": False}]}


def test_a_compatible_badge_carries_the_mappers_refusal():
    model = ak.Model.from_dict(POOL3)
    rep = ak.check(model, "nsoc_v2", also=["akd1000"])
    assert rep.ok and rep.caveats
    html = rep._repr_html_()
    verdict = re.search(r'Verdict: (<span class="akn-badge [^"]+"[^>]*>[^<]*</span>)', html).group(1)
    assert "akn-caveat" in verdict and "⚠" in verdict and "refuses" in verdict and "✓" not in verdict
    assert "refuses" in repr(rep).splitlines()[1]  # the text verdict says it too
    plain = ak.check(model, "nsoc_v2")  # without the note, a plain ✓
    assert not plain.caveats and 'class="akn-badge akn-caveat"' not in plain._repr_html_()


def test_layer_badges_link_to_their_violations_and_every_badge_has_a_tooltip():
    for rendered in (ak.check(ak.example("broken"), "nsoc_v1"), ak.compare(ak.example("broken"))):
        html = rendered._repr_html_()
        links = re.findall(r'<a class="akn-badge akn-bad" href="#([^"]+)"', html)
        assert links
        ids = re.findall(r'<tr id="([^"]+)"', html)
        assert set(links) <= set(ids) and len(ids) == len(set(ids))
        badges = re.findall(r'<(?:span|a) class="akn-badge[^"]*"([^>]*)>', html)
        assert badges and all("title=" in b for b in badges)


def test_one_layer_reads_in_the_singular():
    m = ak.Model.from_dict({"input": {"shape": [1, 1, 8], "bits": 1},
                            "layers": [{"type": "FullyConnected", "units": 4, "weights_bits": 2}]})
    assert "1 layer checked" in ak.check(m, "nsoc_v2").summary_line()


def test_rule_ids_link_to_their_row_of_the_rules_table():
    for rendered, reports in ((rep := ak.check(ak.example("broken"), "nsoc_v1"), [rep]),
                              (cmp := ak.compare(ak.example("broken")), cmp.reports)):
        html = rendered._repr_html_()
        assert html == rendered._repr_html_()  # deterministic ids
        ids = re.findall(r'<tr id="([^"]+)"', html)
        assert len(ids) == len(set(ids))
        links = re.findall(r'<a class="akn-rule" href="#([^"]+)"[^>]*>([^<]*)</a>', html)
        assert len(links) == sum(len(r.entries) for r in reports)  # every violation's rule id is a link
        rows = dict(re.findall(r'<tr id="(akn-r-[^"]+)"><td><code>([^<]*)</code>', html))
        assert {href for href, _ in links} == set(rows) and all(rows[href] == rule for href, rule in links)
        for r in reports:  # one row per violated rule, per target
            own = [rule for rid, rule in rows.items() if rid.startswith(f"akn-r-{r.target}-")]
            assert sorted(own) == sorted({v.rule for v in r.entries})
        assert len(rows) == sum(len({v.rule for v in r.entries}) for r in reports)
        # the text view lists the same rules, in the same order, as "rule: type (severity)" lines
        text = repr(rendered)
        assert "Rules:" in text
        for r in reports:
            first = list(dict.fromkeys(v.rule for v in r.entries))
            listed = [line.split(":")[0].strip() for line in text.splitlines()
                      if re.match(r"  \S+: \w+(, \w+)* \((error|warning|note)\)$", line)]
            assert all(rule in listed for rule in first)


def test_a_compatible_report_has_no_rules_table():
    rep = ak.check(ak.example("ds_cnn_kws"), "nsoc_v2")
    assert "Rules" not in repr(rep) and "akn-rules" not in rep._repr_html_().split("</style>")[1]


def test_rules_table_escapes_what_a_report_says():
    rep = ak.check(ak.example("broken"), "nsoc_v1")
    hostile = replace(rep, entries=tuple(replace(v, rule="fc.<b>x", note="<img src=x>", source="<script>")
                                         for v in rep.entries[:2]))  # as a hand-made JSON report may hold
    html = hostile._repr_html_()
    assert "<img src=x>" not in html and "<script>" not in html and "<b>x" not in html
    assert "&lt;img src=x&gt;" in html and len(re.findall(r'href="#akn-r-nsoc_v1-fc__b_x-', html)) == 2
    assert len(re.findall(r'<tr id="akn-r-nsoc_v1-fc__b_x-', html)) == 1
