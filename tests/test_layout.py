"""The kit's code stays easy to see: modules a person can read in one sitting, no private name
used across modules, no import cycle, and an index of every package and module that says what
each is for (each package's docstring names its modules; gradekit/__init__.py names the packages).

A module over ~400 lines or a function over ~60 lines is allowed only with the reason written beside
it: a comment `# Longer than ~400 lines on purpose: ...` in the module, or `# Longer than ~60 lines
on purpose: ...` in the function.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ROOT / "gradekit"
CODE = [
    p
    for folder in (PRODUCT, ROOT / "simulation")
    for p in sorted(folder.rglob("*.py"))
    if "snippets" not in p.parts
]
MODULE_LINES, FUNCTION_LINES = 400, 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_are_short_or_say_why(path):
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    if len(lines) > MODULE_LINES:
        assert "# Longer than ~400 lines on purpose:" in text, f"{len(lines)} lines and no reason written"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > FUNCTION_LINES:
                body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
                assert "# Longer than ~60 lines on purpose:" in body, f"{node.name}: {length} lines"


def imports_of(path: Path):
    """(module imported, names taken from it, line) for each run-time import of the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for block in ast.walk(tree):  # imports for annotations only are no dependency at run time
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno


def ours(module: str) -> bool:
    return module.split(".")[0] in ("gradekit", "simulation")


def test_no_private_name_is_imported_from_another_module():
    found = []
    for path in CODE:
        for module, names, line in imports_of(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if ours(module) and private:
                found.append(f"{path.relative_to(ROOT)}:{line}: {private} from {module}")
    assert not found, found


def test_the_packages_import_no_cycle():
    """Every import of every module (top level or inside a function) is an edge; a package's
    `from gradekit.x import y` reaches module y when it is one, else the package."""
    modules = {module_name(p): p for p in CODE}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for module, names, _ in imports_of(path):
            if not ours(module):
                continue
            targets = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules] or [module]
            graph[name] |= {t for t in targets if t in modules and t != name}
    # a package's own __init__ re-exporting its modules is no cycle with them: drop child -> parent
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            assert cycle is None, " -> ".join(cycle)


def test_every_module_says_what_it_is_and_its_package_names_it():
    for path in CODE:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no docstring"
    for package in [PRODUCT, *sorted(p for p in PRODUCT.iterdir() if (p / "__init__.py").exists())]:
        index = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        entries = [
            p for p in package.iterdir() if p.name != "__init__.py" and not p.name.startswith((".", "_"))
        ]
        for entry in entries:
            if entry.suffix == ".py":
                assert f"`{entry.stem}`" in index or f"`{entry.name}`" in index, (
                    f"{package.relative_to(ROOT)}/__init__.py does not name {entry.name}"
                )
            elif (entry / "__init__.py").exists():
                assert f"`{entry.name}/`" in index, (
                    f"{package.relative_to(ROOT)}/__init__.py does not name {entry.name}/"
                )


def test_the_product_does_not_depend_on_the_simulated_students():
    for path in sorted(PRODUCT.rglob("*.py")):
        for module, _, line in imports_of(path):
            assert not module.startswith("simulation"), f"{path.relative_to(ROOT)}:{line} imports {module}"


DOCS = [ROOT / "README.md", ROOT / "autograded" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_architecture_page_names_every_module_of_the_kit():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(gradekit/[\w/]+\.py)`", page))
    modules = {str(p.relative_to(ROOT)) for p in PRODUCT.rglob("*.py")}
    indexes = {m for m in modules if m.endswith("__init__.py") or m.endswith("__main__.py")}
    assert modules - indexes - named == set(), "docs/architecture.md does not name these modules"
    assert named - modules == set(), "docs/architecture.md names modules that do not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_docs_name_only_modules_and_objects_that_exist(doc):
    """Every `gradekit/...` path and `gradekit.x.y` name a page gives resolves: a module, or an
    object of one (a moved module leaves no stale reference behind)."""
    text = doc.read_text(encoding="utf-8")
    stale = []
    for path in set(re.findall(r"\bgradekit/[\w/]+(?:\.py)?", text)):
        if not (ROOT / path).exists():
            stale.append(path)
    for dotted in set(re.findall(r"\bgradekit(?:\.\w+)+", text)):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                stale.append(dotted)
            break
        else:
            stale.append(dotted)
    assert not stale, f"{doc.name} names what does not exist: {sorted(stale)}"
