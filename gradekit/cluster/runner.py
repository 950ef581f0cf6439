"""A grading run: intake, the run's shards started, watched and rerun, then the summary.

    python -m gradekit grade --shards 4                  # grade everyone, 4 processes here
    python -m gradekit grade --shards 4 --only-missing   # grade only what is missing (cluster/status.py)
    python -m gradekit grade --shard-index 2 --shards 8  # one shard (a Slurm array task, ...)
    python -m gradekit status                            # who is graded, who is missing (exit 1 if any)
    python -m gradekit check-db                          # can the gradebook be reached?

Intake. Before grading, every student of the run's shards is taken in (gradekit.intake: renamed
notebooks, encodings, timestamps); a student who cannot be graded is *not gradable*: registered
with a submission that has no score, left out of nbgrader's run, and listed with the reason.

Progress and logs. On a terminal a tqdm progress bar counts students done / total with the elapsed
time and an estimate; otherwise (a CI log, a Slurm output file) one line per student. nbgrader's
own log goes to one file per shard, intake's to intake.log, under logs/autograde/. The summary at
the end lists the not gradable (with reasons), the failed, the late (with the penalty), warnings a
person should read (a student who changed a locked cell), unclaimed LMS files, and the counts.

`--only-missing` grades exactly the missing students (gradekit.cluster.status), with `--force` so
that nbgrader replaces their partial folders. Without it, every student of the shard is graded
afresh (`--force`). A student that cannot be graded stays missing, is reported (not gradable, or
failed), and keeps one submission in the gradebook without a score until it is fixed.

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

import contextlib
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO

from gradekit import intake
from gradekit.cluster.lifeline import adopt_orphans, end_orphans, reap_zombies
from gradekit.cluster.progress import Progress
from gradekit.cluster.shard import LOG_DIR, Shard, masked_command, shard_of
from gradekit.cluster.status import grading_status, missing_reason
from gradekit.cluster.summary import Summary
from gradekit.course import Course
from gradekit.course.gradebook import DatabaseError, check_database, gradebook_state
from gradekit.course.notebooks import COURSE_ROOT
from gradekit.export import grades


def plan(
    course: Path,
    db_url: str,
    shards: int,
    indices: Iterable[int],
    only_missing: bool,
    assignment: str,
    log_dir: Path | None = None,
    not_gradable: Iterable[str] = (),
) -> list[Shard]:
    """The shards to run: their students (all, or the missing ones, never those intake found
    `not_gradable`) and their exclusion lists. Raises ValueError for ids nbgrader cannot exclude."""
    students = Course.load(course, assignment, db_url).students()
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
    assignment: str | None = None,
    log_dir: Path | None = None,
    stream: IO[str] = sys.stderr,
) -> Summary:
    """Take in the selected shards' submissions (gradekit.intake), grade them concurrently, and
    report. The gradebook is checked first; nbgrader's own log goes to one file per shard under
    `log_dir` (default <course>/logs/autograde/), the progress and the summary to `stream`.
    Raises DatabaseError (the gradebook cannot be used), ValueError (ids nbgrader cannot
    exclude), FileNotFoundError (no release to take submissions in against). `assignment`
    defaults to the one assignment of the course's source/."""
    course = Path(course).resolve()
    taken_course = Course.load(course, assignment, db_url)
    assignment, db_url = taken_course.assignment, taken_course.db_url
    print(f"gradebook: {check_database(db_url, assignment, retries)}", file=stream, flush=True)
    indices = range(shards) if shard_index is None else [shard_index]
    start = time.time()
    mine = [s for s in taken_course.students() if shard_of(s, shards) in indices]
    taken = take_in(taken_course, mine, log_dir or course / LOG_DIR, stream)
    selected = plan(course, db_url, shards, indices, only_missing, assignment, log_dir, taken.flagged)
    running = launch(selected, course, assignment, db_url, only_missing, stream)
    progress = Progress(course, assignment, running, stream)
    interrupted = watch(running, progress, course, assignment, db_url, retries)
    # A sandbox whose nbgrader was killed while it started can outlive it (gradekit.cluster.lifeline).
    orphans = end_orphans(keep={shard.process.pid for shard in running})
    if orphans:
        progress.say(f"ended {len(orphans)} process(es) left behind by a killed nbgrader: {orphans}")
    progress.update()
    progress.close()
    summary = summarize(course, db_url, assignment, mine, selected, taken, interrupted, time.time() - start)
    print(summary.report(), file=stream, flush=True)
    return summary


