"""The grader's side of the grading channel: checks run here, on the student's objects over there.

A check's probe is ordinary Python written for the student's notebook (`Value(2.0) + Value(-3.0)`,
`n.parameters()`, `isinstance(out, Value)`). When a submission is graded, the probe runs in the
grader's own process, in a `Namespace` whose missing names are the student's globals: `Value` is
then a `Remote`, a stand-in for the student's class in the student's sandboxed process, and every
operation on it (a call, an attribute, `+`, `==`, `len`, `hash`, `isinstance`, iteration) is a
question that process answers (gradekit.channel.server). Plain data (None, booleans, numbers,
strings, and lists, tuples, dicts and sets of them) crosses by value, as copies; every other
object stays where it is and crosses as a reference.

So a check's value is made here, by the grader's code, from answers to questions the grader chose:
no line the student's process writes can be a check's result, because no line it writes is
anything but an answer to the question pending at that moment (the grader takes, for each
question, the parts that carry that question's random nonce, and nothing else). The student's
process never sees a check's code, name or expected value: only the questions.

What differs from running the probe in the student's own kernel (the notebook's way):
- names the probe's test cell defines are the grader's; the rest are the student's, resolved once
  per check; Python's builtins are the grader's own, whatever the student did to theirs;
- lists, dicts and tuples the student's code returns are copies: change the student's objects
  through their attributes and methods, not through a list they returned;
- `random.seed(n)` in a probe seeds the student's `random` too (the probe's own draws come from
  a generator of the grader's, seeded the same way), so seeded starts are the same on both sides;
- a probe can give the student's code plain data and the student's own objects only.

Cost: one round trip per question (~40 us when both ends share a CPU, more across CPUs). Reads of
plain attributes cost nothing after the first: one snapshot brings those of the object and the
objects it reaches, valid until the next question that can run student code.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import math
import os
import random as _random
import secrets
import select
import socket
import struct
import time
import types
from collections.abc import Callable
from pathlib import Path

from gradekit.channel import server as remote_server

HEADER = struct.Struct("<QIB")
PART = remote_server.PART
GRACE = 2.0  # seconds past a probe's limit that the grader waits for an answer before it gives up
MAX_ANSWER = 32 * 1024 * 1024  # bytes of one answer; a longer one is refused
SNAPSHOT = 2000  # objects per snapshot
SERVER_SOURCE = Path(remote_server.__file__).read_text(encoding="utf-8")
PLAIN = (type(None), bool, int, float, str)


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
        "    module = types.ModuleType('gradekit_server')\n"
        "    exec(compile(source, 'gradekit_server', 'exec'), module.__dict__)\n"
        "    module.install(fd)\n"
        "    sys.modules['gradekit_server'] = module\n\n"
        f"_gradekit_channel({SERVER_SOURCE!r}, {int(fd)!r})\n"
        "del _gradekit_channel\n"
    )


def serve_code(cpu: int | None = None) -> str:
    """What the student's process runs where checks run: answer until the grader is done. `cpu`:
    the processor the grader asks from (see `pinned`)."""
    return (
        f"import gradekit_server as _gradekit_server\n_gradekit_server.serve({cpu!r})\ndel _gradekit_server\n"
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


class Session:
    """The grader's questions to one student process, and the stand-ins for its objects.

    `limit(seconds)` starts a probe's time: every question then tells the student's process how
    long its code may still run, and raises ProbeTimeout once that time is up; an answer that does
    not come within GRACE seconds after that raises Stuck. `check_scope()` brackets one check:
    the references made inside it are let go at its end."""

    def __init__(self, sock: socket.socket, cell_allowance: float = 10.0):
        self.wire = Wire(sock)
        self.types: dict[int, dict] = {}  # class reference -> its facts (remote_server.facts)
        self.classes: dict[str, type] = {}  # type name -> local stand-in class
        self.proxies: dict[int, Remote] = {}  # reference -> its stand-in (one per object: `is` works)
        self.snapshots: dict[int, tuple[int, dict]] = {}  # reference -> (epoch, plain attributes)
        self.epoch = 0  # questions asked that could run student code (snapshots are per epoch)
        self.deadline = time.monotonic() + cell_allowance
        self.cell_allowance = cell_allowance
        self.questions = 0
        self.highest = 0  # the highest reference seen
        self.random = _random.Random(0)  # the probes' own draws (see mirrored_random)

    # -- time ----------------------------------------------------------------------------------

    def limit(self, seconds: float) -> None:
        self.deadline = time.monotonic() + max(seconds, 0.001)

    def unlimited(self) -> None:
        self.deadline = time.monotonic() + self.cell_allowance

    def ready(self) -> None:
        """Wait (up to the cell allowance) until the student's process answers at all: what it
        runs before it serves (the student's definitions, a world's code) is not a check's time."""
        self.unlimited()
        self.ask("global", runs_code=False, name="__name__")

    # -- the wire ------------------------------------------------------------------------------

    def ask(self, op: str, runs_code: bool = True, **fields):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ProbeTimeout()
        if runs_code:
            self.epoch += 1
        self.questions += 1
        document = self.wire.ask({"op": op, "t": round(left, 4), **fields}, self.deadline + GRACE)
        for facts in document.get("types", ()):
            if isinstance(facts, dict) and isinstance(facts.get("id"), int):
                facts["names"] = frozenset(n for n in facts.get("names", ()) if isinstance(n, str))
                facts["methods"] = frozenset(n for n in facts.get("methods", ()) if isinstance(n, str))
                facts["mro"] = tuple(n for n in facts.get("mro", ()) if isinstance(n, int))
                self.types[facts["id"]] = facts
        if "error" in document:
            raise self.failure(document["error"])
        return self.unvalue(document.get("ok"))

    def done(self) -> None:
        """Tell the student's process to stop answering (its test cell then ends)."""
        self.deadline = time.monotonic() + self.cell_allowance
        self.wire.ask({"op": "done"}, time.monotonic() + GRACE)

    def failure(self, error) -> BaseException:
        """The local exception for an error the student's process answered."""
        if not isinstance(error, dict):
            return RemoteError("a malformed answer")
        name, base, message = error.get("type"), error.get("exc"), str(error.get("message") or "")
        if name == "Timeout":
            return ProbeTimeout()
        python = getattr(builtins, base, None) if isinstance(base, str) else None
        if not (isinstance(python, type) and issubclass(python, BaseException)):
            python = Exception
        if python in (KeyboardInterrupt, GeneratorExit):
            python = Exception
        if not isinstance(name, str) or not name.isidentifier():
            name = python.__name__
        if name == python.__name__:
            return python(message)
        key = f"exception {name} {python.__name__}"
        if key not in self.classes:
            self.classes[key] = type(name, (python,), {"__module__": "student"})
        return self.classes[key](message)

    # -- values ----------------------------------------------------------------------------------

    def value(self, obj, depth=0):
        """A local value as what the student's process reads: plain data, or its own objects."""
        kind = type(obj)
        if kind in PLAIN:
            return obj
        if depth > 20:
            raise TypeError("a value nested too deeply for the student's process")
        if isinstance(obj, Remote):
            session = object.__getattribute__(obj, "_s")
            if session is not self:
                raise TypeError("an object of another student's process")
            return {"#": "r", "id": object.__getattribute__(obj, "_n")}
        if isinstance(obj, RemoteMethod):
            return self.value(obj.resolve(), depth)
        if kind is list:
            return [self.value(v, depth + 1) for v in obj]
        if kind is tuple:
            return {"#": "t", "v": [self.value(v, depth + 1) for v in obj]}
        if kind is dict:
            return {
                "#": "d",
                "v": [[self.value(k, depth + 1), self.value(v, depth + 1)] for k, v in obj.items()],
            }
        if kind in (set, frozenset):
            return {"#": "s" if kind is set else "f", "v": [self.value(v, depth + 1) for v in obj]}
        raise TypeError(
            f"a check can give the student's code plain data and the student's own objects only, "
            f"not a {kind.__name__}"
        )

    def unvalue(self, data):
        if isinstance(data, list):
            return [self.unvalue(v) for v in data]
        if not isinstance(data, dict):
            return data
        tag = data.get("#")
        if tag == "r":
            return self.proxy(data)
        items = data.get("v") or []
        if tag == "t":
            return tuple(self.unvalue(v) for v in items)
        if tag == "d":
            return {self.unvalue(k): self.unvalue(v) for k, v in items}
        if tag == "s":
            return {self.unvalue(v) for v in items}
        if tag == "f":
            return frozenset(self.unvalue(v) for v in items)
        if tag == "it":
            return data
        if tag == "snap":
            return data
        raise RemoteError("a malformed answer")

    def proxy(self, data) -> Remote:
        number = data.get("id")
        if not isinstance(number, int):
            raise RemoteError("a malformed reference")
        self.highest = max(self.highest, number)
        found = self.proxies.get(number)
        if found is not None:
            return found
        facts = self.types.get(data.get("c"), {})
        cls = self.stand_in(str(facts.get("name") or "object"), data.get("k") == "class")
        found = object.__new__(cls)
        object.__setattr__(found, "_s", self)
        object.__setattr__(found, "_n", number)
        object.__setattr__(found, "_c", data.get("c"))
        self.proxies[number] = found
        return found

    def stand_in(self, name: str, is_class: bool) -> type:
        key = ("class " if is_class else "") + name
        if key not in self.classes:
            base = RemoteClass if is_class else Remote
            self.classes[key] = type(name if name.isidentifier() else "object", (base,), {"__slots__": ()})
        return self.classes[key]

    # -- scopes ----------------------------------------------------------------------------------

    def check_scope(self) -> _Scope:
        return _Scope(self)

    def forget(self, first: int) -> None:
        """Let go of every reference from `first` on (the student's process drops its objects)."""
        for number in [n for n in self.proxies if n >= first and n not in self.types]:
            del self.proxies[number]
            self.snapshots.pop(number, None)
        self.wire.tell({"op": "forget", "from": first})

    # -- questions -------------------------------------------------------------------------------

    def getattr(self, obj: Remote, name: str):
        number = object.__getattribute__(obj, "_n")
        facts = self.types.get(object.__getattribute__(obj, "_c"), {})
        if facts.get("plain") and not isinstance(obj, RemoteClass):
            known = self.snapshots.get(number)
            class_level = name in facts["names"]
            if (known is None or known[0] != self.epoch) and not class_level:
                self.snapshot(obj)
                known = self.snapshots.get(number)
            if known is not None and known[0] == self.epoch and name in known[1]:
                return self.unvalue(known[1][name])
            if class_level and name in facts["methods"]:
                return RemoteMethod(obj, name)
        return self.ask("getattr", obj=self.value(obj), name=name)

    def snapshot(self, obj: Remote) -> None:
        found = self.ask("attrs", runs_code=False, obj=self.value(obj), limit=SNAPSHOT)
        if isinstance(found, dict) and found.get("#") == "snap":
            for number, attrs in found.get("v", []):
                if isinstance(number, int) and isinstance(attrs, dict):
                    self.snapshots[number] = (self.epoch, attrs)

    def setattr(self, obj: Remote, name: str, value) -> None:
        self.ask("setattr", obj=self.value(obj), name=name, value=self.value(value))

    def call(self, fn, args, kwargs):
        return self.ask(
            "call",
            fn=self.value(fn),
            args=[self.value(a) for a in args],
            kwargs=self.value(dict(kwargs)),
        )

    def method(self, obj: Remote, name: str, args, kwargs):
        return self.ask(
            "method",
            obj=self.value(obj),
            name=name,
            args=[self.value(a) for a in args],
            kwargs=self.value(dict(kwargs)),
        )

    def op(self, name: str, *args):
        return self.ask("op", name=name, args=[self.value(a) for a in args])

    def iterate(self, obj):
        page = self.ask("iter", obj=self.value(obj))
        while True:
            if not isinstance(page, dict) or page.get("#") != "it":
                raise RemoteError("a malformed answer")
            yield from self.unvalue(page.get("items") or [])
            if page.get("done"):
                return
            page = self.ask("next", iter=self.value(self.unvalue(page.get("iter"))))

    def isinstance(self, instance, cls: RemoteClass) -> bool:
        facts = self.types.get(object.__getattribute__(cls, "_n"), {})
        mine = object.__getattribute__(cls, "_n")
        if facts.get("meta") and facts.get("module") != "builtins":
            if type(instance) in PLAIN or type(instance) in (list, tuple, dict, set, frozenset):
                return False  # plain data is never an instance of a class of the student's
            if isinstance(instance, Remote) and not isinstance(instance, RemoteClass):
                of = self.types.get(object.__getattribute__(instance, "_c"), {})
                if of.get("plain"):
                    return mine in of.get("mro", ())
        return bool(self.op("isinstance", instance, cls))

    def global_(self, name: str):
        return self.ask("global", runs_code=False, name=name)

    def seed(self, value) -> None:
        self.ask("seed", value=self.value(value))


