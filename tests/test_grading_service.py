"""Grading on submit (gradekit.hub.grading_service): each submission in nbgrader's exchange graded
as it arrives, through the kit's intake, sandbox and judge, with its feedback released; a limit on
graded tries per window, answered with when the next try opens; nothing lost when the service is
killed mid-grade; no student can have another's work graded.

The students are unix accounts (a submission folder must belong to its student), so the graded
tests run as root (CI); the tries' rule is tested everywhere.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nbgrader.api import Gradebook
from nbgrader.utils import notebook_hash

from gradekit.course import Course
from gradekit.course.notebooks import COURSE_ROOT
from gradekit.hub import tries
from gradekit.hub.grading_service import GradingService
from gradekit.hub.ledger import Ledger, Try
from simulation import cohort, exchange
from simulation.course import ASSIGNMENT, NOTEBOOK

NOW = dt.datetime(2026, 12, 3, 12, 0, 0)
HOUR = 3600.0

# -- the rule ---------------------------------------------------------------------------------------


def test_three_tries_per_window_and_the_fourth_says_when_the_next_opens():
    graded = [NOW, NOW + dt.timedelta(minutes=10), NOW + dt.timedelta(minutes=20)]
    assert tries.decide(graded[:2], NOW + dt.timedelta(minutes=20), 3, 24 * HOUR).graded
    fourth = tries.decide(graded, NOW + dt.timedelta(minutes=30), 3, 24 * HOUR)
    assert not fourth.graded and fourth.opens == NOW + dt.timedelta(hours=24)
    assert "2026-12-04 12:00 UTC" in fourth.message(3, 24 * HOUR)
    assert tries.decide(graded, NOW + dt.timedelta(hours=24, seconds=1), 3, 24 * HOUR).graded
    with pytest.raises(ValueError):
        tries.decide([], NOW, 0, HOUR)


@given(
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=5_000),
)
def test_never_more_graded_tries_in_a_window_than_the_limit(offsets, limit, window):
    """Submissions at `offsets` seconds, each decided in turn: in every window of `window` seconds
    at most `limit` are graded, and a refused one is told a time at which a try is graded."""
    graded: list[dt.datetime] = []
    for offset in sorted(offsets):
        at = NOW + dt.timedelta(seconds=offset)
        decision = tries.decide(graded, at, limit, window)
        if decision.graded:
            graded.append(at)
        else:
            assert decision.opens > at
            assert tries.decide(graded, decision.opens, limit, window).graded
    for t in graded:
        assert sum(t - dt.timedelta(seconds=window) < u <= t for u in graded) <= limit


def test_the_grade_that_counts_is_the_last_or_the_best():
    graded = [(NOW, 20.0), (NOW, 30.0), (NOW, 10.0)]
    assert tries.counting(graded, "last") == 2
    assert tries.counting(graded, "best") == 1
    assert tries.counting([], "best") is None


# -- graded, as root --------------------------------------------------------------------------------

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 and not os.environ.get("CI"), reason="students are unix accounts: run as root"
)
STUDENTS = [f"kit-svc-{i:02d}" for i in range(30)]


@pytest.fixture(scope="module")
def students():
    if os.geteuid() != 0:
        pytest.fail("the grading service's tests make unix accounts: run them as root")
    exchange.accounts(STUDENTS)
    yield STUDENTS
    exchange.remove_accounts(STUDENTS)


def service_course(fresh_course: Path, tmp_path: Path, **settings) -> Course:
    """The course with an exchange of its own and the service's settings in its config."""
    inbound = tmp_path / "exchange" / "mini_auto_grad" / "inbound"
    inbound.mkdir(parents=True)
    inbound.chmod(0o1777)
    extra = [f"c.Exchange.root = {str(tmp_path / 'exchange')!r}"]
    extra += [f"c.GradingService.{k} = {v!r}" for k, v in settings.items()]
    with (fresh_course / "nbgrader_config.py").open("a") as fh:
        fh.write("\n" + "\n".join(extra) + "\n")
    return Course.load(fresh_course)


