"""Sharded parallel autograding: split the submitted students into N shards and grade the shards
concurrently, each shard ONE `nbgrader autograde` process.

    python -m gradekit.shards --shards 4                  # grade everyone, 4 processes here
    python -m gradekit.shards --shards 4 --only-missing   # grade only what is missing (see below)
    python -m gradekit.shards --shard-index 2 --shards 8  # exactly one shard (Slurm array task, ...)
    python -m gradekit.shards --status                    # who is graded, who is missing (exit 1 if any)
    python -m gradekit.shards --check-db                  # can the gradebook be reached? (before generating)

Intake. Before grading, every student of the run's shards is taken in (gradekit.intake: renamed
notebooks, encodings, timestamps); a student who cannot be graded is *not gradable*: registered
with a submission that has no score, left out of nbgrader's run, and listed with the reason.

Progress and logs. On a terminal a tqdm progress bar counts students done / total with the elapsed
time and an estimate; otherwise (a CI log, a Slurm output file) one line per student. nbgrader's
own log goes to one file per shard, intake's to intake.log, under logs/autograde/. The summary at
the end lists the not gradable (with reasons), the failed, the late (with the penalty), warnings a
person should read (a student who changed a locked cell), unclaimed LMS files, and the counts.

Shards. A student (a folder `submitted/<id>/<assignment>/` holding a notebook) belongs to shard
`sha256(id) mod N`. That depends on the id alone, not on who else submitted or what is graded
already, so independent shard jobs (one per machine, started at different times) agree on it.

One nbgrader process per shard. nbgrader 0.9.6's `--student` is a file glob (`glob.glob` on
`submitted/<student>/<assignment>`), which cannot name an arbitrary set of ids, but nbgrader also has
`CourseDirectory.student_id_exclude`, a comma-separated list of ids to leave out. A shard is
therefore `--student='*'` minus every other student: every other submitted student and every
student of the gradebook's roster. The list goes to nbgrader in a file next to the shard's log
(`shard-<i>-of-<n>.exclude`, read by gradekit.autograde_shard): for a big course it is longer
than one command-line argument may be. (`--print-command` shows the exact command and writes the
files.) Student ids with a comma or a line break cannot be excluded and are refused.

Missing. A student is *graded* when all three hold, and *missing* otherwise:
  1. the gradebook holds their submission and a score for every autograded test cell
     (nbgrader creates the submission with empty scores before executing, and saves each score
     as the test cell is processed);
  2. `autograded/<id>/<assignment>/<notebook>.ipynb` exists for every notebook they submitted, is a
     readable notebook and has been executed (nbgrader first writes the sanitized notebook there,
     unexecuted, and overwrites it with the executed one last: a process killed in between leaves a
     folder that plain `nbgrader autograde` skips forever as "existing");
  3. the submission is not newer than its grading (`timestamp.txt` in submitted/ vs autograded/).
`--only-missing` grades exactly the missing students, with `--force` so that nbgrader replaces
their partial folders. Without it, every student of the shard is graded afresh (`--force`).
A student that cannot be graded stays missing, is reported (not gradable, or failed), and keeps
one submission in the gradebook without a score until it is fixed.

Exit codes: 0 every student graded; 1 some students cannot be graded (not gradable, or failed: a
rerun fails the same way: see the summary and the shard logs); 2 the database or the course cannot
be used (nothing ran); 3 grading incomplete (an nbgrader process was killed, or kept failing on a
database or kernel start error): run again with --only-missing; 130 interrupted.

Databases. SQLite (the default) serves shards on one machine; its URL gets a 60 s busy timeout,
and a shard that still stops on a database error is rerun for its missing students (`--retries`).
So is a shard in which a kernel failed to start: concurrent processes can pick the same free TCP
port for their kernels (jupyter_client's port cache is per process), and the kernel then dies
before it runs any student code.
Shards on several machines need a server: NBGRADER_DB_URL or --db
`postgresql+psycopg2://user@host/db` (password in PGPASSWORD or ~/.pgpass, not in the URL).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from gradekit import autograde_shard, grades, intake
from gradekit.lifeline import adopt_orphans, die_with_parent, end_orphans, reap_zombies
from gradekit.notebooks import ASSIGNMENT, COURSE_ROOT, default_course
from gradekit.sanitize import CHANGED_LOCKED_CELL, DELETED_TEST_CELL

SQLITE_BUSY_TIMEOUT = 60  # seconds a SQLite writer waits for another shard's lock
LOG_DIR = Path("logs") / "autograde"  # relative to the course root
LOG_FORMAT = "%(asctime)s.%(msecs)03d [%(name)s | %(levelname)s] %(message)s"  # nbgrader's, timed
# What nbgrader 0.9.6 logs when a student fails, and for failures that a rerun can fix: a database
# error (nbgrader then stops the whole run) or a kernel that died before running anything.
_STUDENT_ERROR = re.compile(r"There was an error processing assignment: (.+)$")  # submitted/<id>/<a>
# Warnings a person should read, among nbgrader's INFO lines: the sanitizer's (gradekit.sanitize)
# words for a student who changed or deleted a locked cell, or changed a cell's nbgrader metadata.
_WORTH_READING = (
    CHANGED_LOCKED_CELL,
    DELETED_TEST_CELL,
    "nbgrader flags were changed",
    "is not a cell of this assignment",
)
_TRANSIENT_ERRORS = (
    "database is locked",
    "There was an error accessing the nbgrader database",
    "Kernel died before replying to kernel_info",
    "Address already in use",
)


class DatabaseError(RuntimeError):
    """The gradebook cannot be used: bad URL, missing driver, unreachable, or not generated."""


# ---------------------------------------------------------------------------------------------
# The database


def _url(url: str):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError as error:
        raise DatabaseError(f"not a database URL: {url!r} ({error})") from None


def masked(url: str) -> str:
    """The URL with its password hidden, for logs and printed commands."""
    try:
        return _url(url).render_as_string(hide_password=True)
    except DatabaseError:
        return url


def normalized_db_url(url: str, busy_timeout: int = SQLITE_BUSY_TIMEOUT) -> str:
    """`url` as every shard should use it: a SQLite path made absolute (nbgrader runs in the course
    root, not here) and given a busy timeout (pysqlite's default is 5 s)."""
    parsed = _url(url)
    if parsed.get_backend_name() != "sqlite":
        return url
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    if "timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"timeout": str(busy_timeout)})
    return parsed.render_as_string(hide_password=False)


def course_db_url(course: Path) -> str:
    """The gradebook URL nbgrader uses in `course`: NBGRADER_DB_URL if set (this course's config reads
    it), else what the course's nbgrader_config.py says, else nbgrader's default."""
    if os.environ.get("NBGRADER_DB_URL"):
        return os.environ["NBGRADER_DB_URL"]
    config_file = course / "nbgrader_config.py"
    if config_file.exists():
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader(config_file.name, path=str(course)).load_config()
        if "db_url" in config.CourseDirectory:
            return config.CourseDirectory.db_url
    return f"sqlite:///{course / 'gradebook.db'}"


def _engine(url: str, connect_timeout: int = 10):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    parsed = _url(url)
    connect_args = {"connect_timeout": connect_timeout} if parsed.get_backend_name() == "postgresql" else {}
    try:
        return create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    except ImportError as error:  # the dialect's driver is not installed
        hint = ""
        if parsed.get_backend_name() == "postgresql":
            hint = (
                " (nbgrader's gradebook on PostgreSQL needs psycopg2: `pip install psycopg2-binary` and a"
                " postgresql+psycopg2:// URL; a bare postgresql:// URL makes SQLAlchemy look for psycopg 3)"
            )
        raise DatabaseError(f"no driver for {masked(url)}: {error}{hint}") from None


def check_database(url: str, assignment: str | None = ASSIGNMENT, retries: int = 0, wait: float = 2.0) -> str:
    """Raise DatabaseError unless the gradebook at `url` can be used; return a one-line description.

    With `assignment=None`, check only that the database can be reached (use it before
    `nbgrader generate_assignment --force`, which deletes release/ before it fails on a bad URL).
    With an assignment, also check that nbgrader has generated it into this gradebook.
    A server that cannot be reached (refused, timed out, too many clients: SQLAlchemy's
    OperationalError) is tried `retries` more times, `wait`, 2 * `wait`, ... seconds apart: many
    grading jobs starting at once, or a server restarting, should not fail a job for good."""
    attempt = 0
    while True:
        try:
            return _check_database(url, assignment)
        except _Unreachable:
            if attempt >= retries:
                raise
            time.sleep(wait * 2**attempt)
            attempt += 1


class _Unreachable(DatabaseError):
    """The server did not answer or refused the connection (a retry may succeed)."""


def _check_database(url: str, assignment: str | None) -> str:
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import OperationalError, SQLAlchemyError
    from sqlalchemy.orm import Session

    parsed = _url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        if database == ":memory:":
            raise DatabaseError("an in-memory SQLite gradebook is lost when nbgrader exits")
        path = Path(database)
        if assignment is not None and not path.is_file():
            raise DatabaseError(f"no gradebook at {path}: run `nbgrader generate_assignment` first")
        if not path.parent.is_dir():
            raise DatabaseError(f"the folder of the gradebook does not exist: {path.parent}")
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if assignment is None:
                return f"{masked(url)}: reachable"
            if not {"assignment", "notebook", "submitted_assignment"} <= tables:
                raise DatabaseError(
                    f"{masked(url)} is not an nbgrader gradebook yet: run `nbgrader generate_assignment`"
                )
            from nbgrader.api import Assignment

            with Session(connection) as session:
                found = session.scalars(select(Assignment).where(Assignment.name == assignment)).first()
                if found is None or not found.notebooks:
                    raise DatabaseError(
                        f"{masked(url)} has no assignment {assignment!r}: run"
                        f" `nbgrader generate_assignment {assignment}` with this database"
                    )
                notebooks = len(found.notebooks)
    except ImportError as error:
        raise DatabaseError(f"no driver for {masked(url)}: {error}") from None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        kind = _Unreachable if isinstance(error, OperationalError) else DatabaseError
        raise kind(f"cannot use the gradebook {masked(url)}: {reason}") from None
    finally:
        engine.dispose()
    return f"{masked(url)}: assignment {assignment!r} with {notebooks} notebook(s)"


@dataclass
class GradebookState:
    """What the gradebook knows about one assignment."""

    notebooks: set[str]
    roster: set[str]  # every student of the gradebook
    submissions: dict[str, int]  # student -> number of submissions (nbgrader allows one)
    unsaved: dict[str, int]  # student -> autograded test cells without a score
    test_cells: int  # autograded test cells per submission


def gradebook_state(url: str, assignment: str = ASSIGNMENT) -> GradebookState:
    """One read of the gradebook (three queries, whatever the size of the cohort)."""
    from nbgrader.api import Assignment, Grade, Student, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    engine = _engine(url)
    try:
        with Session(engine) as session:
            source = session.scalars(select(Assignment).where(Assignment.name == assignment)).one()
            # Autograded test cells get a score when nbgrader processes them; manually graded answers
            # (a grade cell that is also a solution cell, or markdown) may legitimately have none.
            tests = set()
            for notebook in source.notebooks:
                answers = {cell.name for cell in notebook.solution_cells}
                tests |= {
                    c.id for c in notebook.grade_cells if c.cell_type == "code" and c.name not in answers
                }
            roster = set(session.scalars(select(Student.id)))
            submissions = dict(
                session.execute(
                    select(SubmittedAssignment.student_id, func.count(SubmittedAssignment.id))
                    .where(SubmittedAssignment.assignment_id == source.id)
                    .group_by(SubmittedAssignment.student_id)
                ).all()
            )
            unsaved = dict.fromkeys(submissions, 0)
            rows = session.execute(
                select(SubmittedAssignment.student_id, Grade.cell_id, Grade.auto_score)
                .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
                .where(SubmittedAssignment.assignment_id == source.id)
            )
            for student, cell, score in rows:
                if cell in tests and score is None:
                    unsaved[student] += 1
            notebooks = {nb.name for nb in source.notebooks}
    finally:
        engine.dispose()
    return GradebookState(notebooks, roster, submissions, unsaved, len(tests))


# ---------------------------------------------------------------------------------------------
# The course folders


def submitted_students(course: Path, assignment: str = ASSIGNMENT) -> list[str]:
    """Sorted ids of the students with a notebook in submitted/<id>/<assignment>/ (what nbgrader's
    `--student='*'` glob finds: hidden folders are not students)."""
    root = course / "submitted"
    if not root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in root.iterdir()
        if not entry.name.startswith(".") and any((entry / assignment).glob("*.ipynb"))
    )


