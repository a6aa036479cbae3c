"""The ``akida-nb sweep`` subcommand: a design-space file swept over targets, saved as CSV or Parquet.

``akida-nb sweep SPACE.yaml [--target T]... [--workers N | --scheduler ADDRESS] [--output FILE]
[--chunk-size K] [--no-progress]``

``SPACE.yaml`` follows :func:`akida_nb.sweep.space_schema` (see docs/scale-out.md). Targets:
``--target`` (repeat), else the file's ``targets``, else ``nsoc_v1`` and ``nsoc_v2``. Without
``--workers`` or ``--scheduler`` the sweep runs in this process; ``--workers N`` starts a local
Dask cluster of N single-threaded worker processes on 127.0.0.1; ``--scheduler ADDRESS`` connects
to a running Dask scheduler (``tcp://host:8786``). ``--output`` ends in ``.csv`` (the default,
``sweep.csv``) or ``.parquet`` (needs pyarrow). Exit status: 0 written, 2 bad input (one line).

The integrator wires :func:`add_parser` and :func:`run` into :mod:`akida_nb.cli`.

Examples
--------
>>> import argparse, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "space.yaml").write_text("model: ds_cnn_kws\\nknobs: {filters: [32, 64]}\\n")
>>> p = argparse.ArgumentParser(prog="akida-nb")
>>> add_parser(p.add_subparsers(dest="command"))
>>> args = p.parse_args(["sweep", str(d / "space.yaml"), "-t", "akd1000", "-o", str(d / "out.csv"), "--no-progress"])
>>> run(args)  # doctest: +ELLIPSIS
wrote 2 rows (2 variants × 1 target, 2 ok) to ...out.csv
0
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .errors import AkidaNbError, SpecError, brief, one_line

__all__ = ["add_parser", "run", "write_table"]

FORMATS = (".csv", ".parquet")


def add_parser(subparsers: Any) -> None:
    """Add the ``sweep`` subcommand to an ``argparse`` subparsers object (its ``func`` default is :func:`run`)."""
    s = subparsers.add_parser("sweep", help="sweep a design space (a YAML file) over targets",
                              description="Check every variant of a design space against targets; "
                                          "one row per variant × target.")
    s.add_argument("space", help="a space file (YAML or JSON; schema in docs/scale-out.md)")
    s.add_argument("--target", "-t", action="append", dest="targets",
                   help="a target name (repeat for several; default: the file's targets, else nsoc_v1 and nsoc_v2)")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--workers", "-w", type=int, default=0,
                       help="start a local Dask cluster of this many worker processes, at most 4 per core "
                            "(needs the dask extra)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    s.add_argument("--output", "-o", default="sweep.csv", help="result file, .csv (default sweep.csv) or .parquet")
    s.add_argument("--chunk-size", type=int, default=None, help="variants per task")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=run)


def regular_output(path: str | Path, where: str) -> None:
    """Refuse an output path that exists and is not a regular file (a FIFO or a device would block or vanish).

    Raises
    ------
    SpecError
        ``where`` and the path: a directory, a FIFO, a device or another special file.

    Examples
    --------
    >>> regular_output("/dev/null", "--output")
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: --output /dev/null: not a regular file (a device)
    """
    from ._safeload import regular_file

    if os.path.exists(path):  # a missing file is written fresh
        regular_file(path, limit=sys.maxsize, where=f"{where} {one_line(str(path), 120)}")


def _suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise SpecError("output", f"{brief(str(path))} must end in .csv or .parquet")
    return suffix


def write_table(df: Any, path: str | Path) -> None:
    """Write a sweep's DataFrame as CSV or Parquet by the file's suffix.

    Raises
    ------
    SpecError
        ``output``: another suffix, or Parquet without pyarrow (saying how to install it).

    Examples
    --------
    >>> import pandas as pd
    >>> write_table(pd.DataFrame({"a": [1]}), "out.xlsx")
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: output: 'out.xlsx' must end in .csv or .parquet
    """
    import importlib.util

    if _suffix(path) == ".parquet":
        if importlib.util.find_spec("pyarrow") is None:
            raise SpecError("output", "writing Parquet needs pyarrow (pip install pyarrow); or write .csv")
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)


WORKERS_PER_CORE = 4
"""``--workers`` starts at most this many local worker processes per core (more only add overhead)."""


def max_workers() -> int:
    """The most local worker processes ``--workers`` starts: :data:`WORKERS_PER_CORE` per core.

    Examples
    --------
    >>> max_workers() >= WORKERS_PER_CORE
    True
    """
    return WORKERS_PER_CORE * (os.cpu_count() or 1)


def _client(args: argparse.Namespace):
    """A (client, cluster) pair for --workers/--scheduler, or (None, None) in-process."""
    if not args.workers and not args.scheduler:
        return None, None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        from .sweep import DASK_HINT

        raise SpecError("--workers" if args.workers else "--scheduler", DASK_HINT) from None
    if args.scheduler:
        try:
            return Client(args.scheduler, timeout="5s"), None
        except (OSError, TimeoutError, ValueError) as e:
            raise SpecError("--scheduler", f"cannot reach {brief(args.scheduler)}: {one_line(str(e), 120)}") from None
    if not 0 < args.workers <= max_workers():
        raise SpecError("--workers", f"expected a number of worker processes in [1, {max_workers()}] "
                                     f"({WORKERS_PER_CORE} per core of this machine), got {args.workers}")
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0")
    return Client(cluster), cluster


def run(args: argparse.Namespace) -> int:
    """Run ``akida-nb sweep`` for parsed arguments; returns the exit status (0 written, 2 bad input)."""
    from .sweep import load_space, sweep

    client = cluster = None
    try:
        _suffix(args.output)  # before the work, not after
        regular_output(args.output, "--output")
        space = load_space(args.space)
        targets = args.targets or list(space.targets) or ["nsoc_v1", "nsoc_v2"]
        client, cluster = _client(args)
        df = sweep(space, targets, client=client, chunk_size=args.chunk_size, progress=not args.no_progress)
        write_table(df, args.output)
        n_targets = len(targets)
        print(f"wrote {len(df)} rows ({len(space)} variants × {n_targets} target{'s' if n_targets != 1 else ''}, "
              f"{int(df['ok'].sum())} ok) to {args.output}")
        return 0
    except (AkidaNbError, OSError) as e:
        print(f"akida-nb: error: {one_line(str(e), 300)}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
