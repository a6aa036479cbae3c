"""Target files: the expanded rules stay today's, the schema refuses bad files in one line, the registry is safe."""
import dataclasses
import importlib
import json
from pathlib import Path

import pytest
import yaml

import akida_nb as ak
from akida_nb.rules import Rule

T = importlib.import_module("akida_nb.targets")

SNAPSHOT = Path(__file__).parent / "data" / "targets_expanded.json"
NEW_RULES = {"nsoc_v1": ["sepconv.avgpool_filters"], "nsoc_v2": [], "akd1000": []}
"""Rules added since the snapshot (taken before rules could be written for several layer types)."""
DEFAULTS = {f.name: f.default for f in dataclasses.fields(Rule) if f.default is not dataclasses.MISSING}


def _plain(v):
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@pytest.mark.parametrize("name", ["nsoc_v1", "nsoc_v2", "akd1000"])
def test_expanded_rules_are_todays_rules_in_todays_order(name):
    snap = json.loads(SNAPSHOT.read_text(encoding="utf-8"))[name]
    t = ak.get_target(name)
    assert (t.title, list(t.layer_types), t.base, t.order, t.refuser, t.description) == (
        snap["title"], snap["layer_types"], snap["base"], snap["order"], snap["refuser"], snap["description"])
    now = [_plain(dataclasses.asdict(r)) for r in t.rules if r.id not in NEW_RULES[name]]
    assert [r["id"] for r in now] == [r["id"] for r in snap["rules"]]
    for old, new in zip(snap["rules"], now):
        assert {k: new[k] for k in old} == old, old["id"]
        assert {k: new[k] for k in set(new) - set(old)} == {k: DEFAULTS[k] for k in set(new) - set(old)}, old["id"]
    assert [r.id for r in t.rules if r.id in NEW_RULES[name]] == NEW_RULES[name]


def test_the_yaml_files_state_shared_rules_once():
    text = (ak.resources.data_dir() / "targets" / "nsoc_v1.yaml").read_text(encoding="utf-8")
    assert "sepconv.kernel_stride" not in text and '"{prefix}.kernel_stride"' in text
    raw = yaml.safe_load(text)
    assert len(T._expand(raw["rules"], "nsoc_v1.yaml")) == len(ak.get_target("nsoc_v1").rules)
    assert sum(1 for _ in raw["rules"]) < len(ak.get_target("nsoc_v1").rules) / 2


def test_every_packaged_file_and_the_schema_are_valid():
    import jsonschema

    jsonschema.Draft7Validator.check_schema(T.target_schema())
    for path in sorted((ak.resources.data_dir() / "targets").glob("*.yaml")):
        T.validate_target(T._read_yaml(path), path.name)


def test_the_schema_knows_exactly_the_registered_fixes():
    from akida_nb.fixes.registry import registry

    assert set(T.target_schema()["$defs"]["fix_name"]["enum"]) == {f.name for f in registry()}


# ---------------------------------------------------------------------------- bad files
RULE = {"id": "fc.units_max", "layer_type": "FullyConnected", "section": "Layer", "parameter": "Units",
        "field": "units", "kind": "range", "max": 10, "note": "n", "fix": "f", "source": "s"}


def _file(**over):
    base = {"name": "mine", "title": "Mine", "layer_types": ["FullyConnected"], "rules": [dict(RULE)]}
    rule = over.pop("rule", None)
    if rule is not None:
        base["rules"] = [{k: v for k, v in {**RULE, **rule}.items() if v is not None}]
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


