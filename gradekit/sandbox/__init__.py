"""Grade untrusted code: every student kernel of `nbgrader autograde` runs in a bubblewrap sandbox.

How it plugs into nbgrader (see docs/sandbox.md for the whole story):

- `SandboxedExecute` replaces nbgrader's `Execute` in `Autograde.autograde_preprocessors`. It starts
  each kernel with `SandboxedKernelManager`, which wraps the kernelspec's command in `bwrap`.
- `SandboxCheckedExporter`, as `Autograde.exporter_class`, checks the sandbox once before the first
  submission is touched: without a working bwrap, autograding stops with a plain message unless
  `c.Sandbox.allow_unsandboxed = True`.

Inside the sandbox the kernel sees the Python runtime (read-only), a size-limited scratch tmpfs at
its working directory holding the submission's files (read-only), a size-limited /tmp, and nothing
else of the host: no course directory, no gradebook, no home directory, no network (a new network
namespace), no other process (a new PID namespace). Resource limits (address space, CPU time,
processes and threads, file size, open files) are set with `prlimit` inside the sandbox. As root,
the kernel also drops to an unprivileged uid of its own (`setpriv`), because the kernel does not
enforce RLIMIT_NPROC for root; as any other user, the kernel runs in a new user namespace, where
the process count is per sandbox.

The kernel talks to nbgrader over ZeroMQ IPC sockets that live in a tmpfs inside the sandbox:
nbgrader reaches them through `/proc/<sandbox pid>/root/...`, so no host directory is writable
from inside.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager, KernelManager
from nbconvert.exporters import NotebookExporter
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from traitlets import Bool, Dict, Integer, List, Unicode, default
from traitlets.config import Configurable

MiB = 1024 * 1024
GiB = 1024 * MiB

# Inside the sandbox: where the connection file and the kernel's IPC sockets live (a small tmpfs).
KERNEL_DIR = "/run/gradekit-kernel"
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
ALLOW_ENV = "GRADEKIT_ALLOW_UNSANDBOXED"


# Linux's key retention service (add_key, request_key, keyctl) keeps per-uid keyrings in the host
# kernel: namespaces do not separate them, and a key can outlive its process and be read by the next
# sandbox. A seccomp filter answers these system calls with EPERM. System call numbers per audit
# architecture (linux/audit.h, and the syscall tables of each architecture):
KEYRING_SYSCALLS = {
    0xC000003E: (248, 249, 250),  # x86_64
    0x40000003: (286, 287, 288),  # i386 (also reachable from x86_64 processes through int 0x80)
    0xC00000B7: (217, 218, 219),  # aarch64
}
X32_SYSCALL_BIT = 0x40000000  # x86_64's x32 ABI: refused altogether


def seccomp_program() -> bytes:
    """A classic-BPF seccomp filter (struct sock_filter, linux/filter.h; see seccomp(2)) that makes
    the key retention service's system calls fail with EPERM and allows every other one, as bwrap's
    `--seccomp FD` reads it."""
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    allow, eperm = 0x7FFF0000, 0x00050001  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    nr, arch = 0, 4  # offsets in struct seccomp_data
    code: list[list] = [[ld_abs, 0, 0, arch]]
    for audit_arch, numbers in KEYRING_SYSCALLS.items():
        block = [[ld_abs, 0, 0, nr]]
        if audit_arch == 0xC000003E:
            block.append([jge, "deny", 0, X32_SYSCALL_BIT])
        block += [[jeq, "deny", 0, number] for number in numbers]
        block.append([ret, 0, 0, allow])
        code.append([jeq, 0, len(block), audit_arch])
        code += block
    code += [[ret, 0, 0, allow], [ret, 0, 0, eperm]]
    deny = len(code) - 1
    packed = b""
    for index, (op, jt, jf, k) in enumerate(code):
        jt = deny - index - 1 if jt == "deny" else jt
        packed += struct.pack("=HBBI", op, jt, jf, k)
    return packed


def seccomp_fd() -> int:
    """A file descriptor holding `seccomp_program()`, to pass to bwrap (`--seccomp FD`) and close."""
    fd = os.memfd_create("gradekit-seccomp")
    os.write(fd, seccomp_program())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create the sandbox, and unsandboxed grading is not allowed."""


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
        return _probe(bwrap)

    def refusal(self, reason: str) -> str:
        return (
            f"Refusing to autograde: student code must run in a sandbox, but {reason}. "
            "Install bubblewrap (see docs/sandbox.md), or, only for code you trust, allow grading "
            "without a sandbox with c.Sandbox.allow_unsandboxed = True in nbgrader_config.py "
            f"or {ALLOW_ENV}=1."
        )

    # -- the command -------------------------------------------------------------------------------

    def command(
        self,
        kernel_cmd: list[str],
        *,
        cwd: str,
        connection_file: str,
        protected: Sequence[str] = (),
        info_fd: int | None = None,
        uid: int | None = None,
        seccomp: int | None = None,
    ) -> list[str]:
        """`kernel_cmd` (whose `connection_file` argument is on the host) wrapped in bwrap, setpriv (as
        root, to `uid`) and prlimit. `protected`: host paths that no read-only mount may contain.
        `seccomp`: a file descriptor from `seccomp_fd()`, which the caller passes to the process
        (bwrap reads the filter from it) and then closes."""
        bwrap = self.bwrap_path()
        if bwrap is None:
            raise SandboxUnavailable(self.refusal(self.unavailable_reason() or "bwrap is missing"))
        cwd = os.path.abspath(cwd)
        inside_connection_file = f"{KERNEL_DIR}/kernel.json"
        kernel_cmd = [inside_connection_file if a == connection_file else a for a in kernel_cmd]
        as_root = os.geteuid() == 0

        plan = _Mounts()
        plan.args += ["--proc", "/proc", "--dev", "/dev"]
        plan.made |= {"/proc", "/dev"}
        plan.tmpfs("/dev/shm", self.tmp_size)
        plan.tmpfs("/tmp", self.tmp_size)
        plan.tmpfs(KERNEL_DIR, 1 * MiB)
        plan.add("--ro-bind", "/usr", "/usr")
        for link in SYSTEM_LINKS:
            if os.path.islink(link):
                plan.args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                plan.add("--ro-bind", link, link)
        for path in ETC_FILES:
            if os.path.exists(path):
                plan.add("--ro-bind", path, path)
        runtime = sorted(
            set(_runtime_paths(kernel_cmd[0]) + [os.path.abspath(p) for p in self.read_only_paths])
        )
        for path in _outermost(runtime):
            plan.add("--ro-bind", path, path)
        _check_not_exposed(plan.sources, [cwd, *protected])

        plan.add("--ro-bind", connection_file, inside_connection_file)
        # The working directory: a scratch tmpfs with the submission's files mounted read-only on it.
        plan.tmpfs(cwd, self.scratch_size)
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

        argv = [bwrap, "--die-with-parent", "--new-session"]
        argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        argv += ["--hostname", "sandbox"]
        if as_root:  # keep the rights to drop to `uid` inside, with setpriv; bwrap drops all others
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:  # a user namespace of its own: RLIMIT_NPROC then counts this sandbox's processes only
            argv += ["--unshare-user"]
            if _bwrap_version(bwrap) >= (0, 8):
                argv += ["--disable-userns"]
        if info_fd is not None:
            argv += ["--info-fd", str(info_fd)]
        if seccomp is not None:
            argv += ["--seccomp", str(seccomp)]
        argv += plan.args
        argv += ["--clearenv"]
        for name, value in self.environment(kernel_cmd[0]).items():
            argv += ["--setenv", name, value]
        argv.append("--")
        if as_root:
            uid = self.pick_uid() if uid is None else uid
            argv += [
                shutil.which("setpriv") or "setpriv",
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
            ]
            argv += ["--inh-caps=-all", "--no-new-privs", "--"]
        argv += [shutil.which("prlimit") or "prlimit", *self.limits(), "--"]
        return argv + kernel_cmd

    def pick_uid(self) -> int:
        return self.first_uid + secrets.randbelow(self.uid_count)

    def limits(self) -> list[str]:
        cpu = self.cpu_time_limit
        return [
            f"--as={self.memory_limit}",
            f"--cpu={cpu}:{cpu + 5}",
            f"--nproc={self.max_processes}",
            f"--fsize={self.max_file_size}",
            f"--nofile={self.max_open_files}",
            "--core=0",
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


@dataclass
class _Mounts:
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


def _outermost(paths: list[str]) -> list[str]:
    """`paths` without those inside another one of them."""
    result: list[str] = []
    for path in sorted(paths):
        if not any(path == p or path.startswith(p.rstrip("/") + "/") for p in result):
            result.append(path)
    return result


def _check_not_exposed(sources: list[str], protected: list[str]) -> None:
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
def _bwrap_version(bwrap: str) -> tuple[int, ...]:
    try:
        out = subprocess.run([bwrap, "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(part) for part in out.split()[-1].split("."))
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return (0,)


@functools.cache
def _runtime_paths(python: str) -> list[str]:
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
def _probe(bwrap: str) -> str | None:
    """Run a trivial Python in a sandbox like the kernels', once per process; None when it works."""
    with tempfile.TemporaryDirectory(prefix="gradekit-probe-") as tmp:
        conn = os.path.join(tmp, "kernel.json")
        Path(conn).write_text("{}")
        cwd = os.path.join(tmp, "cwd")
        os.mkdir(cwd)
        filter_fd = seccomp_fd()
        try:
            cmd = Sandbox(bwrap=bwrap).command(
                [sys.executable, "-c", _PROBE_CODE, conn], cwd=cwd, connection_file=conn, seccomp=filter_fd
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
    _private_dir: str | None = None
    _info_fds: tuple[int, int, int] | None = None

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
        try:
            cmd = sandbox.command(
                kernel_cmd,
                cwd=cwd,
                connection_file=os.path.realpath(self.connection_file),
                protected=[self._private_dir, *self.sandbox_protected],
                info_fd=write_fd,
                uid=uid,
                seccomp=filter_fd,
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
        try:
            await super()._async_launch_kernel(
                kernel_cmd, pass_fds=(write_fd, filter_fd, *self._fds(kw)), **kw
            )
        finally:
            os.close(write_fd)
            os.close(filter_fd)
        info = await asyncio.get_running_loop().run_in_executor(None, _read_all, read_fd)
        try:
            pid = json.loads(info)["child-pid"]
        except (ValueError, KeyError) as exc:
            raise RuntimeError(f"bwrap did not start the sandbox (info: {info!r})") from exc
        # From now on nbgrader's side reaches the sockets through the sandbox's root.
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


def _read_all(fd: int) -> str:
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def protected_paths(config) -> list[str]:
    """What no read-only mount may contain: the course root and a SQLite gradebook."""
    coursedir = CourseDirectory(config=config)
    paths = [coursedir.root]
    if coursedir.db_url.startswith("sqlite:///"):
        paths.append(coursedir.db_url[len("sqlite:///") :].split("?", 1)[0])
    return paths


class SandboxedExecute(Execute):
    """nbgrader's Execute, with each kernel in a sandbox (use it in Autograde.autograde_preprocessors)."""

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kw)

    def preprocess(self, nb, resources=None, km=None):
        sandbox = Sandbox(parent=self)
        reason = sandbox.unavailable_reason()
        if reason is None:
            self.kernel_manager_class = SandboxedKernelManager
        elif sandbox.allow_unsandboxed:
            self.log.warning("Grading WITHOUT a sandbox (Sandbox.allow_unsandboxed): %s", reason)
            self.kernel_manager_class = UnsandboxedKernelManager
        else:
            raise SandboxUnavailable(sandbox.refusal(reason))
        return super().preprocess(nb, resources, km=km)

    def create_kernel_manager(self):
        # (Not async_start_new_kernel: nbclient's synchronous start_new_kernel, which nbconvert
        # calls, wraps NotebookClient's own coroutine and never reaches an override of it.)
        km = super().create_kernel_manager()
        if isinstance(km, SandboxedKernelManager):
            km.sandbox_protected = tuple(protected_paths(self.config))
        return km


def _is_sandboxed_execute(preprocessor) -> bool:
    """Whether an autograde step (a dotted name or a class) runs kernels in the sandbox."""
    if isinstance(preprocessor, str):
        from traitlets.utils.importstring import import_item

        try:
            preprocessor = import_item(preprocessor)
        except (ImportError, AttributeError, ValueError):
            return False
    return isinstance(preprocessor, type) and issubclass(preprocessor, SandboxedExecute)


class SandboxCheckedExporter(NotebookExporter):
    """Autograde's exporter (c.Autograde.exporter_class): refuses to start autograding, before any
    submission is touched, when the sandbox cannot run and unsandboxed grading is not allowed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        sandbox = Sandbox(parent=self)
        reason = sandbox.unavailable_reason()
        preprocessors = getattr(self.parent, "autograde_preprocessors", None)
        if preprocessors is not None and not any(map(_is_sandboxed_execute, preprocessors)):
            reason = (
                "Autograde.autograde_preprocessors runs the kernels with nbgrader's own Execute: "
                "put gradekit.sandbox.SandboxedExecute in its place"
            )
        if reason is None:
            self.log.info("Autograding in a bubblewrap sandbox (%s)", sandbox.bwrap_path())
        elif sandbox.allow_unsandboxed:
            self.log.warning("Autograding WITHOUT a sandbox (Sandbox.allow_unsandboxed = True): %s", reason)
        else:
            message = sandbox.refusal(reason)
            self.log.error(message)
            raise NbGraderException(message)


def _dotted(preprocessor) -> str:
    if isinstance(preprocessor, str):
        return preprocessor
    return f"{preprocessor.__module__}.{preprocessor.__qualname__}"


def course_autograde_preprocessors(config_file: str | Path) -> list[str]:
    """The autograde steps a course's nbgrader_config.py sets (nbgrader's defaults if it sets none)."""
    from nbgrader.converters import Autograde
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(config_file).resolve()
    config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    if "Autograde" in config and "autograde_preprocessors" in config.Autograde:
        steps = config.Autograde.autograde_preprocessors
    else:
        steps = Autograde.class_traits()["autograde_preprocessors"].default()
    return [_dotted(step) for step in steps]


def with_sandboxed_execute(preprocessors) -> list[str]:
    """`preprocessors` (names or classes) with nbgrader's Execute replaced by SandboxedExecute."""
    from traitlets.utils.importstring import import_item

    swapped = []
    for step in map(_dotted, preprocessors):
        if _is_sandboxed_execute(step):
            swapped.append(step)
        elif import_item(step) is Execute:
            swapped.append(_dotted(SandboxedExecute))
        else:
            swapped.append(step)
    return swapped


def sandbox_command(args=None) -> int:
    """`python -m gradekit sandbox`: can this machine run sandboxed kernels? (for grading nodes)"""
    sandbox = Sandbox()
    reason = sandbox.unavailable_reason()
    if reason:
        print(f"sandbox: NOT available: {reason}")
        return 1
    bwrap = sandbox.bwrap_path()
    version = ".".join(map(str, _bwrap_version(bwrap)))
    mode = "root: kernels drop to a uid of their own" if os.geteuid() == 0 else "user namespaces"
    print(f"sandbox: available (bwrap {version} at {bwrap}; {mode})")
    return 0
