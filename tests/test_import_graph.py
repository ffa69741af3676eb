"""The import graph of ``src/modelmon``: no circle, imports run down the layers of
``docs/architecture.md``, and the section modules never import the registry.

Imports under ``if TYPE_CHECKING:`` are left out (they never run). Imports inside functions run
later, so they can hide a circle; they are counted too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelmon

SOURCE = Path(modelmon.__file__).parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = ("modelmon", *path.relative_to(SOURCE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(module: str, path: Path, in_functions: bool) -> Iterator[str]:
    """Names ``module`` imports (modules, and ``module.name`` for each ``from`` import)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import) and (in_functions or not inner):
                yield from (alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and (in_functions or not inner):
                base = package.rsplit(".", child.level - 1)[0] if child.level else ""
                source = ".".join(part for part in (base, child.module or "") if part)
                yield source
                yield from (f"{source}.{alias.name}" for alias in child.names)
            yield from visit(child, inner)

    yield from visit(ast.parse(path.read_text()), False)


def _circles(in_functions: bool) -> list[list[str]]:
    modules = _modules()
    graph = {
        name: {other for other in _imported(name, path, in_functions) if other in modules and other != name}
        for name, path in modules.items()
    }
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def connect(name: str) -> None:  # Tarjan's strongly connected components
        order[name] = low[name] = len(order)
        stack.append(name)
        for other in graph[name] & graph.keys():
            if other not in order:
                connect(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], order[other])
        if low[name] == order[name]:
            component = [stack.pop()]
            while component[-1] != name:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for name in graph:
        if name not in order:
            connect(name)
    return circles


def test_no_module_imports_itself_through_others_when_imported() -> None:
    assert _circles(in_functions=False) == []


def test_no_circle_hides_behind_imports_inside_functions() -> None:
    assert _circles(in_functions=True) == []


@pytest.mark.parametrize(
    "module", sorted(name for name in _modules() if name.startswith("modelmon.sections."))
)
def test_a_section_module_never_imports_the_registry(module: str) -> None:
    imported = set(_imported(module, _modules()[module], in_functions=True))
    assert "modelmon.sections" not in imported and not {"REGISTRY", "named"} & {
        name.rpartition(".")[2] for name in imported if name.startswith("modelmon.sections.")
    }


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_imports_a_private_name_of_another_package() -> None:
    modules = _modules()
    crossing = [
        f"{name} imports {imported}"
        for name, path in modules.items()
        for imported in _imported(name, path, in_functions=True)
        if imported.rpartition(".")[2].startswith("_")
        and not imported.rpartition(".")[2].startswith("__")
        and imported.rpartition(".")[0] in modules
        and _package(imported.rpartition(".")[0]) != _package(name)
    ]
    assert crossing == []


#: the layers of docs/architecture.md, lowest first; a module is in the layer of its longest prefix
LAYERS = (
    ("modelmon", "modelmon.errors"),  # the package itself only loads its exports on first use
    ("modelmon.schema",),
    ("modelmon.config", "modelmon.compat.evidently_config"),
    ("modelmon.reading",),
    ("modelmon.render",),  # the HTML widgets and fragments: they read a result's plain data
    ("modelmon.engine",),
    ("modelmon.sections",),
    ("modelmon.render.html", "modelmon.render.json", "modelmon.render.notebook", "modelmon.render.junit"),
    ("modelmon.store",),
    ("modelmon.compat",),
    ("modelmon.flows",),
    ("modelmon.service",),
    ("modelmon.client",),
    ("modelmon.demo",),
    ("modelmon.cli", "modelmon.__main__"),
)

#: the imports up the layers, and why; the rest run down
UPWARD = {
    # translating an Evidently config reads its reference file's columns
    ("modelmon.compat.evidently_config", "modelmon.reading.files"),
    # a finished report writes itself as JSON and HTML, and shows in a notebook, when asked
    ("modelmon.engine.result", "modelmon.render.html"),
    ("modelmon.engine.result", "modelmon.render.json"),
    ("modelmon.engine.result", "modelmon.render.notebook"),
    # report assembly reads the section registry, whose modules import the engine only when they run
    ("modelmon.engine.sections", "modelmon.sections"),
    ("modelmon.engine.sides", "modelmon.sections"),
}


def _layer(module: str) -> int:
    found = [
        (len(prefix), number)
        for number, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or (prefix != "modelmon" and module.startswith(f"{prefix}."))
    ]
    assert found, f"{module} is in no layer: add it to LAYERS and to docs/architecture.md"
    return max(found)[1]


def test_imports_run_down_the_layers() -> None:
    modules = _modules()
    upward = {
        (name, imported)
        for name, path in modules.items()
        for imported in _imported(name, path, in_functions=True)
        if imported in modules and _layer(imported) > _layer(name)
    }
    assert upward - UPWARD == set()


def test_the_client_imports_nothing_of_modelmon_but_errors() -> None:
    """The client runs inside prediction services: numpy, pandas and the engine stay out of them."""
    modules = _modules()
    imported = {
        other
        for name, path in modules.items()
        if name.startswith("modelmon.client")
        for other in _imported(name, path, in_functions=True)
        if other in modules
    }
    assert {name for name in imported if not name.startswith("modelmon.client")} <= {"modelmon.errors"}
