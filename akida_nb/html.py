"""The HTML toolkit of reports, fix results and widgets: escape, table, section, badge, page.

Every rich view of akida_nb is built here. It follows the pattern of xarray's and
scikit-learn's reprs: :func:`page` puts the escaped text first as a fallback (shown where
CSS is stripped, hidden by the CSS otherwise), then the rich view, hidden by an inline
style that the CSS overrides. The CSS ships in ``akida_nb/static/report.css``, is loaded
once per page, scoped under one id derived from the page's text (deterministic, no
``uuid4``) and takes every colour from JupyterLab's ``var(--jp-…, fallback)`` theme
variables. No JavaScript.

:func:`render_html` draws the blocks of :mod:`akida_nb.present` (the same blocks
:func:`akida_nb.present.render_text` draws for a terminal). Every string goes through
:func:`escape`, which also makes lone surrogates printable, so no user string can inject
markup or break the notebook's UTF-8 encoding.

Examples
--------
>>> from akida_nb.html import page, table, escape
>>> html = page("a <b>", table(["layer"], [[escape("x<y")]]))
>>> "x&lt;y" in html and html.startswith('<div id="akn-')
True
"""
from __future__ import annotations

import functools
import hashlib
import html as _html
from collections.abc import Iterable, Sequence
from typing import Any

from .present import (
    Block,
    Cell,
    Column,
    Diagram,
    Items,
    Line,
    Span,
    Table,
    cell_parts,
    cell_text,
    diagram,
    render_text,
    safe_text,
)

__all__ = ["Rendered", "badge", "cell_html", "diagram_html", "escape", "items", "model_diagram", "page", "render_html",
           "section", "table"]


def escape(value: Any) -> str:
    """``value`` as HTML text: markup escaped, lone surrogates shown as ``\\udfff``.

    Examples
    --------
    >>> escape('<a href="x">'), escape("fc\\udfff")
    ('&lt;a href=&quot;x&quot;&gt;', 'fc\\\\udfff')
    """
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _html.escape(text, quote=True)