def take_in(course: Course, students: list[str], log_dir: Path, stream: IO[str]) -> intake.Intake:
    """Intake of this run's students only (other shard jobs take in their own), logged to
    `log_dir`/intake.log."""
    taken = intake.take_in(course, students)
    notes = sum(len(record.notes) for record in taken.records.values())
    intake_log = log_dir / "intake.log"
    intake_log.parent.mkdir(parents=True, exist_ok=True)
    with intake_log.open("a", encoding="utf-8") as fh:
        fh.write(f"# {datetime.now().isoformat(timespec='seconds')} {len(students)} students\n")
        fh.writelines(line + "\n" for line in taken.lines())
    print(
        f"intake: {len(students)} students, {len(taken.flagged)} not gradable, {notes} notes"
        f" (log {intake_log})",
        file=stream,
        flush=True,
    )
    return taken


def launch(selected: list[Shard], course: Path, assignment: str, db_url: str, only_missing: bool, stream):
    """Start every selected shard that has students to grade; the started ones."""
    for shard in selected:
        note = f", {len(shard.skipped)} graded already" if only_missing else ""
        print(f"{shard.name}: {len(shard.students)} to grade{note}, log {shard.log}", file=stream, flush=True)
    running = [shard for shard in selected if shard.students]
    for shard in running:
        shard.start(course, assignment, db_url)
        print(f"{shard.name}: nbgrader pid {shard.process.pid}", file=stream, flush=True)
    return running


def watch(running: list[Shard], progress: Progress, course: Path, assignment: str, db_url: str, retries: int):
    """Until every shard has ended: show the progress, reap what ended, rerun a shard that stopped
    on a transient error (for its missing students, up to `retries` times). True if interrupted
    (the shards are then stopped)."""
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
                elif len(shard.returncodes) < shard.attempts:
                    shard.returncodes.append(code)
                    shard.scan_log()
                    active |= rerun(shard, progress, course, assignment, db_url, retries)
    except KeyboardInterrupt:
        progress.say(f"interrupted: stopping {len(running)} shard(s)")
        stop(running)
        interrupted = True
    else:
        interrupted = False
    for shard in running:  # the last exit codes
        if len(shard.returncodes) < shard.attempts:
            shard.returncodes.append(shard.process.wait())
    return interrupted


def rerun(shard: Shard, progress: Progress, course: Path, assignment: str, db_url: str, retries: int) -> bool:
    """Start `shard` again for its missing students if it ended on a transient error and may still
    be retried; True if it was started."""
    if shard.returncodes[-1] == 0 or not shard.transient_error or shard.attempts > retries:
        return False
    status = grading_status(course, db_url, shard.students, assignment)
    todo = [s for s in shard.students if status[s] is not None]
    if not todo:
        return False
    progress.say(f"{shard.name}: transient error, retrying {len(todo)} students")
    time.sleep(2 * shard.attempts)  # a server restarting, a long lock: give it time
    shard.exclude = sorted(set(shard.exclude) | (set(shard.students) - set(todo)))
    shard.start(course, assignment, db_url)
    return True


