"""The akd1500 target (issue 13): the AKD1000's rules with the AKD1500's differences, every one measured.

Measurements: ``tests/data/akd1500/`` (akida 2.19.3's AKD1000 and AKD1500 virtual devices; see its README and
``rule_differences.md``).
"""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import akida_nb as ak
from akida_nb.nps import compare_with_probes, estimate_layer_nps, estimate_nps, get_device

from conftest import model

HERE = Path(__file__).parent / "data"
CONV = {"type": "Convolutional", "kernel_size": 3, "filters": 8, "weights_bits": 2, "act_bits": 2}
NEXT = {"type": "Convolutional", "kernel_size": 1, "filters": 4, "weights_bits": 2, "act_bits": 2}
FC = {"type": "FullyConnected", "units": 4, "weights_bits": 2}


def rules(m, target):
    return set(ak.check(m, target).violations["rule"])


def test_listed_and_stated_against_akd1000():
    assert "akd1500" in list(ak.targets()["name"])
    assert "akd1500" not in ak.default_targets()
    t = ak.get_target("akd1500")
    assert t.base == "akd1000" and t.layer_types == ak.get_target("akd1000").layer_types
    assert "akd1500" in ak.nps.device_targets()


def test_no_rule_names_the_wrong_chip():
    """Every rule akd1500 states names the AKD1500's measurement; none it inherits names the AKD1000."""
    t, akd1000, v2 = ak.get_target("akd1500"), ak.get_target("akd1000"), ak.get_target("nsoc_v2")
    seed = {r.id for r in v2.rules}
    wrong = re.compile(r"akd1000|nsoc_v2|\b78\b|57,?334|\b504\b|\b18 FNP3", re.IGNORECASE)
    for r in t.rules:
        text = " ".join([r.note, r.source, r.fix, r.message or ""])
        assert not wrong.search(text), (r.id, wrong.search(text))
        if r.id not in seed and r.id != "layer_type":  # stated by akd1500 (everything akd1000 adds is re-stated)
            assert "AKD1500" in r.source and r.source.startswith("akd1500/"), r.id
    assert not ({r.id for r in akd1000.rules} - seed - {r.id for r in t.rules}) - {
        "conv.device_nps", "sepconv.device_nps", "fc.device_nps", "input_conv.stride_square"}


def test_compare_constraints_shows_the_differences_with_their_sources():
    wide = ak.compare_constraints("akd1000", "akd1500")
    differs = set(wide.index[wide["differs"]].get_level_values("rule"))
    assert {"conv.pool_size", "sepconv.pool_size", "fc.input_size", "conv.device_nps"} <= differs
    assert wide.loc[("Convolutional", "conv.pool_size"), "akd1500"] == "[1×1, 2×2, 3×3] (when pool_type is max)"
    assert wide.loc[("FullyConnected", "fc.input_size"), ["akd1000", "akd1500"]].tolist() == ["<= 57334", "<= 81920"]
    assert wide.loc[("Convolutional", "conv.device_nps"), "akd1500"] == "—"  # passes: no device-wide budget
    sources = ak.constraints("akd1500").set_index("rule")["source"]
    for rule in ("conv.pool_size", "sepconv.pool_size", "fc.input_size"):
        assert "AKD1500" in sources[rule]


# (id, model, akd1000 rules, akd1500 rules) — the rows of rule_differences.md
CASES = [
    ("maxpool-3", model([{**CONV, "pool_type": "max", "pool_size": 3}, NEXT]), {"conv.pool_size"}, set()),
    ("sep-maxpool-3", model([{**CONV, "type": "SeparableConvolutional", "pool_type": "max", "pool_size": 3}, NEXT]),
     {"sepconv.pool_size"}, set()),
    ("maxpool-4", model([{**CONV, "pool_type": "max", "pool_size": 4}, NEXT]), {"conv.pool_size", "conv.pool_stride"},
     {"conv.pool_size", "conv.pool_stride"}),
    ("fc-57335", model([FC], (1, 1, 57335)), {"fc.input_size", "fc.np_mapping"}, set()),
    ("fc-81920", model([FC], (1, 1, 81920)), {"fc.input_size", "fc.np_mapping"}, set()),
    ("fc-81921", model([FC], (1, 1, 81921)), {"fc.input_size", "fc.np_mapping"}, {"fc.input_size", "fc.np_mapping"}),
    ("filters-4096", model([{**CONV, "filters": 4096}]), {"conv.max_filters"}, {"conv.max_filters"}),
    # both devices: overlapping max pooling on a layer split over several input pieces
    ("overlap-pool-split", model([{**CONV, "filters": 64, "weights_bits": 4, "pool_type": "max", "pool_size": 2,
                                   "pool_stride": 1}, NEXT], (64, 64, 64)), {"conv.np_mapping"}, {"conv.np_mapping"}),
    ("overlap-pool-one-np", model([{**CONV, "pool_type": "max", "pool_size": 2, "pool_stride": 1}, NEXT]), set(),
     set()),
    # both devices: stride 2 with max pooling on several NPs refuses a Convolutional, not a SeparableConvolutional
    ("sep-stride2-maxpool", model([{**CONV, "type": "SeparableConvolutional", "filters": 64, "weights_bits": 4,
                                    "kernel_stride": 2, "pool_type": "max", "pool_size": 2}, NEXT], (64, 64, 64)),
     set(), set()),
    ("conv-stride2-maxpool", model([{**CONV, "filters": 64, "weights_bits": 4, "kernel_stride": 2,
                                     "pool_type": "max", "pool_size": 2}, NEXT], (64, 64, 64)),
     {"conv.np_mapping"}, {"conv.np_mapping"}),
]


