"""The documentation site: reference pages generated from the target data, and the build command.

``python -m akida_nb.docs OUTDIR`` builds the site of a source checkout (the ``docs/`` folder beside the
package) into ``OUTDIR`` with Sphinx, warnings as errors and no network access (no intersphinx). It needs
the ``docs`` extra (``pip install -c constraints.txt -e ".[docs]"``).

The reference pages (one per target and layer type, one comparison per layer type) and the API page are
written by :func:`write_reference` during every build into ``docs/_generated/`` (git-ignored), so the tables
of the site are always those of :func:`akida_nb.constraints`. The tutorials are copied there too and rendered
by myst-nb from their stored outputs (never executed at build time).

Importing this module imports neither Sphinx nor myst-nb: they load inside :func:`build`.

Examples
--------
>>> import tempfile, pathlib
>>> from akida_nb.docs import write_reference
>>> with tempfile.TemporaryDirectory() as d:
...     pages = write_reference(pathlib.Path(d))
...     "reference/nsoc_v2/Convolutional.md" in {p.relative_to(d).as_posix() for p in pages}
True
"""
from __future__ import annotations

import html
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import SpecError, brief
from ..model import LAYER_TYPES
from ..targets import compare_constraints, constraints, get_target, targets

__all__ = ["REFERENCE_COLUMNS", "build", "main", "reference_table", "source_dir", "write_reference"]

REFERENCE_COLUMNS = ("section", "parameter", "allowed", "axis", "condition", "severity", "note", "fix", "source",
                     "rule")
"""Columns of a reference table, in order: those of :func:`akida_nb.constraints` plus the rule's ``fix``."""

_ABSENT = "—"  # compare_constraints' mark of a rule a target does not have


def source_dir() -> Path:
    """The ``docs/`` folder of the source checkout this package runs from.

    Raises
    ------
    SpecError
        When the package runs from a wheel (the site's sources are not packaged).

    Examples
    --------
    >>> (source_dir() / "conf.py").is_file()
    True
    """
    docs = Path(__file__).resolve().parent.parent.parent / "docs"
    if not (docs / "conf.py").is_file():
        raise SpecError("docs", f"no docs/conf.py beside the package at {brief(str(docs))}: "
                                "build the site from a source checkout")
    return docs


def _cell(text: object) -> str:
    return html.escape("" if text is None else str(text))


