"""Automatic fixes (issue 4): each fix on a model that needs it, exactness with the simulator,
purity, order, the FixResult views, and properties on random small models."""
from __future__ import annotations

import copy
import html
import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st

import akida_nb as ak
from akida_nb.errors import AkidaNbError, FixError, SimulationError
from akida_nb.fixes import ORDER_RATIONALE, FixResult, applicable_fixes, fix, list_fixes
from akida_nb.fixes.edit import identity_variables
from akida_nb.fixes.registry import get_fix
from akida_nb.sim import Simulator

from conftest import model
from strategies import MUTATIONS, Reach, mutated_models, small_models

FIX_NAMES = ["input_conv_to_conv", "valid_to_same", "pad_kernel", "stride_to_maxpool", "widen_pool_to_stride",
             "clamp_bits", "pool_before_fc", "fix_avgpool_size", "split_maxpool", "identity_after_maxpool",
             "pad_avgpool_filters"]


def rules_of(report):
    return set(report.violations["rule"])


def rows(res):
    return [(c.fix, c.layer, c.what, c.before, c.after, c.exact) for c in res.change_rows]


def run_both(m, res, seed=0, n=6, variables=None):
    """Outputs of the original (seeded variables unless given) and of the fixed model, same inputs."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << m.input_bits, (n, *m.input_shape), dtype=np.uint8)
    before = Simulator(m, variables, seed=seed).run(x).output
    after = Simulator(res.model, res.variables).run(x).output
    return before, after


def fix_exactly(m, target, fixes, seed=0):
    """fix() with the simulator's seeded variables; asserts bit-identical outputs and returns the result."""
    v = Simulator(m, seed=seed).variables
    res = fix(m, target, fixes=fixes, variables=v)
    assert res.change_rows, "the fix should have changed something"
    assert res.exact
    before, after = run_both(m, res, seed=seed, variables=v)
    assert after.dtype == before.dtype and np.array_equal(after, before)
    return res


# ------------------------------------------------------------------------------------------ registry
def test_public_api():
    assert (ak.fix, ak.list_fixes, ak.applicable_fixes, ak.FixResult) == (fix, list_fixes, applicable_fixes,
                                                                          FixResult)
    assert {"fix", "list_fixes", "applicable_fixes", "FixResult"} <= set(ak.__all__)


def test_list_fixes_names_columns_and_order():
    df = list_fixes()
    assert list(df.columns) == ["name", "description", "exact", "exact_when", "targets", "order"]
    assert df["name"].tolist() == FIX_NAMES
    assert df["order"].is_monotonic_increasing and df["order"].is_unique
    assert set(df["exact"]) <= {"yes", "no", "conditional"}
    assert (df["description"].str.len() > 20).all() and (df["exact_when"].str.len() > 5).all()
    by_name = df.set_index("name")
    assert by_name.loc["identity_after_maxpool", "exact"] == "yes"
    assert by_name.loc["pad_kernel", "exact"] == "yes"
    assert by_name.loc["stride_to_maxpool", "exact"] == "no"
    assert by_name.loc["split_maxpool", "targets"] == "nsoc_v1"
    assert by_name.loc["pad_avgpool_filters", "targets"] == "nsoc_v1"
    assert "nsoc_v2" in by_name.loc["clamp_bits", "targets"]
    assert all(name in ORDER_RATIONALE for name in FIX_NAMES)


def test_every_fix_a_target_names_is_registered():
    for name in ak.targets()["name"]:
        for rule in ak.get_target(name).rules:
            for f in rule.fixes:
                assert f in FIX_NAMES, (name, rule.id, f)


def test_unknown_fix_raises_naming_it_and_listing_the_known_ones():
    with pytest.raises(FixError) as e:
        fix(ak.example("broken"), "nsoc_v1", fixes=["clamp_bits", "make_it_work"])
    assert e.value.fix == "make_it_work"
    assert all(name in str(e.value) for name in FIX_NAMES)
    assert isinstance(e.value, AkidaNbError)


def test_unknown_target_and_non_model():
    with pytest.raises(ak.UnknownTargetError):
        fix(ak.example("broken"), "nsoc_v9")
    with pytest.raises(ak.SpecError):
        fix({"layers": []}, "nsoc_v1")


def test_fixes_run_in_registry_order_whatever_the_order_given():
    m = ak.example("broken")
    given_order = fix(m, "nsoc_v1", fixes=["identity_after_maxpool", "clamp_bits", "valid_to_same"])
    assert given_order.fixes == ("valid_to_same", "clamp_bits", "identity_after_maxpool")
    in_order = fix(m, "nsoc_v1", fixes=["valid_to_same", "clamp_bits", "identity_after_maxpool"])
    assert rows(given_order) == rows(in_order)
    assert fix(m, "nsoc_v1", fixes="clamp_bits").fixes == ("clamp_bits",)


