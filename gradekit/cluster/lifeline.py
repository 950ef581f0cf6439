"""Child processes that die with the process that started them, even when it is killed by SIGKILL.

A grading process (`python -m gradekit grade`, `./kit demo`) starts nbgrader in a session of its
own, so that a signal for one shard reaches that shard only; nbgrader starts each sandboxed kernel
with bubblewrap's `--die-with-parent`. Without more, SIGKILL on the grading process leaves its
nbgrader processes (and their kernels) running with nobody to read what they do. `die_with_parent`
is a `preexec_fn` for `subprocess.Popen` that asks Linux to send the child SIGKILL when its parent
dies (`prctl(PR_SET_PDEATHSIG)`, prctl(2)); bubblewrap's own `--die-with-parent` then ends the
kernels. On other systems it does nothing.

prctl(2): the signal is sent when the *thread* that started the child ends, so start children
from the main thread (as the kit does).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent():
    """A `preexec_fn` for `subprocess.Popen`: in the child, between fork and exec, it arranges
    SIGKILL on the death of this (the calling) process; if this process is already gone by then,
    the child exits at once. Use: `Popen(argv, preexec_fn=die_with_parent())`."""
    parent = os.getpid()
    # libc is looked up here, in the parent: between fork and exec the child should do as little as
    # possible (dlopen takes the loader's lock, which another thread may have held at the fork).
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

    def arrange() -> None:
        if prctl is None:
            return
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return  # not fatal: the child merely outlives a killed parent, as before
        if os.getppid() != parent:
            os._exit(1)

    return arrange


# Orphans. PR_SET_PDEATHSIG covers a child that exists when its parent dies. A sandbox whose bwrap
# is still starting when nbgrader is killed (a Slurm job cancelled or requeued signals every
# process of the job at once) can miss it and live on, adopted by init. A grading process that
# adopts its descendants' orphans (PR_SET_CHILD_SUBREAPER) gets them instead, and ends them.

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>, Linux 3.4
_adopting = False


def adopt_orphans() -> bool:
    """Make this process the parent of any of its descendants whose own parent dies (instead of
    init), so that `end_orphans` can find them (prctl(2), PR_SET_CHILD_SUBREAPER). For a command
    line's main process only: it changes what happens to every descendant. Returns False where
    Linux does not offer it."""
    global _adopting
    if not sys.platform.startswith("linux"):
        return False
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    _adopting = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _adopting


def children(pid: int | None = None) -> list[int]:
    """The pids of the processes whose parent is `pid` (default: this process), from /proc."""
    pid = os.getpid() if pid is None else pid
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue  # ended meanwhile
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")"
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def state(pid: int) -> str | None:
    """The state letter of process `pid` in /proc ("R", "S", "Z" for a zombie...), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0].decode() if fields else None


def reap_zombies(keep: set[int]) -> int:
    """After `adopt_orphans`: collect the exit status of every adopted child that has already
    ended (a zombie), other than those in `keep`. An adopted descendant that ends on its own is no
    leftover: it only waits to be reaped. Returns how many were reaped."""
    if not _adopting:
        return 0
    reaped = 0
    for pid in children():
        if pid not in keep and state(pid) == "Z":
            with contextlib.suppress(ChildProcessError):
                reaped += os.waitpid(pid, os.WNOHANG)[0] == pid
    return reaped


def end_orphans(keep: set[int], timeout: float = 5.0) -> list[int]:
    """After `adopt_orphans`: SIGKILL every child of this process that is not in `keep` (the
    children it started itself) and still runs, and reap it; adopted children that have ended
    already are reaped without a word (`reap_zombies`). Returns the pids of those that still ran:
    the processes that really outlived their grader (none if not adopting)."""
    if not _adopting:
        return []
    reap_zombies(keep)
    orphans = [pid for pid in children() if pid not in keep and state(pid) not in (None, "Z")]
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    for pid in orphans:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.01)
    return orphans
