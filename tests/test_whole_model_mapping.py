"""Whole-model mapping (issue 13): estimate_nps and check against akida 2.19.3's mapper on whole models.

``tests/data/akd1500/whole_models.jsonl`` holds 389 models (380 random ones that look like real networks, the 7 zoo
models, issue 13's FullyConnected chains) mapped by BrainChip's mapper on the AKD1000 and AKD1500 virtual devices
(``hw_only=True``, ``MapMode.Minimal``; see ``tests/data/akd1500/README.md``). Per device and per group of the
mapper's answer (one pass, multi-pass, refused) the estimate must keep the agreement it has: the verdict
(``ak.check(...).ok``), the NP total and the number of passes.
"""
import json
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import akida_nb as ak
from akida_nb.nps import NpEstimate, estimate_nps, get_device, place_layers

DATA = Path(__file__).parent / "data" / "akd1500" / "whole_models.jsonl"
DEVICES = ("AKD1000", "AKD1500")

# Agreement measured when this test was written (per device, group, what): it must not drop. Verdicts that
# disagree come from single-layer estimates (a 7×7 SeparableConvolutional of 256 channels the mapper puts on 2 NPs,
# 384-channel 4-bit Convolutionals it maps although c·w > 1,024), not from the whole-model placement.
FLOORS = {
    ("AKD1000", "one pass"): {"models": 274, "verdict": 272, "total": 263, "passes": 274},
    ("AKD1000", "refused"): {"models": 115, "verdict": 115},
    ("AKD1500", "one pass"): {"models": 157, "verdict": 157, "total": 156, "passes": 157},
    ("AKD1500", "multi-pass"): {"models": 130, "verdict": 128, "total": 118, "passes": 127},
    ("AKD1500", "refused"): {"models": 102, "verdict": 102},
}


def _rows():
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def _group(measured):
    if not measured["accepted"]:
        return "refused"
    return "one pass" if measured["passes"] == 1 else "multi-pass"


@pytest.fixture(scope="module")
def outcomes():
    """Per device and model: the mapper's answer and ours (the verdict, the total, the passes, the NP line)."""
    out = []
    for row in _rows():
        m = ak.Model.from_dict(row["spec"])
        for device in DEVICES:
            measured = row["devices"][device]
            rep = ak.check(m, device.lower())
            est = estimate_nps(m, device.lower())
            out.append({"id": row["id"], "origin": row["group"], "device": device, "group": _group(measured),
                        "accepted": measured["accepted"], "ok": rep.ok, "maps": est.attrs["maps"],
                        "total": est.attrs["total"], "passes": est.attrs["passes"],
                        "measured_total": measured.get("total_nps"), "measured_passes": measured.get("passes"),
                        "np_rules": {r for r in rep.violations["rule"] if r.endswith("np_mapping")},
                        "note": next(n for n in rep.notes if n.startswith("Needs "))})
    return pd.DataFrame(out)


def test_the_data_is_what_the_issue_asks_for(outcomes):
    random = outcomes[outcomes["origin"] == "random"]
    akd1500 = random[random["device"] == "AKD1500"]["group"].value_counts()
    assert len(random) == 2 * 380 and akd1500.sum() == 380
    assert akd1500["multi-pass"] >= 380 / 3 and akd1500["refused"] >= 380 / 4


@pytest.mark.parametrize("device, group", FLOORS)
def test_agreement_per_device_and_group(outcomes, device, group, record_property):
    rows = outcomes[(outcomes["device"] == device) & (outcomes["group"] == group)]
    floor = FLOORS[(device, group)]
    got = {"models": len(rows), "verdict": int((rows["ok"] == rows["accepted"]).sum())}
    if group != "refused":
        got["total"] = int((rows["total"] == rows["measured_total"]).sum())
        got["passes"] = int((rows["passes"] == rows["measured_passes"]).sum())
    for what, value in got.items():
        record_property(f"{device} {group} {what}", f"{value}/{len(rows)}")
    print(f"\n{device} {group}: " + ", ".join(f"{k} {v}/{len(rows)}" for k, v in got.items() if k != "models"))
    assert got["models"] == floor["models"]
    for what in floor:
        assert got[what] >= floor[what], (what, got[what], floor[what])


def test_the_report_never_contradicts_itself(outcomes):
    """The NP line states the whole-model verdict, and the resource rules report exactly its refusals."""
    for r in outcomes.itertuples():
        if r.maps:
            assert not r.np_rules, r
            assert ("maps in" in r.note and f"in {r.passes} passes" in r.note) if r.passes > 1 else "(fits" in r.note
        else:
            assert r.np_rules and not r.ok and "(does not map on the" in r.note, r
        assert r.note.startswith(f"Needs {r.total} ")


def _measured_placement(measured, dev):
    """place_layers fed with the mapper's own NPs and NP type per layer."""
    names = [layer["name"] for layer in measured["layers"]]
    spec_layers = [ak.Model.from_dict({"input": {"shape": [1, 1, 8], "bits": 4}, "layers": [
        {"type": "FullyConnected", "units": 1, "weights_bits": 1}]}).layers[0] for _ in names]
    ests = []
    for layer in measured["layers"]:
        np_type = layer["np_types"][0] if len(layer["np_types"]) == 1 else "CNP1"
        ests.append(NpEstimate(0 if np_type == "HRC" else layer["nps"], np_type, "measured"))
    placed = place_layers(spec_layers, ests, dev)
    passes = max(p.pass_index or 0 for p in placed)
    return [[n for n, p in zip(names, placed) if p.pass_index == k + 1] for k in range(passes)], placed

