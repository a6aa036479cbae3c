"""Loaders for foreign model descriptions: Keras configs (read without TensorFlow) and ``akida.Model`` objects.

Native JSON/YAML files are read by :func:`akida_nb.load_model`, which also
dispatches ``.keras`` archives and Keras ``to_json()`` files here.
"""
from .akida import from_akida, map_akida_layers
from .keras import MAX_CONFIG_BYTES, UnmappedLayer, from_keras_config, load_keras_archive

__all__ = ["from_akida", "map_akida_layers", "from_keras_config", "load_keras_archive", "UnmappedLayer",
           "MAX_CONFIG_BYTES"]
