"""Where a course's notebooks live, and what their nbgrader cells contain.

Nothing here names a course: the assignments are the folders of `source/` that hold notebooks,
the exercises the prefixes of the grade_ids (`ex2_backward` belongs to `ex2`), in notebook order,
and the notebook's copy of the checks framework is the locked cell that starts as
gradekit/checks/framework.py does.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import nbformat

COURSE_ROOT = Path(__file__).resolve().parents[2]  # the kit's repository (gradekit/course/ is two below)
FRAMEWORK = Path(__file__).resolve().parents[1] / "checks" / "framework.py"

_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
_SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
_QUOTED = re.compile(r"""(["'])(.*?)(?<!\\)\1""")
# A line that is nothing but a string literal is an assertion message: a hint meant for students.
_STRING_LITERAL = re.compile(r"""^[rbfu]*(["']).*\1[,)]*$""", re.I)


def read(path: str | Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_cells(nb) -> dict[str, float]:
    """grade_id -> points of every graded cell, in notebook order."""
    return {
        nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c).get("points", 0))
        for c in nb.cells
        if nbgrader_meta(c).get("grade")
    }


def exercise_of(grade_id: str) -> str:
    """The exercise a graded cell belongs to: the prefix of its grade_id (`ex2_backward` -> `ex2`)."""
    return grade_id.split("_", 1)[0]


def exercises(grade_ids) -> list[str]:
    """The exercises of `grade_ids` (in their order), each once: ["ex1", "ex2", ...]."""
    return list(dict.fromkeys(exercise_of(g) for g in grade_ids))


def assignments(root: str | Path) -> list[str]:
    """The course's assignments: the folders of `root`/source/ that hold a notebook, sorted."""
    source = Path(root) / "source"
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def only_assignment(root: str | Path) -> str:
    """The course's one assignment. Raises ValueError when source/ holds none or several (then a
    command needs the assignment named)."""
    found = assignments(root)
    if len(found) != 1:
        listed = ", ".join(found) or "none"
        raise ValueError(f"{root}: source/ holds {len(found)} assignments ({listed}): name the one you mean")
    return found[0]


def source_notebooks(root: str | Path, assignment: str) -> list[Path]:
    """The source notebooks of an assignment, sorted by name (nbgrader's order)."""
    return sorted((Path(root) / "source" / assignment).glob("*.ipynb"))


@functools.cache
def _framework_first_line() -> str:
    return FRAMEWORK.read_text(encoding="utf-8").split("\n", 1)[0]


def is_checks_cell(cell) -> bool:
    """Is this the notebook's copy of the checks framework: a locked code cell that starts with
    the framework module's first line?"""
    first = _framework_first_line()
    return (
        cell.get("cell_type") == "code"
        and bool(nbgrader_meta(cell).get("locked"))
        and cell.get("source", "").startswith(first)
    )


def _secret_lines(text: str, region: re.Pattern) -> list[str]:
    lines = []
    for block in region.findall(text):
        for line in block.splitlines():
            line = line.strip()
            if len(line) >= 8 and not _STRING_LITERAL.match(line):
                lines.append(line)
    return lines


def hidden_test_lines(source: str) -> list[str]:
    """The code lines of the hidden test regions of a cell source (messages excluded: they are hints)."""
    return _secret_lines(source, _HIDDEN)


def solution_lines(source: str) -> list[str]:
    """The non-trivial lines of the solution regions of a cell source."""
    return _secret_lines(source, _SOLUTION)


def secret_lines(sources: list[str], solutions: bool = True, hidden: bool = True) -> set[str]:
    """Lines of solution and hidden test regions that appear nowhere else in the notebook: what a
    student must never see. (A hidden `a = Value(3.0)` is no secret when a visible test has it, nor
    `p.data -= learning_rate * p.grad` when the prose teaches it.)"""
    secret = set()
    for source in sources:
        secret.update(solution_lines(source) if solutions else [])
        secret.update(hidden_test_lines(source) if hidden else [])
    public = "\n".join(_HIDDEN.sub("", _SOLUTION.sub("", s)) for s in sources)
    # Assertion messages are hints written for students: a line that a string of the notebook
    # quotes (`"b = a + a; c = b + b: dc/da should be 4.0"`) is no secret.
    quoted = "\n".join(m.group(2) for s in sources for m in _QUOTED.finditer(s))
    return {line for line in secret if line not in public and line not in quoted}


def sync_checks_cell(path: str | Path) -> str | None:
    """Copy gradekit/checks/framework.py into the notebook's copy of it (`is_checks_cell`); the
    cell's grade_id if it changed, else None. Raises KeyError if the notebook has no such cell."""
    nb = read(path)
    cell = next((c for c in nb.cells if is_checks_cell(c)), None)
    if cell is None:
        raise KeyError(f"{path} has no locked cell holding gradekit/checks/framework.py")
    text = FRAMEWORK.read_text(encoding="utf-8").rstrip("\n")
    if cell.source == text:
        return None
    cell.source = text
    nbformat.write(nb, str(path))
    return nbgrader_meta(cell).get("grade_id", "?")


def default_course() -> Path:
    """The course a command works on when none is given: the current folder if it holds an
    nbgrader_config.py (an instructor in their course, the kit installed as a package), else the
    kit's own repository."""
    here = Path.cwd()
    return here if (here / "nbgrader_config.py").exists() else COURSE_ROOT
