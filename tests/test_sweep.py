"""Design-space sweeps in this process: spaces, rows, invalid variants, sampling, space files, the CLI."""
import argparse
import math
import sys

import numpy as np
import pandas as pd
import pytest

import akida_nb as ak
from akida_nb import cli_sweep
from akida_nb.check import check
from akida_nb.sweep import KNOB_FIELDS, RESULT_COLUMNS, load_space, model_macs, require_client

KWS = ak.example("ds_cnn_kws")
ALL_TARGETS = ak.targets()["name"].tolist()


def small_space(**kw):
    return ak.Space(KWS, filters=[32, 64], weights_bits=[2, 4], **kw)


# ---------------------------------------------------------------------------- spaces
def test_issue_example_counts_and_every_layer_varies_together():
    space = ak.Space(KWS, filters=[32, 64, 128], weights_bits=[1, 2, 4], act_bits=[1, 2, 4], kernel_size=[3, 5])
    assert len(space) == space.size == 3 * 3 * 3 * 2
    for v in (0, 17, len(space) - 1):
        values, m = space.values(v), space.model(v)
        for i, layer in enumerate(m.layers):
            base = KWS.layers[i]
            if layer.type != "FullyConnected":
                assert layer.filters == values["filters"]
                assert layer.kernel_size == (values["kernel_size"],) * 2
            else:
                assert layer.units == base.units  # the classes are left alone
            assert layer.weights_bits == values["weights_bits"] and layer.act_bits == values["act_bits"]
        assert m.input_shape == KWS.input_shape and m.input_bits == KWS.input_bits
    combos = {tuple(space.values(v).values()) for v in range(len(space))}
    assert len(combos) == len(space)


def test_per_layer_beats_per_type_beats_all_layers():
    space = ak.Space(KWS, filters=[16], types={"SeparableConvolutional": {"filters": [24]}},
                     layers={"separable_2": {"filters": [40]}, "dense_5": {"units": [10, 12]}})
    m = space.model(1)
    assert [l.filters for l in m.layers[:-1]] == [16, 24, 40, 24, 24]
    assert m.layers[-1].units == 12 and space.labels == ["filters", "SeparableConvolutional.filters",
                                                         "separable_2.filters", "dense_5.units"]


@pytest.mark.parametrize("kw, where", [
    ({"filterz": [1]}, "filterz"),
    ({"filters": []}, "filters"),
    ({"filters": 32}, "filters"),
    ({"filters": [1.5]}, "filters"),
    ({"units": [4]}, "units"),  # only the output layer has units: not changed by an all-layer knob
    ({"layers": {"nope": {"filters": [2]}}}, "layers.nope"),
    ({"types": {"Dense": {"filters": [2]}}}, "types.Dense"),
    ({"types": {"FullyConnected": {"kernel_size": [3]}}}, "FullyConnected.kernel_size"),
    ({"build": 3}, "build"),
])
def test_bad_spaces_name_the_knob(kw, where):
    with pytest.raises(ak.SpecError) as e:
        ak.Space(KWS, **kw)
    assert where in str(e.value) and "\n" not in str(e.value)


def test_sampling_is_reproducible_and_a_subset():
    space = ak.Space(KWS, filters=list(range(8, 72, 8)), act_bits=[1, 2, 4], kernel_size=[3, 5, 7])
    a, b, c = space.sample(20, seed=1), space.sample(20, seed=1), space.sample(20, seed=2)
    assert list(a.ids) == list(b.ids) != list(c.ids)
    assert len(set(a.ids)) == 20 and set(a.ids) <= set(range(space.size))
    assert list(space.sample(10**6).ids) == list(range(space.size))
    full = ak.sweep(space, ["nsoc_v2"], progress=False).set_index("variant")
    part = ak.sweep(a, ["nsoc_v2"], progress=False).set_index("variant")
    pd.testing.assert_frame_equal(part, full.loc[list(a.ids)])


def test_big_spaces_are_not_enumerated():
    space = ak.Space(KWS, filters=list(range(1, 1001)), act_bits=[1, 2, 4], weights_bits=[1, 2, 4],
                     kernel_size=[1, 3, 5, 7, 9], kernel_stride=[1, 2])
    assert space.size == 1000 * 3 * 3 * 5 * 2
    s = space.sample(5, seed=0)
    assert len(s) == 5 and all(0 <= v < space.size for v in s.ids)


