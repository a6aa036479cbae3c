"""Where the packaged data lives: target tables, example models (some with trained variables), data sets, CSS.

In an installed wheel the repository's ``data/`` folder is shipped as
``akida_nb/data``; in a source checkout (editable install) it is read from the
repository itself. Nothing here depends on the current directory.

Examples
--------
>>> from akida_nb.resources import data_dir
>>> {"nsoc_v1", "nsoc_v2"} <= {p.stem for p in (data_dir() / "targets").glob("*.yaml")}
True
"""
from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SpecError, brief, did_you_mean

__all__ = ["data_dir", "example", "example_data", "example_datasets", "examples", "model_path",
           "packaged_folder", "schema_file", "static_text"]

_MODEL_SUFFIXES = (".json", ".npz")
"""Packaged example files: a spec (``.json``), or a spec with its variables (``.npz``, read by ``ak.load``)."""


@cache
def data_dir() -> Path:
    """The folder holding ``targets/`` and ``models/``.

    Examples
    --------
    >>> (data_dir() / "models").is_dir()
    True
    """
    return packaged_folder("data", "data", probe="targets")


def packaged_folder(name: str, checkout: str, probe: str = ".") -> Path:
    """``akida_nb/<name>`` in an installed wheel, else the repository's ``<checkout>`` folder (a source checkout).

    The wheel's copy counts when its ``probe`` subfolder exists.

    Examples
    --------
    >>> packaged_folder("data", "data", probe="targets") == data_dir()
    True
    """
    packaged = Path(str(resources.files("akida_nb"))) / name
    if (packaged / probe).is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / checkout


def static_text(name: str) -> str:
    """Text of a file in ``akida_nb/static`` (CSS for the HTML reprs).

    Examples
    --------
    >>> "--jp-" in static_text("report.css")
    True
    """
    return (resources.files("akida_nb") / "static" / name).read_text(encoding="utf-8")


def schema_file(name: str) -> dict[str, Any]:
    """A packaged JSON schema (``akida_nb/schemas/<name>.schema.json``), parsed; a fresh dict at every call.

    Examples
    --------
    >>> schema_file("target")["type"]
    'object'
    """
    import json

    return json.loads((resources.files("akida_nb") / "schemas" / f"{name}.schema.json").read_text("utf-8"))


def model_path(name: str) -> Path:
    """Path of a packaged example model, by name (a ``.json`` spec, or an ``.npz`` with variables).

    Only the packaged names of :func:`examples` are accepted: a path, a name with a
    separator or ``..`` is refused, so no file outside the package is ever read.

    Raises
    ------
    SpecError
        When no example has that name (the message lists them).

    Examples
    --------
    >>> model_path("ds_cnn_kws").name, model_path("digits_cnn").name
    ('ds_cnn_kws.json', 'digits_cnn.npz')
    >>> model_path("../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: name: no example model named '../../etc/passwd'; examples: akidanet_edge_...
    """
    known = examples()
    if not isinstance(name, str) or name not in known:
        raise SpecError("name", f"no example model named {brief(name)}; {did_you_mean(name, known)}"
                        f"examples: {', '.join(known)}")
    folder = data_dir() / "models"
    return next(folder / f"{name}{suffix}" for suffix in _MODEL_SUFFIXES if (folder / f"{name}{suffix}").is_file())


def examples() -> list[str]:
    """Names of the packaged example models, sorted.

    Most are structures only (random variables come from ``ak.Simulator(model, seed=…)``);
    ``digits_cnn`` carries the trained variables of a small model converted by cnn2snn
    (see :func:`example_data` for its test digits).

    Examples
    --------
    >>> {"ds_cnn_kws", "digits_cnn"} <= set(examples())
    True
    """
    return sorted({p.stem for p in (data_dir() / "models").iterdir() if p.suffix in _MODEL_SUFFIXES})


def example(name: str):
    """Load a packaged example model by name (see :func:`examples`), with its variables if it ships them.

    Examples
    --------
    >>> example("vgg_utk_face").input_shape, example("vgg_utk_face").variables
    ((32, 32, 3), None)
    >>> m = example("digits_cnn")  # trained on scikit-learn's 8×8 digits, converted by cnn2snn
    >>> m.input_shape, m.variables[0]["weights"].shape
    ((8, 8, 1), (3, 3, 1, 16))
    """
    path = model_path(name)
    if path.suffix == ".npz":
        from .io.npz import load

        return load(path)
    from .io.load import load_model

    return load_model(path)


def example_datasets() -> list[str]:
    """Names of the packaged data sets that :func:`example_data` reads, sorted.

    Examples
    --------
    >>> example_datasets()
    ['digits']
    """
    return sorted(p.stem.removesuffix("_test") for p in (data_dir() / "datasets").glob("*_test.npz"))


def example_data(name: str) -> tuple[Any, Any]:
    """The packaged test split of a data set, as ``(x, y)``: uint8 inputs and int64 labels.

    ``"digits"``: the 450 test digits of scikit-learn's 8×8 digits (``x`` of shape
    ``(450, 8, 8, 1)``, pixels ``round(v * 255 / 16)``; the split of ``train_test_split(test_size=0.25,
    stratify=y, random_state=0)``), the inputs of the trained example ``digits_cnn``.

    Raises
    ------
    SpecError
        When no data set has that name (the message lists them).

    Examples
    --------
    >>> import numpy as np
    >>> import akida_nb as ak
    >>> x, y = ak.example_data("digits")
    >>> x.shape, x.dtype, np.bincount(y).tolist()[:3]
    ((450, 8, 8, 1), dtype('uint8'), [45, 46, 44])
    >>> out = ak.Simulator(ak.example("digits_cnn")).run(x[:10], keep="output").output
    >>> out.reshape(10, -1).argmax(axis=1).tolist() == y[:10].tolist()
    True
    """
    import numpy as np

    known = example_datasets()
    if not isinstance(name, str) or name not in known:
        raise SpecError("name", f"no example data set named {brief(name)}; {did_you_mean(name, known)}"
                          f"data sets: {', '.join(known)}")
    with np.load(data_dir() / "datasets" / f"{name}_test.npz", allow_pickle=False) as data:
        return data["x"], data["y"]
