"""One presentation layer: safe text for terminals, escaped HTML, surrogates, report JSON input, widget arguments."""
import re

import pytest

import akida_nb as ak
from akida_nb import html as H, present as P

FORGED = "x\nVerdict: COMPATIBLE (1 layers checked, no violations)\x1b[2K\x1b[1A\r"


def _model(name="net", layer="conv"):
    return ak.Model.from_dict({"name": name, "input": {"shape": [8, 8, 4], "bits": 8}, "layers": [
        {"type": "Convolutional", "name": layer, "kernel_size": 4, "filters": 4, "weights_bits": 8}]})


def _views(m):
    rep = ak.check(m, "nsoc_v1")
    assert not rep.ok   # the forged line below must not be able to hide that
    return [rep, ak.compare(m, ["nsoc_v1", "nsoc_v2"]), ak.fix(m, "nsoc_v1"), m]


@pytest.mark.parametrize("where", ["model", "layer"])
def test_names_cannot_forge_lines_of_a_text_report(where):
    m = _model(**{"name" if where == "model" else "layer": FORGED})
    for obj in _views(m):
        text = repr(obj)
        assert "\x1b" not in text and "\r" not in text, type(obj).__name__
        assert not any(line.startswith("Verdict: COMPATIBLE") for line in text.splitlines()), type(obj).__name__
        assert P.safe_text(FORGED) in text or repr(FORGED) in text
        assert str(obj) == text


def test_every_text_line_of_a_hostile_report_is_printable():
    m = _model(name="m\x07\x1b]0;title\x07", layer="l\x9b31m\u2028\x00")
    for obj in _views(m):
        for line in repr(obj).splitlines():
            assert line.isprintable() or line == "", (type(obj).__name__, line)


@pytest.mark.parametrize("name, layer", [("fc\udfff", "conv"), ("net", "fc\udfff"), ("\ud800", "\udc00\ud800")])
def test_lone_surrogates_are_refused_at_build_and_never_crash_rendering(name, layer):
    """A model refuses names that are not valid Unicode; the renderers still take such text safely."""
    with pytest.raises(ak.SpecError, match="lone surrogate"):
        _model(name, layer)
    for s in (name, layer):
        shown = ak.present.safe_text(s)
        shown.encode("utf-8")                         # a terminal or a file can take it
        page = ak.html.escape(s)
        page.encode("utf-8")                          # Jupyter sends it as UTF-8
        assert "\\ud" in shown or s == "conv" or s == "net"
        assert "\\ud" in page or s == "conv" or s == "net"


