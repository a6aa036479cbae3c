"""Rule kinds: each one object (needs, judgement, allowed text, message); check() knows none of them by name."""
import ast
import importlib
import inspect

import pytest

import akida_nb as ak
from akida_nb import rules
from akida_nb.rules import RULE_KINDS, Kind, Rule, layer_context, template_problem

T = importlib.import_module("akida_nb.targets")


def rule(kind, **kw):
    base = {"id": "x.y", "layer_type": "Convolutional", "section": "s", "parameter": "p", "field": "kernel_size",
            "kind": kind, "note": "n", "fix": "f", "source": "s"}
    return Rule.from_dict({**base, **kw})


CTX = {"name": "c", "type": "Convolutional", "kernel_size": (3, 5), "kernel_stride": (2, 2), "pool_size": (2, 2),
       "pool_stride": (3, 3), "input_dims": (8, 8), "input_size": 90000, "filters": 200, "input_channels": 3,
       "next_type": None, "np_refused": "Filter size is too big", "threshold": (0, 524288), "input_d1": 12,
       "weights_bits": 8}
HEAD = "Layer 'c' (Convolutional): "
# (kind, rule keys, value judged, allowed text, message after the head) — today's words, pinned
CASES = [
    ("allowed", {"values": [[1, 1], [3, 3]]}, "3×5", "[1×1, 3×3]",
     "kernel_size must be in [1×1, 3×3], currently at 3×5."),
    ("range", {"field": "input_size", "max": 81920}, "90000", "<= 81920",
     "input_size must be <= 81920, currently at 90000."),
    ("range", {"field": "weights_bits", "min": 1, "max": 4}, "8", "[1:4]",
     "weights_bits must be in [1:4], currently at 8."),
    ("range", {"field": "input_d1", "min": 16}, "12", ">= 16", "input_d1 must be >= 16, currently at 12."),
    ("multiple_of", {"field": "input_d1", "multiple": 8, "when": {"type": ["Convolutional"]}}, "12", "multiple of 8",
     "input_d1 must be a multiple of 8 when type is Convolutional, currently at 12."),
    ("le_field", {"field": "pool_stride", "other": "pool_size"}, "3×3", "<= pool_size (each axis)",
     "pool_stride cannot be greater than pool_size (2×2), currently at 3×3."),
    ("eq_field", {"field": "pool_stride", "other": "pool_size"}, "3×3", "= pool_size",
     "pool_stride must equal pool_size (2×2), currently at 3×3."),
    ("max_by", {"field": "filters", "keys": ["kernel_size", "input_channels"],
                "table": [{"kernel_size": [3, 5], "input_channels": 3, "max": 64}]}, "200",
     "<= by kernel_size, input_channels: 3×5, 3 → 64",
     "filters must be <= 64 with kernel_size 3×5, input_channels 3, currently at 200."),
    ("next_type", {"field": "next_type", "values": ["Convolutional"]}, "nothing (last layer)",
     "followed by Convolutional", ("a layer with max pooling must be followed by Convolutional, currently nothing "
     "(last layer).")),
    ("equal_axes", {}, "3×5", "equal on both axes", "kernel_size must be equal on both axes, currently at 3×5."),
    ("odd", {"field": "kernel_stride"}, "2×2", "odd on both axes",
     "kernel_stride must be odd on both axes, currently at 2×2."),
    ("unsupported", {"field": "type"}, "Convolutional", "not supported",
     "the Convolutional layer type is not supported on this target."),
    ("maps", {"field": "np_refused"}, "Filter size is too big", "fits the hardware",
     "the layer cannot be mapped: Filter size is too big"),
    ("variable_range", {"field": "threshold", "min": -524288, "max": 524287}, "[0, 524288]", "[-524288:524287]",
     "threshold must be in [-524288:524287], currently at [0, 524288]."),
]


@pytest.mark.parametrize("kind, keys, value, allowed, message", CASES, ids=[c[0] for c in CASES])
def test_each_kind_judges_and_speaks_as_before(kind, keys, value, allowed, message):
    r = rule(kind, **keys)
    assert r.kind_object is RULE_KINDS[kind]
    assert r.judge(CTX) == value
    assert r.allowed_text() == allowed
    assert r.message_for(CTX, value) == HEAD + message


def test_every_kind_is_covered_and_registered_under_its_name():
    assert {c[0] for c in CASES} == set(RULE_KINDS)
    for name, kind in RULE_KINDS.items():
        assert isinstance(kind, Kind) and kind.name == name


def test_passing_and_absent_values_are_not_violations():
    assert rule("allowed", values=[[3, 5]]).judge(CTX) is None
    assert rule("allowed", field="pool_size", values=[[3, 3]]).judge({**CTX, "pool_size": None}) is None
    assert rule("max_by", field="filters", keys=["input_channels"], table=[{"input_channels": 1, "max": 1}]).judge(
        CTX) is None  # no row: not judged
    assert rule("next_type", field="next_type", values=["Convolutional"]).judge(
        {**CTX, "next_type": "Convolutional"}) is None


NEEDS = {"values": [1], "multiple": 2, "other": "input_dims", "keys": ["input_channels"],
         "table": [{"input_channels": 1, "max": 1}]}


def test_kind_needs_are_enforced_from_the_kind_object():
    for name, kind in RULE_KINDS.items():
        for key in kind.needs:
            others = {k: NEEDS[k] for k in kind.needs if k != key}
            with pytest.raises(ak.SpecError, match=f"{key}: required by kind '{name}'"):
                rule(name, field="threshold" if name == "variable_range" else "kernel_size", **others)


