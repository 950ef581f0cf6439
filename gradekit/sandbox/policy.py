"""What the sandbox allows: its configuration (`c.Sandbox.*` in nbgrader_config.py), its limits,
its environment, whether it can run on this machine, and the one rule for when it cannot."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from traitlets import Bool, Dict, Integer, List, Unicode, default
from traitlets.config import Configurable

from gradekit.sandbox import bwrap as bubblewrap
from gradekit.sandbox.bwrap import SandboxUnavailable
from gradekit.sandbox.seccomp import seccomp_fd

__all__ = ["ALLOW_ENV", "GiB", "MiB", "Sandbox", "SandboxUnavailable", "probe"]

MiB = 1024 * 1024
GiB = 1024 * MiB
ALLOW_ENV = "GRADEKIT_ALLOW_UNSANDBOXED"


class Sandbox(Configurable):
    """The sandbox that every autograded kernel runs in (`c.Sandbox.*` in nbgrader_config.py)."""

    allow_unsandboxed = Bool(
        help="Grade without a sandbox when bwrap is missing or unusable. Student code then runs with "
        "the grader's rights and can rewrite the gradebook: only for trusted code. "
        f"Default: True if the environment variable {ALLOW_ENV}=1, else False.",
    ).tag(config=True)

    @default("allow_unsandboxed")
    def _allow_unsandboxed_default(self) -> bool:
        return os.environ.get(ALLOW_ENV, "") == "1"

    bwrap = Unicode("bwrap", help="The bubblewrap executable (a name on PATH or a path).").tag(config=True)
    memory_limit = Integer(2 * GiB, help="Address space per process in bytes (RLIMIT_AS).").tag(config=True)
    cpu_time_limit = Integer(300, help="CPU seconds per process (RLIMIT_CPU).").tag(config=True)
    max_processes = Integer(
        64, help="Processes and threads in the sandbox, the kernel's own threads included (RLIMIT_NPROC)."
    ).tag(config=True)
    max_file_size = Integer(64 * MiB, help="Largest file a kernel may write (RLIMIT_FSIZE).").tag(config=True)
    max_open_files = Integer(1024, help="Open file descriptors per process (RLIMIT_NOFILE).").tag(config=True)
    scratch_size = Integer(
        64 * MiB, help="Size of the tmpfs at the kernel's working directory (new files go there)."
    ).tag(config=True)
    tmp_size = Integer(64 * MiB, help="Size of the sandbox's /tmp (also its HOME) and of /dev/shm.").tag(
        config=True
    )
    first_uid = Integer(
        40000, help="As root: the kernel runs as a random uid in [first_uid, first_uid + uid_count)."
    ).tag(config=True)
    uid_count = Integer(20000, help="See first_uid.").tag(config=True)
    read_only_paths = List(
        Unicode(),
        help="More host paths the kernel may read (data sets, fonts...), mounted read-only at the same path.",
    ).tag(config=True)
    pass_env = List(
        Unicode(),
        ["NBGRADER_EXECUTION", "LANG", "LC_ALL", "TZ", "PYTHONHASHSEED"],
        help="Environment variables passed into the sandbox; every other one is dropped.",
    ).tag(config=True)
    env = Dict(Unicode(), help="More environment variables set in the sandbox.").tag(config=True)
    fork_kernels = Bool(
        True,
        help="Fork each kernel from a warm parent that imported ipykernel once, into the sandbox "
        "bwrap built for it (gradekit.sandbox.forked): the same sandbox and limits, without a "
        "Python start-up per submission. False: start a cold kernel per submission. Where kernels "
        "cannot be forked (not root), cold kernels start and the log says why.",
    ).tag(config=True)
    warm_imports = List(
        Unicode(),
        help="More modules the warm parent imports before it forks kernels (trusted code only: "
        "every kernel holds them, already imported).",
    ).tag(config=True)

    # -- availability ------------------------------------------------------------------------------

    def bwrap_path(self) -> str | None:
        return shutil.which(self.bwrap)

    def unavailable_reason(self) -> str | None:
        """None if sandboxed kernels can run here, else why not (in words for the instructor)."""
        bwrap = self.bwrap_path()
        if bwrap is None:
            return f"bubblewrap ({self.bwrap!r}) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        if os.geteuid() == 0:
            for tool in ("setpriv", "prlimit"):
                if shutil.which(tool) is None:
                    return f"{tool} (util-linux) is not installed"
        elif shutil.which("prlimit") is None:
            return "prlimit (util-linux) is not installed"
        return probe(bwrap)

    def decide(self, log, reason: str | None = None) -> bool:
        """The one rule: True to run student code sandboxed; False to run it without a sandbox,
        when the sandbox cannot run here (`reason`, default `unavailable_reason()`) but
        `allow_unsandboxed` says so (warned on `log`); else raise SandboxUnavailable with the
        refusal an instructor reads."""
        reason = self.unavailable_reason() if reason is None else reason
        if reason is None:
            return True
        if self.allow_unsandboxed:
            log.warning("Grading WITHOUT a sandbox (Sandbox.allow_unsandboxed = True): %s", reason)
            return False
        raise SandboxUnavailable(self.refusal(reason))

    def refusal(self, reason: str) -> str:
        return (
            f"Refusing to autograde: student code must run in a sandbox, but {reason}. "
            "Install bubblewrap (see docs/sandbox.md), or, only for code you trust, allow grading "
            "without a sandbox with c.Sandbox.allow_unsandboxed = True in nbgrader_config.py "
            f"or {ALLOW_ENV}=1."
        )

    # -- the command -------------------------------------------------------------------------------

    def command(self, kernel_cmd: list[str], **options) -> list[str]:
        """`kernel_cmd` wrapped in bwrap, setpriv (as root) and prlimit: see
        gradekit.sandbox.bwrap.command, which takes the same keyword `options`."""
        return bubblewrap.command(self, kernel_cmd, **options)

    def pick_uid(self) -> int:
        return self.first_uid + secrets.randbelow(self.uid_count)

    def limit_values(self) -> dict[str, list[int]]:
        """The resource limits, prlimit(1)'s names -> [soft, hard] (bytes, seconds, counts)."""
        cpu = self.cpu_time_limit
        return {
            "as": [self.memory_limit] * 2,
            "cpu": [cpu, cpu + 5],
            "nproc": [self.max_processes] * 2,
            "fsize": [self.max_file_size] * 2,
            "nofile": [self.max_open_files] * 2,
            "core": [0, 0],
        }

    def limits(self) -> list[str]:
        """prlimit(1)'s options for `limit_values()`."""
        return [
            f"--{name}={soft}" if soft == hard else f"--{name}={soft}:{hard}"
            for name, (soft, hard) in self.limit_values().items()
        ]

    def environment(self, python: str) -> dict[str, str]:
        env = {name: os.environ[name] for name in self.pass_env if name in os.environ}
        env.setdefault("LANG", "C.UTF-8")
        env.update(
            PATH=os.pathsep.join([os.path.dirname(python), "/usr/local/bin", "/usr/bin", "/bin"]),
            HOME="/tmp",
            TMPDIR="/tmp",
            PYTHONDONTWRITEBYTECODE="1",
            # ipykernel: 1 means "no parent to watch" (bwrap watches it), and no console banner.
            JPY_PARENT_PID="1",
        )
        env.update(self.env)
        return env


