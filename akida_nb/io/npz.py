"""One file for a model with its variables: :func:`save` and :func:`load` (``ak.save`` / ``ak.load``).

The file is an ``.npz`` archive of plain arrays (no pickles: it is read with
``allow_pickle=False``):

- ``spec_json``: the model in the native format (:meth:`~akida_nb.Model.to_json`), a string;
- ``schema_version``: :data:`SCHEMA_VERSION`, an integer;
- ``L{i}_weights``, ``L{i}_weights_pw``, ``L{i}_threshold``, ``L{i}_act_step``: layer ``i``'s
  variables in engine layouts and dtypes (int8, int32, float32), present when the model has them.

:meth:`Simulator.from_npz <akida_nb.sim.Simulator.from_npz>` reads the same format (and golden runs,
which add the run's arrays and no ``schema_version``); both go through one reader,
:func:`akida_nb.sim.simulator.read_model_npz`, whose checks refuse pickled objects, archives that
would unpack beyond the memory available, and missing, misshaped or out-of-range arrays with
one-line errors naming the file and the array.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> import akida_nb as ak
>>> m = ak.example("gxnor_mnist")
>>> carried = ak.fix(m, "nsoc_v2", variables=ak.Simulator(m, seed=0)).model
>>> path = pathlib.Path(tempfile.mkdtemp()) / "gxnor.npz"
>>> ak.save(carried, path)
>>> back = ak.load(path)
>>> back == carried, np.array_equal(back.variables[0]["weights"], carried.variables[0]["weights"])
(True, True)
"""
from __future__ import annotations

import os
import re
from os import PathLike
from typing import Any

import numpy as np

from ..errors import SimulationError, brief, one_line
from ..model import Model, ensure_model
from ..sim.simulator import SCHEMA_VERSION, read_model_npz
from ..sim.variables import attach_variables, normalize_variables

__all__ = ["SCHEMA_VERSION", "load", "save"]

_VARIABLE = re.compile(r"L\d+_(weights|weights_pw|threshold|act_step)")


def save(model: Model, path: str | PathLike, variables: Any = None) -> None:
    """Write ``model`` and its variables to one ``.npz`` file at ``path`` (exactly that path).

    Parameters
    ----------
    model : Model
    path : str or path-like
        Written as given (no suffix is added); an existing file is replaced.
    variables : list of dict, dict by layer name, or Simulator, optional
        As the :class:`~akida_nb.Simulator` takes them. Without them, the variables the
        model carries (:attr:`~akida_nb.Model.variables`), if any; an explicit argument wins.

    Raises
    ------
    SimulationError
        Variables that do not fit the model, or a path that cannot be written.
    SpecError
        A ``model`` that is not a :class:`~akida_nb.Model`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import akida_nb as ak
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "kws.npz"
    >>> ak.save(ak.example("ds_cnn_kws"), path)
    >>> loaded = ak.load(path)
    >>> loaded == ak.example("ds_cnn_kws"), loaded.variables
    (True, None)
    """
    ensure_model(model)
    if variables is None:
        variables = model.variables
    arrays: dict[str, np.ndarray] = {"spec_json": np.array(model.to_json(indent=None)),
                                     "schema_version": np.array(SCHEMA_VERSION, np.int64)}
    if variables is not None:
        for i, layer_vars in enumerate(normalize_variables(model, variables)):
            arrays.update({f"L{i}_{key}": value for key, value in layer_vars.items()})
    if not isinstance(path, (str, PathLike)):
        raise SimulationError(None, "path", f"expected a file path, got {brief(path)}")
    try:
        with open(path, "wb") as f:
            np.savez_compressed(f, allow_pickle=False, **arrays)
    except OSError as e:
        reason = one_line(getattr(e, "strerror", None) or str(e), 80)
        raise SimulationError(None, "path", f"cannot write {brief(os.fspath(path))}: {reason}") from None


def load(path: str | PathLike) -> Model:
    """Read a model and its variables from an ``.npz`` file written by :func:`save`.

    The model carries its variables (:attr:`~akida_nb.Model.variables`; ``None`` when the
    file has none), so ``ak.Simulator(ak.load(path))`` runs with them. Arrays other than the
    model's (a golden run's ``input``, outputs, …) are ignored; ``Simulator.from_npz`` exposes them.

    Raises
    ------
    SimulationError
        A path that is not a regular readable ``.npz`` archive of plain arrays (pickled objects
        are refused), arrays beyond the memory available, no ``spec_json``, or a variable that
        is missing, misshaped, of a wrong dtype or out of range (naming the file and the array).
    SpecError
        A ``spec_json`` that is not the native model format, or another ``schema_version``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import akida_nb as ak
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.npz"
    >>> m = ak.example("vgg_utk_face")
    >>> ak.save(m, path, variables=ak.Simulator(m, seed=0))
    >>> ak.load(path).variables[-1]["act_step"].dtype
    dtype('float32')
    >>> ak.load(path.parent / "missing.npz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SimulationError: path: cannot read '...missing.npz': No such file or directory
    """
    model, variables, rest = read_model_npz(path)
    stray = sorted(k for k in rest if _VARIABLE.fullmatch(k))
    if stray:
        raise SimulationError(None, stray[0], f"{brief(os.fspath(path))} holds variables of no layer of "
                                              f"{brief(model.name)} ({len(model.layers)} layers): "
                                              f"{one_line(', '.join(stray), 120)}")
    return attach_variables(model, variables)
