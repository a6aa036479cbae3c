"""The ``akida-nb`` command.

``akida-nb check MODEL [--target T]... [--format text|json|html] [--output FILE]``
checks a model file (native JSON/YAML, Keras JSON or ``.keras``) or a packaged
example name against one or more targets (both seed targets by default).
Exit status: 0 compatible with every target, 1 not, 2 bad input (one line, no traceback).

``akida-nb targets`` lists the targets; ``akida-nb examples`` the packaged example models.

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

from .errors import AkidaNbError

__all__ = ["main"]


def _load(spec: str):
    from .io import load_model
    from .resources import examples, example

    path = Path(spec)
    if not path.exists() and spec in examples():
        return example(spec)
    return load_model(path)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="akida-nb", description="Check models against Akida NSoC hardware constraints.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="check a model against one or more targets")
    c.add_argument("model", help="a model file (.json, .yaml, .yml, Keras .json/.keras) or an example name")
    c.add_argument("--target", "-t", action="append", dest="targets",
                   help="a target name (repeat for several; default: nsoc_v1 and nsoc_v2)")
    c.add_argument("--format", "-f", choices=("text", "json", "html"), default="text")
    c.add_argument("--output", "-o", help="write the report to this file instead of standard output")
    sub.add_parser("targets", help="list the known targets")
    sub.add_parser("examples", help="list the packaged example models")
    return p


def _html_document(cmp) -> str:
    import html

    title = html.escape(f"akida_nb: {cmp.model_name}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{title}</title></head><body>{cmp._repr_html_()}</body></html>\n")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring).

    Examples
    --------
    >>> main(["check", "no_such_model.json"])
    2
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "targets":
            from .targets import targets

            print(targets()[["name", "title", "rules"]].to_string(index=False))
            return 0
        if args.command == "examples":
            from .resources import examples

            print("\n".join(examples()))
            return 0
        from .check import compare

        model = _load(args.model)
        cmp = compare(model, args.targets or ["nsoc_v1", "nsoc_v2"])
        if args.format == "json":
            out = cmp.to_json() + "\n"
        elif args.format == "html":
            out = _html_document(cmp)
        else:
            out = repr(cmp) + "\n"
        if args.output:
            Path(args.output).write_text(out, encoding="utf-8")
        else:
            sys.stdout.write(out)
        return 0 if all(cmp.ok.values()) else 1
    except (AkidaNbError, OSError) as e:
        print(f"akida-nb: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
