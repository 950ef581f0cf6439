"""The warm parent, from the grader's side: the process kernels are forked from (gradekit.sandbox.warm),
started, asked and stopped here.

- `WarmParent`: one warm parent per grader process and PYTHONHASHSEED value (docs/sandbox.md),
  started on first use with the kernels' own environment, started again if it ends, ended before
  the grader process is;
- `fork`: the one request to fork a process into a sandbox bwrap built (a kernel, or a world of
  error carried forward: gradekit.sandbox.forked);
- `unavailable_reason`: why kernels cannot be forked here (not root, no pidfd, another kernelspec):
  the kit then starts cold kernels and says why (`Sandbox.fork_kernels = False` asks for them);
- `warm_modules`: what the warm parent imports.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import ClassVar

from gradekit.sandbox import warm
from gradekit.sandbox.policy import Sandbox
from gradekit.sandbox.seccomp import seccomp_program

# What the warm parent imports besides what a kernel's start imports (gradekit.sandbox.warm
# rehearses one): the kernel's own modules and the standard modules the channel's server and the
# checks framework use. A course's own go in c.Sandbox.warm_imports.
KERNEL_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.comm",
    "ipykernel.eventloops",
    "IPython.core.interactiveshell",
    "IPython.core.completer",
    "IPython.core.magics",
    "jupyter_client.session",
)
STANDARD_MODULES = ("json", "socket", "struct", "inspect", "types", "traceback", "gc")
LOG = logging.getLogger(__name__)
START_TIMEOUT = 60  # seconds for a warm parent to import and say it is ready
STOP_GRACE = 5.0  # seconds for a warm parent to end once its socket is closed, before a kill


class ForkUnavailable(RuntimeError):
    """Kernels cannot be forked here (the reason is the message); cold kernels can."""


def unavailable_reason(kernel_cmd: list[str] | None = None) -> str | None:
    """None if kernels can be forked here (for `kernel_cmd`, a kernelspec's argv, if given); else why
    not, in words for the instructor's log."""
    if os.geteuid() != 0:
        return "forking into a sandbox joins its namespaces and drops to its uid, which needs root"
    if not hasattr(os, "pidfd_open"):
        return "this Python has no os.pidfd_open (Linux 5.3 or later)"
    if shutil.which("cat") is None:
        return "cat (coreutils) is not installed"
    if kernel_cmd is not None and (
        not is_this_python(kernel_cmd[0]) or kernel_cmd[1:3] != ["-m", "ipykernel_launcher"]
    ):
        return (
            f"the kernelspec runs {' '.join(kernel_cmd[:3])}, not this Python's ipykernel "
            f"({sys.executable} -m ipykernel_launcher)"
        )
    return None


def is_this_python(python: str) -> bool:
    """Whether `python` (a name on PATH or a path) is the Python the warm parent runs (this one)."""
    return os.path.realpath(shutil.which(python) or python) == os.path.realpath(sys.executable)


def fork(
    sandbox: Sandbox,
    sandbox_pid: int,
    argv: list[str],
    cwd: str,
    uid: int,
    fds: list[int],
    log: logging.Logger = LOG,
):
    """Fork `argv` into the sandbox whose first process is `sandbox_pid`, as `uid`, with the
    sandbox's environment, limits and seccomp filter, passing `fds` under their numbers: (pid,
    pidfd). The one request of both ForkedKernelManager and fork_process (gradekit.sandbox.warm).
    What a newly started warm parent could not import goes to `log`, once, as warnings."""
    env = {**sandbox.environment(argv[0]), "PWD": cwd}  # bwrap --chdir sets PWD
    request = {
        "sandbox_pid": sandbox_pid,
        "argv": [shutil.which(argv[0], path=env["PATH"]) or argv[0], *argv[1:]],
        "cwd": cwd,
        "env": env,
        "uid": uid,
        "limits": sandbox.limit_values(),
        "seccomp": seccomp_program().hex(),
        "fds": [wanted for wanted, _ in fds],
    }
    parent = WarmParent.for_env(env, warm_modules(sandbox))
    forked = parent.fork(request, [fd for _, fd in fds])
    for problem in parent.take_problems():
        log.warning("The warm parent of forked kernels: %s (kernels start slower)", problem)
    return forked


class WarmParent:
    """One warm parent process (gradekit.sandbox.warm) and the socket to it. Thread-safe. The
    warm parents end before the grader process does (`stop_all`, at exit): a warm parent left to
    end on its own, once its socket closes, would outlive its grader, and a sharded run would
    count it among the processes a killed nbgrader left behind (gradekit.cluster.lifeline)."""

    _parents: ClassVar[dict[str, WarmParent]] = {}
    _lock = threading.Lock()

    def __init__(self, env: dict[str, str], modules: tuple[str, ...]):
        self.env, self.modules = env, modules
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self.lock = threading.Lock()
        self.started_in = 0.0  # seconds the last start took
        self.hello: dict = {}  # what it said once ready (gradekit.sandbox.warm.main)
        self._problems: list[str] = []  # what it could not import, not yet logged

    @classmethod
    def for_env(cls, env: dict[str, str], modules: tuple[str, ...]) -> WarmParent:
        """The warm parent for kernels of environment `env`: one per PYTHONHASHSEED value."""
        key = env.get("PYTHONHASHSEED", "<random>")
        with cls._lock:
            parent = cls._parents.get(key)
            if parent is None or parent.modules != modules:
                parent = cls._parents[key] = cls(env, modules)
            return parent

    def start(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        began = time.perf_counter()
        try:
            self.process = subprocess.Popen(
                [sys.executable, warm.__file__, str(theirs.fileno()), *self.modules],
                pass_fds=(theirs.fileno(),),
                env=self.env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            theirs.close()
        mine.settimeout(START_TIMEOUT)
        try:
            hello = json.loads(mine.recv(1 << 20) or b"{}")
        except (TimeoutError, ValueError) as exc:
            self.stop()
            raise ForkUnavailable(f"the warm parent did not start ({exc!r})") from None
        if not hello.get("ready"):
            self.stop()
            raise ForkUnavailable(f"the warm parent did not start (exit {self.process.poll()})")
        mine.settimeout(None)
        self.sock, self.started_in, self.hello = mine, time.perf_counter() - began, hello
        self._problems = list(hello.get("problems", []))
        if hello.get("left_out"):
            left_out = hello["left_out"]
            self._problems.append(
                f"{len(left_out)} module(s) a kernel's start imports could not be imported: {left_out[:5]}"
            )

    def take_problems(self) -> list[str]:
        """What the last start could not import (each said once): the kernels then import it."""
        with self.lock:
            problems, self._problems = self._problems, []
        return problems

    def stop(self, grace: float = 0.0) -> None:
        """Close the socket (the warm parent's cue to end), give it `grace` seconds to, kill it if
        it still runs, and reap it."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None

    @classmethod
    def stop_all(cls, grace: float = STOP_GRACE) -> None:
        """Stop every warm parent of this process (registered with atexit)."""
        with cls._lock:
            parents, cls._parents = list(cls._parents.values()), {}
        for parent in parents:
            with parent.lock:
                parent.stop(grace)

    def fork(self, request: dict, fds: list[int]) -> tuple[int, int]:
        """Fork a kernel for `request` (see gradekit.sandbox.warm), passing `fds`: (its pid, a
        pidfd of it). Raises ForkUnavailable when the warm parent cannot, with its reason."""
        with self.lock:
            for _attempt in range(2):
                if self.process is None or self.process.poll() is not None:
                    self.stop()
                    self.start()
                try:
                    socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
                    message, got, _, _ = socket.recv_fds(self.sock, 1 << 20, 1)
                except OSError:
                    message, got = b"", []
                if message:
                    break
                self.stop()  # it ended: start another once
            else:
                raise ForkUnavailable("the warm parent ended while forking a kernel")
        reply = json.loads(message)
        if "error" in reply or not got:
            for fd in got:
                os.close(fd)
            raise ForkUnavailable(reply.get("error", "no pidfd in the reply"))
        return reply["pid"], got[0]


def warm_modules(config: Sandbox) -> tuple[str, ...]:
    """The modules the warm parent imports: the kernel's, the standard ones, and `warm_imports`."""
    return tuple(dict.fromkeys((*KERNEL_MODULES, *STANDARD_MODULES, *config.warm_imports)))


atexit.register(WarmParent.stop_all)
