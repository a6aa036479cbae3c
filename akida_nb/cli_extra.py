"""The ``akida-nb lab`` and ``akida-nb app`` commands (wired into :mod:`akida_nb.cli` by ``add_parsers``).

``akida-nb lab [DIR] [--no-start] [--port N] [--no-browser]`` copies the packaged tutorials into ``DIR`` (default
``./akida_nb_tutorials``; see :func:`akida_nb.lab.sync_tutorials`: untouched copies are updated, the user's
edits never overwritten) and starts JupyterLab there (the ``lab`` extra).

``akida-nb app MODEL [-t TARGET]... [--port N] [--host H] [--no-browser]`` serves the Explorer
(:class:`akida_nb.widgets.Explorer`) for a model file or a packaged example as a standalone web page with
Voilà (the ``app`` extra), on 127.0.0.1 and a free port by default, until interrupted.

Exit status: the server's own (0 after Ctrl-C); 2 with a one-line error for a bad model, a bad folder or a
missing extra. ``python -m akida_nb.cli_extra lab|app ...`` runs them alone.

Examples
--------
>>> import argparse
>>> from akida_nb.cli_extra import add_parsers
>>> p = argparse.ArgumentParser(prog="akida-nb")
>>> add_parsers(p.add_subparsers(dest="command"))
>>> args = p.parse_args(["app", "ds_cnn_kws", "-t", "akd1000"])
>>> args.command, args.model, args.targets, args.host
('app', 'ds_cnn_kws', ['akd1000'], '127.0.0.1')
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .errors import AkidaNbError, SpecError, brief

__all__ = ["add_parsers", "app_notebook", "main", "run_app", "run_lab"]

DEFAULT_LAB_DIR = "akida_nb_tutorials"


def add_parsers(subparsers) -> None:
    """Add the ``lab`` and ``app`` sub-commands to an ``argparse`` sub-parser set.

    Each sets ``args.run`` to the function that runs it (:func:`run_lab`, :func:`run_app`).

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_parsers(p.add_subparsers(dest="command"))
    >>> p.parse_args(["lab", "--no-start"]).dir
    'akida_nb_tutorials'
    """
    lab = subparsers.add_parser("lab", help="copy the tutorials into DIR and open JupyterLab there")
    lab.add_argument("dir", nargs="?", default=DEFAULT_LAB_DIR, metavar="DIR",
                     help=f"where the tutorials go (default: ./{DEFAULT_LAB_DIR})")
    lab.add_argument("--no-start", action="store_true", help="copy (or update) the tutorials only")
    lab.add_argument("--port", type=int, default=0, help="JupyterLab's port (default: its own choice)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.set_defaults(run=run_lab)
    app = subparsers.add_parser("app", help="serve the Explorer for a model as a web page (Voilà)")
    app.add_argument("model", help="a model file (.json, .yaml, .yml, Keras .json/.keras) or an example name")
    app.add_argument("--target", "-t", action="append", dest="targets",
                     help="the target shown first (repeat for side by side; default: ak.default_targets())")
    app.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    app.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    app.add_argument("--no-browser", action="store_true", help="do not open a browser")
    app.set_defaults(run=run_app)


def _error(message: object) -> int:
    print(f"akida-nb: error: {message}", file=sys.stderr)
    return 2


def _missing(module: str, extra: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed: pip install \"akida_nb[{extra}]\""
    return None


def _package_env() -> dict[str, str]:
    """The environment of a server: this akida_nb first on the kernel's path."""
    parent = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": parent + (os.pathsep + path if path else "")}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _serve(cmd: list[str], cwd: Path) -> int:
    """Run a server until it exits; Ctrl-C or SIGTERM stop it (and its kernels) and return 0."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=_package_env())
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread: SIGTERM keeps its handler
        previous = None
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_lab(args: argparse.Namespace) -> int:
    """Copy the tutorials into ``args.dir`` and, unless ``args.no_start``, run JupyterLab there.

    Examples
    --------
    >>> import argparse, tempfile, contextlib, io
    >>> from akida_nb.lab import tutorials
    >>> with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()) as out:
    ...     status = run_lab(argparse.Namespace(dir=d, no_start=True))
    >>> status, f"copied {len(tutorials())}" in out.getvalue(), len(tutorials()) >= 6
    (0, True, True)
    """
    from .lab import sync_tutorials

    try:
        result = sync_tutorials(args.dir)
    except (AkidaNbError, OSError) as e:
        return _error(e)
    counts = ", ".join(f"{k} {len(v)}" for k, v in result.items() if v)
    print(f"akida-nb lab: tutorials in {args.dir}: {counts}")
    for name in result["kept"]:
        print(f"akida-nb lab: kept your {name} (edited since it was copied); this version's is not copied")
    if args.no_start:
        return 0
    missing = _missing("jupyterlab", "lab")
    if missing:
        return _error(missing)
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(args.dir).resolve()}"]
    cmd += ([f"--port={args.port}"] if getattr(args, "port", 0) else [])
    cmd += (["--no-browser"] if getattr(args, "no_browser", False) else [])
    return _serve(cmd, Path(args.dir))


def _model_source(spec: str) -> str:
    """Python code that loads the model ``spec`` names (checked here first: errors surface before serving)."""
    from .io import load_model
    from .resources import example, examples

    if not isinstance(spec, (str, os.PathLike)):
        raise SpecError("model", f"expected a model file or an example name, got {brief(spec)}")
    path = Path(spec)
    if not path.exists() and spec in examples():
        example(spec)
        return f"ak.example({spec!r})"
    load_model(path)
    return f"ak.load_model({str(path.resolve())!r})"


def app_notebook(model: str, targets: str | Sequence[str] | None = None) -> dict:
    """The notebook (nbformat 4, as a dict) that Voilà serves: the Explorer for ``model``.

    Raises
    ------
    AkidaNbError
        When the model cannot be read, or a target is unknown.

    Examples
    --------
    >>> nb = app_notebook("ds_cnn_kws", ["nsoc_v2"])
    >>> nb["cells"][0]["source"].splitlines()[-1]
    "ak.widgets.Explorer(model, target=('nsoc_v2',))"
    >>> app_notebook("no_such_model.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: ...no_such_model.json...
    """
    from .targets import get_target

    load = _model_source(model)
    if isinstance(targets, str):
        targets = [targets]
    chosen = tuple(get_target(t).name for t in targets) if targets else None
    code = ("import akida_nb as ak\n"
            f"model = {load}\n"
            + (f"ak.widgets.Explorer(model, target={chosen!r})" if chosen else "ak.widgets.Explorer(model)"))
    return {"nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "cells": [{"cell_type": "code", "id": "explorer", "metadata": {}, "execution_count": None,
                       "outputs": [], "source": code}]}


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run_app(args: argparse.Namespace) -> int:
    """Serve the Explorer for ``args.model`` with Voilà until interrupted.

    Examples
    --------
    >>> import argparse
    >>> run_app(argparse.Namespace(model="no_such_model.json", targets=None, host="127.0.0.1", port=0,
    ...                            no_browser=True))
    2
    """
    try:
        nb = app_notebook(args.model, args.targets)
    except (AkidaNbError, OSError) as e:
        return _error(e)
    missing = _missing("voila", "app")
    if missing:
        return _error(missing)
    try:
        port = args.port or _free_port(args.host)
    except OSError as e:
        return _error(f"cannot listen on {brief(args.host)}: {e}")
    with tempfile.TemporaryDirectory(prefix="akida_nb_app_") as tmp:
        name = f"{Path(args.model).stem or 'model'}.ipynb"
        (Path(tmp) / name).write_text(json.dumps(nb), encoding="utf-8")
        print(f"akida-nb app: the Explorer for {brief(args.model)} at http://{args.host}:{port}/", flush=True)
        cmd = [sys.executable, "-m", "voila", name, f"--port={port}", f"--Voila.ip={args.host}",
               "--show_tracebacks=False"] + (["--no-browser"] if args.no_browser else [])
        return _serve(cmd, Path(tmp))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m akida_nb.cli_extra lab|app ...``: the two commands without the rest of the CLI.

    Examples
    --------
    >>> main(["app", "no_such_model.json"])
    2
    """
    p = argparse.ArgumentParser(prog="akida-nb")
    add_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
