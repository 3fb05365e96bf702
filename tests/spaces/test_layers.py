"""``app/spaces`` is layered: no import circle, and no import from a lower layer up.

Imports are read from the source (``ast``), every one of them: at module
level, inside functions and under ``TYPE_CHECKING``, since a lazy or
type-only import still ties the lower module to the upper one. ``LAYERS``
is the order, lowest first, of the package's subpackages and top modules; a
module may import from its own layer and from layers before it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "app.spaces"
LAYERS = [
    "model",  # the records, no I/O
    "infra",  # connections, schema migrations, embedders, the graph wire
    "stores",  # one adapter per store; the handle of an open space; recall
    "legacy",  # old qdrant-client local folders into pgvector
    "startup",  # an entry point's connections, start-up steps done
    "space_manager",  # create, find, archive and open spaces
    "access",  # roles and their check, members, space settings
    "portability",  # export and import of whole spaces
]


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    found = {}
    for path in sorted((ROOT / "app" / "spaces").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement reaches (``from a import b``: ``a.b`` or ``a``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        here = module.split(".") if is_package else module.split(".")[:-1]
        here = here[: len(here) - (node.level - 1)]
        base = ".".join(here + ([node.module] if node.module else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (itself and its parents left out)."""
    modules = modules or _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in _targets(node, module, path.name == "__init__.py"):
                while name not in modules and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in modules and name != module and not module.startswith(name + "."):
                    graph[module].add(name)
    return graph


def layer_of(module: str) -> int:
    """The rank of the layer ``module`` is in (its first name under ``app.spaces``)."""
    first = module.removeprefix(PACKAGE + ".").split(".")[0]
    assert first in LAYERS, f"{module} is in no layer: add {first!r} to LAYERS in its place"
    return LAYERS.index(first)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
    return found


def test_no_import_circle() -> None:
    circles = cycles(import_graph())
    assert not circles, f"import circles in app/spaces: {circles}"


def test_no_import_from_a_lower_layer_up() -> None:
    graph = import_graph()
    up = sorted(
        f"{a} -> {b}"
        for a, targets in graph.items()
        if a != PACKAGE
        for b in targets
        if b != PACKAGE and layer_of(b) > layer_of(a)
    )
    assert not up, "imports from a lower layer to a higher one:\n" + "\n".join(up)


def test_the_spaces_package_imports_nothing_above_it() -> None:
    """The graphs, the server, the CLI and the runner build on spaces, never the reverse."""
    above = ("app.graphs", "app.operations", "app.server", "app.cli", "app.runner", "app.runs")
    found = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = _targets(node, module, path.name == "__init__.py")
                found += [f"{module} -> {n}" for n in names if n.startswith(above)]
    assert not found, "app/spaces imports from above it:\n" + "\n".join(sorted(set(found)))


def test_the_check_finds_a_circle_and_an_arrow_up() -> None:
    """The checks themselves: a made-up circle is found, and so is a made-up climb."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("app.spaces.model.space_model") < layer_of("app.spaces.space_manager")