@pytest.mark.parametrize("m, akd1000, akd1500", [pytest.param(m, a, b, id=i) for i, m, a, b in CASES])
def test_measured_differences(m, akd1000, akd1500):
    assert rules(m, "akd1000") == akd1000
    assert rules(m, "akd1500") == akd1500


def test_strided_and_overlapping_max_pooling_as_measured():
    """Every stride-2 / max-pooling probe of rule_differences.md: the verdict, and the NPs when it maps."""
    probes = pd.read_csv(HERE / "akd1500" / "rule_probes.csv")
    rows = probes[probes["rule"].isin(["conv.stride2_maxpool", "sepconv.stride2_maxpool"])]
    assert len(rows) >= 36
    for row in rows.itertuples():
        m = ak.Model.from_dict(json.loads(row.spec))
        est = estimate_nps(m, row.device.lower())
        if "Pooling size 3 is not supported" in str(row.message):
            continue  # the AKD1000 refuses 3×3 pooling first: the table's rule (pool_size), not the NPs'
        assert est.attrs["maps"] == bool(row.mapped), (row.device, row.rule, row.what)
        if row.mapped:
            assert est.attrs["total"] == row.nps, (row.device, row.rule, row.what)
        else:
            assert row.message in set(est["refused"]), (row.device, row.rule, row.what)


@pytest.mark.parametrize("filters, akd1000, akd1500", [(505, 2, 1), (1024, 3, 2), (1536, 4, 3), (2048, 5, 4)])
def test_512_filters_per_cnp(filters, akd1000, akd1500):
    m = model([{"type": "Convolutional", "kernel_size": 1, "filters": filters, "weights_bits": 1}], (4, 4, 16))
    assert [estimate_layer_nps(m.layers[0], t).nps for t in ("akd1000", "akd1500")] == [akd1000, akd1500]


def test_device_block_is_the_measured_device():
    dev = get_device("akd1500")
    measured = json.loads((HERE / "devices_measured.json").read_text(encoding="utf-8"))["devices"]["AKD1500"]
    assert {frozenset(types): count for types, count in dev.mesh} == \
        {frozenset(g["types"]): g["count"] for g in measured["mesh"]}
    assert dev.nps == 32 == measured["nps"]
    assert (dev.input_bytes, dev.weight_bytes) == (measured["input_bytes"], measured["weight_bytes"])
    assert (dev.cnp_max_filters, dev.cnp_max_width, dev.cnp_max_height) == (512, 32, 256)
    assert dev.multipass is True and dev.once_per_model == ("FNP2",) and dev.fallback == {"FNP3": "FNP2"}
    assert (dev.slots("FNP3"), dev.slots("FNP2"), dev.slots("CNP2")) == (7, 1, 21)
    assert dev.fnp_max_inputs == 81920


@pytest.fixture(scope="module")
def compared():
    return compare_with_probes(pd.read_csv(HERE / "akd1500" / "np_probes.csv"), "akd1500")


def test_single_layer_probes_agree_on_the_akd1500(compared, record_property):
    assert len(compared) == 4836
    record_property("np_agreement_akd1500", round(compared["agrees"].mean(), 4))
    print(f"\nAKD1500: {compared['agrees'].sum()} of {len(compared)} probes agree ({compared['agrees'].mean():.2%})")
    assert compared["agrees"].sum() >= 4806  # 99.38% when the akd1500 target was added
    assert (compared.groupby("type")["agrees"].mean() >= 0.98).all()
    assert compared["type_agrees"].all()
    refused = compared[compared["kind"] == "not enough NPs"]
    assert len(refused) >= 280 and refused["error"].str.endswith("are needed but 32 are available.").all()


@pytest.fixture(scope="module")
def rule_probes():
    """check() on every rule probe of both devices (probes that set variables are left out: check needs them)."""
    out = []
    for row in pd.read_csv(HERE / "akd1500" / "rule_probes.csv").itertuples():
        spec = json.loads(row.spec)
        if "variables" in spec:
            continue
        try:
            m = ak.Model.from_dict(spec)
        except ak.AkidaNbError:
            continue  # akida_nb refuses the spec itself (e.g. 9-bit weights): not a rule of the target
        out.append({"device": row.device, "rule": row.rule, "what": row.what, "mapped": bool(row.mapped),
                    "ok": ak.check(m, row.device.lower()).ok})
    return pd.DataFrame(out)


@pytest.mark.parametrize("device", ["AKD1000", "AKD1500"])
def test_rule_probes_agree(rule_probes, device, record_property):
    rows = rule_probes[rule_probes["device"] == device]
    agree = int((rows["ok"] == rows["mapped"]).sum())
    record_property(f"rule_probes_{device}", f"{agree}/{len(rows)}")
    print(f"\n{device}: check agrees with the mapper on {agree} of {len(rows)} rule probes")
    assert len(rows) >= 390 and agree >= len(rows) - 1  # 394 of 395 on each device (input stride 1×2: nsoc_v2's)


def test_passes_in_the_report():
    rep = ak.check(ak.example("akidanet_edge_imagenet_a05_160"), "akd1500")
    assert rep.ok
    (note,) = [n for n in rep.notes if n.startswith("Needs ")]
    assert note.startswith("Needs 38 NPs: maps in 2 passes on the AKD1500 (32 NPs)")
    cmp = ak.compare(ak.example("akidanet_edge_imagenet_a05_160"), ["nsoc_v2", "akd1000", "akd1500"])
    assert cmp.ok == {"nsoc_v2": True, "akd1000": True, "akd1500": True}
    assert estimate_nps(ak.example("ds_cnn_kws"), "akd1500").attrs["fits"] is True