def reference_table(target: str, layer_type: str, others: Sequence[str] = ()) -> str:
    """One target's rules for one layer type as an HTML table (the table of its reference page).

    One row per rule, in the order of :func:`akida_nb.constraints`, with the columns of
    :data:`REFERENCE_COLUMNS`; with ``others``, a last column gives those targets' allowed values where
    they differ, and such rows carry the class ``akn-differs`` (highlighted by the site's CSS).

    Examples
    --------
    >>> html = reference_table("nsoc_v1", "Convolutional", others=["nsoc_v2"])
    >>> 'data-target="nsoc_v1"' in html, "akn-differs" in html
    (True, True)
    """
    t = get_target(target)
    df = constraints(t.name, layer_type)
    others = [o for o in others if o != t.name]
    cmp = compare_constraints(t.name, *others, layer_type=layer_type) if others else None
    fixes = {r.id: r.fix for r in t.rules_for(layer_type)}
    head = "".join(f'<th data-col="{c}">{c}</th>' for c in REFERENCE_COLUMNS)
    if others:
        head += '<th data-col="other targets">other targets</th>'
    rows = []
    for rec in df.to_dict("records"):
        rec["fix"] = fixes.get(rec["rule"], "")
        cells = "".join(f'<td data-col="{c}">{_cell(rec[c])}</td>' for c in REFERENCE_COLUMNS)
        cls = ""
        if cmp is not None:
            row = cmp.loc[(layer_type, rec["rule"])]
            differ = [f"{o}: {row[o]}" for o in others if row[o] != row[t.name]]
            cells += f'<td data-col="other targets">{_cell("; ".join(differ))}</td>'
            cls = ' class="akn-differs"' if differ else ""
        rows.append(f'<tr data-rule="{_cell(rec["rule"])}"{cls}>{cells}</tr>')
    return (f'<table class="akn-ref" data-target="{_cell(t.name)}" data-layer-type="{_cell(layer_type)}">'
            f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")


def _comparison_table(names: Sequence[str], layer_type: str) -> str:
    cmp = compare_constraints(*names, layer_type=layer_type)
    cols = ["section", "parameter", "field", "axis", *names]
    head = "<th>rule</th>" + "".join(f"<th>{_cell(c)}</th>" for c in cols)
    rows = []
    for (_, rule), row in cmp.iterrows():
        cls = ' class="akn-differs"' if row["differs"] else ""
        rows.append(f"<tr{cls}><td>{_cell(rule)}</td>" + "".join(f"<td>{_cell(row[c])}</td>" for c in cols)
                    + "</tr>")
    return (f'<table class="akn-ref akn-cmp" data-layer-type="{_cell(layer_type)}"><thead><tr>{head}</tr></thead>'
            "<tbody>\n" + "\n".join(rows) + "\n</tbody></table>")


def _raw(html_text: str) -> str:
    return "```{raw} html\n<div class=\"akn-scroll\">" + html_text + "</div>\n```\n"


def _write(path: Path, text: str) -> Path:
    """Write only when the text changed (Sphinx then re-reads only what changed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def _target_pages(outdir: Path, names: list[str]) -> list[Path]:
    pages = []
    for name in names:
        t = get_target(name)
        others = [o for o in names if o != name]
        entries = []
        for lt in LAYER_TYPES:
            n = len(t.rules_for(lt))
            support = "" if t.supports(lt) else " (not supported)"
            entries.append(f"{lt}")
            body = (f"# {name} · {lt}\n\n"
                    f"**{t.title}**{support}. {t.description}\n\n"
                    f"{n} rules, in the order of `ak.constraints({name!r}, {lt!r})`, each with the values it "
                    f"allows, the condition under which it applies, its severity, its teaching note, the fix a "
                    f"report suggests and its source. Rows where another target ({', '.join(others)}) allows "
                    f"something else are highlighted, with that target's values in the last column; "
                    f"[side by side](../compare/{lt}.md) shows every target at once.\n\n"
                    + _raw(reference_table(name, lt, others)))
            pages.append(_write(outdir / name / f"{lt}.md", body))
        index = (f"# {name}: {t.title}\n\n{t.description}\n\n"
                 + (f"Stated as a difference from `{t.base}`.\n\n" if t.base else "")
                 + "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(entries) + "\n```\n")
        pages.append(_write(outdir / name / "index.md", index))
    return pages


def write_reference(outdir: Path) -> list[Path]:
    """Write the generated pages into ``outdir``: the reference tables and the API page.

    ``outdir/reference/``: an index, one folder per registered target with one page per layer type, and
    ``compare/<layer type>.md`` with every target side by side. ``outdir/api.rst``: the public API of
    ``akida_nb`` (its ``__all__``), ``ak.plot`` and ``ak.widgets``, documented from their docstrings.

    Returns
    -------
    list of Path
        Every page written (or left as it was when unchanged).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     pages = write_reference(pathlib.Path(d))
    ...     text = (pathlib.Path(d) / "reference" / "nsoc_v1" / "Convolutional.md").read_text()
    >>> "akn-differs" in text and "conv.kernel_stride" in text
    True
    """
    outdir = Path(outdir)
    names = list(targets()["name"])
    ref = outdir / "reference"
    pages = _target_pages(ref, names)
    for lt in LAYER_TYPES:
        body = (f"# {lt}: every target side by side\n\n"
                f"Allowed values of each rule on {', '.join(names)} (`ak.compare_constraints`); a rule a target "
                f"does not have shows as {_ABSENT}. Highlighted rows differ between targets.\n\n"
                + _raw(_comparison_table(names, lt)))
        pages.append(_write(ref / "compare" / f"{lt}.md", body))
    pages.append(_write(ref / "index.md", _reference_index(names)))
    pages.append(_write(outdir / "api.rst", _api_page()))
    return pages


def _reference_index(names: list[str]) -> str:
    rows = "\n".join(f"| [{n}]({n}/index.md) | {get_target(n).title} | "
                     + " · ".join(f"[{lt}]({n}/{lt}.md)" for lt in LAYER_TYPES) + " |" for n in names)
    return ("# Constraint reference\n\n"
            "Generated at build time from the target files (`data/targets/*.yaml`) through "
            "`ak.constraints()` and `ak.compare_constraints()`: these tables cannot disagree with the code.\n\n"
            "| target | title | pages |\n|---|---|---|\n" + rows + "\n\n"
            "Side by side: " + " · ".join(f"[{lt}](compare/{lt}.md)" for lt in LAYER_TYPES) + "\n\n"
            "```{toctree}\n:hidden:\n\n" + "\n".join(f"{n}/index" for n in names)
            + "\n" + "\n".join(f"compare/{lt}" for lt in LAYER_TYPES) + "\n```\n")


def _api_page() -> str:
    import inspect

    import akida_nb

    groups: dict[str, list[str]] = {"Exceptions": [], "Classes": [], "Functions": []}
    for name in sorted(akida_nb.__all__):
        obj = getattr(akida_nb, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            groups["Exceptions"].append(f".. autoexception:: akida_nb.{name}")
        elif inspect.isclass(obj):
            groups["Classes"].append(f".. autoclass:: akida_nb.{name}\n   :members:")
        else:
            groups["Functions"].append(f".. autofunction:: akida_nb.{name}")

    def title(text: str, mark: str) -> str:
        return f"{text}\n{mark * len(text)}\n\n"

    parts = [title("API reference", "=") + "``import akida_nb as ak``: everything below is ``ak.<name>``; "
             "``ak.plot`` and ``ak.widgets`` load on first use.\n"]
    for group in ("Functions", "Classes", "Exceptions"):
        parts.append(title(group, "-") + "\n\n".join(groups[group]) + "\n")
    for mod in ("plot", "widgets"):
        parts.append(title(f"ak.{mod}", "-") + f".. automodule:: akida_nb.{mod}\n   :members:\n")
    return "\n".join(parts)


def build(outdir: str | Path, srcdir: str | Path | None = None, quiet: bool = True) -> int:
    """Build the site into ``outdir`` with Sphinx (HTML, warnings as errors); returns Sphinx's exit status.

    Raises
    ------
    SpecError
        When Sphinx is not installed (the ``docs`` extra) or there is no ``docs/`` source.

    Examples
    --------
    >>> build("/tmp/never", srcdir="/nonexistent")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    akida_nb.errors.SpecError: docs: no conf.py in '/nonexistent'...
    """
    src = Path(srcdir) if srcdir is not None else source_dir()
    if not (src / "conf.py").is_file():
        raise SpecError("docs", f"no conf.py in {brief(str(src))}: build the site from a source checkout")
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        raise SpecError("docs", "Sphinx is not installed: pip install -c constraints.txt -e \".[docs]\"") from None
    args = ["-b", "html", "-W", "--keep-going", "-j", "1"] + (["-q"] if quiet else []) + [str(src), str(outdir)]
    return build_main(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m akida_nb.docs [OUTDIR]``: build the site (default ``docs/_build/html``).

    Exit status: Sphinx's (0 built without a warning), 2 with a one-line error when the build cannot start.

    Examples
    --------
    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: python -m akida_nb.docs [-h] [--verbose] [OUTDIR]
    ...
    0
    """
    import argparse

    p = argparse.ArgumentParser(prog="python -m akida_nb.docs", description="Build the documentation site.")
    p.add_argument("outdir", nargs="?", metavar="OUTDIR", help="where the HTML goes (default: docs/_build/html)")
    p.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    try:
        args = p.parse_args(argv)
        out = Path(args.outdir) if args.outdir else source_dir() / "_build" / "html"
        return build(out, quiet=not args.verbose)
    except SystemExit as e:
        return int(e.code or 0)
    except SpecError as e:
        print(f"akida_nb.docs: error: {e}", file=sys.stderr)
        return 2