def test_later_fixes_see_what_earlier_ones_did():
    # stride_to_maxpool adds max pooling, which split_maxpool (later) then splits on the pre-production chip
    res = fix(ak.example("gxnor_mnist"), "nsoc_v1", fixes=["split_maxpool", "stride_to_maxpool"])
    assert res.applied == ("stride_to_maxpool", "split_maxpool")
    assert [l.name for l in res.model.layers][1:3] == ["block_2/conv_1", "block_2/conv_1_pool"]


def test_all_fixes_means_those_that_can_act_on_the_target():
    assert "split_maxpool" in fix(ak.example("broken"), "nsoc_v1").fixes
    assert fix(ak.example("broken"), "nsoc_v2").fixes == tuple(
        n for n in FIX_NAMES if n not in ("split_maxpool", "pad_avgpool_filters"))


def test_no_fixes_changes_nothing():
    m = ak.example("broken")
    res = fix(m, "nsoc_v1", fixes=[])
    assert res.model == m and res.changes.empty and res.before == res.after
    assert len(res.unsolved) == len(res.before.entries)
    assert set(res.unsolved["reason"].str.slice(0, 15)) <= {"not attempted: ", "no automatic fi"}


# ------------------------------------------------------------------------------------------ identity_after_maxpool
def test_identity_after_maxpool_on_broken():
    res = fix(ak.example("broken"), "nsoc_v2", fixes=["identity_after_maxpool"])
    assert rows(res) == [("identity_after_maxpool", "conv_pool_identity", "inserted layer", "",
                          "SeparableConvolutional 3×3 ×8, a2", True)]
    assert "conv.maxpool_next" in rules_of(res.before) and "conv.maxpool_next" not in rules_of(res.after)
    ident = res.model.layer("conv_pool_identity")
    assert (ident.kernel_size, ident.kernel_stride, ident.padding, ident.filters, ident.act_bits,
            ident.input_bits) == ((3, 3), (1, 1), "same", 8, 2, 2)


@pytest.mark.parametrize("act_bits", [1, 2, 4])
def test_identity_after_maxpool_is_exact(act_bits):
    m = model([{"type": "SeparableConvolutional", "kernel_size": 3, "filters": 6, "weights_bits": 4,
                "act_bits": act_bits, "pool_type": "max", "pool_size": 2},
               {"type": "FullyConnected", "units": 5, "weights_bits": 2, "activation": False}])
    res = fix_exactly(m, "nsoc_v2", ["identity_after_maxpool"])
    v = res.variables[1]
    ident = identity_variables(6, act_bits)
    assert all(np.array_equal(v[k], ident[k]) for k in ident)
    assert v["act_step"][0] == np.float32(2 ** act_bits / 16)


def test_identity_after_maxpool_on_a_pooled_last_layer():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 4, "weights_bits": 2, "act_bits": 4,
                "pool_type": "max", "pool_size": 2}])
    res = fix_exactly(m, "nsoc_v1", ["identity_after_maxpool"])
    assert res.model.layers[-1].name == "L0_Convolutional_identity" and res.after.ok


def test_identity_after_maxpool_cannot_follow_a_layer_without_activation():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 4, "weights_bits": 2, "activation": False,
                "pool_type": "max", "pool_size": 2}])
    res = fix(m, "nsoc_v2", fixes=["identity_after_maxpool"])
    assert res.changes.empty
    (reason,) = res.unsolved.loc[res.unsolved["rule"] == "conv.maxpool_next", "reason"]
    assert "activation is off" in reason


# ------------------------------------------------------------------------------------------ split_maxpool
def test_split_maxpool_on_vgg_pre_production():
    res = fix(ak.example("vgg_utk_face"), "nsoc_v1", fixes=["split_maxpool"])
    names = [l.name for l in res.model.layers]
    assert names == ["conv_0", "conv_1", "conv_1_pool", "conv_2", "conv_3", "conv_3_pool", "conv_4", "dense_1",
                     "dense_2"]
    assert res.model.layer("conv_1").pool_type == "none"
    pool = res.model.layer("conv_1_pool")
    assert (pool.type, pool.pool_size, pool.pool_stride, pool.filters) == ("SeparableConvolutional", (2, 2),
                                                                           (2, 2), 32)
    assert [l.output_shape for l in res.model.layers][-3:] == [l.output_shape for l in res.original.layers][-3:]
    assert not any(c.exact for c in res.change_rows)  # without variables it cannot prove exactness
    assert "pass variables to verify" in res.change_rows[0].note


def test_split_maxpool_only_on_pre_production():
    m = ak.example("vgg_utk_face")
    assert "split_maxpool" in applicable_fixes(m, "nsoc_v1")
    assert "split_maxpool" not in applicable_fixes(m, "nsoc_v2")
    assert fix(m, "nsoc_v2", fixes=["split_maxpool"]).changes.empty


def test_split_maxpool_is_exact_when_the_bounds_hold():
    res = fix_exactly(ak.example("vgg_utk_face"), "nsoc_v1", ["split_maxpool"])
    assert all("exact:" in c.note for c in res.change_rows if c.what == "pool_type")


