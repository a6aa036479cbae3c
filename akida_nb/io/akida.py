"""Read an ``akida.Model`` built from Akida v1 layers into the native format.

:func:`from_akida` needs BrainChip's ``akida`` package (imported only when it is
called). The mapping itself, :func:`map_akida_layers`, only reads attributes —
``model.layers``, ``layer.name`` and ``layer.parameters`` with akida's v1 names
(``layer_type``, ``kernel_size``, ``filters``, ``kernel_stride``, ``padding``,
``pool_type``, ``pool_size``, ``pool_stride``, ``weights_bits``, ``act_bits``,
``activation``, ``units``, ``padding_value``, and the input shape and
``input_bits`` of an ``InputData`` layer) — so any object of that shape maps.

akida stores a pair as ``*_width``/``*_height`` or ``*_x``/``*_y`` and hands it back
as ``[width, height]``; its width is the numpy axis d0 and its height d1, so the
pairs read as ``[d0, d1]`` unchanged. The input shape is ``input_shape`` or
``input_width``, ``input_height``, ``input_channels`` (what akida 2 stores).

Examples
--------
>>> from types import SimpleNamespace as NS
>>> data = NS(name="input", parameters=NS(layer_type="InputData", input_shape=(1, 1, 64), input_bits=2))
>>> fc = NS(name="fc", parameters=NS(layer_type="FullyConnected", units=10, weights_bits=2,
...                                  act_bits=1, activation=False))
>>> map_akida_layers(NS(layers=[data, fc])).layers[0].output_shape
(1, 1, 10)
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ModelImportError, SpecError
from ..model import LAYER_TYPES, Model

__all__ = ["from_akida", "map_akida_layers"]

_PADDINGS = {"Same": "same", "Valid": "valid"}
_POOL_TYPES = {"NoPooling": "none", "Max": "max", "Average": "average"}


def _enum_name(value: Any, field: str, enums: Mapping[str, Callable[[int], Any]]) -> str:
    """``"Max"`` from ``akida.PoolType.Max``, its text ``"PoolType.Max"``, or its int value."""
    if isinstance(value, int) and not isinstance(value, bool) and field in enums:
        value = enums[field](value)
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else str(value).rsplit(".", 1)[-1]


def _ints(value: Any) -> list[int]:
    return [int(v) for v in value]


def _param(params: Any, name: str) -> Any:
    """A parameter, or None when absent (akida's LayerParams raises ValueError for unknown keys)."""
    try:
        return getattr(params, name)
    except (AttributeError, KeyError, ValueError):
        return None


def _input_shape(layer: Any, layer_type: str) -> list[int]:
    p = layer.parameters
    shape = _param(p, "input_shape")
    if shape is None:
        shape = [_param(p, key) for key in ("input_width", "input_height", "input_channels")]
    if any(v is None for v in shape):
        raise ModelImportError(layer.name, layer_type, "its parameters record no input shape")
    return _ints(shape)


def _layer_spec(layer: Any, enums: Mapping[str, Callable[[int], Any]]) -> dict[str, Any]:
    p = layer.parameters
    ltype = _enum_name(p.layer_type, "layer_type", enums)
    if ltype not in LAYER_TYPES:
        raise ModelImportError(layer.name, ltype, "not an Akida v1 layer type (akida_nb maps InputData, "
                               + ", ".join(LAYER_TYPES) + ")")
    spec: dict[str, Any] = {"type": ltype, "name": layer.name, "weights_bits": int(p.weights_bits),
                            "act_bits": int(p.act_bits), "activation": bool(p.activation)}
    if ltype == "FullyConnected":
        spec["units"] = int(p.units)
        return spec
    padding = _PADDINGS.get(_enum_name(p.padding, "padding", enums))
    pool_type = _POOL_TYPES.get(_enum_name(p.pool_type, "pool_type", enums))
    if padding is None or pool_type is None:
        raise ModelImportError(layer.name, ltype, f"unknown padding {p.padding!r} or pool_type {p.pool_type!r}")
    spec.update(kernel_size=_ints(p.kernel_size), filters=int(p.filters), kernel_stride=_ints(p.kernel_stride),
                padding=padding, pool_type=pool_type)
    if pool_type == "max":
        size, stride = _ints(p.pool_size), _ints(p.pool_stride)
        spec.update(pool_size=size, pool_stride=size if min(stride) <= 0 else stride)  # akida: -1 = pool size
    if ltype == "InputConvolutional":
        spec["padding_value"] = int(p.padding_value)
    return spec


def map_akida_layers(model: Any, *, name: str = "akida_model",
                     enums: Mapping[str, Callable[[int], Any]] | None = None) -> Model:
    """Map an object shaped like an ``akida.Model`` (v1 layers) to a native :class:`~akida_nb.Model`.

    Parameters
    ----------
    model : object
        Has ``.layers``; each layer has ``.name`` and ``.parameters`` with akida's
        v1 parameter names. Enum-valued parameters (``layer_type``, ``padding``,
        ``pool_type``) may be enums, their names, or ints when ``enums`` says how
        to convert them.
    name : str
        Name of the native model.
    enums : mapping, optional
        ``{"layer_type": akida.LayerType, "padding": akida.Padding, "pool_type": akida.PoolType}``
        — callables turning an int parameter value into its enum.

    Returns
    -------
    Model

    Raises
    ------
    ModelImportError
        For a layer that is not an Akida v1 layer, or parameters the native format rejects.

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> conv = NS(name="conv", parameters=NS(
    ...     layer_type="InputConvolutional", input_shape=(32, 32, 3), kernel_size=(3, 3), filters=16,
    ...     kernel_stride=(1, 1), padding="Same", pool_type="Max", pool_size=(2, 2), pool_stride=(-1, -1),
    ...     weights_bits=8, act_bits=4, activation=True, padding_value=0))
    >>> layer = map_akida_layers(NS(layers=[conv])).layers[0]
    >>> layer.type, layer.pool_stride, layer.output_shape
    ('InputConvolutional', (2, 2), (16, 16, 16))
    """
    enums = enums or {}
    layers = list(model.layers)
    if not layers:
        raise ModelImportError(None, None, "the akida model has no layers")
    first = layers[0]
    first_type = _enum_name(first.parameters.layer_type, "layer_type", enums)
    if first_type == "InputData":
        bits, layers = int(first.parameters.input_bits), layers[1:]
    elif first_type == "InputConvolutional":
        bits = 8
    else:
        raise ModelImportError(first.name, first_type,
                               "an Akida v1 model starts with an InputData or InputConvolutional layer")
    if not layers:
        raise ModelImportError(first.name, first_type, "the akida model has no layer after its input")
    layer_specs = [_layer_spec(layer, enums) for layer in layers]
    spec = {"name": name, "input": {"shape": _input_shape(first, first_type), "bits": bits}, "layers": layer_specs}
    try:
        return Model.from_dict(spec)
    except SpecError as e:
        match = re.match(r"layers\[(\d+)\]", e.path)
        if match is None:
            raise ModelImportError(None, None, str(e)) from None
        layer = layers[int(match.group(1))]
        raise ModelImportError(layer.name, layer_specs[int(match.group(1))]["type"],
                               f"{e.problem} ({e.path})") from None


def from_akida(model: Any, *, name: str = "akida_model") -> Model:
    """Read an ``akida.Model`` made of Akida v1 layers into a native :class:`~akida_nb.Model`.

    Needs BrainChip's ``akida`` package; see :func:`map_akida_layers` for the mapping.

    Parameters
    ----------
    model : akida.Model
    name : str
        Name of the native model.

    Raises
    ------
    ModelImportError
        When ``akida`` is not installed, ``model`` is not an ``akida.Model``, or a
        layer is not an Akida v1 layer.

    Examples
    --------
    >>> from akida_nb.io import from_akida
    >>> from_akida("not a model")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    akida_nb.errors.ModelImportError: expected an akida.Model (or akida is not installed)

    With ``akida`` installed:

    >>> import akida  # doctest: +SKIP
    >>> m = akida.Model(layers=[akida.InputData(input_shape=(1, 1, 64), input_bits=2),  # doctest: +SKIP
    ...                         akida.FullyConnected(units=10, weights_bits=2, activation=False)])
    >>> from_akida(m).layers[0].units  # doctest: +SKIP
    10
    """
    try:
        import akida
    except ImportError:
        raise ModelImportError(None, None, "from_akida needs BrainChip's akida package "
                               "(pip install akida)") from None
    if not isinstance(model, akida.Model):
        raise ModelImportError(None, None, f"expected an akida.Model, got {type(model).__name__}")
    return map_akida_layers(model, name=name, enums={
        "layer_type": akida.LayerType, "padding": akida.Padding, "pool_type": akida.PoolType})
