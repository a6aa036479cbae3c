"""The Keras reader reproduces the layers Akida's own converter produced for two model-zoo models.

``expected_akida_layers.json`` is in the converter's vocabulary (``strides``, ``global_avg``,
pools ``[-1, -1]`` = none, ``activation`` 0/1, ``filters`` of a FullyConnected = units).
Each model is read from its tf.keras 2 ``to_json()`` config (quantized as is, float with the
bit widths it was quantized to), and again from a Keras 3 ``.keras`` archive built here
from the same config in the Keras 3 layout.
"""
from __future__ import annotations

import json
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

import akida_nb as ak
from akida_nb.io import from_keras_config, load_keras_archive

DATA = Path(__file__).parent / "data" / "keras"
EXPECTED = json.loads((DATA / "expected_akida_layers.json").read_text())
FLOAT_BITS = {"ds_cnn_kws_v1": {"weights_bits": 4, "act_bits": 4},
              "vgg_utk_face_v1": {"weights_bits": 2, "act_bits": 2}}
SOURCES = [(model, variant) for model in EXPECTED for variant in ("quantized", "float")]
FIELDS = ["name", "type", "input_shape", "output_shape", "kernel_size", "filters", "units", "kernel_stride",
          "padding", "pool_type", "pool_size", "pool_stride", "weights_bits", "act_bits", "activation"]


def keras2_config(model: str, variant: str) -> dict[str, Any]:
    suffix = "_quantized" if variant == "quantized" else ""
    return json.loads((DATA / f"{model}{suffix}.json").read_text())


def bits_for(model: str, variant: str) -> dict[str, int]:
    return {} if variant == "quantized" else FLOAT_BITS[model]


# ---------------------------------------------------------------------- Keras 3 layout
def keras_tensor(source: str) -> dict[str, Any]:
    """A Keras 3 ``__keras_tensor__`` record (serialization_lib), as found in ``args``."""
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, None, None, None], "dtype": "float32", "keras_history": [source, 0, 0]}}


def keras3_layer(layer: dict[str, Any]) -> dict[str, Any]:
    """A tf.keras 2 layer record rewritten as Keras 3's ``Functional.get_config`` writes it."""
    cls = layer["class_name"]
    config = dict(layer["config"])
    custom = cls.startswith("Quantized") or cls == "Dequantizer"
    if cls == "InputLayer":
        config["batch_shape"] = config.pop("batch_input_shape")
        config.pop("ragged", None)
        config["optional"] = False
    else:
        config["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                           "registered_name": None}
    nodes = []
    for node in layer["inbound_nodes"]:
        kwargs = {"training": False} if "Dropout" in cls or "BatchNormalization" in cls else {}
        nodes.append({"args": [keras_tensor(entry[0]) for entry in node], "kwargs": kwargs})
    record = {"module": "quantizeml.layers" if custom else "keras.layers", "class_name": cls, "config": config,
              "registered_name": f"quantizeml>{cls}" if custom else None}
    if cls != "InputLayer":
        record["build_config"] = {"input_shape": [None, None, None, None]}
    record.update(name=layer["name"], inbound_nodes=nodes)
    return record


def keras3_config(model: str, variant: str) -> dict[str, Any]:
    """The model's config as Keras 3 ``saving_lib`` writes ``config.json`` (single input and output)."""
    k2 = keras2_config(model, variant)["config"]
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": {"name": k2["name"], "trainable": True,
                       "layers": [keras3_layer(layer) for layer in k2["layers"]],
                       "input_layers": k2["input_layers"][0], "output_layers": k2["output_layers"][0]},
            "build_config": {"input_shape": None},
            "compile_config": None}


