"""The warm parent: a Python that has imported ipykernel once and forks one kernel per submission,
each straight into that submission's own sandbox, before any student code runs.

Run by gradekit.sandbox.forked as a script, `python warm.py FD MODULE...`: it imports the MODULEs
(ipykernel's, and the standard modules the course uses: trusted code only), then answers requests
on the AF_UNIX socket FD, one at a time. A request names a sandbox that bwrap has already built
(gradekit.sandbox.bwrap: its mounts, namespaces and uid, with `cat` as its only process) and what
a cold kernel would get there: argv, environment, working directory, limits, the seccomp filter,
the file descriptors to pass. For each request:

1. a first child joins the sandbox's namespaces (setns(2): IPC, UTS, network, cgroup, PID, mount)
   and forks a process of the sandbox's PID namespace, which forks the kernel and ends: the
   kernel's parent is then the sandbox's first process (bwrap, pid 1), as a cold kernel's;
2. the kernel enters the sandbox the way bwrap, setpriv and prlimit enter a cold kernel: a new
   session, stdin/stdout/stderr on /dev/null, no other file descriptor than those passed, no
   capability (bounding set emptied, then setresuid to the sandbox's uid), no new privileges, the
   resource limits, the seccomp filter, the environment, and checks that no capability is left;
3. it runs `ipykernel_launcher` as `python -m ipykernel_launcher ARGS` would, as `__main__`.

The warm parent's objects are frozen before each fork (gc.freeze(), as Python's gc docs advise
for a fork without exec): the kernel's garbage collector never walks them. Without it, the
kernel's first full collection, while it starts, walked the whole imported heap (25 ms, writing
to every page of it); `gc.get_objects()` in a kernel lists its own objects only.

The reply carries the kernel's pid and a pidfd (pidfd_open(2)) for the grader to watch and kill
it. The warm parent never runs student code, never reads a connection file (their keys are read by
the kernel, inside its sandbox), and ends when the grader closes its socket. It must be root: only
root may join namespaces it did not create and drop to another uid (the cold kernel's setpriv).

This file imports nothing of gradekit (the kernels forked from it must not hold the kit's modules)
and only the standard library at its top, so the grader may import it too.
"""

# Longer than ~400 lines on purpose: the kernels are forked from this script, which may import no
# other module of the kit (they would be in every kernel), so what the fork needs is all here.

from __future__ import annotations

import builtins
import contextlib
import ctypes
import fcntl
import gc
import importlib
import io
import json
import os
import resource
import runpy
import shutil
import signal
import socket
import sys
import tempfile
import traceback
import types

# linux/prctl.h, linux/sched.h, linux/seccomp.h
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 24, 47, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_SET_CHILD_SUBREAPER = 22, 2, 36
NAMESPACES = {  # joined in this order; the mount namespace last (it changes what /proc/<pid> is)
    "ipc": 0x08000000,
    "uts": 0x04000000,
    "net": 0x40000000,
    "cgroup": 0x02000000,
    "pid": 0x20000000,
    "mnt": 0x00020000,
}
LIMITS = {
    "as": resource.RLIMIT_AS,
    "cpu": resource.RLIMIT_CPU,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "core": resource.RLIMIT_CORE,
}
CAPABILITY_LINES = ("CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:")
MAX_REQUEST = 1 << 20  # bytes
MAX_FDS = 8

_libc = ctypes.CDLL(None, use_errno=True)
IMPORTS_SET: dict[str, str] = {}  # environment variables the imports set (the debugger's, for one)
# What the imports wrote (the debugger's warning about frozen modules, for one): a cold kernel
# writes it while it starts, on its own stderr (which starts its output machinery), so a forked one
# writes it there too.
IMPORTS_SAID = io.StringIO()


class SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def _check(result: int, what: str) -> int:
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def prctl(option: int, arg2: int = 0, arg3=0) -> int:
    zero = ctypes.c_ulong(0)
    return _check(_libc.prctl(option, ctypes.c_ulong(arg2), arg3, zero, zero), "prctl")