def test_split_maxpool_marks_large_potentials_not_exact():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 2, "weights_bits": 8, "act_bits": 4,
                "pool_type": "max", "pool_size": 2},
               {"type": "Convolutional", "kernel_size": 1, "filters": 2, "weights_bits": 2}],
              shape=(6, 6, 64), bits=4)
    v = [{"weights": np.full((3, 3, 64, 2), 127, np.int8), "threshold": np.zeros(2, np.int32),
          "act_step": np.full(2, 1000.0, np.float32)},
         {"weights": np.ones((1, 1, 2, 2), np.int8), "threshold": np.zeros(2, np.int32),
          "act_step": np.ones(2, np.float32)}]
    res = fix(m, "nsoc_v1", fixes=["split_maxpool"], variables=v)
    assert res.applied == ("split_maxpool",) and not res.exact
    assert "can reach 1097280" in res.change_rows[0].note


def test_split_maxpool_leaves_identity_layers_alone():
    once = fix(ak.example("vgg_utk_face"), "nsoc_v1", fixes=["split_maxpool"])
    assert fix(once.model, "nsoc_v1", fixes=["split_maxpool"]).changes.empty
    v = Simulator(ak.example("vgg_utk_face"), seed=0).variables
    once = fix(ak.example("vgg_utk_face"), "nsoc_v1", fixes=["split_maxpool"], variables=v)
    assert "split_maxpool" not in applicable_fixes(once.model, "nsoc_v1", variables=once.variables)


# ------------------------------------------------------------------------------------------ pad_avgpool_filters
@pytest.mark.parametrize("filters, extra", [(12, 12), (16, 8), (1, 15), (7, 9), (64, 8)])
def test_pad_avgpool_filters_counts(filters, extra):
    m = model([{"type": "SeparableConvolutional", "kernel_size": 3, "filters": filters, "act_bits": 2,
                "pool_type": "average"},
               {"type": "FullyConnected", "units": 3, "weights_bits": 2, "activation": False}])
    res = fix(m, "nsoc_v1", fixes=["pad_avgpool_filters"])
    assert rows(res) == [("pad_avgpool_filters", "L0_SeparableConvolutional", "filters", str(filters),
                          str(filters + extra), True),
                         ("pad_avgpool_filters", "L1_FullyConnected", "input channels", str(filters),
                          str(filters + extra), True)]
    assert (filters + extra) % 8 == 0


def test_pad_avgpool_filters_on_ds_cnn_is_exact_and_idempotent_with_variables():
    m = ak.example("ds_cnn_kws")
    res = fix_exactly(m, "nsoc_v1", ["pad_avgpool_filters"])
    assert res.model.layer("separable_4").filters == 72 and res.model.layer("dense_5").input_shape == (1, 1, 72)
    v = res.variables[4]
    assert not v["weights_pw"][..., 64:].any() and not v["threshold"][64:].any()
    assert np.all(v["act_step"][64:] == 1)
    assert fix(res.model, "nsoc_v1", fixes=["pad_avgpool_filters"], variables=res.variables).changes.empty
    assert not any("multiple of 8" in n for n in ak.check(res.model, "nsoc_v1").notes)


@pytest.mark.parametrize("next_layer", [
    {"type": "SeparableConvolutional", "kernel_size": 3, "filters": 5, "weights_bits": 4, "activation": False},
    {"type": "Convolutional", "kernel_size": 1, "filters": 5, "weights_bits": 2, "activation": False},
    {"type": "FullyConnected", "units": 5, "weights_bits": 2, "activation": False}])
def test_pad_avgpool_filters_is_exact_before_every_layer_type(next_layer):
    m = model([{"type": "SeparableConvolutional", "kernel_size": 3, "filters": 10, "weights_bits": 4,
                "act_bits": 4, "pool_type": "average"}, next_layer], shape=(8, 8, 3), bits=4)
    fix_exactly(m, "nsoc_v1", ["pad_avgpool_filters"])


def test_pad_avgpool_filters_on_the_last_layer_is_not_exact():
    m = model([{"type": "SeparableConvolutional", "kernel_size": 3, "filters": 4, "act_bits": 2,
                "pool_type": "average"}])
    v = Simulator(m, seed=1).variables
    res = fix(m, "nsoc_v1", fixes=["pad_avgpool_filters"], variables=v)
    assert not res.exact and "gains those channels" in res.change_rows[0].note
    before, after = run_both(m, res, seed=1, variables=v)
    assert np.array_equal(after[..., :4], before) and not after[..., 4:].any()


# ------------------------------------------------------------------------------------------ clamp_bits
def test_clamp_bits_on_ds_cnn_pre_production():
    res = fix(ak.example("ds_cnn_kws"), "nsoc_v1", fixes=["clamp_bits"])
    assert rows(res) == [("clamp_bits", "dense_5", "weights_bits", "4", "2", False),
                         ("clamp_bits", "separable_4", "act_bits", "4", "2", False)]
    assert not {"fc.input_bits", "fc.weights_bits"} & rules_of(res.after)


