"""Reading ``.keras`` archives safely: size limits, no extraction, no code execution, clear errors.

Every archive here is built by the test with :mod:`zipfile`, in the layout Keras 3's
``saving_lib`` writes (``metadata.json``, ``config.json``, ``model.weights.h5``).
"""
from __future__ import annotations

import base64
import json
import marshal
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import akida_nb as ak
from akida_nb import ModelImportError
from akida_nb.io import MAX_CONFIG_BYTES, from_keras_config, load_keras_archive

# A Keras 3 ``config.json`` as ``saving_lib.save_model`` writes it for a small Functional model.
KERAS3_CONFIG: dict[str, Any] = {
    "module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
    "config": {
        "name": "tiny", "trainable": True,
        "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": [None, 28, 28, 1], "dtype": "float32", "sparse": False, "name": "image",
                        "optional": False},
             "name": "image", "inbound_nodes": []},
            {"module": "keras.layers", "class_name": "Conv2D", "registered_name": None,
             "config": {"name": "conv", "trainable": True,
                        "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                                  "registered_name": None},
                        "filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
                        "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu",
                        "use_bias": True,
                        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                               "config": {"seed": None}, "registered_name": None}},
             "build_config": {"input_shape": [None, 28, 28, 1]}, "name": "conv",
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, 28, 28, 1], "dtype": "float32", "keras_history": ["image", 0, 0]}}],
                 "kwargs": {}}]},
            {"module": "keras.layers", "class_name": "Flatten", "registered_name": None,
             "config": {"name": "flatten", "trainable": True, "data_format": "channels_last"},
             "build_config": {"input_shape": [None, 14, 14, 8]}, "name": "flatten",
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, 14, 14, 8], "dtype": "float32", "keras_history": ["conv", 0, 0]}}],
                 "kwargs": {}}]},
            {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "logits", "trainable": True, "units": 10, "activation": "softmax",
                        "use_bias": True},
             "build_config": {"input_shape": [None, 1568]}, "name": "logits",
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, 1568], "dtype": "float32", "keras_history": ["flatten", 0, 0]}}],
                 "kwargs": {}}]},
        ],
        "input_layers": [["image", 0, 0]], "output_layers": [["logits", 0, 0]]},
    "build_config": {"input_shape": None},
    "compile_config": None,
}
METADATA = {"keras_version": "3.4.1", "date_saved": "2024-07-01@12:00:00"}


def archive(path: Path, members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def keras3_archive(path: Path, config: Any = KERAS3_CONFIG) -> Path:
    return archive(path, {"metadata.json": json.dumps(METADATA), "config.json": json.dumps(config),
                          "model.weights.h5": b"\x89HDF\r\n\x1a\n" + bytes(32)})


def test_reads_a_keras3_archive(tmp_path: Path) -> None:
    m = load_keras_archive(keras3_archive(tmp_path / "tiny.keras"), weights_bits=2, act_bits=2)
    assert [(l.type, l.output_shape, l.activation) for l in m.layers] == [
        ("InputConvolutional", (14, 14, 8), True), ("FullyConnected", (1, 1, 10), False)]
    assert (m.name, m.input_bits, m.layers[0].weights_bits, m.source) == ("tiny", 8, 8, str(tmp_path / "tiny.keras"))


def test_nothing_is_extracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keras3_archive(tmp_path / "tiny.keras")
    monkeypatch.chdir(tmp_path)
    ak.load_model(path)
    assert sorted(os.listdir(tmp_path)) == ["tiny.keras"]


@pytest.mark.parametrize("member", ["../config.json", "/config.json", "model/config.json", "CONFIG.JSON"])
def test_only_the_top_level_config_member_is_read(tmp_path: Path, member: str) -> None:
    path = archive(tmp_path / "m.keras", {"metadata.json": json.dumps(METADATA), member: json.dumps(KERAS3_CONFIG)})
    with pytest.raises(ModelImportError, match="no config.json in the archive"):
        load_keras_archive(path)
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    assert not (tmp_path.parent / "config.json").exists()


def test_declared_size_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = keras3_archive(tmp_path / "m.keras")
    size = zipfile.ZipFile(path).getinfo("config.json").file_size

    def no_reading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("config.json was opened although it is over the limit")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_reading)
    with pytest.raises(ModelImportError, match=f"config.json is {size} bytes uncompressed, over the {size - 1}-byte"):
        load_keras_archive(path, max_config_bytes=size - 1)


