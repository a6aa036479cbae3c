"""The ``akida-nb`` command.

``akida-nb check MODEL [MODEL ...] [--target T]... [--format text|json|html] [--output FILE]
[--details] [--junit FILE] [--baseline REPORT.json]`` checks model files (native JSON/YAML,
Keras JSON or ``.keras``) or packaged example names against one or more targets (the
default targets when none is named).

One model prints its full report, as it always did. Several models (files, or glob patterns
such as ``'models/**/*.json'``, which the command expands itself for shells that do not;
at most :data:`MAX_MODELS` files) print a summary table, model × target, with the
violation counts, then every report with ``--details``. ``--junit FILE`` writes a JUnit
XML file (one test case per model and target; an unreadable file is an ``<error>`` case);
``--format json`` holds every model and a ``schema_version`` (:data:`SCHEMA_VERSION`);
``--baseline REPORT.json`` (an earlier ``--format json`` output) fails only on violations
that the baseline does not have, matched by model name, target, layer name and rule.

``akida-nb targets`` lists the targets; ``akida-nb examples`` the packaged example models;
``akida-nb --version`` prints the version.

Exit status (the same for every command):

- **0**: done; for ``check``, the model is compatible with every target;
- **1**: ``check`` only: the model is incompatible with at least one target (the verdict);
- **2**: bad input (unreadable or malformed file, unknown target, bad option): one line on
  standard error, no traceback;
- **3**: an internal error of akida_nb: one line naming the exception, with a request to
  report it along with the output of ``akida-nb --version`` and ``ak.show_versions()``;
- **130**: interrupted (Ctrl-C): one line, no traceback;
- **141**: the reader of standard output went away (``akida-nb check … | head``): nothing more is
  written, as the shell's own tools do (128 + SIGPIPE).

Over several models the worst status wins (3 over 2 over 1 over 0): the other models are
still checked and reported.

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
import glob
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._versions import package_version
from .cli_extra import add_parsers as add_lab_and_app
from .cli_sweep import add_parser as add_sweep, regular_output
from .errors import AkidaNbError, SpecError, brief, one_line, schema_path, schema_problem

if TYPE_CHECKING:
    from .present import Block, Cell

__all__ = ["EXIT_BAD_INPUT", "EXIT_INCOMPATIBLE", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PIPE_CLOSED",
           "MAX_BASELINE_BYTES", "MAX_FOLDERS",
           "MAX_MODELS", "SCHEMA_VERSION", "BASELINE_SCHEMAS", "load_baseline", "main"]

EXIT_OK = 0
"""Done; for ``check``: compatible with every target."""
EXIT_INCOMPATIBLE = 1
"""``check``: incompatible with at least one target."""
EXIT_BAD_INPUT = 2
"""Bad input: an akida_nb error, an unreadable file or a bad option."""
EXIT_INTERNAL = 3
"""An internal error (a bug in akida_nb): please report it."""
EXIT_INTERRUPTED = 130
"""Interrupted by the user (Ctrl-C, SIGINT): 128 + 2, as shells report it."""
EXIT_PIPE_CLOSED = 141
"""Standard output's reader closed the pipe: 128 + 13 (SIGPIPE), as shells report it."""

SCHEMA_VERSION = 1
"""Version of the ``--format json`` document (a single model's :class:`~akida_nb.Comparison` or a ``CheckRun``)."""
MAX_MODELS = 10_000
"""Most model files one ``check`` accepts (arguments and glob matches together)."""
MAX_FOLDERS = 100_000
"""Most folders the ``**`` patterns of one ``check`` may walk through."""
MAX_BASELINE_BYTES = 256 * 2**20
"""Largest ``--baseline`` file read (256 MiB); larger ones are refused before reading."""

