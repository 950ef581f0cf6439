"""Kernels forked warm: the grader's side of gradekit.sandbox.warm.

A cold sandboxed kernel (gradekit.sandbox.kernels) is a new Python in a new bwrap sandbox: about half
a second to import ipykernel and start, and a fifth of a second to shut down, per submission. A
forked kernel gets the same sandbox (the same bwrap command, with `cat` in the kernel's place as its
only process), and a kernel forked into it by the warm parent, a Python that imported ipykernel once
(gradekit.sandbox.warm explains how the fork enters the sandbox). The kernel talks to nbgrader as a
cold one does, over IPC sockets in the sandbox's tmpfs.

The warm parent itself is gradekit.sandbox.warm_parent's (`WarmParent`, the `fork` request).

- `ForkedKernelManager`: alive while its kernel is (a pidfd), shut down by killing the sandbox;
- `fork_process`: a plain `python -c` process forked the same way (error carried forward's worlds);
- `ForkedKernel`: the Popen-like face of a forked process (its pidfd, its sandbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import time

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import KernelManager

from gradekit.sandbox.kernels import SandboxedKernelManager, read_all
from gradekit.sandbox.policy import Sandbox
from gradekit.sandbox.ready import ReadyClient
from gradekit.sandbox.seccomp import seccomp_fd
from gradekit.sandbox.warm_parent import ForkUnavailable, fork


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
        """jupyter_client's start_kernel, falling back to a cold kernel where forking fails, and
        without the 0.01 s its `in_pending_state` decorator sleeps after each start "to ensure
        tests can capture the state before done" (jupyter_client 8.10, manager.py): a sixth of a
        forked kernel's start. The `ready` future is set as that decorator sets it."""
        start = KernelManager._async_start_kernel.__wrapped__  # the undecorated method
        if self._attempted_start or not self._ready:
            self._ready = asyncio.get_running_loop().create_future()
        try:
            try:
                await start(self, **kw)
            except ForkUnavailable as exc:
                self.log.warning("Could not fork a warm kernel (%s): starting a cold kernel", exc)
                await self._async_cleanup_resources()
                self.cold, self.client_factory = True, AsyncKernelClient
                await start(self, **kw)
        except Exception as exc:
            self._ready.set_exception(exc)
            raise
        if self.owns_kernel:
            self._ready.set_result(None)

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
