"""The package's module graph, read from its source: no import circles, counting every import statement.

The graph has one node per module of ``akida_nb`` and an edge ``a -> b`` for every ``import`` or
``from … import`` statement in ``a`` (at module level, inside functions and classes, relative imports
resolved) that names ``b``. ``from pkg import name`` points to ``pkg.name`` when that is a module, else to
``pkg``. Imports under ``if TYPE_CHECKING:`` are not executed and are left out; they are reported by
:func:`type_only_edges` so that none can hide a circle in plain sight. The rule (docs/design.md#the-house):
no module imports, even inside a function, a module that imports it back.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "akida_nb"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST, type_only: bool = False):
    """Yield ``(node, type_only)`` for every import statement, descending into every block."""
    if isinstance(tree, (ast.Import, ast.ImportFrom)):
        yield tree, type_only
        return
    if isinstance(tree, ast.If) and _is_type_checking(tree.test):
        for stmt in tree.body:
            yield from _statements(stmt, True)
        for stmt in tree.orelse:
            yield from _statements(stmt, type_only)
        return
    for child in ast.iter_child_nodes(tree):
        yield from _statements(child, type_only)


def _targets(node: ast.Import | ast.ImportFrom, name: str, path: Path, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    return {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}


def _edges(type_only: bool) -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, typing_only in _statements(tree):
            if typing_only != type_only:
                continue
            graph[name] |= {t for t in _targets(node, name, path, set(known)) if t in known and t != name}
    return graph


def import_graph() -> dict[str, set[str]]:
    """Runtime import edges between the package's modules."""
    return _edges(type_only=False)


def type_only_edges() -> dict[str, set[str]]:
    """Edges that exist only under ``if TYPE_CHECKING:``."""
    return _edges(type_only=True)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_graph_sees_imports_inside_functions_and_relative_imports():
    graph = import_graph()
    assert "akida_nb.errors" in graph["akida_nb.model"]          # `from .errors import …` at module level
    assert "akida_nb.sim.kernels" in graph["akida_nb.sim"]       # `from . import kernels`
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from ..check import check\n")
    ((node, type_only),) = list(_statements(tree))
    assert not type_only
    assert _targets(node, "akida_nb.fixes.catalogue", PACKAGE / "fixes" / "catalogue.py", set(modules())) == {
        "akida_nb.check"}


def test_no_import_circles():
    found = cycles(import_graph())
    assert not found, "import circles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_type_only_imports_close_no_circle_either():
    """Imports under TYPE_CHECKING do not run, but a circle they close is still a design smell."""
    runtime = cycles(import_graph())
    graph = import_graph()
    for name, targets in type_only_edges().items():
        graph[name] |= targets
    found = [c for c in cycles(graph) if c not in runtime]   # runtime circles fail the test above
    assert not found, "import circles through TYPE_CHECKING imports: " + "; ".join(" ↔ ".join(c) for c in found)



# ------------------------------------------------------------------------------------ design notes
DESIGN = ROOT / "docs" / "design.md"
SCANNED = ("akida_nb", "tests", "benchmarks", "data", "notebooks", "docs", ".ci")
SCANNED_FILES = ("README.md", "pyproject.toml", "constraints.txt")
SECTION_SIGN = "\u00a7"


def anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def design_anchors() -> set[str]:
    text = DESIGN.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)          # no headings inside code blocks
    return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def text_files():
    paths = [ROOT / name for name in SCANNED_FILES]
    for folder in SCANNED:
        paths += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    for path in sorted(paths):
        try:
            yield path, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:                              # binary test data
            continue


def test_anchor_follows_github():
    assert anchor("Average pooling is a saturating sum") == "average-pooling-is-a-saturating-sum"
    assert anchor("AKD1000 engine facts") == "akd1000-engine-facts"
    assert {"the-house", "axis-convention", "simulator-arithmetic", "the-activation"} <= design_anchors()


def test_every_design_link_names_a_heading():
    anchors = design_anchors()
    links = [(path.relative_to(ROOT), m.group(1)) for path, text in text_files()
             for m in re.finditer(r"design\.md#([\w\-]+)", text)]
    internal = [(DESIGN.relative_to(ROOT), m.group(1))
                for m in re.finditer(r"\]\(#([\w\-]+)\)", DESIGN.read_text(encoding="utf-8"))]
    assert len(links) >= 20
    broken = [(str(path), name) for path, name in links + internal if name not in anchors]
    assert not broken, broken


def test_no_bare_section_numbers_remain():
    pattern = re.compile(SECTION_SIGN + r"\s*\d")
    found = [f"{path.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}" for path, text in text_files()
             for m in pattern.finditer(text)]
    assert not found, "point these into docs/design.md#<heading> instead: " + ", ".join(found)
