"""Read Keras model configs into the native format, without TensorFlow or Keras.

Two serializations are understood:

* tf.keras 2 ``model.to_json()`` output (``batch_input_shape``, list-style
  ``inbound_nodes``), Sequential or Functional;
* Keras 3 ``.keras`` archives: a zip holding ``config.json`` (dict-style inbound
  nodes with ``args``/``kwargs`` and ``keras_history``, ``batch_shape``,
  ``module``/``registered_name`` keys), ``metadata.json`` and ``model.weights.h5``.
  Only ``config.json`` is read, in memory and with a size limit.

Keras layers are grouped into Akida layers the way Akida's converter does: a
*block* starts at a processing layer (``Conv2D``, ``SeparableConv2D``,
``DepthwiseConv2D`` + 1×1 ``Conv2D``, ``Dense`` and their quantizeml
``Quantized*`` forms) and takes in the ``BatchNormalization``, at most one pooling
layer and one ReLU that follow (a ``MaxPooling2D`` right after the ReLU joins too: quantizeml moves
it before the ReLU, with which it commutes). Nothing from the file is ever executed: a
``Lambda`` layer or a serialized function is reported, not run.

quantizeml's padding semantics are honoured as cnn2snn (Akida v1) converts them: a convolution
with a ``padding_value`` pads itself (its config says ``"valid"``, its output is a ``same``
convolution's) and becomes ``same`` with that value quantized to the input's integer units; a 1×1
kernel is always ``same``; a float first convolution with ``same`` padding after a ``Rescaling``
with a non-zero offset gets the padding value that quantization will give it (``-offset / scale``).

Examples
--------
>>> from akida_nb.io import from_keras_config
>>> cfg = {"class_name": "Sequential", "config": {"name": "tiny", "layers": [
...     {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 28, 28, 1]}},
...     {"class_name": "Conv2D", "config": {"name": "conv", "filters": 8, "kernel_size": [3, 3],
...                                         "strides": [2, 2], "padding": "same"}},
...     {"class_name": "ReLU", "config": {"name": "relu"}},
...     {"class_name": "Flatten", "config": {"name": "flatten"}},
...     {"class_name": "Dense", "config": {"name": "dense", "units": 10}}]}}
>>> m = from_keras_config(cfg, weights_bits=2, act_bits=2)
>>> [(l.type, l.output_shape) for l in m.layers]
[('InputConvolutional', (14, 14, 8)), ('FullyConnected', (1, 1, 10))]
"""
from __future__ import annotations

import math
import re
import reprlib
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeGuard

from .._safeload import parse_json
from ..errors import ModelImportError, SpecError, one_line
from ..model import Model, conv_output_size, pool_output_size

__all__ = ["MAX_CONFIG_BYTES", "UnmappedLayer", "from_keras_config", "load_keras_archive"]

QUANT_BITWIDTHS = range(1, 9)
"""Bit widths accepted in a quantizeml ``quant_config`` (the native format's 1 to 8)."""
KERAS_PADDINGS = ("valid", "same")
"""``padding`` values of Keras 2D convolutions and poolings; any other value is refused."""
MAX_CONFIG_BYTES = 64 * 2**20
"""Largest ``config.json`` (uncompressed) that :func:`load_keras_archive` reads by default."""

_CONFIG_MEMBER = "config.json"
_PROCESSING = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Dense")
_POOLING = ("MaxPooling2D", "GlobalAveragePooling2D")
_ABSORBED = ("InputLayer", "Rescaling", "Dropout")
_TRAILING = ("Dequantizer", "Softmax")
_RELU_NAMES = ("relu", "relu6")
_FINAL_ACTIVATIONS = ("softmax", "sigmoid")
_ALIASES = {"MaxPool2D": "MaxPooling2D", "GlobalAvgPool2D": "GlobalAveragePooling2D"}
_UNSUPPORTED = {
    "Lambda": "a Lambda layer holds serialized Python code, which akida_nb never executes",
    "AveragePooling2D": "Akida v1 layers only average globally (use GlobalAveragePooling2D)",
    "ZeroPadding2D": "Akida v1 layers pad only through their convolution's 'same' padding",
    **{cls: "a nested model; build the model as one flat chain of layers"
       for cls in ("Sequential", "Functional", "Model")},
}


@dataclass(frozen=True)
class UnmappedLayer:
    """A Keras layer that a lenient import (``strict=False``) could not map.

    Parameters
    ----------
    name : str
        The Keras layer's name.
    layer_class : str
        Its Keras class (``"Lambda"``, ``"QuantizedConv2D"`` …).
    reason : str
        Why it has no Akida equivalent.

    Examples
    --------
    >>> u = UnmappedLayer("lambda_1", "Lambda", "holds Python code")
    >>> str(u), u.to_dict()["layer_class"]
    ('lambda_1 (Lambda): holds Python code', 'Lambda')
    """

    name: str
    layer_class: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.layer_class}): {self.reason}"

    def to_dict(self) -> dict[str, str]:
        """``{"name", "layer_class", "reason"}``, ready for JSON.

        Examples
        --------
        >>> UnmappedLayer("x", "Add", "a merge").to_dict()
        {'name': 'x', 'layer_class': 'Add', 'reason': 'a merge'}
        """
        return {"name": self.name, "layer_class": self.layer_class, "reason": self.reason}


