"""One shard: a set of students graded by ONE `nbgrader autograde` process.

A student (a folder `submitted/<id>/<assignment>/`) belongs to shard `sha256(id) mod N`. That
depends on the id alone, not on who else submitted or what is graded already, so independent shard
jobs (one per machine, started at different times) agree on it.

nbgrader 0.9.6's `--student` is a file glob (`glob.glob` on `submitted/<student>/<assignment>`),
which cannot name an arbitrary set of ids, but nbgrader also has
`CourseDirectory.student_id_exclude`, a comma-separated list of ids to leave out. A shard is
therefore `--student='*'` minus every other student: every other submitted student and every
student of the gradebook's roster. The list goes to nbgrader in a file next to the shard's log
(`shard-<i>-of-<n>.exclude`, read by gradekit.cluster.autograde_shard): for a big course it is longer
than one command-line argument may be. Student ids with a comma or a line break cannot be excluded
and are refused. `Shard.start` starts the shard's nbgrader; `Shard.scan_log` reads what it logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gradekit.cluster import autograde_shard
from gradekit.cluster.lifeline import die_with_parent
from gradekit.course.gradebook import masked
from gradekit.grading.sanitize import CHANGED_LOCKED_CELL, DELETED_TEST_CELL

LOG_DIR = Path("logs") / "autograde"  # relative to the course root
LOG_FORMAT = "%(asctime)s.%(msecs)03d [%(name)s | %(levelname)s] %(message)s"  # nbgrader's, timed
# What nbgrader 0.9.6 logs when a student fails, and for failures that a rerun can fix: a database
# error (nbgrader then stops the whole run) or a kernel that died before running anything.
STUDENT_ERROR = re.compile(r"There was an error processing assignment: (.+)$")  # submitted/<id>/<a>
# Warnings a person should read, among nbgrader's INFO lines: the sanitizer's (gradekit.grading.sanitize)
# words for a student who changed or deleted a locked cell, or changed a cell's nbgrader metadata.
WORTH_READING = (
    CHANGED_LOCKED_CELL,
    DELETED_TEST_CELL,
    "nbgrader flags were changed",
    "is not a cell of this assignment",
)
TRANSIENT_ERRORS = (
    "database is locked",
    "There was an error accessing the nbgrader database",
    "Kernel died before replying to kernel_info",
    "Address already in use",
)


def shard_of(student: str, shards: int) -> int:
    """The shard of a student: a hash of the id alone, the same on every machine and every run."""
    return int.from_bytes(hashlib.sha256(student.encode()).digest()[:8], "big") % shards


def autograde_command(assignment: str, db_url: str, exclude_file: Path) -> list[str]:
    """The module and arguments (for `python -m`) of one shard's `nbgrader autograde`: every
    student but those listed in `exclude_file` (gradekit.cluster.autograde_shard), graded afresh, with the
    time on every log line."""
    return [
        "gradekit.cluster.autograde_shard",
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


def nbgrader_env() -> dict[str, str]:
    """This environment for nbgrader: it runs `alembic` by name, so this environment's bin/ goes
    first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return dict(os.environ, PATH=path)


def signal_name(code: int) -> str:
    """How a process ended, in words: a signal's name, or its exit code."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
    return f"exit code {code}"


@dataclass
class Shard:
    """Shard `index` of `shards`: its students, its exclusion list, its log and its process."""

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
    warnings: list[str] = field(default_factory=list)  # log lines a person should read (WORTH_READING)
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
                env=nbgrader_env(),
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
            failed = STUDENT_ERROR.search(text)
            if failed:
                self.failed_students.append(Path(failed[1].strip()).parent.name)
            if any(marker in text for marker in WORTH_READING):
                self.warnings.append(text.split("] ", 1)[-1].strip())
            self.transient_error |= any(marker in text for marker in TRANSIENT_ERRORS)

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)
