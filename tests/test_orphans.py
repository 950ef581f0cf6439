"""Orphaned sandboxes: when a grading process dies, even by SIGKILL (which it cannot catch), every
sandboxed kernel it started dies with it within a few seconds.

Two links hold the chain together:
  - nbgrader -> kernel: bubblewrap's `--die-with-parent` (gradekit/sandbox/__init__.py);
  - `python -m gradekit grade` -> nbgrader: nbgrader runs in a session of its own, so only
    `preexec_fn=die_with_parent()` (gradekit/cluster/lifeline.py, PR_SET_PDEATHSIG) ends it.

Each test grades one student whose first solution cell announces itself (a file in the sandbox's own
/tmp, seen from here through /proc/<kernel>/root) and then sleeps for two minutes. Once the kernel is
in that cell, the test records every process below the grading process, kills the grading process
with SIGKILL and asserts that none of them is left (a zombie counts as dead). Whatever survives is
killed in a `finally`, so a failing test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import psutil
import pytest

from gradekit.cluster.lifeline import die_with_parent
from gradekit.course.notebooks import nbgrader_meta
from simulation.course import ASSIGNMENT, SOURCE_NOTEBOOK
from simulation.submissions import fill, reference_answers
from tests.conftest import hand_in

pytestmark = pytest.mark.course

REPO = Path(__file__).resolve().parents[1]
STUDENT = "sleeper"
MARKER = "/tmp/gradekit-long-cell-running"  # in the sandbox's /tmp (a tmpfs of its own)
LONG_CELL = f"open({MARKER!r}, 'w').close()\nimport time\ntime.sleep(120)\n"
START_TIMEOUT = 120.0  # seconds for nbgrader to start the sandboxed kernel and reach the long cell
DEATH_TIMEOUT = 5.0  # seconds every process of the killed grading gets to be gone
POLL = 0.05


@pytest.fixture
def sleeping_course(fresh_course, release_nb) -> Path:
    """A course copy with one submission: the reference answers, but the first solution cell (which
    the autograder executes in the sandboxed kernel) first writes MARKER, then sleeps for 120 s."""
    nb = fill(release_nb, reference_answers(SOURCE_NOTEBOOK))
    cell = next(c for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution"))
    cell.source = LONG_CELL + cell.source
    hand_in(fresh_course, {STUDENT: nb})
    return fresh_course


# ---------------------------------------------------------------------------------------------
# Processes


def argv(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:  # gone, a zombie, or not ours to read
        return []


def is_bwrap(process: psutil.Process) -> bool:
    command = argv(process)
    return bool(command) and os.path.basename(command[0]) == "bwrap"


def is_kernel(process: psutil.Process) -> bool:
    """The kernel itself (bwrap's command line names ipykernel too)."""
    return not is_bwrap(process) and any("ipykernel" in part for part in argv(process))


def alive(process: psutil.Process) -> bool:
    """Running, and still the process that was recorded (not a reused pid); zombies are dead."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def tree(root: psutil.Process) -> set[psutil.Process]:
    """`root` and all its descendants."""
    try:
        return {root, *root.children(recursive=True)}
    except psutil.Error:
        return {root}


def describe(processes: Iterable[psutil.Process]) -> str:
    lines = []
    for p in sorted(processes, key=lambda p: p.pid):
        with contextlib.suppress(psutil.Error):
            lines.append(f"  pid {p.pid} (parent {p.ppid()}, {p.status()}): {' '.join(argv(p))[:160]}")
    return "\n".join(lines)


def in_long_cell(kernel: psutil.Process) -> bool:
    try:
        return os.path.exists(f"/proc/{kernel.pid}/root{MARKER}")
    except OSError:
        return False


def kill_survivors(processes: Iterable[psutil.Process]) -> None:
    """SIGKILL whatever of `processes` (and of their descendants) is still alive; wait until gone."""
    survivors = {p for p in processes if alive(p)}
    for p in list(survivors):
        survivors |= tree(p)
    for p in survivors:
        with contextlib.suppress(psutil.Error):
            p.kill()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in survivors) and time.monotonic() < deadline:
        time.sleep(POLL)


@contextlib.contextmanager
def grading(command: list[str], cwd: Path, log: Path) -> Iterator[tuple[subprocess.Popen, set]]:
    """Start a grading process (in a session of its own, as the kit starts nbgrader) with a cell
    timeout far beyond the long cell; yield it and the set of processes seen below it, which the
    caller keeps up to date. On the way out, everything recorded there is killed, even when the
    test fails."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = dict(os.environ, PATH=path, NBGRADER_CELL_TIMEOUT="300")
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # should pytest itself be killed
        )
    root = psutil.Process(process.pid)
    seen: set[psutil.Process] = {root}
    try:
        yield process, seen
    finally:
        seen |= tree(root)
        kill_survivors(seen)
        process.kill()
        process.wait(timeout=30)


def wait_for_long_cell(process: subprocess.Popen, seen: set, log: Path) -> set[psutil.Process]:
    """Poll (deadline START_TIMEOUT) until a bwrap and a kernel run below `process` and the kernel is
    in the long cell; return the processes below `process` (itself included) at that moment."""
    root = psutil.Process(process.pid)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        now = tree(root)
        seen |= now
        kernels = [p for p in now if is_kernel(p)]
        if any(is_bwrap(p) for p in now) and any(in_long_cell(k) for k in kernels):
            return now
        if process.poll() is not None or time.monotonic() > deadline:
            state = f"exited with {process.returncode}" if process.poll() is not None else "timed out"
            pytest.fail(
                f"no sandboxed kernel in the long cell ({state}); processes:\n{describe(now)}\n"
                f"log:\n{log.read_text()[-4000:]}"
            )
        time.sleep(POLL)


