"""Kernels forked warm: the grader's side of gradekit.sandbox.warm.

A cold sandboxed kernel (gradekit.sandbox.kernels) is a new Python in a new bwrap sandbox: about half
a second to import ipykernel and start, and a fifth of a second to shut down, per submission. A
forked kernel gets the same sandbox (the same bwrap command, with `cat` in the kernel's place as its
only process), and a kernel forked into it by the warm parent, a Python that imported ipykernel once
(gradekit.sandbox.warm explains how the fork enters the sandbox). The kernel talks to nbgrader as a
cold one does, over IPC sockets in the sandbox's tmpfs.

- `WarmParent`: one warm parent per grader process and PYTHONHASHSEED value (docs/sandbox.md),
  started on first use with the kernels' own environment, started again if it ends;
- `ForkedKernelManager`: alive while its kernel is (a pidfd), shut down by killing the sandbox;
- `fork_process`: a plain `python -c` process forked the same way (error carried forward's worlds);
- `unavailable_reason`: why kernels cannot be forked here (not root, no pidfd, another kernelspec):
  the kit then starts cold kernels and says why (`Sandbox.fork_kernels = False` asks for them).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import ClassVar

from jupyter_client.asynchronous import AsyncKernelClient

from gradekit.sandbox import warm
from gradekit.sandbox.kernels import SandboxedKernelManager, read_all
from gradekit.sandbox.policy import Sandbox
from gradekit.sandbox.ready import ReadyClient
from gradekit.sandbox.seccomp import seccomp_fd, seccomp_program

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


class ForkedKernel:
    """The Popen-like face of a forked kernel for jupyter_client's provisioner: `pid`, `poll`,
    `wait`, `kill`, `send_signal` act on the kernel through its pidfd; `sandbox` is the bwrap
    process whose end ends everything in the sandbox."""

    def __init__(self, pid: int, pidfd: int, sandbox: subprocess.Popen):
        self.pid, self.pidfd, self.sandbox = pid, pidfd, sandbox
        self.returncode: int | None = None
        self.stdin = None  # a file the process reads as its stdin, if it was given one

    def poll(self) -> int | None:
        if self.returncode is None and self.pidfd >= 0:
            readable, _, _ = select.select([self.pidfd], [], [], 0)
            if readable:
                self.returncode = -signal.SIGKILL  # ended (its exit status is its warm parent's to reap)
        if self.returncode is None and self.sandbox.poll() is not None:
            self.returncode = self.sandbox.returncode
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("forked kernel", timeout)
            select.select([self.pidfd], [], [], 0.05)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self.pidfd, sig)

    def kill(self) -> None:
        """The kernel and its whole sandbox: SIGKILL to the kernel, then bwrap ends (its PID
        namespace, and every process the kernel started in it, with it)."""
        self.send_signal(signal.SIGKILL)
        if self.sandbox.poll() is None:
            self.sandbox.kill()
        self.sandbox.wait()
        if self.pidfd >= 0:  # the kernel gone (the PID namespace's end takes a moment)
            select.select([self.pidfd], [], [], 5)
        out = self.sandbox.stdout
        if out is not None and not out.closed:  # and cat: its end of the pipe closes when it ends
            deadline = time.monotonic() + 5
            while select.select([out], [], [], max(0.0, deadline - time.monotonic()))[0] and out.read1(4096):
                pass
            out.close()
        if self.sandbox.stdin is not None:
            with contextlib.suppress(OSError):
                self.sandbox.stdin.close()
        self.returncode = -signal.SIGKILL if self.returncode is None else self.returncode

    terminate = kill

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


class ForkedKernelManager(SandboxedKernelManager):
    """A SandboxedKernelManager whose kernel is forked by a warm parent into the sandbox bwrap built
    (see the module docstring). Its `extra_fds` go to the kernel, not to bwrap."""

    cold = False  # True once forking failed for this kernel: it starts cold
    _kernel_argv: list[str] | None = None
    _uid: int | None = None
    forked: ForkedKernel | None = None

    def __init__(self, **kw):
        super().__init__(**kw)
        self.client_factory = ReadyClient

    def sandbox_program(self, kernel_cmd: list[str], uid: int | None) -> list[str]:
        if self.cold:
            return kernel_cmd
        self._kernel_argv, self._uid = kernel_cmd, uid
        return [shutil.which("cat") or "cat"]

    def launch_options(self, kw: dict) -> tuple[int, ...]:
        if self.cold:
            return super().launch_options(kw)
        kw["stdin"], kw["stdout"] = subprocess.PIPE, subprocess.PIPE
        return tuple(kw.pop("pass_fds", ()))

    async def _async_start_kernel(self, **kw):
        try:
            await super()._async_start_kernel(**kw)
        except ForkUnavailable as exc:
            self.log.warning("Could not fork a warm kernel (%s): starting a cold kernel", exc)
            await self._async_cleanup_resources()
            self.cold, self.client_factory = True, AsyncKernelClient
            await super()._async_start_kernel(**kw)

    start_kernel = _async_start_kernel

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        if self.cold:
            return
        sandbox = self.provisioner.process
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, wait_until_built, sandbox)
            pid, pidfd = await loop.run_in_executor(None, self._fork, sandbox)
        except BaseException:
            sandbox.kill()
            sandbox.wait()
            raise
        self.forked = ForkedKernel(pid, pidfd, sandbox)
        self.provisioner.process = self.forked
        self.provisioner.pid = pid
        await self._bound()

    async def _bound(self, timeout: float = 60) -> None:
        """Wait until the kernel has bound its five IPC sockets: a client that connects before
        would wait for ZeroMQ's reconnect interval (0.1 s and more) instead."""
        ports = (self.shell_port, self.iopub_port, self.stdin_port, self.control_port, self.hb_port)
        paths = [f"{self.ip}-{port}" for port in ports]
        deadline = time.monotonic() + timeout
        while not all(map(os.path.exists, paths)):
            if self.forked.poll() is not None or time.monotonic() > deadline:
                return  # nbclient finds out (a dead kernel, or no answer)
            await asyncio.sleep(0.002)

    def _fork(self, sandbox: subprocess.Popen) -> tuple[int, int]:
        config = Sandbox(parent=self.parent, config=self.config)
        uid = self._uid if self._uid is not None else config.pick_uid()
        passed = [(fd, fd) for fd in self.extra_fds]
        return fork(config, self.sandbox_pid, self._kernel_argv, self.sandbox_cwd, uid, passed, self.log)

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """Every output of the kernel has been read when nbclient shuts it down: end its sandbox
        now (a cold kernel is asked to shut down and given time)."""
        if self.cold:
            return await super()._async_shutdown_kernel(now=now, restart=restart)
        self.shutting_down = True
        self.stop_restarter()
        if self.forked is not None:
            self.forked.kill()
            self.forked.close()
        await self._async_cleanup_resources(restart=restart)

    shutdown_kernel = _async_shutdown_kernel


