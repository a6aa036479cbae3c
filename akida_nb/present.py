"""One place that turns values, shapes and layers into words for every report, table and widget.

Text and HTML views, the tables of :func:`akida_nb.constraints`, error messages and
fix notes all format through these functions, so ``3×3`` reads the same everywhere.

Reports, fix results and widgets describe themselves once, as a list of *blocks*
(:class:`Line`, :class:`Table`, :class:`Items`, :class:`Section`) whose cells are plain
strings or marked-up :class:`Span` s. :func:`render_text` draws the blocks for a
terminal; :func:`akida_nb.html.render_html` draws the same blocks as HTML, so the text
and rich views carry the same facts and cannot drift apart. Every user string passes
:func:`safe_text` on its way to a terminal: control characters and lone surrogates are
shown escaped, so a layer name can neither forge a line of a report nor break its
encoding.

Examples
--------
>>> from akida_nb.present import format_value, render_text, Line, Table, Column
>>> format_value((3, 3)), format_value([1, 2, 4])
('3×3', '1×2×4')
>>> print(render_text([Line(("Model ", "net\\x1b[2J")),
...                    Table("Layers", (Column("#", right=True), Column("layer")), [[0, "conv"]])]))
Model net\\x1b[2J
<BLANKLINE>
Layers:
  #  layer
  0  conv
"""
from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import one_line

__all__ = [
    "Block",
    "Column",
    "Diagram",
    "Items",
    "Line",
    "Node",
    "Section",
    "Span",
    "Table",
    "allowed_with_condition",
    "badge_span",
    "cell_parts",
    "cell_text",
    "describe_layer",
    "diagram",
    "format_pair",
    "format_shape",
    "format_value",
    "layer_label",
    "plural",
    "render_text",
    "safe_text",
]


