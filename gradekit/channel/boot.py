"""A grading kernel's first cell, shipped on the channel: a short cell, its code on the
socket, compiled once per grading process.

What a grading kernel runs before any student code (the channel's server, the checks framework in
spec mode, gradekit.sandbox.kernel_tuning) is some 40 kB of Python. As a cell's source, IPython would
tokenize all of it twice (its input transformers), ipykernel would hash it with its pure-Python
murmur2 (the cell's file name, for the debugger) and the kernel would compile it: 0.02 s of every
submission (measured on this course: transformers 2.4 ms twice, murmur2 6.8 ms, compiling 7 ms).
Instead, `send` puts a `Boot` on the student's end of the channel before the kernel starts, as one
datagram, and the cell is `boot_code(fd)`: it reads that datagram (already there: it never waits)
and runs what it holds. The datagram carries the code compiled by the grader (marshal, for a kernel
of the grader's Python: same `importlib.util.MAGIC_NUMBER`) and its source, which a kernel of
another Python compiles itself, so a kernelspec on another Python still works.

The record is the grader's, read by the student's process before any student code runs; nothing
goes the other way (the grader never unmarshals what a student's process sends).

Record (one SOCK_SEQPACKET datagram; marshal's format for plain tuples, bytes and strings, which is
the same across Python 3 versions): (TAG, magic, marshal.dumps(code objects), ((name, source), ...)),
the last (name, source) being the main program, the others modules, in order.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import marshal
import socket
from dataclasses import dataclass

TAG = "gradekit-boot-1"
MAX_RECORD = 4 * 1024 * 1024  # bytes the kernel reads; a longer record is refused by `send`


@dataclass(frozen=True)
class Boot:
    """What a kernel runs first. `modules`: (name, source) of each module to make, in order, each
    executed in a fresh module registered in sys.modules under its name; `main`: then run with the
    globals `fd` (the channel's file descriptor in the kernel), `main` (the globals of the kernel's
    `__main__`, where the student's code runs) and the builtins."""

    modules: tuple[tuple[str, str], ...]
    main: str

    def record(self) -> bytes:
        """The datagram (see the module docstring), compiled once per process for each Boot."""
        return _record(self)


@functools.lru_cache(maxsize=8)
def _record(boot: Boot) -> bytes:
    sources = (*boot.modules, ("<gradekit boot>", boot.main))
    compiled = marshal.dumps(tuple(compile(text, name, "exec", dont_inherit=True) for name, text in sources))
    return marshal.dumps((TAG, importlib.util.MAGIC_NUMBER, compiled, sources))


def send(sock: socket.socket, boot: Boot) -> None:
    """Put `boot` on the channel for the student's end to read (before the kernel starts). Raises
    ValueError when the record is longer than a datagram may be (MAX_RECORD bytes, or the socket's
    send buffer, which is raised to fit where the system allows)."""
    data = boot.record()
    if len(data) > MAX_RECORD:
        raise ValueError(f"a kernel's boot record of {len(data)} bytes: at most {MAX_RECORD}")
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) < 2 * len(data):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2 * len(data))
    try:
        sock.send(data)
    except OSError as exc:  # EMSGSIZE: the system caps the send buffer (net.core.wmem_max)
        raise ValueError(f"a kernel's boot record of {len(data)} bytes is no datagram here: {exc}") from exc


def boot_code(fd: int) -> str:
    """The cell that runs what `send` put on the channel at file descriptor `fd` (in the kernel):
    `_gradekit_boot`'s source, called, then deleted (the student's namespace keeps no name of it)."""
    return f"{_BOOT_SOURCE}\n_gradekit_boot({int(fd)!r}, {TAG!r}, {MAX_RECORD!r})\ndel _gradekit_boot\n"


def _gradekit_boot(fd, tag, limit):
    """The kernel's side (the cell of `boot_code`; self-contained: it runs where gradekit is not):
    read the record on `fd`, make its modules, run its main program. Raises RuntimeError when no
    record is there or it is not one."""
    import builtins
    import importlib.util
    import marshal
    import socket
    import sys
    import types

    channel = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        data = channel.recv(limit, socket.MSG_DONTWAIT)
    except BlockingIOError:
        raise RuntimeError("the grader's boot record is not on the channel") from None
    finally:
        channel.close()
    try:
        kind, magic, compiled, sources = marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        raise RuntimeError(
            f"the channel's first datagram is not a boot record (this Python: {sys.version.split()[0]})"
        ) from None
    if kind != tag:
        raise RuntimeError(f"a boot record of another kind: {kind!r}")
    if magic == importlib.util.MAGIC_NUMBER:
        programs = marshal.loads(compiled)
    else:  # a kernel of another Python than the grader's
        programs = tuple(compile(text, name, "exec", dont_inherit=True) for name, text in sources)
    for (name, _), code in zip(sources[:-1], programs[:-1]):
        module = types.ModuleType(name)
        exec(code, module.__dict__)
        sys.modules[name] = module
    exec(programs[-1], {"__builtins__": builtins, "fd": fd, "main": vars(sys.modules["__main__"])})


_BOOT_SOURCE = inspect.getsource(_gradekit_boot)
