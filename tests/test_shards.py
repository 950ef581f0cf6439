"""Sharded autograding (gradekit.cluster) against SQLite and a real PostgreSQL server: shards graded in
parallel, or killed midway and completed with --only-missing, give exactly the per-cell scores of
one sequential `nbgrader autograde`, with one submission per student.

PostgreSQL: the tests read a server URL from KIT_TEST_POSTGRES_URL (`eval "$(.ci/postgres.sh start)"`
starts a throwaway one) and make a database per test. Without the variable they are skipped, or
fail when CI is set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from gradekit.cluster.lifeline import die_with_parent
from gradekit.cluster.shard import shard_of
from gradekit.cluster.status import executed, missing_reason
from gradekit.course import Course
from gradekit.course.gradebook import (
    DatabaseError,
    GradebookState,
    check_database,
    gradebook_state,
    normalized_db_url,
)
from gradekit.course.notebooks import grade_cells, read
from gradekit.export import grades
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.demo import nbgrader
from simulation.submissions import fill, only, reference_answers, region_exercises
from tests.conftest import hand_in

pytestmark = pytest.mark.course

SHARDS = 2
# Students that cannot be graded: intake (gradekit.intake) finds them not gradable in every run,
# sequential or sharded, and they keep a submission without a score. (The student whose train()
# kills the kernel is graded: the kernel's death costs the checks of train.)
UNGRADABLE = {"broken_json"}


@pytest.fixture(scope="module")
def cohort(release_nb):
    """Six students: full, partial and blank work, a notebook that is not JSON, and one whose
    train() kills the kernel."""
    answers = reference_answers(SOURCE_NOTEBOOK)
    exercises = region_exercises(read(SOURCE_NOTEBOOK))
    crash = {k: list(v) for k, v in answers.items()}
    crash["training"][0] = "import os\nos._exit(1)\n" + crash["training"][0]
    students = {
        "reference": fill(release_nb, answers),
        "blank": release_nb,
        "only_ex1": fill(release_nb, only(answers, exercises, {"ex1"})),
        "kernel_crash": fill(release_nb, crash),
        "ex1_and_ex2": fill(release_nb, only(answers, exercises, {"ex1", "ex2"})),
        "broken_json": b'{"cells": [',
    }
    # The kill test needs a shard with a student graded before the kill and one after it.
    sizes = [sum(shard_of(s, SHARDS) == i for s in students) for i in range(SHARDS)]
    assert sizes == [4, 2], f"the hash moved the students between shards: {sizes}"
    return students


@pytest.fixture(scope="module")
def sequential(course, cohort, tmp_path_factory) -> dict[str, dict[str, float]]:
    """Per-cell scores of one plain sequential `nbgrader autograde` of the cohort (SQLite)."""
    root = Path(shutil.copytree(course, tmp_path_factory.mktemp("sequential") / "course"))
    hand_in(root, cohort)
    result = nbgrader(root, "autograde", ASSIGNMENT, check=False, log=root / "autograde.log")
    assert result.returncode == 1, "nbgrader should report the student it cannot grade"
    log = (root / "autograde.log").read_text()
    assert (
        "intake: broken_json cannot be graded: mini_auto_grad.ipynb is not valid JSON (Expecting value" in log
    )
    scores = scores_of(f"sqlite:///{root / 'gradebook.db'}")
    points = grade_cells(read(SOURCE_NOTEBOOK))
    assert scores["reference"] == points
    assert scores["blank"] == dict.fromkeys(points, 0.0)
    assert 0 < sum(scores["only_ex1"].values()) < sum(scores["ex1_and_ex2"].values()) < sum(points.values())
    assert scores["kernel_crash"] == {**points, "ex3_train_xor": 0.0}
    for student in UNGRADABLE:  # a submission that scores 0, not a missing one
        assert scores[student] == dict.fromkeys(points, 0.0)
    return scores


def scores_of(db_url: str) -> dict[str, dict[str, float]]:
    with Gradebook(db_url) as gradebook:
        return {g.student: g.cells for g in grades.collect(gradebook, ASSIGNMENT)}


# ---------------------------------------------------------------------------------------------
# Backends


@pytest.fixture
def postgres_db():
    """A new, empty database on the PostgreSQL server of KIT_TEST_POSTGRES_URL, dropped afterwards."""
    url = os.environ.get("KIT_TEST_POSTGRES_URL")
    if not url:
        how = 'start a server with `eval "$(.ci/postgres.sh start)"` (or `.ci/postgres.sh run ./kit test`)'
        if os.environ.get("CI"):
            pytest.fail(f"KIT_TEST_POSTGRES_URL is not set and CI is: the PostgreSQL tests must run; {how}")
        pytest.skip(f"KIT_TEST_POSTGRES_URL is not set ({how}); skipped outside CI, a failure when CI is set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    name = f"kit_shards_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def graded_course(request, course, cohort, tmp_path) -> tuple[Path, str]:
    """A copy of the course with the cohort handed in, and the URL of its gradebook."""
    root = Path(shutil.copytree(course, tmp_path / "course"))
    if request.param == "sqlite":
        db_url = f"sqlite:///{root / 'gradebook.db'}"
    else:
        db_url = request.getfixturevalue("postgres_db")
        check_database(db_url, assignment=None)  # before generate_assignment --force touches release/
        nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", f"--db={db_url}")
    check_database(db_url, ASSIGNMENT)
    hand_in(root, cohort)
    return root, db_url


def shards(root: Path, db_url: str, *args: str, command: str = "grade", **popen):
    """`python -m gradekit grade` (or another `command`) on the course; Popen if asked for, else
    run to the end. It dies with this process (and its nbgrader processes with it): a killed test
    run leaves nothing."""
    command = [sys.executable, "-m", "gradekit", command, "--course", str(root), "--db", db_url, *args]
    if popen:
        return subprocess.Popen(command, text=True, preexec_fn=die_with_parent(), **popen)
    return subprocess.run(command, capture_output=True, text=True, timeout=900, preexec_fn=die_with_parent())


def summary(output: str) -> dict[str, int]:
    match = re.search(r"^summary: (.*) seconds=", output, re.M)
    assert match, output
    return {key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())}


def counts(shards: int = SHARDS, **numbers: int) -> dict[str, int]:
    """A summary's counts: these numbers, 0 for the others."""
    keys = ("shards", "students", "graded", "failed", "left", "not_gradable", "skipped", "late")
    return {key: numbers.get(key, 0) for key in keys} | {"shards": shards}


