"""releasegate's own modules as installed (flows/ -> releasegate.flows, tasks/ ->
releasegate.tasks), and what each imports, read from the source without running it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FOLDERS = {
    "releasegate": REPO / "releasegate",
    "releasegate.flows": REPO / "flows",
    "releasegate.tasks": REPO / "tasks",
}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    imports: frozenset[str]
    """Every module it imports, anywhere in the file (also inside functions)."""
    top_level: frozenset[str]
    """What importing it imports at once (not inside functions or `if TYPE_CHECKING`)."""


def module_name(path: Path) -> str:
    """The installed name of a source file."""
    for package, folder in FOLDERS.items():
        if path.is_relative_to(folder):
            parts = path.relative_to(folder).with_suffix("").parts
            return ".".join((package, *(parts[:-1] if parts[-1] == "__init__" else parts)))
    raise ValueError(f"{path} is not part of releasegate")


def modules() -> dict[str, Module]:
    """Every releasegate module by name."""
    paths = {module_name(p): p for folder in FOLDERS.values() for p in folder.rglob("*.py")}
    return {name: _read(name, path, set(paths)) for name, path in sorted(paths.items())}


def _read(name: str, path: Path, known: set[str]) -> Module:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    everything: set[str] = set()
    top: set[str] = set()

    def visit(node: ast.AST, at_top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            typing_only = isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            if function or typing_only:
                visit(child, False)
            elif isinstance(child, ast.Import | ast.ImportFrom):
                names = _imported(child, package, known)
                everything.update(names)
                if at_top:
                    top.update(names)
            else:
                visit(child, at_top)

    visit(ast.parse(path.read_text(), filename=str(path)), True)
    return Module(name, path, frozenset(everything), frozenset(top))


def _imported(node: ast.Import | ast.ImportFrom, package: str, known: set[str]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        parent = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parent, base] if base else parent)
    # `from releasegate import config` imports the module releasegate.config.
    return {base} | {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known}
