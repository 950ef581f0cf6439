"""The main job, end to end, on the default SQLite gradebook:

regenerate the release and the solutions from `source/`, give the assignment a due date, hand in
the simulated cohort of `simulation.cohort` (correct, partial, buggy and adversarial submissions) and
the arrivals of `simulation.arrivals` (renamed, re-encoded, split, late... hand-ins), take them in and
autograde them (`gradekit grade`: a progress bar, then a summary), write feedback, export
per-exercise grades, write the HTML grade report, and print the per-exercise table with each
student's expected scores beside the ones nbgrader gave.

nbgrader's own output goes to logs/ (one file per command, one per shard under logs/autograde/).

    python -m simulation.demo [--small]
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

from gradekit import cli
from gradekit.cluster import runner
from gradekit.cluster.lifeline import die_with_parent
from gradekit.course.notebooks import COURSE_ROOT, sync_checks_cell
from gradekit.export import grades
from simulation import arrivals, cohort
from simulation.course import ASSIGNMENT, NOTEBOOK

# The catalog has three endless loops; each costs one cell timeout. The reference notebook's
# slowest cell needs ~1 s, so the demo grades with a shorter timeout than the course's 30 s.
DEMO_CELL_TIMEOUT = "10"


def nbgrader(
    course: Path, *args: str, check: bool = True, log: Path | None = None, **env_vars: str
) -> subprocess.CompletedProcess:
    """Run an nbgrader command in `course`, with this environment's bin/ first on PATH (nbgrader
    calls `alembic` by name when it creates a gradebook); with `log`, its output is appended to
    that file instead of the terminal. Raises CalledProcessError (with `check`) naming the log."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = dict(os.environ, PATH=path, **env_vars)
    argv = [sys.executable, "-m", "nbgrader", *args]
    if log is None:
        return subprocess.run(argv, cwd=course, env=env, check=check, text=True, preexec_fn=die_with_parent())
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"\n# nbgrader {' '.join(args)}\n")
        fh.flush()
        result = subprocess.run(
            argv,
            cwd=course,
            env=env,
            text=True,
            stdout=fh,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
    if check and result.returncode:
        print(f"nbgrader {args[0]} failed (exit {result.returncode}): see {log}", file=sys.stderr)
        result.check_returncode()
    return result


# `--small`: four students of the catalog, for a quick look (and the test of this job).
SMALL = ("ok_reference", "part_ex1_ex2", "part_only_ex1", "part_blank")
SMALL_ARRIVALS = ("arr_renamed_browser_copy", "arr_late", "arr_python_file_only")


def hand_in(course: Path, submissions: dict[str, nbformat.NotebookNode | bytes]) -> None:
    """Write each student's notebook (or raw bytes, for broken files) into submitted/."""
    for student, nb in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(nb, bytes):
            (folder / NOTEBOOK).write_bytes(nb)
        else:
            nbformat.write(nb, str(folder / NOTEBOOK))


Cases = dict[str, cohort.Case | arrivals.Arrival]


def expected_column(cases: Cases, student: str, kit: cohort.Kit) -> str:
    """What the catalogs say this student must get in the course of `kit`: a score per exercise
    (and the late penalty), or why the submission cannot be graded."""
    case = cases[student]
    if isinstance(case, arrivals.Arrival):
        if case.flagged:
            return f"not gradable: {case.flagged}"
        want = case.expected(kit)
        late = f", late -{case.penalty(kit):g}" if case.late else ""
        return " ".join(f"{score:g}" for score in want.values()) + late
    if case.rejected:
        return f"not gradable: {case.rejected}"
    return " ".join(f"{score:g}" for score in case.expected(kit).values())


def got_column(g: grades.StudentGrades) -> str:
    """What nbgrader gave, in the words of `expected_column`."""
    if not g.graded:
        return f"not gradable: {g.reason}"
    late = f", late -{g.penalty:g}" if g.penalty else ""
    return " ".join(f"{g.exercise(ex):g}" for ex in g.exercises) + late


def as_expected(cases: Cases, got: grades.StudentGrades, kit: cohort.Kit) -> bool:
    """Did this student get what the catalog says? (For the not gradable: the right reason.)"""
    want = expected_column(cases, got.student, kit)
    if want.startswith("not gradable: "):
        return not got.graded and want.removeprefix("not gradable: ") in (got.reason or "")
    return got_column(got) == want


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--course", type=Path, default=COURSE_ROOT, help="course root (default: this repo)")
    parser.add_argument(
        "--small", action="store_true", help="7 students (4 of the cohort, 3 arrivals) instead of all ~80"
    )
    args = parser.parse_args(argv)
    course: Path = args.course.resolve()
    start = time.perf_counter()
    logs = course / "logs"
    clean(course)
    db_url = generate(course, logs)
    kit = cohort.Kit.load(course)
    cases = hand_in_everyone(course, kit, args.small)
    # Intake, then autograding in two shards; not gradable students are listed in the summary.
    os.environ["NBGRADER_CELL_TIMEOUT"] = DEMO_CELL_TIMEOUT
    runner.run(course, shards=2, db_url=db_url, stream=sys.stdout)
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force", check=False, log=logs / "feedback.log")
    exporter = "gradekit.export.grades.ExerciseCsvExport"
    nbgrader(
        course, "export", "--exporter", exporter, "--to", "grades_by_exercise.csv", log=logs / "export.log"
    )
    cli.main(["report", "--course", str(course), "--to", str(course / "report.html")])
    wrong = print_table(course, db_url, cases, kit)
    print(f"\nfeedback: {course / 'feedback'}\nexport:   {course / 'grades_by_exercise.csv'}")
    print(f"report:   {course / 'report.html'}\nlogs:     {logs}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 1 if wrong else 0


def clean(course: Path) -> None:
    """A fresh gradebook and fresh outputs, so the run shows exactly what this source produces
    (autograded/README.md is committed: it stays)."""
    generated = [course / name for name in ("gradebook.db", "submitted", "feedback", "logs")]
    generated += [p for p in (course / "autograded").glob("*") if p.name != "README.md"]
    for path in generated:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def generate(course: Path, logs: Path) -> str:
    """release/ and solutions/ from source/ (the checks framework copied in first); the gradebook,
    with the demo's due date."""
    source = course / "source" / ASSIGNMENT / NOTEBOOK
    if changed := sync_checks_cell(source):
        print(f"copied gradekit/checks/framework.py into {source} (cell {changed})")
    print(f"release and solutions from {source.relative_to(course)} (log: logs/generate.log)")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", log=logs / "generate.log")
    nbgrader(course, "generate_solution", ASSIGNMENT, "--force", log=logs / "generate.log")
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    arrivals.give_due_date(db_url)
    return db_url


def hand_in_everyone(course: Path, kit: cohort.Kit, small: bool) -> Cases:
    """The simulated cohort and the arrivals handed in (a few of each when `small`): student -> case."""
    cases: Cases = {c.student: c for c in cohort.catalog() if not small or c.student in SMALL}
    hand_in(course, cohort.build([c for c in cases.values() if isinstance(c, cohort.Case)], kit))
    handed = [a for a in arrivals.catalog() if not small or a.student in SMALL_ARRIVALS]
    arrivals.hand_in(lambda student: course / "submitted" / student / ASSIGNMENT, handed, kit)
    cases.update({a.student: a for a in handed})
    print(f"handed in: {len(cases)} students, due {arrivals.DUE}")
    return cases


def print_table(course: Path, db_url: str, cases: Cases, kit: cohort.Kit) -> list:
    """The per-exercise table with what each student must get; the students who did not get it."""
    with Gradebook(db_url) as gradebook:
        everyone = grades.collect(gradebook, ASSIGNMENT, course)
    table = grades.table(everyone, extra=("expected", lambda student: expected_column(cases, student, kit)))
    print()
    print(table)
    wrong = [g for g in everyone if g.student in cases and not as_expected(cases, g, kit)]
    for g in wrong:
        want = expected_column(cases, g.student, kit)
        print(f"NOT AS EXPECTED: {g.student}: got {got_column(g)}, expected {want}")
    print(f"\nas expected: {len(everyone) - len(wrong)}/{len(everyone)} students")
    return wrong


if __name__ == "__main__":
    sys.exit(main())