BAD = [  # (id, file content, text the one-line error must contain)
    ("unknown-top-key", _file(rulez=[]), "mine.yaml: unknown key 'rulez'"),
    ("name-not-str", _file(name=5), "mine.yaml: name: 5 is not of type string"),
    ("name-empty", _file(name=""), "mine.yaml: name:"),
    ("name-not-slug", _file(name="my target"), "mine.yaml: name: 'my target' does not match"),
    ("unknown-rule-key", _file(rule={"maxx": 3}), "mine.yaml: rule fc.units_max: unknown key 'maxx'"),
    ("unknown-kind", _file(rule={"kind": "ranged"}), "mine.yaml: rule fc.units_max: kind: 'ranged' is not one of"),
    ("unknown-field", _file(rule={"field": "unit"}), "mine.yaml: rule fc.units_max: field: 'unit' is not one of"),
    ("when-unknown-field", _file(rule={"when": {"pooltype": ["max"]}}),
     "mine.yaml: rule fc.units_max: when: unknown field 'pooltype'"),
    ("when-not-a-list", _file(rule={"when": {"pool_type": "max"}}), "mine.yaml: rule fc.units_max: when.pool_type"),
    ("values-not-a-list", _file(rule={"kind": "allowed", "values": 3, "max": None}),
     "mine.yaml: rule fc.units_max: values: 3 is not of type array"),
    ("kind-needs-values", _file(rule={"kind": "allowed", "max": None}),
     "mine.yaml: rule fc.units_max: missing values"),
    ("max-by-row-keys", _file(rule={"kind": "max_by", "keys": ["input_channels"], "table": [{"max": 3}],
                                    "max": None}), "mine.yaml: rule fc.units_max: table: table[0] must hold"),
    ("range-without-bounds", _file(rule={"max": None}), "mine.yaml: rule fc.units_max: max: needs min or max"),
    ("unknown-layer-type", _file(rule={"layer_type": "Dense"}), "mine.yaml: rule fc.units_max: layer_type"),
    ("unknown-fix", _file(rule={"fixes": ["fix_everything"]}), "mine.yaml: rule fc.units_max: fixes.0:"),
    ("reserved-id", _file(rule={"id": "layer_type"}), "mine.yaml: rule layer_type: id: 'layer_type' is reserved"),
    ("template-attribute", _file(rule={"message": "{name.__class__.__mro__}"}),
     "mine.yaml: rule fc.units_max: message:"),
    ("template-index", _file(rule={"message": "{input_dims[0]}"}), "mine.yaml: rule fc.units_max: message:"),
    ("template-spec", _file(rule={"message": "{units:>{filters}}"}), "mine.yaml: rule fc.units_max: message:"),
    ("template-unknown-name", _file(rule={"message": "{unitz} units"}),
     "mine.yaml: rule fc.units_max: message: '{unitz}': unknown field"),
    ("severity", _file(rule={"severity": "fatal"}), "mine.yaml: rule fc.units_max: severity: 'fatal' is not one of"),
    ("variable-field-wrong-kind", _file(rule={"field": "threshold"}),
     "mine.yaml: rule fc.units_max: field: kind 'range' cannot judge field 'threshold'"),
    ("layer-field-variable-kind", _file(rule={"kind": "variable_range"}),
     "mine.yaml: rule fc.units_max: field: kind 'variable_range' cannot judge field 'units'"),
    ("field-the-type-lacks", _file(rule={"field": "kernel_size"}),
     "mine.yaml: rule fc.units_max: field: a FullyConnected layer has no kernel_size"),
    ("when-on-a-field-the-type-lacks", _file(rule={"when": {"pool_type": ["max"]}}),
     "mine.yaml: rule fc.units_max: when: a FullyConnected layer has no pool_type"),
    ("when-value-never-taken", _file(rule={"field": "input_size", "when": {"activation": ["yes"]}}),
     "mine.yaml: rule fc.units_max: when: activation is never 'yes'"),
    ("values-never-taken", _file(rule={"field": "type", "kind": "allowed", "values": ["Dense"], "max": None}),
     "mine.yaml: rule fc.units_max: values: type is never 'Dense'"),
    ("huge-int", yaml.safe_dump(_file(rule={"max": 123456789})).replace("123456789", "9" * 5000),
     "mine.yaml: not valid YAML: an integer of 5000 digits (more than 100, line 10)"),
    ("big-int", _file(rule={"max": 10 ** 30}),
     "mine.yaml: rule fc.units_max: max: 1000000000000000000000000000000 is out of range"),
    ("infinity", _file(rule={"max": float("inf")}), "mine.yaml: rule fc.units_max: max: inf is out of range"),
    ("nan", _file(rule={"max": float("nan")}), "mine.yaml: rule fc.units_max: max: not a number"),
    ("replace-without-base", _file(replace=["fc.units_max"]), "mine.yaml: replace: only a target with a base"),
    ("unknown-base", _file(base="nsoc_v9"), "mine.yaml: base: unknown base target 'nsoc_v9'"),
    ("self-base", _file(base="mine"), "mine.yaml: base: unknown base target 'mine'"),
    ("replace-unknown-rule", _file(base="nsoc_v2", replace=["fc.nope"]), "mine.yaml: replace: no such rules"),
    ("duplicate-ids", _file(rules=[RULE, RULE]), "mine.yaml: rules: duplicate rule ids: fc.units_max"),
    ("multi-type-without-prefix", _file(rule={"layer_type": ["Convolutional", "SeparableConvolutional"],
                                                    "field": "filters"}),
     "mine.yaml: rules: duplicate rule ids: fc.units_max"),
    ("group-stray-type", _file(rules=[{"layer_type": ["Convolutional"], "rules": [
        {**RULE, "layer_type": "FullyConnected"}]}]), "mine.yaml: rule fc.units_max: layer_type: FullyConnected is"),
    ("not-a-mapping", [1, 2], "mine.yaml: [1, 2] is not of type object"),
]


