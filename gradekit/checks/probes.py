"""Test cells as the grader reads them: their checks, and the probe code a kernel may run.

A test cell of this course is a list of checks (gradekit.checks) ending with `report(grade_id)`,
and its hidden checks sit between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS`, as nbgrader
wants them. For grading, the grader takes the cell's full source from the gradebook and

- `TestCell.parse` finds its checks (name, hidden or not) and checks the cell's shape: in the hidden
  region only checks (a helper there would reach the student's kernel with the visible code);
- `TestCell.code` is the cell compiled, which the grader runs in its own process against the
  student's (gradekit.grading.runner); `TestCell.specs` reads the checks themselves, expectations
  included (spec mode: nothing is run but the cell's own top-level code);
- `TestCell.shadow_code` is what the student's kernel runs in the cell's place: its visible
  helpers, imports and constants (a later cell of the student's may use them, as in the notebook),
  no check and no expected value.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
from dataclasses import dataclass

from gradekit import checks

MODULE = "gradekit_checks"  # the name of the kit's copy of gradekit.checks inside a kernel
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
_HIDDEN = re.compile(rf"^[ \t]*{BEGIN_HIDDEN}[ \t]*\n.*?^[ \t]*{END_HIDDEN}[ \t]*\n?", re.S | re.M)


class TestCellError(ValueError):
    """A test cell the grader cannot use as checks (a mistake of the course's author)."""


@dataclass(frozen=True)
class CheckSite:
    """Where a check is defined: its name and whether it is hidden."""

    name: str
    hidden: bool


@dataclass(frozen=True)
class TestCell:
    """One test cell: `grade_id`, its full `source` (hidden checks included) and its checks."""

    grade_id: str
    source: str
    sites: tuple[CheckSite, ...]

    @classmethod
    def parse(cls, grade_id: str, source: str) -> TestCell:
        """Raises TestCellError if the cell is not a list of uniquely named checks ending with
        `report(grade_id)`, or if its hidden region holds anything but checks."""
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise TestCellError(f"{grade_id}: {exc}") from exc
        hidden = _hidden_lines(source)
        sites = []
        for node in tree.body:
            name = _check_name(node, grade_id)
            inside = any(line in hidden for line in range(_first_line(node), node.end_lineno + 1))
            if name is None and inside:
                raise TestCellError(
                    f"{grade_id}: only checks may be hidden (line {node.lineno}): a helper's code would "
                    "reach the student's kernel; put it before the hidden region"
                )
            if name is not None:
                sites.append(CheckSite(name, inside))
        names = [s.name for s in sites]
        if len(set(names)) != len(names):
            raise TestCellError(f"{grade_id}: two checks share a name: {sorted(names)}")
        last = tree.body[-1] if tree.body else None
        if not (_is_call(last, "report") and _string_arg(last.value) == grade_id):
            raise TestCellError(f"{grade_id}: the cell must end with report({grade_id!r})")
        return cls(grade_id, source, tuple(sites))

    @property
    def hidden_names(self) -> list[str]:
        return [s.name for s in self.sites if s.hidden]

    @property
    def visible_source(self) -> str:
        """The cell as nbgrader releases it (the hidden region removed)."""
        return _HIDDEN.sub("", self.source)

    @functools.cached_property
    def code(self):
        """The whole cell (hidden checks included), compiled: run only in the grader's process."""
        return compile(self.source, f"<test cell {self.grade_id}>", "exec")

    def shadow_code(self) -> str:
        """What the student's kernel runs in this cell's place: the visible part's imports, helper
        functions and constants (values computed without calls), without any check, `report` or
        expected value. (Worked out once per cell: every submission's kernel runs the same.)"""
        return self._shadow

    @functools.cached_property
    def _shadow(self) -> str:
        tree = ast.parse(strip_expectations(self.visible_source))
        kept = []
        for node in tree.body:
            if _check_name(node, self.grade_id) is not None or _is_call(node, "report"):
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
                if not any(_calls(d) for d in getattr(node, "decorator_list", [])):
                    kept.append(node)
            elif (
                isinstance(node, (ast.Assign, ast.AnnAssign))
                and node.value is not None
                and not _calls(node.value)
            ):
                kept.append(node)
        return ast.unparse(ast.Module(body=kept, type_ignores=[]))

    def specs(self) -> list[checks.Check]:
        """The checks of this cell with their expectations, read in this process (spec mode)."""
        namespace = {name: getattr(checks, name) for name in ("check", "report", "identify")}
        namespace["__builtins__"] = builtins
        with spec_mode():
            try:
                exec(self.code, namespace)
            except Exception as exc:
                raise TestCellError(f"{self.grade_id}: reading its checks failed: {exc!r}") from exc
            return checks.spec_checks()


spec_mode = checks.spec_mode  # (kept here too: the grader reads test cells in spec mode)


def strip_expectations(source: str) -> str:
    """`source` with the value of every `expect=` keyword of a `check(...)` call replaced by None."""
    tree = ast.parse(source)
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check":
            for keyword in node.keywords:
                if keyword.arg == "expect":
                    v = keyword.value
                    spans.append((v.lineno, v.col_offset, v.end_lineno, v.end_col_offset))
    data = source.encode()  # AST offsets count UTF-8 bytes, lines end only at \n, \r\n or \r
    offsets = [0] + [m.end() for m in re.finditer(rb"\r\n|\r|\n", data)]
    # an expect= inside another one's value (a check() call in it) goes with the outer one
    spans = [s for s in spans if not any(o != s and o[:2] <= s[:2] and s[2:] <= o[2:] for o in spans)]
    for start_line, start_col, end_line, end_col in sorted(spans, reverse=True):
        start = offsets[start_line - 1] + start_col
        end = offsets[end_line - 1] + end_col
        data = data[:start] + b"None" + data[end:]
    return data.decode()


def is_checks(source: str) -> bool:
    """Whether a test cell is made of checks (it calls `check` or `report` at its top level, or
    decorates a function with `check`); else it is an ordinary nbgrader test cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "report(" in source  # a broken cell of checks: parse() says what is wrong
    for node in tree.body:
        if _is_call(node, "report") or _is_call(node, "check"):
            return True
        for decorator in getattr(node, "decorator_list", []):
            if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "check":
                return True
    return False


def _calls(node: ast.AST) -> bool:
    """Whether evaluating the expression `node` may call anything (a lambda's body runs later)."""
    if isinstance(node, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)):
        return True
    if isinstance(node, ast.Lambda):
        return False
    return any(_calls(child) for child in ast.iter_child_nodes(node))


def _hidden_lines(source: str) -> set[int]:
    lines, inside = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == BEGIN_HIDDEN:
            inside = True
        if inside:
            lines.add(number)
        if line.strip() == END_HIDDEN:
            inside = False
    return lines


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _is_call(node, name: str) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == name
    )


def _string_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _check_name(node: ast.stmt, grade_id: str) -> str | None:
    """The name of the check `node` defines, or None if it defines none."""
    if isinstance(node, ast.FunctionDef):
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Name)
                and decorator.func.id == "check"
            ):
                given = _keyword(decorator, "name")
                return given.value if isinstance(given, ast.Constant) else node.name
        return None
    if _is_call(node, "check"):
        given = _keyword(node.value, "name")
        if not isinstance(given, ast.Constant) or not isinstance(given.value, str):
            raise TestCellError(f"{grade_id}: check(...) at line {node.lineno} needs name='...'")
        return given.value
    return None
