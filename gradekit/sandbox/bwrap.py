"""The bubblewrap command a sandboxed process starts with: its file systems, namespaces, rights
and limits (bwrap(1), setpriv(1), prlimit(1)).

Inside, the process sees the Python runtime (read-only), a size-limited scratch tmpfs at its
working directory holding the submission's files (read-only), a size-limited /tmp, and nothing else
of the host: no course directory, no gradebook, no home directory, no network (a new network
namespace), no other process (a new PID namespace). As root it also drops to an unprivileged uid of
its own (`setpriv`), because the kernel does not enforce RLIMIT_NPROC for root; as any other user it
runs in a new user namespace, where the process count is per sandbox.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command reads a Sandbox's settings; the Sandbox builds its commands here
    from gradekit.sandbox.policy import Sandbox

# Inside the sandbox: where the connection file and the kernel's IPC sockets live (a small tmpfs).
KERNEL_DIR = "/run/gradekit-kernel"
KERNEL_DIR_SIZE = 1024 * 1024  # bytes
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The system's files a kernel reads, read-only where the host has them. The font cache: without it,
# fontconfig scans every font at each start of graphviz's `dot` (27 ms a graph drawn in a sandbox
# against 17 ms with it, this machine; a notebook may draw several per submission).
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts", "/var/cache/fontconfig")


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create the sandbox, and unsandboxed grading is not allowed."""


@dataclass
class Mounts:
    """bwrap arguments for the file system, with every parent directory created world-readable (bwrap
    would create them 0700 as root, unreadable for the kernel's uid)."""

    args: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    made: set[str] = field(default_factory=lambda: {"/"})

    def parents(self, dest: str) -> None:
        for parent in reversed(Path(dest).parents):
            if str(parent) not in self.made:
                self.made.add(str(parent))
                self.args += ["--perms", "0755", "--dir", str(parent)]

    def add(self, option: str, source: str, dest: str) -> None:
        self.parents(dest)
        self.made.add(dest)
        self.sources.append(source)
        self.args += [option, source, dest]

    def tmpfs(self, dest: str, size: int) -> None:
        self.parents(dest)
        self.made.add(dest)
        self.args += ["--perms", "1777", "--size", str(size), "--tmpfs", dest]


def outermost(paths: list[str]) -> list[str]:
    """`paths` without those inside another one of them."""
    result: list[str] = []
    for path in sorted(paths):
        if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in result):
            result.append(path)
    return result


def check_not_exposed(sources: list[str], protected: list[str]) -> None:
    """Refuse a read-only mount that would show the course (or the gradebook) to the kernel."""
    for source in sources:
        real = os.path.realpath(source)
        for path in protected:
            inner = os.path.realpath(path)
            if inner == real or inner.startswith(real.rstrip("/") + "/"):
                raise SandboxUnavailable(
                    f"the sandbox would mount {source} read-only, which contains {path}: move the "
                    "course (or the gradebook) out of the Python installation and of the "
                    "Sandbox.read_only_paths"
                )


@functools.cache
def bwrap_version(bwrap: str) -> tuple[int, ...]:
    """bwrap's version, e.g. (0, 8, 0); (0,) when it cannot tell."""
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(part) for part in out.split()[-1].split("."))
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return (0,)


@functools.cache
def runtime_paths(python: str) -> list[str]:
    """The directories the kernel's Python needs: its prefixes, and where its executable really is."""
    exe = shutil.which(python) or python
    if os.path.realpath(exe) == os.path.realpath(sys.executable):
        prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    else:
        code = (
            "import sys; print(sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, sep='\\n')"
        )
        out = subprocess.run([exe, "-c", code], capture_output=True, text=True, check=True, timeout=30)
        prefixes = out.stdout.split()
    dirs = {os.path.abspath(p) for p in prefixes}
    dirs.add(os.path.dirname(os.path.abspath(exe)))
    dirs.add(os.path.dirname(os.path.realpath(exe)))
    system = ("/usr", *SYSTEM_LINKS)
    return sorted(d for d in dirs if d != "/" and not any(d == s or d.startswith(s + "/") for s in system))