def join_namespaces(pid: int) -> None:
    """Join the namespaces of process `pid` (opened first: after the mount namespace, /proc is the
    sandbox's). Raises OSError naming the namespace that could not be joined."""
    fds = {name: os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC) for name in NAMESPACES}
    try:
        for name, flag in NAMESPACES.items():
            if os.stat(f"/proc/self/ns/{name}").st_ino == os.fstat(fds[name]).st_ino:
                continue  # already there (e.g. no cgroup namespace of its own)
            _check(_libc.setns(fds[name], flag), f"setns({name})")
    finally:
        for fd in fds.values():
            os.close(fd)


def place_fds(passed: list[tuple[int, int]], report: int) -> int:
    """Keep only the file descriptors `passed` ((number wanted, number now)), under the numbers
    wanted and inheritable (as Popen's pass_fds leaves them in a cold kernel), and `report`,
    moved above them; 0 an empty pipe, 1 and 2 on /dev/null. Returns the report's new number."""
    base = max([2, *(wanted for wanted, _ in passed)]) + 1
    moved = [(wanted, fcntl.fcntl(now, fcntl.F_DUPFD_CLOEXEC, base)) for wanted, now in passed]
    report = fcntl.fcntl(report, fcntl.F_DUPFD_CLOEXEC, base)
    keep = sorted({report, *(fd for _, fd in moved)})
    low = 3
    for fd in keep:
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    stdin, closed = os.pipe()  # a cold kernel's stdin: a pipe jupyter_client closed its end of
    os.close(closed)
    null = os.open("/dev/null", os.O_RDWR)
    for fd, source in ((0, stdin), (1, null), (2, null)):
        os.dup2(source, fd)
    for fd in {stdin, null} - {0, 1, 2}:
        os.close(fd)
    for wanted, fd in moved:
        os.dup2(fd, wanted, inheritable=True)
        os.close(fd)
    return report


def drop_privileges(uid: int) -> None:
    """Root to `uid`, as setpriv --reuid --regid --clear-groups --inh-caps=-all --no-new-privs: the
    capability bounding set emptied first, then no capability at all once every uid is `uid`."""
    with open("/proc/sys/kernel/cap_last_cap") as file:
        last = int(file.read())
    for cap in range(last + 1):
        prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def left_capabilities() -> list[str]:
    """The lines of /proc/self/status that show a capability still held (none, after the drop)."""
    with open("/proc/self/status") as status:
        lines = [line.split() for line in status if line.startswith(CAPABILITY_LINES)]
    return [" ".join(line) for line in lines if int(line[1], 16) != 0]


def set_limits(limits: dict[str, list[int]]) -> None:
    """setrlimit(2) for each of `limits` (name in LIMITS -> [soft, hard]), as prlimit(1) sets them."""
    for name, (soft, hard) in limits.items():
        resource.setrlimit(LIMITS[name], (soft, hard))


def install_seccomp(program: bytes) -> None:
    """Install the classic-BPF filter `program` (struct sock_filter[]), as bwrap --seccomp does."""
    count = len(program) // ctypes.sizeof(SockFilter)
    filters = (SockFilter * count).from_buffer_copy(program)
    prog = SockFprog(count, filters)
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog))


def enter(request: dict, passed: list[int], report: int) -> int:
    """In the kernel-to-be (already in the sandbox's namespaces): everything else bwrap, setpriv and
    prlimit do for a cold kernel, `passed` going to the numbers `request["fds"]`. Returns the report
    fd's new number."""
    os.setsid()
    report = place_fds(list(zip(request["fds"], passed)), report)
    os.chdir(request["cwd"])
    drop_privileges(request["uid"])
    set_limits(request["limits"])
    left = left_capabilities()
    if left:
        raise PermissionError(f"capabilities left after the drop: {left}")
    install_seccomp(bytes.fromhex(request["seccomp"]))
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(IMPORTS_SET)  # what importing the kernel's modules set, as in a cold kernel
    return report


