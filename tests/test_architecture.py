"""The package tree is the architecture: each layer imports only the layers below it, no
module imports another that imports it back, and the core never imports typer or rich."""

from __future__ import annotations

import ast
from pathlib import Path

import lukener

PACKAGE = Path(lukener.__file__).parent
# Lowest first: a module may import its own layer and the layers before it.
LAYERS = ("", "files", "data", "spans", "modeling", "tasks", "api", "integrations", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def lukener_imports(path: Path) -> set[str]:
    """Every lukener module ``path`` imports, at the top or inside functions."""
    found = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or module_name(path)).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules and name != module_name(path)}


def layer(module: str) -> int:
    if module == "lukener":  # the package root re-exports the Python API
        return LAYERS.index("api")
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""
    if parts[1:2] == ["__main__"]:
        name = "cli"
    return LAYERS.index(name)


def graph() -> dict[str, set[str]]:
    return {module_name(path): lukener_imports(path) for path in PACKAGE.rglob("*.py")}


def test_the_graph_is_read() -> None:
    imports = graph()
    assert "lukener.modeling.adoption" in imports["lukener.modeling.loading"]
    assert "lukener.tasks.train_options" in imports["lukener.cli.train"]


def test_each_layer_imports_only_layers_below_it() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if layer(target) > layer(module)
    ]
    assert not upward


def test_no_import_circles() -> None:
    imports = graph()
    state: dict[str, int] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(imports.get(module, ())):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(imports):
        if module not in state:
            visit(module, [module])
    assert not circles


def test_the_core_never_imports_typer_or_rich() -> None:
    offending = []
    for path in PACKAGE.rglob("*.py"):
        if module_name(path).startswith(("lukener.cli", "lukener.__main__")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            offending += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in ("typer", "rich")
            ]
    assert not offending