def test_clamp_bits_on_broken():
    res = fix(ak.example("broken"), "nsoc_v1", fixes=["clamp_bits"])
    got = {(c.layer, c.what): (c.before, c.after, c.exact) for c in res.change_rows}
    assert got == {("classifier", "weights_bits"): ("8", "2", False),
                   ("sep_avg", "weights_bits"): ("1", "2", True),          # wider: every value fits
                   ("conv_bad", "act_bits"): ("3", "4", False),            # a tie goes to the wider width
                   ("conv_bad", "weights_bits"): ("8", "2", False),
                   ("input", "input bits"): ("8", "4", False)}
    assert not {r for r in rules_of(res.after) if r.endswith("_bits")}
    assert res.model.input_bits == 4 and "x >> 4" in res.changes.set_index("what").loc["input bits", "note"]


def test_clamp_bits_with_variables():
    m = model([{"type": "SeparableConvolutional", "kernel_size": 3, "filters": 4, "weights_bits": 1,
                "act_bits": 2},
               {"type": "Convolutional", "kernel_size": 3, "filters": 4, "weights_bits": 4, "act_bits": 2},
               {"type": "Convolutional", "kernel_size": 3, "filters": 3, "weights_bits": 4, "activation": False}])
    v = Simulator(m, seed=0).variables
    v[1] = dict(v[1], weights=np.clip(v[1]["weights"], -1, 1))       # 4-bit weights that fit in 2 bits
    v[2] = dict(v[2], weights=np.full_like(v[2]["weights"], 6))      # 4-bit weights that do not
    res = fix(m, "nsoc_v1", fixes=["clamp_bits"], variables=v)
    exact = {c.layer: c.exact for c in res.change_rows}
    assert exact == {"L0_SeparableConvolutional": True, "L1_Convolutional": True, "L2_Convolutional": False}
    assert np.array_equal(res.variables[1]["weights"], v[1]["weights"])
    assert set(np.unique(res.variables[2]["weights"])) == {1}
    assert res.variables[2]["act_step"][0] == pytest.approx(v[2]["act_step"][0] / 6, rel=1e-6)
    Simulator(res.model, res.variables)  # valid for the simulator


def test_clamp_bits_exact_widening_keeps_outputs():
    m = model([{"type": "SeparableConvolutional", "kernel_size": 3, "filters": 4, "weights_bits": 1,
                "act_bits": 2},
               {"type": "FullyConnected", "units": 3, "weights_bits": 2, "activation": False}])
    fix_exactly(m, "nsoc_v1", ["clamp_bits"])


# ------------------------------------------------------------------------------------------ stride_to_maxpool
def test_stride_to_maxpool_on_gxnor_pre_production():
    res = fix(ak.example("gxnor_mnist"), "nsoc_v1", fixes=["stride_to_maxpool"])
    assert rows(res) == [("stride_to_maxpool", "block_2/conv_1", "kernel_stride", "2×2", "1×1", False),
                         ("stride_to_maxpool", "block_2/conv_1", "pool_type", "none", "max", False)]
    layer = res.model.layer("block_2/conv_1")
    assert (layer.pool_size, layer.pool_stride, layer.output_shape) == ((2, 2), (2, 2), (7, 7, 64))
    assert "conv.kernel_stride" not in rules_of(res.after)


def test_stride_to_maxpool_refuses_pooled_and_valid_layers():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 4, "kernel_stride": 2, "padding": "valid",
                "act_bits": 2},
               {"type": "Convolutional", "kernel_size": 3, "filters": 4, "kernel_stride": 2, "act_bits": 2,
                "pool_type": "max", "pool_size": 2}], shape=(7, 7, 2))
    res = fix(m, "nsoc_v1", fixes=["stride_to_maxpool"])
    assert res.changes.empty
    reasons = res.unsolved.set_index("rule").loc[:, "reason"]
    assert "'valid' padding" in reasons["conv.kernel_stride"].iloc[0]
    assert "already has max pooling" in reasons["conv.kernel_stride"].iloc[1]


def test_stride_to_maxpool_with_average_pooling_drops_the_stride():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 4, "kernel_stride": 2, "act_bits": 2,
                "pool_type": "average"}], shape=(16, 16, 2))
    res = fix(m, "nsoc_v1", fixes=["stride_to_maxpool"])
    assert rows(res) == [("stride_to_maxpool", "L0_Convolutional", "kernel_stride", "2×2", "1×1", False)]
    assert res.model.layers[0].pool_type == "average"


# ------------------------------------------------------------------------------------------ valid_to_same
def test_valid_to_same_on_broken():
    res = fix(ak.example("broken"), "nsoc_v2", fixes=["valid_to_same"])
    assert rows(res) == [("valid_to_same", "conv_bad", "padding", "valid", "same", False)]
    assert "conv.padding" not in rules_of(res.after)
    assert res.model.layers[0].output_shape == (40, 10, 16)


