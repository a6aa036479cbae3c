"""The akd1000 target: the nsoc_v2 table as BrainChip's current mapper enforces it (akd1000-engine.md)."""
import numpy as np
import pytest

import akida_nb as ak

from conftest import model

CONV = {"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2}
NEXT = {"type": "Convolutional", "kernel_size": 1, "filters": 4, "weights_bits": 2, "act_bits": 2}
IC = {"type": "InputConvolutional", "kernel_size": 3, "filters": 16, "weights_bits": 8, "act_bits": 4}


def rules(m, target):
    return set(ak.check(m, target).violations["rule"])


# (id, model, nsoc_v2 rules, akd1000 rules) — each row of akd1000-engine.md's difference table and engine rules
CASES = [
    ("maxpool-2", model([{**CONV, "pool_type": "max", "pool_size": 2}, NEXT]), set(), set()),
    ("maxpool-3", model([{**CONV, "pool_type": "max", "pool_size": 3}, NEXT]), set(), {"conv.pool_size"}),
    ("sep-maxpool-3", model([{**CONV, "type": "SeparableConvolutional", "pool_type": "max", "pool_size": 3}, NEXT]),
     set(), {"sepconv.pool_size"}),
    ("fc-spatial-input", model([{"type": "FullyConnected", "units": 4, "weights_bits": 2}], (4, 4, 100)),
     {"fc.input_d0", "fc.input_d1"}, set()),
    ("fc-57334", model([{"type": "FullyConnected", "units": 4, "weights_bits": 2}], (1, 1, 57334)), set(), set()),
    # the table's rule and the mapper's estimate both refuse a FullyConnected input beyond 57,334
    ("fc-57335", model([{"type": "FullyConnected", "units": 4, "weights_bits": 2}], (1, 1, 57335)), set(),
     {"fc.input_size", "fc.np_mapping"}),
    ("fc-81921", model([{"type": "FullyConnected", "units": 4, "weights_bits": 2}], (1, 1, 81921)),
     {"fc.input_size"}, {"fc.input_size", "fc.np_mapping"}),
    # akd1500/rule_probes.csv: on both devices a d0×d1 > 1 input of more than 2,048 channels is refused
    ("fc-spatial-2049", model([{"type": "FullyConnected", "units": 4, "weights_bits": 2}], (1, 2, 2049)),
     {"fc.input_d1"}, {"fc.np_mapping"}),
    ("fc-flat-2049", model([{"type": "FullyConnected", "units": 4, "weights_bits": 2}], (1, 1, 2049)), set(), set()),
    ("avg-conv-d1-3", model([{**CONV, "pool_type": "average"}], (8, 3, 4)), set(), set()),
    ("avg-conv-d1-2", model([{**CONV, "pool_type": "average"}], (8, 2, 4)), set(), {"conv.avgpool_conv_d1"}),
    # the mapper: 'With average pooling, input height cannot exceed 32. With average pooling, spatial split is
    # impossible.' (akd1500/rule_probes.csv, both devices): the table's rule and the NP estimate both refuse
    ("avg-d0-33", model([{**CONV, "pool_type": "average"}], (33, 8, 4)), {"conv.avgpool_d0"},
     {"conv.avgpool_d0", "conv.np_mapping"}),
    ("avg-stride2-d0-40", model([{**CONV, "kernel_stride": 2, "pool_type": "average"}], (40, 8, 4)),
     {"conv.avgpool_d0"}, {"conv.avgpool_d0", "conv.np_mapping"}),
    ("ic-pool-1x2-stride-1x2", model([{**IC, "pool_type": "max", "pool_size": [1, 2], "pool_stride": [1, 2]}],
                                     (32, 32, 3), 8), {"input_conv.pool_stride"}, set()),
    ("ic-pool-2x2-stride-1", model([{**IC, "pool_type": "max", "pool_size": 2, "pool_stride": 1}], (32, 32, 3), 8),
     {"input_conv.pool_stride"}, {"input_conv.pool_stride_eq_size"}),
    ("ic-pool-average", model([{**IC, "pool_type": "average"}], (32, 32, 3), 8), {"input_conv.pool_type"},
     {"input_conv.pool_type"}),
    ("conv-input-3-bits", model([CONV], bits=3), {"conv.input_bits"}, set()),
    ("conv-input-8-bits", model([CONV], bits=8), {"conv.input_bits"}, {"conv.input_bits"}),
    ("kernel-3x5", model([{**CONV, "kernel_size": [3, 5]}]), {"conv.kernel_size"},
     {"conv.kernel_size", "conv.kernel_square"}),
    ("kernel-stride-1x2", model([{**CONV, "kernel_stride": [1, 2]}]), {"conv.kernel_stride"},
     {"conv.kernel_stride", "conv.stride_square"}),
    ("kernel-4", model([{**CONV, "kernel_size": 4}]), {"conv.kernel_size"}, {"conv.kernel_size", "conv.kernel_odd"}),
    ("stride-gt-kernel", model([{**CONV, "kernel_size": 1, "kernel_stride": 2}]), {"conv.stride2_kernel"},
     {"conv.stride2_kernel", "conv.stride_le_kernel"}),
    ("pool-2x1", model([{**CONV, "pool_type": "max", "pool_size": [2, 1], "pool_stride": 1}, NEXT]),
     {"conv.pool_size"}, {"conv.pool_size", "conv.pool_square"}),
    # 2,048 channels of 2-bit weights already overflow a kernel position's memory (c·w > 1,024 bits)
    ("channels-2048", model([{**CONV, "kernel_size": 1, "filters": 4}], (4, 4, 2048)), set(), {"conv.np_mapping"}),
    ("channels-2049", model([{**CONV, "kernel_size": 1, "filters": 4}], (4, 4, 2049)), set(),
     {"conv.input_channels", "conv.np_mapping"}),
    ("channels-512", model([{**CONV, "kernel_size": 1, "filters": 4}], (4, 4, 512)), set(), set()),
    ("ic-activation-off", model([{**IC, "activation": False}], (32, 32, 3), 8), set(), {"input_conv.activation"}),
    ("ic-maxpool-last", model([{**IC, "pool_type": "max", "pool_size": 2}], (32, 32, 3), 8), set(), set()),
]


@pytest.mark.parametrize("m, v2, akd", [pytest.param(m, v2, akd, id=i) for i, m, v2, akd in CASES])
def test_engine_rows(m, v2, akd):
    assert rules(m, "nsoc_v2") == v2
    assert rules(m, "akd1000") == akd


def test_akd1000_is_nsoc_v2_plus_its_rows():
    v2, akd = ak.get_target("nsoc_v2"), ak.get_target("akd1000")
    assert akd.base == "nsoc_v2" and akd.layer_types == v2.layer_types
    replaced = {"conv.pool_size", "sepconv.pool_size", "fc.input_d0", "fc.input_d1", "fc.input_size",
                "input_conv.pool_stride", "conv.input_bits", "sepconv.input_bits"}
    kept = {r.id for r in v2.rules} - replaced
    akd_ids = {r.id for r in akd.rules}
    assert kept <= akd_ids and not ({"fc.input_d0", "fc.input_d1", "input_conv.pool_stride"} & akd_ids)
    for r in akd.rules:
        if r.id not in kept:  # measured on the AKD1000: akd1000-engine.md, or the AKD1000 rows of akd1500/
            assert r.source.startswith("akd1000-engine.md") or "AKD1000" in r.source, r.id
            assert "AKD1500" not in r.note and "akd1500" not in r.note, r.id


def test_doc_vs_engine_diff_table():
    wide = ak.compare_constraints("nsoc_v2", "akd1000")
    assert wide.loc[("Convolutional", "conv.pool_size"), "akd1000"] == "[1×1, 2×2] (when pool_type is max)"
    assert wide.loc[("FullyConnected", "fc.input_d0"), "akd1000"] == "—"
    assert wide.loc[("FullyConnected", "fc.input_size"), ["nsoc_v2", "akd1000"]].tolist() == ["<= 81920", "<= 57334"]
    assert not wide.loc[("Convolutional", "conv.kernel_size"), "differs"]


def test_nsoc_v2_report_warns_about_the_mapper_in_plain_words_when_asked():
    m = model([{**CONV, "pool_type": "max", "pool_size": 3}, NEXT])
    assert not any("akd1000" in n for n in ak.check(m, "nsoc_v2").notes)  # check(m, t) judges t only
    rep = ak.check(m, "nsoc_v2", also=["akd1000"])
    assert rep.ok and rep.entries == ak.check(m, "nsoc_v2").entries
    (note,) = [n for n in rep.notes if "akd1000" in n]
    assert "passes the Akida NSoC (Production) table but the current AKD1000 mapper refuses it" in note
    assert "pool_size = 3×3" in note
    assert note in repr(rep)
    assert not any("akd1000" in n for n in ak.check(ak.example("ds_cnn_kws"), "nsoc_v2", also=["akd1000"]).notes)


def test_compare_shows_what_the_mapper_refuses_beyond_the_table():
    m = model([{**CONV, "pool_type": "max", "pool_size": 3}, NEXT])
    cmp = ak.compare(m, ["nsoc_v2", "akd1000"])
    assert cmp["nsoc_v2"] == ak.check(m, "nsoc_v2", also=["akd1000"])
    assert cmp["akd1000"] == ak.check(m, "akd1000")
    (note,) = [n for n in cmp["nsoc_v2"].notes if "akd1000" in n]
    assert "passes the Akida NSoC (Production) table but the current AKD1000 mapper refuses it" in note
    assert note in repr(cmp)
    # only a refinement of a compared target is mentioned
    assert not any("akd1000" in n for n in ak.compare(m, ["nsoc_v1", "nsoc_v2"])["nsoc_v2"].notes)
    broken = ak.example("broken")
    (note,) = [n for n in ak.compare(broken, ["nsoc_v2", "akd1000"])["nsoc_v2"].notes if "akd1000" in n]
    assert "besides the violations above, passes the other cells of" in note


def test_variable_ranges_checked_only_with_variables():
    m = model([CONV, {**NEXT, "activation": False}])
    rep = ak.check(m, "akd1000")
    assert any("Not checked" in n and "act_step" in n and "threshold" in n for n in rep.notes)
    ok_vars = [{"threshold": np.zeros(8, np.int32), "act_step": np.ones(8, np.float32)},
               {"threshold": np.zeros(4, np.int32), "act_step": np.ones(4, np.float32)}]
    assert ak.check(m, "akd1000", variables=ok_vars).ok
    bad = [dict(v) for v in ok_vars]
    bad[0] = {"threshold": np.array([0, 524288] + [0] * 6, np.int32), "act_step": np.full(8, 70000, np.float32)}
    rep = ak.check(m, "akd1000", variables=bad)
    df = rep.violations
    assert set(df.rule) == {"conv.threshold_range", "conv.act_step_range"}
    assert df.set_index("rule").loc["conv.threshold_range", "value"] == "[0, 524288]"
    assert not any("Not checked" in n for n in rep.notes)
    by_name = {"L0_Convolutional": bad[0]}
    assert set(ak.check(m, "akd1000", variables=by_name).violations.rule) == set(df.rule)


def _conv(f, **kw):
    return {"type": "Convolutional", "kernel_size": 3, "filters": f, "weights_bits": 4, "act_bits": 4, **kw}


def test_device_budget_is_reported_once_at_the_layer_that_runs_out():
    layers = [_conv(64) for _ in range(12)]
    m = model(layers, (96, 96, 64), 4)
    nps = ak.estimate_nps(m)["nps"].tolist()
    first_over = next(i for i in range(len(nps)) if sum(nps[:i + 1]) > 78)
    rep = ak.check(m, "akd1000")
    dev = rep.violations[rep.violations.rule == "conv.device_nps"]
    assert dev["layer_index"].tolist() == [first_over]
    assert dev["value"].tolist() == [str(sum(nps[:first_over + 1]))]
    assert ak.check(model(layers[:first_over], (96, 96, 64), 4), "akd1000").ok
    assert any(f"Needs {sum(nps)} of 78 NPs (does not map on the AKD1000: refused at layer "
               f"{rep.violations.layer.iloc[0]!r}" in n for n in rep.notes)
    # the mapper's own words at the same layer: what is needed and what is left of the 78
    (np_row,) = rep.violations[rep.violations.rule == "conv.np_mapping"].itertuples()
    assert np_row.layer_index == first_over
    assert np_row.value == (f"Not enough hardware components of type CNP1 available. {nps[first_over]} are needed "
                            f"but {78 - sum(nps[:first_over])} are available.")
    assert rep.violations.rule.tolist().count("conv.device_nps") == 1
    assert ak.check(m, "nsoc_v2").ok  # the 2021 table has no NP budget


def test_mapper_refusals_name_the_layer_and_reason():
    big = model([_conv(64, kernel_stride=2, pool_type="max", pool_size=2), _conv(64)], (128, 128, 32), 4)
    rep = ak.check(big, "akd1000")
    row = rep.violations.set_index("rule").loc["conv.np_mapping"]
    assert row["value"] == ("Cannot have convolution stride > 1 and max pooling if the layer is mapped on "
                            "multiple NPs.")
    assert row["layer"] == "L0_Convolutional"
    too_big = model([_conv(8, kernel_size=3)], (8, 8, 512), 4)  # c·w = 2048 bits per kernel position
    assert "Filter size is too big to fit in a CNP" in ak.check(too_big, "akd1000").violations["value"].iloc[0]


def test_zoo_models_fit_the_device_with_their_published_totals():
    from akida_nb.nps import PUBLISHED_TOTALS

    for name, total in PUBLISHED_TOTALS.items():
        rep = ak.check(ak.example(name), "akd1000")
        assert rep.ok, name
        assert any(n.startswith(f"Needs {total} of 78 NPs (fits: one pass on the AKD1000)") for n in rep.notes), name


def test_variables_from_a_simulator_are_checked():
    m = model([CONV, {**NEXT, "activation": False}])
    sim = ak.Simulator(m, seed=0)
    rep = ak.check(m, "akd1000", variables=sim)
    assert rep == ak.check(m, "akd1000", variables=sim.variables)
    assert not any("Not checked" in n for n in rep.notes)
    expected = {f"conv.{v}_range" for v in ("threshold", "act_step")
                if not (-524288 <= sim.variables[0][v].min() and sim.variables[0][v].max() <= {
                    "threshold": 524287, "act_step": 65535}[v])}
    assert {r for r in rep.violations.rule if r.startswith("conv.")} == expected