def assert_all_gone(processes: set[psutil.Process], what: str) -> None:
    deadline = time.monotonic() + DEATH_TIMEOUT
    while (left := {p for p in processes if alive(p)}) and time.monotonic() < deadline:
        time.sleep(POLL)
    assert not left, f"{DEATH_TIMEOUT:g} s after {what}, still alive:\n{describe(left)}"


# ---------------------------------------------------------------------------------------------
# Tests


def test_killing_nbgrader_kills_its_sandboxed_kernels(sleeping_course, tmp_path):
    """nbgrader killed by SIGKILL while a student's sandboxed kernel runs a long cell: the kernel,
    its bwrap processes and anything else nbgrader started are gone within DEATH_TIMEOUT
    (bubblewrap's --die-with-parent; nothing of nbgrader's own cleanup can run)."""
    command = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, f"--student={STUDENT}", "--force"]
    log = tmp_path / "nbgrader.log"
    with grading(command, sleeping_course, log) as (nbgrader, seen):
        victims = wait_for_long_cell(nbgrader, seen, log)
        assert {p for p in victims if is_kernel(p)}, describe(victims)
        os.kill(nbgrader.pid, signal.SIGKILL)
        assert_all_gone(victims, "SIGKILL on nbgrader")


def test_killing_the_shard_runner_kills_nbgrader_and_its_kernels(sleeping_course, tmp_path):
    """`python -m gradekit grade` killed by SIGKILL (no handler runs, nothing signals its
    shards) while a shard's sandboxed kernel runs a long cell: the shard's nbgrader, although in a
    session of its own, and its kernel and bwrap processes are gone within DEATH_TIMEOUT
    (PR_SET_PDEATHSIG from gradekit.cluster.lifeline, then bubblewrap's --die-with-parent)."""
    command = [
        sys.executable,
        "-m",
        "gradekit",
        "grade",
        "--shards",
        "1",
        "--course",
        str(sleeping_course),
    ]
    log = tmp_path / "shards.log"
    with grading(command, REPO, log) as (runner, seen):
        victims = wait_for_long_cell(runner, seen, log)
        # the shard's nbgrader: its autograde app, started as gradekit.cluster.autograde_shard
        nbgraders = [p for p in victims if "gradekit.cluster.autograde_shard" in argv(p)]
        assert len(nbgraders) == 1, describe(victims)
        # The hard case: nothing sent to the runner's session or process group reaches nbgrader.
        assert os.getsid(nbgraders[0].pid) == nbgraders[0].pid != os.getsid(runner.pid)
        assert {p for p in victims if is_kernel(p)}, describe(victims)
        os.kill(runner.pid, signal.SIGKILL)
        assert_all_gone(victims, "SIGKILL on the shard runner")


ADOPTER = """
import subprocess, time
from gradekit.cluster.lifeline import adopt_orphans, children, end_orphans
assert adopt_orphans()
# a child that starts a grandchild and ends at once, as nbgrader killed while its bwrap starts
middle = subprocess.Popen(["sh", "-c", "sleep 300 & echo $!"], stdout=subprocess.PIPE, text=True)
grandchild = int(middle.stdout.readline())
print(grandchild, flush=True)
middle.wait()
deadline = time.monotonic() + 5
while grandchild not in children() and time.monotonic() < deadline:
    time.sleep(0.01)
print("adopted", grandchild in children(), flush=True)
print("ended", end_orphans(keep=set()), flush=True)
"""


def test_the_shard_runner_ends_what_a_killed_child_left_behind():
    """A process whose parent died before it armed PR_SET_PDEATHSIG (a bwrap still starting when
    Slurm signals every process of a cancelled job) is adopted by the grading process that
    called adopt_orphans (`python -m gradekit grade` does), not by init, and end_orphans ends it."""
    result = subprocess.run(
        [sys.executable, "-c", ADOPTER],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=die_with_parent(),
    )
    lines = result.stdout.splitlines()
    grandchild = int(lines[0]) if lines and lines[0].isdigit() else None
    try:
        assert result.returncode == 0, result.stderr
        assert lines[1:] == ["adopted True", f"ended [{grandchild}]"], result.stdout
        assert not psutil.pid_exists(grandchild), "the orphan still runs"
    finally:
        if grandchild is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(grandchild, signal.SIGKILL)


ENDED_ON_ITS_OWN = """
import subprocess, time
from gradekit.cluster.lifeline import adopt_orphans, children, end_orphans, state
assert adopt_orphans()
# a grandchild that ends on its own after its parent did: adopted, then a zombie until reaped (as
# the processes a sandbox starts and ends in an ordinary run)
middle = subprocess.Popen(["sh", "-c", "sleep 0.3 & echo $!"], stdout=subprocess.PIPE, text=True)
grandchild = int(middle.stdout.readline())
middle.wait()
deadline = time.monotonic() + 5
while state(grandchild) != "Z" and time.monotonic() < deadline:
    time.sleep(0.01)
print("zombie", state(grandchild) == "Z", grandchild in children(), flush=True)
print("ended", end_orphans(keep=set()), flush=True)
print("reaped", state(grandchild) is None, flush=True)
"""


def test_a_descendant_that_ended_on_its_own_is_reaped_and_not_called_left_behind():
    """The runner's "left behind" line is for processes that really outlived their grader: an
    adopted descendant that has already ended (a zombie) is reaped without a word (the ordinary
    runs of four shards had said "ended 58 process(es) left behind" with nothing wrong)."""
    result = subprocess.run(
        [sys.executable, "-c", ENDED_ON_ITS_OWN],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=die_with_parent(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["zombie True True", "ended []", "reaped True"], result.stdout