def summarize(
    course, db_url, assignment, mine, selected, taken, interrupted: bool, seconds: float
) -> Summary:
    """The run's Summary: every student of the selected shards, graded or why not."""
    status = grading_status(course, db_url, mine, assignment)  # every student, notebook or not
    status.update({s: f"not gradable: {reason}" for s, reason in taken.flagged.items()})
    attempted = [s for shard in selected for s in shard.students]
    graded = [s for s in attempted if status[s] is None]
    stopped = {  # students of shards that did not run to their end, unless nbgrader failed on them
        s
        for shard in selected
        if interrupted or (shard.returncodes and (shard.returncodes[-1] < 0 or shard.transient_error))
        for s in set(shard.students) - set(shard.failed_students)
    }
    return Summary(
        shards=selected,
        status=status,
        graded=graded,
        failed={s: status[s] for s in attempted if status[s] is not None and s not in stopped},
        left={s: status[s] for s in attempted if status[s] is not None and s in stopped},
        skipped=[s for shard in selected for s in shard.skipped],
        seconds=seconds,
        interrupted=interrupted,
        not_gradable=taken.flagged,
        late=late_penalties(db_url, assignment, graded),
        notes=sum(len(record.notes) for record in taken.records.values()),
        warnings=[f"{s}: {line}" for s, record in sorted(taken.records.items()) for line in record.attention]
        + [line for shard in selected for line in shard.warnings],
        unclaimed=taken.unclaimed,
    )


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


def stop(shards: list[Shard], grace: float = 10.0) -> None:
    """SIGINT first (nbgrader then removes the notebook it was writing), SIGKILL after `grace`."""
    for shard in shards:
        shard.signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for shard in shards:
        with contextlib.suppress(subprocess.TimeoutExpired):
            shard.process.wait(max(0.0, deadline - time.monotonic()))
        shard.signal(signal.SIGKILL)


# -- The commands (gradekit.cli) -----------------------------------------------------------------


def grade_command(args) -> int:
    """`python -m gradekit grade`: a grading run; its exit code (see the module docstring)."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    adopt_orphans()  # this process ends what its shards leave behind
    try:
        summary = run(
            args.course.resolve(),
            shards=args.shards,
            shard_index=args.shard_index,
            only_missing=args.only_missing,
            db_url=args.db,
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


def status_command(args) -> int:
    """`python -m gradekit status`: who of the selected shards is graded, who is missing and why."""
    course = Course.load(args.course, args.assignment, args.db)
    check_database(course.db_url, args.assignment, args.retries)
    indices = range(args.shards) if args.shard_index is None else [args.shard_index]
    # every student as intake sees them: one whose folder holds no notebook (only a .py) is
    # missing, never left out
    students = [s for s in course.students() if shard_of(s, args.shards) in indices]
    status = grading_status(course.root, course.db_url, students, args.assignment)
    for student, reason in sorted(status.items()):
        if reason is not None:
            print(f"missing: {student}: {reason}")
    missing = sum(reason is not None for reason in status.values())
    print(f"status: students={len(status)} graded={len(status) - missing} missing={missing}")
    return 1 if missing else 0


def check_db_command(args) -> int:
    """`python -m gradekit check-db`: can the gradebook be reached? (before generating)"""
    print(check_database(Course.load(args.course, args.assignment, args.db).db_url, assignment=None))
    return 0


def print_command(args) -> int:
    """`python -m gradekit print-command`: each selected shard's nbgrader command (its exclusion
    files are written, as for a run)."""
    course = Course.load(args.course, args.assignment, args.db)
    check_database(course.db_url, args.assignment)
    indices = range(args.shards) if args.shard_index is None else [args.shard_index]
    shards = plan(
        course.root, course.db_url, args.shards, indices, args.only_missing, args.assignment, args.log_dir
    )
    for shard in shards:
        command = masked_command(shard.command(args.assignment, course.db_url))
        print(f"# {shard.name}: {len(shard.students)} students")
        print(" ".join(shlex.quote(part) for part in ["python", "-m", *command]))
    return 0