def total(course: Course, student: str) -> float | None:
    from gradekit.export.grades import collect

    with Gradebook(course.db_url) as gradebook:
        found = {g.student: g for g in collect(gradebook, ASSIGNMENT, course.root)}
    return found[student].total if student in found and found[student].graded else None


def feedback_page(service: GradingService, folder: Path) -> str | None:
    secret = (folder / "submission_secret.txt").read_text()
    page = service.outbound_feedback / f"{notebook_hash(secret=secret, notebook_id=Path(NOTEBOOK).stem)}.html"
    return page.read_text() if page.exists() else None


@pytest.mark.course
def test_parallel_runs_grade_only_their_own_batch_even_for_students_new_to_the_course(
    fresh_course, tmp_path, monkeypatch
):
    """Two batches of students the gradebook has never seen, graded at once: each nbgrader run
    leaves out every student of the other batch, even one the other batch stages late (CI once
    saw kit-svc-15 graded by both runs at once, and failed by one: "Notebook does not appear to be
    JSON"). nbgrader is replaced by a stand-in that says which students its run would grade."""
    import gradekit.hub.grading_service as grading_service

    course = service_course(fresh_course, tmp_path, batch=2, parallel=2)
    service = GradingService(course)
    new = [f"newcomer-{i}" for i in range(4)]
    attempts = []
    for i, student in enumerate(new):
        folder = f"{student}+{ASSIGNMENT}+2026-12-03 12:00:0{i}.000000 UTC+{i:032x}"
        (service.inbound / folder).mkdir()
        (service.inbound / folder / NOTEBOOK).write_text("{}")
        attempts.append(Try(folder, student, ASSIGNMENT, NOW, "grading"))
    stage = GradingService.stage

    def late_for_the_second_batch(self, attempt):
        if attempt.student in new[2:]:
            time.sleep(0.3)
        stage(self, attempt)

    graded_by_run: list[list[str]] = []

    def nbgrader(argv, **kwargs):
        if "gradekit.cluster.autograde_shard" in argv:
            left_out = set(Path(argv[3]).read_text().split())
            time.sleep(0.5)  # the run globs submitted/ while it grades
            graded_by_run.append(sorted(set(course.students()) - left_out))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(GradingService, "stage", late_for_the_second_batch)
    monkeypatch.setattr(grading_service.subprocess, "run", nbgrader)
    monkeypatch.setattr(GradingService, "scores", lambda self, students: dict.fromkeys(students, 1.0))
    service.grade_round(attempts)
    assert sorted(graded_by_run) == [new[:2], new[2:]]


@needs_root
@pytest.mark.course
def test_each_try_graded_with_feedback_and_the_fourth_refused_with_when(students, fresh_course, tmp_path):
    course = service_course(fresh_course, tmp_path, tries_per_window=3, window=24 * HOUR)
    service = GradingService(course)
    kit = cohort.Kit.load(fresh_course)
    blank, solved = kit.release, kit.solved()
    mistake = next(c for c in cohort.catalog() if c.student == "bug_tanh_derivative").build(kit)
    student = students[0]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    made = [
        exchange.submit(service.inbound, student, ASSIGNMENT, {NOTEBOOK: nb}, now - dt.timedelta(minutes=m))
        for nb, m in ((blank, 4), (mistake, 3), (solved, 2), (blank, 1))
    ]
    service.run(once=True)
    statuses = [t.status for t in service.ledger.of(student, ASSIGNMENT)]
    assert statuses == ["graded", "graded", "graded", "refused"]
    assert [t.score for t in service.ledger.of(student, ASSIGNMENT)][:3] == [0.0, 29.25, 30.0]
    assert total(course, student) == 30.0, "the gradebook holds the last graded try"
    mistaken = feedback_page(service, made[1])
    assert "tanh_slope" in mistaken and "Not graded" not in mistaken, "the hidden check is named"
    assert "x.tanh().tanh(), at=0.7" not in mistaken, "no hidden check's code"
    refused = feedback_page(service, made[3])
    assert "used your 3 graded tries" in refused and "next graded try opens at" in refused
    assert (service.inbound / made[3].name).is_dir(), "the refused submission is kept"
    service.run(once=True)
    assert len(service.ledger.all()) == 4, "none graded twice"