def test_zip_bomb_is_refused_at_the_default_limit(tmp_path: Path) -> None:
    assert MAX_CONFIG_BYTES == 64 * 2**20
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("config.json", "w", force_zip64=True) as member:
            member.write(b'{"class_name": "Sequential", "config": {}}')
            chunk = b" " * 2**20
            for _ in range(64):
                member.write(chunk)
    assert path.stat().st_size < 2**20  # tiny on disk, over 64 MiB inflated
    with pytest.raises(ModelImportError, match="over the 67108864-byte limit"):
        ak.load_model(path)


def test_a_lying_size_header_reads_no_more_than_the_limit(tmp_path: Path) -> None:
    """A config.json whose headers claim 10 bytes but hold more: never more than the limit is read."""
    payload = json.dumps(KERAS3_CONFIG).encode()
    path = archive(tmp_path / "liar.keras", {"config.json": payload}, compression=zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    true_size = len(payload).to_bytes(4, "little")
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        at = raw.index(signature)
        assert raw[at + offset:at + offset + 4] == true_size
        raw[at + offset:at + offset + 4] = (10).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelImportError, match="liar.keras"):
        load_keras_archive(path, max_config_bytes=100)


@pytest.mark.parametrize("members, message", [
    ({"metadata.json": "{}"}, "no config.json in the archive"),
    ({"config.json": "{not json"}, "config.json is not valid JSON"),
    ({"config.json": b"\xff\xfe\x00"}, "config.json is not valid JSON"),
    ({"config.json": "[1, 2, 3]"}, "expected a Keras model config"),
    ({"config.json": '{"class_name": "Functional", "config": {"layers": []}}'}, "non-empty list"),
    ({"config.json": "[" * 100_000 + "]" * 100_000}, "config.json is nested too deeply"),
])
def test_malformed_archives(tmp_path: Path, members: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelImportError, match=message):
        load_keras_archive(archive(tmp_path / "bad.keras", members))


@pytest.mark.parametrize("content", [b"just some text", b"PK\x03\x04 truncated", b""])
def test_not_a_zip(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.keras"
    path.write_bytes(content)
    with pytest.raises(ModelImportError, match="cannot read it as a Keras .keras archive"):
        ak.load_model(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelImportError, match="cannot read it"):
        load_keras_archive(tmp_path / "absent.keras")


def lambda_layer_config(marker: Path) -> dict[str, Any]:
    """A Lambda layer whose serialized function (Keras's marshal + base64 form) would create ``marker``."""
    code = compile(f"open({str(marker)!r}, 'w').close()", "<payload>", "exec")
    value = base64.b64encode(marshal.dumps(code)).decode("ascii")
    config = json.loads(json.dumps(KERAS3_CONFIG))
    layers = config["config"]["layers"]
    layers.insert(2, {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
                      "config": {"name": "payload", "function": {"class_name": "__lambda__",
                                                                 "config": {"value": [value, None, None]}},
                                 "function_type": "lambda", "module": "__main__"},
                      "name": "payload", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                          "shape": [None, 14, 14, 8], "dtype": "float32", "keras_history": ["conv", 0, 0]}}],
                          "kwargs": {}}]})
    layers[3]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = "payload"
    return config


def test_lambda_code_is_reported_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = keras3_archive(tmp_path / "lambda.keras", lambda_layer_config(marker))
    with pytest.raises(ModelImportError, match=r"layer 'payload' \(Lambda\): .*never executes"):
        load_keras_archive(path)
    m = load_keras_archive(path, strict=False)
    assert [u.name for u in m.unmapped] == ["payload"] and len(m.layers) == 2
    assert not marker.exists()


def test_never_imports_tensorflow_or_keras(tmp_path: Path) -> None:
    path = keras3_archive(tmp_path / "tiny.keras")
    script = ("import sys, akida_nb as ak\n"
              f"ak.load_model({str(path)!r})\n"
              "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
              "print(loaded)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_archive_and_dict_agree(tmp_path: Path) -> None:
    assert load_keras_archive(keras3_archive(tmp_path / "t.keras")) == from_keras_config(KERAS3_CONFIG)