# ---------------------------------------------------------------------------- rows
def test_rows_agree_with_check_nps_and_macs():
    space = small_space()
    df = ak.sweep(space, ALL_TARGETS, progress=False)
    assert len(df) == len(space) * len(ALL_TARGETS)
    assert df.columns.tolist() == ["variant", *space.labels, *RESULT_COLUMNS]
    for row in df.itertuples():
        m = space.model(row.variant)
        t = ak.get_target(row.target)
        rep = check(m, t)
        errors = [v for v in rep.entries if v.severity == "error"]
        assert row.ok == rep.ok and row.violations == len(errors)
        assert (row.first_rule if errors else None) == (errors[0].rule if errors else None) or (
            pd.isna(row.first_rule) and not errors)
        if t.device is not None:
            attrs = ak.estimate_nps(m, t).attrs
            assert row.nps == attrs["total"]
            assert row.passes == attrs["passes"] if attrs["maps"] else pd.isna(row.passes)
        else:
            assert pd.isna(row.nps) and pd.isna(row.passes)
        assert pd.isna(row.error) and row.macs == model_macs(m)


def test_frame_is_sorted_typed_and_independent_of_chunks():
    space = small_space()
    targets = ["akd1000", "nsoc_v1"]
    a = ak.sweep(space, targets, progress=False)
    for size in (1, 3, 100):
        pd.testing.assert_frame_equal(a, ak.sweep(space, targets, chunk_size=size, progress=False))
    assert a["variant"].is_monotonic_increasing
    assert a["target"].tolist()[:2] == targets  # the order asked for within a variant
    assert str(a["ok"].dtype) == "boolean" and str(a["nps"].dtype) == "Int64" and str(a["filters"].dtype) == "Int64"


def test_pairs_and_strings_are_string_columns():
    df = ak.sweep(ak.Space(KWS, kernel_size=[(3, 3), (5, 3)], padding=["same", "valid"]), "nsoc_v2", progress=False)
    assert df["kernel_size"].tolist() == ["3×3", "3×3", "5×3", "5×3"]
    assert str(df["padding"].dtype) == "string"


def test_invalid_variants_are_rows_with_their_error():
    space = ak.Space(KWS, layers={"conv_0": {"kernel_size": [3, 60], "padding": ["valid"]}})
    df = ak.sweep(space, ["nsoc_v2", "akd1000"], progress=False)
    bad = df[df["conv_0.kernel_size"] == 60]
    assert len(bad) == 2 and not bad["ok"].any() and bad["error"].str.contains("kernel_size").all()
    assert bad["violations"].isna().all() and bad["macs"].isna().all()
    with pytest.raises(ak.SpecError):
        space.model(1)
    assert df[df["conv_0.kernel_size"] == 3]["error"].isna().all()


def test_build_callback_and_its_failures():
    def build(spec, values):
        if values["filters"] == 48:
            raise ValueError("no 48 please")
        if values["filters"] == 56:
            return "not a model"
        spec["layers"][-1]["units"] = values["filters"] // 8
        return ak.Model.from_dict(spec)

    space = ak.Space(KWS, filters=[32, 48, 56], build=build)
    assert space.model(0).layers[-1].units == 4
    df = ak.sweep(space, "nsoc_v2", progress=False)
    assert df["error"].isna().tolist() == [True, False, False]
    assert "ValueError: no 48 please" in df.loc[1, "error"] and "not a dict" in df.loc[2, "error"]


def test_macs_by_hand():
    m = ak.Model.from_dict({"input": {"shape": [6, 5, 2], "bits": 4}, "layers": [
        {"type": "Convolutional", "kernel_size": 3, "filters": 4, "padding": "valid"},
        {"type": "SeparableConvolutional", "kernel_size": 3, "filters": 7, "padding": "same"},
        {"type": "FullyConnected", "units": 3}]})
    conv = 4 * 3 * (3 * 3 * 2 * 4)
    sep = 4 * 3 * (4 * 3 * 3 + 4 * 7)
    fc = 4 * 3 * 7 * 3
    assert model_macs(m) == conv + sep + fc


def test_bad_calls():
    with pytest.raises(ak.SpecError, match="space"):
        ak.sweep(KWS, "nsoc_v2")
    with pytest.raises(ak.UnknownTargetError):
        ak.sweep(small_space(), ["nsoc_v9"], progress=False)
    with pytest.raises(ak.SpecError, match="chunk_size"):
        ak.sweep(small_space(), "nsoc_v2", chunk_size=0)
    with pytest.raises(ak.SpecError, match="Client"):
        ak.sweep(small_space(), "nsoc_v2", client="tcp://127.0.0.1:8786")


def test_client_without_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ak.SpecError, match=r'pip install "akida_nb\[dask\]"'):
        require_client(object())
    with pytest.raises(ak.SpecError, match="akida_nb"):
        ak.sweep(small_space(), "nsoc_v2", client=object())


