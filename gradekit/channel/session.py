"""The grader's questions to one student process (`Session`), and the stand-ins they make."""

from __future__ import annotations

import builtins
import contextlib
import random as _random
import socket
import time

from gradekit.channel.stand_ins import Remote, RemoteClass, RemoteMethod
from gradekit.channel.wire import GRACE, ProbeTimeout, RemoteError, Stuck, Wire

SNAPSHOT = 2000  # objects per snapshot
PLAIN = (type(None), bool, int, float, str)


class Session:
    """The grader's questions to one student process, and the stand-ins for its objects.

    `limit(seconds)` starts a probe's time: every question then tells the student's process how
    long its code may still run, and raises ProbeTimeout once that time is up; an answer that does
    not come within GRACE seconds after that raises Stuck. `check_scope()` brackets one check:
    the references made inside it are let go at its end."""

    def __init__(self, sock: socket.socket, cell_allowance: float = 10.0):
        self.wire = Wire(sock)
        self.types: dict[int, dict] = {}  # class reference -> its facts (gradekit.channel.server: facts)
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
