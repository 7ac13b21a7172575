"""The layout shows the architecture: no import cycle between files or between folders (imports inside functions
count), and each folder imports only the layers below it, as its __init__ docstring says."""

from __future__ import annotations

import ast
import pathlib
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parents[1] / "qwen_jupyter"
PACKAGE = "qwen_jupyter"

# What each part may import (besides itself), in the order a request flows: the front doors at the top, core at
# the bottom. The emulator stands apart (it speaks the wire formats; it imports nothing of the toolkit but core).
LAYERS = {
    "core": set(),
    "backends": {"core"},
    "state": {"core"},
    "engine": {"core", "backends", "state", "emulator"},
    "views": {"core"},
    "data": {"core", "backends", "state", "engine"},
    "panel": {"core", "state", "engine", "views"},
    "magic": {"core", "backends", "state", "engine", "views", "data", "panel"},
    "emulator": {"core"},
    "api": {"core", "state", "engine", "magic"},  # a notebook's session is the loaded extension's
    "errors": {"core"},
    "tools": {"core"},
    "cli": {"core", "engine", "views", "api", "emulator", "_version"},
    "testing": {"emulator"},
    "__init__": {"core", "api", "engine", "views", "data", "panel", "magic", "errors", "_version"},
    "_version": set(),
}


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, wherever the import statement stands."""
    modules = {_module(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if _in_type_checking(node, parents):
                continue  # annotations only: never run
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[:len(base) - node.level + 1] if node.level else []
                origin = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                           for alias in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t.startswith(PACKAGE) and t in modules and t != name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def _part(module: str) -> str:
    """The folder (or top-level module) a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_import_cycle_between_files():
    assert _cycles(imports()) == []


def test_no_import_cycle_between_folders_and_each_imports_only_the_layers_below():
    graph = imports()
    folders: dict[str, set[str]] = defaultdict(set)
    wrong = []
    for module, targets in graph.items():
        for target in targets:
            source, dest = _part(module), _part(target)
            if source != dest:
                folders[source].add(dest)
                if dest not in LAYERS.get(source, set()):
                    wrong.append(f"{module} -> {target}")
    assert _cycles(folders) == []
    assert sorted(wrong) == []


def test_every_folder_says_what_lives_there_and_what_it_may_import():
    for folder in sorted(p for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))) or ""
        assert "import" in doc.lower(), f"{folder.name}/__init__.py: say what it may import"


def test_no_file_of_the_package_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*") if p.suffix in (".py", ".js", ".css")
            and "vendor" not in p.parts and (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert long == {}
