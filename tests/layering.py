"""The architecture as a check: govctl's folders are layers (README "Code layout").

Every import between govctl's modules is read from the source with the AST — imports
inside functions included (a lazy import still couples two modules), relative imports
resolved, imports under ``if TYPE_CHECKING:`` exempt (they never run) — and two things are
reported:

* an import that points up the layer order (``model`` importing ``rules``, anything below
  ``cli`` importing ``report``), or out of ``cache`` into anything but ``model``;
* an import cycle between modules, counting the implicit import of a module's parent
  packages (``import govctl.rules.registry`` runs ``govctl/rules/__init__.py`` first).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# bottom to top; a module may import its own layer and the layers below it
LAYERS = ("model", "digest", "rules", "history", "monitoring", "documents", "report", "cli")
# the top-level modules every layer may use (the package itself, for __version__)
BASE = {"govctl", "govctl.errors"}
ENTRY = {"govctl.__main__"}  # above cli: `python -m govctl`
SIDE = "cache"  # serves every layer, imports only model


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} → {self.imported} (line {self.line})"


def module_name(package_dir: Path, path: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package_dir: Path) -> dict[str, Path]:
    return {module_name(package_dir, p): p for p in sorted(package_dir.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, except in ``if TYPE_CHECKING:`` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def _resolve(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(package_dir: Path) -> list[Import]:
    """Every govctl-internal import, as module → module edges."""
    modules = _modules(package_dir)
    root = package_dir.name
    found: list[Import] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _import_nodes(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(name, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in targets:
                if target == root or target.startswith(root + "."):
                    found.append(Import(name, target, node.lineno))
    return found


def layer(module: str) -> str:
    if module in BASE:
        return "base"
    if module in ENTRY:
        return "entry"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "base"


def _rank(layer_name: str) -> int:
    if layer_name == "base":
        return -1
    if layer_name == "entry":
        return len(LAYERS)
    return LAYERS.index(layer_name)


def upward(edges: list[Import]) -> list[Import]:
    """Imports that break the layer order, or that come from a module in no known layer."""
    bad = []
    for edge in edges:
        a, b = layer(edge.importer), layer(edge.imported)
        known = (*LAYERS, SIDE, "base", "entry")
        if a not in known or b not in known:
            bad.append(edge)  # a new top-level module or package: give it a layer first
        elif a == b or b == SIDE:
            continue
        elif a == SIDE:
            if b not in ("model", "base"):
                bad.append(edge)
        elif _rank(b) > _rank(a):
            bad.append(edge)
    return bad


def cycles(package_dir: Path, edges: list[Import]) -> list[list[str]]:
    """Import cycles between modules (strongly connected components, Tarjan)."""
    graph: dict[str, set[str]] = {name: set() for name in _modules(package_dir)}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
    for name in list(graph):
        parts = name.split(".")
        for n in range(1, len(parts)):  # importing a.b.c runs a/__init__ and a/b/__init__
            parent = ".".join(parts[:n])
            if parent in graph and parent != name:
                graph[name].add(parent)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative, so deep graphs cannot hit recursion limits
        nonlocal counter
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found
