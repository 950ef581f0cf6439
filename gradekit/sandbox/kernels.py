"""Kernels in the sandbox: jupyter_client kernel managers whose kernel runs inside bwrap.

The kernel talks to nbgrader over ZeroMQ IPC sockets that live in a tmpfs inside the sandbox:
nbgrader reaches them through `/proc/<sandbox pid>/root/...`, so no host directory is writable
from inside. A kernel's own standard output and error go nowhere (`quiet`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile

from jupyter_client.manager import AsyncKernelManager, KernelManager

from gradekit.course import Course
from gradekit.sandbox.bwrap import KERNEL_DIR, command, inside_argv
from gradekit.sandbox.policy import Sandbox
from gradekit.sandbox.seccomp import seccomp_fd


class PassingFds:
    """A kernel manager that hands the file descriptors in `extra_fds` to its kernel process, under
    the same numbers (gradekit.grading.judge reads the checks' results from one)."""

    extra_fds: tuple[int, ...] = ()

    def _fds(self, kw) -> tuple[int, ...]:
        return tuple(kw.pop("pass_fds", ())) + tuple(self.extra_fds)


def quiet(launch_kw: dict) -> None:
    """A student kernel's own standard output and error go nowhere: they would land in the
    grader's log, where a submission could write lines in nbgrader's words about another student
    ("There was an error processing assignment: .../someone_else/..."), which the shard runner
    reads. What the student's code prints reaches its notebook through the kernel's messages."""
    launch_kw.setdefault("stdout", subprocess.DEVNULL)
    launch_kw.setdefault("stderr", subprocess.DEVNULL)


class UnsandboxedKernelManager(PassingFds, AsyncKernelManager):
    """nbgrader's kernel manager, plus `extra_fds` (for Sandbox.allow_unsandboxed)."""

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        quiet(kw)
        await super()._async_launch_kernel(kernel_cmd, pass_fds=self._fds(kw), **kw)


class SandboxedKernelManager(PassingFds, AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs inside `Sandbox` and listens on IPC sockets.

    Before the launch: the connection file goes to a private host directory and names IPC endpoints
    in the sandbox's KERNEL_DIR. After it: nbgrader's side connects through /proc/<pid>/root.
    Interrupts go over the control channel (a signal would hit bwrap, not the kernel)."""

    sandbox_protected: tuple[str, ...] = ()  # set by SandboxedExecute: the course, the gradebook
    sandbox_pid: int | None = None  # the sandbox's first process (host pid), once launched
    sandbox_cwd: str | None = None  # the kernel's working directory (the same path inside)
    _private_dir: str | None = None
    _info_fds: tuple[int, int, int] | None = None

    def sandbox_program(self, kernel_cmd: list[str], uid: int | None) -> list[str]:
        """What runs in the sandbox: the kernel (`kernel_cmd`, its connection file already the
        sandbox's path), as `uid` when root. gradekit.sandbox.forked runs a placeholder there."""
        return kernel_cmd

    def launch_options(self, kw: dict) -> tuple[int, ...]:
        """Adjust the launch's Popen keywords `kw`; the file descriptors bwrap's process gets."""
        return self._fds(kw)

    def _sandbox(self) -> Sandbox:
        return Sandbox(parent=self.parent, config=self.config)

    async def _async_pre_start_kernel(self, **kw):
        sandbox = self._sandbox()
        if self._private_dir is None:
            self._private_dir = tempfile.mkdtemp(prefix="gradekit-kernel-")
            self.connection_file = os.path.join(self._private_dir, "kernel.json")
            self._connection_file_written = False
        self.transport = "ipc"
        self.ip = f"{KERNEL_DIR}/ipc"
        if self.kernel_spec is not None:
            self.kernel_spec.interrupt_mode = "message"
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)

        uid = sandbox.pick_uid() if os.geteuid() == 0 else None
        if uid is not None:  # the kernel reads its connection file as `uid`
            os.chown(self.connection_file, uid, uid)
        cwd = os.path.abspath(kw.get("cwd") or os.getcwd())
        read_fd, write_fd = os.pipe()  # bwrap writes the sandbox's pid there (--info-fd)
        filter_fd = seccomp_fd()
        connection_file = os.path.realpath(self.connection_file)
        self.sandbox_cwd = cwd
        try:
            cmd = command(
                sandbox,
                self.sandbox_program(inside_argv(kernel_cmd, connection_file), uid),
                cwd=cwd,
                connection_file=connection_file,
                protected=[self._private_dir, *self.sandbox_protected],
                info_fd=write_fd,
                uid=uid,
                seccomp=filter_fd,
                python=kernel_cmd[0],
            )
        except BaseException:
            for fd in (read_fd, write_fd, filter_fd):
                os.close(fd)
            raise
        self._info_fds = (read_fd, write_fd, filter_fd)
        kw["cwd"] = cwd
        kw["env"] = {}  # bwrap --clearenv sets the kernel's environment; bwrap itself needs none
        self.log.debug("Sandboxed kernel command: %s", cmd)
        return cmd, kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        assert self._info_fds is not None
        read_fd, write_fd, filter_fd = self._info_fds
        self._info_fds = None
        quiet(kw)
        passed = self.launch_options(kw)
        try:
            await super()._async_launch_kernel(kernel_cmd, pass_fds=(write_fd, filter_fd, *passed), **kw)
        finally:
            os.close(write_fd)
            os.close(filter_fd)
        info = await asyncio.get_running_loop().run_in_executor(None, read_all, read_fd)
        try:
            pid = json.loads(info)["child-pid"]
        except (ValueError, KeyError) as exc:
            raise RuntimeError(f"bwrap did not start the sandbox (info: {info!r})") from exc
        # From now on nbgrader's side reaches the sockets through the sandbox's root.
        self.sandbox_pid = pid
        self.ip = f"/proc/{pid}/root{KERNEL_DIR}/ipc"

    async def _async_interrupt_kernel(self):
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)
        else:
            raise RuntimeError("Cannot interrupt kernel. No kernel is running!")

    interrupt_kernel = _async_interrupt_kernel

    def cleanup_ipc_files(self) -> None:
        """The IPC sockets live in the sandbox's tmpfs and vanish with it."""

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await KernelManager._async_cleanup_resources(self, restart=restart)
        if not restart and self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            self._private_dir = None

    cleanup_resources = _async_cleanup_resources


def read_all(fd: int) -> str:
    """Everything that can be read from `fd` until its end (it is closed after)."""
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def protected_paths(config) -> list[str]:
    """What no read-only mount may contain: the course root and a SQLite gradebook (of the course
    nbgrader's `config` describes)."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    course = Course.from_coursedir(coursedir, "")
    paths = [str(course.root)]
    if course.db_url.startswith("sqlite:///"):
        paths.append(course.db_url[len("sqlite:///") :].split("?", 1)[0])
    return paths
