"""Per-exercise scores out of the gradebook: a graded cell counts for the exercise its grade_id names."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from gradekit.notebooks import ASSIGNMENT, EXERCISES, exercise_of


@dataclass
class StudentGrades:
    student: str
    submitted: bool
    cells: dict[str, float] = field(default_factory=dict)  # grade_id -> score
    max_cells: dict[str, float] = field(default_factory=dict)  # grade_id -> points
    # False for a submission nbgrader could not grade (invalid notebook, killed kernel): it has a
    # row in the gradebook but no score at all, which is not the same as scoring 0.
    graded: bool = True

    def exercise(self, name: str) -> float:
        return sum(score for cell, score in self.cells.items() if exercise_of(cell) == name)

    def exercise_max(self, name: str) -> float:
        return sum(points for cell, points in self.max_cells.items() if exercise_of(cell) == name)

    @property
    def total(self) -> float:
        return sum(self.cells.values())

    @property
    def max_total(self) -> float:
        return sum(self.max_cells.values())

    def row(self) -> dict[str, object]:
        row: dict[str, object] = {"student_id": self.student}
        row.update({ex: self.exercise(ex) for ex in EXERCISES})
        row.update(total=self.total, max=self.max_total, submitted=self.submitted, graded=self.graded)
        return row


def collect(gradebook: Gradebook, assignment: str = ASSIGNMENT) -> list[StudentGrades]:
    """One entry per student of the gradebook, sorted by id; a missing submission scores 0."""
    source = gradebook.find_assignment(assignment)
    max_cells = {cell.name: float(cell.max_score) for nb in source.notebooks for cell in nb.grade_cells}
    result = []
    for student in sorted(gradebook.students, key=lambda s: s.id):
        try:
            submission = gradebook.find_submission(assignment, student.id)
        except MissingEntry:
            result.append(StudentGrades(student.id, False, dict.fromkeys(max_cells, 0.0), max_cells, False))
            continue
        all_grades = [grade for nb in submission.notebooks for grade in nb.grades]
        cells = {grade.name: float(grade.score or 0.0) for grade in all_grades}
        graded = any(g.auto_score is not None or g.manual_score is not None for g in all_grades)
        result.append(StudentGrades(student.id, True, cells, max_cells, graded))
    return result


def table(grades: list[StudentGrades], extra=None) -> str:
    """A plain-text table of per-exercise scores, one line per student; `extra` = (title,
    function of the student id) adds a column."""
    if not grades:
        return "(no students in the gradebook)"
    maxima = grades[0]
    header = ["student"] + [f"{ex}/{maxima.exercise_max(ex):g}" for ex in EXERCISES]
    header.append(f"total/{maxima.max_total:g}")
    rows = [
        [g.student]
        + [f"{g.exercise(ex):g}" for ex in EXERCISES]
        + [f"{g.total:g}" if g.graded else "not graded" if g.submitted else "-"]
        for g in grades
    ]
    if extra:
        title, column = extra
        header.append(title)
        for row, g in zip(rows, grades):
            row.append(column(g.student))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    text_columns = {0, len(header) - 1} if extra else {0}

    def line(cells):
        return "  ".join(
            c.ljust(w) if i in text_columns else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


class ExerciseCsvExport(ExportPlugin):
    """`nbgrader export --exporter=gradekit.grades.ExerciseCsvExport`: one row per student with
    ex1, ex2, ex3, total and max (the stock CSV export only has the total), and whether the student
    submitted and whether nbgrader could grade the submission."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "grades_by_exercise.csv"
        assignments = self.assignment or [ASSIGNMENT]
        self.log.info("Exporting per-exercise grades to %s", dest)
        with open(dest, "w", newline="") as fh:
            writer = csv.DictWriter(
                fh, ["assignment", "student_id", *EXERCISES, "total", "max", "submitted", "graded"]
            )
            writer.writeheader()
            for assignment in assignments:
                for grades in collect(gradebook, assignment):
                    if self.student and grades.student not in self.student:
                        continue
                    writer.writerow({"assignment": assignment, **grades.row()})