@pytest.mark.parametrize("kernel", [3, [3, 5], 1])
def test_valid_to_same_is_exact_before_a_fully_connected(kernel):
    m = model([{"type": "Convolutional", "kernel_size": kernel, "filters": 3, "padding": "valid",
                "weights_bits": 2, "act_bits": 2},
               {"type": "FullyConnected", "units": 4, "weights_bits": 2, "activation": False}], shape=(7, 9, 2))
    res = fix_exactly(m, "nsoc_v2", ["valid_to_same"])
    assert res.model.layers[1].input_shape == (7, 9, 3)


# ------------------------------------------------------------------------------------------ input_conv_to_conv
def test_input_conv_to_conv_on_ds_cnn_pre_production():
    res = fix(ak.example("ds_cnn_kws"), "nsoc_v1", fixes=["input_conv_to_conv"])
    assert rows(res) == [("input_conv_to_conv", "conv_0", "type", "InputConvolutional", "Convolutional", True),
                         ("input_conv_to_conv", "input", "input bits", "8", "4", False)]
    assert "input_conv.type" not in rules_of(res.after) and res.model.input_bits == 4


def test_input_conv_to_conv_flips_the_kernel_exactly():
    # 2 input channels: the production InputConvolutional takes 1 or 3; a 4-bit input needs no requantizing
    m = model([{"type": "InputConvolutional", "kernel_size": 3, "filters": 4, "kernel_stride": 2,
                "weights_bits": 4, "act_bits": 4},
               {"type": "Convolutional", "kernel_size": 3, "filters": 3, "weights_bits": 2, "activation": False}],
              shape=(9, 9, 2), bits=4)
    res = fix_exactly(m, "nsoc_v2", ["input_conv_to_conv"])
    assert res.model.layers[0].type == "Convolutional" and "input_conv.input_channels" in rules_of(res.before)


def test_input_conv_to_conv_with_a_padding_value_is_not_exact():
    m = model([{"type": "InputConvolutional", "kernel_size": 3, "filters": 4, "padding_value": 3,
                "weights_bits": 4, "act_bits": 4}], shape=(9, 9, 2), bits=4)
    res = fix(m, "nsoc_v2", fixes=["input_conv_to_conv"])
    assert not res.exact and "instead of 3" in res.change_rows[0].note


# ------------------------------------------------------------------------------------------ pool_before_fc
def test_pool_before_fc_pools_the_previous_layer():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2},
               {"type": "FullyConnected", "units": 3, "weights_bits": 2, "activation": False}])
    v = Simulator(m, seed=0).variables
    res = fix(m, "nsoc_v2", fixes=["pool_before_fc"], variables=v)
    assert rows(res) == [("pool_before_fc", "L0_Convolutional", "pool_type", "none", "average", False),
                         ("pool_before_fc", "L1_FullyConnected", "input", "8×8×8", "1×1×8", False)]
    assert not {"fc.input_d0", "fc.input_d1"} & rules_of(res.after)
    assert res.variables[1]["weights"].shape == (1, 1, 8, 3)
    assert res.variables[0]["act_step"][0] == pytest.approx(v[0]["act_step"][0] * 64)
    Simulator(res.model, res.variables).run(np.ones((1, 8, 8, 4), np.uint8))


def test_pool_before_fc_inserts_an_identity_average_layer_after_max_pooling():
    m = model([{"type": "SeparableConvolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2,
                "act_bits": 2, "pool_type": "max", "pool_size": 2},
               {"type": "FullyConnected", "units": 3, "weights_bits": 2, "activation": False}])
    v = Simulator(m, seed=0).variables
    res = fix(m, "nsoc_v2", fixes=["pool_before_fc"], variables=v)
    assert [l.name for l in res.model.layers] == ["L0_SeparableConvolutional", "L1_FullyConnected_pool",
                                                  "L1_FullyConnected"]
    assert res.model.layers[1].pool_type == "average" and res.after.ok  # it also follows the max pooling
    assert res.variables[1]["act_step"][0] == np.float32(16 * 4 / 16)  # 4×4 positions, 2 bits


def test_pool_before_fc_cannot_shrink_channels():
    m = model([{"type": "FullyConnected", "units": 2}], shape=(1, 1, 90000), bits=2)
    res = fix(m, "nsoc_v2", fixes=["pool_before_fc"])
    assert res.changes.empty
    assert "already 1×1" in res.unsolved.set_index("rule").loc["fc.input_size", "reason"]


# ------------------------------------------------------------------------------------------ fix_avgpool_size
def test_fix_avgpool_size_pools_the_previous_layer():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2},
               {"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2,
                "pool_type": "average"}], shape=(64, 48, 2))
    res = fix(m, "nsoc_v2", fixes=["fix_avgpool_size"])
    assert rows(res) == [("fix_avgpool_size", "L0_Convolutional", "pool_type", "none", "max", False)]
    assert res.model.layers[1].input_shape == (32, 24, 8) and res.after.ok
    res1 = fix(m, "nsoc_v1", fixes=["fix_avgpool_size"])          # 8, 16, 24 or 32 × a multiple of 8
    assert res1.model.layers[1].input_shape == (32, 24, 8) and not rules_of(res1.after) & {
        "conv.avgpool_d0", "conv.avgpool_d1"}


