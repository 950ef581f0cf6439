"""The main job, end to end, on the default SQLite gradebook:

regenerate the release and the solutions from `source/`, hand in a demo cohort, autograde it,
write feedback, export per-exercise grades and print them.

    python -m gradekit.demo
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from gradekit import grades
from gradekit.notebooks import ASSIGNMENT, COURSE_ROOT, NOTEBOOK, SOURCE_NOTEBOOK, read
from gradekit.submissions import fill, only, reference_answers, region_exercises


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run an nbgrader command in `course`, with this environment's bin/ first on PATH (nbgrader
    calls `alembic` by name when it creates a gradebook)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, check=check, text=True
    )


def demo_cohort(course: Path) -> dict[str, nbformat.NotebookNode]:
    """Small but telling: the reference solution, partial work, and the untouched release."""
    release = read(course / "release" / ASSIGNMENT / NOTEBOOK)
    source = read(SOURCE_NOTEBOOK)
    answers = reference_answers(SOURCE_NOTEBOOK)
    exercises = region_exercises(source)
    return {
        "reference": fill(release, answers),
        "only_ex1": fill(release, only(answers, exercises, {"ex1"})),
        "ex1_and_ex2": fill(release, only(answers, exercises, {"ex1", "ex2"})),
        "blank": release,
    }


def hand_in(course: Path, cohort: dict[str, nbformat.NotebookNode]) -> None:
    for student, nb in cohort.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(folder / NOTEBOOK))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course root (default: this repo)")
    args = parser.parse_args(argv)
    course: Path = args.course.resolve()
    start = time.perf_counter()

    # A fresh gradebook and fresh outputs, so the run shows exactly what this source produces.
    for generated in ("gradebook.db", "submitted", "autograded", "feedback"):
        path = course / generated
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()

    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(course, "generate_solution", ASSIGNMENT, "--force")
    hand_in(course, demo_cohort(course))
    nbgrader(course, "autograde", ASSIGNMENT, "--force")
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    nbgrader(
        course, "export", "--exporter", "gradekit.grades.ExerciseCsvExport", "--to", "grades_by_exercise.csv"
    )

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        report = grades.table(grades.collect(gradebook))
    print()
    print(report)
    print(f"\nfeedback: {course / 'feedback'}\nexport:   {course / 'grades_by_exercise.csv'}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