def fork_process(
    sandbox: Sandbox, argv: list[str], *, cwd: str, connection_file: str, protected: list[str], fds: dict
) -> ForkedKernel:
    """`argv` ([python, "-c", code, ...], this Python) forked warm into a new sandbox, as
    `sandbox.command(argv, ...)` would start it cold: the world processes of error carried forward
    (gradekit.grading.worlds). `fds`: the file descriptors it gets (number there -> fd here; 0 is
    its stdin). `connection_file`: an empty file bwrap mounts (a world has no connection). Raises
    ForkUnavailable (then start it cold) or SandboxUnavailable."""
    uid = sandbox.pick_uid()
    read_fd, write_fd = os.pipe()
    filter_fd = seccomp_fd()
    try:
        cmd = sandbox.command(
            [shutil.which("cat") or "cat"],
            cwd=cwd,
            connection_file=connection_file,
            protected=protected,
            info_fd=write_fd,
            uid=uid,
            seccomp=filter_fd,
            python=argv[0],
        )
        process = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_fd, filter_fd),
            start_new_session=True,
            env={},
        )
    finally:
        os.close(write_fd)
        os.close(filter_fd)
    try:
        info = read_all(read_fd)
        wait_until_built(process)
        pid, pidfd = fork(sandbox, json.loads(info)["child-pid"], argv, cwd, uid, list(fds.items()))
    except BaseException:
        process.kill()
        process.wait()
        raise
    return ForkedKernel(pid, pidfd, process)


def wait_until_built(sandbox: subprocess.Popen, timeout: float = 30) -> None:
    """Block until bwrap has built the sandbox and `cat` runs in it (it echoes a byte), so that its
    namespaces are complete when the kernel joins them."""
    sandbox.stdin.write(b"\n")
    sandbox.stdin.flush()
    readable, _, _ = select.select([sandbox.stdout], [], [], timeout)
    if not readable or sandbox.stdout.read1(1) != b"\n":
        raise RuntimeError(f"bwrap did not build the sandbox (exit {sandbox.poll()})")


def warm_modules(config: Sandbox) -> tuple[str, ...]:
    """The modules the warm parent imports: the kernel's, the standard ones, and `warm_imports`."""
    return tuple(dict.fromkeys((*KERNEL_MODULES, *STANDARD_MODULES, *config.warm_imports)))


atexit.register(WarmParent.stop_all)
