"""This repository's course as the simulation, the tests and the benchmarks use it: its assignment,
notebook and exercises, read from `source/` (never written down: the kit names none of them)."""

from __future__ import annotations

from gradekit.course.notebooks import (
    COURSE_ROOT,
    exercises,
    grade_cells,
    only_assignment,
    read,
    source_notebooks,
)

ASSIGNMENT = only_assignment(COURSE_ROOT)
SOURCE_NOTEBOOK = source_notebooks(COURSE_ROOT, ASSIGNMENT)[0]  # the assignment's (first) notebook
NOTEBOOK = SOURCE_NOTEBOOK.name
EXERCISES = tuple(exercises(grade_cells(read(SOURCE_NOTEBOOK))))

__all__ = ["ASSIGNMENT", "COURSE_ROOT", "EXERCISES", "NOTEBOOK", "SOURCE_NOTEBOOK"]