class _Scope:
    def __init__(self, session: Session):
        self.session = session

    def __enter__(self):
        self.first = self.session.highest + 1
        return self

    def __exit__(self, *exc):
        with contextlib.suppress(Stuck):
            self.session.forget(self.first)
        return False


def _remote(name: str, *fixed: int) -> Callable:
    def method(self, *args):
        session = object.__getattribute__(self, "_s")
        values = list(args)
        order = [self, *values] if not fixed else [values[0], self]
        return session.op(name, *order)

    method.__name__ = f"__{name}__"
    return method


class Remote:
    """A stand-in for an object of the student's process (see the module docstring)."""

    __slots__ = ("__weakref__", "_c", "_n", "_s")

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name in _LOCAL_ONLY:
            raise AttributeError(name)
        return object.__getattribute__(self, "_s").getattr(self, name)

    def __setattr__(self, name, value):
        object.__getattribute__(self, "_s").setattr(self, name, value)

    def __delattr__(self, name):
        object.__getattribute__(self, "_s").ask(
            "delattr", obj=object.__getattribute__(self, "_s").value(self), name=name
        )

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self, "_s").call(self, args, kwargs)

    def __repr__(self):
        text = object.__getattribute__(self, "_s").op("repr", self)
        if not isinstance(text, str):
            raise TypeError("__repr__ returned non-string")
        return text

    def __str__(self):
        text = object.__getattribute__(self, "_s").op("str", self)
        if not isinstance(text, str):
            raise TypeError("__str__ returned non-string")
        return text

    def __format__(self, spec):
        return object.__getattribute__(self, "_s").op("format", self, spec)

    def __hash__(self):
        found = object.__getattribute__(self, "_s").op("hash", self)
        if type(found) is not int:
            raise TypeError("__hash__ method should return an integer")
        return found

    def __bool__(self):
        return object.__getattribute__(self, "_s").op("truth", self) is True

    def __len__(self):
        found = object.__getattribute__(self, "_s").op("len", self)
        if type(found) is not int:
            raise TypeError("an integer is required")
        return found

    def __iter__(self):
        return object.__getattribute__(self, "_s").iterate(self)

    def __contains__(self, item):
        return object.__getattribute__(self, "_s").op("contains", self, item) is True

    def __getitem__(self, key):
        return object.__getattribute__(self, "_s").op("getitem", self, key)

    def __setitem__(self, key, value):
        object.__getattribute__(self, "_s").op("setitem", self, key, value)

    def __delitem__(self, key):
        object.__getattribute__(self, "_s").op("delitem", self, key)

    def __float__(self):
        found = object.__getattribute__(self, "_s").op("float", self)
        if type(found) is not float:
            raise TypeError("__float__ returned non-float")
        return found

    def __int__(self):
        found = object.__getattribute__(self, "_s").op("int", self)
        if type(found) is not int:
            raise TypeError("__int__ returned non-int")
        return found

    def __index__(self):
        found = object.__getattribute__(self, "_s").op("index", self)
        if type(found) is not int:
            raise TypeError("__index__ returned non-int")
        return found

    def __round__(self, *args):
        return object.__getattribute__(self, "_s").op("round", self, *args)

    def __dir__(self):
        return object.__getattribute__(self, "_s").op("dir", self)

    def __enter__(self):
        return object.__getattribute__(self, "_s").method(self, "__enter__", (), {})

    def __exit__(self, *exc):
        return object.__getattribute__(self, "_s").method(self, "__exit__", (None, None, None), {})