EPILOG = ("exit status (over several models, the worst wins): 0 compatible (or done), 1 incompatible with a "
          "target, 2 bad input (one-line error), 3 internal error (please report it with the output of "
          "`akida-nb --version` and "
          "`python -c \"import akida_nb; akida_nb.show_versions()\"`); 130 interrupted (Ctrl-C); 141 standard "
          "output closed by its reader")

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
    c.add_argument("model", nargs="+", metavar="MODEL",
                   help="model files (.json, .yaml, .yml, Keras .json/.keras), glob patterns ('models/**/*.json', "
                        f"expanded here too) or example names; at most {MAX_MODELS:,} files")
    c.add_argument("--target", "-t", action="append", dest="targets",
                   help="a target name (repeat for several; default: the targets marked default in their data, "
                        "ak.default_targets())")
    c.add_argument("--format", "-f", choices=("text", "json", "html"), default="text")
    c.add_argument("--output", "-o", help="write the report to this file instead of standard output")
    c.add_argument("--details", action="store_true",
                   help="with several models: every model's full report after the summary table")
    c.add_argument("--junit", metavar="FILE",
                   help="also write a JUnit XML file: one test case per model and target, unreadable files as errors")
    c.add_argument("--baseline", metavar="REPORT.json",
                   help="an earlier --format json output: fail only on violations it does not have "
                        "(matched by model name, target, layer name and rule)")
    sub.add_parser("targets", help="list the known targets")
    sub.add_parser("examples", help="list the packaged example models")
    add_lab_and_app(sub)
    add_sweep(sub)
    return p


def _html_page(title: str, body: str) -> str:
    import html

    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title></head><body>{body}</body></html>\n")


def _html_document(cmp) -> str:
    return _html_page(f"akida_nb: {cmp.model_name}", cmp._repr_html_())


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


# ---------------------------------------------------------------------------------------------- check
@dataclass
class _Checked:
    """One model file's outcome: its comparison, or the one-line error that stopped it."""

    file: str
    comparison: Any = None
    error: str = ""
    error_type: str = ""
    code: int = EXIT_OK
    new: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """With a baseline: per target, the (layer, rule) pairs the baseline does not have."""

    @property
    def status(self) -> str:
        """``compatible``, ``incompatible``, ``known`` (every violation is in the baseline), ``error`` (bad
        input) or ``internal_error``."""
        if self.comparison is None:
            return "internal_error" if self.code == EXIT_INTERNAL else "error"
        if self.code == EXIT_INCOMPATIBLE:
            return "incompatible"
        return "compatible" if all(self.comparison.ok.values()) else "known"


def _too_many() -> SpecError:
    return SpecError("MODEL", f"more than {MAX_MODELS:,} model files: check them in smaller groups "
                              "(or narrow the glob pattern)")


def _glob(pattern: str, walked: list[int] | None = None) -> Iterator[str]:
    """The paths matching ``pattern``, as :func:`glob.glob` with ``recursive=True`` finds them, but ``**`` walks
    the tree without following symbolic links (a link loop is walked once, not until the path is too long) and
    through at most :data:`MAX_FOLDERS` folders in all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "a").mkdir(); (d / "a" / "m.json").write_text("{}"); (d / "a" / "loop").symlink_to("..")
    2
    >>> [pathlib.Path(p).relative_to(d).as_posix() for p in _glob(str(d / "**" / "*.json"))]
    ['a/m.json']
    """
    walked = [0] if walked is None else walked
    parts = re.split(f"[{re.escape(os.sep + (os.altsep or ''))}]", pattern)
    if "**" not in parts:
        yield from glob.iglob(pattern)
        return
    i = parts.index("**")
    head, tail = os.sep.join(parts[:i]) or (os.sep if i == 1 else ""), os.sep.join(parts[i + 1:])
    for base in (glob.iglob(head) if glob.has_magic(head) else [head]):  # literal folders from here on
        if base and not os.path.isdir(base):
            continue
        for folder, dirs, files in os.walk(base or os.curdir):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # as glob: hidden folders are not walked
            walked[0] += 1
            if walked[0] > MAX_FOLDERS:
                raise SpecError("MODEL", f"the pattern {brief(pattern)} walks through more than {MAX_FOLDERS:,} "
                                         "folders")
            here = folder if base else os.path.relpath(folder)
            if not tail:  # a trailing ** matches every file below
                yield from (os.path.join(here, f) if here != os.curdir else f for f in files if not f.startswith("."))
            elif here == os.curdir:
                yield from _glob(tail, walked)
            else:
                yield from _glob(os.path.join(glob.escape(here), tail), walked)