def test_fix_avgpool_size_inserts_identity_layers_when_the_previous_layer_is_pooled():
    m = model([{"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2,
                "pool_type": "max", "pool_size": 2},
               {"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2,
                "pool_type": "average"}], shape=(256, 64, 2))
    v = Simulator(m, seed=0).variables
    res = fix(m, "nsoc_v2", fixes=["fix_avgpool_size"], variables=v)
    assert [l.name for l in res.model.layers] == ["L0_Convolutional", "L1_Convolutional_downsample",
                                                  "L1_Convolutional_downsample_2", "L1_Convolutional"]
    assert res.model.layers[-1].input_shape[0] <= 32 and res.after.ok
    Simulator(res.model, res.variables)


def test_fix_avgpool_size_explains_sizes_no_pooling_reaches():
    res = fix(ak.example("ds_cnn_kws"), "nsoc_v1", fixes=["fix_avgpool_size"])
    assert res.changes.empty
    reasons = res.unsolved.set_index("rule")["reason"]
    assert "25×5 input" in reasons["sepconv.avgpool_d0"] and "resize the model input" in reasons["sepconv.avgpool_d1"]


# ------------------------------------------------------------------------------------------ pad_kernel
def test_pad_kernel_on_broken():
    res = fix(ak.example("broken"), "nsoc_v1", fixes=["pad_kernel"])
    assert rows(res) == [("pad_kernel", "sep_avg", "kernel_size", "1×1", "3×3", True)]
    reason = res.unsolved.set_index("rule").loc["conv.kernel_size", "reason"]
    assert "'valid' padding" in reason                     # conv_bad pads 'valid': valid_to_same comes first
    both = fix(ak.example("broken"), "nsoc_v2", fixes=["valid_to_same", "pad_kernel"])
    assert both.model.layers[0].kernel_size == (5, 5) and "conv.kernel_size" not in rules_of(both.after)


@pytest.mark.parametrize("layer, shape", [
    ({"type": "Convolutional", "kernel_size": [3, 5], "filters": 3, "weights_bits": 4}, (9, 8, 2)),
    ({"type": "Convolutional", "kernel_size": [3, 5], "filters": 3, "weights_bits": 2, "kernel_stride": 2},
     (9, 8, 2)),
    ({"type": "Convolutional", "kernel_size": [2, 2], "filters": 3, "weights_bits": 2}, (6, 7, 2)),
    ({"type": "SeparableConvolutional", "kernel_size": 1, "filters": 3, "weights_bits": 4}, (5, 5, 3)),
    ({"type": "SeparableConvolutional", "kernel_size": [5, 3], "filters": 3, "weights_bits": 4}, (8, 6, 3)),
])
def test_pad_kernel_is_exact(layer, shape):
    m = model([dict(layer, act_bits=4), {"type": "FullyConnected", "units": 3, "weights_bits": 2,
                                         "activation": False}], shape=shape, bits=2)
    res = fix_exactly(m, "nsoc_v2", ["pad_kernel"])
    assert res.model.layers[0].kernel_size[0] == res.model.layers[0].kernel_size[1]


def test_pad_kernel_is_exact_on_an_input_convolutional():
    m = model([{"type": "InputConvolutional", "kernel_size": [4, 4], "filters": 3, "weights_bits": 8,
                "act_bits": 4, "padding_value": 200, "kernel_stride": 2}], shape=(11, 12, 3), bits=8)
    res = fix_exactly(m, "nsoc_v2", ["pad_kernel"])
    assert res.model.layers[0].kernel_size == (5, 5)


# ------------------------------------------------------------------------------------------ widen_pool_to_stride
def test_widen_pool_to_stride_on_broken():
    res = fix(ak.example("broken"), "nsoc_v2", fixes=["widen_pool_to_stride"])
    assert rows(res) == [("widen_pool_to_stride", "conv_pool", "pool_size", "2×2", "3×3", False)]
    assert "conv.pool_stride_le_size" not in rules_of(res.after)


# ------------------------------------------------------------------------------------------ whole runs
EXPECTED_COUNTS = {  # (target, example): (violations before, after)
    ("nsoc_v1", "broken"): (15, 4), ("nsoc_v2", "broken"): (13, 0),
    ("nsoc_v1", "vgg_utk_face"): (1, 0), ("nsoc_v1", "ds_cnn_kws"): (5, 2), ("nsoc_v1", "gxnor_mnist"): (4, 2),
    ("nsoc_v1", "mobilenet_imagenet_a025_224"): (9, 2),
}