def become_kernel(argv: list[str], cwd: str) -> None:
    """Run `argv` = [python, "-m", module, args...] or [python, "-c", code, args...] here, as that
    command would run it."""
    if argv[1:2] == ["-c"]:
        sys.argv = ["-c", *argv[3:]]
        sys.path[0] = ""  # what `python -c` puts first
        main = types.ModuleType("__main__")
        main.__builtins__ = builtins
        sys.modules["__main__"] = main
        exec(compile(argv[2], "<string>", "exec"), vars(main))
        return
    if argv[1:2] != ["-m"]:
        raise ValueError(f"not a `python -m` or `python -c` command: {argv}")
    sys.argv = [argv[2], *argv[3:]]
    sys.path[0] = cwd  # what `python -m` puts first (the launcher takes it out again)
    said = IMPORTS_SAID.getvalue()
    if said and argv[2] == "ipykernel_launcher":
        from ipykernel.kernelapp import IPKernelApp

        init_kernel = IPKernelApp.init_kernel

        def init_kernel_and_say(app):
            init_kernel(app)
            sys.stderr.write(said)  # where a cold kernel writes it (its imports in init_kernel)

        IPKernelApp.init_kernel = init_kernel_and_say
    runpy.run_module(argv[2], run_name="__main__", alter_sys=True)


def say(report: int, message: dict, fds: list[int] = ()) -> None:
    socket.send_fds(socket.socket(fileno=os.dup(report)), [json.dumps(message).encode()], list(fds))


def kernel(request: dict, passed: list[int], report: int) -> None:
    """The kernel's process: enter the sandbox, say so on `report`, become the kernel. Never returns."""
    try:
        report = enter(request, passed, report)
        say(report, {"entered": True})
        os.close(report)
    except BaseException as exc:
        say(report, {"error": f"entering the sandbox: {exc!r}"})
        os._exit(70)
    try:
        become_kernel(request["argv"], request["cwd"])
    finally:
        os._exit(0)


def in_sandbox(request: dict, passed: list[int], report: int) -> None:
    """The first process in the sandbox's PID namespace: fork the kernel, hand its pidfd over, and
    end, so that the kernel's parent is the sandbox's first process (bwrap, pid 1), as a cold
    kernel's is. Never returns."""
    try:
        pid = os.fork()
        if pid == 0:
            kernel(request, passed, report)
        pidfd = os.pidfd_open(pid)  # a child not yet reaped: the pid is the kernel's
        say(report, {"forked": True}, [pidfd])
    except BaseException as exc:
        say(report, {"error": f"forking in the sandbox: {exc!r}"})
    finally:
        os._exit(0)


def first_child(request: dict, passed: list[int], report: int) -> None:
    """Join the sandbox's namespaces, and fork the first process of its PID namespace there (a
    process cannot change its own). Never returns."""
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        join_namespaces(request["sandbox_pid"])
        pid = os.fork()
        if pid == 0:
            in_sandbox(request, passed, report)
        say(report, {"in_sandbox": pid})
    except BaseException as exc:
        say(report, {"error": f"joining the sandbox: {exc!r}"})
    finally:
        os._exit(0)


def host_pid(pidfd: int) -> int:
    """The pid of the process `pidfd` refers to, as this process sees it (proc(5): fdinfo)."""
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        return int(next(line for line in info if line.startswith("Pid:")).split()[1])