def _expand(specs: list[str]) -> list[tuple[str, str]]:
    """``(file, error)`` per model: the arguments with glob patterns expanded (sorted), duplicates once.

    A pattern that matches no file is kept with an error; more than :data:`MAX_MODELS` files raise.
    """
    out: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(name: str, error: str = "") -> None:
        if name in seen:
            return
        seen.add(name)
        out.append((name, error))
        if len(out) > MAX_MODELS:
            raise _too_many()

    for spec in specs:
        if "\x00" in spec or not glob.has_magic(spec) or os.path.lexists(spec):
            add(spec)
            continue
        matches: list[str] = []
        for match in _glob(spec):
            if os.path.isdir(match):
                continue
            matches.append(match)
            if len(matches) > MAX_MODELS:
                raise _too_many()
        if not matches:
            add(spec, f"error: {one_line(spec, 120)}: no file matches this pattern")
        for match in sorted(matches):
            add(match)
    return out


def _check_one(name: str, targets: list[str]) -> _Checked:
    from .check import compare

    try:
        return _Checked(name, compare(_load(name), targets))
    except (AkidaNbError, OSError) as e:
        return _Checked(name, error=f"error: {one_line(str(e))}", error_type=type(e).__name__, code=EXIT_BAD_INPUT)
    except Exception as e:  # noqa: BLE001 - a bug in akida_nb: reported as one, the other models still checked
        return _Checked(name, error=f"internal error: {type(e).__name__}: {_safe_str(e)}",
                        error_type=type(e).__name__, code=EXIT_INTERNAL)


def _verdict_code(cmp) -> int:
    return EXIT_OK if all(cmp.ok.values()) else EXIT_INCOMPATIBLE


# ---------------------------------------------------------------------------------------------- baseline
_Key = tuple[str, str, str, str]
"""A violation as the baseline matches it: (model name, target, layer name, rule)."""


def _report_keys(model: str, report: dict[str, Any]) -> list[_Key]:
    """The failing entries of a report dict: error-severity violations and unmapped layers (rule ``unmapped``)."""
    keys = [(model, report["target"], v["layer"], v["rule"]) for v in report["violations"]
            if v.get("severity", "error") == "error"]
    return keys + [(model, report["target"], u, "unmapped") for u in report.get("unmapped", [])]


_REPORT_SCHEMA = {"type": "object", "required": ["target", "violations"], "properties": {
    "target": {"type": "string"},
    "violations": {"type": "array", "items": {"type": "object", "required": ["layer", "rule"], "properties": {
        "layer": {"type": "string"}, "rule": {"type": "string"}, "severity": {"type": "string"}}}},
    "unmapped": {"type": "array", "items": {"type": "string"}}}}
_VERSION_SCHEMA = {"type": "integer", "minimum": 1}
_COMPARISON_SCHEMA = {"type": "object", "required": ["model_name", "reports"], "properties": {
    "model_name": {"type": "string"}, "schema_version": _VERSION_SCHEMA,
    "reports": {"type": "array", "items": _REPORT_SCHEMA}}}
_RUN_SCHEMA = {"type": "object", "required": ["schema_version", "models"], "properties": {
    "schema_version": _VERSION_SCHEMA,
    "models": {"type": "array", "items": {"type": "object", "required": ["file", "status"], "properties": {
        "file": {"type": "string"}, "status": {"type": "string"}, "comparison": _COMPARISON_SCHEMA}}}}}
BASELINE_SCHEMAS = {"Comparison": _COMPARISON_SCHEMA, "CheckRun": _RUN_SCHEMA}
"""JSON schemas of what a ``--baseline`` file must hold, by its ``kind`` (only the fields the gate reads)."""


@cache
def _baseline_validator(kind: str):
    import fastjsonschema

    return fastjsonschema.compile(BASELINE_SCHEMAS[kind])