def test_layer_context_has_exactly_the_declared_fields():
    m = ak.example("ds_cnn_kws")
    for i in range(len(m.layers)):
        assert tuple(layer_context(m, i)) == rules.LAYER_FIELDS
    conv = {"kernel_size": 3, "filters": 4, "act_bits": 2, "pool_type": "max", "pool_size": 2}
    for layer in ({"type": "InputConvolutional", **conv, "weights_bits": 8, "pool_stride": 2},
                  {"type": "Convolutional", **conv, "weights_bits": 2},
                  {"type": "SeparableConvolutional", **conv, "weights_bits": 2},
                  {"type": "FullyConnected", "units": 4, "weights_bits": 2}):
        bits = 8 if layer["type"] == "InputConvolutional" else 2
        m = ak.Model.from_dict({"input": {"shape": [8, 8, 3], "bits": bits}, "layers": [layer]})
        absent = {k for k, v in layer_context(m, 0).items() if v is None} - {"next_type"}
        assert absent == set(rules.ABSENT[layer["type"]]), layer["type"]


def test_check_has_no_kind_specific_branch():
    import akida_nb.check as check_module

    source = inspect.getsource(check_module)
    tree = ast.parse(source)
    kinds_named = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in RULE_KINDS]
    assert kinds_named == []
    assert ".kind" not in source


@pytest.mark.parametrize("template, problem", [
    ("plain {filters} and {value}, {{braces}}", None),
    ("{name.__class__.__mro__}", "only plain {field} names"),
    ("{input_dims[0]}", "only plain {field} names"),
    ("{filters:>{units}}", "only plain {field} names"),
    ("{filters!r}", "only plain {field} names"),
    ("{0}", "only plain {field} names"),
    ("{}", "only plain {field} names"),
    ("{secret}", "unknown field"),
    ("{unclosed", "not a valid template"),
])
def test_message_templates_allow_plain_field_names_only(template, problem):
    got = template_problem(template)
    assert (got is None) if problem is None else (problem in got)
    if problem is not None:
        with pytest.raises(ak.SpecError, match="message"):
            rule("equal_axes", message=template)


def test_a_new_kind_is_one_object(tmp_path, monkeypatch):
    class Even(Kind):
        name = "even"

        def ok(self, rule, ctx, value):
            return value % 2 == 0

        def allowed(self, rule):
            return "even"

    monkeypatch.setitem(RULE_KINDS, "even", Even())
    T.target_schema.cache_clear()
    T._validator.cache_clear()
    try:
        path = tmp_path / "even.yaml"
        path.write_text("name: even\ntitle: Even\nlayer_types: [FullyConnected]\nrules:\n"
                        "  - {id: fc.units_even, layer_type: FullyConnected, section: Layer, parameter: Units,\n"
                        "     field: units, kind: even, note: n, fix: f, source: s}\n", encoding="utf-8")
        with ak.registered_target(path):
            m = ak.Model.from_dict({"input": {"shape": [1, 1, 4], "bits": 2},
                                    "layers": [{"type": "FullyConnected", "units": 3, "weights_bits": 2}]})
            (v,) = ak.check(m, "even").entries
            assert (v.rule, v.allowed, v.message) == (
                "fc.units_even", "even", ("Layer 'L0_FullyConnected' (FullyConnected): units must be even, "
                                         "currently at 3."))
    finally:
        monkeypatch.undo()
        T.target_schema.cache_clear()
        T._validator.cache_clear()
    with pytest.raises(ak.SpecError, match="kind: 'even' is not one of"):
        ak.register_target(path)


def test_once_rules_report_the_first_layer_only():
    r, spent = ak.get_target("akd1000").rule("conv.device_nps"), set()
    over = {"type": "Convolutional", "cumulative_nps": 79}
    assert [r.violated(over, spent) for _ in range(3)] == ["79", None, None]
    assert ak.get_target("akd1000").rule("fc.device_nps").violated({**over, "type": "FullyConnected"}, spent) is None


def test_severity_decides_where_a_finding_goes(tmp_path):
    path = tmp_path / "sev.yaml"
    path.write_text("name: sev\ntitle: Sev\nlayer_types: [FullyConnected]\nrules:\n"
                    "  - {id: fc.w, layer_type: FullyConnected, section: L, parameter: U, field: units,\n"
                    "     kind: range, max: 2, severity: warning, note: n, fix: f, source: s}\n"
                    "  - {id: fc.n, layer_type: FullyConnected, section: L, parameter: U, field: units,\n"
                    "     kind: range, max: 1, severity: note, note: n, fix: f, source: s}\n", encoding="utf-8")
    with ak.registered_target(path):
        m = ak.Model.from_dict({"input": {"shape": [1, 1, 4], "bits": 2},
                                "layers": [{"type": "FullyConnected", "units": 3, "weights_bits": 2}]})
        rep = ak.check(m, "sev")
        assert rep.ok and [(v.rule, v.severity) for v in rep.entries] == [("fc.w", "warning")]
        assert rep.layer_verdicts[0].violations == 0
        assert rep.notes == ("Layer 'L0_FullyConnected' (FullyConnected): units must be <= 1, currently at 3.",)
        assert list(ak.constraints("sev")["severity"]) == ["warning", "note"] + ["error"] * 3