@pytest.mark.parametrize("device", DEVICES)
def test_placement_reproduces_every_pass_assignment_from_the_mappers_own_counts(device):
    """Given the mapper's NPs and NP type per layer, place_layers puts every layer in the mapper's pass."""
    dev = get_device(device.lower())
    checked = 0
    for row in _rows():
        measured = row["devices"][device]
        if not measured["accepted"]:
            continue
        passes, placed = _measured_placement(measured, dev)
        assert not any(p.refused for p in placed), row["id"]
        assert passes == measured["pass_layers"], row["id"]
        checked += 1
    assert checked == {"AKD1000": 274, "AKD1500": 287}[device]


def _fc_chain(n):
    return ak.Model.from_dict({"input": {"shape": [1, 1, 16], "bits": 4}, "layers": [
        {"type": "FullyConnected", "units": 16, "weights_bits": 4} for _ in range(n)]})


def test_issue_13_fc_chains():
    rep = ak.check(_fc_chain(19), "akd1000")  # the issue: COMPATIBLE and "does not fit" at once
    assert rep.ok and any(n.startswith("Needs 19 of 78 NPs (fits: one pass on the AKD1000)") for n in rep.notes)
    est = estimate_nps(_fc_chain(19), "akd1000")
    assert Counter(est["np_type"]) == {"FNP3": 18, "FNP2": 1} and est.loc[18, "np_type"] == "FNP2"
    est = estimate_nps(_fc_chain(19), "akd1500")
    assert est["pass"].value_counts().sort_index().tolist() == [8, 7, 4] and est.attrs["passes"] == 3
    assert est.attrs["maps"] and not est.attrs["fits"] and est.loc[7, "np_type"] == "FNP2"
    rep = ak.check(_fc_chain(19), "akd1500")
    assert rep.ok and any(n.startswith("Needs 19 NPs: maps in 3 passes on the AKD1500 (32 NPs)") for n in rep.notes)
    rep = ak.check(_fc_chain(30), "akd1000")
    assert not rep.ok
    (row,) = rep.violations.itertuples()
    assert (row.layer, row.rule, row.value) == ("L22_FullyConnected", "fc.np_mapping", "Not enough hardware "
                                                "components of type FNP3 available. 1 is needed but 0 are available.")
    est = estimate_nps(_fc_chain(30), "akd1500")
    assert est["pass"].value_counts().sort_index().tolist() == [8, 7, 7, 7, 1]


def test_the_single_fnp2_serves_one_layer_per_model():
    big = {"type": "FullyConnected", "units": 1000, "weights_bits": 4}  # 1,000 units × 64 4-bit inputs: FNP2
    small = {**big, "units": 64, "weights_bits": 1}  # 64 × (1,000 1-bit inputs + 128) bits: an FNP3
    m = ak.Model.from_dict({"input": {"shape": [1, 1, 64], "bits": 4}, "layers": [big, small, big]})
    assert [estimate_nps(m, "akd1000").attrs[k] for k in ("maps", "passes")] == [True, 1]
    est = estimate_nps(m, "akd1500")
    assert est.attrs["maps"] is False
    assert est.loc[2, "refused"] == ("Cannot map layer 'L2_FullyConnected'. Not enough hardware components of type "
                                     "FNP2 available. 1 is needed but 0 are available.")


def test_zoo_model_in_two_passes_on_the_akd1500():
    est = estimate_nps(ak.example("akidanet_edge_imagenet_a05_160"), "akd1500")
    assert (est.attrs["total"], est.attrs["passes"]) == (38, 2)
    assert est.groupby("pass")["nps"].sum().tolist() == [23, 15]  # as the mapper splits it (README)
    assert estimate_nps(ak.example("akidanet_edge_imagenet_a05_160"), "akd1000").attrs["passes"] == 1


def test_shortage_messages_are_the_mappers():
    """Where the mapper runs out of NPs, the estimate names the same layer with the same counts.

    On the AKD1500 a layer that opens a pass must fit beside the previous layer's NPs: "32 are needed but 30
    are available" after a 2-NP layer. 86 of the 96 shortage refusals measured agree word for word (the rest
    differ by a single-layer count).
    """
    same = total = 0
    for row in _rows():
        for device in DEVICES:
            measured = row["devices"][device]
            if measured["accepted"] or "Not enough hardware components" not in measured["message"]:
                continue
            total += 1
            same += measured["message"] in set(estimate_nps(ak.Model.from_dict(row["spec"]), device.lower())["refused"])
    assert total == 96 and same >= 86, (same, total)


@pytest.mark.parametrize("target", ["akd1000", "akd1500"])
def test_whole_model_estimate_in_bounded_time(target):
    """O(1) in the input dimensions: placing layers costs the layers, not the pixels."""
    layers = [{"type": "Convolutional", "kernel_size": 3, "filters": 16, "weights_bits": 4} for _ in range(30)]
    m = ak.Model.from_dict({"input": {"shape": [10 ** 6, 10 ** 6, 8], "bits": 4}, "layers": layers})
    start = time.perf_counter()
    est = estimate_nps(m, target)
    assert time.perf_counter() - start < 2.0
    assert est.attrs["maps"] is False and est["refused"].iloc[0].startswith("Cannot map layer 'L0_Convolutional'.")