@pytest.mark.parametrize("raw, expected", [pytest.param(raw, text, id=i) for i, raw, text in BAD])
def test_a_bad_file_raises_one_spec_error_naming_file_rule_and_key(tmp_path, raw, expected):
    path = tmp_path / "mine.yaml"
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    before = set(ak.targets()["name"])
    with pytest.raises(ak.SpecError) as info:
        ak.register_target(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message and len(message) <= 300
    assert expected.replace("mine.yaml", str(path)) in message
    assert set(ak.targets()["name"]) == before


def test_a_good_file_of_the_same_shape_passes(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(_file(rule={"message": "has {units} units, at most {allowed}"})), "utf-8")
    with ak.registered_target(path) as t:
        m = ak.Model.from_dict({"input": {"shape": [1, 1, 8], "bits": 2},
                                "layers": [{"type": "FullyConnected", "units": 12, "weights_bits": 2}]})
        (v,) = ak.check(m, "mine").entries
        assert v.message == "Layer 'L0_FullyConnected' (FullyConnected): has 12 units, at most <= 10"
        assert t.rule("fc.units_max").max == 10


# ---------------------------------------------------------------------------- the generated layer_type rule
def test_a_layer_type_the_table_does_not_list_gets_the_generated_rule(tmp_path):
    path = tmp_path / "fc_only.yaml"
    path.write_text("name: fc_only\ntitle: FC {only}\nlayer_types: [FullyConnected]\nrules: []\n", "utf-8")
    with ak.registered_target(path) as t:
        assert sorted(r.layer_type for r in t.rules if r.id == "layer_type") == [
            "Convolutional", "InputConvolutional", "SeparableConvolutional"]
        rep = ak.check(ak.example("ds_cnn_kws"), "fc_only")
        v = rep.entries[0]
        assert (v.rule, v.parameter, v.value, v.allowed) == ("layer_type", "type", "InputConvolutional",
                                                             "[FullyConnected]")
        assert v.message == ("Layer 'conv_0' (InputConvolutional): the InputConvolutional layer type is not in the "
                             "FC {only} table.")
        assert (v.fix, v.note, v.source) == ("Replace the layer with a supported type.",
                                             "The target's table lists no such layer.", "fc_only layer types")
        assert [lv.violations for lv in rep.layer_verdicts] == [1, 1, 1, 1, 1, 0]
    for name in ("nsoc_v1", "nsoc_v2", "akd1000"):  # every packaged table covers every layer type
        assert not any(r.id == "layer_type" for r in ak.get_target(name).rules)


# ---------------------------------------------------------------------------- the registry
def _write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_register_refuses_an_existing_name_unless_replace(tmp_path):
    path = _write(tmp_path, "evil", "name: nsoc_v1\ntitle: Evil\nlayer_types: [FullyConnected]\nrules: []\n")
    with pytest.raises(ak.SpecError, match="a target named 'nsoc_v1' exists; pass replace=True"):
        ak.register_target(path)
    assert not ak.check(ak.example("ds_cnn_kws"), "nsoc_v1").ok
    with ak.registered_target(path, replace=True):
        assert ak.get_target("nsoc_v1").title == "Evil"
    assert ak.get_target("nsoc_v1").title == "Akida NSoC (Pre-production)"
    ak.register_target(path, replace=True)
    try:
        assert ak.get_target("nsoc_v1").title == "Evil"
    finally:
        ak.unregister_target("nsoc_v1")
    assert ak.get_target("nsoc_v1").title == "Akida NSoC (Pre-production)"  # the packaged one comes back


def test_unregister_refuses_packaged_unknown_and_used_bases(tmp_path):
    with pytest.raises(ak.SpecError, match="a packaged target cannot be removed"):
        ak.unregister_target("nsoc_v2")
    with pytest.raises(ak.UnknownTargetError):
        ak.unregister_target("nope")
    with pytest.raises(ak.SpecError, match="expected a target name"):
        ak.unregister_target(5)
    a = _write(tmp_path, "a", "name: a\ntitle: A\nbase: nsoc_v2\nrules: []\n")
    b = _write(tmp_path, "b", "name: b\ntitle: B\nbase: a\nrules: []\n")
    with ak.registered_target(a), ak.registered_target(b):
        assert len(ak.get_target("b").rules) == len(ak.get_target("nsoc_v2").rules)
        with pytest.raises(ak.SpecError, match="used as base by b"):
            ak.unregister_target("a")
    assert not {"a", "b"} & set(ak.targets()["name"])


def test_base_cycles_are_refused_with_the_file_named(tmp_path):
    a = _write(tmp_path, "a", "name: a\ntitle: A\nbase: nsoc_v2\nrules: []\n")
    b = _write(tmp_path, "b", "name: b\ntitle: B\nbase: a\nrules: []\n")
    a2 = _write(tmp_path, "a2", "name: a\ntitle: A again\nbase: b\nrules: []\n")
    with ak.registered_target(a), ak.registered_target(b):
        with pytest.raises(ak.SpecError, match=rf"^{a2}: base: 'a' → 'b' → 'a' makes a cycle of base targets$"):
            ak.register_target(a2, replace=True)
        assert ak.get_target("a").title == "A"


def test_registered_target_restores_the_registry_even_on_error(tmp_path):
    path = _write(tmp_path, "t", "name: t\ntitle: T\nlayer_types: [FullyConnected]\nrules: []\n")
    before = dict(T._EXTRA)
    with pytest.raises(RuntimeError), ak.registered_target(path):
        raise RuntimeError
    assert T._EXTRA == before


def test_bad_paths_are_typed(tmp_path):
    with pytest.raises(ak.SpecError, match="missing.yaml: no such file"):
        ak.register_target(tmp_path / "missing.yaml")
    with pytest.raises(ak.SpecError, match="not a regular file|a directory"):
        ak.register_target(tmp_path)
    for bad in (None, 5, ""):
        with pytest.raises(ak.SpecError, match="expected the path of a target file"):
            ak.register_target(bad)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ak.SpecError, match="bin.yaml"):
        ak.register_target(binary)


