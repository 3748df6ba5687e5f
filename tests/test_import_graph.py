"""The package's imports form no circle: a module never imports, even inside a function, what imports it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pneumolib"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """pneumolib modules ``path`` imports anywhere (functions included), outside ``if TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(node) for branch in ast.walk(tree) if isinstance(branch, ast.If)
               and getattr(branch.test, "id", getattr(branch.test, "attr", "")) == "TYPE_CHECKING"
               for statement in branch.body for node in ast.walk(statement)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # "from pneumolib import environment" names a module
                found.add(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module)
    return {name for name in found if name in modules}


def test_no_import_circles():
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}
    circles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                circles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []


LAYERS = (
    ("pneumolib", "constants", "environment", "project_paths", "resources", "samples", "file_digest"),
    ("config", "reachability"),
    ("decode", "models"),
    ("data",),
    ("engine", "checkpoint"),
    ("inference",),
    ("explain", "gate"),
    ("evaluation", "training"),
    ("deploy", "reporting"),
    ("serving",),
    ("notebook", "workflows"),
    ("cli", "__main__"),
)
"""The package's layers, bottom first: a module imports only from its own layer or below (the README's map)."""


def _layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else module
    return next(index for index, names in enumerate(LAYERS) if part in names)


def test_imports_point_down_the_layers():
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    upward = sorted(f"{name} -> {target}" for name, path in paths.items()
                    for target in imports_of(path, set(paths)) if _layer(target) > _layer(name))
    assert upward == []


def test_every_subpackage_has_a_layer():
    parts = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.iterdir()
             if path.suffix == ".py" or (path / "__init__.py").is_file()}
    placed = {name for layer in LAYERS for name in layer}
    assert parts - {"__init__"} <= placed, f"give these a layer: {sorted(parts - {'__init__'} - placed)}"