def shard_of(student: str, shards: int) -> int:
    """The shard of a student: a hash of the id alone, the same on every machine and every run."""
    return int.from_bytes(hashlib.sha256(student.encode()).digest()[:8], "big") % shards


def executed(notebook: Path) -> bool | None:
    """True if the notebook has been executed, False if not, None if it is not a readable notebook
    (a write cut off midway)."""
    try:
        with notebook.open(encoding="utf-8") as fh:
            cells = json.load(fh)["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return any(c.get("cell_type") == "code" and c.get("execution_count") is not None for c in cells)


def _timestamp(folder: Path) -> datetime | None:
    from nbgrader.utils import parse_utc

    try:
        return parse_utc((folder / "timestamp.txt").read_text().strip())
    except (OSError, ValueError):
        return None


def missing_reason(course: Path, student: str, state: GradebookState, assignment: str = ASSIGNMENT):
    """None if the student is graded, else why not (see the module docstring)."""
    submitted = course / "submitted" / student / assignment
    autograded = course / "autograded" / student / assignment
    record = intake.Record.load(submitted)
    if record is not None and record.flagged:
        return f"not gradable: {record.reason}"
    if student not in state.submissions:
        return "no submission in the gradebook"
    if state.unsaved.get(student):
        return f"no score for {state.unsaved[student]} of {state.test_cells} test cells in the gradebook"
    for name in sorted(p.stem for p in submitted.glob("*.ipynb") if p.stem in state.notebooks):
        result = executed(autograded / f"{name}.ipynb")
        if result is None:
            if not (autograded / f"{name}.ipynb").exists():
                return f"no autograded {name}.ipynb"
            return f"autograded {name}.ipynb is unreadable (cut off?)"
        if not result:
            return f"autograded {name}.ipynb was never executed (grading interrupted)"
    handed_in, graded = _timestamp(submitted), _timestamp(autograded)
    if handed_in is not None and (graded is None or handed_in > graded):
        return "submitted again after grading"
    return None


def grading_status(
    course: Path, db_url: str, students: Iterable[str], assignment: str = ASSIGNMENT
) -> dict[str, str | None]:
    """student -> None if graded, else the reason it is missing."""
    state = gradebook_state(db_url, assignment)
    return {s: missing_reason(course, s, state, assignment) for s in students}


# ---------------------------------------------------------------------------------------------
# Running shards


def autograde_command(assignment: str, db_url: str, exclude_file: Path) -> list[str]:
    """The module and arguments (for `python -m`) of one shard's `nbgrader autograde`: every
    student but those listed in `exclude_file` (gradekit.autograde_shard), graded afresh, with the
    time on every log line."""
    return [
        "gradekit.autograde_shard",
        str(exclude_file),
        assignment,
        "--student=*",
        "--force",
        f"--db={db_url}",
        f"--NbGrader.log_format={LOG_FORMAT}",
    ]


def masked_command(command: list[str]) -> list[str]:
    """The command with the password of its --db URL hidden."""
    return [f"--db={masked(part[5:])}" if part.startswith("--db=") else part for part in command]


def _nbgrader_env() -> dict[str, str]:
    # nbgrader runs `alembic` by name: this environment's bin/ goes first on PATH.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return dict(os.environ, PATH=path)


def _signal_name(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
    return f"exit code {code}"


@dataclass
class Shard:
    index: int
    shards: int
    students: list[str]  # the students this shard grades in this run
    skipped: list[str]  # the shard's students that were graded already (--only-missing)
    exclude: list[str]
    log: Path
    process: subprocess.Popen | None = None
    attempts: int = 0
    returncodes: list[int] = field(default_factory=list)
    failed_students: list[str] = field(default_factory=list)  # nbgrader reported them failed (log)
    warnings: list[str] = field(default_factory=list)  # log lines a person should read (_WORTH_READING)
    transient_error: bool = False  # did the current attempt fail in a way a rerun can fix?
    _log_position: int = 0
    _log_rest: bytes = b""

    @property
    def name(self) -> str:
        return f"shard {self.index}/{self.shards}"

    @property
    def exclude_file(self) -> Path:
        return self.log.with_suffix(".exclude")

    def command(self, assignment: str, db_url: str) -> list[str]:
        """The shard's command (after `python -m`); writes its exclude file."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        autograde_shard.write_exclude_file(self.exclude_file, self.exclude)
        return autograde_command(assignment, db_url, self.exclude_file)

    def start(self, course: Path, assignment: str, db_url: str) -> None:
        command = self.command(assignment, db_url)
        with self.log.open("a") as fh:
            fh.write(
                f"\n# {datetime.now().isoformat(timespec='seconds')} {socket.gethostname()}"
                f" {self.name}, attempt {self.attempts + 1}, {len(self.students)} students:"
                f" {' '.join(masked_command(command))}\n"
            )
            self._log_position, self._log_rest, self.transient_error = fh.tell(), b"", False
            # Its own process group: a signal for this shard reaches nbgrader and nothing else.
            self.process = subprocess.Popen(
                [sys.executable, "-m", *command],
                cwd=course,
                env=_nbgrader_env(),
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(),  # SIGKILL on this process ends nbgrader too
            )
        self.attempts += 1

    def scan_log(self) -> None:
        """Read what nbgrader logged since the last call: failed students, transient errors."""
        try:
            with self.log.open("rb") as fh:
                fh.seek(self._log_position)
                data = self._log_rest + fh.read()
                self._log_position = fh.tell()
        except OSError:
            return
        *lines, self._log_rest = data.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace")
            failed = _STUDENT_ERROR.search(text)
            if failed:
                self.failed_students.append(Path(failed[1].strip()).parent.name)
            if any(marker in text for marker in _WORTH_READING):
                self.warnings.append(text.split("] ", 1)[-1].strip())
            self.transient_error |= any(marker in text for marker in _TRANSIENT_ERRORS)

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)


class Progress:
    """Students done so far, shown as they finish: a progress bar on a terminal (tqdm: done / total,
    elapsed, estimated time left), a plain line per student otherwise (a CI log, a Slurm output
    file). A student is done once its executed notebook has been written in this run, or once
    nbgrader's log says it failed."""

    def __init__(self, course: Path, assignment: str, shards: list[Shard], stream: IO[str]):
        self.course, self.assignment, self.shards, self.stream = course, assignment, shards, stream
        self.start = time.time()
        self.pending = {s: shard for shard in shards for s in shard.students}
        self.seen: dict[str, tuple[float, int]] = {}  # student -> (mtime, size) already looked at
        self.total = len(self.pending)
        self.done = 0
        self.failed: list[str] = []
        self.bar = None
        if stream.isatty() and self.total:
            from tqdm import tqdm

            # No monitor thread: shards are started from this thread with a pre-exec function.
            tqdm.monitor_interval = 0
            try:  # a terminal that does not know its size (0 x 0) would get no bar at all
                known = min(os.get_terminal_size(stream.fileno())) > 0
            except (OSError, ValueError):
                known = False
            self.bar = tqdm(
                total=self.total,
                unit="student",
                desc="grading",
                file=stream,
                dynamic_ncols=known,
                ncols=None if known else 80,
                nrows=None if known else 24,
            )

    def _graded(self, student: str) -> bool:
        folder = self.course / "autograded" / student / self.assignment
        try:
            notebooks = list(folder.glob("*.ipynb"))
            stats = [p.stat() for p in notebooks]
        except OSError:
            return False
        mtime = max((st.st_mtime for st in stats), default=0.0)
        version = (mtime, sum(st.st_size for st in stats))
        if not notebooks or mtime < self.start - 1 or self.seen.get(student) == version:
            return False
        done = [executed(p) for p in notebooks]
        if None in done:  # being written: nbgrader's last write can keep the same mtime, so look again
            return False
        self.seen[student] = version
        return all(done)

    def update(self) -> None:
        """Count and show the students done since the last call. A stop signal (SIGINT, SIGTERM,
        SIGHUP: KeyboardInterrupt) waits until it is over, so that no student is half counted
        (taken off the pending list but never shown)."""
        stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        try:
            self._update()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _update(self) -> None:
        for shard in self.shards:
            shard.scan_log()
        failed_now = {s for shard in self.shards for s in shard.failed_students} - set(self.failed)
        for student in list(self.pending):
            if student in failed_now:
                self.failed.append(student)
                self._advance(student, "failed")
            elif self._graded(student):
                self._advance(student, "graded")

    def _advance(self, student: str, what: str) -> None:
        del self.pending[student]
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"failed {len(self.failed)}" if self.failed else "", refresh=False)
            self.bar.update(1)
            return
        elapsed = time.time() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(
            f"[{self.done}/{self.total}] {what} {student} ({elapsed:.0f} s elapsed, ~{left:.0f} s left)",
            file=self.stream,
            flush=True,
        )

    def say(self, line: str) -> None:
        """A line between the updates (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class Summary:
    """What one run did, for the instructor: who was graded, who could not be and why, who was
    late, and what the logs warn about that a person should read."""

    shards: list[Shard]
    status: dict[str, str | None]  # every student of the selected shards -> None if graded
    graded: list[str]  # graded in this run
    failed: dict[str, str]  # attempted in this run, still missing, the shard ran to its end -> why
    skipped: list[str]  # graded already (--only-missing)
    seconds: float
    interrupted: bool = False
    not_gradable: dict[str, str] = field(default_factory=dict)  # intake flagged them -> why
    late: dict[str, float] = field(default_factory=dict)  # graded late -> penalty (points)
    notes: int = 0  # intake's notes (renamed notebooks, timestamps read...): `python -m gradekit.intake`
    warnings: list[str] = field(default_factory=list)  # changed locked cells and the like, from the logs
    unclaimed: list[str] = field(default_factory=list)  # LMS files with no student id
    # attempted, still missing, but their shard stopped before it was done with them (interrupted,
    # killed, or still failing on a database or kernel start error after the retries) -> why
    left: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.left and not self.not_gradable and not self.interrupted

    @property
    def exit_code(self) -> int:
        """0: all graded; 1: some students cannot be graded (a rerun fails the same way);
        3: grading incomplete, a rerun with --only-missing may finish it; 130: interrupted."""
        if self.interrupted:
            return 130
        if self.left:
            return 3
        return 1 if self.failed or self.not_gradable else 0

    def report(self) -> str:
        lines = []
        for shard in self.shards:
            bad = [code for code in shard.returncodes if code != 0]
            if bad:
                codes = ", ".join(map(_signal_name, bad))
                lines.append(f"{shard.name}: nbgrader ended with {codes} (log: {shard.log})")
        logs = {student: shard.log for shard in self.shards for student in shard.students}
        for student, reason in sorted(self.not_gradable.items()):
            lines.append(f"not gradable: {student}: {reason}")
        for student, reason in sorted(self.failed.items()):
            lines.append(f"failed: {student}: {reason} (log: {logs[student]})")
        for student, reason in sorted(self.left.items()):
            lines.append(f"left: {student}: {reason}")
        if self.left:
            lines.append(
                f"left: {len(self.left)} students were not graded because grading stopped:"
                " a run with --only-missing grades them (on Slurm: the check job, or submit.sh again)"
            )
        for student, penalty in sorted(self.late.items()):
            lines.append(f"late: {student}: penalty {penalty:g} points")
        lines += [f"warning: {line}" for line in self.warnings]
        lines += [f"unclaimed: {name} (no student id in its name)" for name in self.unclaimed]
        if self.notes:
            lines.append(
                f"intake: {self.notes} notes (renamed notebooks, timestamps): python -m gradekit.intake"
            )
        lines.append(
            f"summary: shards={len(self.shards)} students={len(self.status)} graded={len(self.graded)}"
            f" failed={len(self.failed)} left={len(self.left)} not_gradable={len(self.not_gradable)}"
            f" skipped={len(self.skipped)}"
            f" late={len(self.late)} seconds={self.seconds:.1f}"
        )
        return "\n".join(lines)


def plan(
    course: Path,
    db_url: str,
    shards: int,
    indices: Iterable[int],
    only_missing: bool,
    assignment: str = ASSIGNMENT,
    log_dir: Path | None = None,
    not_gradable: Iterable[str] = (),
) -> list[Shard]:
    """The shards to run: their students (all, or the missing ones, never those intake found
    `not_gradable`) and their exclusion lists."""
    students = submitted_students(course, assignment)
    with_comma = [s for s in students if "," in s or "\n" in s]
    if with_comma:
        raise ValueError(
            "student ids with a comma or a line break cannot be sharded (nbgrader's exclude list):"
            f" {with_comma}"
        )
    state = gradebook_state(db_url, assignment)
    known = set(students) | {s for s in state.roster if "," not in s and "\n" not in s}
    log_dir = log_dir or course / LOG_DIR
    result = []
    for index in indices:
        mine = [s for s in students if shard_of(s, shards) == index]
        if only_missing:
            todo = [s for s in mine if missing_reason(course, s, state, assignment) is not None]
        else:
            todo = mine
        skipped = [s for s in mine if s not in todo]
        todo = [s for s in todo if s not in set(not_gradable)]
        exclude = sorted(known - set(todo))
        log = log_dir / f"shard-{index}-of-{shards}.log"
        result.append(Shard(index, shards, todo, skipped, exclude, log))
    return result


def run(
    course: Path = COURSE_ROOT,
    shards: int = 2,
    shard_index: int | None = None,
    only_missing: bool = False,
    db_url: str | None = None,
    retries: int = 2,
    assignment: str = ASSIGNMENT,
    log_dir: Path | None = None,
    stream: IO[str] = sys.stderr,
) -> Summary:
    """Take in the selected shards' submissions (gradekit.intake), grade them concurrently, and
    report. The gradebook is checked first; nbgrader's own log goes to one file per shard under
    `log_dir` (default <course>/logs/autograde/), the progress and the summary to `stream`.
    Raises DatabaseError (the gradebook cannot be used), ValueError (ids nbgrader cannot
    exclude), FileNotFoundError (no release to take submissions in against)."""
    course = Path(course).resolve()
    db_url = normalized_db_url(db_url or course_db_url(course))
    print(f"gradebook: {check_database(db_url, assignment, retries)}", file=stream, flush=True)
    indices = range(shards) if shard_index is None else [shard_index]
    start = time.time()

    # Intake first, for this run's shards only (other shard jobs take in their own students).
    taken_course = intake.Course.load(course, assignment, db_url)
    mine = [s for s in taken_course.students() if shard_of(s, shards) in indices]
    taken = intake.take_in(taken_course, mine)
    not_gradable = taken.flagged
    notes = sum(len(record.notes) for record in taken.records.values())
    intake_log = (log_dir or course / LOG_DIR) / "intake.log"
    intake_log.parent.mkdir(parents=True, exist_ok=True)
    with intake_log.open("a", encoding="utf-8") as fh:
        fh.write(f"# {datetime.now().isoformat(timespec='seconds')} {len(mine)} students\n")
        fh.writelines(line + "\n" for line in taken.lines())
    print(
        f"intake: {len(mine)} students, {len(not_gradable)} not gradable, {notes} notes (log {intake_log})",
        file=stream,
        flush=True,
    )

    selected = plan(course, db_url, shards, indices, only_missing, assignment, log_dir, not_gradable)
    for shard in selected:
        note = f", {len(shard.skipped)} graded already" if only_missing else ""
        print(f"{shard.name}: {len(shard.students)} to grade{note}, log {shard.log}", file=stream, flush=True)
    running = [shard for shard in selected if shard.students]
    for shard in running:
        shard.start(course, assignment, db_url)
        print(f"{shard.name}: nbgrader pid {shard.process.pid}", file=stream, flush=True)
    progress = Progress(course, assignment, running, stream)
    interrupted = False
    try:
        active = bool(running)
        while active:
            time.sleep(0.5)
            progress.update()
            reap_zombies(keep={shard.process.pid for shard in running})
            active = False
            for shard in running:
                code = shard.process.poll()
                if code is None:
                    active = True
                    continue
                if len(shard.returncodes) == shard.attempts:
                    continue
                shard.returncodes.append(code)
                shard.scan_log()
                if code != 0 and shard.transient_error and shard.attempts <= retries:
                    todo = _still_missing(course, db_url, shard.students, assignment)
                    if todo:
                        progress.say(f"{shard.name}: transient error, retrying {len(todo)} students")
                        time.sleep(2 * shard.attempts)  # a server restarting, a long lock: give it time
                        shard.exclude = sorted(set(shard.exclude) | (set(shard.students) - set(todo)))
                        shard.start(course, assignment, db_url)
                        active = True
    except KeyboardInterrupt:
        interrupted = True
        progress.say(f"interrupted: stopping {len(running)} shard(s)")
        _stop(running)
    for shard in running:  # the last exit codes
        if len(shard.returncodes) < shard.attempts:
            shard.returncodes.append(shard.process.wait())
    # A sandbox whose nbgrader was killed while it started can outlive it (gradekit.lifeline).
    orphans = end_orphans(keep={shard.process.pid for shard in running})
    if orphans:
        progress.say(f"ended {len(orphans)} process(es) left behind by a killed nbgrader: {orphans}")
    progress.update()
    progress.close()

    status = grading_status(course, db_url, mine, assignment)  # every student, notebook or not
    status.update({s: f"not gradable: {reason}" for s, reason in not_gradable.items()})
    attempted = [s for shard in selected for s in shard.students]
    graded = [s for s in attempted if status[s] is None]
    stopped = {  # students of shards that did not run to their end, unless nbgrader failed on them
        s
        for shard in selected
        if interrupted or (shard.returncodes and (shard.returncodes[-1] < 0 or shard.transient_error))
        for s in set(shard.students) - set(shard.failed_students)
    }
    summary = Summary(
        shards=selected,
        status=status,
        graded=graded,
        failed={s: status[s] for s in attempted if status[s] is not None and s not in stopped},
        left={s: status[s] for s in attempted if status[s] is not None and s in stopped},
        skipped=[s for shard in selected for s in shard.skipped],
        seconds=time.time() - start,
        interrupted=interrupted,
        not_gradable=not_gradable,
        late=late_penalties(db_url, assignment, graded),
        notes=notes,
        warnings=[f"{s}: {line}" for s, record in sorted(taken.records.items()) for line in record.attention]
        + [line for shard in selected for line in shard.warnings],
        unclaimed=taken.unclaimed,
    )
    print(summary.report(), file=stream, flush=True)
    return summary


def late_penalties(db_url: str, assignment: str, students: Iterable[str]) -> dict[str, float]:
    """student -> late-submission penalty (points) for those of `students` nbgrader found late."""
    from nbgrader.api import Gradebook

    wanted = set(students)
    with Gradebook(db_url) as gradebook:
        return {
            g.student: g.penalty
            for g in grades.collect(gradebook, assignment)
            if g.student in wanted and g.late
        }


def _still_missing(course: Path, db_url: str, students: list[str], assignment: str) -> list[str]:
    status = grading_status(course, db_url, students, assignment)
    return [s for s in students if status[s] is not None]


def _stop(shards: list[Shard], grace: float = 10.0) -> None:
    """SIGINT first (nbgrader then removes the notebook it was writing), SIGKILL after `grace`."""
    for shard in shards:
        shard.signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for shard in shards:
        with contextlib.suppress(subprocess.TimeoutExpired):
            shard.process.wait(max(0.0, deadline - time.monotonic()))
        shard.signal(signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# Command line


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gradekit.shards", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--course",
        type=Path,
        default=default_course(),
        help="course root (default: here if it has an nbgrader_config.py, else the kit's repository)",
    )
    parser.add_argument("--assignment", default=ASSIGNMENT)
    parser.add_argument("--shards", type=int, default=2, help="number of shards N (default 2)")
    parser.add_argument("--shard-index", type=int, help="run only shard I (0 <= I < N)")
    parser.add_argument("--only-missing", action="store_true", help="grade only the missing students")
    parser.add_argument("--db", help="gradebook URL (default: NBGRADER_DB_URL, else the course config)")
    parser.add_argument(
        "--retries",
        type=int,
        default=2,
        help="tries more to reach the gradebook (2 s, 4 s, ... apart), and reruns of a shard after a"
        " database or kernel start error (default 2)",
    )
    parser.add_argument("--log-dir", type=Path, help=f"shard logs (default: <course>/{LOG_DIR})")
    parser.add_argument("--status", action="store_true", help="print who is graded or missing; grade nothing")
    parser.add_argument("--check-db", action="store_true", help="check that the database can be reached")
    parser.add_argument("--print-command", action="store_true", help="print each shard's nbgrader command")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    if args.shard_index is not None and not 0 <= args.shard_index < args.shards:
        parser.error(f"--shard-index must be in 0..{args.shards - 1}")
    course = args.course.resolve()
    indices = range(args.shards) if args.shard_index is None else [args.shard_index]

    try:
        db_url = normalized_db_url(args.db or course_db_url(course))
        if args.check_db:
            print(check_database(db_url, assignment=None))
            return 0
        if args.print_command:
            check_database(db_url, args.assignment)
            shards = plan(
                course, db_url, args.shards, indices, args.only_missing, args.assignment, args.log_dir
            )
            for shard in shards:
                command = masked_command(shard.command(args.assignment, db_url))
                print(f"# {shard.name}: {len(shard.students)} students")
                print(" ".join(_quote(part) for part in ["python", "-m", *command]))
            return 0
        if args.status:
            check_database(db_url, args.assignment, args.retries)
            # every student as intake sees them: one whose folder holds no notebook (only a .py)
            # is missing, never left out
            everyone = intake.Course.load(course, args.assignment, db_url).students()
            students = [s for s in everyone if shard_of(s, args.shards) in indices]
            status = grading_status(course, db_url, students, args.assignment)
            for student, reason in sorted(status.items()):
                if reason is not None:
                    print(f"missing: {student}: {reason}")
            missing = sum(reason is not None for reason in status.values())
            print(f"status: students={len(status)} graded={len(status) - missing} missing={missing}")
            return 1 if missing else 0
    except (DatabaseError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    adopt_orphans()  # this process ends what its shards leave behind
    try:
        summary = run(
            course,
            shards=args.shards,
            shard_index=args.shard_index,
            only_missing=args.only_missing,
            db_url=db_url,
            retries=args.retries,
            assignment=args.assignment,
            log_dir=args.log_dir,
        )
    except (DatabaseError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before any shard started, or while summing up
        return 130
    return summary.exit_code


def _quote(part: str) -> str:
    import shlex

    return shlex.quote(part)


if __name__ == "__main__":
    sys.exit(main())