# ---------------------------------------------------------------------------- API holes
def test_bad_target_arguments_are_typed_one_liners():
    m = ak.example("ds_cnn_kws")
    for bad in (["nsoc_v1"], 5, None, {"a": 1}):
        with pytest.raises(ak.SpecError, match="expected a target name or an akida_nb Target"):
            ak.get_target(bad)
    with pytest.raises(ak.SpecError, match=r"use ak.compare\(model, targets\)"):
        ak.check(m, ["nsoc_v1"])
    for bad in (None, [], 5):
        with pytest.raises(ak.SpecError, match="^targets: expected a list of target names"):
            ak.compare(m, bad)
    with pytest.raises(ak.UnknownTargetError):
        ak.compare(m, ["nsoc_v1", "nsoc_v9"])
    with pytest.raises(ak.UnknownTargetError) as info:
        ak.get_target("x" * 10_000)
    assert len(str(info.value)) < 400
    for bad in ("Dense", ["Convolutional"], 5):
        with pytest.raises(ak.SpecError, match="^layer_type: unknown layer type"):
            ak.constraints("nsoc_v1", bad)
        with pytest.raises(ak.SpecError, match="^layer_type: unknown layer type"):
            ak.compare_constraints("nsoc_v1", "nsoc_v2", layer_type=bad)
    with pytest.raises(ak.SpecError, match="at least two targets"):
        ak.compare_constraints("nsoc_v1")
    with pytest.raises(ak.SpecError, match="each target once"):
        ak.compare_constraints("nsoc_v1", "nsoc_v1")
    with pytest.raises(ak.SpecError, match="expected a target name"):
        ak.compare_constraints("nsoc_v1", 5)
    with pytest.raises(ak.SpecError, match="expected a compare_constraints"):
        ak.style_differences(None)
    with pytest.raises(ak.SpecError, match="^also: expected a list"):
        ak.check(m, "nsoc_v2", also=5)