def load_baseline(path: str | os.PathLike) -> Counter[_Key]:
    """The failing entries of a ``--format json`` report, counted by (model name, target, layer name, rule).

    Either shape is read: a single model's ``Comparison`` or a ``CheckRun`` of several.
    Unmapped layers count under the rule ``unmapped``; warnings and notes do not count.

    Raises
    ------
    SpecError
        For a file that cannot be read (missing, special, over :data:`MAX_BASELINE_BYTES`),
        that is not JSON, or that is not such a report (naming the key), or that was
        written with a newer ``schema_version``.

    Examples
    --------
    >>> import akida_nb as ak, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "base.json"
    >>> _ = p.write_text(ak.compare(ak.example("ds_cnn_kws")).to_json(), encoding="utf-8")
    >>> sorted(load_baseline(p))[0]
    ('ds_cnn_kws_v1', 'nsoc_v1', 'conv_0', 'input_conv.type')
    >>> _ = p.write_text('{"kind": "CheckRun", "schema_version": 1, "models": [{"file": 5}]}')
    >>> load_baseline(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: baseline .../base.json: models.0: missing status
    """
    import fastjsonschema

    from ._safeload import parse_json, read_text

    where = f"baseline {one_line(os.fspath(path), 120)}"
    data = parse_json(read_text(path, MAX_BASELINE_BYTES, where), where, MAX_BASELINE_BYTES)
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind not in BASELINE_SCHEMAS:
        raise SpecError(where, f"not an akida-nb check --format json report (kind {brief(kind)}; "
                               "expected 'Comparison' or 'CheckRun')")
    version = data.get("schema_version", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise SpecError(where, f"schema_version {version} is newer than this akida_nb reads ({SCHEMA_VERSION})")
    try:
        _baseline_validator(kind)(data)
    except fastjsonschema.JsonSchemaValueException as e:
        place = schema_path(list(e.path)[1:]) or "document"
        raise SpecError(f"{where}: {place}", one_line(schema_problem(e), 160)) from None
    comparisons = [data] if kind == "Comparison" else [m["comparison"] for m in data["models"] if "comparison" in m]
    return Counter(k for c in comparisons for r in c["reports"] for k in _report_keys(c["model_name"], r))


def _gate(results: list[_Checked], baseline: Counter[_Key]) -> None:
    """Mark each violation new or known (each baseline entry excuses one), and set the codes accordingly."""
    left = Counter(baseline)
    for r in results:
        if r.comparison is None:
            continue
        for rep in r.comparison.reports:
            new = []
            for key in _report_keys(r.comparison.model_name, rep.to_dict()):
                if left[key] > 0:
                    left[key] -= 1
                else:
                    new.append(key[2:])
            r.new[rep.target] = new
        r.code = EXIT_INCOMPATIBLE if any(r.new.values()) else EXIT_OK


def _baseline_blocks(results: list[_Checked]) -> list[Block]:
    """How many violations are new, and the table of them (file, target, layer, rule)."""
    from .present import Column, Line, Table, plural

    rows: list[list[Cell]] = [[r.file, target, layer, rule] for r in results for target, new in r.new.items()
                              for layer, rule in new]
    return [Line(f"Baseline: {plural(len(rows), 'new violation')}", ""),
            Table("New violations (not in the baseline)",
                  (Column("file"), Column("target"), Column("layer"), Column("rule")), rows)]


# ---------------------------------------------------------------------------------------------- views
def _cell(r: _Checked, rep, gated: bool):
    from .present import badge_span

    if rep.ok:
        return badge_span(True, "ok")
    bad = sum(v.severity == "error" for v in rep.entries) + len(rep.unmapped)
    if not gated:
        return badge_span(False, f"✗ {bad}")
    new = len(r.new.get(rep.target, ()))
    return badge_span(new == 0, f"✗ {bad} ({new} new)")


_STATUS_LABELS = {"compatible": "compatible", "known": "with known violations only (in the baseline)",
                  "incompatible": "incompatible", "error": "not checked (bad input)",
                  "internal_error": "not checked (internal error)"}


@dataclass
class _Run:
    """Several models checked: the summary table, the errors, the new violations and (on request) every report."""

    results: list[_Checked]
    targets: list[str]
    gated: bool = False
    details: bool = False

    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.results) for s in _STATUS_LABELS}

    def blocks(self) -> list[Block]:
        from .present import Column, Items, Line, Section, Table, badge_span, plural

        counts = self.counts()
        said = ", ".join(f"{n} {_STATUS_LABELS[s]}" for s, n in counts.items() if n)
        ok = counts["compatible"] == len(self.results)
        head: list[Block] = [Line(["Checked ", plural(len(self.results), "model"), " on ", ", ".join(self.targets),
                                   ": ", badge_span(ok, said)])]
        rows: list[list[Cell]] = []
        for r in self.results:
            if r.comparison is None:
                rows.append([r.file, "", *[badge_span(False, r.status.replace("_", " "))] * len(self.targets)])
            else:
                cells = {rep.target: _cell(r, rep, self.gated) for rep in r.comparison.reports}
                rows.append([r.file, r.comparison.model_name, *[cells.get(t, "") for t in self.targets]])
        columns = (Column("file"), Column("model"), *(Column(t) for t in self.targets))
        head.append(Table("Summary (model × target: ok, or ✗ the number of violations)", columns, rows,
                          role="compare"))
        head.append(Items("Not checked", [r.error for r in self.results if r.error], "unmapped"))
        if self.gated:
            head += _baseline_blocks(self.results)
        if self.details:
            head += [Section([r.file, ": ", r.comparison.model_name], r.comparison.blocks(), open=True)
                     for r in self.results if r.comparison is not None]
        return head

    def to_dict(self) -> dict[str, Any]:
        models = []
        for r in self.results:
            entry: dict[str, Any] = {"file": r.file, "status": r.status}
            if r.comparison is None:
                entry["error"] = r.error
            else:
                entry["comparison"] = r.comparison.to_dict()
                if self.gated:
                    entry["new_violations"] = {t: [list(k) for k in new] for t, new in r.new.items()}
            models.append(entry)
        return {"kind": "CheckRun", "schema_version": SCHEMA_VERSION, "targets": self.targets,
                "exit_status": max((r.code for r in self.results), default=EXIT_OK), "models": models}


