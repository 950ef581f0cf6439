"""What one run of a notebook gave, written back into the autograded notebook: the student's
cells with their outputs (a cell the kernel died in says what the grader did about it), and each
test cell's verdicts as its output, its score as nbgrader's partial credit, and plain data."""

from __future__ import annotations

import nbformat
from nbgrader.utils import is_grade, is_solution

from gradekit.checks import carry_forward
from gradekit.course.notebooks import nbgrader_meta
from gradekit.grading.render import render_html, render_text

DIED = "the kernel stopped in this cell (it exited, crashed, or ignored the interrupt at the time limit)"


def write_student_cells(nb, executed_cells, roles) -> None:
    """The outputs and execution counts of the student's cells, from the run's `executed_cells`
    (whose `roles` say which cell of `nb` each one is); a cell run as its definitions only, or left
    out, gets an error output that says so."""
    for executed, role in zip(executed_cells, roles):
        if role.kind == "student":
            original = nb.cells[role.index]
            original.outputs = executed.outputs
            original.execution_count = executed.execution_count
        elif role.kind in ("killed", "definitions"):
            said = DIED
            if role.kind == "definitions":
                kept = sorted(
                    set().union(
                        *map(carry_forward.defined_names, carry_forward.parse_cells([executed.source]))
                    )
                )
                said += (
                    "; the grader ran the notebook again with only this cell's definitions"
                    + (f" ({', '.join(kept)})" if kept else "")
                    + ", not the rest of the cell"
                )
            else:
                said += "; the grader ran the notebook again without it"
            nb.cells[role.index].outputs = [
                nbformat.v4.new_output(
                    "error", ename="KernelDied", evalue=said, traceback=[f"KernelDied: {said}"]
                )
            ]


def write_verdicts(nb, executed_cells, roles, plan, results) -> None:
    """Each test cell of `nb` made of checks gets its table of verdicts (text and HTML), its score
    as an `execute_result` (nbgrader's partial credit: SaveAutoGrades stores it), and the results
    as plain data in `metadata.gradekit` (the grade report reads them)."""
    counts = {}  # grade_id -> the execution count of its cell in the notebook's own place
    for executed, role in zip(executed_cells, roles):
        for grade_id, _ in role.checks:  # the visible checks' cell comes first, at the cell's place
            counts.setdefault(grade_id, executed.execution_count)
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        # "gradekit" metadata marks the verdicts this grader wrote; none other may carry it
        cell.metadata.pop("gradekit", None)
        if grade_id not in plan.cells or not is_grade(cell) or is_solution(cell):
            continue
        found = list(results[grade_id].values())
        score = round(sum(r.score for r in found), 6)
        table = {"text/plain": render_text(grade_id, found), "text/html": render_html(grade_id, found)}
        points = f"<p><strong>{score:g}</strong> of {plan.points[grade_id]:g} points</p>"
        cell.outputs = [
            nbformat.v4.new_output("display_data", data=table),
            nbformat.v4.new_output(
                "execute_result",
                data={"text/plain": f"{score:g}", "text/html": points},
                execution_count=counts.get(grade_id),
            ),
        ]
        cell.execution_count = counts.get(grade_id)
        cell.metadata["gradekit"] = {"score": score, "checks": [r.as_dict() for r in found]}
