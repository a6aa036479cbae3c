"""Walk the seed table cell by cell: a model just inside and one just outside each rule.

The expectations here are written from ``hardware_constraints.txt`` and the readings
of docs/design.md#axis-convention, independently of the target data files: for each case, the exact
set of rule ids each target must report. A final test proves every rule of both
targets is exercised by some case that violates it.
"""
import pytest

import akida_nb as ak

V1, V2 = "nsoc_v1", "nsoc_v2"
IC_V1 = {"input_conv.type"}  # the pre-production chip has no InputConvolutional at all

BASE = {
    "Convolutional": ({"shape": [8, 8, 4], "bits": 2},
                      {"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2}),
    "SeparableConvolutional": ({"shape": [8, 8, 4], "bits": 2},
                               {"type": "SeparableConvolutional", "kernel_size": 3, "filters": 8,
                                "weights_bits": 2, "act_bits": 2}),
    "FullyConnected": ({"shape": [1, 1, 64], "bits": 2},
                       {"type": "FullyConnected", "units": 10, "weights_bits": 2, "act_bits": 2}),
    "InputConvolutional": ({"shape": [32, 32, 3], "bits": 8},
                           {"type": "InputConvolutional", "kernel_size": 3, "filters": 16, "weights_bits": 8,
                            "act_bits": 4}),
}
NEXT_CONV = {"type": "Convolutional", "kernel_size": 1, "filters": 4, "weights_bits": 2, "act_bits": 2}
NEXT_FC = {"type": "FullyConnected", "units": 4, "weights_bits": 2, "act_bits": 2}
MAX = {"pool_type": "max"}


def build(layer_type, layer=None, inp=None, after=NEXT_CONV):
    """One layer of ``layer_type`` with overrides; pooled Conv/SepConv get a following layer."""
    base_in, base_layer = BASE[layer_type]
    spec_layer = {**base_layer, **(layer or {})}
    layers = [spec_layer]
    if after is not None and spec_layer.get("pool_type") == "max" and layer_type != "InputConvolutional":
        layers.append(after)
    return ak.Model.from_dict({"input": {**base_in, **(inp or {})}, "layers": layers})


def C(prefix, rules):
    return {f"{prefix}.{r}" for r in rules}


# (id, layer_type, layer overrides, input overrides, expected nsoc_v1 rules, expected nsoc_v2 rules[, after])
CASES = []
for lt, p in (("Convolutional", "conv"), ("SeparableConvolutional", "sepconv")):
    kernels_in = [1, 3, 5, 7] if lt == "Convolutional" else [3, 5, 7]
    CASES += [
        # Convolutions › Kernel Size
        *[(f"{p}-kernel-{k}", lt, {"kernel_size": k}, {}, set(), set()) for k in kernels_in],
        (f"{p}-kernel-9", lt, {"kernel_size": 9}, {}, C(p, ["kernel_size"]), C(p, ["kernel_size"])),
        (f"{p}-kernel-3x5-not-a-cell", lt, {"kernel_size": [3, 5]}, {}, C(p, ["kernel_size"]), C(p, ["kernel_size"])),
        # Convolutions › Stride (pre-production 1; production 1, 2 with the 3×3-only note)
        (f"{p}-stride-1", lt, {"kernel_stride": 1}, {}, set(), set()),
        (f"{p}-stride-2-3x3", lt, {"kernel_stride": 2}, {}, C(p, ["kernel_stride"]), set()),
        (f"{p}-stride-3", lt, {"kernel_stride": 3}, {}, C(p, ["kernel_stride"]), C(p, ["kernel_stride"])),
        (f"{p}-stride-1x2-not-a-cell", lt, {"kernel_stride": [1, 2]}, {}, C(p, ["kernel_stride"]),
         C(p, ["kernel_stride"])),
        (f"{p}-stride-2-5x5", lt, {"kernel_stride": 2, "kernel_size": 5}, {}, C(p, ["kernel_stride"]),
         C(p, ["stride2_kernel"])),
        # Convolutions › Type
        (f"{p}-padding-same", lt, {"padding": "same"}, {}, set(), set()),
        (f"{p}-padding-valid", lt, {"padding": "valid"}, {}, C(p, ["padding"]), C(p, ["padding"])),
        # Max Pooling › Size / Stride and notes
        *[(f"{p}-pool-{s}", lt, {**MAX, "pool_size": s, "pool_stride": 1}, {}, set(), set()) for s in (1, 2, 3)],
        (f"{p}-pool-4", lt, {**MAX, "pool_size": 4, "pool_stride": 2}, {}, C(p, ["pool_size"]), C(p, ["pool_size"])),
        (f"{p}-pool-2x3-not-a-cell", lt, {**MAX, "pool_size": [2, 3], "pool_stride": 2}, {}, C(p, ["pool_size"]),
         C(p, ["pool_size"])),
        (f"{p}-pool-stride-3", lt, {**MAX, "pool_size": 3, "pool_stride": 3}, {}, set(), set()),
        (f"{p}-pool-stride-4", lt, {**MAX, "pool_size": 3, "pool_stride": 4}, {},
         C(p, ["pool_stride", "pool_stride_le_size"]), C(p, ["pool_stride", "pool_stride_le_size"])),
        (f"{p}-pool-stride-gt-size", lt, {**MAX, "pool_size": 2, "pool_stride": 3}, {},
         C(p, ["pool_stride_le_size"]), C(p, ["pool_stride_le_size"])),
        # pre-production only: pool size and kernel within the input dimensions
        (f"{p}-pool-eq-input", lt, {**MAX, "pool_size": 3, "pool_stride": 1}, {"shape": [3, 8, 4]}, set(), set()),
        (f"{p}-pool-gt-input", lt, {**MAX, "pool_size": 3, "pool_stride": 1}, {"shape": [2, 8, 4]},
         C(p, ["pool_size_le_input", "kernel_le_input"]), set()),
        (f"{p}-kernel-eq-input-maxpool", lt, {**MAX, "pool_size": 1, "kernel_size": 3}, {"shape": [8, 3, 4]},
         set(), set()),
        (f"{p}-kernel-gt-input-maxpool", lt, {**MAX, "pool_size": 1, "kernel_size": 5}, {"shape": [8, 3, 4]},
         C(p, ["kernel_le_input"]), set()),
        (f"{p}-kernel-gt-input-no-pool", lt, {"kernel_size": 5}, {"shape": [8, 3, 4]}, set(), set()),
        # a max-pooled layer must be followed by a Convolutional or SeparableConvolutional layer
        (f"{p}-maxpool-then-conv", lt, {**MAX, "pool_size": 2}, {}, set(), set(), NEXT_CONV),
        (f"{p}-maxpool-then-sepconv", lt, {**MAX, "pool_size": 2}, {}, set(), set(),
         {**BASE["SeparableConvolutional"][1]}),
        (f"{p}-maxpool-then-fc", lt, {**MAX, "pool_size": 3}, {"shape": [3, 3, 4]}, C(p, ["maxpool_next"]),
         C(p, ["maxpool_next"]),
         NEXT_FC),
        (f"{p}-maxpool-last", lt, {**MAX, "pool_size": 2}, {}, C(p, ["maxpool_next"]), C(p, ["maxpool_next"]), None),
        # Average Pooling › Width (d0) / Height (d1)
        *[(f"{p}-avg-d0-{d}", lt, {"pool_type": "average"}, {"shape": [d, 8, 4]}, set(), set())
          for d in (8, 16, 24, 32)],
        (f"{p}-avg-d0-12", lt, {"pool_type": "average"}, {"shape": [12, 8, 4]}, C(p, ["avgpool_d0"]), set()),
        (f"{p}-avg-d0-1", lt, {"pool_type": "average"}, {"shape": [1, 8, 4]}, C(p, ["avgpool_d0"]), set()),
        (f"{p}-avg-d0-33", lt, {"pool_type": "average"}, {"shape": [33, 8, 4]}, C(p, ["avgpool_d0"]),
         C(p, ["avgpool_d0"])),
        (f"{p}-avg-d0-40", lt, {"pool_type": "average"}, {"shape": [40, 8, 4]}, C(p, ["avgpool_d0"]),
         C(p, ["avgpool_d0"])),
        (f"{p}-avg-d1-16", lt, {"pool_type": "average"}, {"shape": [8, 16, 4]}, set(), set()),
        (f"{p}-avg-d1-12", lt, {"pool_type": "average"}, {"shape": [8, 12, 4]}, C(p, ["avgpool_d1"]), set()),
        (f"{p}-avg-d1-300", lt, {"pool_type": "average"}, {"shape": [8, 300, 4]}, C(p, ["avgpool_d1"]), set()),
        (f"{p}-avg-after-stride-2", lt, {"pool_type": "average", "kernel_stride": 2}, {"shape": [64, 8, 4]},
         C(p, ["avgpool_d0", "kernel_stride"]), C(p, ["avgpool_d0"])),
        # Quantization › Input / Weights / Activation
        *[(f"{p}-input-bits-{b}", lt, {}, {"bits": b}, set(), set()) for b in (1, 2, 4)],
        (f"{p}-input-bits-3", lt, {}, {"bits": 3}, C(p, ["input_bits"]), C(p, ["input_bits"])),
        (f"{p}-input-bits-8", lt, {}, {"bits": 8}, C(p, ["input_bits"]), C(p, ["input_bits"])),
        *[(f"{p}-act-bits-{b}", lt, {"act_bits": b}, {}, set(), set()) for b in (1, 2, 4)],
        (f"{p}-act-bits-3", lt, {"act_bits": 3}, {}, C(p, ["act_bits"]), C(p, ["act_bits"])),
        (f"{p}-act-bits-8-no-activation", lt, {"act_bits": 8, "activation": False}, {}, set(), set()),
    ]
CASES += [
    ("conv-weights-1", "Convolutional", {"weights_bits": 1}, {}, set(), set()),
    ("conv-weights-2", "Convolutional", {"weights_bits": 2}, {}, set(), set()),
    ("conv-weights-4", "Convolutional", {"weights_bits": 4}, {}, {"conv.weights_bits"}, set()),
    ("conv-weights-3", "Convolutional", {"weights_bits": 3}, {}, {"conv.weights_bits"}, {"conv.weights_bits"}),
    ("conv-weights-8", "Convolutional", {"weights_bits": 8}, {}, {"conv.weights_bits"}, {"conv.weights_bits"}),
    ("sepconv-weights-2", "SeparableConvolutional", {"weights_bits": 2}, {}, set(), set()),
    ("sepconv-weights-4", "SeparableConvolutional", {"weights_bits": 4}, {}, set(), set()),
    ("sepconv-weights-1", "SeparableConvolutional", {"weights_bits": 1}, {}, {"sepconv.weights_bits"},
     {"sepconv.weights_bits"}),
    ("sepconv-weights-8", "SeparableConvolutional", {"weights_bits": 8}, {}, {"sepconv.weights_bits"},
     {"sepconv.weights_bits"}),
    # FullyConnected › Input: 1 × 1 × at most 81920
    ("fc-input-1x1", "FullyConnected", {}, {}, set(), set()),
    ("fc-input-d0-2", "FullyConnected", {}, {"shape": [2, 1, 64]}, {"fc.input_d0"}, {"fc.input_d0"}),
    ("fc-input-d1-2", "FullyConnected", {}, {"shape": [1, 2, 64]}, {"fc.input_d1"}, {"fc.input_d1"}),
    ("fc-input-81920", "FullyConnected", {}, {"shape": [1, 1, 81920]}, set(), set()),
    ("fc-input-81921", "FullyConnected", {}, {"shape": [1, 1, 81921]}, {"fc.input_size"}, {"fc.input_size"}),
    ("fc-input-spatial-too-big", "FullyConnected", {}, {"shape": [2, 2, 20481]},
     {"fc.input_d0", "fc.input_d1", "fc.input_size"}, {"fc.input_d0", "fc.input_d1", "fc.input_size"}),
    # FullyConnected › Quantization
    ("fc-input-bits-1", "FullyConnected", {}, {"bits": 1}, set(), set()),
    ("fc-input-bits-4", "FullyConnected", {}, {"bits": 4}, {"fc.input_bits"}, set()),
    ("fc-input-bits-3", "FullyConnected", {}, {"bits": 3}, {"fc.input_bits"}, {"fc.input_bits"}),
    ("fc-weights-1", "FullyConnected", {"weights_bits": 1}, {}, set(), set()),
    ("fc-weights-4", "FullyConnected", {"weights_bits": 4}, {}, {"fc.weights_bits"}, set()),
    ("fc-weights-3", "FullyConnected", {"weights_bits": 3}, {}, {"fc.weights_bits"}, {"fc.weights_bits"}),
    ("fc-act-4", "FullyConnected", {"act_bits": 4}, {}, set(), set()),
    ("fc-act-3", "FullyConnected", {"act_bits": 3}, {}, {"fc.act_bits"}, {"fc.act_bits"}),
    ("fc-act-8-no-activation", "FullyConnected", {"act_bits": 8, "activation": False}, {}, set(), set()),
]
IC = "InputConvolutional"
CASES += [
    ("ic-base", IC, {}, {}, IC_V1, set()),
    # Input › Width = d1 in [5:256], Height = d0 >= 5, Channels 1 or 3
    ("ic-d1-5", IC, {}, {"shape": [32, 5, 3]}, IC_V1, set()),
    ("ic-d1-4", IC, {}, {"shape": [32, 4, 3]}, IC_V1, {"input_conv.input_d1"}),
    ("ic-d1-256", IC, {}, {"shape": [32, 256, 3]}, IC_V1, set()),
    ("ic-d1-257", IC, {}, {"shape": [32, 257, 3]}, IC_V1, {"input_conv.input_d1"}),
    ("ic-d0-5", IC, {}, {"shape": [5, 32, 3]}, IC_V1, set()),
    ("ic-d0-4", IC, {}, {"shape": [4, 32, 3]}, IC_V1, {"input_conv.input_d0"}),
    ("ic-d0-1000", IC, {}, {"shape": [1000, 32, 3]}, IC_V1, set()),
    ("ic-channels-1", IC, {}, {"shape": [32, 32, 1]}, IC_V1, set()),
    ("ic-channels-2", IC, {}, {"shape": [32, 32, 2]}, IC_V1, {"input_conv.input_channels"}),
    ("ic-channels-4", IC, {}, {"shape": [32, 32, 4]}, IC_V1, {"input_conv.input_channels"}),
    # Convolutions
    *[(f"ic-kernel-{k}", IC, {"kernel_size": k}, {}, IC_V1, set()) for k in (3, 5, 7)],
    ("ic-kernel-1", IC, {"kernel_size": 1}, {}, IC_V1, {"input_conv.kernel_size"}),
    ("ic-kernel-9", IC, {"kernel_size": 9}, {}, IC_V1, {"input_conv.kernel_size"}),
    *[(f"ic-stride-{s}", IC, {"kernel_stride": s}, {}, IC_V1, set()) for s in (1, 2, 3)],
    ("ic-stride-4", IC, {"kernel_stride": 4}, {}, IC_V1, {"input_conv.kernel_stride"}),
    ("ic-stride-5x5-2", IC, {"kernel_stride": 2, "kernel_size": 5}, {}, IC_V1, set()),
    ("ic-padding-valid", IC, {"padding": "valid"}, {}, IC_V1, set()),
    # Filters: Max(1 ch) 512/192/96, Max(3 ch) 192/64/32 for 3×3/5×5/7×7
    *[(f"ic-filters-{k}x{k}-{ch}ch-{f}", IC, {"kernel_size": k, "filters": f}, {"shape": [32, 32, ch]}, IC_V1,
       set() if f <= mx else {"input_conv.filters"})
      for (k, ch, mx) in ((3, 1, 512), (5, 1, 192), (7, 1, 96), (3, 3, 192), (5, 3, 64), (7, 3, 32))
      for f in (mx, mx + 1)],
    # Max Pooling: 1×1, 1×2, 2×1, 2×2 with stride 2; no average pooling
    *[(f"ic-pool-{a}x{b}", IC, {**MAX, "pool_size": [a, b], "pool_stride": 2}, {}, IC_V1, set())
      for a, b in ((1, 1), (1, 2), (2, 1), (2, 2))],
    ("ic-pool-3x3", IC, {**MAX, "pool_size": 3, "pool_stride": 2}, {}, IC_V1, {"input_conv.pool_size"}),
    ("ic-pool-2x3", IC, {**MAX, "pool_size": [2, 3], "pool_stride": 2}, {}, IC_V1, {"input_conv.pool_size"}),
    ("ic-pool-stride-1", IC, {**MAX, "pool_size": 2, "pool_stride": 1}, {}, IC_V1, {"input_conv.pool_stride"}),
    ("ic-pool-1x2-default-stride", IC, {**MAX, "pool_size": [1, 2]}, {}, IC_V1, {"input_conv.pool_stride"}),
    ("ic-pool-average", IC, {"pool_type": "average"}, {}, IC_V1, {"input_conv.pool_type"}),
    ("ic-maxpool-last-is-fine", IC, {**MAX, "pool_size": 2, "pool_stride": 2}, {}, IC_V1, set()),
    # Quantization: input 8, weights [1:8], activation 1, 2, 4
    ("ic-input-bits-4", IC, {}, {"bits": 4}, IC_V1, {"input_conv.input_bits"}),
    ("ic-input-bits-7", IC, {}, {"bits": 7}, IC_V1, {"input_conv.input_bits"}),
    *[(f"ic-weights-{b}", IC, {"weights_bits": b}, {}, IC_V1, set()) for b in (1, 8)],
    *[(f"ic-act-{b}", IC, {"act_bits": b}, {}, IC_V1, set()) for b in (1, 2, 4)],
    ("ic-act-8", IC, {"act_bits": 8}, {}, IC_V1, {"input_conv.act_bits"}),
]


def _case_params():
    for case in CASES:
        case_id, lt, layer, inp, v1, v2, *after = case
        yield pytest.param(lt, layer, inp, v1, v2, after[0] if after else NEXT_CONV, id=case_id)


@pytest.mark.parametrize("layer_type, layer, inp, expect_v1, expect_v2, after", list(_case_params()))
def test_seed_cell(layer_type, layer, inp, expect_v1, expect_v2, after):
    model = build(layer_type, layer, inp, after)
    for target, expected in ((V1, expect_v1), (V2, expect_v2)):
        rep = ak.check(model, target)
        got = set(rep.violations["rule"])
        assert got == expected, f"{target}: {sorted(got)} != {sorted(expected)}\n{rep!r}"
        assert rep.ok == (not expected)


def test_every_rule_is_exercised_by_a_violating_case():
    violated = {V1: set(), V2: set()}
    for case in CASES:
        violated[V1] |= case[4]
        violated[V2] |= case[5]
    # InputConvolutional weights [1:8] and padding {same, valid}: the model format itself
    # rejects anything outside these (SpecError), so only their inside can be built.
    unreachable = {V1: set(), V2: {"input_conv.weights_bits", "input_conv.padding"}}
    for target in (V1, V2):
        rules = {r.id for r in ak.get_target(target).rules if r.severity == "error"}
        assert rules - violated[target] == unreachable[target], target
        assert violated[target] <= rules


def test_values_outside_the_format_are_spec_errors():
    with pytest.raises(ak.SpecError, match=r"layers\[0\].weights_bits"):
        build(IC, {"weights_bits": 9})
    with pytest.raises(ak.SpecError, match=r"layers\[0\].padding"):
        build(IC, {"padding": "causal"})


# Rules that are not cells of the seed table: notes on engine quirks the table does not state.
NOT_SEED = {V1: {"sepconv.avgpool_filters"}, V2: set()}


def test_only_the_quirk_notes_are_not_errors():
    for target in (V1, V2):
        assert {r.id for r in ak.get_target(target).rules if r.severity != "error"} == NOT_SEED[target]
        for rid in NOT_SEED[target]:
            assert ak.get_target(target).rule(rid).severity == "note"


@pytest.mark.parametrize("filters, noted", [(8, False), (16, False), (12, True), (20, True)])
def test_preproduction_avgpool_filter_quirk_is_a_note_not_a_violation(filters, noted):
    m = build("SeparableConvolutional", {"pool_type": "average", "filters": filters}, {"shape": [8, 8, 4]},
              after=NEXT_FC)
    rep = ak.check(m, V1)
    quirk = [n for n in rep.notes if "multiple of 8" in n]
    assert bool(quirk) == noted
    if noted:
        assert quirk == [("Layer 'L0_SeparableConvolutional' (SeparableConvolutional): on the pre-production engine, "
                          "a SeparableConvolutional with average pooling wants a filter count that is a multiple of "
                          f"8 (it has {filters}); the table does not state it. Fix: pad_avgpool_filters.")]
    assert "sepconv.avgpool_filters" not in set(rep.violations["rule"])
    assert not any("multiple of 8" in n for n in ak.check(m, V2).notes)


def test_every_rule_carries_source_note_and_fix():
    for target in (V1, V2):
        for rule in ak.get_target(target).rules:
            if rule.id in NOT_SEED[target]:
                assert rule.source and rule.note and rule.fix, rule.id
                continue
            assert rule.source.startswith("seed › "), rule.id
            assert rule.note and rule.fix and rule.section and rule.parameter, rule.id
            assert ("Pre-production" if target == V1 else "Production") in rule.source, rule.id
