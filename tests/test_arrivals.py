"""Submissions as they really arrive (simulation.arrivals), graded end to end the way the kit grades:
`python -m gradekit grade` with a due date and nbgrader's "zero" late penalty. Every gradable case
(the reference solution, renamed, re-encoded, split, pasted, late...) gets exactly its written-down
scores, every case that cannot be graded is listed with its reason and has a row without a score,
and the figures of the kit's export, nbgrader's export and the summary agree."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from gradekit.export import grades
from gradekit.intake import INTAKE_DIR, Record
from simulation import arrivals, cohort
from simulation.course import ASSIGNMENT, NOTEBOOK
from simulation.demo import nbgrader
from tests.conftest import grade_with_shards

pytestmark = pytest.mark.course

CASES = {a.student: a for a in arrivals.catalog()}


@dataclass
class Run:
    root: Path
    output: str  # what `python -m gradekit grade` printed (not a terminal: a line per student)
    returncode: int
    grades: dict[str, grades.StudentGrades]
    log: str  # the shards' nbgrader logs, together


@pytest.fixture(scope="module")
def run(course, tmp_path_factory) -> Run:
    import shutil

    root = Path(shutil.copytree(course, tmp_path_factory.mktemp("arrivals") / "course"))
    arrivals.give_due_date(f"sqlite:///{root / 'gradebook.db'}")
    arrivals.hand_in(
        lambda s: root / "submitted" / s / ASSIGNMENT, list(CASES.values()), cohort.Kit.load(root)
    )
    result = grade_with_shards(root, "--shards", "2")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        found = {g.student: g for g in grades.collect(gradebook, ASSIGNMENT, root)}
    log = "".join(p.read_text() for p in sorted((root / "logs" / "autograde").glob("shard-*.log")))
    return Run(root, result.stderr, result.returncode, found, log)


def test_every_arrival_gets_its_written_down_result(run):
    problems = []
    for student, case in CASES.items():
        got = run.grades.get(student)
        if got is None:
            problems.append(f"{student}: no gradebook row")
            continue
        if case.flagged:
            if got.graded or case.flagged not in (got.reason or ""):
                problems.append(f"{student}: expected not gradable ({case.flagged}), got {got.row()}")
            continue
        scores = {ex: got.exercise(ex) for ex in got.exercises}
        if not got.graded or scores != case.expected() or got.penalty != case.penalty():
            problems.append(
                f"{student}: {scores} penalty {got.penalty}, expected {case.expected()} {case.penalty()}"
            )
        if got.total != sum(scores.values()) - case.penalty():
            problems.append(f"{student}: total {got.total} is not the exercises minus the penalty")
        if case.note:
            record = Record.load(run.root / "submitted" / student / ASSIGNMENT)
            if record is None or not any(case.note in note for note in record.notes):
                problems.append(f"{student}: no intake note with {case.note!r}: {record}")
    assert not problems, "\n".join(problems) + "\n" + run.output[-3000:]


def test_the_summary_lists_not_gradable_late_and_tampering(run):
    flagged = {s for s, c in CASES.items() if c.flagged}
    late = {s for s, c in CASES.items() if c.late}
    assert run.returncode == 1, run.output  # complete, but some students cannot be graded
    assert set(re.findall(r"^not gradable: (\w+): ", run.output, re.M)) == flagged
    said = dict(re.findall(r"^late: (\w+): penalty ([\d.]+) points$", run.output, re.M))
    assert {s: float(p) for s, p in said.items()} == {s: CASES[s].penalty() for s in late}
    for case in CASES.values():
        if case.log:
            assert f"warning: {case.log}" in run.output
    summary = re.search(r"^summary: (.*) seconds=", run.output, re.M)[1]
    assert summary == (
        f"shards=2 students={len(CASES)} graded={len(CASES) - len(flagged)} failed=0"
        f" left=0 not_gradable={len(flagged)} skipped=0 late={len(late)}"
    )
    # not a terminal: one plain line per student graded, none of nbgrader's log lines
    lines = re.findall(r"^\[(\d+)/(\d+)\] graded (\w+) ", run.output, re.M)
    assert sorted(s for _, _, s in lines) == sorted(set(CASES) - flagged)
    assert [int(n) for n, _, _ in lines] == list(range(1, len(lines) + 1))
    assert "[AutogradeApp" not in run.output and len(run.output.splitlines()) < 3 * len(CASES)


def test_only_real_tampering_is_logged(run):
    """nbgrader's false alarm (the hidden tests it puts back change every test cell's checksum) is
    gone; a student who changed a test cell is named, once per cell."""
    assert "Attribute 'checksum'" not in run.log
    tampered = re.findall(r"(\w+) changed the locked cell (\w+)", run.log)
    assert tampered == [("arr_changed_test_cell", "ex1_tanh")]


def test_nothing_handed_in_is_lost(run):
    """Every file a student handed in is still in their folder, byte for byte (the graded notebook
    or a kept original), and nothing intake keeps reaches autograded/."""
    kit = cohort.Kit.load(run.root)
    for student, case in CASES.items():
        folder = run.root / "submitted" / student / ASSIGNMENT
        present = {p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        for name, data in case.files(kit).items():
            assert data in present, f"{student}: {name} is gone"
        assert not (run.root / "autograded" / student / ASSIGNMENT / INTAKE_DIR).exists()


def test_a_huge_print_keeps_notebook_and_feedback_small(run):
    autograded = run.root / "autograded" / "arr_print_20_mb" / ASSIGNMENT / NOTEBOOK
    assert autograded.stat().st_size < 1_000_000
    nbgrader(run.root, "generate_feedback", ASSIGNMENT, "--student", "arr_print_20_mb", "--force")
    page = run.root / "feedback" / "arr_print_20_mb" / ASSIGNMENT / "mini_auto_grad.html"
    assert page.stat().st_size < 1_000_000
    assert "output cut" in page.read_text()


def test_exports_agree_after_the_late_penalty(run, tmp_path):
    """The kit's CSV and nbgrader's own export give the same total for everyone; the kit's adds the
    exercises, the penalty and the reason for the not gradable."""
    nbgrader(run.root, "export", "--to", str(tmp_path / "stock.csv"))
    nbgrader(
        run.root,
        "export",
        "--exporter",
        "gradekit.export.grades.ExerciseCsvExport",
        "--to",
        str(tmp_path / "kit.csv"),
    )
    with (tmp_path / "stock.csv").open(newline="") as fh:
        stock = {row["student_id"]: row for row in csv.DictReader(fh)}
    with (tmp_path / "kit.csv").open(newline="") as fh:
        kit = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert set(kit) == set(stock) == set(CASES)
    for student, case in CASES.items():
        assert float(kit[student]["total"]) == float(stock[student]["score"]), student
        assert (
            float(kit[student]["penalty"])
            == float(stock[student]["late_submission_penalty"])
            == case.penalty()
        )
        assert kit[student]["graded"] == str(case.flagged is None)
        assert kit[student]["late"] == str(case.late)
        assert (case.flagged or "") in kit[student]["reason"]
