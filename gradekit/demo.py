"""The main job, end to end, on the default SQLite gradebook:

regenerate the release and the solutions from `source/`, hand in the simulated cohort of
`gradekit.cohort` (correct, partial, buggy and adversarial submissions), autograde it, write
feedback, export per-exercise grades, write the HTML grade report, and print the per-exercise
table with each student's expected scores beside the ones nbgrader gave.

    python -m gradekit.demo [--small]
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

from gradekit import cohort, grades, report
from gradekit.notebooks import ASSIGNMENT, CHECKS_CELL, COURSE_ROOT, EXERCISES, NOTEBOOK, sync_checks_cell

# The catalog has three endless loops; each costs one cell timeout. The reference notebook's
# slowest cell needs ~1 s, so the demo grades with a shorter timeout than the course's 30 s.
DEMO_CELL_TIMEOUT = "10"


def nbgrader(course: Path, *args: str, check: bool = True, **env_vars: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command in `course`, with this environment's bin/ first on PATH (nbgrader
    calls `alembic` by name when it creates a gradebook)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = dict(os.environ, PATH=path, **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, check=check, text=True
    )


# `--small`: four students of the catalog, for a quick look (and the test of this job).
SMALL = ("ok_reference", "part_ex1_ex2", "part_only_ex1", "part_blank")


def hand_in(course: Path, submissions: dict[str, nbformat.NotebookNode | bytes]) -> None:
    """Write each student's notebook (or raw bytes, for broken files) into submitted/."""
    for student, nb in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, bytes):
            (folder / NOTEBOOK).write_bytes(nb)
        else:
            nbformat.write(nb, str(folder / NOTEBOOK))


def expected_column(cases: dict[str, cohort.Case], student: str) -> str:
    """What the catalog says this student must get: ex1 ex2 ex3, or why nbgrader rejects them."""
    case = cases[student]
    if case.rejected:
        return f"rejected: {case.rejected}"
    want = case.expected()
    return " ".join(f"{want[ex]:g}" for ex in EXERCISES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course root (default: this repo)")
    parser.add_argument(
        "--small", action="store_true", help="4 students of the simulated cohort instead of all ~45"
    )
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

    source = course / "source" / ASSIGNMENT / NOTEBOOK
    if sync_checks_cell(source):
        print(f"copied gradekit/checks.py into {source} (cell {CHECKS_CELL})")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(course, "generate_solution", ASSIGNMENT, "--force")
    kit = cohort.Kit.load(course)
    cases = {c.student: c for c in cohort.catalog() if not args.small or c.student in SMALL}
    hand_in(course, cohort.build(list(cases.values()), kit))
    # A broken submission makes autograde exit 1 after grading everybody else: expected here.
    nbgrader(course, "autograde", ASSIGNMENT, "--force", check=False, NBGRADER_CELL_TIMEOUT=DEMO_CELL_TIMEOUT)
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force", check=False)
    nbgrader(
        course, "export", "--exporter", "gradekit.grades.ExerciseCsvExport", "--to", "grades_by_exercise.csv"
    )
    report.main(["--course", str(course), "--to", str(course / "report.html")])

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        table = grades.table(
            grades.collect(gradebook),
            extra=("expected", lambda student: expected_column(cases, student)) if cases else None,
        )
    print()
    print(table)
    print(f"\nfeedback: {course / 'feedback'}\nexport:   {course / 'grades_by_exercise.csv'}")
    print(f"report:   {course / 'report.html'}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