_BINARY = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul")
_BINARY += ("and", "or", "xor", "lshift", "rshift")
for _name in _BINARY:
    _op = _name + "_" if _name in ("and", "or") else _name
    setattr(Remote, f"__{_name}__", _remote(_op))
    setattr(Remote, f"__r{_name}__", _remote(_op, 1))
    setattr(Remote, f"__i{_name}__", _remote("i" + _op))
for _name in ("neg", "pos", "abs", "invert", "lt", "le", "eq", "ne", "gt", "ge"):
    setattr(Remote, f"__{_name}__", _remote(_name))
Remote.__hash__ = Remote.__dict__["__hash__"]  # (defining __eq__ would have set it to None)
_LOCAL_ONLY = {
    "__getstate__", "__reduce__", "__reduce_ex__", "__copy__", "__deepcopy__", "__length_hint__",
    "__array__", "__array_interface__", "__array_struct__", "__fspath__", "__await__",
    "__aiter__", "__anext__", "__aenter__", "__aexit__", "__class_getitem__", "__mro_entries__",
    "__set_name__", "__init_subclass__", "__get__", "__set__", "__delete__", "__objclass__",
    "__wrapped__", "__signature__", "__text_signature__", "__func__", "__self__", "__code__",
    "__origin__", "__annotations__", "__slots__",
}  # fmt: skip


