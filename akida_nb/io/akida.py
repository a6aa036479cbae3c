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

Variables travel both ways: :func:`from_akida` reads every layer's ``weights``
(``weights_pw``), ``threshold`` and ``act_step`` into :attr:`Model.variables`, and
:func:`to_akida` builds an ``akida.Model`` (Akida v1 layers) and sets them. akida
stores them in the layouts the simulator uses (``(k0, k1, C, F)`` kernels, with the
InputConvolutional kernel as the cross-correlation it computes and the others as the
true convolution they compute; ``(1, 1, D0·D1·C, U)`` for a FullyConnected layer), so
they cross unchanged.

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

from ..errors import ModelImportError, SimulationError, SpecError, one_line
from ..model import LAYER_TYPES, Layer, Model, ensure_model
from ..sim.variables import VARIABLE_KEYS, attach_variables, normalize_variables

__all__ = ["AKIDA_EXTRA", "from_akida", "map_akida_layers", "to_akida"]

AKIDA_EXTRA = 'pip install "akida_nb[akida]"'
"""How to install BrainChip's ``akida`` package at the version this toolkit is tested with."""

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


def _import_akida(what: str) -> Any:
    try:
        import akida
    except ImportError:
        raise ModelImportError(None, None, f"{what} needs BrainChip's akida package ({AKIDA_EXTRA})") from None
    return akida


def _akida_variables(layers: list[Any], model: Model) -> list[dict[str, Any]]:
    """The variables of the mapped akida layers, as akida stores them, keyed by the native names."""
    out = []
    for layer, native in zip(layers, model.layers):
        names = set(layer.get_variable_names())
        missing = [key for key in VARIABLE_KEYS[native.type] if key not in names]
        if missing:
            raise ModelImportError(layer.name, native.type, f"akida stores no {', '.join(missing)} for this layer")
        out.append({key: layer.get_variable(key) for key in VARIABLE_KEYS[native.type]})
    return out


def from_akida(model: Any, *, name: str = "akida_model") -> Model:
    """Read an ``akida.Model`` made of Akida v1 layers into a native :class:`~akida_nb.Model` with its variables.

    Needs BrainChip's ``akida`` package; see :func:`map_akida_layers` for the mapping. The
    returned model carries every layer's ``weights`` (and ``weights_pw``), ``threshold``
    and ``act_step`` as akida stores them (:attr:`Model.variables`), so that
    ``Simulator(from_akida(m)).run(x).output`` equals ``m.forward(x)`` bit for bit.

    Parameters
    ----------
    model : akida.Model
    name : str
        Name of the native model.

    Raises
    ------
    ModelImportError
        When ``akida`` is not installed, ``model`` is not an ``akida.Model``, a layer is
        not an Akida v1 layer, or its variables are outside what the engine defines.

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
    >>> native = from_akida(m)  # doctest: +SKIP
    >>> native.layers[0].units, native.variables[0]["weights"].shape  # doctest: +SKIP
    (10, (1, 1, 64, 10))
    """
    akida = _import_akida("from_akida")
    if not isinstance(model, akida.Model):
        raise ModelImportError(None, None, f"expected an akida.Model, got {type(model).__name__}")
    native = map_akida_layers(model, name=name, enums={
        "layer_type": akida.LayerType, "padding": akida.Padding, "pool_type": akida.PoolType})
    layers = list(model.layers)
    layers = layers[len(layers) - len(native.layers):]  # without the InputData layer
    try:
        return attach_variables(native, _akida_variables(layers, native))
    except SimulationError as e:
        raise ModelImportError(e.layer, None, f"variable {e.variable}: {e.problem}") from None


_PADDING_NAMES = {v: k for k, v in _PADDINGS.items()}
_POOL_NAMES = {v: k for k, v in _POOL_TYPES.items()}


