"""The channel's wire: one question out, its answer in, on a SOCK_SEQPACKET socket.

Each message is one datagram (13-byte header: nonce u64, part u32, last u8; then JSON), so whatever
else the student's process writes there can never join, split or corrupt a message; every question
carries a fresh 64-bit nonce from the operating system's random source, and only datagrams with the
pending question's nonce are its answer. Everything else is read, counted and dropped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import select
import socket
import struct
import time
from pathlib import Path

from gradekit.channel import server as remote_server

HEADER = struct.Struct("<QIB")
PART = remote_server.PART
GRACE = 2.0  # seconds past a probe's limit that the grader waits for an answer before it gives up
MAX_ANSWER = 32 * 1024 * 1024  # bytes of one answer; a longer one is refused
SERVER_SOURCE = Path(remote_server.__file__).read_text(encoding="utf-8")
SERVER_MODULE = ("gradekit_server", SERVER_SOURCE)  # (its name in the student's process, its source)


class ProbeTimeout(BaseException):
    """A probe ran past its limit (the student's code was stopped and answered so)."""


class Stuck(BaseException):
    """The student's process stopped answering (it ignored its time limit, died, or broke the
    channel): nothing more can be asked of it. `seconds`: how long the grader waited."""


class RemoteError(RuntimeError):
    """A question the student's process could not answer for a reason of the channel's."""


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(the grader's end, the student's end) of a new channel."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def server_code(fd: int) -> str:
    """What the student's process runs first: this channel's server on file descriptor `fd`, as the
    module `gradekit_server` (its `serve()` answers until the grader is done)."""
    return (
        "def _gradekit_channel(source, fd):\n"
        "    import sys, types\n"
        f"    module = types.ModuleType({SERVER_MODULE[0]!r})\n"
        "    exec(compile(source, 'gradekit_server', 'exec'), module.__dict__)\n"
        "    module.install(fd)\n"
        f"    sys.modules[{SERVER_MODULE[0]!r}] = module\n\n"
        f"_gradekit_channel({SERVER_SOURCE!r}, {int(fd)!r})\n"
        "del _gradekit_channel\n"
    )


def serve_code(cpu: int | None = None) -> str:
    """What the student's process runs where checks run: answer until the grader is done. `cpu`:
    the processor the grader asks from (see `pinned`)."""
    return (
        f"import {SERVER_MODULE[0]} as _gradekit_server\n"
        f"_gradekit_server.serve({cpu!r})\ndel _gradekit_server\n"
    )


def current_cpu() -> int | None:
    """The processor this thread runs on now (Linux), or None."""
    try:
        fields = Path("/proc/thread-self/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[36])
    except (OSError, IndexError, ValueError):
        return None


class pinned:
    """Keep the calling thread on processor `cpu` for the duration (`with pinned(cpu):`): a question
    and its answer then take turns on one processor, with no wake-up across processors."""

    def __init__(self, cpu: int | None):
        self.cpu, self.mask = cpu, None

    def __enter__(self):
        if self.cpu is not None and hasattr(os, "sched_setaffinity"):
            try:
                self.mask = os.sched_getaffinity(0)
                if self.cpu in self.mask:
                    os.sched_setaffinity(0, {self.cpu})
                else:
                    self.mask = None
            except OSError:
                self.mask = None
        return self

    def __exit__(self, *exc):
        if self.mask is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, self.mask)
        return False


class Wire:
    """Questions out and answers in, on the grader's end of a SOCK_SEQPACKET channel."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        sock.settimeout(None)  # blocking: the time limit is the kernel's (SO_RCVTIMEO), no poll()
        self.waiting = None  # the receive timeout set now, in seconds
        self.buffer = bytearray(HEADER.size + PART + 64)
        self.ignored = 0  # datagrams that were no part of an answer to the question asked

    def ask(self, document: dict, until: float) -> dict:
        """Send `document`; the answer that carries its nonce, waited for until time.monotonic()
        reaches `until`. Raises Stuck when none comes."""
        nonce = secrets.randbits(64)
        self.send(nonce, document)
        return self.answer(nonce, until)

    def tell(self, document: dict) -> None:
        """Send `document`, which needs no answer."""
        self.send(secrets.randbits(64), document)

    def hung_up(self) -> bool:
        """Whether the other end of the channel is closed (every process holding it is gone)."""
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | select.POLLHUP)
        return any(event & select.POLLHUP for _, event in poller.poll(0))

    def drain_until_readable(self, other: int) -> None:
        """Read and drop whatever comes on the channel (it answers no question: none is asked)
        until file descriptor `other` is readable."""
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | select.POLLHUP)
        poller.register(other, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if other in events:
                return
            if events.get(self.sock.fileno(), 0) & select.POLLHUP:
                poller.unregister(self.sock.fileno())  # the student's process is gone
                continue
            try:
                while self.sock.recv_into(self.buffer, 0, socket.MSG_DONTWAIT):
                    self.ignored += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                poller.unregister(self.sock.fileno())

    def wait_at_most(self, seconds: float) -> None:
        """Let a receive block for at most `seconds` (rounded up to 10 ms steps, set only when it
        changes: one system call, not one per answer)."""
        step = max(0.01, math.ceil(seconds * 100) / 100)
        if self.waiting is None or step < self.waiting or step > 2 * self.waiting:
            whole = int(step)
            self.sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", whole, int((step - whole) * 1e6))
            )
            self.waiting = step

    def send(self, nonce: int, document: dict) -> None:
        data = json.dumps(document, separators=(",", ":")).encode()
        pieces = [data[i : i + PART] for i in range(0, len(data), PART)] or [b""]
        try:
            for index, piece in enumerate(pieces):
                self.sock.sendall(HEADER.pack(nonce, index, index == len(pieces) - 1) + piece)
        except OSError as exc:
            raise Stuck(f"the student's process is gone ({exc.strerror})") from None

    def answer(self, nonce: int, until: float) -> dict:
        parts: list[bytes] = []
        size = 0
        while True:
            left = until - time.monotonic()
            if left <= 0:
                raise Stuck("no answer in time")
            self.wait_at_most(left)
            try:
                size = self.sock.recv_into(self.buffer)
            except (BlockingIOError, TimeoutError):
                continue  # SO_RCVTIMEO ran out: the loop looks at the time again
            except OSError as exc:
                raise Stuck(f"the student's process is gone ({exc.strerror})") from None
            if not size:
                if self.hung_up():
                    raise Stuck("the student's process is gone")
                self.ignored += 1  # an empty datagram: no part of any answer
                continue
            datagram = bytes(self.buffer[:size])
            if len(datagram) < HEADER.size:
                self.ignored += 1
                continue
            number, part, last = HEADER.unpack_from(datagram)
            if number != nonce or part != len(parts):
                self.ignored += 1
                continue
            parts.append(datagram[HEADER.size :])
            size += len(datagram)
            if size > MAX_ANSWER:
                raise Stuck("an answer longer than the grader takes")
            if last:
                try:
                    document = json.loads(b"".join(parts))
                except (ValueError, RecursionError):
                    raise Stuck("an answer that is not JSON") from None
                if not isinstance(document, dict):
                    raise Stuck("an answer that is not an answer")
                return document