def _xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold shown escaped (``\\x1b``), lone surrogates included.

    Examples
    --------
    >>> _xml_safe("a\\x1bb\\udfff\\tc")
    'a\\\\x1bb\\\\udfff\\tc'
    """
    return _XML_INVALID.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _junit_xml(results: list[_Checked], gated: bool = False) -> bytes:
    """The JUnit XML of a check: one ``testcase`` per model file and target; an unreadable file is one ``error`` case.

    A case fails when the model is incompatible with the target (with a baseline: when it
    has a violation the baseline does not have); the failure's text is the report's
    violations. Written with :mod:`xml.etree`: everything is escaped, and characters
    XML 1.0 cannot hold are shown escaped.

    Examples
    --------
    >>> import xml.etree.ElementTree as ET
    >>> root = ET.fromstring(_junit_xml([_check_one("ds_cnn_kws", ["nsoc_v1", "nsoc_v2"]),
    ...                                 _check_one("nope.json", ["nsoc_v1"])]))
    >>> root.get("tests"), root.get("failures"), root.get("errors")
    ('3', '1', '1')
    >>> [(c.get("name"), [e.tag for e in c]) for c in root.iter("testcase")]
    [('nsoc_v1', ['failure']), ('nsoc_v2', []), ('load', ['error'])]
    """
    import xml.etree.ElementTree as ET

    from .present import render_text

    suite = ET.Element("testsuite", name="akida-nb check")
    tests = failures = errors = 0

    def case(r: _Checked, name: str) -> ET.Element:
        return ET.SubElement(suite, "testcase", classname=_xml_safe(r.file), name=_xml_safe(name))

    for r in results:
        if r.comparison is None:
            tests, errors = tests + 1, errors + 1
            err = ET.SubElement(case(r, "load"), "error", message=_xml_safe(r.error), type=r.error_type or "error")
            err.text = _xml_safe(r.error)
            continue
        for rep in r.comparison.reports:
            tests += 1
            c = case(r, rep.target)
            text = render_text(rep.detail_blocks(layers=False))
            new = r.new.get(rep.target, [])
            failing = bool(new) if gated else not rep.ok
            if failing:
                failures += 1
                message = f"{len(new)} new: " + ", ".join(f"{l} {u}" for l, u in new) if gated else rep.summary_line()
                fail = ET.SubElement(c, "failure", message=_xml_safe(one_line(message)), type="incompatible")
                fail.text = _xml_safe(f"{r.comparison.model_name} on {rep.target}: {rep.summary_line()}\n{text}")
            elif not rep.ok:  # known violations (baseline): shown, not failing
                ET.SubElement(c, "system-out").text = _xml_safe(f"known (in the baseline): {rep.summary_line()}\n"
                                                                f"{text}")
    for key, value in (("tests", tests), ("failures", failures), ("errors", errors), ("skipped", 0)):
        suite.set(key, str(value))
    root = ET.Element("testsuites", name="akida-nb check", tests=str(tests), failures=str(failures),
                      errors=str(errors))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8", errors="backslashreplace")
    else:
        _write(text)


def _check(args: argparse.Namespace) -> int:
    from .targets import default_targets, get_target

    targets = list(args.targets or default_targets())
    for t in targets:
        get_target(t)  # an unknown target is bad input before any model is read
    for option, path in (("--output", args.output), ("--junit", args.junit)):
        if path:
            regular_output(path, option)  # before the work: a FIFO would block the write forever
    baseline = load_baseline(args.baseline) if args.baseline is not None else None
    entries = _expand(args.model)
    results = [_check_one(name, targets) if not error else
               _Checked(name, error=error, error_type="SpecError", code=EXIT_BAD_INPUT) for name, error in entries]
    for r in results:
        if r.comparison is not None:
            r.code = _verdict_code(r.comparison)
    if baseline is not None:
        _gate(results, baseline)
    if args.junit:
        try:
            Path(args.junit).write_bytes(_junit_xml(results, baseline is not None))
        except OSError as e:
            raise SpecError(f"--junit {one_line(args.junit, 120)}", f"cannot write it ({e.strerror or e})") from None
    status = max(r.code for r in results)
    if len(results) == 1:
        return _single(results[0], args, baseline is not None)
    run = _Run(results, targets, gated=baseline is not None, details=args.details)
    if args.format == "json":
        out = json.dumps(run.to_dict(), indent=1, ensure_ascii=False) + "\n"
    elif args.format == "html":
        from .html import page, render_html
        from .present import render_text

        blocks = run.blocks()
        out = _html_page(f"akida_nb: {len(results)} models", page(render_text(blocks), render_html(blocks)))
    else:
        from .present import render_text

        out = render_text(run.blocks()) + "\n"
    _emit(out, args.output)
    bad = [r for r in results if r.comparison is None]
    if any(r.code == EXIT_INTERNAL for r in bad):
        _error(f"internal error in {sum(r.code == EXIT_INTERNAL for r in bad)} of {len(results)} models "
               f"(see the report); {REPORT_HINT}")
    elif bad:
        _error(f"error: {len(bad)} of {len(results)} models could not be checked (see the report); first: "
               f"{bad[0].error.removeprefix('error: ')}")
    return status


def _single(r: _Checked, args: argparse.Namespace, gated: bool) -> int:
    """One model: exactly today's report (text, json with ``schema_version``, html), or today's one-line error."""
    if r.comparison is None:
        _error(f"{r.error}; {REPORT_HINT}" if r.code == EXIT_INTERNAL else r.error)
        return r.code
    cmp = r.comparison
    if args.format == "json":
        data = cmp.to_dict()
        data = {"kind": data.pop("kind"), "schema_version": SCHEMA_VERSION, **data}
        if gated:
            data["new_violations"] = {t: [list(k) for k in new] for t, new in r.new.items()}
        out = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    elif args.format == "html":
        out = _html_document(cmp)
    else:
        out = repr(cmp) + "\n"
        if gated:
            from .present import render_text

            out += render_text(_baseline_blocks([r])) + "\n"
    _emit(out, args.output)
    return r.code


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
    return _check(args)


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
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_PIPE_CLOSED
    except _BadUsage as e:
        _error(f"error: {e}")
        return EXIT_BAD_INPUT
    except (AkidaNbError, OSError) as e:
        _error(f"error: {e}")
        return EXIT_BAD_INPUT
    except Exception as e:  # noqa: BLE001 - every other exception is a bug, reported as one
        _error(f"internal error: {type(e).__name__}: {_safe_str(e)}; {REPORT_HINT}")
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's final flush does not fail again.

    Python's documented way to leave quietly when the reader of a pipe has gone (signal.SIGPIPE notes).
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a notebook, a test's capture)
        pass


def _safe_str(e: BaseException) -> str:
    try:
        return one_line(str(e), limit=200)
    except Exception:  # noqa: BLE001 - a message that cannot even be formatted (e.g. a huge int)
        return "(message cannot be shown)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
