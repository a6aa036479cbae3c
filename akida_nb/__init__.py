"""akida_nb: explore, check and teach BrainChip Akida NSoC hardware constraints in Jupyter.

``ak.plot`` (matplotlib figures) and ``ak.widgets`` (ipywidgets dashboards) are loaded on
first access, so ``import akida_nb`` (and ``from akida_nb import *``) imports neither
matplotlib nor ipywidgets; they are not in ``__all__``.

Examples
--------
>>> import akida_nb as ak
>>> ak.check(ak.example("ds_cnn_kws"), "nsoc_v2").ok
True
"""
from ._versions import show_versions
from .check import check, compare
from .errors import (
    AkidaNbError,
    FixError,
    ModelImportError,
    PlotError,
    SimulationError,
    SpecError,
    UnknownTargetError,
)
from .evaluate import Evaluation, evaluate
from .fixes import FixResult, applicable_fixes, fix, list_fixes
from .io import from_akida, from_keras_config, load_model, save, to_akida
from .io.npz import load
from .model import Layer, Model
from .nps import estimate_nps
from .report import Comparison, CompatibilityReport
from .resources import example, example_data, examples
from .sim import SimulationResult, Simulator
from .sweep import Space, sweep
from .targets import (
    compare_constraints,
    constraints,
    default_targets,
    get_target,
    register_target,
    registered_target,
    style_differences,
    targets,
    unregister_target,
)

__version__ = "0.1.0"

__all__ = [
    "AkidaNbError", "Comparison", "CompatibilityReport", "Evaluation", "FixError", "FixResult", "Layer", "Model",
    "ModelImportError", "PlotError", "SimulationError", "SimulationResult", "Simulator", "Space", "SpecError",
    "UnknownTargetError", "applicable_fixes", "check", "compare", "compare_constraints", "constraints",
    "default_targets",
    "estimate_nps", "evaluate", "example", "example_data", "examples", "fix", "from_akida", "from_keras_config",
    "get_target", "list_fixes", "load", "load_model", "register_target", "registered_target", "save",
    "show_versions", "style_differences", "sweep", "targets", "to_akida", "unregister_target",
]

_LAZY_SUBMODULES = ("plot", "widgets")


def __getattr__(name: str):
    """Import ``ak.plot`` / ``ak.widgets`` on first access."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))