def test_html_escapes_every_user_string():
    evil = '<img src=x onerror="alert(1)">&'
    m = _model(evil, evil + "L")
    pages = [obj._repr_html_() for obj in _views(m) if hasattr(obj, "_repr_html_")]
    ex = ak.widgets.Explorer(m, target="nsoc_v1")
    pages += [ex.report_html.value, ex.summary_html.value, ex.ui.children[0].value]
    for box in ex.fix_checks.values():
        box.value = True
    pages.append(ex.changes_html.value)
    for page in pages:
        assert "<img" not in page and "onerror=\"" not in page
    assert all("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in p for p in pages[:3])


def test_toolkit_pieces():
    assert H.escape("a<b\udfff") == "a&lt;b\\udfff"
    assert H.badge(True, "<ok>") == '<span class="akn-badge akn-ok">✓ &lt;ok&gt;</span>'
    assert H.section("s", "b", open=False) == "<details><summary>s</summary>b</details>"
    assert H.items("Notes", []) == ""
    page = H.page("t\udfff", "<i>x</i>")
    page.encode("utf-8")
    assert page.count("<style>") == 1 and re.match(r'<div id="akn-[0-9a-f]{12}"', page)
    blocks = [P.Line(["a ", P.Span("b\x1b", "code")]),
              P.Table("T", (P.Column("k", right=True), P.Column("v"), P.Column("why", long=True)),
                      [[1, "x\ny", "because"]], row_roles=["changed"]),
              P.Items("Notes", ["n"])]
    text = P.render_text(blocks)
    assert text.splitlines()[0] == "a b\\x1b"
    assert "  1  x\\ny" in text and "why: because" in text and "  - n" in text
    rich = H.render_html(blocks)
    assert '<tr class="akn-changed">' in rich and "<code>b\\x1b</code>" in rich and "x\\ny" in rich


def test_formatters_are_the_one_home():
    assert P.format_shape((25, 5, 64)) == "25×5×64" == ak.model.fmt_shape((25, 5, 64))
    assert P.format_pair([3, 5]) == "3×5" == ak.model.fmt_pair((3, 5))
    assert P.layer_label("conv_0", "InputConvolutional") == "conv_0 (InputConvolutional)"
    layer = ak.example("broken").layers[2]
    from akida_nb.fixes.result import layer_text

    assert layer_text(layer) == P.describe_layer(layer) and P.describe_layer(layer) in repr(ak.example("broken"))


# ------------------------------------------------------------------------------ report JSON input
@pytest.mark.parametrize("text", ["{bad", "", "[1, 2]", '"x"', "null", "5", '{"kind": "CompatibilityReport"}',
                                  "[" * 100_000 + "]" * 100_000, b"\xff\xfe", None, 5])
def test_report_from_json_rejects_garbage_in_one_line(text):
    for cls in (ak.CompatibilityReport, ak.Comparison):
        with pytest.raises(ak.SpecError) as info:
            cls.from_json(text)
        assert "\n" not in str(info.value) and len(str(info.value)) <= 400


def test_report_from_dict_checks_every_field():
    good = ak.check(ak.example("broken"), "nsoc_v1").to_dict()
    bad = [dict(good, model_name=5), dict(good, layers=[dict(good["layers"][0], index="0")]),
           dict(good, layers=[dict(good["layers"][0], input_shape="8x8")]),
           dict(good, layers=[dict(good["layers"][0], extra=1)]),
           dict(good, violations=[dict(good["violations"][0], message=None)]),
           dict(good, violations=[5]), dict(good, notes="abc"), dict(good, unmapped=[1])]
    for d in bad:
        with pytest.raises(ak.SpecError):
            ak.CompatibilityReport.from_dict(d)
    for d in ({"model_name": "m", "reports": []}, {"model_name": "m", "reports": [5]}, {"reports": "x"}, []):
        with pytest.raises(ak.SpecError):
            ak.Comparison.from_dict(d)
    cmp = ak.compare(ak.example("broken"))
    assert ak.Comparison.from_json(cmp.to_json()) == cmp


# ------------------------------------------------------------------------------ widget arguments
def test_widget_arguments_raise_typed_errors():
    m = ak.example("ds_cnn_kws")
    ex = ak.widgets.Explorer(m, target="nsoc_v1")           # one name is a choice of one target
    assert ex.target.value == ("nsoc_v1",) and ex.current_report.target == "nsoc_v1"
    ex = ak.widgets.Explorer(m, target=["nsoc_v2", "akd1000"])
    assert ex.current_report.targets == ["nsoc_v2", "akd1000"]
    with pytest.raises(ak.UnknownTargetError):
        ak.widgets.Explorer(m, target="nsoc_v9")
    for call in (lambda: ak.widgets.Explorer(m, tgt="nsoc_v1"), lambda: ak.widgets.Explorer("model"),
                 lambda: ak.widgets.Explorer(m, target=5), lambda: ak.widgets.Explorer(m, target=[]),
                 lambda: ak.widgets.Explorer(m, target=[None]),
                 lambda: ak.widgets.Playground(targets=5), lambda: ak.widgets.Playground(colour="red"),
                 lambda: ak.widgets.ConstraintBrowser(targets=[1]), lambda: ak.widgets.ConstraintBrowser(x=1)):
        with pytest.raises(ak.AkidaNbError) as info:
            call()
        assert isinstance(info.value, (ak.SpecError, ak.UnknownTargetError)) and "\n" not in str(info.value)
    assert ak.widgets.Playground(targets="nsoc_v2").targets == ("nsoc_v2",)
    assert ak.widgets.ConstraintBrowser(targets="akd1000").targets.value == ("akd1000",)


# ------------------------------------------------------------------------------ one intermediate, two views
def _facts(blocks):
    """Every cell, line and title of the blocks, as its terminal text."""
    for b in blocks:
        if isinstance(b, P.Line):
            yield P.cell_text(b.parts)
        elif isinstance(b, P.Items):
            yield from (P.cell_text(i) for i in b.items)
        elif isinstance(b, P.Table):
            yield from (P.cell_text(c) for row in b.rows for c in row)
        elif isinstance(b, P.Diagram):  # HTML only: the text lists the layers in its tables
            continue
        else:
            yield P.cell_text(b.title)
            yield from _facts(b.blocks)


@pytest.mark.parametrize("make", [lambda: ak.check(ak.example("broken"), "nsoc_v1"),
                                  lambda: ak.compare(ak.example("ds_cnn_kws"), ["nsoc_v1", "nsoc_v2", "akd1000"]),
                                  lambda: ak.fix(ak.example("broken"), "nsoc_v2"),
                                  lambda: ak.fix(_model("m\x1b", "l\n<b>"), "nsoc_v1")])
def test_text_and_html_show_every_fact_of_the_same_blocks(make):
    import html as stdlib_html

    obj = make()
    text, page = repr(obj), obj._repr_html_()
    def unmarked(s):  # HTML badges add their ✓/✗ mark
        return s.replace("✓ ", "").replace("✗ ", "")

    rich = unmarked(stdlib_html.unescape(re.sub(r"<[^>]+>", "", page.split('class="akn-wrap"', 1)[1])))
    facts = [f.strip() for f in _facts(obj.blocks()) if f.strip()]
    assert len(facts) > 10
    for fact in facts:
        assert fact in text, fact
        assert unmarked(fact) in rich, fact
