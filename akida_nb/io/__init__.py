"""Loaders for foreign model descriptions: Keras configs (read without TensorFlow) and ``akida.Model`` objects.

:func:`load_model` (:mod:`.load`) is the front door for files: it reads native
JSON/YAML models with the hardened readers of :mod:`akida_nb._safeload` (re-exported
here as :func:`read_text`, :func:`parse_json`, :func:`parse_yaml`) and dispatches
``.keras`` archives and Keras ``to_json()`` files to :mod:`.keras`. A model with its
variables is one ``.npz`` file: :func:`save` here, ``ak.load`` (:func:`akida_nb.io.npz.load`;
``akida_nb.io.load`` stays the module of :func:`load_model`).

Examples
--------
>>> from akida_nb.io import parse_json
>>> parse_json('{"a": 1}')
{'a': 1}
"""
from .._safeload import MAX_FILE_BYTES, parse_json, parse_yaml, read_text, regular_file
from .akida import from_akida, map_akida_layers, to_akida
from .keras import MAX_CONFIG_BYTES, UnmappedLayer, from_keras_config, load_keras_archive
from .load import load_model
from .npz import SCHEMA_VERSION, save

__all__ = [
           "MAX_CONFIG_BYTES",
           "MAX_FILE_BYTES",
           "SCHEMA_VERSION",
           "UnmappedLayer",
           "from_akida",
           "from_keras_config",
           "load_keras_archive",
           "load_model",
           "map_akida_layers",
           "parse_json",
           "parse_yaml",
           "read_text",
           "regular_file",
           "save",
           "to_akida",
]