@dataclass(frozen=True)
class _KerasLayer:
    name: str
    cls: str
    config: Mapping[str, Any]

    @property
    def kind(self) -> str:
        """The class name without quantizeml's ``Quantized`` prefix, aliases resolved."""
        base = self.cls.removeprefix("Quantized")
        return _ALIASES.get(base, base)

    def fail(self, problem: str) -> ModelImportError:
        return ModelImportError(self.name, self.cls, problem)


@dataclass(frozen=True)
class _Bits:
    weights: int
    act: int
    input_weights: int


@dataclass
class _Block:
    """One Akida layer being assembled from a processing layer and its followers."""

    layer: _KerasLayer
    spec: dict[str, Any]
    discard: bool = False
    bn: bool = False
    pooled: bool = False
    activated: bool = False


# ---------------------------------------------------------------------- small readers
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring = 3, 6, 4, 60


def _show(value: Any) -> str:
    """A short repr of a config value for messages (a crafted file cannot flood them)."""
    return _REPR.repr(value)


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _pair(layer: _KerasLayer, key: str, default: Any = None) -> tuple[int, int]:
    value = layer.config.get(key, default)
    if _is_int(value):
        value = [value, value]
    if (not isinstance(value, list) or len(value) != 2
            or not all(_is_int(v) and v > 0 for v in value)):
        raise layer.fail(f"{key} {_show(value)} is not a pair of positive ints")
    return (value[0], value[1])


def _positive(layer: _KerasLayer, key: str) -> int:
    value = layer.config.get(key)
    if not _is_int(value) or value <= 0:
        raise layer.fail(f"{key} {_show(value)} is not a positive int")
    return value


def _bitwidth(layer: _KerasLayer, quantizer: str) -> int | None:
    """``quant_config[quantizer]["bitwidth"]`` of a quantizeml layer, if present; refused if not an int from 1 to 8.

    A bit width of ``0``, ``"2"``, ``2.0`` or ``True`` is an error naming the layer and the key,
    never a silent fallback to the default.
    """
    qc = layer.config.get("quant_config")
    if qc is None:
        return None
    if not isinstance(qc, Mapping):
        raise layer.fail(f"quant_config {_show(qc)} is not a mapping")
    q = qc.get(quantizer)
    if q is None:
        return None
    if not isinstance(q, Mapping):
        raise layer.fail(f"quant_config.{quantizer} {_show(q)} is not a mapping")
    if q.get("bitwidth") is None:
        return None
    bits = q["bitwidth"]
    if not _is_int(bits) or not QUANT_BITWIDTHS[0] <= bits <= QUANT_BITWIDTHS[-1]:
        raise layer.fail(f"quant_config.{quantizer}.bitwidth {_show(bits)}: bit widths are "
                         f"{QUANT_BITWIDTHS[0]} to {QUANT_BITWIDTHS[-1]}, as ints")
    return bits


def _quantize_padding(v: float, bits: int) -> int:
    """quantizeml's padding-value quantizer on an integer (8-bit) input: signed ``bits``, as an input value.

    Examples
    --------
    >>> _quantize_padding(128.0, 8), _quantize_padding(128.0, 4), _quantize_padding(51.0, 4), _quantize_padding(0, 8)
    (127, 112, 48, 0)
    """
    if v == 0:
        return 0
    vb = bits - 1
    frac = min(vb - math.ceil(math.log2(abs(v))), 0)
    q = min(max(round(v * 2.0 ** frac), -(1 << vb)), (1 << vb) - 1)  # round() is half to even, as tf.round
    return int(q * 2 ** -frac)


def _per_channel(layer: _KerasLayer, key: str, value: Any, sign: Any) -> list[float]:
    """A scalar or per-channel list of numbers from a config (``sign`` applied to each); refused otherwise.

    Zero is refused for a ``scale``, which divides.
    """
    values = value if isinstance(value, list) else [value]
    if (not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                              for v in values) or (key == "scale" and 0 in values)):
        raise layer.fail(f"{key} {_show(value)} is not a finite number or a list of them"
                         + (" (non-zero)" if key == "scale" else ""))
    return [sign(v) for v in values]


def _padding(layer: _KerasLayer) -> str:
    """The layer's ``padding`` (``'valid'`` by default); anything but 'valid' or 'same' is refused."""
    padding = layer.config.get("padding", "valid")
    if padding not in KERAS_PADDINGS:
        raise layer.fail(f"padding {_show(padding)}: Keras 2D convolutions and poolings pad 'valid' or 'same'")
    return padding


def _activation_name(value: Any) -> str | None:
    """The name of a serialized activation, or None for code and custom objects."""
    if value is None:
        return "linear"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value.get("class_name") == "function" and isinstance(value.get("config"), str):
        return value["config"]
    return None


