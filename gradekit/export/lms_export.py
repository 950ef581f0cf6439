"""Grades into the LMS: nbgrader export plugins that write the gradebook import files of Canvas and
Moodle, with the per-exercise scores and the total after late penalties.

    nbgrader export --exporter gradekit.export.lms_export.CanvasCsvExport --to canvas.csv
    nbgrader export --exporter gradekit.export.lms_export.MoodleCsvExport --to moodle.csv

Students the LMS knows by another name: set nbgrader's `lms_user_id` for them (`nbgrader db student
add <id> --lms-user-id=<LMS id>`, or `nbgrader db student import students.csv` with an
`lms_user_id` column); every exporter here uses it instead of the nbgrader id where the LMS
matches students.

Scores are in points; a student who was not graded (gradekit.intake's *not gradable*, a failed
autograde) or did not submit gets an empty grade, which both LMSs leave ungraded, never a 0.

Canvas (Instructor Guide, "How do I import grades in the Gradebook?"; the layout of the
Gradebook's own CSV export): the columns `Student`, `ID`, `SIS User ID`, `SIS Login ID`,
`Section`, then one column per assignment; a second row `Points Possible` gives each column's
maximum. Canvas matches a row by `ID` (its user id: nbgrader's `lms_user_id`) and else by
`SIS Login ID` (here the nbgrader id); a column whose header names no existing assignment creates
one. The kit writes the total as `<assignment>` and each exercise as `<assignment> <exercise>`.

Moodle (docs.moodle.org, "Grade import", CSV file): any columns, mapped at import; an identity
column (here `Username`: `lms_user_id` if set, else the nbgrader id; and `Email address`), one grade
column per grade item, and a feedback column. The kit writes the total as `<assignment>`, each
exercise as `<assignment> <exercise>`, and `<assignment> feedback` (the late penalty, or why it was
not graded). Moodle stops the whole import at an identity it does not know: export only the students
of the course (`--student`).
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook
from nbgrader.plugins import ExportPlugin

from gradekit.export.grades import StudentGrades, collect, course_of

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_IDENTITY = ["Username", "Email address", "First name", "Last name"]


def _number(value: float) -> str:
    return f"{value:g}"


class _LmsExport(ExportPlugin):
    """Shared by the LMS exporters: one row per student of the gradebook (or of `--student`)."""

    default_file = "lms.csv"
    extra_rows = 0  # rows before the students' (Canvas: Points Possible)

    def rows(self, gradebook: Gradebook) -> tuple[list[str], list[list[str]]]:
        raise NotImplementedError

    def _assignments(self) -> list[str]:
        return list(self.assignment) or [a.name for a in self._gradebook.assignments]

    def _grades(self, gradebook: Gradebook) -> dict[str, dict[str, StudentGrades]]:
        """assignment -> student id -> grades (only `--student`, if given); every assignment of the
        gradebook unless `--assignment` names some."""
        self._gradebook = gradebook
        course = course_of(self)
        found = {}
        for assignment in self._assignments():
            found[assignment] = {
                g.student: g
                for g in collect(gradebook, assignment, course)
                if not self.student or g.student in self.student
            }
        return found

    def _students(self, gradebook: Gradebook):
        return [
            s
            for s in sorted(gradebook.students, key=lambda s: s.id)
            if not self.student or s.id in self.student
        ]

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or self.default_file
        header, rows = self.rows(gradebook)
        self.log.info("Exporting %d students to %s", len(rows) - self.extra_rows, dest)
        with open(dest, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)


class CanvasCsvExport(_LmsExport):
    """`nbgrader export --exporter gradekit.export.lms_export.CanvasCsvExport --to canvas.csv`: Canvas's
    gradebook import CSV (see the module docstring), a `Points Possible` row, then one row per
    student: the exercises and the total after the late penalty, in points; empty if not graded."""

    default_file = "canvas.csv"
    extra_rows = 1  # Points Possible

    def rows(self, gradebook: Gradebook) -> tuple[list[str], list[list[str]]]:
        grades = self._grades(gradebook)
        header = list(CANVAS_IDENTITY)
        points = ["Points Possible", "", "", "", ""]
        for assignment, by_student in grades.items():
            maximum = next(iter(by_student.values()), None)
            header += [f"{assignment} {ex}" for ex in _exercises(by_student)] + [assignment]
            points += [_number(maximum.exercise_max(ex)) for ex in _exercises(by_student)]
            points.append(_number(maximum.max_total) if maximum else "")
        rows = [points]
        for student in self._students(gradebook):
            name = ", ".join(part for part in (student.last_name, student.first_name) if part) or student.id
            row = [name, student.lms_user_id or "", "", student.id, ""]
            for by_student in grades.values():
                g = by_student.get(student.id)
                graded = g is not None and g.graded
                row += [_number(g.exercise(ex)) if graded else "" for ex in _exercises(by_student)]
                row.append(_number(g.total) if graded else "")
            rows.append(row)
        return header, rows


class MoodleCsvExport(_LmsExport):
    """`nbgrader export --exporter gradekit.export.lms_export.MoodleCsvExport --to moodle.csv`: a CSV for
    Moodle's grade import (see the module docstring): identity columns, the exercises and the total
    after the late penalty in points (empty if not graded), and a feedback column."""

    default_file = "moodle.csv"

    def rows(self, gradebook: Gradebook) -> tuple[list[str], list[list[str]]]:
        grades = self._grades(gradebook)
        header = list(MOODLE_IDENTITY)
        for assignment, by_student in grades.items():
            header += [f"{assignment} {ex}" for ex in _exercises(by_student)]
            header += [assignment, f"{assignment} feedback"]
        rows = []
        for student in self._students(gradebook):
            row = [
                student.lms_user_id or student.id,
                student.email or "",
                student.first_name or "",
                student.last_name or "",
            ]
            for by_student in grades.values():
                g = by_student.get(student.id)
                graded = g is not None and g.graded
                row += [_number(g.exercise(ex)) if graded else "" for ex in _exercises(by_student)]
                row.append(_number(g.total) if graded else "")
                row.append(_feedback(g))
            rows.append(row)
        return header, rows


def _exercises(by_student: dict[str, StudentGrades]) -> list[str]:
    """The exercises of an assignment (from its grade cells in the gradebook)."""
    first = next(iter(by_student.values()), None)
    return first.exercises if first is not None else []


def _feedback(g: StudentGrades | None) -> str:
    if g is None or not g.submitted:
        return "no submission"
    if not g.graded:
        return f"not graded: {g.reason}" if g.reason else "not graded"
    if g.penalty:
        return f"late: {_number(g.raw)} points earned, late penalty {_number(g.penalty)}"
    return ""
