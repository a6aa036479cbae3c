"""The native model format: loading, round trips, validation errors, shape inference."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import akida_nb as ak
from akida_nb.model import conv_output_size

from strategies import Reach

DATA = Path(__file__).parent / "data"
GOLDEN = sorted((DATA / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_specs_load_and_shapes_match_reference_outputs(path):
    model = ak.load_model(path)
    ref = np.load(path.with_suffix(".npz"))
    assert len(model.layers) == sum(1 for k in ref.files if k.endswith("_output") and k.startswith("L"))
    for i, layer in enumerate(model.layers):
        assert layer.output_shape == tuple(ref[f"L{i}_output"].shape[1:]), layer.name
        assert layer.input_shape == (tuple(ref["input"].shape[1:]) if i == 0 else model.layers[i - 1].output_shape)


@pytest.mark.parametrize("name", ak.examples())
def test_examples_round_trip_through_dict_json_and_yaml(name, tmp_path):
    import yaml

    m = ak.example(name)
    assert ak.Model.from_dict(m.to_dict()) == m
    assert ak.Model.from_json(m.to_json()) == m
    p = tmp_path / "m.yaml"
    p.write_text(yaml.safe_dump(m.to_dict()))
    assert ak.load_model(p) == m
    assert m.to_dict() == ak.Model.from_dict(m.to_dict()).to_dict()


def test_defaults_follow_akida():
    m = ak.Model.from_dict({"input": {"shape": [8, 8, 2]}, "layers": [
        {"type": "Convolutional", "kernel_size": 3, "filters": 4},
        {"type": "SeparableConvolutional", "kernel_size": 3, "filters": 4, "pool_type": "max", "pool_size": 2},
        {"type": "Convolutional", "kernel_size": 1, "filters": 4}]})
    c, s, _ = m.layers
    assert (c.kernel_stride, c.padding, c.pool_type, c.activation, c.act_bits, c.weights_bits) == \
        ((1, 1), "same", "none", True, 1, 1)
    assert s.weights_bits == 2 and s.pool_stride == (2, 2)
    assert m.input_bits == 4 and c.name == "L0_Convolutional"
    assert [l.input_bits for l in m.layers] == [4, 1, 1]
    ic = ak.Model.from_dict({"input": {"shape": [8, 8, 1]}, "layers": [
        {"type": "InputConvolutional", "kernel_size": 3, "filters": 4}]})
    assert ic.input_bits == 8 and ic.layers[0].padding_value == 0


def test_to_dict_writes_every_field():
    d = ak.Model.from_dict({"input": {"shape": [8, 8, 2]}, "layers": [
        {"type": "Convolutional", "kernel_size": 3, "filters": 4}]}).to_dict()
    assert set(d["layers"][0]) == {"type", "name", "weights_bits", "act_bits", "activation", "kernel_size",
                                   "filters", "kernel_stride", "padding", "pool_type"}
    assert d["input"] == {"shape": [8, 8, 2], "bits": 4}


def _spec(**layer):
    return {"input": {"shape": [8, 8, 2]}, "layers": [{"type": "Convolutional", "kernel_size": 3, "filters": 4,
                                                       **layer}]}


@pytest.mark.parametrize("spec, path, problem", [
    ({"input": {"shape": [8, 8, 2]}, "layers": []}, "layers", "at least one"),
    ({"input": {"shape": [8, 8, 2]}}, "layers", "missing"),
    ({"layers": [{"type": "FullyConnected", "units": 2}]}, "input", "missing"),
    ({"input": {"shape": [8, 8]}, "layers": [{"type": "FullyConnected", "units": 2}]}, "input.shape", "d0, d1"),
    ({"input": {"shape": [8, 0, 2]}, "layers": [{"type": "FullyConnected", "units": 2}]}, "input.shape", "positive"),
    ({"input": {"shape": [8, 8, 2], "bits": 9}, "layers": [{"type": "FullyConnected", "units": 2}]},
     "input.bits", "1 to 8"),
    ({"input": {"shape": [8, 8, 2], "colour": 1}, "layers": [{"type": "FullyConnected", "units": 2}]},
     "input.colour", "unknown key"),
    ({"input": {"shape": [8, 8, 2]}, "layers": [{"type": "Dense", "units": 2}]}, "layers[0].type", "Dense"),
    ({"input": {"shape": [8, 8, 2]}, "layers": [{"units": 2}]}, "layers[0].type", "missing"),
    (_spec(kernel_size=-3), "layers[0].kernel_size", "positive"),
    (_spec(kernel_size="3"), "layers[0].kernel_size", "int"),
    (_spec(kernel_size=[3, 3, 3]), "layers[0].kernel_size", "pair"),
    (_spec(filters=0), "layers[0].filters", "positive"),
    (_spec(filters=2.5), "layers[0].filters", "int"),
    (_spec(padding="full"), "layers[0].padding", "full"),
    (_spec(pool_type="max"), "layers[0].pool_size", "missing"),
    (_spec(pool_type="average", pool_size=2), "layers[0].pool_size", "only meaningful"),
    (_spec(activation="yes"), "layers[0].activation", "true or false"),
    (_spec(weights_bits=0), "layers[0].weights_bits", "1 to 8"),
    (_spec(units=3), "layers[0].units", "unknown key"),
    (_spec(padding_value=1), "layers[0].padding_value", "unknown key"),
    (_spec(padding="valid", kernel_size=9), "layers[0].kernel_size", "empty output"),
    (_spec(padding="valid", pool_type="max", pool_size=7), "layers[0].pool_size", "empty output"),
    ({"input": {"shape": [8, 8, 2]}, "layers": [{"type": "FullyConnected", "units": 2, "activation": False},
                                                {"type": "FullyConnected", "units": 2}]},
     "layers[0].activation", "last layer"),
    ({"input": {"shape": [8, 8, 2]}, "layers": [{"type": "FullyConnected", "units": 2, "name": "a"},
                                                {"type": "FullyConnected", "units": 2, "name": "a"}]},
     "layers[1].name", "duplicate"),
    ({"input": {"shape": [8, 8, 2]}, "layers": [{"type": "FullyConnected"}]}, "layers[0].units", "missing"),
    ({"input": {"shape": [8, 8, 2]}, "layers": "conv"}, "layers", "list"),
    ({"input": {"shape": [8, 8, 2]}, "layers": [{"type": "FullyConnected", "units": 2}], "extra": 1},
     "extra", "unknown key"),
])
def test_bad_specs_raise_spec_error_naming_path(spec, path, problem):
    with pytest.raises(ak.SpecError) as info:
        ak.Model.from_dict(spec)
    assert info.value.path == path
    assert problem in str(info.value)
    assert str(info.value).startswith(path)


def test_load_model_errors_are_typed(tmp_path):
    with pytest.raises(ak.SpecError, match="no such file"):
        ak.load_model(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ak.SpecError, match="not valid JSON"):
        ak.load_model(bad)
    txt = tmp_path / "m.txt"
    txt.write_text("x")
    with pytest.raises(ak.SpecError, match="unsupported file type"):
        ak.load_model(txt)
    yml = tmp_path / "m.yaml"
    yml.write_text("input: [unclosed")
    with pytest.raises(ak.SpecError, match="not valid YAML"):
        ak.load_model(yml)
    with pytest.raises(ak.SpecError, match="examples: "):
        ak.example("no_such_model")
    from akida_nb.resources import model_path

    with pytest.raises(ak.SpecError, match="weights_bits: only Keras models"):
        ak.load_model(model_path("ds_cnn_kws"), weights_bits=2)


def test_summary_has_shapes_and_bits():
    df = ak.example("ds_cnn_kws").summary()
    assert list(df["output_shape"])[-2:] == ["1×1×64", "1×1×33"]
    assert list(df["input_bits"]) == [8, 4, 4, 4, 4, 4]
    assert df["act_bits"].isna().tolist() == [False] * 6  # no raw <NA>: the layer without activation shows "—"
    assert df["act_bits"].tolist() == [4, 4, 4, 4, 4, "—"] and df["activation"].tolist() == [True] * 5 + [False]


def test_summary_shows_bits_first_and_no_raw_na():
    df = ak.example("ds_cnn_kws").summary()
    assert type(df) is pd.DataFrame
    assert list(df.columns[:7]) == ["name", "type", "input_shape", "output_shape",
                                    "input_bits", "weights_bits", "act_bits"]
    assert df["input_bits"].dtype == "int64" and df["weights_bits"].dtype == "int64"
    assert df["outputs"].dtype == "int64" and df["activation"].dtype == bool
    fc = df[df["type"] == "FullyConnected"].iloc[0]
    assert fc[["kernel", "stride", "padding", "pool"]].tolist() == ["—"] * 4
    assert df.loc[0, "kernel"] != "—" and df.loc[4, "pool"] == "global average"
    html, text = df.to_html(), df.to_string()
    assert "NA" not in html and "NaN" not in html and "None" not in html and "NA" not in text


# ---------------------------------------------------------------------------- shape inference vs brute force
def brute_force_length(n, k, s, padding, pool=None):
    """Count output positions by walking windows over an explicit (padded) axis."""
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        before, after = total // 2, total - total // 2
    else:
        before = after = 0
    cells = [False] * before + [True] * n + [False] * after
    starts = [i for i in range(0, len(cells) - k + 1, s)]
    length = len(starts)
    if pool is None:
        return length
    p, t = pool
    if padding == "same":
        outp = -(-length // t)
        total = max((outp - 1) * t + p - length, 0)
        before = total // 2
        cells = [False] * before + [True] * length + [False] * (total - before)
        # a window counts when it covers at least one real cell
        return sum(1 for i in range(0, len(cells) - p + 1, t) if any(cells[i:i + p]))
    return len(range(0, length - p + 1, t))


SHAPE_REACH = Reach()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 3), padding=st.sampled_from(["same", "valid"]),
       pool=st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
def test_shape_inference_matches_brute_force(n, k, s, padding, pool):
    SHAPE_REACH.example()
    layer = {"type": "Convolutional", "kernel_size": [k, 1], "kernel_stride": [s, 1], "padding": padding,
             "filters": 3}
    if pool:
        layer.update(pool_type="max", pool_size=[pool[0], 1], pool_stride=[pool[1], 1])
    expected = brute_force_length(n, k, s, padding, pool)
    spec = {"input": {"shape": [n, 4, 2]}, "layers": [layer]}
    if expected <= 0 or conv_output_size(n, k, s, padding) <= 0:
        with pytest.raises(ak.SpecError, match="empty output"):
            ak.Model.from_dict(spec)
        return
    m = ak.Model.from_dict(spec)
    assert m.layers[0].output_shape[0] == expected
    assert m.layers[0].output_shape[2] == 3
    SHAPE_REACH.reached()


def test_shape_property_reaches_its_assertion():
    """At least 80 % of the examples above built a model and compared its shape (not an empty output)."""
    SHAPE_REACH.assert_reached(test_shape_inference_matches_brute_force)
