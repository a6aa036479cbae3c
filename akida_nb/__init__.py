"""akida_nb: explore, check and teach BrainChip Akida NSoC hardware constraints in Jupyter."""
from .errors import AkidaNbError, ModelImportError, SimulationError, SpecError, UnknownTargetError
from .model import Layer, Model, load_model
from .resources import example, examples

__version__ = "0.1.0"