def _tensor_names(value: Any, where: str) -> list[str]:
    """Layer names in ``input_layers``/``output_layers`` (``[name, node, tensor]`` leaves)."""
    if (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and all(_is_int(v) for v in value[1:])):
        return [value[0]]
    if isinstance(value, list):
        return [n for v in value for n in _tensor_names(v, where)]
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in _tensor_names(v, where)]
    raise ModelImportError(None, None, f"config.{where}: expected [layer, node, tensor] entries, got {_show(value)}")


def _node_sources(layer: _KerasLayer, node: Any) -> list[str]:
    """Names of the layers whose outputs feed one inbound node, in either schema."""
    if isinstance(node, list):  # tf.keras 2: [[name, node_index, tensor_index, kwargs], ...]
        names = []
        for entry in node:
            if not isinstance(entry, list) or not entry or not isinstance(entry[0], str):
                raise layer.fail(f"malformed inbound node entry {_show(entry)}")
            names.append(entry[0])
        return names
    if isinstance(node, Mapping):  # Keras 3: {"args": [...], "kwargs": {...}} holding __keras_tensor__ records
        return _keras_tensors(layer, [node.get("args"), node.get("kwargs")])
    raise layer.fail(f"malformed inbound node {_show(node)}")


def _keras_tensors(layer: _KerasLayer, value: Any) -> list[str]:
    if isinstance(value, Mapping):
        if value.get("class_name") == "__keras_tensor__":
            cfg = value.get("config")
            history = cfg.get("keras_history") if isinstance(cfg, Mapping) else None
            if not isinstance(history, list) or not history or not isinstance(history[0], str):
                raise layer.fail(f"malformed keras_history in an inbound node: {_show(history)}")
            return [history[0]]
        return [n for v in value.values() for n in _keras_tensors(layer, v)]
    if isinstance(value, list):
        return [n for v in value for n in _keras_tensors(layer, v)]
    return []


# ---------------------------------------------------------------------- graph → chain
def _layer_records(raw_layers: Any) -> list[tuple[Mapping[str, Any], _KerasLayer]]:
    if not isinstance(raw_layers, list) or not raw_layers:
        raise ModelImportError(None, None, "config.layers: expected a non-empty list of layer records")
    records = []
    for i, raw in enumerate(raw_layers):
        cfg = raw.get("config", {}) if isinstance(raw, Mapping) else None
        cls = raw.get("class_name") if isinstance(raw, Mapping) else None
        if not isinstance(cls, str) or not isinstance(cfg, Mapping):
            raise ModelImportError(None, None, f"config.layers[{i}]: expected a record with class_name and config")
        name = raw.get("name", cfg.get("name", f"layer_{i}"))
        if not isinstance(name, str):
            raise ModelImportError(None, cls, f"config.layers[{i}]: the layer name {name!r} is not a string")
        records.append((raw, _KerasLayer(name, cls, cfg)))
    return records


def _functional_chain(config: Mapping[str, Any]) -> list[_KerasLayer]:
    records = _layer_records(config.get("layers"))
    by_name: dict[str, _KerasLayer] = {}
    for _, layer in records:
        if layer.name in by_name:
            raise layer.fail("two layers share this name; the graph is ambiguous")
        by_name[layer.name] = layer
    consumers: dict[str, list[str]] = {name: [] for name in by_name}
    for raw, layer in records:
        nodes = raw.get("inbound_nodes", [])
        if not isinstance(nodes, list):
            raise layer.fail(f"malformed inbound_nodes {_show(nodes)}")
        if len(nodes) > 1:
            raise layer.fail(f"is called {len(nodes)} times (a shared layer); only a chain of layers, "
                             "each called once, maps to Akida")
        sources = _node_sources(layer, nodes[0]) if nodes else []
        for source in sources:
            if source not in by_name:
                raise layer.fail(f"takes its input from unknown layer {source!r}")
        if len(sources) > 1:
            raise layer.fail(f"merges {len(sources)} tensors ({', '.join(sources)}); Akida v1 models are "
                             "a single chain of layers (no merges)")
        for source in sources:
            consumers[source].append(layer.name)
    for name, cons in consumers.items():
        if len(cons) > 1:
            raise by_name[name].fail(f"feeds {len(cons)} layers ({', '.join(cons)}); Akida v1 models are "
                                     "a single chain of layers (no branches)")
    ends = {}
    for key in ("input_layers", "output_layers"):
        names = _tensor_names(config.get(key), key)
        if len(names) != 1:
            raise ModelImportError(None, None, f"the model has {len(names)} {key.split('_')[0]}s "
                                   f"({', '.join(names)}); only single-input, single-output models map to Akida")
        if names[0] not in by_name:
            raise ModelImportError(None, None, f"config.{key} names unknown layer {names[0]!r}")
        ends[key] = names[0]
    chain = [by_name[ends["input_layers"]]]
    while consumers[chain[-1].name]:
        chain.append(by_name[consumers[chain[-1].name][0]])
        if len(chain) > len(by_name):
            raise chain[-1].fail("is part of a cycle in the layer graph")
    if chain[-1].name != ends["output_layers"]:
        raise chain[-1].fail(f"ends the chain from the model input, but the model output is "
                             f"{ends['output_layers']!r}")
    on_chain = {layer.name for layer in chain}
    for _, layer in records:
        if layer.name not in on_chain:
            raise layer.fail("is not on the path from the model input to its output")
    return chain


