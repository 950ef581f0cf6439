"""Per-exercise scores out of the gradebook: a graded cell counts for the exercise its grade_id names.

Late penalties are nbgrader's (`c.LateSubmissionPlugin.penalty_method`, computed by `nbgrader
autograde` against the assignment's due date): the per-exercise scores are what the work earned,
`penalty` is what lateness took, and `total` = the sum of the exercises - penalty, which is
nbgrader's own score after penalties (`nbgrader export`'s `score` column). The exercises are the
prefixes of the assignment's grade_ids in the gradebook (`ex1_add_mul` -> `ex1`), in natural order
(`ex2` before `ex10`): nothing here names this course's.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from gradekit.course.gradebook import scored
from gradekit.course.notebooks import exercise_of, exercises

# Why a submission has no score, when intake left no reason: nbgrader failed while grading it.
AUTOGRADE_FAILED = "autograding failed: see the autograde log (logs/)"


@dataclass
class StudentGrades:
    """One student's grades for one assignment. Scores and penalties are in points."""

    student: str
    submitted: bool
    cells: dict[str, float] = field(default_factory=dict)  # grade_id -> score
    max_cells: dict[str, float] = field(default_factory=dict)  # grade_id -> points
    # False for a submission that could not be graded (intake flagged it, or nbgrader failed): it
    # has a row in the gradebook but no score at all, which is not the same as scoring 0.
    graded: bool = True
    penalty: float = 0.0  # the late-submission penalty nbgrader recorded
    seconds_late: float = 0.0  # past the due date (0: on time, or no due date)
    reason: str | None = None  # why not graded (None when graded or not submitted)

    @property
    def exercises(self) -> list[str]:
        """The assignment's exercises, in natural order (`ex2` before `ex10`)."""
        return sorted(exercises(self.max_cells), key=natural)

    def exercise(self, name: str) -> float:
        return sum(score for cell, score in self.cells.items() if exercise_of(cell) == name)

    def exercise_max(self, name: str) -> float:
        return sum(points for cell, points in self.max_cells.items() if exercise_of(cell) == name)

    @property
    def raw(self) -> float:
        """Points the work earned, before the late penalty."""
        return sum(self.cells.values())

    @property
    def total(self) -> float:
        """Points after the late penalty: nbgrader's score for the submission."""
        return self.raw - self.penalty

    @property
    def max_total(self) -> float:
        return sum(self.max_cells.values())

    @property
    def late(self) -> bool:
        return self.seconds_late > 0

    def row(self) -> dict[str, object]:
        row: dict[str, object] = {"student_id": self.student}
        row.update({ex: self.exercise(ex) for ex in self.exercises})
        row.update(penalty=self.penalty, total=self.total, max=self.max_total)
        row.update(submitted=self.submitted, graded=self.graded, late=self.late, reason=self.reason or "")
        return row


def natural(name: str) -> list:
    """A sort key that orders the numbers in a name by value: ex2 < ex10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def columns(exercise_names: list[str]) -> list[str]:
    """The CSV's columns, with one per exercise."""
    return [
        "assignment",
        "student_id",
        *exercise_names,
        "penalty",
        "total",
        "max",
        "submitted",
        "graded",
        "late",
        "reason",
    ]


def collect(gradebook: Gradebook, assignment: str, course: Path | None = None) -> list[StudentGrades]:
    """One entry per student of the gradebook, sorted by id; a missing submission scores 0. With
    `course` (the course root), a submission without a score carries the reason intake recorded
    in its folder (gradekit.intake), else AUTOGRADE_FAILED."""
    from gradekit.intake.folder import Record

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
        entry = StudentGrades(student.id, True, cells, max_cells, scored(submission))
        entry.penalty = float(submission.late_submission_penalty or 0.0)
        entry.seconds_late = float(submission.total_seconds_late or 0.0)
        if not entry.graded:
            record = None
            if course is not None:
                record = Record.load(Path(course) / "submitted" / student.id / assignment)
            entry.reason = (record.reason if record is not None else None) or AUTOGRADE_FAILED
        result.append(entry)
    return result


def table(grades: list[StudentGrades], extra=None) -> str:
    """A plain-text table of per-exercise scores, the late penalty and the total after it, one
    line per student; `extra` = (title, function of the student id) adds a column."""
    if not grades:
        return "(no students in the gradebook)"
    maxima = grades[0]
    header = ["student"] + [f"{ex}/{maxima.exercise_max(ex):g}" for ex in maxima.exercises]
    header += ["penalty", f"total/{maxima.max_total:g}"]
    rows = [
        [g.student]
        + [f"{g.exercise(ex):g}" if g.graded else "" for ex in maxima.exercises]
        + [f"-{g.penalty:g}" if g.penalty else ""]
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


def course_of(plugin: ExportPlugin) -> Path | None:
    """The course root of the nbgrader command running an export plugin (None outside one)."""
    coursedir = getattr(plugin.parent, "coursedir", None)
    return Path(coursedir.root) if coursedir is not None else None


class ExerciseCsvExport(ExportPlugin):
    """`nbgrader export --exporter=gradekit.export.grades.ExerciseCsvExport`: one row per student with
    ex1, ex2, ex3 (what the work earned), penalty (late), total (after the penalty: nbgrader's
    score) and max (the stock CSV export only has the total), whether the student submitted,
    whether the submission could be graded, whether it was late, and why it was not graded."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "grades_by_exercise.csv"
        assignments = self.assignment or [a.name for a in gradebook.assignments]
        course = course_of(self)
        self.log.info("Exporting per-exercise grades to %s", dest)
        collected = {assignment: collect(gradebook, assignment, course) for assignment in assignments}
        names = sorted({ex for rows in collected.values() for g in rows for ex in g.exercises}, key=natural)
        with open(dest, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, columns(names), restval="")
            writer.writeheader()
            for assignment, rows in collected.items():
                for grades in rows:
                    if self.student and grades.student not in self.student:
                        continue
                    writer.writerow({"assignment": assignment, **grades.row()})
