"""check() and compare(): every violation, deterministic verdicts, typed errors only."""

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import akida_nb as ak

from strategies import Reach, model_specs, mutated_specs


def test_five_problems_report_five_rows():
    m = ak.Model.from_dict({"input": {"shape": [8, 8, 4], "bits": 2}, "layers": [
        {"type": "Convolutional", "name": "a", "kernel_size": 9, "filters": 8, "weights_bits": 8,   # 2
         "act_bits": 3},                                                                            # 3
        {"type": "Convolutional", "name": "b", "kernel_size": 3, "filters": 8, "weights_bits": 2,
         "act_bits": 2, "padding": "valid"},                                   # 4 (+ input bits 3: 5)
        {"type": "FullyConnected", "name": "c", "units": 2, "weights_bits": 2, "act_bits": 2}]})
    rep = ak.check(m, "nsoc_v2")
    df = rep.violations
    assert len(df) == 7  # and two more on the FC: 6×6 input is not 1×1
    assert list(df.columns[:9]) == ["layer_index", "layer", "layer_type", "rule", "parameter", "value", "allowed",
                                    "message", "fix"]
    assert sorted(zip(df.layer, df.parameter)) == sorted([
        ("a", "kernel_size"), ("a", "weights_bits"), ("a", "act_bits"), ("b", "padding"), ("b", "input_bits"),
        ("c", "input_d0"), ("c", "input_d1")])
    row = df[df.parameter == "weights_bits"].iloc[0]
    assert row.value == "8" and row.allowed == "[1, 2, 4]"
    assert row.message == "Layer 'a' (Convolutional): weights_bits must be in [1, 2, 4], currently at 8."
    assert "clamp_bits" in row.fix
    assert list(rep.layers["violations"]) == [3, 2, 2]


def test_verdicts_are_deterministic():
    m = ak.example("broken")
    a = [ak.check(m, t).to_json() for t in ("nsoc_v1", "nsoc_v2")]
    b = [ak.check(ak.example("broken"), t).to_json() for t in ("nsoc_v1", "nsoc_v2")]
    assert a == b


@pytest.mark.parametrize("target", ["nsoc_v1", "nsoc_v2"])
def test_broken_example_violates_at_least_six_different_rules(target):
    assert ak.check(ak.example("broken"), target).violations["rule"].nunique() >= 6


def test_zoo_examples_pass_production_table():
    for name in ak.examples():
        if name in ("broken", "digits_cnn"):  # not zoo models: digits_cnn is checked below
            continue
        assert ak.check(ak.example(name), "nsoc_v2").ok, name


def test_trained_digits_example_needs_only_a_pooled_fully_connected_input_on_production():
    """cnn2snn converted its Flatten + Dense to a FullyConnected on 4×4×32; akd1000's mapper takes it as is."""
    model = ak.example("digits_cnn")
    assert set(ak.check(model, "nsoc_v2").violations["rule"]) == {"fc.input_d0", "fc.input_d1"}
    assert ak.check(model, "akd1000").ok


def test_compare_runs_each_target():
    cmp = ak.compare(ak.example("ds_cnn_kws"), ["nsoc_v1", "nsoc_v2"])
    assert cmp.ok == {"nsoc_v1": False, "nsoc_v2": True}
    assert cmp["nsoc_v1"] == ak.check(ak.example("ds_cnn_kws"), "nsoc_v1")
    assert list(cmp.verdicts.columns) == ["layer", "layer_type", "nsoc_v1", "nsoc_v2"]
    assert set(cmp.violations["target"]) == {"nsoc_v1"}
    with pytest.raises(ak.UnknownTargetError):
        cmp["nsoc_v9"]


def test_unknown_target_is_typed():
    with pytest.raises(ak.UnknownTargetError, match="known targets: nsoc_v1, nsoc_v2"):
        ak.check(ak.example("ds_cnn_kws"), "nsoc_v3")
    with pytest.raises(ak.SpecError, match="expected an akida_nb.Model"):
        ak.check({"layers": []}, "nsoc_v2")


def test_variables_argument_is_validated():
    m = ak.example("ds_cnn_kws")
    # one validator, one error class for check, fix and the Simulator (SimulationError)
    with pytest.raises(ak.SimulationError, match="one mapping per layer"):
        ak.check(m, "nsoc_v2", variables=[{}])
    with pytest.raises(ak.SimulationError, match="no layers named 'nope'"):
        ak.check(m, "nsoc_v2", variables={"nope": {}})


# ---------------------------------------------------------------------------- properties
CHECK_REACH = Reach()


@pytest.mark.slow
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.one_of(mutated_specs(min_size=0, max_size=2), model_specs().map(lambda spec: (spec, None))),
       target=st.sampled_from(["nsoc_v1", "nsoc_v2"]))
def test_check_never_raises_on_valid_specs(case, target):
    spec, applied = case                       # applied: the mutations of a skeleton, None for a free spec
    CHECK_REACH.example()
    model = ak.Model.from_dict(spec)
    rep = ak.check(model, target)
    assert rep.ok == rep.violations.empty
    if applied is not None:                    # skeletons pass both tables; every mutation breaks a rule of both
        assert rep.ok == (not applied), (applied, rep.violations[["layer", "rule"]].to_dict("records"))
    assert sum(l.violations for l in rep.layer_verdicts) == len(rep.entries)
    assert ak.CompatibilityReport.from_json(rep.to_json()) == rep
    for v in rep.entries:
        assert v.layer == model.layers[v.layer_index].name
        assert v.value in v.message
    if rep.entries or applied == []:
        CHECK_REACH.reached()


@pytest.mark.slow  # it runs the property test above when that did not run here
def test_check_property_reaches_its_assertions():
    """At least 80% of the examples above judged a violation or a skeleton's predicted verdict."""
    CHECK_REACH.assert_reached(test_check_never_raises_on_valid_specs)


@settings(max_examples=150, deadline=None)
@given(spec=st.recursive(st.none() | st.booleans() | st.integers(-3, 300) | st.text(max_size=5),
                         lambda c: st.lists(c, max_size=4) | st.dictionaries(
                             st.sampled_from(["input", "layers", "shape", "bits", "type", "kernel_size", "filters",
                                              "units", "name", "pool_type", "pool_size", "padding"]), c, max_size=5),
                         max_leaves=20))
def test_arbitrary_input_raises_only_spec_errors(spec):
    try:
        model = ak.Model.from_dict(spec)
    except ak.SpecError:
        return
    ak.check(model, "nsoc_v2")
