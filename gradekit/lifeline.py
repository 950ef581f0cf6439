"""Child processes that die with the process that started them, even when it is killed by SIGKILL.

A grading process (`python -m gradekit.shards`, `./kit demo`) starts nbgrader in a session of its
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

import ctypes
import os
import signal
import sys

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