@pytest.mark.parametrize("target, name", sorted(EXPECTED_COUNTS))
def test_fix_on_examples(target, name):
    m = ak.example(name)
    res = fix(m, target)
    assert (len(res.before.entries), len(res.after.entries)) == EXPECTED_COUNTS[target, name]
    assert res.after == ak.check(res.model, target) and res.before == ak.check(m, target)
    assert res.ok == res.after.ok and len(res.unsolved) == len(res.after.entries)
    assert list(res.unsolved["rule"]) == list(res.after.violations["rule"])
    assert (res.unsolved["reason"].str.len() > 10).all()


@pytest.mark.parametrize("name", ["ds_cnn_kws", "gxnor_mnist", "vgg_utk_face"])
def test_compatible_models_are_left_alone(name):
    m = ak.example(name)
    res = fix(m, "nsoc_v2")
    assert res.model == m and res.changes.empty and res.applied == () and res.exact
    assert applicable_fixes(m, "nsoc_v2") == []


def test_what_no_fix_solves_says_so():
    res = fix(ak.example("broken"), "nsoc_v1")
    by_rule = res.unsolved.set_index("rule")["reason"]
    assert by_rule["sepconv.kernel_le_input"].startswith("no automatic fix for this rule; by hand:")
    assert "fix_avgpool_size:" in by_rule["sepconv.avgpool_d0"]


def test_applicable_fixes():
    assert applicable_fixes(ak.example("ds_cnn_kws"), "nsoc_v1") == ["input_conv_to_conv", "clamp_bits",
                                                                      "pad_avgpool_filters"]
    assert applicable_fixes(ak.example("broken"), "nsoc_v2") == [
        "valid_to_same", "pad_kernel", "stride_to_maxpool", "widen_pool_to_stride", "clamp_bits",
        "fix_avgpool_size", "identity_after_maxpool"]


def test_fixed_pre_production_models_need_no_fix_again_with_variables():
    m = ak.example("ds_cnn_kws")
    res = fix(m, "nsoc_v1", variables=Simulator(m, seed=0))
    assert applicable_fixes(res.model, "nsoc_v1", variables=res.variables) == []


def test_unmapped_layers_stay_reported():
    import dataclasses

    m = dataclasses.replace(ak.example("vgg_utk_face"), unmapped=("lambda_1 (Lambda)",))
    res = fix(m, "nsoc_v1")
    assert res.model.unmapped == m.unmapped and not res.ok and res.after.unmapped == ("lambda_1 (Lambda)",)


def test_variables_by_name_and_bad_variables():
    m = ak.example("gxnor_mnist")
    v = Simulator(m, seed=0).variables
    by_name = {l.name: v[i] for i, l in enumerate(m.layers)}
    a = fix(m, "nsoc_v1", variables=v)
    b = fix(m, "nsoc_v1", variables=by_name)
    assert rows(a) == rows(b)
    with pytest.raises(SimulationError):
        fix(m, "nsoc_v1", variables=v[:-1])


# ------------------------------------------------------------------------------------------ purity
@pytest.mark.parametrize("name, target", [("broken", "nsoc_v1"), ("ds_cnn_kws", "nsoc_v1"),
                                          ("broken", "nsoc_v2")])
def test_fixes_are_pure(name, target):
    m = ak.example(name)
    spec = copy.deepcopy(m.to_dict())
    v = [{k: np.array(a) for k, a in d.items()} for d in Simulator(m, seed=0).variables]
    saved = copy.deepcopy(v)
    res = fix(m, target, variables=v)
    assert m.to_dict() == spec and m == ak.Model.from_dict(spec)
    assert all(np.array_equal(v[i][k], saved[i][k]) for i in range(len(v)) for k in v[i])
    for layer_vars in res.variables:                 # the result shares no array with the input
        for arr in layer_vars.values():
            assert not any(np.shares_memory(arr, a) for d in v for a in d.values())
    for f in FIX_NAMES:                              # each fix function alone, too
        get_fix(f).function(m, target, v)
        assert m.to_dict() == spec
        assert all(np.array_equal(v[i][k], saved[i][k]) for i in range(len(v)) for k in v[i])


# ------------------------------------------------------------------------------------------ views
def test_repr_is_complete():
    res = fix(ak.example("broken"), "nsoc_v1")
    text = repr(res)
    assert text.splitlines()[:3] == ["FixResult: 'broken' on nsoc_v1 (Akida NSoC (Pre-production))",
                                     "Before: INCOMPATIBLE (15 violations in 4 of 4 layers)",
                                     f"After:  {res.after.summary_line()}"]
    for c in res.change_rows:
        assert f"[{c.fix}] {c.layer}: {c.what}" in text
    for u in res.unsolved_entries:
        assert u.reason in text and u.rule in text
    for layer in res.model.layers:
        assert layer.name in text
    assert "Numerics: approximate" in text and str(res) == text


def test_repr_when_nothing_remains():
    text = repr(fix(ak.example("vgg_utk_face"), "nsoc_v1"))
    assert "After:  COMPATIBLE" in text and "Remaining violations: none" in text