def _model_chain(spec: Mapping[str, Any]) -> tuple[str, list[_KerasLayer], Any]:
    """Model name, its layers in data-flow order and the recorded batch input shape."""
    cls, config = spec.get("class_name"), spec.get("config")
    if cls == "Sequential":
        raw_layers = config.get("layers") if isinstance(config, Mapping) else config
        chain = [layer for _, layer in _layer_records(raw_layers)]
    elif cls in ("Functional", "Model"):
        if not isinstance(config, Mapping):
            raise ModelImportError(None, None, f"config of the {cls} model is not a mapping")
        chain = _functional_chain(config)
    else:
        raise ModelImportError(None, None, f"top-level class {_show(cls)} is not a Sequential or Functional model "
                               "(the config of a subclassed model has no layer graph)")
    name = config.get("name") if isinstance(config, Mapping) else None
    first = chain[0].config
    shape = first.get("batch_shape", first.get("batch_input_shape"))
    if shape is None and isinstance(config, Mapping):
        shape = config.get("build_input_shape")
    return (name if isinstance(name, str) else "keras_model"), chain, shape


def _input_shape(batch_shape: Any) -> tuple[tuple[int, int, int], bool]:
    """``(d0, d1, c)`` and whether the input is a flat vector (rank 2, read as 1×1×n)."""
    if batch_shape is None:
        raise ModelImportError(None, None, "the config does not record the input shape (no InputLayer with "
                               "batch_shape/batch_input_shape, no build_input_shape)")
    dims = batch_shape[1:] if isinstance(batch_shape, list) else None
    if dims is None or not all(_is_int(d) and d > 0 for d in dims) or len(dims) not in (1, 3):
        raise ModelImportError(None, None, f"input shape {_show(batch_shape)}: expected [batch, d0, d1, channels] "
                               "or [batch, features] with known positive sizes")
    if len(dims) == 1:
        return (1, 1, dims[0]), True
    return (dims[0], dims[1], dims[2]), False