def write_keras_archive(path: Path, config: dict[str, Any]) -> Path:
    """A ``.keras`` zip with Keras 3's three members (the weights file is a stub: never read)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.4.1", "date_saved": "2024-07-01@12:00:00"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
    return path


# ---------------------------------------------------------------------- comparison
def expected_fields(layer: dict[str, Any]) -> dict[str, Any]:
    """A converter layer record in the native vocabulary."""
    fc = layer["type"] == "FullyConnected"
    pool = {"global_avg": "average"}.get(layer.get("pool_type"), layer.get("pool_type"))
    pair = (lambda key: None if fc or layer[key] == [-1, -1] else tuple(layer[key]))
    return {"name": layer["name"], "type": layer["type"],
            "input_shape": tuple(layer["input_shape"]), "output_shape": tuple(layer["output_shape"]),
            "kernel_size": None if fc else tuple(layer["kernel_size"]),
            "filters": None if fc else layer["filters"], "units": layer["filters"] if fc else None,
            "kernel_stride": None if fc else tuple(layer["strides"]), "padding": None if fc else layer["padding"],
            "pool_type": pool, "pool_size": pair("pool_size"), "pool_stride": pair("pool_stride"),
            "weights_bits": layer["weights_bits"],
            "act_bits": layer["act_bits"] if layer["activation"] else None,
            "activation": bool(layer["activation"])}


def actual_fields(layer: ak.Layer) -> dict[str, Any]:
    out = {key: getattr(layer, key) for key in FIELDS}
    if not layer.activation:
        out["act_bits"] = None  # meaningless without an activation: not compared
    return out


@lru_cache(maxsize=None)
def read_keras2(model: str, variant: str) -> ak.Model:
    return from_keras_config(keras2_config(model, variant), **bits_for(model, variant))


@lru_cache(maxsize=None)
def read_keras3(model: str, variant: str, folder: Path) -> ak.Model:
    path = write_keras_archive(folder / f"{model}_{variant}.keras", keras3_config(model, variant))
    return load_keras_archive(path, **bits_for(model, variant))


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keras3")


LAYER_FIELD_CASES = [pytest.param(model, variant, i, field, id=f"{model}-{variant}-L{i}-{field}")
                     for model, variant in SOURCES
                     for i in range(len(EXPECTED[model]["layers"]))
                     for field in FIELDS]


@pytest.mark.parametrize("model, variant, index, field", LAYER_FIELD_CASES)
def test_tf_keras2_config_matches_converter(model: str, variant: str, index: int, field: str) -> None:
    got = actual_fields(read_keras2(model, variant).layers[index])[field]
    assert got == expected_fields(EXPECTED[model]["layers"][index])[field]


@pytest.mark.parametrize("model, variant, index, field", LAYER_FIELD_CASES)
def test_keras3_archive_matches_converter(model: str, variant: str, index: int, field: str,
                                          archive_dir: Path) -> None:
    got = actual_fields(read_keras3(model, variant, archive_dir).layers[index])[field]
    assert got == expected_fields(EXPECTED[model]["layers"][index])[field]


@pytest.mark.parametrize("model, variant", SOURCES)
def test_model_input_and_layer_count(model: str, variant: str) -> None:
    m = read_keras2(model, variant)
    assert m.input_shape == tuple(EXPECTED[model]["input_shape"])
    assert m.input_bits == 8  # both start with an InputConvolutional on an image
    assert len(m.layers) == len(EXPECTED[model]["layers"])
    assert m.unmapped == ()


@pytest.mark.parametrize("model, variant", SOURCES)
def test_both_schemas_give_the_same_model(model: str, variant: str, archive_dir: Path) -> None:
    assert read_keras3(model, variant, archive_dir) == read_keras2(model, variant)


def test_load_model_dispatches_keras_json_and_archive(tmp_path: Path) -> None:
    json_path = tmp_path / "kws.json"
    json_path.write_text(json.dumps(keras2_config("ds_cnn_kws_v1", "float")))
    from_json = ak.load_model(json_path, weights_bits=4, act_bits=4)
    archive = write_keras_archive(tmp_path / "kws.keras", keras3_config("ds_cnn_kws_v1", "float"))
    from_archive = ak.load_model(archive, weights_bits=4, act_bits=4)
    assert from_json == from_archive == read_keras2("ds_cnn_kws_v1", "float")
    assert from_archive.source == str(archive)


def test_float_bits_default_and_input_weights_bits() -> None:
    m = from_keras_config(keras2_config("vgg_utk_face_v1", "float"), input_weights_bits=4)
    assert [l.weights_bits for l in m.layers] == [4] + [4] * 6
    assert {l.act_bits for l in m.layers if l.activation} == {4}
    m = from_keras_config(keras2_config("vgg_utk_face_v1", "float"), weights_bits=1, act_bits=2)
    assert [l.weights_bits for l in m.layers] == [8] + [1] * 6


def test_quantized_configs_ignore_float_bit_arguments() -> None:
    config = keras2_config("ds_cnn_kws_v1", "quantized")
    assert from_keras_config(config, weights_bits=1, act_bits=1) == read_keras2("ds_cnn_kws_v1", "quantized")


def test_config_as_json_text() -> None:
    text = (DATA / "vgg_utk_face_v1_quantized.json").read_text()
    assert from_keras_config(text) == read_keras2("vgg_utk_face_v1", "quantized")
