"""Loaders for foreign model descriptions: Keras configs, read without TensorFlow.

Native JSON/YAML files are read by :func:`akida_nb.load_model`, which also
dispatches ``.keras`` archives and Keras ``to_json()`` files here.
"""
from .keras import MAX_CONFIG_BYTES, UnmappedLayer, from_keras_config, load_keras_archive

__all__ = ["from_keras_config", "load_keras_archive", "UnmappedLayer", "MAX_CONFIG_BYTES"]