# Run in the probe's sandbox: Python starts, and the key retention service answers EPERM.
_PROBE_CODE = """\
import ctypes, platform, socket
numbers = {"x86_64": 250, "aarch64": 219}
if platform.machine() in numbers:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(numbers[platform.machine()], 0, 0) != -1 or ctypes.get_errno() != 1:
        raise SystemExit("keyctl was not refused: the seccomp filter is not in force")
"""


@functools.cache
def probe(bwrap: str) -> str | None:
    """Run a trivial Python in a sandbox like the kernels', once per process; None when it works."""
    with tempfile.TemporaryDirectory(prefix="gradekit-probe-") as tmp:
        conn = os.path.join(tmp, "kernel.json")
        Path(conn).write_text("{}")
        cwd = os.path.join(tmp, "cwd")
        os.mkdir(cwd)
        filter_fd = seccomp_fd()
        try:
            cmd = bubblewrap.command(
                Sandbox(bwrap=bwrap),
                [sys.executable, "-c", _PROBE_CODE, conn],
                cwd=cwd,
                connection_file=conn,
                seccomp=filter_fd,
            )
            result = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                pass_fds=(filter_fd,),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap could not run ({exc})"
        finally:
            os.close(filter_fd)
    if result.returncode != 0:
        return f"bwrap failed to create a sandbox here ({result.stderr.strip() or result.returncode})"
    return None