def assert_same_as_sequential(db_url: str, cohort, sequential) -> None:
    assert scores_of(db_url) == sequential
    assert gradebook_state(db_url, ASSIGNMENT).submissions == dict.fromkeys(cohort, 1), (
        "one submission per student"
    )


# ---------------------------------------------------------------------------------------------
# Grading


def test_two_shards_in_parallel_give_the_sequential_scores(graded_course, cohort, sequential):
    root, db_url = graded_course
    result = shards(root, db_url, "--shards", str(SHARDS))
    assert result.returncode == 1, result.stderr  # complete, but one student cannot be graded
    assert summary(result.stderr) == counts(students=6, graded=5, not_gradable=1)
    assert set(re.findall(r"^not gradable: (\w+):", result.stderr, re.M)) == UNGRADABLE
    assert "left behind" not in result.stderr  # an ordinary run leaves no process behind
    assert_same_as_sequential(db_url, cohort, sequential)

    # Nothing is missing but the ungradable: --only-missing touches nothing else.
    graded = root / "autograded" / "reference" / ASSIGNMENT / NOTEBOOK
    before = graded.stat().st_mtime_ns
    again = shards(root, db_url, "--shards", str(SHARDS), "--only-missing")
    assert summary(again.stderr) == counts(students=6, not_gradable=1, skipped=5)
    assert graded.stat().st_mtime_ns == before
    assert_same_as_sequential(db_url, cohort, sequential)


def partial_and_done(root: Path, students: list[str]) -> tuple[list[str], list[str]]:
    """Students whose autograded notebook is only the sanitized copy (being executed), and those
    whose executed notebook is written."""
    states = {s: executed(root / "autograded" / s / ASSIGNMENT / NOTEBOOK) for s in students}
    return [s for s, done in states.items() if done is False], [s for s, done in states.items() if done]