def test_html_repr():
    res = fix(ak.example("broken"), "nsoc_v1")
    page = res._repr_html_()
    assert page == res._repr_html_()                                   # deterministic
    fallback = re.search(r'<pre class="akn-fallback">(.*?)</pre>', page, re.S).group(1)
    assert fallback == html.escape(repr(res), quote=True)
    assert page.index("akn-fallback") < page.index("akn-wrap")
    assert "<script" not in page and not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", page)
    assert 'class="akn-changed"' in page and "var(--jp-" in page
    rich = page[page.index("akn-wrap"):]
    for c in res.change_rows:                                          # the rich view carries the facts
        assert c.fix in rich and c.layer in rich
    for u in res.unsolved_entries:
        assert html.escape(u.reason, quote=True) in rich
    assert rich.count("akn-badge") >= 2 + len(res.change_rows)
    assert isinstance(res, FixResult)


def test_to_dict_is_json():
    res = fix(ak.example("ds_cnn_kws"), "nsoc_v1")
    d = json.loads(json.dumps(res.to_dict()))
    assert d["kind"] == "FixResult" and d["applied"] == list(res.applied)
    assert ak.Model.from_dict(d["model_after"]) == res.model
    assert ak.CompatibilityReport.from_dict(d["after"]) == res.after
    assert len(d["changes"]) == len(res.changes) and len(d["unsolved"]) == len(res.unsolved)


# ------------------------------------------------------------------------------------------ properties
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@SETTINGS
@given(m=small_models(), target=st.sampled_from(["nsoc_v1", "nsoc_v2", "akd1000"]))
def test_property_fix_never_fails_and_rechecks(m, target):
    spec = copy.deepcopy(m.to_dict())
    res = fix(m, target)
    assert res.after == ak.check(res.model, target)
    assert res.ok == res.after.ok and len(res.unsolved) == len(res.after.entries)
    assert m.to_dict() == spec
    assert ak.Model.from_dict(res.model.to_dict()) == res.model


CARRY_REACH = Reach()
EXACT_REACH = Reach()
PROPERTY = settings(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def mostly_mutated(mutated, free):
    """Nine in ten examples from ``mutated``, one in ten from ``free`` (breadth beyond the skeletons)."""
    return st.integers(0, 9).flatmap(lambda i: free if i == 0 else mutated)


@pytest.mark.slow
@settings(PROPERTY, max_examples=40)
@given(m=mostly_mutated(mutated_models().map(lambda pair: pair[0]), small_models()),
       target=st.sampled_from(["nsoc_v1", "nsoc_v2"]), seed=st.integers(0, 3))
def test_property_variables_carry_over(m, target, seed):
    try:
        v = Simulator(m, seed=seed).variables
    except SimulationError:
        assume(False)
    CARRY_REACH.example()
    res = fix(m, target, variables=v)
    sim = Simulator(res.model, res.variables)          # always valid variables
    if res.exact:
        x = np.random.default_rng(seed).integers(0, 1 << m.input_bits, (3, *m.input_shape), dtype=np.uint8)
        before = Simulator(m, v).run(x).output
        after = sim.run(x).output
        assert after.dtype == before.dtype and np.array_equal(after, before)
        if res.change_rows:                            # a comparison that could fail: the model was changed
            CARRY_REACH.reached()


@pytest.mark.slow  # it runs the property test above when that did not run here
def test_property_variables_carry_over_reaches_its_comparison():
    CARRY_REACH.assert_reached(test_property_variables_carry_over)


@st.composite
def fix_cases(draw):
    """``(model, fix name)``: mostly a skeleton broken where the named fix repairs it exactly."""
    if draw(st.integers(0, 9)):
        name = draw(st.sampled_from(sorted(MUTATIONS)))
        return draw(mutated_models(names=[name], max_size=1))[0], name
    return draw(small_models(bits=st.sampled_from([1, 2, 4]))), draw(st.sampled_from(FIX_NAMES))


@pytest.mark.slow
@settings(PROPERTY, max_examples=120)
@given(case=fix_cases(), target=st.sampled_from(["nsoc_v1", "nsoc_v2"]), seed=st.integers(0, 3))
def test_property_a_fix_marked_exact_is_bit_exact(case, target, seed):
    m, name = case
    try:
        v = Simulator(m, seed=seed).variables
    except SimulationError:
        assume(False)
    EXACT_REACH.example()
    res = fix(m, target, fixes=[name], variables=v)
    if not (res.change_rows and res.exact):
        return
    event(f"exact: {name}")
    before, after = run_both(m, res, seed=seed, n=3, variables=v)
    assert after.dtype == before.dtype and np.array_equal(after, before)
    EXACT_REACH.reached()


@pytest.mark.slow  # it runs the property test above when that did not run here
def test_property_a_fix_marked_exact_reaches_its_comparison():
    EXACT_REACH.assert_reached(test_property_a_fix_marked_exact_is_bit_exact)
