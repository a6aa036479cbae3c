"""Write small converted ``.fbz`` files and their akida ``forward()`` outputs (scratch venv only).

Run in the scratch venv described in ``tests/data/quantizeml/README.md``::

    nice python benchmarks/make_reference_fbz.py

Writes ``tests/data/quantizeml/fbz/<name>.fbz`` (an akida v1 model with its variables) and
``<name>.npz`` (``x``: a fixed uint8 input batch, ``y``: ``akida_model.forward(x)``, ``layer_<k>``:
the output of layer ``k``, none for an ``InputData`` layer, ``seed``). ``--outputs-only [NAME ...]``
recomputes the npz outputs
from the stored ``.fbz`` files and inputs.
The models are two zoo models (GXNOR MNIST, DS-CNN KWS) and three tiny models that between them
use every akida v1 layer option cnn2snn produces. All weights are random (untrained): batch-norm
statistics are randomised too, so that the activations are neither all zero nor all saturated.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_reference_models import OUT, model_record, qbits

FBZ = OUT / "fbz"
SEED = 12
BATCH = 4


def tiny_image() -> Any:
    """RGB input with an offset Rescaling (padding value), strides, max pool, valid, separable, GAP, dense."""
    import tensorflow as tf
    import tf_keras as keras
    from akida_models.layer_blocks import conv_block, dense_block, separable_conv_block
    inp = keras.Input((32, 32, 3), name="input", dtype=tf.uint8)  # uint8 as the zoo: no akida Quantizer layer
    x = keras.layers.Rescaling(1 / 128, offset=-1, name="rescaling")(inp)
    x = conv_block(x, 8, (3, 3), name="conv_0", strides=2, padding="same", add_batchnorm=True,
                   relu_activation="ReLU6")
    x = conv_block(x, 16, (3, 3), name="conv_1", padding="same", pooling="max", pool_size=(2, 2),
                   add_batchnorm=True, relu_activation="ReLU6")
    x = separable_conv_block(x, 16, (3, 3), name="sep_2", padding="same", add_batchnorm=True,
                             relu_activation="ReLU6", fused=True)
    x = conv_block(x, 24, (3, 3), name="conv_3", padding="valid", add_batchnorm=True, relu_activation="ReLU6")
    x = conv_block(x, 24, (1, 1), name="conv_4_1x1", padding="valid", add_batchnorm=True, relu_activation="ReLU6")
    x = separable_conv_block(x, 32, (3, 3), name="sep_5", padding="same", pooling="global_avg",
                             add_batchnorm=True, relu_activation="ReLU6", fused=True)
    x = dense_block(x, 16, name="dense_6", add_batchnorm=True, relu_activation="ReLU6")
    x = dense_block(x, 10, name="dense_7", relu_activation=False)
    return keras.Model(inp, x, name="tiny_image")


def tiny_gray() -> Any:
    """Gray non-square input and kernels, valid input conv + max pool, strided sepconv, 2-bit weights."""
    import tensorflow as tf
    import tf_keras as keras
    from akida_models.layer_blocks import conv_block, dense_block, separable_conv_block
    inp = keras.Input((20, 12, 1), name="input", dtype=tf.uint8)
    x = keras.layers.Rescaling(1 / 255, name="rescaling")(inp)
    x = conv_block(x, 8, (5, 3), name="conv_0", padding="valid", pooling="max", pool_size=(2, 2),
                   add_batchnorm=True, relu_activation="ReLU6")
    x = separable_conv_block(x, 16, (3, 3), strides=2, name="sep_1", padding="same", add_batchnorm=True,
                             relu_activation="ReLU6", fused=True)
    x = conv_block(x, 16, (3, 1), name="conv_2", padding="same", add_batchnorm=True, relu_activation="ReLU6")
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_block(x, 12, name="dense_3", add_batchnorm=True, relu_activation="ReLU6")
    x = dense_block(x, 5, name="dense_4", relu_activation=False)
    return keras.Model(inp, x, name="tiny_gray")


def tiny_events() -> Any:
    """A 4-channel input (InputData, not InputConvolutional), max pool, GAP, 1-bit activations."""
    import tensorflow as tf
    import tf_keras as keras
    from akida_models.layer_blocks import conv_block, dense_block
    inp = keras.Input((12, 12, 4), name="input", dtype=tf.int8)
    x = keras.layers.Rescaling(1.0, name="rescaling")(inp)  # as the zoo's ConvTiny: int8 input, dummy rescaling
    x = conv_block(x, 16, (3, 3), name="conv_0", padding="same", pooling="max", pool_size=(2, 2),
                   add_batchnorm=True, relu_activation="ReLU6")
    x = conv_block(x, 16, (3, 3), name="conv_1", padding="same", pooling="global_avg",
                   add_batchnorm=True, relu_activation="ReLU6")
    x = dense_block(x, 6, name="dense_2", relu_activation=False)
    return keras.Model(inp, x, name="tiny_events")


def zoo_builder(name: str) -> Callable[[], Any]:
    import akida_models
    return {"gxnor_mnist": akida_models.gxnor_mnist, "ds_cnn_kws": akida_models.ds_cnn_kws}[name]


MODELS: dict[str, tuple[Callable[[], Any], dict[str, int], int]] = {
    # name -> (builder, quantization bits, largest input value)
    "gxnor_mnist": (lambda: zoo_builder("gxnor_mnist")(), qbits(4, 2, 1), 255),
    "ds_cnn_kws": (lambda: zoo_builder("ds_cnn_kws")(), qbits(8, 4, 4), 255),
    "tiny_image": (tiny_image, qbits(8, 4, 4), 255),
    "tiny_gray": (tiny_gray, qbits(4, 2, 2), 255),
    "tiny_events": (tiny_events, qbits(4, 4, 1), 15),
}


def randomise_batchnorm(model: Any, rng: Any) -> None:
    """Random batch-norm statistics, so that random models have lively activations."""
    import numpy as np
    import tf_keras as keras
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n).astype("float32"),   # gamma
                               rng.uniform(-0.2, 0.6, n).astype("float32"),  # beta
                               rng.normal(0, 0.2, n).astype("float32"),      # moving mean
                               rng.uniform(0.2, 1.0, n).astype("float32")])  # moving variance
    np.random.seed(0)


def build(name: str) -> tuple[Any, Any, Any]:
    import cnn2snn
    import numpy as np
    import tensorflow as tf
    from quantizeml.models import QuantizationParams, quantize
    builder, bits, top = MODELS[name]
    rng = np.random.default_rng(SEED)
    tf.keras.utils.set_random_seed(SEED)
    with cnn2snn.set_akida_version(cnn2snn.AkidaVersion.v1):
        model = builder()
        randomise_batchnorm(model, rng)
        shape = tuple(model.input_shape[1:])
        calib = rng.integers(0, top + 1, size=(32, *shape)).astype("float32")
        qmodel = quantize(model, qparams=QuantizationParams(**bits), samples=calib, batch_size=32)
        akida_model = cnn2snn.convert(qmodel)
    x = rng.integers(0, top + 1, size=(BATCH, *shape)).astype("uint8")
    return qmodel, akida_model, x


def save_outputs(name: str, akida_model: Any, x: Any) -> Any:
    """Write ``<name>.npz``: the input, the model's output and every layer's output; return the output.

    ``layer_<k>`` is the output of layer ``k`` (``akida_model.layers[k]``), got by running the
    model made of layers ``0..k`` (``akida.Model(layers=...)``); an ``InputData`` layer has none.
    """
    import akida
    import numpy as np
    y = akida_model.forward(x)
    layers = {f"layer_{k}": akida.Model(layers=akida_model.layers[:k + 1]).forward(x)
              for k, layer in enumerate(akida_model.layers)
              if layer.parameters.layer_type != akida.LayerType.InputData}  # its output is x
    assert np.array_equal(layers[f"layer_{len(akida_model.layers) - 1}"], y)
    np.savez_compressed(FBZ / f"{name}.npz", x=x, y=y, seed=np.int64(SEED), **layers)
    return y


def main() -> int:
    import numpy as np
    if sys.argv[1:2] == ["--outputs-only"]:  # recompute the npz files from the stored .fbz and inputs
        import akida
        for name in sys.argv[2:] or list(MODELS):
            save_outputs(name, akida.Model(str(FBZ / f"{name}.fbz")), np.load(FBZ / f"{name}.npz")["x"])
        return 0
    FBZ.mkdir(parents=True, exist_ok=True)
    target = FBZ / "layers.json"
    summary: dict[str, Any] = json.loads(target.read_text()) if target.exists() else {}
    for name in (sys.argv[1:] or list(MODELS)):
        print(f"== {name}", flush=True)
        qmodel, akida_model, x = build(name)
        path = FBZ / f"{name}.fbz"
        akida_model.save(str(path))
        y = save_outputs(name, akida_model, x)
        (FBZ / f"{name}_quantized.json").write_text(qmodel.to_json())
        record = model_record(akida_model)
        record.update(quantization=MODELS[name][1], fbz_bytes=path.stat().st_size,
                      output_dtype=str(y.dtype), output_shape=list(y.shape),
                      output_nonzero_fraction=float(np.count_nonzero(y) / y.size))
        summary[name] = record
        print(f"   {path.stat().st_size} bytes, output {y.dtype}{list(y.shape)}, "
              f"nonzero {record['output_nonzero_fraction']:.2f}", flush=True)
        target.write_text(json.dumps(dict(sorted(summary.items())), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
