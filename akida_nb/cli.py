"""The ``akida-nb`` command.

``akida-nb check MODEL [--target T]... [--format text|json|html] [--output FILE]``
checks a model file (native JSON/YAML, Keras JSON or ``.keras``) or a packaged
example name against one or more targets (both seed targets by default).

``akida-nb targets`` lists the targets; ``akida-nb examples`` the packaged example models;
``akida-nb --version`` prints the version.

Exit status (the same for every command):

- **0**: done; for ``check``, the model is compatible with every target;
- **1**: ``check`` only: the model is incompatible with at least one target (the verdict);
- **2**: bad input (unreadable or malformed file, unknown target, bad option): one line on
  standard error, no traceback;
- **3**: an internal error of akida_nb: one line naming the exception, with a request to
  report it along with the output of ``akida-nb --version`` and ``ak.show_versions()``.

Every message is one line, bounded in length, with control characters escaped.

Examples
--------
>>> from akida_nb.cli import main
>>> main(["check", "ds_cnn_kws", "--target", "nsoc_v2"])   # doctest: +ELLIPSIS
Comparison: 'ds_cnn_kws_v1' on nsoc_v2
...
0
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from ._versions import package_version
from .cli_extra import add_parsers as add_lab_and_app
from .cli_sweep import add_parser as add_sweep
from .errors import AkidaNbError, SpecError, one_line

__all__ = ["EXIT_BAD_INPUT", "EXIT_INCOMPATIBLE", "EXIT_INTERNAL", "EXIT_OK", "main"]

EXIT_OK = 0
"""Done; for ``check``: compatible with every target."""
EXIT_INCOMPATIBLE = 1
"""``check``: incompatible with at least one target."""
EXIT_BAD_INPUT = 2
"""Bad input: an akida_nb error, an unreadable file or a bad option."""
EXIT_INTERNAL = 3
"""An internal error (a bug in akida_nb): please report it."""

EPILOG = ("exit status: 0 compatible (or done), 1 incompatible with a target, 2 bad input (one-line error), "
          "3 internal error (please report it with the output of `akida-nb --version` and "
          "`python -c \"import akida_nb; akida_nb.show_versions()\"`)")

REPORT_HINT = ("this is a bug in akida_nb: please report it with this line and the output of "
               "`akida-nb --version` and `python -c \"import akida_nb as ak; ak.show_versions()\"`")


class _BadUsage(Exception):
    """A command-line usage error (argparse's, turned into exit status 2 with one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage and exits; we want one line
        raise _BadUsage(f"{message} (see akida-nb --help)")


def _load(spec: str):
    from .io import load_model
    from .resources import example, examples

    if "\x00" in spec:
        raise SpecError("", "a file name cannot contain a NUL character")
    path = Path(spec)
    if not path.exists() and spec in examples():
        return example(spec)
    return load_model(path)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="akida-nb", description="Check models against Akida NSoC hardware constraints.",
                epilog=EPILOG)
    p.add_argument("--version", action="version", version=f"akida-nb {package_version() or 'unknown'}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("check", help="check a model against one or more targets", epilog=EPILOG)
    c.add_argument("model", help="a model file (.json, .yaml, .yml, Keras .json/.keras) or an example name")
    c.add_argument("--target", "-t", action="append", dest="targets",
                   help="a target name (repeat for several; default: the targets marked default in their data, "
                        "ak.default_targets())")
    c.add_argument("--format", "-f", choices=("text", "json", "html"), default="text")
    c.add_argument("--output", "-o", help="write the report to this file instead of standard output")
    sub.add_parser("targets", help="list the known targets")
    sub.add_parser("examples", help="list the packaged example models")
    add_lab_and_app(sub)
    add_sweep(sub)
    return p


def _html_document(cmp) -> str:
    import html

    title = html.escape(f"akida_nb: {cmp.model_name}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{title}</title></head><body>{cmp._repr_html_()}</body></html>\n")


def _write(text: str) -> None:
    """Write to standard output; characters it cannot encode (lone surrogates) are escaped, not fatal."""
    data = text.encode(sys.stdout.encoding or "utf-8", errors="backslashreplace")
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (doctest, pytest capture)
        sys.stdout.write(data.decode(sys.stdout.encoding or "utf-8"))
    else:
        sys.stdout.flush()
        buffer.write(data)
        buffer.flush()


def _run(args: argparse.Namespace) -> int:
    if args.command in ("lab", "app"):
        return args.run(args)
    if args.command == "sweep":
        return args.func(args)
    if args.command == "targets":
        from .targets import targets

        _write(targets()[["name", "title", "rules"]].to_string(index=False) + "\n")
        return EXIT_OK
    if args.command == "examples":
        from .resources import examples

        _write("\n".join(examples()) + "\n")
        return EXIT_OK
    from .check import compare
    from .targets import default_targets

    model = _load(args.model)
    cmp = compare(model, args.targets or default_targets())
    if args.format == "json":
        out = cmp.to_json() + "\n"
    elif args.format == "html":
        out = _html_document(cmp)
    else:
        out = repr(cmp) + "\n"
    if args.output:
        Path(args.output).write_text(out, encoding="utf-8", errors="backslashreplace")
    else:
        _write(out)
    return EXIT_OK if all(cmp.ok.values()) else EXIT_INCOMPATIBLE


def _error(text: str) -> None:
    print(one_line(f"akida-nb: {text}", limit=500), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1, 2 or 3: see the module docstring).

    Examples
    --------
    >>> main(["check", "no_such_model.json"])
    2
    >>> main(["check", "ds_cnn_kws", "--format", "pdf"])
    2
    """
    try:
        try:
            args = _parser().parse_args(argv)
        except SystemExit as e:  # --help and --version print and exit 0
            return EXIT_OK if e.code in (0, None) else EXIT_BAD_INPUT
        return _run(args)
    except _BadUsage as e:
        _error(f"error: {e}")
        return EXIT_BAD_INPUT
    except (AkidaNbError, OSError) as e:
        _error(f"error: {e}")
        return EXIT_BAD_INPUT
    except Exception as e:  # noqa: BLE001 - every other exception is a bug, reported as one
        _error(f"internal error: {type(e).__name__}: {_safe_str(e)}; {REPORT_HINT}")
        return EXIT_INTERNAL


def _safe_str(e: BaseException) -> str:
    try:
        return one_line(str(e), limit=200)
    except Exception:  # noqa: BLE001 - a message that cannot even be formatted (e.g. a huge int)
        return "(message cannot be shown)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
