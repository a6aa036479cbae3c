"""The front door for model files: :func:`load_model` reads a path and dispatches on its suffix.

Native ``.json``/``.yaml``/``.yml`` files and Keras ``to_json()`` files are read with the
hardened readers of :mod:`akida_nb._safeload` (regular files of at most
:data:`~akida_nb._safeload.MAX_FILE_BYTES`, bounded depth and alias expansion, no
duplicate keys); ``.keras`` archives go to :func:`~akida_nb.io.keras.load_keras_archive`
(its own 64 MiB cap on ``config.json``).

Examples
--------
>>> from akida_nb.io import load_model
>>> from akida_nb.resources import model_path
>>> load_model(model_path("gxnor_mnist")).input_shape
(28, 28, 1)
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._safeload import MAX_FILE_BYTES, parse_json, parse_yaml, read_text, regular_file
from ..errors import SpecError, brief, one_line
from ..model import Model
from .keras import MAX_CONFIG_BYTES, from_keras_config, load_keras_archive

__all__ = ["SUFFIXES", "load_model"]

SUFFIXES = (".json", ".yaml", ".yml", ".keras")
"""File suffixes :func:`load_model` reads."""


def load_model(path: str | os.PathLike, *, strict: bool = True, **kwargs: Any) -> Model:
    """Load a model file: native ``.json``/``.yaml``/``.yml``, or a Keras config (``.json``/``.keras``).

    A ``.json`` file is read as a Keras ``model.to_json()`` config when it has
    Keras's ``class_name``/``config`` keys, otherwise as the native format.
    Native files are limited to 16 MiB and Keras ``.json`` configs to 64 MiB;
    directories, FIFOs and devices are refused without being opened.

    Parameters
    ----------
    path : str or Path
    strict : bool
        For Keras files: raise on layers that cannot be mapped (``True``) or list
        them in ``model.unmapped`` (``False``).
    **kwargs
        Passed to :func:`akida_nb.from_keras_config` (bit widths for float models).

    Raises
    ------
    SpecError
        For a path that is not a readable regular file of a known type, or a native
        model that is malformed.
    ModelImportError
        For a Keras file that cannot be read or mapped.

    Examples
    --------
    >>> import akida_nb as ak
    >>> from akida_nb.resources import model_path
    >>> ak.load_model(model_path("ds_cnn_kws")).name
    'ds_cnn_kws_v1'
    >>> ak.load_model(None)
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: path: expected a file path (str or Path), got None
    """
    if not isinstance(path, (str, os.PathLike)):
        raise SpecError("path", f"expected a file path (str or Path), got {brief(path)}")
    path = Path(path)
    where = one_line(str(path), 120)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SpecError(where, f"unsupported file type {brief(suffix)} (expected {', '.join(SUFFIXES)})")
    if suffix == ".keras":
        regular_file(path, limit=2**62, where=where)  # the archive's config.json has its own cap
        return load_keras_archive(path, strict=strict, **kwargs)
    text = read_text(path, limit=MAX_CONFIG_BYTES if suffix == ".json" else MAX_FILE_BYTES, where=where)
    native_kwargs = ", ".join(sorted(kwargs))
    if suffix == ".json":
        spec = parse_json(text, where, limit=MAX_CONFIG_BYTES)
        if isinstance(spec, Mapping) and "class_name" in spec and "config" in spec:
            return from_keras_config(spec, strict=strict, source=str(path), **kwargs)
        if len(text) > MAX_FILE_BYTES:
            raise SpecError(where, f"over the {MAX_FILE_BYTES}-byte limit for native model files")
    else:
        spec = parse_yaml(text, where)
    if kwargs:
        raise SpecError("", f"{native_kwargs}: only Keras models take these (a native model states its bits)")
    return Model.from_dict(spec, source=str(path))