def test_importing_akida_nb_does_not_import_dask():
    import subprocess

    code = "import sys, akida_nb; print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- space files
def write(tmp_path, text, name="space.yaml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_space_file_round_trip(tmp_path):
    (tmp_path / "m.json").write_text(KWS.to_json(), encoding="utf-8")
    p = write(tmp_path, "model: m.json\nknobs: {filters: [32, 64], kernel_size: [[3, 3], [5, 5]]}\n"
                        "types: {SeparableConvolutional: {act_bits: [2]}}\nlayers: {dense_5: {units: [10]}}\n"
                        "sample: {n: 3, seed: 4}\ntargets: [akd1000]\n")
    space = load_space(p)
    ref = ak.Space(KWS, filters=[32, 64], kernel_size=[(3, 3), (5, 5)],
                   types={"SeparableConvolutional": {"act_bits": [2]}}, layers={"dense_5": {"units": [10]}})
    assert space.size == ref.size == 4 and len(space) == 3 and space.targets == ("akd1000",)
    assert list(space.ids) == list(ref.sample(3, seed=4).ids)
    assert all(space.model(v) == ref.model(v) for v in space.ids)


@pytest.mark.parametrize("text, fragment", [
    ("knobs: {filters: [1]}\n", "missing model"),
    ("model: ds_cnn_kws\nknobz: {}\n", "unknown key 'knobz'"),
    ("model: ds_cnn_kws\nknobs: {filters: 32}\n", "knobs.filters"),
    ("model: ds_cnn_kws\nknobs: {filters: []}\n", "must not be empty"),
    ("model: ds_cnn_kws\nknobs: {filters: [1.5]}\n", "knobs.filters"),
    ("model: ds_cnn_kws\ntypes: {Dense: {filters: [2]}}\n", "unknown key 'Dense'"),
    ("model: ds_cnn_kws\nlayers: {nope: {filters: [2]}}\n", "layers.nope"),
    ("model: ds_cnn_kws\nsample: {n: 0}\n", "sample.n"),
    ("model: ds_cnn_kws\nsample: {seed: 1}\n", "missing n"),
    ("model: ds_cnn_kws\ntargets: []\n", "targets"),
    ("model: no_such_file.json\n", "no_such_file.json"),
    ("[1, 2]\n", "[1, 2] is not of type object"),
    ("model: ds_cnn_kws\nknobs: {filters: [1\n", "YAML"),
    ("model: ds_cnn_kws\nmodel: gxnor_mnist\n", "model"),
])
def test_bad_space_files_are_one_line_spec_errors(tmp_path, text, fragment):
    with pytest.raises(ak.SpecError) as e:
        load_space(write(tmp_path, text))
    msg = str(e.value)
    assert fragment in msg and "space.yaml" in msg and "\n" not in msg and len(msg) < 400


def test_space_file_that_is_a_directory_or_binary(tmp_path):
    with pytest.raises(ak.SpecError, match="directory"):
        load_space(tmp_path)
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00model")
    with pytest.raises(ak.SpecError, match="UTF-8"):
        load_space(p)


def test_schema_lists_every_knob_field():
    from akida_nb.sweep import space_schema

    assert set(space_schema()["$defs"]["knobs"]["properties"]) == set(KNOB_FIELDS)


# ---------------------------------------------------------------------------- the command
def cli(*argv):
    p = argparse.ArgumentParser(prog="akida-nb")
    cli_sweep.add_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(["sweep", *argv, "--no-progress"])
    return args.func(args)


def test_cli_writes_the_sweep_as_csv(tmp_path, capsys):
    p = write(tmp_path, "model: ds_cnn_kws\nknobs: {filters: [32, 64], weights_bits: [1, 4]}\ntargets: [nsoc_v2]\n")
    out = tmp_path / "out.csv"
    assert cli(str(p), "-t", "akd1000", "-t", "nsoc_v1", "-o", str(out)) == 0
    df = pd.read_csv(out)
    ref = ak.sweep(load_space(p), ["akd1000", "nsoc_v1"], progress=False)
    assert df.columns.tolist() == ref.columns.tolist() and len(df) == len(ref) == 8
    assert df["ok"].tolist() == ref["ok"].tolist() and df["target"].tolist() == ref["target"].tolist()
    assert np.array_equal(df["nps"].fillna(-1).to_numpy(), ref["nps"].fillna(-1).to_numpy())
    assert f"wrote {len(ref)} rows" in capsys.readouterr().out
    assert cli(str(p), "-o", str(out)) == 0
    assert set(pd.read_csv(out)["target"]) == {"nsoc_v2"}  # the file's targets


def test_cli_parquet(tmp_path, capsys):
    p = write(tmp_path, "model: ds_cnn_kws\nknobs: {filters: [32]}\n")
    out = tmp_path / "out.parquet"
    code = cli(str(p), "-o", str(out))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        assert code == 2 and "pyarrow" in capsys.readouterr().err and not out.exists()
    else:
        assert code == 0
        pd.testing.assert_frame_equal(pd.read_parquet(out), ak.sweep(load_space(p), progress=False))


@pytest.mark.parametrize("args, fragment", [
    (["-o", "out.xlsx"], ".csv or .parquet"),
    (["-t", "nsoc_v9"], "nsoc_v9"),
])
def test_cli_bad_input_exits_2_in_one_line(tmp_path, capsys, args, fragment):
    p = write(tmp_path, "model: ds_cnn_kws\nknobs: {filters: [32]}\n")
    assert cli(str(p), *args) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_workers_without_dask(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    p = write(tmp_path, "model: ds_cnn_kws\nknobs: {filters: [32]}\n")
    assert cli(str(p), "--workers", "2", "-o", str(tmp_path / "o.csv")) == 2
    assert "pip install" in capsys.readouterr().err


def test_row_count_of_the_issue_example():
    space = ak.Space(KWS, filters=[32, 64, 128], weights_bits=[1, 2, 4], act_bits=[1, 2, 4], kernel_size=[3, 5])
    df = ak.sweep(space, ALL_TARGETS, progress=False)
    assert len(df) == 54 * len(ALL_TARGETS) and math.isclose(df["variant"].nunique(), 54)


# ---------------------------------------------------------------------------- the Pareto plot
def test_pareto_plot_points_and_front():
    from akida_nb.plot import _pareto_front

    space = ak.Space(KWS, filters=[16, 32, 64, 128], weights_bits=[1, 2, 4], kernel_size=[3, 5],
                     layers={"conv_0": {"padding": ["same", "valid"]}})
    df = ak.sweep(space, ["akd1000", "nsoc_v1"], progress=False)
    fig = ak.plot.pareto(df)
    assert len(fig.axes) == 2
    for ax, name in zip(fig.axes, ["akd1000", "nsoc_v1"]):
        part = df[df["target"] == name]
        drawn = sum(len(c.get_offsets()) for c in ax.collections)
        assert drawn == part["macs"].notna().sum()
        assert f"{int(part['ok'].sum())} of {len(part)} fit" in ax.get_title()
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, 50).astype(float), rng.integers(0, 20, 50).astype(float)
    front = set(_pareto_front(x, y).tolist())
    for i in range(50):
        dominated = any(x[j] <= x[i] and y[j] <= y[i] and (x[j], y[j]) != (x[i], y[i]) for j in range(50))
        assert (i in front) <= (not dominated)
        if not dominated:
            assert any((x[j], y[j]) == (x[i], y[i]) for j in front)


@pytest.mark.parametrize("bad", [None, pd.DataFrame({"a": [1]}), pd.DataFrame(columns=list(RESULT_COLUMNS))])
def test_pareto_refuses_what_is_not_a_sweep(bad):
    with pytest.raises(ak.PlotError, match="df"):
        ak.plot.pareto(bad)


def test_empty_sample_and_mixed_knob_values_keep_their_types():
    empty = ak.sweep(small_space().sample(0), ["nsoc_v2"], progress=False)
    full = ak.sweep(small_space(), ["nsoc_v2"], progress=False)
    assert empty.empty and empty.dtypes.equals(full.dtypes)
    mixed = ak.sweep(ak.Space(KWS, padding=["same", 7]), "nsoc_v2", chunk_size=1, progress=False)
    assert mixed["padding"].tolist() == ["same", "7"] and str(mixed["padding"].dtype) == "string"
    assert pd.isna(mixed.loc[0, "error"]) and "padding" in mixed.loc[1, "error"]


def test_cli_output_that_cannot_be_written_exits_2(tmp_path, capsys):
    p = write(tmp_path, "model: ds_cnn_kws\nknobs: {filters: [32]}\n")
    (tmp_path / "taken.csv").mkdir()
    assert cli(str(p), "-o", str(tmp_path / "taken.csv")) == 2
    assert cli(str(p), "-o", str(tmp_path / "no_dir" / "out.csv")) == 2
    err = capsys.readouterr().err
    assert err.count("akida-nb: error:") == 2 and "Traceback" not in err


@pytest.mark.parametrize("bad", [5, None, "conv_0"])
def test_layer_macs_wants_a_layer_of_a_built_model(bad):
    from akida_nb.model import layer_macs

    with pytest.raises(ak.SpecError, match="expected a layer of a built model"):
        layer_macs(bad)