@needs_root
@pytest.mark.course
def test_the_best_try_counts_when_configured(students, fresh_course, tmp_path):
    course = service_course(fresh_course, tmp_path, counts="best")
    service = GradingService(course)
    kit = cohort.Kit.load(fresh_course)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for nb, minutes in ((kit.solved(), 2), (kit.release, 1)):
        at = now - dt.timedelta(minutes=minutes)
        exchange.submit(service.inbound, students[1], ASSIGNMENT, {NOTEBOOK: nb}, at)
    service.run(once=True)
    assert [t.score for t in service.ledger.of(students[1], ASSIGNMENT)] == [30.0, 0.0]
    assert total(course, students[1]) == 30.0


@needs_root
@pytest.mark.course
def test_no_student_has_another_students_work_graded(students, fresh_course, tmp_path):
    course = service_course(fresh_course, tmp_path)
    service = GradingService(course)
    kit = cohort.Kit.load(fresh_course)
    victim, attacker = students[2], students[3]
    exchange.submit(service.inbound, victim, ASSIGNMENT, {NOTEBOOK: kit.solved()})
    # the attacker's own folder, named for the victim: it would replace the victim's grade
    forged = exchange.submit(service.inbound, victim, ASSIGNMENT, {NOTEBOOK: kit.release}, owner=attacker)
    # a link to the instructor's source notebook, hidden tests and all
    linked = exchange.submit(service.inbound, attacker, ASSIGNMENT, {})
    (linked / NOTEBOOK).symlink_to(COURSE_ROOT / "source" / ASSIGNMENT / NOTEBOOK)
    service.run(once=True)
    by_folder = {t.folder: t for t in service.ledger.all()}
    forged_try, linked_try = by_folder[forged.name], by_folder[linked.name]
    assert forged_try.status == "failed" and "does not belong to" in forged_try.message
    assert linked_try.status == "failed" and "symbolic link" in linked_try.message
    assert total(course, victim) == 30.0
    assert total(course, attacker) is None


@needs_root
@pytest.mark.course
def test_thirty_at_once_all_graded_once_even_if_the_service_is_killed(students, fresh_course, tmp_path):
    course = service_course(fresh_course, tmp_path)
    kit = cohort.Kit.load(fresh_course)
    inbound = tmp_path / "exchange" / "mini_auto_grad" / "inbound"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i, student in enumerate(students):
        exchange.submit(inbound, student, ASSIGNMENT, {NOTEBOOK: kit.solved()}, now - dt.timedelta(seconds=i))
    command = [sys.executable, "-m", "gradekit", "grade-on-submit", "--course", str(fresh_course)]
    first = subprocess.Popen(command, cwd=COURSE_ROOT, start_new_session=True)
    ledger = Ledger(fresh_course / "grading_service.sqlite")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(t.status == "grading" for t in ledger.all()):
        time.sleep(0.2)
    time.sleep(3)  # mid-grade: nbgrader is at work on the round
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert any(t.status == "grading" for t in ledger.all()), "killed before it finished"
    subprocess.run([*command, "--once"], cwd=COURSE_ROOT, check=True, timeout=600)
    finished = ledger.all()
    assert sorted(t.student for t in finished) == sorted(students), "every submission once"
    assert {t.student: t.message for t in finished if t.status != "graded"} == {}
    with Gradebook(course.db_url) as gradebook:
        scored = [gradebook.find_submission(ASSIGNMENT, s).score for s in students]
    assert scored == [30.0] * len(students)