class RemoteClass(Remote):
    """A stand-in for a class of the student's process: `isinstance(x, Value)` asks, or reads the
    class's MRO when Python's own rules apply."""

    __slots__ = ()

    def __instancecheck__(self, instance):
        return object.__getattribute__(self, "_s").isinstance(instance, self)

    def __subclasscheck__(self, subclass):
        return bool(object.__getattribute__(self, "_s").op("issubclass", subclass, self))


class RemoteMethod:
    """`obj.name` where `name` is a method of obj's class: calling it is one question."""

    __slots__ = ("name", "obj")

    def __init__(self, obj: Remote, name: str):
        self.obj, self.name = obj, name

    def __call__(self, *args, **kwargs):
        return object.__getattribute__(self.obj, "_s").method(self.obj, self.name, args, kwargs)

    def resolve(self):
        session = object.__getattribute__(self.obj, "_s")
        return session.ask("getattr", obj=session.value(self.obj), name=self.name)

    def __getattr__(self, name):
        return getattr(self.resolve(), name)

    def __repr__(self):
        return repr(self.resolve())


# -- The probes' namespace ------------------------------------------------------------------------


class Namespace(dict):
    """The globals of a test cell's code in the grader: its own definitions, then the student's
    globals (asked for once per check, kept as stand-ins), then the grader's builtins."""

    def __init__(self, session: Session, given: dict):
        super().__init__(given)
        self.session = session
        self.resolved: set[str] = set()  # the student's names asked for in the current check
        self.in_check = False
        builtin = dict(vars(builtins))
        mirror = mirrored_random(session)
        real_import = builtins.__import__

        def grader_import(name, globals=None, locals=None, fromlist=(), level=0):
            if name == "random" and level == 0:
                return mirror
            return real_import(name, globals, locals, fromlist, level)

        builtin["__import__"] = grader_import
        self["__builtins__"] = builtin
        self.builtin = builtin

    def __missing__(self, name):
        if name in self.builtin:
            raise KeyError(name)
        try:
            found = self.session.global_(name)
        except NameError:
            raise KeyError(name) from None
        self[name] = found
        if self.in_check:
            self.resolved.add(name)
        return found

    def end_check(self) -> None:
        """Drop the student's names asked for during a check (they are asked again in the next)."""
        for name in self.resolved:
            self.pop(name, None)
        self.resolved.clear()
        self.in_check = False


def mirrored_random(session: Session) -> types.ModuleType:
    """A stand-in for the module `random` in a test cell: its functions draw from a generator of
    the grader's, and `seed` seeds that generator and the student's `random` alike."""
    mirror = types.ModuleType("random")
    generator = session.random
    for name in dir(_random):
        if not name.startswith("_"):
            found = getattr(_random, name)
            bound = getattr(generator, name, None)
            setattr(mirror, name, bound if callable(bound) and not isinstance(found, type) else found)

    def seed(a=None, version=2):
        generator.seed(a, version)
        session.seed(a)

    mirror.seed = seed
    return mirror


__all__ = [
    "GRACE",
    "Namespace",
    "ProbeTimeout",
    "Remote",
    "RemoteClass",
    "Session",
    "Stuck",
    "channel_pair",
    "serve_code",
    "server_code",
]