def fork_kernel(request: dict, passed: list[int]) -> tuple[dict, int | None]:
    """One request: (reply, pidfd of the kernel or None)."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    gc.freeze()  # what this process holds now: the kernel's collector leaves it alone
    child = os.fork()
    if child == 0:
        mine.close()
        first_child(request, passed, theirs.fileno())
    theirs.close()
    reply: dict = {}
    pidfd = None
    with mine:
        while True:  # until every process that holds the other end has closed it
            message, fds, _, _ = socket.recv_fds(mine, 65536, 1)
            if not message:
                break
            reply.update(json.loads(message))
            for fd in fds:
                pidfd = fd
    os.waitpid(child, 0)
    if "in_sandbox" in reply:  # now a child of this process (a subreaper): gone before the reply
        with contextlib.suppress(ChildProcessError):
            os.waitpid(reply.pop("in_sandbox"), 0)
    if pidfd is not None and "error" not in reply and not reply.get("entered"):
        reply["error"] = "the kernel ended before it entered the sandbox"
    if "error" not in reply and pidfd is None:
        reply["error"] = "no kernel was forked (the first child ended without a word)"
    if "error" in reply:
        if pidfd is not None:
            os.close(pidfd)
        return reply, None
    reply["pid"] = host_pid(pidfd)
    return reply, pidfd


def reap() -> None:
    """Collect the kernels that ended (they are this process's children: it is a subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(sock: socket.socket) -> None:
    while True:
        message, passed, _, _ = socket.recv_fds(sock, MAX_REQUEST, MAX_FDS)
        reap()
        if not message:
            return
        try:
            reply, pidfd = fork_kernel(json.loads(message), passed)
        except Exception as exc:  # a bad request: say so, serve the next
            reply, pidfd = {"error": f"{exc!r}\n{traceback.format_exc()}"}, None
        finally:
            for fd in passed:
                os.close(fd)
        socket.send_fds(sock, [json.dumps(reply).encode()], [pidfd] if pidfd is not None else [])
        if pidfd is not None:
            os.close(pidfd)


def rehearse() -> tuple[list[str], str | None]:
    """The modules a kernel has imported once it has started and run a first cell, in the order it
    imported them, and why not if the rehearsal failed: a child starts one
    (ipykernel's own code, no sandbox needed: no student code runs), in a temporary folder, its
    output on /dev/null (a kernel's start needs real files there), and tells them."""
    folder = tempfile.mkdtemp(prefix="gradekit-warm-")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
            os.environ.update(HOME=folder, IPYTHONDIR=f"{folder}/ipython", JUPYTER_RUNTIME_DIR=folder)
            from ipykernel.kernelapp import IPKernelApp
            from jupyter_client.connect import write_connection_file

            connection_file, _ = write_connection_file(
                f"{folder}/kernel.json", transport="ipc", ip=f"{folder}/ipc"
            )
            app = IPKernelApp.instance()
            app.initialize(["-f", connection_file, "--HistoryManager.hist_file=:memory:"])
            app.shell.run_cell("1", store_history=True)  # and what a first cell imports (as nbclient runs it)
            told = {"modules": list(sys.modules)}
        except BaseException as exc:
            told = {"error": f"{exc!r}"}
        try:
            os.write(write_end, json.dumps(told).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 1 << 16):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(child, 0)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        told = json.loads(b"".join(chunks))
    except ValueError:
        return [], "the rehearsal ended without a word"
    return [name for name in told.get("modules", []) if name != "__main__"], told.get("error")


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[1]))
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    before = dict(os.environ)
    problems = []
    with contextlib.redirect_stdout(IMPORTS_SAID), contextlib.redirect_stderr(IMPORTS_SAID):
        for name in argv[2:]:
            try:
                importlib.import_module(name)
            except Exception as exc:
                problems.append(f"cannot import {name}: {exc!r}")
        rehearsed, error = rehearse()
        if error is not None:
            problems.append(f"the rehearsal of a kernel's start failed: {error}")
        for name in rehearsed:  # (a module's own imports may come before it: some fail alone)
            if name not in sys.modules:
                with contextlib.suppress(Exception):
                    importlib.import_module(name)
    # Those imported still not: ones that exist only while a kernel runs, or are no files.
    left_out = [name for name in rehearsed if name not in sys.modules]
    IMPORTS_SET.update({k: v for k, v in os.environ.items() if before.get(k) != v})
    gc.collect()  # the imports' garbage, not frozen with the rest (fork_kernel)
    gc.freeze()
    hello = {
        "ready": True,
        "problems": problems,
        "modules": len(sys.modules),
        "rehearsed": len(rehearsed),
        "left_out": left_out,
        "frozen": gc.get_freeze_count(),
    }
    sock.send(json.dumps(hello).encode())
    serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