# ------------------------------------------------------------------------------ values
def format_value(value: Any) -> str:
    """Display a context value the way the tables do: pairs as ``3×3``, ``None`` as ``none``.

    Examples
    --------
    >>> format_value((3, 3)), format_value(None), format_value(True), format_value("same")
    ('3×3', 'none', 'true', 'same')
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "×".join(format_value(v) for v in value)
    return str(value)


def format_shape(shape: Any) -> str:
    """A shape or a pair as ``25×5×64``; ``None`` (nothing to show) as ``''``.

    Examples
    --------
    >>> format_shape((25, 5, 64)), format_shape([3, 3]), format_shape(None)
    ('25×5×64', '3×3', '')
    """
    return "" if shape is None else format_value(tuple(shape))


format_pair = format_shape
"""A kernel, stride or pool pair as ``3×3`` (the same as :func:`format_shape`)."""


def safe_text(text: Any) -> str:
    """``text`` made safe for a terminal: control characters and lone surrogates shown escaped.

    Nothing is cut (:func:`akida_nb.errors.one_line` is the same idea with a length bound).

    Examples
    --------
    >>> safe_text("fc\\nCOMPATIBLE\\x1b[0m"), safe_text("fc\\udfff"), safe_text("3×3 → ok")
    ('fc\\\\nCOMPATIBLE\\\\x1b[0m', 'fc\\\\udfff', '3×3 → ok')
    """
    return one_line(str(text), sys.maxsize)


def plural(n: int, word: str) -> str:
    """``'1 layer'``, ``'2 layers'``.

    Examples
    --------
    >>> plural(1, "layer"), plural(3, "violation")
    ('1 layer', '3 violations')
    """
    return f"{n} {word}{'' if n == 1 else 's'}"


def layer_label(name: str, layer_type: str) -> str:
    """A layer as the reports name it: ``conv_0 (InputConvolutional)``.

    Examples
    --------
    >>> layer_label("conv_0", "InputConvolutional")
    'conv_0 (InputConvolutional)'
    """
    return f"{name} ({layer_type})"


def describe_layer(layer: Any) -> str:
    """One line describing a built layer: name, type, geometry, shapes and bits.

    Examples
    --------
    >>> import akida_nb as ak
    >>> describe_layer(ak.example("ds_cnn_kws").layers[4])
    'separable_4 SeparableConvolutional k3×3 s1×1 same, global average: 25×5×64 → 1×1×64, i4 w4 a4'
    """
    geometry = ""
    if layer.type != "FullyConnected":
        geometry = f" k{format_pair(layer.kernel_size)} s{format_pair(layer.kernel_stride)} {layer.padding}"
        if layer.pool_type == "max":
            geometry += f", max {format_pair(layer.pool_size)}/{format_pair(layer.pool_stride)}"
        elif layer.pool_type == "average":
            geometry += ", global average"
    act = f"a{layer.act_bits}" if layer.activation else "no activation"
    return (f"{layer.name} {layer.type}{geometry}: {format_shape(layer.input_shape)} → "
            f"{format_shape(layer.output_shape)}, i{layer.input_bits} w{layer.weights_bits} {act}")


def allowed_with_condition(allowed: str, condition: str = "") -> str:
    """A rule's allowed values with the condition under which it applies: ``[1] (when kernel_size is 3×3)``.

    Examples
    --------
    >>> allowed_with_condition("[1, 2]", "when kernel_size is 3×3"), allowed_with_condition("[same]")
    ('[1, 2] (when kernel_size is 3×3)', '[same]')
    """
    return f"{allowed} ({condition})" if condition else allowed


# ------------------------------------------------------------------------------ blocks
@dataclass(frozen=True)
class Span:
    """A piece of text with a role: ``"badge-ok"``, ``"badge-bad"``, ``"code"``, ``"value"``, ``"strong"``, …

    The text renderer shows ``text`` (badges with their ``✓``/``✗`` only in HTML); the
    HTML renderer wraps it in an element styled by the report CSS.

    Examples
    --------
    >>> cell_text(Span("3×3", "value")), cell_text(("k = ", Span("3", "code")))
    ('3×3', 'k = 3')
    """

    text: Any
    role: str = ""
    title: str = ""
    """A tooltip (HTML only)."""
    link: str = ""
    """An element id in the same output to link to (HTML only): ``"akn-…"``."""


Cell = str | int | Span | Sequence[str | int | Span] | None
"""A table cell or a line: a string, a :class:`Span`, or a sequence of them (joined)."""


def badge_span(ok: bool, text: str, title: str = "", link: str = "", caveat: bool = False) -> Span:
    """A verdict badge: rendered as ``text`` in a terminal, as a coloured ``✓ text`` / ``✗ text`` in HTML.

    ``caveat`` marks a verdict that holds with a reservation (``⚠``, the warning colour);
    ``title`` is its tooltip and ``link`` an element id it points to.

    Examples
    --------
    >>> badge_span(False, "2 violations").role, badge_span(True, "ok", caveat=True).role
    ('badge-bad', 'badge-caveat')
    """
    return Span(text, "badge-caveat" if caveat else "badge-ok" if ok else "badge-bad", title, link)


def cell_parts(cell: Cell) -> list[str | int | Span]:
    """The parts of a cell, as a list (``None`` has none).

    Examples
    --------
    >>> cell_parts("a"), cell_parts(None), len(cell_parts(["a", Span("b")]))
    (['a'], [], 2)
    """
    if cell is None:
        return []
    if isinstance(cell, (str, int, Span)):
        return [cell]
    return list(cell)


def cell_text(cell: Cell) -> str:
    """The terminal text of a cell: every part made safe by :func:`safe_text` and joined.

    Examples
    --------
    >>> cell_text(["layer ", Span("a\\nb", "strong")])
    'layer a\\\\nb'
    """
    return "".join(safe_text(p.text if isinstance(p, Span) else p) for p in cell_parts(cell))


@dataclass(frozen=True)
class Line:
    """One line of text (a header, a verdict, a sentence); ``role`` styles it in HTML (default: a header).

    Examples
    --------
    >>> print(render_text([Line(("Verdict: ", badge_span(True, "COMPATIBLE")))]))
    Verdict: COMPATIBLE
    """

    parts: Cell
    role: str = "header"


@dataclass(frozen=True)
class Column:
    """A table column: its header, right alignment in text, and whether it is long prose.

    Long columns are written under their row in text (``label: value``, indented) and
    as ordinary cells in HTML; ``label=False`` leaves the label out.

    Examples
    --------
    >>> Column("fix", long=True).long
    True
    """

    name: str
    right: bool = False
    long: bool = False
    label: bool = True
    flow: str = "{}"
    """In a ``flow`` table, how the cell reads in its text line (``"[{}] "``)."""


@dataclass(frozen=True)
class Table:
    """A titled table. ``row_roles`` mark rows (``"changed"``, ``"differs"``) for the HTML highlight.

    ``numbered`` prefixes text rows with ``k.``; ``open`` is whether the HTML section starts
    unfolded; ``mark`` gives each text row a one-character mark (the diff's ``*``/``+``/``-``).

    Examples
    --------
    >>> t = Table("Layers", (Column("#", right=True), Column("layer")), [[0, "conv"], [1, "fc"]])
    >>> len(t.rows)
    2
    """

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    row_roles: Sequence[str] = ()
    row_ids: Sequence[str] = ()
    """Element ids of the rows (HTML only), for links from elsewhere in the same output."""
    open: bool = True
    role: str = ""
    numbered: bool = False
    headers: bool = True
    marks: Sequence[str] = ()
    flow: bool = False
    """Text rows as sentences (each short cell through its column's ``flow`` format), not aligned columns."""


@dataclass(frozen=True)
class Items:
    """A titled bulleted list (notes, unmapped layers); nothing at all when empty.

    Examples
    --------
    >>> print(render_text([Items("Notes", ["one", "two"])]))
    Notes:
      - one
      - two
    """

    title: str
    items: Sequence[Cell]
    role: str = "notes"


@dataclass(frozen=True)
class Section:
    """A titled group of blocks: a rule-separated part of the text, a foldable ``<details>`` in HTML.

    Examples
    --------
    >>> print(render_text([Section("nsoc_v1", [Line("all good", "")])]))
    ──────── nsoc_v1 ────────
    all good
    """

    title: Cell
    blocks: Sequence[Block]
    open: bool = False
    role: str = ""


@dataclass(frozen=True)
class Node:
    """One box of a :class:`Diagram`: a title, a few short lines, verdict badges, a colour and a tooltip.

    Examples
    --------
    >>> Node("0 conv", ("Convolutional", "32×32×8 → 32×32×16"), state="ok").state
    'ok'
    """

    title: str
    lines: Sequence[str] = ()
    verdicts: Sequence[Span] = ()
    state: str = ""
    """``"ok"`` (every target accepts the layer), ``"bad"`` (none does) or ``""`` (no verdict, or mixed)."""
    tip: str = ""


@dataclass(frozen=True)
class Diagram:
    """A model at a glance: one box per layer, in order (HTML only; the text views list the layers already).

    Examples
    --------
    >>> render_text([Line("Model"), Diagram((Node("input"), Node("0 conv")))])
    'Model'
    """

    nodes: Sequence[Node]
    role: str = "diagram"


def _bits(layer: Any) -> str:
    weights = getattr(layer, "weights_bits", None)
    if weights is None:
        return ""
    act = f"act {layer.act_bits}-bit" if getattr(layer, "activation", True) else "no activation"
    return f"weights {weights}-bit · {act}"


def diagram(layers: Sequence[Any], input_shape: Any = None, input_bits: int | None = None,
            reports: Sequence[Any] = (), nps: Any = None) -> Diagram:
    """The :class:`Diagram` of a layer chain, coloured by the verdicts of ``reports`` when given.

    ``layers`` are :class:`akida_nb.Layer` s (type, shapes, bits) or a report's
    ``layer_verdicts`` (type and shapes); ``reports`` are :class:`CompatibilityReport` s of
    the same layers (one badge per target in each box); ``nps`` maps a layer index to its
    neural-processor count, or is a DataFrame from :func:`akida_nb.estimate_nps`.

    Examples
    --------
    >>> import akida_nb as ak
    >>> m = ak.example("ds_cnn_kws")
    >>> d = diagram(m.layers, m.input_shape, m.input_bits, [ak.check(m, "nsoc_v1")])
    >>> [n.state for n in d.nodes][:3], d.nodes[1].lines[0]
    (['', 'bad', 'ok'], 'InputConvolutional')
    """
    counts: dict[int, Any] = {}
    if nps is not None and hasattr(nps, "columns"):
        counts = {i: n for i, n in enumerate(nps["nps"]) if n is not None and n == n and str(n) != "<NA>"}
    elif nps is not None:
        counts = dict(nps)
    head = tuple(x for x in (format_shape(input_shape), f"{input_bits}-bit" if input_bits else "") if x)
    nodes = [Node("input", head)] if head else []
    for i, layer in enumerate(layers):
        lines = [str(layer.type), f"{format_shape(layer.input_shape)} → {format_shape(layer.output_shape)}"]
        if _bits(layer):
            lines.append(_bits(layer))
        if i in counts:
            lines.append(plural(int(counts[i]), "NP"))
        verdicts = [r.layer_verdicts[i] for r in reports]
        badges = [Span(r.target if v.ok else f"{r.target}: {v.violations}", "badge-ok" if v.ok else "badge-bad",
                       f"{r.target}: {v.summary}") for r, v in zip(reports, verdicts)]
        state = ("ok" if all(v.ok for v in verdicts) else "bad" if not any(v.ok for v in verdicts) else "") \
            if verdicts else ""
        tip = layer_label(layer.name, layer.type) + "".join(f"; {r.target}: {v.summary}"
                                                             for r, v in zip(reports, verdicts))
        nodes.append(Node(f"{i} {safe_text(layer.name)}", tuple(lines), tuple(badges), state, tip))
    return Diagram(tuple(nodes))


Block = Line | Table | Items | Section | Diagram


def _table_text(t: Table) -> list[str]:
    short = [i for i, c in enumerate(t.columns) if not c.long]
    long = [i for i, c in enumerate(t.columns) if c.long]
    texts = [[cell_text(row[i]) for i in range(len(t.columns))] for row in t.rows]
    widths = {i: max([len(t.columns[i].name) if t.headers else 0] + [len(r[i]) for r in texts]) for i in short}
    lead = "  " + ("   " if t.numbered else "") + ("  " if t.marks else "")

    def line(cells: list[str]) -> str:
        out = [(c.rjust if t.columns[i].right else c.ljust)(widths[i]) for i, c in zip(short, cells)]
        return "  ".join(out).rstrip()

    if t.flow:
        def line(cells: list[str]) -> str:
            return "".join(t.columns[i].flow.format(c) for i, c in zip(short, cells)).rstrip()

    lines = [lead + line([t.columns[i].name for i in short])] if t.headers and not t.flow else []
    for k, r in enumerate(texts, 1):
        num = f"{k:>2}." if t.numbered else ""
        mark = (t.marks[k - 1] + " ") if t.marks else ""
        lines.append("  " + mark + (num + " " if num else "") + line([r[i] for i in short]))
        for i in long:
            if r[i]:
                col = t.columns[i]
                lines.append(lead + "   " + (f"{col.name}: " if col.label else "") + col.flow.format(r[i]))
    return lines


def _block_text(block: Block) -> list[str]:
    if isinstance(block, Diagram):
        return []
    if isinstance(block, Line):
        return [cell_text(block.parts)]
    if isinstance(block, Items):
        if not block.items:
            return []
        return ["", f"{safe_text(block.title)}:"] + [f"  - {cell_text(i)}" for i in block.items]
    if isinstance(block, Table):
        if not block.rows:
            return []
        return ["", f"{safe_text(block.title)}:"] + _table_text(block)
    title = cell_text(block.title)
    return ["", "─" * 8 + f" {title} " + "─" * 8] + render_text(block.blocks).split("\n")


def render_text(blocks: Iterable[Block]) -> str:
    """The terminal text of a list of blocks; every user string passes :func:`safe_text`.

    Examples
    --------
    >>> print(render_text([Line("Report"), Items("Notes", ["a\\nb"])]))
    Report
    <BLANKLINE>
    Notes:
      - a\\nb
    """
    lines: list[str] = []
    for block in blocks:
        lines += _block_text(block)
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)