def command(
    sandbox: Sandbox,
    kernel_cmd: list[str],
    *,
    cwd: str,
    connection_file: str,
    protected: Sequence[str] = (),
    info_fd: int | None = None,
    uid: int | None = None,
    seccomp: int | None = None,
    python: str | None = None,
) -> list[str]:
    """`kernel_cmd` (whose `connection_file` argument is on the host) wrapped in bwrap, setpriv (as
    root, to `uid`) and prlimit, with `sandbox`'s limits. `protected`: host paths that no read-only
    mount may contain. `seccomp`: a file descriptor from `seccomp_fd()`, which the caller passes to
    the process (bwrap reads the filter from it) and then closes. `info_fd`: where bwrap writes the
    sandbox's pid. `python`: the Python whose runtime is mounted (default `kernel_cmd[0]`). Raises
    SandboxUnavailable without bwrap, or when a mount would show the course."""
    bwrap = sandbox.bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(sandbox.refusal(sandbox.unavailable_reason() or "bwrap is missing"))
    cwd = os.path.abspath(cwd)
    inside_connection_file = f"{KERNEL_DIR}/kernel.json"
    kernel_cmd = inside_argv(kernel_cmd, connection_file)
    python = python or kernel_cmd[0]
    plan = system_mounts(sandbox, python)
    check_not_exposed(plan.sources, [cwd, *protected])
    plan.add("--ro-bind", connection_file, inside_connection_file)
    submission_mounts(plan, cwd, sandbox.scratch_size)
    argv = [bwrap, *namespaces(bwrap)]
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    if seccomp is not None:
        argv += ["--seccomp", str(seccomp)]
    argv += [*plan.args, "--clearenv"]
    for name, value in sandbox.environment(python).items():
        argv += ["--setenv", name, value]
    argv.append("--")
    if os.geteuid() == 0:
        argv += drop_to(sandbox.pick_uid() if uid is None else uid)
    argv += [shutil.which("prlimit") or "prlimit", *sandbox.limits(), "--"]
    return argv + kernel_cmd


def inside_argv(kernel_cmd: list[str], connection_file: str) -> list[str]:
    """`kernel_cmd` with the host's `connection_file` replaced by where the sandbox shows it."""
    return [f"{KERNEL_DIR}/kernel.json" if a == connection_file else a for a in kernel_cmd]


def system_mounts(sandbox: Sandbox, python: str) -> Mounts:
    """/proc, /dev, the tmpfs's, the system's files and the Python runtime `python` needs, read-only."""
    plan = Mounts()
    plan.args += ["--proc", "/proc", "--dev", "/dev"]
    plan.made |= {"/proc", "/dev"}
    plan.tmpfs("/dev/shm", sandbox.tmp_size)
    plan.tmpfs("/tmp", sandbox.tmp_size)
    plan.tmpfs(KERNEL_DIR, KERNEL_DIR_SIZE)
    plan.add("--ro-bind", "/usr", "/usr")
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            plan.args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            plan.add("--ro-bind", link, link)
    for path in SYSTEM_FILES:
        if os.path.exists(path):
            plan.add("--ro-bind", path, path)
    runtime = sorted(set(runtime_paths(python) + [os.path.abspath(p) for p in sandbox.read_only_paths]))
    for path in outermost(runtime):
        plan.add("--ro-bind", path, path)
    return plan


def submission_mounts(plan: Mounts, cwd: str, size: int) -> None:
    """The working directory: a scratch tmpfs of `size` bytes with the submission's files mounted
    read-only on it, and the whole file system read-only but for the tmpfs's."""
    plan.tmpfs(cwd, size)
    for entry in sorted(os.listdir(cwd)):
        if entry.endswith(".ipynb") or entry == ".ipynb_checkpoints":
            # Notebooks stay out: the one being graded holds every test cell nbgrader put
            # back, hidden ones included, and the kernel gets its code cell by cell anyway.
            continue
        host = os.path.join(cwd, entry)
        mode = os.lstat(host).st_mode
        if stat.S_ISLNK(mode):  # resolved inside the sandbox, so it cannot point at the host
            plan.args += ["--symlink", os.readlink(host), host]
        elif stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            plan.add("--ro-bind", host, host)
    plan.args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", cwd]


def namespaces(bwrap: str) -> list[str]:
    """bwrap's options for the namespaces and rights of the sandbox."""
    argv = ["--die-with-parent", "--new-session"]
    argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    argv += ["--hostname", "sandbox"]
    if os.geteuid() == 0:  # keep the rights to drop to a uid inside, with setpriv; bwrap drops all others
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:  # a user namespace of its own: RLIMIT_NPROC then counts this sandbox's processes only
        argv += ["--unshare-user"]
        if bwrap_version(bwrap) >= (0, 8):
            argv += ["--disable-userns"]
    return argv


def drop_to(uid: int) -> list[str]:
    """setpriv's command line that runs the rest as `uid`, with no capability and no new privilege."""
    setpriv = shutil.which("setpriv") or "setpriv"
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--no-new-privs",
        "--",
    ]
