"""Bit-exact numpy simulator of Akida layers: pure kernels (:mod:`.kernels`) and the :class:`Simulator`.

Examples
--------
>>> import numpy as np
>>> import akida_nb as ak
>>> from akida_nb.sim import Simulator
>>> out = Simulator(ak.example("ds_cnn_kws"), seed=0).run(np.zeros((2, 49, 10, 1), np.uint8))
>>> out.events_per_sample.shape
(2, 6)
"""
from . import kernels
from .simulator import KeptArrays, SimulationResult, Simulator, memory_budget, variable_shapes

__all__ = ["KeptArrays", "SimulationResult", "Simulator", "kernels", "memory_budget", "variable_shapes"]
