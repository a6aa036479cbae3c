"""The packaged tutorials and their copy into a folder of the user's (``akida-nb lab``).

The tutorial notebooks ship in the wheel (``akida_nb/tutorials``; ``notebooks/`` in a source checkout).
:func:`sync_tutorials` copies them into a folder and writes a manifest there (``.akida_nb_manifest.json``:
the package version and the SHA-256 of every file as copied). A later run, by the same or a later version,
updates the files whose content still matches the manifest (untouched since they were copied) and never
overwrites a file the user edited, nor a file of the same name that it did not copy.

Examples
--------
>>> import tempfile, pathlib
>>> from akida_nb.lab import sync_tutorials
>>> with tempfile.TemporaryDirectory() as d:
...     first = sync_tutorials(d)
...     again = sync_tutorials(d)
>>> len(first["copied"]) == len(again["unchanged"]) > 0, again["copied"], again["kept"]
(True, [], [])
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from .errors import SpecError, brief
from .resources import packaged_folder

__all__ = ["MANIFEST", "sync_tutorials", "tutorials", "tutorials_dir"]

MANIFEST = ".akida_nb_manifest.json"
"""Name of the manifest file written into the folder the tutorials are copied to."""


def tutorials_dir() -> Path:
    """The folder of the packaged tutorial notebooks.

    Examples
    --------
    >>> (tutorials_dir() / "01_constraint_tables.ipynb").is_file()
    True
    """
    return packaged_folder("tutorials", "notebooks")


def tutorials() -> list[Path]:
    """The packaged tutorial notebooks, sorted by name.

    Examples
    --------
    >>> [p.name for p in tutorials()][:2]
    ['01_constraint_tables.ipynb', '02_check_a_model.ipynb']
    """
    return sorted(tutorials_dir().glob("*.ipynb"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_manifest(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError, OSError):
        raise SpecError(MANIFEST, f"unreadable manifest {brief(str(path))}: delete it to start afresh") from None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise SpecError(MANIFEST, f"malformed manifest {brief(str(path))}: delete it to start afresh")
    return files


def sync_tutorials(dest: str | Path, source: str | Path | None = None) -> dict[str, list[str]]:
    """Copy the tutorials into ``dest``, updating untouched copies and keeping the user's edits.

    Parameters
    ----------
    dest : str or Path
        The folder (created when missing).
    source : str or Path, optional
        Where the notebooks come from (default: :func:`tutorials_dir`).

    Returns
    -------
    dict of str to list of str
        File names by what happened: ``copied`` (new in ``dest``), ``updated`` (untouched since copied,
        replaced by the new version), ``unchanged`` (already the same), ``kept`` (edited by the user, or
        not copied by us: left as they are).

    Raises
    ------
    SpecError
        When ``dest`` or ``source`` is not a folder, or the manifest is unreadable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = sync_tutorials(d)
    ...     mine = pathlib.Path(d) / "01_constraint_tables.ipynb"
    ...     _ = mine.write_text("{}")                       # the user's edit
    ...     result = sync_tutorials(d)
    ...     kept = mine.read_text()
    >>> result["kept"], kept
    (['01_constraint_tables.ipynb'], '{}')
    """
    for name, value in (("dir", dest), ("source", source)):
        if not isinstance(value, (str, os.PathLike)) and not (name == "source" and value is None):
            raise SpecError(name, f"expected a folder path, got {brief(value)}")
    dest = Path(dest)
    src_dir = Path(source) if source is not None else tutorials_dir()
    if not src_dir.is_dir():
        raise SpecError("source", f"{brief(str(src_dir))} is not a folder")
    if dest.exists() and not dest.is_dir():
        raise SpecError("dir", f"{brief(str(dest))} exists and is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / MANIFEST
    recorded = _read_manifest(manifest_path)
    result: dict[str, list[str]] = {"copied": [], "updated": [], "unchanged": [], "kept": []}
    files = dict(recorded)
    for src in sorted(src_dir.glob("*.ipynb")):
        target, new = dest / src.name, _digest(src)
        if not target.exists():
            outcome = "copied"
        else:
            have = _digest(target) if target.is_file() else None
            if have == new:
                result["unchanged"].append(src.name)
                files[src.name] = new
                continue
            if have is None or recorded.get(src.name) != have:
                result["kept"].append(src.name)
                continue
            outcome = "updated"
        shutil.copyfile(src, target)
        files[src.name] = new
        result[outcome].append(src.name)
    from . import __version__

    manifest_path.write_text(json.dumps({"akida_nb": __version__, "files": files}, indent=1, sort_keys=True) + "\n",
                             encoding="utf-8")
    return result