def test_killed_shard_then_only_missing_gives_the_sequential_scores(graded_course, cohort, sequential):
    root, db_url = graded_course
    victim = 0
    mine = sorted(s for s in cohort if shard_of(s, SHARDS) == victim)
    runner = shards(root, db_url, "--shards", str(SHARDS), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(runner.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600
        pid = None
        while time.monotonic() < deadline and runner.poll() is None:
            found = re.search(rf"^shard {victim}/{SHARDS}: nbgrader pid (\d+)$", "".join(lines), re.M)
            pid = pid or (found and int(found.group(1)))
            partial, done = partial_and_done(root, mine)
            # Midway through a student it can grade: only then does the rerun prove anything.
            if pid and set(partial) - UNGRADABLE and done:
                os.killpg(pid, signal.SIGKILL)  # the whole shard: nbgrader (its kernel dies with it)
                break
            time.sleep(0.02)
        else:
            pytest.fail("the shard finished before it could be killed midway:\n" + "".join(lines))
    except BaseException:
        runner.kill()  # a failed test stops its grading at once (the shards die with the runner)
        raise
    finally:
        runner.wait(timeout=600)
        reader.join(timeout=10)
    output = "".join(lines)
    assert runner.returncode == 3, output  # incomplete: a rerun can finish it
    assert f"shard {victim}/{SHARDS}: nbgrader ended with SIGKILL" in output
    # Those the kill stopped are left to a rerun, not failed: nothing is wrong with their work.
    stopped = set(re.findall(r"^left: (\w+): ", output, re.M))
    assert stopped and stopped <= set(mine) - UNGRADABLE, output
    assert summary(output)["failed"] == 0 and summary(output)["left"] == len(stopped), output
    assert "a run with --only-missing grades them" in output

    # The kill left a sanitized, unexecuted notebook: plain nbgrader would skip it as "existing".
    left = sorted(set(partial_and_done(root, mine)[0]) - UNGRADABLE)
    assert left, "the kill should have caught a student midway"
    status = shards(root, db_url, command="status")
    assert status.returncode == 1
    for student in left:
        assert f"missing: {student}: " in status.stdout

    # The Slurm / Kubernetes way: one process per shard, started independently, at the same time.
    reruns = [
        shards(
            root,
            db_url,
            "--shard-index",
            str(index),
            "--shards",
            str(SHARDS),
            "--only-missing",
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for index in range(SHARDS)
    ]
    outputs = [rerun.communicate(timeout=900)[0] for rerun in reruns]
    # complete; a shard with an ungradable student says so
    ungradable = [bool({s for s in cohort if shard_of(s, SHARDS) == i} & UNGRADABLE) for i in range(SHARDS)]
    assert [rerun.returncode for rerun in reruns] == [int(u) for u in ungradable], outputs
    found = [summary(output) for output in outputs]
    assert sum(c["students"] for c in found) == len(cohort)
    assert found[victim]["skipped"] >= 1, outputs[victim]  # graded before the kill, not again
    assert sum(c["failed"] for c in found) == 0
    assert sum(c["not_gradable"] for c in found) == len(UNGRADABLE)
    assert_same_as_sequential(db_url, cohort, sequential)

    final = shards(root, db_url, command="status")
    assert set(re.findall(r"^missing: (\w+):", final.stdout, re.M)) == UNGRADABLE


def test_a_shard_stopped_by_a_locked_sqlite_database_is_rerun(fresh_course, release_nb):
    """nbgrader stops a whole run on a database error; the shard is then rerun for its missing
    students. (A 0.2 s busy timeout and a lock held until nbgrader has given up force the error.)"""
    hand_in(fresh_course, {"blank": release_nb})
    gradebook = fresh_course / "gradebook.db"
    runner = shards(
        fresh_course,
        f"sqlite:///{gradebook}?timeout=0.2",
        "--shards",
        "1",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(runner.stdout), daemon=True)
    reader.start()
    log = fresh_course / "logs" / "autograde" / "shard-0-of-1.log"
    lock = sqlite3.connect(gradebook, isolation_level=None)
    try:
        deadline = time.monotonic() + 300
        while "nbgrader pid" not in "".join(lines):
            assert time.monotonic() < deadline and runner.poll() is None, "".join(lines)
            time.sleep(0.05)
        lock.execute("BEGIN EXCLUSIVE")  # nobody may read or write the gradebook now
        # nbgrader's own words for the error that stops its run (intake's hook may meet the lock
        # first: it then leaves the folder as it is, which intake before the run made gradable)
        while "There was an error accessing the nbgrader database" not in (
            log.read_text() if log.exists() else ""
        ):
            assert time.monotonic() < deadline and runner.poll() is None, "".join(lines)
            time.sleep(0.05)
    finally:
        lock.close()  # rolls the exclusive transaction back
        runner.wait(timeout=600)
        reader.join(timeout=10)
    output = "".join(lines)
    assert runner.returncode == 0, output
    assert "shard 0/1: transient error, retrying 1 students" in output
    assert summary(output) == counts(shards=1, students=1, graded=1)


# ---------------------------------------------------------------------------------------------
# Without nbgrader: shards, "missing", the database check


def test_a_roster_too_long_for_one_command_line_argument(fresh_course, release_nb):
    """A shard leaves out every student but its own. With 12,000 ids of 24 characters in the
    roster that list is 300 kB, more than Linux takes in one command-line argument (128 KiB,
    MAX_ARG_STRLEN: the process would not start, E2BIG); it goes to nbgrader in a file."""
    roster = [(f"firstname.lastname.{i:05d}", "", "", None, None) for i in range(12_000)]
    with sqlite3.connect(fresh_course / "gradebook.db") as db:
        db.executemany(
            "INSERT INTO student (id, first_name, last_name, email, lms_user_id) VALUES (?, ?, ?, ?, ?)",
            roster,
        )
    answers = reference_answers(SOURCE_NOTEBOOK)
    hand_in(fresh_course, {"reference": fill(release_nb, answers), "blank": release_nb})
    result = shards(fresh_course, Course.load(fresh_course).db_url, "--shards", "1")
    assert result.returncode == 0, result.stderr
    assert summary(result.stderr) == counts(shards=1, students=2, graded=2)
    exclude = (fresh_course / "logs" / "autograde" / "shard-0-of-1.exclude").read_text().split()
    assert len(exclude) == len(roster) and len(",".join(exclude)) > 128 * 1024
    scores = scores_of(Course.load(fresh_course).db_url)
    assert scores["reference"] == grade_cells(read(SOURCE_NOTEBOOK))
    assert sum(scores["blank"].values()) == 0
    assert gradebook_state(Course.load(fresh_course).db_url, ASSIGNMENT).submissions == {
        "reference": 1,
        "blank": 1,
    }


def test_status_counts_a_student_who_handed_in_no_notebook(fresh_course):
    """A folder with only a .py has no notebook for nbgrader to find, but it is a student: intake
    makes them not gradable, and --status (the last step of the Slurm check job) lists them as
    missing and exits 1, instead of reporting everyone graded."""
    folder = fresh_course / "submitted" / "py_only" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "mini_auto_grad.py").write_text("print('my homework')\n")
    db_url = Course.load(fresh_course).db_url
    before = shards(fresh_course, db_url, command="status")  # not taken in yet
    assert before.returncode == 1 and "missing: py_only: " in before.stdout, before.stdout
    graded = shards(fresh_course, db_url, "--shards", "1", "--only-missing")
    assert graded.returncode == 1 and "not gradable: py_only: " in graded.stderr, graded.stderr
    status = shards(fresh_course, db_url, command="status")
    assert status.returncode == 1, status.stdout
    assert "missing: py_only: not gradable: " in status.stdout
    assert "status: students=1 graded=0 missing=1" in status.stdout


def test_shards_are_a_stable_partition():
    students = [f"student{i:04d}" for i in range(1000)]
    for n in (1, 2, 3, 8):
        shards_of = [shard_of(s, n) for s in students]
        assert set(shards_of) == set(range(n))
        assert min(shards_of.count(i) for i in range(n)) > 1000 / n * 0.8  # roughly balanced
        # Membership depends on the id alone, not on who else is in the cohort.
        assert [shard_of(s, n) for s in students[::7]] == shards_of[::7]


def write_notebook(path: Path, execution_count: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [
        {"cell_type": "code", "execution_count": execution_count, "metadata": {}, "outputs": [], "source": ""}
    ]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_what_missing_means(tmp_path):
    state = GradebookState(
        notebooks={"mini_auto_grad"},
        roster={"a", "b"},
        submissions={"a": 1, "b": 1},
        unsaved={"a": 0, "b": 3},
        test_cells=13,
    )
    submitted = tmp_path / "submitted" / "a" / ASSIGNMENT
    autograded = tmp_path / "autograded" / "a" / ASSIGNMENT
    write_notebook(submitted / NOTEBOOK, None)
    (submitted / "timestamp.txt").write_text("2025-01-01 10:00:00.000000 UTC")

    def reason(student="a"):
        return missing_reason(tmp_path, student, state, ASSIGNMENT)

    assert reason("c") == "no submission in the gradebook"
    assert reason("b") == "no score for 3 of 13 test cells in the gradebook"
    assert reason() == f"no autograded {NOTEBOOK}"
    write_notebook(autograded / NOTEBOOK, None)  # the sanitized copy: a killed or crashed grading
    assert reason() == f"autograded {NOTEBOOK} was never executed (grading interrupted)"
    (autograded / NOTEBOOK).write_text('{"cells": [{"cell_type": "code", "execution_co')
    assert reason() == f"autograded {NOTEBOOK} is unreadable (cut off?)"
    write_notebook(autograded / NOTEBOOK, 1)
    assert reason() == "submitted again after grading"  # no timestamp copied yet
    shutil.copy(submitted / "timestamp.txt", autograded)
    assert reason() is None
    (submitted / "timestamp.txt").write_text("2025-01-02 10:00:00.000000 UTC")
    assert reason() == "submitted again after grading"


def test_the_database_is_checked_before_anything_runs(course, tmp_path):
    with pytest.raises(DatabaseError, match="not a database URL"):
        check_database("gradebook.db", ASSIGNMENT)
    with pytest.raises(DatabaseError, match="no gradebook at"):
        check_database(f"sqlite:///{tmp_path / 'none.db'}", ASSIGNMENT)
    with pytest.raises(DatabaseError, match="does not exist"):
        check_database(f"sqlite:///{tmp_path / 'no' / 'folder.db'}", assignment=None)
    (tmp_path / "empty.db").touch()
    with pytest.raises(DatabaseError, match="not an nbgrader gradebook"):
        check_database(f"sqlite:///{tmp_path / 'empty.db'}", ASSIGNMENT)
    gradebook = f"sqlite:///{course / 'gradebook.db'}"
    with pytest.raises(DatabaseError, match="no assignment 'ps0'"):
        check_database(gradebook, "ps0")
    assert "1 notebook" in check_database(gradebook, ASSIGNMENT)
    # A server that does not answer: a clear error, quickly (nothing listens on port 1).
    with pytest.raises(DatabaseError, match="cannot use the gradebook postgresql"):
        check_database("postgresql+psycopg2://grader:secret@127.0.0.1:1/course", assignment=None)
    with pytest.raises(DatabaseError) as error:
        check_database("postgresql+psycopg2://grader:secret@127.0.0.1:1/course", ASSIGNMENT)
    assert "secret" not in str(error.value)


def test_a_server_that_answers_on_a_second_try_is_waited_for(course, monkeypatch):
    """Forty grading jobs starting at once can meet "too many clients", or a server restarting: the
    runner tries again (--retries) before it gives up (exit 2, final for a Kubernetes index)."""
    from gradekit.course import gradebook as module

    gradebook = f"sqlite:///{course / 'gradebook.db'}"
    check = module._check_database
    attempts = []

    def refused_once(url, assignment):
        attempts.append(url)
        if len(attempts) == 1:  # nothing listens on port 1: refused
            return check("postgresql+psycopg2://grader:secret@127.0.0.1:1/course", assignment)
        return check(url, assignment)

    monkeypatch.setattr(module, "_check_database", refused_once)
    with pytest.raises(DatabaseError, match="cannot use the gradebook postgresql"):
        check_database(gradebook, ASSIGNMENT)  # no retries: at once
    attempts.clear()
    assert "1 notebook" in check_database(gradebook, ASSIGNMENT, retries=2, wait=0.01)
    assert len(attempts) == 2
    attempts.clear()
    attempts.append("not the first")  # what is not a connection problem is not tried again
    with pytest.raises(DatabaseError, match="no assignment 'ps0'"):
        check_database(gradebook, "ps0", retries=2, wait=0.01)
    assert len(attempts) == 2


def test_the_sqlite_url_is_absolute_and_waits_for_locks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalized_db_url("sqlite:///gradebook.db") == f"sqlite:///{tmp_path}/gradebook.db?timeout=60"
    assert normalized_db_url("sqlite:////x/g.db?timeout=5") == "sqlite:////x/g.db?timeout=5"
    url = "postgresql+psycopg2://grader@db.example/course"
    assert normalized_db_url(url) == url


def test_the_command_line_refuses_a_bad_database_before_grading(course):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gradekit",
            "grade",
            "--course",
            str(course),
            "--db",
            "sqlite:////nowhere/g.db",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "error: no gradebook at /nowhere/g.db" in result.stderr
    assert not (course / "autograded").exists()


def test_on_a_terminal_the_progress_is_a_bar(fresh_course, release_nb):
    """On a terminal (a pseudo-terminal here) the runner draws tqdm's bar: students done / total,
    elapsed and the estimate, then the summary; no line per student."""
    import pty

    hand_in(fresh_course, {"blank": release_nb, "also_blank": release_nb})
    controller, terminal = pty.openpty()
    runner = shards(
        fresh_course, Course.load(fresh_course).db_url, "--shards", "1", stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    chunks = []
    try:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # the runner closed the terminal: it has ended
                break
            if not data:
                break
            chunks.append(data)
    finally:
        runner.wait(timeout=600)
        os.close(controller)
    output = b"".join(chunks).decode("utf-8", "replace")
    assert runner.returncode == 0, output
    assert re.search(r"grading: 100%\|[^|]*\| 2/2 \[\d\d:\d\d<00:00", output), output
    assert "] graded blank" not in output  # the plain line per student is for logs, not terminals
    assert summary(output.replace("\r\n", "\n")) == counts(shards=1, students=2, graded=2)
