"""Where the packaged data lives: target tables, example models, CSS.

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

from .errors import SpecError, brief

__all__ = ["data_dir", "example", "examples", "model_path", "static_text"]


@cache
def data_dir() -> Path:
    """The folder holding ``targets/`` and ``models/``.

    Examples
    --------
    >>> (data_dir() / "models").is_dir()
    True
    """
    packaged = Path(str(resources.files("akida_nb"))) / "data"
    if (packaged / "targets").is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "data"


def static_text(name: str) -> str:
    """Text of a file in ``akida_nb/static`` (CSS for the HTML reprs).

    Examples
    --------
    >>> "--jp-" in static_text("report.css")
    True
    """
    return (resources.files("akida_nb") / "static" / name).read_text(encoding="utf-8")


def model_path(name: str) -> Path:
    """Path of a packaged example model, by name.

    Only the packaged names of :func:`examples` are accepted: a path, a name with a
    separator or ``..`` is refused, so no file outside the package is ever read.

    Raises
    ------
    SpecError
        When no example has that name (the message lists them).

    Examples
    --------
    >>> model_path("ds_cnn_kws").name
    'ds_cnn_kws.json'
    >>> model_path("../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: name: no example model named '../../etc/passwd'; examples: akidanet_edge_...
    """
    known = examples()
    if not isinstance(name, str) or name not in known:
        raise SpecError("name", f"no example model named {brief(name)}; examples: {', '.join(known)}")
    return data_dir() / "models" / f"{name}.json"


def examples() -> list[str]:
    """Names of the packaged example models, sorted.

    Examples
    --------
    >>> "ds_cnn_kws" in examples()
    True
    """
    return sorted(p.stem for p in (data_dir() / "models").glob("*.json"))


def example(name: str):
    """Load a packaged example model by name (see :func:`examples`).

    Examples
    --------
    >>> example("vgg_utk_face").input_shape
    (32, 32, 3)
    """
    from .io.load import load_model

    return load_model(model_path(name))
