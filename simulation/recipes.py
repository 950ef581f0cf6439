"""The recipes of docs/course.md ("Changing the course"), as edits of a source notebook.

Each function makes one ordinary change an instructor makes by hand in JupyterLab (the cell's
source, and its points in nbgrader's *Create Assignment* toolbar), so the tests can make it on a
copy of the course and grade the demo and the cohort there with no kit code changed:

- `change_points`: a test cell worth more (its checks' points scaled to add up to the new total);
- `add_check`: one more check in a test cell (hidden or visible), the cell's points raised by its own;
- `add_piece`: a new method of a class, written in a solution region, and its own test cell;
- `add_exercise`: a new exercise: its prose, a solution cell and a test cell, at the end.

Raises KeyError for a grade_id the notebook does not have, ValueError for an edit that would leave
the notebook inconsistent (a test cell whose checks would not add up to its points).
"""

from __future__ import annotations

import ast

import nbformat

from gradekit.course.notebooks import nbgrader_meta
from simulation.editing import cell


def _check_points(source: str) -> list[tuple[int, int, float]]:
    """(start, end, points) of the first argument of every `@check(...)` decorator of a test cell,
    as character offsets in `source`."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "check":
                    arg = decorator.args[0]
                    start = starts[arg.lineno - 1] + arg.col_offset
                    end = starts[arg.end_lineno - 1] + arg.end_col_offset
                    found.append((start, end, float(ast.literal_eval(arg))))
    return found


def change_points(nb: nbformat.NotebookNode, grade_id: str, points: float) -> nbformat.NotebookNode:
    """The test cell `grade_id` worth `points`: every check's points scaled by the same factor
    (so they still add up to the cell's), and the cell's nbgrader points set."""
    target = cell(nb, grade_id)
    old = float(nbgrader_meta(target)["points"])
    source = target.source
    for start, end, value in sorted(_check_points(source), reverse=True):
        source = source[:start] + f"{value * points / old:g}" + source[end:]
    target.source = source
    nbgrader_meta(target)["points"] = points
    total = sum(value for _, _, value in _check_points(source))
    if abs(total - points) > 1e-9:
        raise ValueError(f"{grade_id}: its checks add up to {total:g}, not {points:g}")
    return nb


def add_check(
    nb: nbformat.NotebookNode, grade_id: str, code: str, points: float, hidden: bool = True
) -> nbformat.NotebookNode:
    """`code` (a `@check(points, ...)` function) added to the test cell `grade_id`: at the end of
    its hidden tests, or before its `report(...)` line when visible; the cell's points raised."""
    target = cell(nb, grade_id)
    marker = "### END HIDDEN TESTS" if hidden else f'report("{grade_id}")'
    if target.source.count(marker) != 1:
        raise ValueError(f"{grade_id}: no single {marker!r} to add the check before")
    target.source = target.source.replace(marker, code.strip("\n") + "\n" + marker)
    nbgrader_meta(target)["points"] = float(nbgrader_meta(target)["points"]) + points
    return nb


def code_cell(source: str, grade_id: str, points: float | None = None) -> nbformat.NotebookNode:
    """A solution cell (points None) or a locked test cell worth `points`, as nbgrader's *Create
    Assignment* toolbar makes them."""
    new = nbformat.v4.new_code_cell(source)
    new.metadata["nbgrader"] = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": points is not None,
        "schema_version": 3,
        "solution": points is None,
        "task": False,
        **({"points": points} if points is not None else {}),
    }
    return new


def add_piece(
    nb: nbformat.NotebookNode,
    solution_cell: str,
    before: str,
    method: str,
    test_cell: str,
    test_source: str,
    points: float,
) -> nbformat.NotebookNode:
    """A new method `method` (its code, with its `### BEGIN SOLUTION` region and a docstring that
    names its exercise) put into the solution cell `solution_cell` just before the line `before`,
    and its test cell `test_cell` worth `points` after the last test cell of that exercise."""
    target = cell(nb, solution_cell)
    if target.source.count(before) != 1:
        raise ValueError(f"{solution_cell}: {before!r} should occur once")
    target.source = target.source.replace(before, method.rstrip("\n") + "\n\n" + before)
    exercise = test_cell.split("_", 1)[0] + "_"
    last = max(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id", "").startswith(exercise))
    nb.cells.insert(last + 1, code_cell(test_source, test_cell, points))
    return nb


def add_exercise(
    nb: nbformat.NotebookNode,
    prose: str,
    solution_cell: str,
    solution_source: str,
    test_cell: str,
    test_source: str,
    points: float,
    before_heading: str = "## Done?",
) -> nbformat.NotebookNode:
    """A new exercise before the markdown cell that starts with `before_heading` (at the end if
    there is none): its prose, its solution cell and its test cell worth `points`."""
    at = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "markdown" and c.source.startswith(before_heading)
        ),
        len(nb.cells),
    )
    nb.cells[at:at] = [
        nbformat.v4.new_markdown_cell(prose),
        code_cell(solution_source, solution_cell),
        code_cell(test_source, test_cell, points),
    ]
    return nb