def badge(ok: bool, text: str | None = None, title: str = "", link: str = "", caveat: bool = False) -> str:
    """A small verdict badge (``✓`` / ``✗``, ``⚠`` with a caveat) as HTML; colours come from the report CSS.

    With ``link`` (an element id) the badge is a link to it.

    Examples
    --------
    >>> badge(False, "2 violations"), badge(False, "✗ 2")  # the mark is added once
    ('<span class="akn-badge akn-bad">✗ 2 violations</span>', '<span class="akn-badge akn-bad">✗ 2</span>')
    >>> badge(False, "2", link="akn-v-1")
    '<a class="akn-badge akn-bad" href="#akn-v-1">✗ 2</a>'
    """
    label = text if text is not None else ("compatible" if ok else "incompatible")
    mark = "⚠" if caveat else "✓" if ok else "✗"
    label = label if label.startswith(mark) else f"{mark} {label}"
    tip = f' title="{escape(title)}"' if title else ""
    cls = "akn-caveat" if caveat else "akn-ok" if ok else "akn-bad"
    if link:
        return f'<a class="akn-badge {cls}" href="#{escape(link)}"{tip}>{escape(label)}</a>'
    return f'<span class="akn-badge {cls}"{tip}>{escape(label)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], row_classes: Iterable[str] | None = None,
          cls: str = "", sub_rows: Sequence[str] | None = None, row_ids: Sequence[str] = ()) -> str:
    """An ``akn-table`` from already escaped cells, with an optional class per row.

    ``sub_rows`` (escaped HTML, one per row, ``""`` for none) are shown under their row,
    across every column: long text wraps there instead of widening the table. The table
    sits in an ``akn-scroll`` box: a long table scrolls inside a fixed height under its
    sticky header, and no table is wider than the output area.

    Examples
    --------
    >>> table(["a"], [["1"]], ["akn-changed"]) == (
    ...     '<div class="akn-scroll"><table class="akn-table"><thead><tr><th>a</th></tr></thead>'
    ...     '<tbody><tr class="akn-changed"><td>1</td></tr></tbody></table></div>')
    True
    >>> "colspan" in table(["a", "b"], [["1", "2"]], sub_rows=["why"], cls="akn-records")
    True
    """
    rows = list(rows)
    classes = list(row_classes) if row_classes is not None else [""] * len(rows)
    subs = list(sub_rows) if sub_rows is not None else [""] * len(rows)
    ids = list(row_ids) or [""] * len(rows)
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row, c, sub, rid in zip(rows, classes, subs, ids):
        attrs = (f' id="{escape(rid)}"' if rid else "") + (f' class="{c}"' if c else "")
        body.append(f"<tr{attrs}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
        if sub:
            body.append(f'<tr class="{f"{c} akn-sub".strip()}"><td colspan="{len(headers)}">{sub}</td></tr>')
    return (f'<div class="akn-scroll"><table class="{f"akn-table {cls}".strip()}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def section(summary: str, body: str, open: bool = True, cls: str = "") -> str:
    """A collapsible ``<details>`` section; ``summary`` and ``body`` are already escaped HTML.

    Examples
    --------
    >>> section("Layers (2)", "<p>x</p>", open=False, cls="akn-layers")
    '<details class="akn-layers"><summary>Layers (2)</summary><p>x</p></details>'
    """
    return (f'<details{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}{" open" if open else ""}>'
            f"<summary>{summary}</summary>{body}</details>")


def items(title: str, values: Iterable[str], cls: str = "akn-notes") -> str:
    """A titled list of already escaped items; ``''`` when there is none.

    Examples
    --------
    >>> items("Notes", ["a"])
    '<div class="akn-notes"><b>Notes</b><ul><li>a</li></ul></div>'
    """
    lis = "".join(f"<li>{v}</li>" for v in values)
    return f'<div class="{cls}"><b>{escape(title)}</b><ul>{lis}</ul></div>' if lis else ""


@functools.lru_cache(maxsize=1)
def _css() -> str:
    """The report CSS (read here, not through :mod:`akida_nb.resources`, which loads models: ``Model`` renders here)."""
    from importlib import resources

    return (resources.files("akida_nb") / "static" / "report.css").read_text(encoding="utf-8")


def page(text: str, body: str, title: str = "") -> str:
    """Wrap a rich view: scoped CSS, escaped text fallback first, rich view hidden until the CSS shows it.

    ``body`` must already be escaped HTML. The scope id is derived from the text, so
    the same report always renders the same HTML.

    Examples
    --------
    >>> html = page("plain <text>", "<b>rich</b>")
    >>> html.index("plain &lt;text&gt;") < html.index("<b>rich</b>")
    True
    """
    scope = "akn-" + hashlib.sha1(text.encode("utf-8", "backslashreplace")).hexdigest()[:12]
    css = _css().replace("#SCOPE", f"#{scope}")
    heading = f'<div class="akn-title">{escape(title)}</div>' if title else ""
    return (f'<div id="{scope}" class="akn-root">'
            f'<pre class="akn-fallback">{escape(text)}</pre>'
            f"<style>{css}</style>"
            f'<div class="akn-wrap" style="display:none">{heading}{body}</div></div>')


# ------------------------------------------------------------------------------ blocks
_TAGS = {"code": ("<code>", "</code>"), "strong": ("<b>", "</b>")}


def cell_html(cell: Cell) -> str:
    """The HTML of a cell of :mod:`akida_nb.present`: each part made safe, escaped and styled by its role.

    Examples
    --------
    >>> from akida_nb.present import Span
    >>> cell_html(["k = ", Span("3×3", "value"), " ", Span("ok", "badge-ok")])
    'k = <span class="akn-value">3×3</span> <span class="akn-badge akn-ok">✓ ok</span>'
    >>> cell_html(Span("fc.units", "rule", "the rule", "akn-r-1"))
    '<a class="akn-rule" href="#akn-r-1" title="the rule">fc.units</a>'
    """
    out = []
    for p in cell_parts(cell):
        if not isinstance(p, Span):
            out.append(escape(safe_text(p)))
            continue
        text = safe_text(p.text)
        if p.role in ("badge-ok", "badge-bad", "badge-caveat"):
            out.append(badge(p.role != "badge-bad", text, p.title, p.link, p.role == "badge-caveat"))
            continue
        tip = f' title="{escape(p.title)}"' if p.title else ""
        if p.link:  # an in-page link to an element id of the same output (a rule's row)
            out.append(f'<a class="akn-{escape(p.role)}" href="#{escape(p.link)}"{tip}>{escape(text)}</a>')
            continue
        start, end = _TAGS.get(p.role, (f'<span class="akn-{escape(p.role)}"{tip}>', "</span>"))
        out.append(f"{start}{escape(text)}{end}")
    return "".join(out)


def _prefix(column: Column) -> str:
    """What stands before a long column's value: its label, or the start of its flow format."""
    return f"{column.name}: " if column.label else column.flow.split("{}")[0]


def _table_html(t: Table) -> str:
    """Short columns one cell each; long columns stacked in a row under their row, where they wrap."""
    short = [i for i, c in enumerate(t.columns) if not c.long]
    long = [i for i, c in enumerate(t.columns) if c.long]
    headers = [t.columns[i].name if t.headers else "" for i in short]
    rows = [[cell_html(row[i]) for i in short] for row in t.rows]
    subs = ["".join(f'<div class="akn-long akn-{escape(t.columns[i].name)}">'
                    f"{escape(_prefix(t.columns[i]))}{cell_html(row[i])}</div>"
                    for i in long if cell_text(row[i])) for row in t.rows]
    roles = [f"akn-{r}" if r else "" for r in t.row_roles] if t.row_roles else None
    cls = " ".join(c for c in (f"akn-{t.role}" if t.role else "", "akn-records" if long else "") if c)
    return table(headers, rows, roles, cls, subs if long else None, t.row_ids)


def diagram_html(d: Diagram) -> str:
    """A :class:`~akida_nb.present.Diagram` as boxes in a wrapping row (pure HTML and CSS).

    Examples
    --------
    >>> from akida_nb.present import Diagram, Node
    >>> diagram_html(Diagram((Node("input", ("8×8×1",)), Node("0 fc", ("FullyConnected",), state="bad"))))[:75]
    '<div class="akn-diagram"><div class="akn-node"><b>input</b><span class="akn'
    """
    boxes = []
    for n in d.nodes:
        cls = f"akn-node akn-{n.state}" if n.state else "akn-node"
        tip = f' title="{escape(n.tip)}"' if n.tip else ""
        first = "akn-node-line" if n.title == "input" else "akn-node-line akn-node-type"
        lines = "".join(f'<span class="{first if k == 0 else "akn-node-line"}">{escape(line)}</span>'
                        for k, line in enumerate(n.lines))
        badges = (f'<span class="akn-node-verdicts">{cell_html(list(n.verdicts))}</span>' if n.verdicts else "")
        boxes.append(f'<div class="{cls}"{tip}><b>{escape(n.title)}</b>{lines}{badges}</div>')
    return f'<div class="akn-{d.role}">' + '<span class="akn-arrow">→</span>'.join(boxes) + "</div>"


def model_diagram(model: Any, reports: Any = (), nps: Any = None) -> str:
    """A model at a glance as a page: one box per layer (type, shapes, bits, NPs when given).

    ``reports`` (a :class:`~akida_nb.report.Comparison`, one report or several) colour the
    boxes by verdict; ``nps`` is a DataFrame from :func:`akida_nb.estimate_nps` (or
    ``{layer index: NP count}``). Deterministic, no JavaScript; ``Model._repr_html_`` is
    this without reports.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.example("ds_cnn_kws")
    >>> html = model_diagram(m, ak.compare(m), nps=ak.estimate_nps(m, "akd1000"))
    >>> html.count('<div class="akn-node'), "NP" in html, "<script" in html
    (7, True, False)
    """
    rs = tuple(getattr(reports, "reports", None) or ((reports,) if hasattr(reports, "layer_verdicts") else reports))
    d = diagram(model.layers, model.input_shape, model.input_bits, rs, nps)
    return page(repr(model), render_html([Line(["Model ", Span(repr(model.name), "model"), f": {len(model.layers)} "
                                                f"layer{'s' if len(model.layers) != 1 else ''}"]), d]))


def _block_html(block: Block) -> str:
    if isinstance(block, Diagram):
        return diagram_html(block)
    if isinstance(block, Line):
        return f'<div class="akn-{block.role}">{cell_html(block.parts)}</div>' if block.role else \
            f"<div>{cell_html(block.parts)}</div>"
    if isinstance(block, Items):
        return items(safe_text(block.title), [cell_html(i) for i in block.items], f"akn-{block.role}")
    if isinstance(block, Table):
        if not block.rows:
            return ""
        body = _table_html(block)
        return section(f"{escape(safe_text(block.title))} ({len(block.rows)})", body, block.open,
                       f"akn-{block.role}" if block.role else "")
    return section(cell_html(block.title), render_html(block.blocks), block.open,
                   f"akn-{block.role}" if block.role else "")


def render_html(blocks: Iterable[Block]) -> str:
    """The rich HTML of a list of blocks (the body :func:`page` wraps).

    Examples
    --------
    >>> from akida_nb.present import Line
    >>> render_html([Line(["a <", Span("b", "strong")])])
    '<div class="akn-header">a &lt;<b>b</b></div>'
    """
    return "".join(_block_html(b) for b in blocks)


class Rendered:
    """Mixin for results that describe themselves as blocks.

    ``repr``, ``str`` and ``_repr_html_`` all come from one ``blocks()``.

    Examples
    --------
    >>> from akida_nb.present import Line
    >>> class Note(Rendered):
    ...     def blocks(self):
    ...         return [Line("hello <world>")]
    >>> repr(Note()), "hello &lt;world&gt;" in Note()._repr_html_()
    ('hello <world>', True)
    """

    def blocks(self) -> list[Block]:
        """The blocks both views render."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return render_text(self.blocks())

    def __str__(self) -> str:
        return repr(self)

    def _repr_html_(self) -> str:
        blocks = self.blocks()
        return page(render_text(blocks), render_html(blocks))