# ---------------------------------------------------------------------- blocks
class _BlockReader:
    """Walks the chain once, grouping Keras layers into Akida layer dicts."""

    def __init__(self, shape: tuple[int, int, int], flat: bool, bits: _Bits, strict: bool):
        self.shape, self.flat, self.bits, self.strict = shape, flat, bits, strict
        self.image_input = not flat and shape[2] in (1, 3)
        self.blocks: list[_Block] = []
        self.block: _Block | None = None
        self.depthwise: _KerasLayer | None = None
        self.seen_processing = False
        self.rescaling: _KerasLayer | None = None
        self.unmapped: list[UnmappedLayer] = []

    def skip(self, layer: _KerasLayer, reason: str) -> None:
        if self.strict:
            raise layer.fail(reason)
        self.unmapped.append(UnmappedLayer(layer.name, layer.cls, reason))

    def read(self, chain: list[_KerasLayer]) -> None:
        last = max((i for i, l in enumerate(chain) if l.kind in _PROCESSING), default=-1)
        for i, layer in enumerate(chain):
            if self.depthwise is not None:
                depthwise, self.depthwise = self.depthwise, None
                if layer.kind == "Conv2D" and self._is_pointwise(layer):
                    self._start(depthwise, "SeparableConvolutional", layer)
                    continue
                self.skip(depthwise, "a DepthwiseConv2D maps to Akida only when a 1×1 Conv2D follows it "
                          f"directly (together they form a SeparableConvolutional layer); {layer.name!r} "
                          f"({layer.cls}) follows it")
                self.block = _Block(depthwise, {}, discard=True)
            self._dispatch(layer, after_last=i > last, is_last=i == last)
        if self.depthwise is not None:
            self.skip(self.depthwise, "a DepthwiseConv2D maps to Akida only when a 1×1 Conv2D follows it "
                      "directly; it is the last layer")
        for block in self.blocks:
            block.spec["activation"] = block.activated

    def _dispatch(self, layer: _KerasLayer, *, after_last: bool, is_last: bool) -> None:
        kind = layer.kind
        if kind in _PROCESSING:
            self._processing(layer, is_last)
        elif kind == "BatchNormalization":
            self._batch_norm(layer)
        elif kind in _POOLING:
            self._pooling(layer)
        elif kind == "ReLU":
            self._relu(layer)
        elif kind == "Activation":
            name = _activation_name(layer.config.get("activation"))
            if name in _RELU_NAMES:
                self._relu(layer)
            elif name in _FINAL_ACTIVATIONS:
                self._trailing(layer, after_last)
            elif name != "linear":
                self.skip(layer, self._activation_problem(name))
        elif kind in _TRAILING:
            self._trailing(layer, after_last)
        elif kind == "Flatten":
            self.shape, self.flat = (1, 1, math.prod(self.shape)), True
        elif kind == "Reshape":
            self._reshape(layer)
        elif kind == "Rescaling":
            if not self.seen_processing:
                self.rescaling = layer
        elif kind not in _ABSORBED:
            self.skip(layer, _UNSUPPORTED.get(kind, f"{kind} has no Akida v1 equivalent"))

    @staticmethod
    def _activation_problem(name: str | None) -> str:
        if name is None:
            return "its activation is serialized code or a custom object, which akida_nb never executes"
        return f"activation {name!r} has no Akida equivalent (Akida layers apply a quantized ReLU)"

    # -- processing layers
    def _processing(self, layer: _KerasLayer, is_last: bool) -> None:
        previous = self.block
        if previous is not None and not previous.discard and not previous.activated:
            self.skip(previous.layer, f"no activation between it and the next processing layer {layer.name!r}; "
                      "only the last Akida layer may have its activation off")
            self._activate(previous, None)  # lenient: an inner Akida layer always activates
        self.block = None
        problem = self._config_problem(layer, is_last)
        if problem is not None:
            self.skip(layer, problem)
            self.block = _Block(layer, {}, discard=True)
            self.seen_processing = True
        elif layer.kind == "DepthwiseConv2D":
            self.depthwise = layer
        elif layer.kind == "Dense":
            self._start(layer, "FullyConnected")
        elif layer.kind == "SeparableConv2D":
            self._start(layer, "SeparableConvolutional")
        elif not self.seen_processing and self.image_input:
            self._start(layer, "InputConvolutional")
        else:
            self._start(layer, "Convolutional")

    def _config_problem(self, layer: _KerasLayer, is_last: bool) -> str | None:
        cfg = layer.config
        name = _activation_name(cfg.get("activation", "linear"))
        if name not in ("linear",) + _RELU_NAMES and not (is_last and name in _FINAL_ACTIVATIONS):
            return self._activation_problem(name)
        if layer.kind == "DepthwiseConv2D" and name != "linear":
            return (f"its fused activation {name!r} would come between the depthwise and the pointwise "
                    "convolution of an Akida SeparableConvolutional layer")
        if layer.kind == "Dense":
            if not self.flat and self.shape[:2] != (1, 1):
                return (f"a Dense on a {self.shape[0]}×{self.shape[1]}×{self.shape[2]} tensor acts on its last "
                        "axis only, while Akida's FullyConnected takes the whole tensor; add a Flatten before it")
            return None
        if self.flat:
            return "a convolution on a flattened tensor"
        if cfg.get("data_format", "channels_last") != "channels_last":
            return f"data_format {_show(cfg.get('data_format'))}: Akida reads channels-last tensors"
        _padding(layer)
        if _pair(layer, "dilation_rate", 1) != (1, 1):
            return "dilated convolutions have no Akida equivalent"
        if cfg.get("groups", 1) != 1:
            return "grouped convolutions have no Akida equivalent"
        if cfg.get("depth_multiplier", 1) != 1:
            return f"depth_multiplier {_show(cfg.get('depth_multiplier'))}: Akida's separable layers use 1"
        return None

    def _is_pointwise(self, layer: _KerasLayer) -> bool:
        return (_pair(layer, "kernel_size") == (1, 1) and _pair(layer, "strides", 1) == (1, 1)
                and self._config_problem(layer, is_last=False) is None)

    def _start(self, layer: _KerasLayer, ltype: str, pointwise: _KerasLayer | None = None) -> None:
        self.seen_processing = True
        spec: dict[str, Any] = {"type": ltype, "name": layer.name}
        if ltype == "FullyConnected":
            spec["units"] = _positive(layer, "units")
            spec["weights_bits"] = _bitwidth(layer, "weight_quantizer") or self.bits.weights
            self.shape = (1, 1, spec["units"])
        else:
            kernel, strides = _pair(layer, "kernel_size"), _pair(layer, "strides", 1)
            filters = _positive(pointwise or layer, "filters")
            weights_bits = self._weights_bits(layer, ltype, pointwise)
            padding, value = self._effective_padding(layer, kernel, ltype, weights_bits)
            spec.update(kernel_size=list(kernel), filters=filters, kernel_stride=list(strides), padding=padding,
                        weights_bits=weights_bits)
            if ltype == "InputConvolutional":
                spec["padding_value"] = value
            self.shape = (conv_output_size(self.shape[0], kernel[0], strides[0], padding),
                          conv_output_size(self.shape[1], kernel[1], strides[1], padding), filters)
        self.block = _Block(layer, spec)
        self.blocks.append(self.block)
        name = _activation_name((pointwise or layer).config.get("activation", "linear"))
        if name in _RELU_NAMES:
            self._activate(self.block, None)

    def _effective_padding(self, layer: _KerasLayer, kernel: tuple[int, int], ltype: str,
                           weights_bits: int) -> tuple[str, int]:
        """Akida's ``padding`` and ``padding_value`` for a convolution, as cnn2snn (v1) converts it.

        A stored ``padding_value`` means the layer pads itself ('same' output shape, its config's
        ``"valid"`` is an implementation detail); a 1×1 kernel is always 'same'; otherwise the
        config's padding. The value is in the input's integer units, quantized as quantizeml does.
        """
        padding = _padding(layer)
        stored = layer.config.get("padding_value")
        rescaling = self.rescaling.config if self.rescaling is not None else {}
        if stored is not None:  # a value after the Rescaling: divided by its scale, it is in input units
            value = self._padding_value(layer, stored, _per_channel(layer, "padding_value", stored, lambda v: v),
                                        rescaling.get("scale", 1), weights_bits)
            if ltype != "InputConvolutional" and value != 0:
                self.skip(layer, f"padding_value {_show(stored)} on a {ltype} layer: only an Akida "
                          "InputConvolutional pads with a value other than 0")
            return "same", value
        if kernel == (1, 1):
            return "same", 0
        offset, scale = rescaling.get("offset", 0), rescaling.get("scale", 1)
        if (ltype == "InputConvolutional" and padding == "same" and self.rescaling is not None
                and (isinstance(offset, list) or isinstance(scale, list) or offset != 0)):
            # quantization will fold the offset into this conv and pad it with -offset (per channel / scale)
            minus_offset = _per_channel(self.rescaling, "offset", offset, lambda v: -v)
            return padding, self._padding_value(layer, offset, minus_offset, scale, weights_bits)
        return padding, 0

    def _padding_value(self, layer: _KerasLayer, stored: Any, values: list[float], scale: Any,
                       weights_bits: int) -> int:
        """Padding values (after a Rescaling of ``scale``) → Akida's integer ``padding_value`` (quantizeml's rule).

        Each ``v / scale`` (in input units) is quantized by :func:`_quantize_padding`; an Akida
        InputConvolutional pads every channel with one value in ``[0, 255]``.
        """
        scales = _per_channel(self.rescaling or layer, "scale", scale, lambda v: v)
        if len(values) != len(scales) and 1 not in (len(values), len(scales)):
            raise layer.fail(f"padding_value {_show(stored)} and the Rescaling scale {_show(scale)} have "
                             "different channel counts")
        n = max(len(values), len(scales))
        found = sorted({_quantize_padding(v / s, weights_bits)
                        for v, s in zip(values * (n // len(values)), scales * (n // len(scales)))})
        if len(found) > 1:
            self.skip(layer, f"padding_value {_show(stored)} differs between channels (quantized: {found}); an "
                      f"Akida InputConvolutional pads every channel with one value (mapped with {found[-1]})")
        if not 0 <= found[-1] <= 255:
            self.skip(layer, f"padding_value {_show(stored)} quantizes to {found[-1]}, outside the 8-bit input "
                      "range [0, 255]")
        return min(max(found[-1], 0), 255)

    def _weights_bits(self, layer: _KerasLayer, ltype: str, pointwise: _KerasLayer | None) -> int:
        if ltype == "InputConvolutional":
            return _bitwidth(layer, "weight_quantizer") or self.bits.input_weights
        if layer.kind == "SeparableConv2D":
            found = [_bitwidth(layer, "dw_weight_quantizer"), _bitwidth(layer, "pw_weight_quantizer")]
        elif pointwise is not None:
            found = [_bitwidth(layer, "weight_quantizer"), _bitwidth(pointwise, "weight_quantizer")]
        else:
            found = [_bitwidth(layer, "weight_quantizer")]
        known = [b for b in found if b is not None]
        if len(set(known)) > 1:
            self.skip(layer, f"depthwise and pointwise weights have different bit widths ({known[0]} and "
                      f"{known[1]}); an Akida SeparableConvolutional layer has one weights_bits (mapped with "
                      f"{max(known)})")
        return max(known) if known else self.bits.weights

    # -- followers
    def _open_block(self, layer: _KerasLayer, what: str, *, after_activation: bool = False) -> _Block | None:
        """The block a follower joins, or None (reported) when it cannot join one."""
        block = self.block
        if block is None:
            self.skip(layer, f"{what} with no processing layer before it to join")
            return None
        if block.discard:
            return None
        if block.activated and not after_activation:
            self.skip(layer, f"{what} after the activation of {block.layer.name!r}: Akida applies it before "
                      "the activation, so it cannot join that layer")
            return None
        return block

    def _batch_norm(self, layer: _KerasLayer) -> None:
        block = self._open_block(layer, "a BatchNormalization")
        if block is None:
            return
        if block.bn:
            self.skip(layer, f"a second BatchNormalization in the block of {block.layer.name!r}")
            return
        block.bn = True

    def _pooling(self, layer: _KerasLayer) -> None:
        # a max pool commutes with the (monotonic) ReLU: quantizeml moves one that follows the ReLU before it
        block = self._open_block(layer, "a pooling layer", after_activation=layer.kind == "MaxPooling2D")
        if block is None:
            return
        if block.pooled:
            self.skip(layer, f"a second pooling layer in the block of {block.layer.name!r} "
                      "(an Akida layer pools at most once)")
            return
        if block.spec["type"] == "FullyConnected":
            self.skip(layer, f"pooling after the Dense layer {block.layer.name!r}: FullyConnected layers do not pool")
            return
        if layer.config.get("data_format", "channels_last") != "channels_last":
            self.skip(layer, f"data_format {_show(layer.config.get('data_format'))}: Akida reads channels-last tensors")
            return
        d0, d1, c = self.shape
        if layer.kind == "GlobalAveragePooling2D":
            block.spec["pool_type"] = "average"
            self.shape, self.flat = (1, 1, c), not layer.config.get("keepdims", False)
        else:
            size = _pair(layer, "pool_size", 2)
            stride = size if layer.config.get("strides") is None else _pair(layer, "strides")
            keras_padding = _padding(layer)
            out = [(pool_output_size(n, p, s, keras_padding), pool_output_size(n, p, s, block.spec["padding"]))
                   for n, p, s in zip((d0, d1), size, stride)]
            if any(k != a for k, a in out):
                self.skip(layer, f"its {keras_padding!r} padding gives a {out[0][0]}×{out[1][0]} output, but an "
                          f"Akida layer pools with its convolution's {block.spec['padding']!r} padding "
                          f"({out[0][1]}×{out[1][1]})")
                return
            block.spec.update(pool_type="max", pool_size=list(size), pool_stride=list(stride))
            self.shape = (out[0][0], out[1][0], c)
        block.pooled = True

    def _relu(self, layer: _KerasLayer) -> None:
        for key in ("negative_slope", "threshold"):
            if layer.config.get(key) not in (None, 0, 0.0):
                self.skip(layer, f"a ReLU with {key} {_show(layer.config[key])} has no Akida equivalent")
                return
        block = self._open_block(layer, "an activation")
        if block is not None:
            self._activate(block, _bitwidth(layer, "output_quantizer"))

    def _activate(self, block: _Block, bits: int | None) -> None:
        block.activated = True
        block.spec["act_bits"] = bits or self.bits.act

    def _trailing(self, layer: _KerasLayer, after_last: bool) -> None:
        if not after_last:
            self.skip(layer, "only absorbed after the last processing layer (it ends the model's output)")

    def _reshape(self, layer: _KerasLayer) -> None:
        target = layer.config.get("target_shape")
        n = math.prod(self.shape)
        if isinstance(target, list):
            target = [n if t == -1 else t for t in target]
        if target == [1, 1, n]:
            self.shape, self.flat = (1, 1, n), False
        elif target == [n]:
            self.shape, self.flat = (1, 1, n), True
        else:
            self.skip(layer, f"a Reshape to {_show(layer.config.get('target_shape'))} has no Akida equivalent "
                      "(only (1, 1, N) or (N,) before a Dense layer)")


# ---------------------------------------------------------------------- public API
def _check_bits(**values: Any) -> None:
    for name, value in values.items():
        if not _is_int(value) or not 1 <= value <= 8:
            raise ModelImportError(None, None, f"{name} must be an int from 1 to 8, got {_show(value)}")


def from_keras_config(config: Mapping[str, Any] | str, *, strict: bool = True, weights_bits: int = 4,
                      act_bits: int = 4, input_bits: int = 4, input_weights_bits: int = 8,
                      source: str | None = None) -> Model:
    """Map a Keras model config (``model.to_json()`` or a ``.keras`` ``config.json``) to a native model.

    Keras layers are grouped into Akida layers as Akida's converter does (see the
    module docstring); the first ``Conv2D`` on an image input with 1 or 3 channels
    becomes an ``InputConvolutional`` layer with 8-bit input. Bit widths are read
    from quantizeml's ``quant_config`` (weight, depthwise/pointwise and output
    quantizers); float layers take them from the arguments.

    Parameters
    ----------
    config : mapping or str
        The config dict (``{"class_name": ..., "config": ...}``) or its JSON text.
    strict : bool
        ``True``: raise on the first Keras layer that cannot be mapped. ``False``:
        leave it out and list it in ``model.unmapped`` (:class:`UnmappedLayer`).
        A non-sequential graph or a malformed config raises either way.
    weights_bits, act_bits : int
        Weight and activation bit widths for float (non-quantized) layers.
    input_bits : int
        Bits of the model input when the first layer is not ``InputConvolutional``
        (which always takes 8-bit input).
    input_weights_bits : int
        Weight bits of a float ``InputConvolutional`` layer.
    source : str, optional
        Where the config came from (kept in ``model.source``).

    Returns
    -------
    Model

    Raises
    ------
    ModelImportError
        Naming the Keras layer, its class and why it cannot be mapped.

    Examples
    --------
    >>> layers = [
    ...     {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 16]}},
    ...     {"class_name": "SeparableConv2D", "config": {"name": "sep", "filters": 32,
    ...      "kernel_size": [3, 3], "padding": "same"}},
    ...     {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap"}},
    ...     {"class_name": "BatchNormalization", "config": {"name": "bn"}},
    ...     {"class_name": "ReLU", "config": {"name": "relu"}},
    ...     {"class_name": "Dense", "config": {"name": "out", "units": 4}},
    ...     {"class_name": "Activation", "config": {"name": "softmax", "activation": "softmax"}}]
    >>> cfg = {"class_name": "Sequential", "config": {"name": "kws", "layers": layers}}
    >>> m = from_keras_config(cfg, weights_bits=2, act_bits=2, input_bits=2)
    >>> [(l.type, l.pool_type, l.activation) for l in m.layers]
    [('SeparableConvolutional', 'average', True), ('FullyConnected', None, False)]

    A lenient import leaves out what it cannot map and says why:

    >>> layers.insert(1, {"class_name": "Lambda", "config": {"name": "scale", "function":
    ...     {"class_name": "__lambda__", "config": {"value": ["4wEAAAAA", None, None]}}}})
    >>> m = from_keras_config(cfg, weights_bits=2, act_bits=2, input_bits=2, strict=False)
    >>> print(*m.unmapped)
    scale (Lambda): a Lambda layer holds serialized Python code, which akida_nb never executes
    """
    _check_bits(weights_bits=weights_bits, act_bits=act_bits, input_bits=input_bits,
                input_weights_bits=input_weights_bits)
    try:
        if isinstance(config, str):
            try:
                config = parse_json(config, limit=MAX_CONFIG_BYTES)
            except SpecError as e:
                raise ModelImportError(None, None, e.problem) from None
        if not isinstance(config, Mapping) or "class_name" not in config:
            raise ModelImportError(None, None, "expected a Keras model config: a mapping with 'class_name' and "
                                   "'config'")
        name, chain, batch_shape = _model_chain(config)
        shape, flat = _input_shape(batch_shape)
        reader = _BlockReader(shape, flat, _Bits(weights_bits, act_bits, input_weights_bits), strict)
        reader.read(chain)
    except RecursionError:
        raise ModelImportError(None, None, "the config is nested too deeply to be a Keras model") from None
    if not reader.blocks:
        raise ModelImportError(None, None, "no Keras layer maps to an Akida layer" + "".join(
            f"; {u}" for u in reader.unmapped))
    first_is_input_conv = reader.blocks[0].spec["type"] == "InputConvolutional"
    spec = {"name": name,
            "input": {"shape": list(shape), "bits": 8 if first_is_input_conv else input_bits},
            "layers": [block.spec for block in reader.blocks]}
    try:
        model = Model.from_dict(spec, source=source)
    except SpecError as e:
        match = re.match(r"layers\[(\d+)\]", e.path)
        if match is None:
            raise ModelImportError(None, None, str(e)) from None
        layer = reader.blocks[int(match.group(1))].layer
        raise layer.fail(f"{e.problem} (Akida field {e.path})") from None
    return replace(model, unmapped=tuple(reader.unmapped))


def load_keras_archive(path: str | Path, *, strict: bool = True, weights_bits: int = 4, act_bits: int = 4,
                       input_bits: int = 4, input_weights_bits: int = 8,
                       max_config_bytes: int = MAX_CONFIG_BYTES) -> Model:
    """Read a Keras 3 / tf-keras ``.keras`` archive's ``config.json`` (in memory) and map it.

    Only the member named exactly ``config.json`` is read — never extracted, never
    larger than ``max_config_bytes`` (its declared size is checked before reading,
    and at most that many bytes are decompressed). The weights are not read.

    Parameters
    ----------
    path : str or Path
    strict, weights_bits, act_bits, input_bits, input_weights_bits
        As for :func:`from_keras_config`.
    max_config_bytes : int
        Largest uncompressed ``config.json`` accepted (64 MiB by default).

    Raises
    ------
    ModelImportError
        For a file that is not a zip, has no ``config.json``, holds too large or
        invalid JSON, or a config that cannot be mapped.

    Examples
    --------
    >>> import io, json, tempfile, zipfile, pathlib
    >>> cfg = {"module": "keras", "class_name": "Sequential", "registered_name": None, "config": {
    ...     "name": "mlp", "layers": [
    ...         {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
    ...          "config": {"batch_shape": [None, 64], "name": "input_layer"}},
    ...         {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
    ...          "config": {"name": "dense", "units": 10, "activation": "linear"}}]}}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mlp.keras"
    >>> with zipfile.ZipFile(path, "w") as zf:
    ...     zf.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
    ...     zf.writestr("config.json", json.dumps(cfg))
    >>> load_keras_archive(path, weights_bits=2, input_bits=2).layers[0].input_shape
    (1, 1, 64)
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo(_CONFIG_MEMBER)
            except KeyError:
                raise ModelImportError(None, None, f"{path}: no {_CONFIG_MEMBER} in the archive "
                                       "(not a Keras .keras file)") from None
            if info.file_size > max_config_bytes:
                raise ModelImportError(None, None, f"{path}: {_CONFIG_MEMBER} is {info.file_size} bytes "
                                       f"uncompressed, over the {max_config_bytes}-byte limit")
            with archive.open(info) as member:
                data = member.read(max_config_bytes + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError,
            RuntimeError, OSError) as e:
        raise ModelImportError(None, None, f"{path}: cannot read it as a Keras .keras archive ({e})") from None
    if len(data) > max_config_bytes:
        raise ModelImportError(None, None, f"{path}: {_CONFIG_MEMBER} is over the {max_config_bytes}-byte limit")
    try:
        config = parse_json(data, limit=max_config_bytes)
    except SpecError as e:
        raise ModelImportError(None, None, f"{one_line(str(path), 120)}: {_CONFIG_MEMBER} is "
                               f"{e.problem.replace('not UTF-8 text', 'not valid JSON: not UTF-8 text')}") from None
    return from_keras_config(config, strict=strict, weights_bits=weights_bits, act_bits=act_bits,
                             input_bits=input_bits, input_weights_bits=input_weights_bits, source=str(path))