def _akida_layer(akida: Any, layer: Layer, model: Model) -> Any:
    """One akida v1 layer with the native layer's parameters (akida's own checks apply)."""
    kwargs: dict[str, Any] = {"name": layer.name, "weights_bits": layer.weights_bits,
                              "activation": layer.activation, "act_bits": layer.act_bits}
    if layer.type == "FullyConnected":
        return akida.FullyConnected(units=layer.units, **kwargs)
    kwargs.update(kernel_size=tuple(layer.kernel_size or ()), filters=layer.filters,
                  kernel_stride=tuple(layer.kernel_stride or ()),
                  padding=getattr(akida.Padding, _PADDING_NAMES[layer.padding or "same"]),
                  pool_type=getattr(akida.PoolType, _POOL_NAMES[layer.pool_type or "none"]))
    if layer.pool_type == "max":
        kwargs.update(pool_size=tuple(layer.pool_size or ()), pool_stride=tuple(layer.pool_stride or ()))
    if layer.type == "InputConvolutional":
        return akida.InputConvolutional(input_shape=model.input_shape, padding_value=layer.padding_value or 0,
                                        **kwargs)
    return getattr(akida, layer.type)(**kwargs)


def to_akida(model: Model, variables: Any = None) -> Any:
    """Build the ``akida.Model`` (Akida v1 layers, akida 2.x API) of a native model, with its variables.

    Needs BrainChip's ``akida`` package (``pip install "akida_nb[akida]"``), imported only
    here. ``from_akida(to_akida(m))`` gives ``m`` back with the same variables, and a model
    that passes ``ak.check(m, "akd1000")`` maps on ``akida.AKD1000()`` with ``hw_only=True``.

    Parameters
    ----------
    model : Model
    variables : list of dict, dict by layer name, or Simulator, optional
        As the :class:`~akida_nb.Simulator` takes them. Without them, the variables the
        model carries (:attr:`Model.variables`); an explicit argument wins.

    Returns
    -------
    akida.Model

    Raises
    ------
    ModelImportError
        When ``akida`` is not installed, the model carries no variables and none are
        given, or akida refuses a layer (naming it and akida's reason).
    SimulationError
        For variables that do not fit the model (naming the layer and the variable).

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.example("gxnor_mnist")
    >>> ak.to_akida(m)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    akida_nb.errors.ModelImportError: to_akida needs BrainChip's akida package (or: no variables)

    With ``akida`` installed:

    >>> import akida  # doctest: +SKIP
    >>> akm = ak.to_akida(m, ak.Simulator(m, seed=0))  # doctest: +SKIP
    >>> akm.map(akida.AKD1000(), hw_only=True)  # doctest: +SKIP
    >>> ak.from_akida(akm) == m  # doctest: +SKIP
    True
    """
    ensure_model(model)
    akida = _import_akida("to_akida")
    if variables is None:
        variables = model.variables
    if variables is None:
        raise ModelImportError(None, None, f"to_akida: model {model.name!r} carries no variables and none are "
                                           "given: pass variables= (ak.Simulator(model, seed=0) gives random ones)")
    checked = normalize_variables(model, variables)
    first = model.layers[0]
    if first.type == "InputConvolutional" and model.input_bits != 8:
        raise ModelImportError(first.name, first.type, f"akida's InputConvolutional reads 8-bit inputs; the "
                                                       f"model's input has {model.input_bits} bits")
    akm = akida.Model()
    if first.type != "InputConvolutional":
        names, input_name = {layer.name for layer in model.layers}, "input"
        while input_name in names:
            input_name += "_data"
        akm.add(akida.InputData(input_shape=model.input_shape, input_bits=model.input_bits, name=input_name))
    for layer, layer_vars in zip(model.layers, checked):
        try:
            akm.add(_akida_layer(akida, layer, model))
            for key, value in layer_vars.items():
                akm.layers[-1].set_variable(key, value)
        except (ValueError, RuntimeError, TypeError) as e:
            raise ModelImportError(layer.name, layer.type, f"akida refuses it: {one_line(str(e), 160)}") from None
    return akm