def test_style_differences_escapes_text_from_target_files(tmp_path):
    path = _write(tmp_path, "html", "name: html\ntitle: H\nlayer_types: [FullyConnected]\nrules:\n"
                  "  - {id: fc.x, layer_type: FullyConnected, section: '<b>s</b>', parameter: '<img src=x>',\n"
                  "     field: units, kind: range, max: 3, note: n, fix: f, source: s}\n")
    with ak.registered_target(path):
        html = ak.style_differences(ak.compare_constraints("nsoc_v1", "html")).to_html()
    assert "<img src=x>" not in html and "&lt;img src=x&gt;" in html and "<b>s</b>" not in html


def _example_layer(name):
    return ak.example("ds_cnn_kws").layer(name)


@pytest.mark.parametrize("call, typo, meant", [
    (ak.get_target, "nsoc_v3", "nsoc_v2"),
    (ak.example, "ds_cnn_kw", "ds_cnn_kws"),
    (ak.example_data, "digit", "digits"),
    (_example_layer, "dense5", "dense_5"),
    (lambda name: ak.constraints("nsoc_v2", layer_type=name), "FullyConected", "FullyConnected"),
    (lambda name: ak.compare_constraints("nsoc_v1", "nsoc_v2", layer_type=name), "Convolution", "Convolutional"),
    (lambda name: ak.fix(ak.example("ds_cnn_kws"), "nsoc_v2", fixes=[name]), "clamp_bit", "clamp_bits"),
])
def test_every_unknown_name_suggests_the_close_match(call, typo, meant):
    with pytest.raises(ak.AkidaNbError) as info:
        call(typo)
    message = str(info.value)
    assert f"did you mean {meant!r}?" in message and "\n" not in message and len(message) <= 300
    # a name close to nothing gets no suggestion but still the list
    with pytest.raises(ak.AkidaNbError) as info:
        call("qqqqqqqqqqqq")
    assert "did you mean" not in str(info.value) and meant in str(info.value)


@pytest.mark.parametrize("call", [
    lambda m: ak.compare(m, ["nsoc_v1", "akd1000", "nsoc_v1"]),
    lambda m: ak.check(m, "nsoc_v2", also=["akd1000", "akd1000"]),
    lambda m: ak.sweep(ak.Space(m, filters=[32]), ["nsoc_v2", "nsoc_v2"], progress=False),
], ids=["compare", "check-also", "sweep"])
def test_a_target_named_twice_is_refused_not_reported_twice(call):
    """A duplicate target is a typo: one line naming it, never two identical columns or rows."""
    with pytest.raises(ak.SpecError, match="each target once") as err:
        call(ak.example("gxnor_mnist"))
    assert "more than once" in str(err.value) and "\n" not in str(err.value)
