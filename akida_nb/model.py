"""The native model format: :class:`Model` and :class:`Layer`, validation and shape inference.

A model is an input (shape ``[d0, d1, c]`` and bit width) and a sequence of Akida
layers. Shapes are arrays exactly as numpy holds them (see docs/design.md#axis-convention: d0 is
what Keras calls the height, d1 the width).

Examples
--------
>>> from akida_nb import Model
>>> m = Model.from_dict({
...     "input": {"shape": [32, 32, 3], "bits": 8},
...     "layers": [
...         {"type": "InputConvolutional", "kernel_size": 3, "filters": 16, "kernel_stride": 2},
...         {"type": "Convolutional", "kernel_size": 3, "filters": 32, "pool_type": "average"},
...         {"type": "FullyConnected", "units": 10, "activation": False},
...     ]})
>>> [layer.output_shape for layer in m.layers]
[(16, 16, 16), (1, 1, 32), (1, 1, 10)]
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

from ._safeload import parse_json, parse_yaml
from .errors import SpecError, brief, did_you_mean, one_line
from .present import describe_layer, format_shape, safe_text

__all__ = [
    "LAYER_TYPES",
    "MAX_SIZE",
    "NOT_APPLICABLE",
    "UNRESOLVED_SHAPE",
    "Layer",
    "Model",
    "conv_output_size",
    "ensure_model",
    "layer_macs",
    "model_macs",
    "pool_output_size",
]

LAYER_TYPES = ("InputConvolutional", "Convolutional", "SeparableConvolutional", "FullyConnected")
CONV_TYPES = LAYER_TYPES[:3]
PADDINGS = ("same", "valid")
POOL_TYPES = ("none", "max", "average")

_COMMON_KEYS = ("type", "name", "weights_bits", "act_bits", "activation")
_CONV_KEYS = _COMMON_KEYS + (
    "kernel_size", "filters", "kernel_stride", "padding", "pool_type", "pool_size", "pool_stride")
KEYS_BY_TYPE = {
    "InputConvolutional": _CONV_KEYS + ("padding_value",),
    "Convolutional": _CONV_KEYS,
    "SeparableConvolutional": _CONV_KEYS,
    "FullyConnected": _COMMON_KEYS + ("units",),
}
MAX_SIZE = 2**31 - 1
"""Largest size, count or stride accepted in a model (the engine's int32 indexing); larger is a SpecError."""
UNRESOLVED_SHAPE = (0, 0, 0)
"""``input_shape``/``output_shape``/``conv_shape`` of a :class:`Layer` that no :class:`Model` has resolved."""
_MODEL_KEYS = ("name", "input", "layers")
_INPUT_KEYS = ("shape", "bits")


def conv_output_size(n: int, kernel: int, stride: int, padding: str) -> int:
    """Output length of a convolution along one axis (TensorFlow's rule).

    ``same``: ``ceil(n / stride)``; ``valid``: ``(n - kernel) // stride + 1`` (may be ≤ 0,
    which means the output is empty).

    Examples
    --------
    >>> conv_output_size(49, 5, 2, "same"), conv_output_size(10, 3, 1, "valid")
    (25, 8)
    """
    if padding == "same":
        return -(-n // stride)
    return (n - kernel) // stride + 1


def pool_output_size(n: int, size: int, stride: int, padding: str) -> int:
    """Output length of max pooling along one axis: same ``ceil(n/stride)``, valid ``(n-size)//stride+1``.

    Examples
    --------
    >>> pool_output_size(7, 2, 2, "same"), pool_output_size(7, 2, 2, "valid")
    (4, 3)
    """
    return conv_output_size(n, size, stride, padding)


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _sizes(values: Any, n: int, path: str, what: str) -> tuple[int, ...]:
    if not isinstance(values, (list, tuple)) or len(values) != n or not all(_is_int(v) for v in values):
        raise SpecError(path, f"expected {what}, got {brief(values)}")
    if any(v <= 0 for v in values):
        raise SpecError(path, f"sizes must be positive, got {brief(list(values))}")
    if any(v > MAX_SIZE for v in values):
        raise SpecError(path, f"sizes are at most {MAX_SIZE} (2**31 - 1), got {brief(list(values))}")
    return tuple(int(v) for v in values)


def _pair(value: Any, path: str) -> tuple[int, int]:
    a, b = _sizes([value, value] if _is_int(value) else value, 2, path, "an int or a pair of ints")
    return (a, b)


def _positive_int(value: Any, path: str) -> int:
    if not _is_int(value):
        raise SpecError(path, f"expected an int, got {brief(value)}")
    (n,) = _sizes([value], 1, path, "an int")
    return n


def _text(value: Any, path: str, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or (not value and what == "a non-empty string"):
        raise SpecError(path, f"expected {what}, got {brief(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SpecError(path, f"{brief(value)} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def _bits(value: Any, path: str) -> int:
    if not _is_int(value):
        raise SpecError(path, f"expected an int bit width, got {brief(value)}")
    if not 1 <= value <= 8:
        raise SpecError(path, f"bit widths are 1 to 8, got {value}")
    return int(value)


def _choice(value: Any, options: Iterable[str], path: str) -> str:
    if not isinstance(value, str) or value not in options:
        raise SpecError(path, f"expected one of {', '.join(map(repr, options))}, got {brief(value)}")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(path, f"expected true or false, got {brief(value)}")
    return value


@dataclass(frozen=True)
class Layer:
    """One Akida layer, with every field explicit and the shapes inferred by its :class:`Model`.

    Build layers through :meth:`Model.from_dict`. Every layer of a :class:`Model` is
    resolved: ``index``, ``input_shape``, ``conv_shape``, ``output_shape`` and
    ``input_bits`` are set by the model. A layer built by hand (``ak.Layer(...)``, e.g.
    for :meth:`Model.replace_layers`) has ``index`` -1, shapes :data:`UNRESOLVED_SHAPE`
    and ``input_bits`` 0 until a model resolves it (see :attr:`resolved`). The
    convolution fields are ``None`` on a FullyConnected layer and ``units`` on the others.

    Examples
    --------
    >>> from akida_nb import example
    >>> layer = example("ds_cnn_kws").layers[0]
    >>> layer.type, layer.kernel_size, layer.output_shape
    ('InputConvolutional', (5, 5), (25, 5, 64))
    """

    type: str
    name: str
    weights_bits: int
    act_bits: int
    activation: bool = True
    kernel_size: tuple[int, int] | None = None
    filters: int | None = None
    kernel_stride: tuple[int, int] | None = None
    padding: str | None = None
    pool_type: str | None = None
    pool_size: tuple[int, int] | None = None
    pool_stride: tuple[int, int] | None = None
    padding_value: int | None = None
    units: int | None = None
    # set by Model (see the class docstring)
    index: int = -1
    input_shape: tuple[int, int, int] = field(default=UNRESOLVED_SHAPE, compare=False)
    output_shape: tuple[int, int, int] = field(default=UNRESOLVED_SHAPE, compare=False)
    conv_shape: tuple[int, int, int] = field(default=UNRESOLVED_SHAPE, compare=False)
    input_bits: int = field(default=0, compare=False)

    @property
    def resolved(self) -> bool:
        """True for a layer of a :class:`Model` (shapes and input bits set).

        Examples
        --------
        >>> from akida_nb import example
        >>> layer = example("gxnor_mnist").layers[0]
        >>> layer.resolved, Layer("FullyConnected", "fc", 2, 2, units=4).resolved
        (True, False)
        """
        return self.index >= 0 and self.input_bits > 0

    @property
    def is_conv(self) -> bool:
        """True for the three convolutional layer types."""
        return self.type in CONV_TYPES

    @property
    def outputs(self) -> int:
        """Number of output channels (filters or units).

        Examples
        --------
        >>> Layer("FullyConnected", "fc", 2, 2, units=4).outputs
        4
        """
        value = self.units if self.type == "FullyConnected" else self.filters
        if value is None:
            raise SpecError(f"layers[{self.index}]", f"layer {brief(self.name)} has no "
                            f"{'units' if self.type == 'FullyConnected' else 'filters'}")
        return value

    def geometry(self) -> tuple[tuple[int, int], tuple[int, int], str]:
        """``(kernel_size, kernel_stride, padding)`` of a convolutional layer (a SpecError on a FullyConnected).

        Examples
        --------
        >>> from akida_nb import example
        >>> example("ds_cnn_kws").layers[0].geometry()
        ((5, 5), (2, 2), 'same')
        """
        if self.kernel_size is None or self.kernel_stride is None or self.padding is None:
            raise SpecError(f"layers[{self.index}]", f"layer {brief(self.name)} ({self.type}) has no convolution")
        return self.kernel_size, self.kernel_stride, self.padding

    def pooling(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(pool_size, pool_stride)`` of a max-pooling layer (a SpecError otherwise).

        Examples
        --------
        >>> from akida_nb import example
        >>> example("gxnor_mnist").layers[0].pooling()
        ((2, 2), (2, 2))
        """
        if self.pool_size is None or self.pool_stride is None:
            raise SpecError(f"layers[{self.index}]", f"layer {brief(self.name)} does not max-pool")
        return self.pool_size, self.pool_stride

    def to_dict(self) -> dict[str, Any]:
        """Every field of the native format, defaults filled in (JSON-ready lists, not tuples).

        Examples
        --------
        >>> from akida_nb import example
        >>> example("ds_cnn_kws").layers[-1].to_dict()["units"]
        33
        """
        out: dict[str, Any] = {}
        for key in KEYS_BY_TYPE[self.type]:
            value = getattr(self, key)
            if key in ("pool_size", "pool_stride") and self.pool_type != "max":
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


def _key(key: Any) -> str:
    return one_line(str(key), 60)


def _parse_layer(raw: Any, i: int, previous_activation: bool | None) -> Layer:
    path = f"layers[{i}]"
    if not isinstance(raw, Mapping):
        raise SpecError(path, f"a layer must be a mapping, got {type(raw).__name__}")
    if "type" not in raw:
        raise SpecError(f"{path}.type", "missing (one of " + ", ".join(LAYER_TYPES) + ")")
    ltype = _choice(raw["type"], LAYER_TYPES, f"{path}.type")
    allowed = KEYS_BY_TYPE[ltype]
    for key in raw:
        if key not in allowed:
            raise SpecError(f"{path}.{_key(key)}", f"unknown key for a {ltype} layer (allowed: {', '.join(allowed)})")
    if previous_activation is False:
        raise SpecError(f"layers[{i - 1}].activation",
                        "activation off is only allowed on the last layer")
    name = _text(raw.get("name", f"L{i}_{ltype}"), f"{path}.name")
    kw: dict[str, Any] = {
        "type": ltype, "name": name, "index": i,
        "weights_bits": _bits(raw.get("weights_bits", 2 if ltype == "SeparableConvolutional" else 1),
                              f"{path}.weights_bits"),
        "act_bits": _bits(raw.get("act_bits", 1), f"{path}.act_bits"),
        "activation": _bool(raw.get("activation", True), f"{path}.activation"),
    }
    if ltype == "FullyConnected":
        if "units" not in raw:
            raise SpecError(f"{path}.units", "missing (required for FullyConnected)")
        kw["units"] = _positive_int(raw["units"], f"{path}.units")
        return Layer(**kw)
    for key in ("kernel_size", "filters"):
        if key not in raw:
            raise SpecError(f"{path}.{key}", f"missing (required for {ltype})")
    kw["kernel_size"] = _pair(raw["kernel_size"], f"{path}.kernel_size")
    kw["filters"] = _positive_int(raw["filters"], f"{path}.filters")
    kw["kernel_stride"] = _pair(raw.get("kernel_stride", 1), f"{path}.kernel_stride")
    kw["padding"] = _choice(raw.get("padding", "same"), PADDINGS, f"{path}.padding")
    pool_type = _choice(raw.get("pool_type", "none"), POOL_TYPES, f"{path}.pool_type")
    kw["pool_type"] = pool_type
    if pool_type == "max":
        if "pool_size" not in raw:
            raise SpecError(f"{path}.pool_size", "missing (required when pool_type is 'max')")
        kw["pool_size"] = _pair(raw["pool_size"], f"{path}.pool_size")
        kw["pool_stride"] = _pair(raw.get("pool_stride", kw["pool_size"]), f"{path}.pool_stride")
    else:
        for key in ("pool_size", "pool_stride"):
            if key in raw and raw[key] not in (None, -1, [-1, -1]):
                raise SpecError(f"{path}.{key}", f"only meaningful when pool_type is 'max' (it is {pool_type!r})")
    if ltype == "InputConvolutional":
        pv = raw.get("padding_value", 0)
        if not _is_int(pv):
            raise SpecError(f"{path}.padding_value", f"expected an int, got {brief(pv)}")
        kw["padding_value"] = int(pv)
    return Layer(**kw)


def _infer(layer: Layer, in_shape: tuple[int, int, int], in_bits: int, path: str) -> Layer:
    d0, d1, _ = in_shape
    outputs = layer.outputs
    if layer.type == "FullyConnected":
        return replace(layer, input_shape=in_shape, input_bits=in_bits,
                       conv_shape=(1, 1, outputs), output_shape=(1, 1, outputs))
    (k0, k1), (s0, s1), padding = layer.geometry()
    if layer.padding_value is not None and not 0 <= layer.padding_value <= (1 << in_bits) - 1:
        raise SpecError(f"{path}.padding_value", f"must be an input value in [0, {(1 << in_bits) - 1}] "
                        f"({in_bits}-bit input), got {brief(layer.padding_value)}")
    o0 = conv_output_size(d0, k0, s0, padding)
    o1 = conv_output_size(d1, k1, s1, padding)
    if o0 <= 0 or o1 <= 0:
        raise SpecError(f"{path}.kernel_size",
                        f"empty output: a {k0}×{k1} kernel with 'valid' padding does not fit the "
                        f"{d0}×{d1} input")
    conv_shape = (o0, o1, outputs)
    out: tuple[int, int, int]
    if layer.pool_type == "average":
        out = (1, 1, outputs)
    elif layer.pool_type == "max":
        (p0, p1), (t0, t1) = layer.pooling()
        q0 = pool_output_size(o0, p0, t0, padding)
        q1 = pool_output_size(o1, p1, t1, padding)
        if q0 <= 0 or q1 <= 0:
            raise SpecError(f"{path}.pool_size",
                            f"empty output: a {p0}×{p1} 'valid' pool does not fit the {o0}×{o1} "
                            "convolution output")
        out = (q0, q1, outputs)
    else:
        out = conv_shape
    return replace(layer, input_shape=in_shape, input_bits=in_bits, conv_shape=conv_shape, output_shape=out)


def ensure_model(obj: Any, where: str = "model") -> Model:
    """``obj`` itself when it is a :class:`Model`, else the one error every entry point raises.

    Parameters
    ----------
    obj : object
        What the caller was given as a model.
    where : str
        The argument's name, used as the error's path.

    Raises
    ------
    SpecError
        ``model: expected an akida_nb.Model, got dict (load one with ak.load_model or ak.Model.from_dict)``.

    Examples
    --------
    >>> import akida_nb as ak
    >>> ensure_model(ak.example("gxnor_mnist")).input_shape
    (28, 28, 1)
    >>> ensure_model({"layers": []})  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: model: expected an akida_nb.Model, got dict
        (load one with ak.load_model or ak.Model.from_dict)
    """
    if not isinstance(obj, Model):
        raise SpecError(where, f"expected an akida_nb.Model, got {type(obj).__name__} "
                               "(load one with ak.load_model or ak.Model.from_dict)")
    return obj


@dataclass(frozen=True)
class Model:
    """An Akida model in the native format: an input and a sequence of :class:`Layer`.

    Construct with :meth:`from_dict`, :meth:`from_json`, :meth:`from_yaml`,
    :func:`akida_nb.load_model` or :func:`akida_nb.example`. Models are immutable;
    fixes return new models.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.example("ds_cnn_kws")
    >>> m.input_shape, len(m.layers), m.layers[-1].output_shape
    ((49, 10, 1), 6, (1, 1, 33))
    """

    name: str
    input_shape: tuple[int, int, int]
    input_bits: int
    layers: tuple[Layer, ...]
    unmapped: tuple = field(default=(), compare=False)
    source: str | None = field(default=None, compare=False)
    variables: tuple[Mapping[str, Any], ...] | None = field(default=None, compare=False, repr=False)
    """Per layer, the variables the model carries (read-only int8/int32/float32 arrays), or None.

    Set by :func:`akida_nb.from_akida`, :func:`akida_nb.load` and :func:`akida_nb.fix`; not part of
    :meth:`to_dict` nor of equality (structure only). Wherever a function takes ``variables=``, an
    explicit argument wins over these. A model made from another by :meth:`replace_layers` carries none."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], *, source: str | None = None) -> Model:
        """Validate a native-format dict and infer every layer's shapes and input bits.

        Raises
        ------
        SpecError
            Naming the path (``layers[2].kernel_size``) and the problem.

        Examples
        --------
        >>> Model.from_dict({"input": {"shape": [8, 8, 2]},
        ...                  "layers": [{"type": "FullyConnected", "units": 4}]}).layers[0].input_bits
        4
        """
        if not isinstance(spec, Mapping):
            raise SpecError("", f"a model spec must be a mapping, got {type(spec).__name__}")
        for key in spec:
            if key not in _MODEL_KEYS:
                raise SpecError(_key(key), f"unknown key (allowed: {', '.join(_MODEL_KEYS)})")
        if "input" not in spec:
            raise SpecError("input", "missing (a mapping with 'shape' and 'bits')")
        raw_input = spec["input"]
        if not isinstance(raw_input, Mapping):
            raise SpecError("input", f"expected a mapping, got {type(raw_input).__name__}")
        for key in raw_input:
            if key not in _INPUT_KEYS:
                raise SpecError(f"input.{_key(key)}", f"unknown key (allowed: {', '.join(_INPUT_KEYS)})")
        if "shape" not in raw_input:
            raise SpecError("input.shape", "missing ([d0, d1, channels])")
        d0, d1, c = _sizes(raw_input["shape"], 3, "input.shape", "[d0, d1, channels] as ints")
        raw_layers = spec.get("layers")
        if raw_layers is None:
            raise SpecError("layers", "missing (a non-empty list of layers)")
        if not isinstance(raw_layers, (list, tuple)):
            raise SpecError("layers", f"expected a list, got {type(raw_layers).__name__}")
        if not raw_layers:
            raise SpecError("layers", "a model needs at least one layer")
        name = _text(spec.get("name", "model"), "name", "a string")
        first_is_input_conv = isinstance(raw_layers[0], Mapping) and raw_layers[0].get("type") == "InputConvolutional"
        bits = _bits(raw_input.get("bits", 8 if first_is_input_conv else 4), "input.bits")

        layers = []
        in_shape: tuple[int, int, int] = (d0, d1, c)
        in_bits, prev_act = bits, None
        names = set()
        for i, raw in enumerate(raw_layers):
            layer = _parse_layer(raw, i, prev_act)
            if layer.name in names:
                raise SpecError(f"layers[{i}].name", f"duplicate layer name {brief(layer.name)}")
            names.add(layer.name)
            layer = _infer(layer, in_shape, in_bits, f"layers[{i}]")
            layers.append(layer)
            in_shape, in_bits, prev_act = layer.output_shape, layer.act_bits, layer.activation
        return cls(name=name, input_shape=(d0, d1, c), input_bits=bits,
                   layers=tuple(layers), source=source)

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None) -> Model:
        """Parse a JSON string in the native format.

        Examples
        --------
        >>> Model.from_json('{"input": {"shape": [4, 4, 8]}, "layers": [{"type": "FullyConnected", "units": 2}]}').name
        'model'
        """
        return cls.from_dict(parse_json(text, source or ""), source=source)

    @classmethod
    def from_yaml(cls, text: str, *, source: str | None = None) -> Model:
        """Parse a YAML string in the native format (safe loader: no object construction).

        Examples
        --------
        >>> Model.from_yaml("input: {shape: [4, 4, 8]}\\nlayers:\\n- {type: FullyConnected, units: 2}").layers[0].units
        2
        """
        return cls.from_dict(parse_yaml(text, source or ""), source=source)

    def to_dict(self) -> dict[str, Any]:
        """The native-format dict with every default written out; ``from_dict(to_dict())`` is the identity.

        Examples
        --------
        >>> import akida_nb as ak
        >>> m = ak.example("vgg_utk_face")
        >>> ak.Model.from_dict(m.to_dict()) == m
        True
        """
        return {
            "name": self.name,
            "input": {"shape": list(self.input_shape), "bits": self.input_bits},
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def to_json(self, indent: int | None = 1) -> str:
        """The native format as a JSON string (see :meth:`to_dict`).

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.Model.from_json(ak.example("gxnor_mnist").to_json()) == ak.example("gxnor_mnist")
        True
        """
        return json.dumps(self.to_dict(), indent=indent)

    def replace_layers(self, layers: Iterable[Mapping[str, Any] | Layer], name: str | None = None) -> Model:
        """A new model with other layers (dicts or :class:`Layer`), shapes re-inferred.

        Examples
        --------
        >>> import akida_nb as ak
        >>> m = ak.example("ds_cnn_kws")
        >>> len(m.replace_layers(m.layers[:-1]).layers)
        5
        """
        spec = self.to_dict()
        spec["layers"] = [l.to_dict() if isinstance(l, Layer) else dict(l) for l in layers]
        if name is not None:
            spec["name"] = name
        return Model.from_dict(spec, source=self.source)

    # ------------------------------------------------------------------ views
    @property
    def output_shape(self) -> tuple[int, int, int]:
        """Shape of the last layer's output."""
        return self.layers[-1].output_shape

    def layer(self, key: int | str) -> Layer:
        """A layer by index or by name.

        Examples
        --------
        >>> import akida_nb as ak
        >>> ak.example("ds_cnn_kws").layer("dense_5").units
        33
        """
        if isinstance(key, int) and not isinstance(key, bool):
            if not -len(self.layers) <= key < len(self.layers):
                raise SpecError("layers", f"no layer {brief(key)}: the model has {len(self.layers)} layers "
                                f"(indices 0 to {len(self.layers) - 1})")
            return self.layers[key]
        if not isinstance(key, str):
            raise SpecError("layers", f"expected a layer index (int) or name (str), got {brief(key)}")
        for layer in self.layers:
            if layer.name == key:
                return layer
        names = one_line(", ".join(l.name for l in self.layers), 200)
        raise SpecError("layers", f"no layer named {brief(key)} ({did_you_mean(key, (l.name for l in self.layers))}"
                        f"layers: {names})")

    def summary(self):
        """Per-layer DataFrame: name, type, shapes, bits, then outputs, kernel/stride/padding/pool, activation.

        The bit columns come right after the shapes, so a narrow output shows them without
        scrolling sideways. ``input_bits`` and ``weights_bits`` are integers; ``act_bits`` is
        the activation's bits, or :data:`NOT_APPLICABLE` (``"—"``) for a layer without
        activation (its output is its potentials). The convolution fields a layer does not
        have (a FullyConnected's kernel, stride and padding; no pooling) are ``"—"`` too,
        so no raw ``<NA>`` or blank cell is shown. A plain pandas DataFrame.

        Examples
        --------
        >>> import akida_nb as ak
        >>> df = ak.example("ds_cnn_kws").summary()
        >>> df.loc[0, "output_shape"], list(df.columns[:7])
        ('25×5×64', ['name', 'type', 'input_shape', 'output_shape', 'input_bits', 'weights_bits', 'act_bits'])
        >>> df.loc[5, ["type", "kernel", "act_bits"]].tolist()
        ['FullyConnected', '—', '—']
        """
        import pandas as pd

        rows = []
        for l in self.layers:
            rows.append({
                "name": l.name, "type": l.type,
                "input_shape": fmt_shape(l.input_shape), "output_shape": fmt_shape(l.output_shape),
                "input_bits": l.input_bits, "weights_bits": l.weights_bits,
                "act_bits": l.act_bits if l.activation else NOT_APPLICABLE, "outputs": l.outputs,
                "kernel": fmt_pair(l.kernel_size) or NOT_APPLICABLE,
                "stride": fmt_pair(l.kernel_stride) or NOT_APPLICABLE,
                "padding": l.padding or NOT_APPLICABLE, "pool": _fmt_pool(l) or NOT_APPLICABLE,
                "activation": l.activation,
            })
        df = pd.DataFrame(rows)
        df.index.name = "layer"
        return df

    def _repr_html_(self) -> str:
        """The model at a glance: one box per layer with type, shapes and bits (:func:`akida_nb.html.model_diagram`)."""
        from .html import model_diagram

        return model_diagram(self)

    def __repr__(self) -> str:
        lines = [(f"Model {self.name!r}: input {fmt_shape(self.input_shape)} ({self.input_bits}-bit), "
                  f"{len(self.layers)} layers, output {fmt_shape(self.output_shape)}")]
        for l in self.layers:
            lines.append(f"  [{l.index}] {safe_text(describe_layer(l))}")
        if self.unmapped:
            lines.append(f"  unmapped: {safe_text(', '.join(str(u) for u in self.unmapped))}")
        return "\n".join(lines)


NOT_APPLICABLE = "—"
"""What :meth:`Model.summary` shows in a field a layer does not have (a FullyConnected's kernel)."""


def fmt_shape(shape) -> str:
    """``(25, 5, 64)`` → ``'25×5×64'``.

    Examples
    --------
    >>> fmt_shape((25, 5, 64)), fmt_shape(None)
    ('25×5×64', '')
    """
    return format_shape(shape)


def fmt_pair(pair) -> str:
    """``(3, 3)`` → ``'3×3'``; ``None`` → ``''``.

    Examples
    --------
    >>> fmt_pair((3, 5))
    '3×5'
    """
    return format_shape(pair)


def _fmt_pool(l: Layer) -> str:
    if l.pool_type == "max":
        return f"max {fmt_pair(l.pool_size)}/{fmt_pair(l.pool_stride)}"
    if l.pool_type == "average":
        return "global average"
    return ""


def model_macs(model: Model) -> int:
    """Multiply-accumulates of one inference: the sum of :func:`layer_macs` over the layers.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.model import model_macs
    >>> model_macs(ak.example("gxnor_mnist")) > 0
    True
    >>> m = ak.Model.from_dict({"input": {"shape": [4, 4, 2]}, "layers": [{"type": "FullyConnected", "units": 3}]})
    >>> model_macs(m)
    96
    """
    return sum(layer_macs(layer) for layer in ensure_model(model).layers)


def layer_macs(layer: Layer) -> int:
    """Multiply-accumulates of one sample through a layer of a built model, at its convolution output.

    A convolution costs ``d0·d1·k0·k1·C_in·F`` (before pooling), a separable one
    ``d0·d1·C_in·(k0·k1 + F)`` (depthwise then pointwise), a FullyConnected ``inputs·units``.
    Pooling and activations are not counted.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.model import layer_macs
    >>> layer_macs(ak.example("gxnor_mnist").layers[0])   # 28×28 outputs (before pooling) × 5×5 × 1 × 32
    627200

    Raises
    ------
    SpecError
        ``layer`` is not a layer of a built model (``model.layers[i]``).
    """
    if not isinstance(layer, Layer) or layer.input_shape == UNRESOLVED_SHAPE:
        raise SpecError("layer", f"expected a layer of a built model (model.layers[i]), got {brief(layer)}")
    c_in = layer.input_shape[2]
    if layer.type == "FullyConnected":
        return math.prod(layer.input_shape) * layer.outputs
    (k0, k1), _, _ = layer.geometry()
    positions = layer.conv_shape[0] * layer.conv_shape[1]
    if layer.type == "SeparableConvolutional":
        return positions * c_in * (k0 * k1 + layer.outputs)
    return positions * k0 * k1 * c_in * layer.outputs
