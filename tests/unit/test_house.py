"""House rules read from the source with ``ast``: no import circles, short modules, short functions.

Every ``import``/``from ... import`` counts, also those inside functions. ``import a.b``
means module ``a/b.py`` or package ``a/b/__init__.py``; ``from a.b import c`` means
``a/b/c.py`` when that file exists, else ``a/b.py`` or ``a/b/__init__.py``. Relative
imports are resolved against the importing file's package. Imports of anything outside the
checked folder (the standard library, third-party packages) are ignored.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


# --------------------------------------------------------------------------- the checkers


def module_names(root: Path, folder: str) -> dict[str, Path]:
    """Map the dotted name of every module under ``root/folder`` to its file."""
    names: dict[str, Path] = {}
    for path in sorted((root / folder).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def package_of(name: str, path: Path) -> str:
    """Return the package a module's relative imports start from."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Yield the known modules that ``path`` (module ``name``) imports, anywhere in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = package_of(name, path)
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base and package else base or package
            for alias in node.names:
                child = f"{base}.{alias.name}" if base else alias.name
                if child in known:
                    yield child
                elif base in known:
                    yield base


def import_graph(root: Path, folder: str) -> dict[str, set[str]]:
    """Return module -> the modules it imports, for every module under ``root/folder``."""
    known = module_names(root, folder)
    return {name: set(imported_modules(name, path, known)) for name, path in known.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of ``graph`` (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def import_circles(root: Path, folder: str) -> list[list[Path]]:
    """Return every import circle under ``root/folder`` as the files taking part in it."""
    graph = import_graph(root, folder)
    known = module_names(root, folder)
    circles = [c for c in strongly_connected(graph) if len(c) > 1 or c[0] in graph.get(c[0], set())]
    return sorted([known[name] for name in c] for c in circles)


def long_modules(root: Path, folder: str, limit: int = MAX_MODULE_LINES) -> list[str]:
    """Return ``file (N lines)`` for every module under ``root/folder`` over ``limit`` lines."""
    found = []
    for path in sorted((root / folder).rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            found.append(f"{path.relative_to(root)} ({n} lines)")
    return found


def long_functions(root: Path, folder: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Return ``file:name (N lines)`` for every function over ``limit`` lines, def to end."""
    found = []
    for path in sorted((root / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for qualname, node in functions(tree):
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            if n > limit:
                found.append(f"{path.relative_to(root)}:{qualname} ({n} lines)")
    return found


def functions(
    tree: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Yield ``(qualified name, node)`` of every function and method, nested ones too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def describe(circles: list[list[Path]], root: Path) -> str:
    """Return one line per circle naming its files."""
    return "\n".join(" <-> ".join(str(p.relative_to(root)) for p in c) for c in circles)


# --------------------------------------------------------------------------- the house


@pytest.mark.parametrize("folder", ["flowpo", "bench"])
def test_no_import_circle(folder: str) -> None:
    circles = import_circles(ROOT, folder)
    assert not circles, f"import circles in {folder}/:\n{describe(circles, ROOT)}"


def test_no_module_over_400_lines() -> None:
    found = long_modules(ROOT, "flowpo")
    assert not found, "modules over 400 lines:\n" + "\n".join(found)


def test_no_function_over_60_lines() -> None:
    found = long_functions(ROOT, "flowpo")
    assert not found, "functions over 60 lines:\n" + "\n".join(found)


# --------------------------------------------------------------------------- the checkers can fail


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_lazy_import_circle_through_a_package_is_found(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "def catalog():\n    from pkg.families import make\n    return make\n",
            "pkg/families/__init__.py": "from pkg.families.one import make\n",
            "pkg/families/one.py": "from pkg import base\nmake = base\n",
            "pkg/leaf.py": "import os\nimport pkg.base\n",
        },
    )
    circles = import_circles(tmp_path, "pkg")
    assert circles == [
        [
            tmp_path / "pkg/base.py",
            tmp_path / "pkg/families/__init__.py",
            tmp_path / "pkg/families/one.py",
        ]
    ]
    assert describe(circles, tmp_path) == (
        "pkg/base.py <-> pkg/families/__init__.py <-> pkg/families/one.py"
    )


def test_relative_imports_and_self_imports_make_circles(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/a.py": "from .b import x\n",
            "app/b.py": "from . import a\nx = 1\n",
            "app/sub/__init__.py": "",
            "app/sub/c.py": "from ..d import y\n",
            "app/d.py": "def f():\n    from app.sub import c\n",
            "app/self.py": "import app.self\n",
        },
    )
    assert import_circles(tmp_path, "app") == [
        [tmp_path / "app/a.py", tmp_path / "app/b.py"],
        [tmp_path / "app/d.py", tmp_path / "app/sub/c.py"],
        [tmp_path / "app/self.py"],
    ]


def test_imports_resolve_to_module_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.x import name\n",
            "pkg/x/__init__.py": "name = 1\n",
            "pkg/x/mod.py": "",
            "pkg/user.py": (
                "import json\nimport pkg.x\nfrom pkg.x import mod, name\nfrom pkg import x\n"
                "from pkg.x.mod import thing\n"
            ),
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.x"},
        "pkg.x": set(),
        "pkg.x.mod": set(),
        "pkg.user": {"pkg.x", "pkg.x.mod"},
    }
    assert import_circles(tmp_path, "pkg") == []


def test_long_modules_and_functions_are_found(tmp_path: Path) -> None:
    fits = "def fits():\n" + "    x = 0\n" * 58 + "    return x\n"  # 60 lines
    too_long = "    def too_long(self):\n" + "        x = 0\n" * 59 + "        return x\n"  # 61
    write(tmp_path, {"pkg/ok.py": fits, "pkg/long.py": "class C:\n" + too_long + "\n" * 340})
    assert long_functions(tmp_path, "pkg") == [f"{Path('pkg/long.py')}:C.too_long (61 lines)"]
    assert long_modules(tmp_path, "pkg") == [f"{Path('pkg/long.py')} (402 lines)"]
