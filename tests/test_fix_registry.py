"""The fix registry and its one driver (issue 10): declared dependencies ordered topologically, plans that
refuse with a typed Refusal, the driver recording refusals, and no import circle around the registry."""
from __future__ import annotations

import ast
import random
from dataclasses import replace
from pathlib import Path

import pytest

import akida_nb as ak
from akida_nb.errors import FixError
from akida_nb.fixes import ORDER_RATIONALE, catalogue, list_fixes
from akida_nb.fixes.registry import After, Attempt, Fix, Refusal, _topological, get_fix, registry

PACKAGE = Path(ak.__file__).parent
FIX_NAMES = ["input_conv_to_conv", "valid_to_same", "pad_kernel", "stride_to_maxpool", "widen_pool_to_stride",
             "clamp_bits", "pool_before_fc", "fix_avgpool_size", "split_maxpool", "identity_after_maxpool",
             "pad_avgpool_filters"]


def model(layers, shape=(8, 8, 4), bits=2):
    return ak.Model.from_dict({"name": "m", "input": {"shape": list(shape), "bits": bits}, "layers": layers})


def respects_every_after(fixes: list[Fix]) -> bool:
    position = {f.name: k for k, f in enumerate(fixes)}
    return all(position[d.fix] < position[f.name] for f in fixes for d in f.after)


# ------------------------------------------------------------------------------------------ order
def test_the_order_is_todays_and_respects_every_declaration():
    fixes = registry()
    assert [f.name for f in fixes] == FIX_NAMES
    assert respects_every_after(fixes)
    assert list_fixes()["order"].tolist() == list(range(1, len(FIX_NAMES) + 1))


def test_every_declared_dependency_is_a_known_fix_with_a_reason():
    for f in registry():
        for dep in f.after:
            assert dep.fix in FIX_NAMES and dep.fix != f.name
            assert len(dep.reason) > 15, (f.name, dep)
            assert dep.reason in ORDER_RATIONALE
    # every fix but the first declares what it runs after
    assert [f.name for f in registry() if not f.after] == ["input_conv_to_conv"]


@pytest.mark.parametrize("seed", range(5))
def test_the_order_follows_the_declarations_whatever_the_registration_order(seed):
    fixes = registry()
    random.Random(seed).shuffle(fixes)
    ordered = _topological({f.name: f for f in fixes})
    assert sorted(f.name for f in ordered) == sorted(FIX_NAMES)
    assert respects_every_after(ordered)
    # the rationale's key constraints hold in any registration order
    names = [f.name for f in ordered]
    assert names.index("valid_to_same") < names.index("stride_to_maxpool") < names.index("split_maxpool")
    assert names.index("clamp_bits") < min(names.index(n) for n in ("pool_before_fc", "fix_avgpool_size",
                                                                     "split_maxpool", "identity_after_maxpool"))
    assert names.index("split_maxpool") < names.index("identity_after_maxpool") < names.index("pad_avgpool_filters")


def test_a_cycle_or_an_unknown_dependency_is_refused():
    a, b = get_fix("valid_to_same"), get_fix("input_conv_to_conv")
    looped = replace(b, after=(After("valid_to_same", "a test loop"),))
    with pytest.raises(FixError, match="cycle"):
        _topological({"input_conv_to_conv": looped, "valid_to_same": a})
    with pytest.raises(FixError, match="not a registered fix"):
        _topological({"valid_to_same": a})


# ------------------------------------------------------------------------------------------ plans and the driver
def test_a_plan_refuses_with_a_typed_reason():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 4, "kernel_stride": 2, "pool_type": "max",
                "pool_size": 2, "act_bits": 2}])
    plan = get_fix("stride_to_maxpool").plan(m, ak.get_target("nsoc_v1"), 0)
    assert isinstance(plan, Refusal) and "already has max pooling" in plan.reason
    assert not isinstance(get_fix("identity_after_maxpool").plan(m, ak.get_target("nsoc_v1"), 0), Refusal)


def test_the_driver_records_refusals_and_changes_nothing_for_them():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 4, "kernel_stride": 2, "pool_type": "max",
                "pool_size": 2, "act_bits": 2},
               {"type": "Convolutional", "kernel_size": 3, "filters": 4, "kernel_stride": 2, "act_bits": 2}])
    attempt = get_fix("stride_to_maxpool").attempt(m, "nsoc_v1")
    assert isinstance(attempt, Attempt)
    assert [name for name, _ in attempt.refusals] == ["L0_Convolutional"]
    assert all(isinstance(r, Refusal) and r.reason for _, r in attempt.refusals)
    assert {c.layer for c in attempt.changes} == {"L1_Convolutional"}


def test_the_fix_functions_are_the_driver_of_their_own_fix():
    m = ak.example("broken")
    for f in registry():
        assert getattr(catalogue, f.name) is f.function
        new, changes, variables = f.function(m, "nsoc_v1")
        attempt = f.attempt(m, "nsoc_v1")
        assert (new, changes, variables) == attempt.output


def test_a_slot_two_layers_plan_is_changed_once():
    # layer 0's act_bits violate its own rule and layer 1's input-bits rule: both plans name that slot
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 4, "act_bits": 8},
               {"type": "Convolutional", "kernel_size": 3, "filters": 4, "act_bits": 2}])
    _, changes, _ = catalogue.clamp_bits(m, "nsoc_v2")
    assert [(c.layer, c.what) for c in changes].count(("L0_Convolutional", "act_bits")) == 1


def test_quirk_fixes_consider_every_layer_only_on_their_targets():
    m = ak.example("vgg_utk_face")
    split = get_fix("split_maxpool")
    assert split.sites(m, ak.get_target("nsoc_v1")) == list(reversed(range(len(m.layers))))
    assert split.sites(m, ak.get_target("nsoc_v2")) == []


def test_the_driver_refuses_a_non_model():
    with pytest.raises(ak.SpecError):
        catalogue.pad_kernel({"layers": []}, "nsoc_v1")


def test_descriptions_and_exactness_stay_exposed():
    for f in registry():
        assert f.description and f.exact in ("yes", "no", "conditional") and f.exact_when
        assert f.description == " ".join(f.function.__doc__.strip().split("\n\n")[0].split())


# ------------------------------------------------------------------------------------------ structure
def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement of ``path`` names (module level and inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out |= {base} | {f"{base}.{a.name}" if node.module else base + a.name for a in node.names}
    return out


def test_the_registry_does_not_import_the_catalogue_and_check_does_not_import_fixes():
    registry_imports = imported_modules(PACKAGE / "fixes" / "registry.py")
    assert not any("catalogue" in name for name in registry_imports), registry_imports
    assert not any("fixes" in name for name in imported_modules(PACKAGE / "check.py"))
    assert ".catalogue" in imported_modules(PACKAGE / "fixes" / "__init__.py")


def test_no_fix_looks_itself_up_by_name_or_returns_a_string_sentinel():
    source = (PACKAGE / "fixes" / "catalogue.py").read_text()
    tree = ast.parse(source)
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "get_fix" not in calls
    assert "isinstance(plan, str)" not in source
