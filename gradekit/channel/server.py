"""The student's side of the grading channel: answers the grader's questions about its objects.

This file runs inside the student's process (the sandboxed kernel, or the process of a world of
error carried forward). The grader loads it there from this file's source, before any student
code runs, and calls `serve()` where a test cell stands in the notebook. Every check then runs in
the grader's own process (gradekit.channel); what it needs of the student's code it asks here, one
question at a time: the value of a global name, an attribute, a call, an operator (`a + b`, `a ==
b`, `len(a)`, `hash(a)`, ...), a snapshot of some objects' attributes. The answer is plain data or a
*reference* (a number) to an object of this process, which the grader may name in later questions.

This side decides nothing and knows nothing of the checks: no check's name, code or expected value
ever reaches it. Whatever the student's code does to it (patch it, patch `json` or `os`, write to
its socket from a thread, a signal handler or a child process) can only change what this process
answers to the question it is asked, never which check a value belongs to or what the grader makes
of it. What it uses is captured when this file is loaded, so that ordinary patching of `json`,
`os` or the builtins afterwards does not garble its answers.

Wire format (both ways): one message per SOCK_SEQPACKET datagram, a 13-byte header (nonce: u64,
part: u32, last: u8; little-endian) and a part of a JSON document; a document longer than one
datagram is split into parts with the same nonce. The grader draws a fresh random nonce for every
question and takes as the answer only parts that carry it, in order.

It uses the standard library only.
"""
# Longer than ~400 lines on purpose: one file, because it is sent to the student's process as its
# source and runs there alone, before anything else is imported.

import _json
import builtins
import contextlib
import json
import operator
import os
import random
import signal
import socket
import struct
import sys

HEADER = struct.Struct("<QIB")
PART = 128 * 1024  # bytes of JSON per datagram (the default socket buffer holds ~200 kB)
MAX_ITEMS = 100_000  # items of one answer sent by value; beyond, the container goes as a reference
MAX_DEPTH = 12  # nesting sent by value; deeper parts go as references
MAX_SNAPSHOT = 4000  # objects in one snapshot
HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement

# What the answers are made with, captured now, before any student code runs.
_type, _id, _len, _isinstance, _issubclass = type, id, len, isinstance, issubclass
_getattr, _setattr, _delattr, _repr, _str, _hash = getattr, setattr, delattr, repr, str, hash
_iter, _next, _format, _dir, _callable, _sorted = iter, next, format, dir, callable, sorted
_list, _tuple, _dict, _set, _frozenset = list, tuple, dict, set, frozenset
_int, _float, _str_type, _bool, _object = int, float, str, bool, object
_getattribute, _object_setattr = object.__getattribute__, object.__setattr__
_type_dict = type.__dict__["__dict__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
_type_name = type.__dict__["__qualname__"].__get__
_type_flags = type.__dict__["__flags__"].__get__
_EXCEPTIONS = {c for c in vars(builtins).values() if isinstance(c, type) and issubclass(c, BaseException)}
_setitimer, _getitimer, _set_handler, _REAL = (
    signal.setitimer,
    signal.getitimer,
    signal.signal,
    signal.ITIMER_REAL,
)
_seed = random.seed
_getaffinity = getattr(os, "sched_getaffinity", None)
_setaffinity = getattr(os, "sched_setaffinity", None)


def _unencodable(obj):
    raise TypeError(f"not plain data: {type(obj).__name__}")


_ENCODE = _json.make_encoder(
    None, _unencodable, _json.encode_basestring_ascii, None, ":", ",", False, False, True
)
_SCAN = _json.make_scanner(json.JSONDecoder())
_OPERATOR_NAMES = (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_", "or_", "xor",
    "lshift", "rshift", "iadd", "isub", "imul", "itruediv", "ifloordiv", "imod", "ipow", "imatmul",
    "iand", "ior", "ixor", "ilshift", "irshift", "neg", "pos", "abs", "invert", "lt", "le", "eq",
    "ne", "gt", "ge", "getitem", "setitem", "delitem", "contains", "index", "truth",
)  # fmt: skip
_OPERATORS = {name: getattr(operator, name) for name in _OPERATOR_NAMES}
_OPERATORS.update(len=len, hash=hash, repr=repr, str=str, format=format, float=float, int=int, round=round)
_OPERATORS.update(dir=lambda o: _sorted(_dir(o)), bool=bool, complex=complex, bytes=bytes)
_OPERATORS.update(isinstance=isinstance, issubclass=issubclass, callable=callable)
_PLAIN = (type(None), bool, str, float)
_CONTAINERS = (list, tuple, dict, set, frozenset)


class ProbeTimeout(BaseException):
    """The student's code ran past the time the grader gave it (raised by SIGALRM)."""


class Server:
    """The answers of one student process, on the SOCK_SEQPACKET socket `fd`, about the objects
    reachable from the dict `namespace` (the notebook's globals). It holds every object it has named
    (its references) until the grader lets them go."""

    def __init__(self, fd, namespace):
        sock = socket.socket(fileno=fd)
        self.recv_into, self.send = sock.recv_into, sock.send
        self.namespace = namespace
        self.objects = {}  # reference -> object
        self.by_id = {}  # id(object) -> reference
        self.described = _set()  # classes whose facts the grader has
        self.local = {}  # class reference -> what this side needs of its facts (snapshots)
        self.fresh_facts = []  # facts to send with the next answer
        self.next_reference = 1
        self.running = False  # whether the student's code runs now (the only time a limit bites)
        self.buffer = bytearray(HEADER.size + PART + 64)

    # -- references and values -------------------------------------------------------------------

    def number(self, obj):
        """The reference of `obj` (a new one if it has none)."""
        number = self.by_id.get(_id(obj))
        if number is None or self.objects.get(number) is not obj:
            number = self.next_reference
            self.next_reference = number + 1
            self.objects[number] = obj
            self.by_id[_id(obj)] = number
        return number

    def ref(self, obj):
        """`obj` as a reference, with its class's reference (and facts, the first time)."""
        kind = "class" if _isinstance(obj, type) else "object"
        answer = {"#": "r", "id": self.number(obj), "k": kind, "c": self.describe(_type(obj))}
        if kind == "class":
            answer["self"] = self.describe(obj)
        return answer

    def describe(self, cls):
        """The reference of class `cls`; its facts are sent with the first answer that names it."""
        number = self.number(cls)
        if number not in self.described:
            self.described.add(number)
            mro = _type_mro(cls)
            for base in mro[1:]:
                self.describe(base)
            self.fresh_facts.append(self.facts(number, cls, mro))
        return number

    def facts(self, number, cls, mro):
        """What the grader needs to know of a class to answer some questions itself: its name, its
        MRO, its attribute names, and whether getattr and isinstance behave as Python's own."""
        names, data, slots = _set(), _set(), {}
        dict_plain, class_plain = True, True
        for base in mro:
            for name, member in _type_dict(base).items():
                if name in names:
                    continue
                names.add(name)
                kind = _type(member)
                if _type_name(kind) == "member_descriptor":
                    if _type_flags(base) & HEAPTYPE:
                        slots[name] = member  # a __slots__ entry of a class written in Python
                elif has_member(kind, "__set__") or has_member(kind, "__delete__"):
                    data.add(name)
                if name == "__dict__" and _type_name(kind) != "getset_descriptor":
                    dict_plain = False
                if name == "__class__" and base is not _object:
                    class_plain = False
        # only classes written in Python have the attributes a snapshot reads (instances of
        # functions, modules, builtins hold the interpreter's own: globals, closures...)
        heap = _bool(_type_flags(cls) & HEAPTYPE)
        plain = heap and first_member(mro, "__getattribute__") is _getattribute and dict_plain and class_plain
        self.local[number] = {"plain": plain, "data": data, "slots": slots}
        return {
            "id": number,
            "name": safe_name(_type_name(cls)),
            "module": safe_name(_str(_type_dict(cls).get("__module__", ""))),
            "mro": [self.by_id[_id(b)] for b in mro],
            "names": _sorted(names - _set(slots))[:5000],
            "plain": plain,
            "setattr": first_member(mro, "__setattr__") is _object_setattr,
            "meta": _type(cls) is type,
            "methods": _sorted(n for n in names if _type(first_member(mro, n)) is _FUNCTION)[:5000],
            "exc": next((b.__name__ for b in mro if b in _EXCEPTIONS), None),
        }

    def value(self, obj, depth=0, budget=None):
        """`obj` as JSON: plain data by value, everything else as a reference."""
        budget = budget if budget is not None else [MAX_ITEMS]
        kind = _type(obj)
        if kind in _PLAIN:
            return obj
        if kind is _int:
            return obj if -(2**63) < obj < 2**63 else self.ref(obj)
        if depth < MAX_DEPTH and kind in _CONTAINERS and _len(obj) <= budget[0]:
            budget[0] -= _len(obj)
            if kind is _list:
                return [self.value(v, depth + 1, budget) for v in obj]
            if kind is _dict:
                pairs = [
                    [self.value(k, depth + 1, budget), self.value(v, depth + 1, budget)]
                    for k, v in obj.items()
                ]
                return {"#": "d", "v": pairs}
            tag = "t" if kind is _tuple else "s" if kind is _set else "f"
            return {"#": tag, "v": [self.value(v, depth + 1, budget) for v in obj]}
        return self.ref(obj)

    def unvalue(self, data):
        """What the grader sent, as objects of this process."""
        kind = _type(data)
        if kind is _list:
            return [self.unvalue(v) for v in data]
        if kind is not _dict:
            return data
        tag, items = data.get("#"), data.get("v", [])
        if tag == "r":
            if data.get("id") not in self.objects:
                raise LookupError(f"no object {data.get('id')!r} here (a reference of a check that ended)")
            return self.objects[data["id"]]
        if tag == "t":
            return _tuple(self.unvalue(v) for v in items)
        if tag == "d":
            return {self.unvalue(k): self.unvalue(v) for k, v in items}
        if tag in ("s", "f"):
            return (_set if tag == "s" else _frozenset)(self.unvalue(v) for v in items)
        raise ValueError(f"unknown value tag {tag!r}")

    # -- questions ---------------------------------------------------------------------------------

    def answer(self, question):
        """The value that answers `question` (raises what the student's code raised)."""
        op, unvalue = question["op"], self.unvalue
        if op == "global":
            name = question["name"]
            if name not in self.namespace:
                raise NameError(f"name {name!r} is not defined")
            return self.value(self.namespace[name])
        if op == "getattr":
            return self.value(_getattr(unvalue(question["obj"]), question["name"]))
        if op == "setattr":
            _setattr(unvalue(question["obj"]), question["name"], unvalue(question["value"]))
            return None
        if op == "delattr":
            _delattr(unvalue(question["obj"]), question["name"])
            return None
        if op in ("call", "method"):
            args = unvalue(question.get("args", []))
            kwargs = unvalue(question.get("kwargs", {"#": "d", "v": []}))
            target = (
                unvalue(question["fn"])
                if op == "call"
                else _getattr(unvalue(question["obj"]), question["name"])
            )
            return self.value(target(*args, **kwargs))
        if op == "op":
            return self.value(_OPERATORS[question["name"]](*unvalue(question["args"])))
        if op == "iter":
            return self.next_items(_iter(unvalue(question["obj"])), question.get("count", 256))
        if op == "next":
            return self.next_items(unvalue(question["iter"]), question.get("count", 256))
        if op == "attrs":
            return self.snapshot(unvalue(question["obj"]), _int(question.get("limit", MAX_SNAPSHOT)))
        if op == "seed":
            _seed(unvalue(question["value"]))
            return None
        raise ValueError(f"unknown question {op!r}")

    def next_items(self, iterator, count):
        items = []
        for _ in range(_int(count)):
            try:
                items.append(_next(iterator))
            except StopIteration:
                return {"#": "it", "done": True, "items": self.value(items), "iter": None}
        return {"#": "it", "done": False, "items": self.value(items), "iter": self.ref(iterator)}

    def snapshot(self, start, limit):
        """The plain attributes of `start` and of the objects they reach (breadth first, at most
        `limit` objects), as `getattr` would return them, read without running any code of the
        student's: only objects whose class keeps Python's own attribute lookup, only attributes
        of the instance's __dict__ that no data descriptor (a property) hides, and slots."""
        found, queue, seen = [], [start], {_id(start)}
        while queue and _len(found) < limit:
            obj = queue.pop(0)
            attrs = None if _isinstance(obj, type) else self.plain_attributes(obj)
            if attrs is None:
                continue
            found.append([self.ref(obj)["id"], {name: self.value(item) for name, item in attrs.items()}])
            for item in attrs.values():
                for child in refs_in(item):
                    if _id(child) not in seen:
                        seen.add(_id(child))
                        queue.append(child)
        return {"#": "snap", "v": found}

    def plain_attributes(self, obj):
        """name -> value of `obj`'s plain attributes (see `snapshot`), None when it has none."""
        cls = _type(obj)
        known = self.local[self.describe(cls)]
        if not known["plain"]:
            return None
        attrs = {}
        try:
            own = _getattribute(obj, "__dict__")
        except AttributeError:
            own = None
        if _type(own) is _dict:
            for name, item in _list(own.items()):
                if _type(name) is _str_type and name not in known["data"] and name not in known["slots"]:
                    attrs[name] = item
        for name, member in known["slots"].items():
            with contextlib.suppress(AttributeError):
                attrs[name] = member.__get__(obj, cls)
        return attrs

    def forget(self, first):
        """Let go of every reference from `first` on (but the classes', which the grader keeps)."""
        for number in [n for n in self.objects if n >= first and n not in self.described]:
            obj = self.objects.pop(number)
            if self.by_id.get(_id(obj)) == number:
                del self.by_id[_id(obj)]

    # -- the wire ------------------------------------------------------------------------------------

    def receive(self):
        """The next question from the grader: (nonce, document); (None, None) when it is gone."""
        parts, nonce = [], None
        while True:
            size = self.recv_into(self.buffer)
            if size == 0:
                return None, None
            if size < HEADER.size:
                continue
            number, part, last = HEADER.unpack_from(self.buffer)
            if part == 0:
                parts, nonce = [], number
            elif number != nonce or part != _len(parts):
                continue
            parts.append(bytes(self.buffer[HEADER.size : size]))
            if last:
                return nonce, _SCAN(b"".join(parts).decode("utf-8"), 0)[0]

    def reply(self, nonce, document):
        data = "".join(_ENCODE(document, 0)).encode("utf-8")
        pieces = [data[i : i + PART] for i in range(0, _len(data), PART)] or [b""]
        for index, piece in enumerate(pieces):
            self.send(HEADER.pack(nonce, index, index == _len(pieces) - 1) + piece)

    # -- the loop --------------------------------------------------------------------------------------

    def alarm(self, signum, frame):
        if self.running:
            raise ProbeTimeout()

    def respond(self, nonce, question):
        """Answer one question within the seconds it allows the student's code."""
        seconds = question.get("t")
        try:
            try:
                self.running = True
                if seconds is not None:
                    _setitimer(_REAL, _float(seconds), 0.25)
                result = {"ok": self.answer(question)}
            finally:
                self.running = False
                _setitimer(_REAL, 0)
        except ProbeTimeout:
            result = {"error": {"type": "Timeout", "exc": None, "message": ""}}
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: answered
            result = {"error": failure(exc)}
        if self.fresh_facts:
            result["types"], self.fresh_facts = self.fresh_facts, []
        try:
            self.reply(nonce, result)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            problem = {
                "type": "ValueError",
                "exc": "ValueError",
                "message": f"the answer could not be sent: {exc}",
            }
            self.reply(nonce, {"error": problem})

    def serve(self, cpu=None):
        """Answer questions until the grader says it is done (or goes away). `cpu`: the processor
        the grader asks from; answering from the same one saves a wake-up across processors per
        question (several times the cost of the question itself on a virtual machine). A timer
        or a signal handler of the student's cannot stop this loop: the interval timer is held
        while it runs, and an exception raised while it waits for a question is ignored."""
        previous = _set_handler(signal.SIGALRM, self.alarm)
        timer = _getitimer(_REAL)
        _setitimer(_REAL, 0)
        mask = pin(cpu)
        try:
            while True:
                try:
                    nonce, question = self.receive()
                except OSError:
                    return  # the socket is gone
                except BaseException:
                    continue  # a signal handler of the student's raised while this waited
                if question is None:
                    return
                op = question.get("op") if _type(question) is _dict else None
                if op == "done":
                    self.reply(nonce, {"ok": None})
                    return
                if op == "forget":
                    self.forget(question.get("from", 0))
                elif op is not None:
                    self.respond(nonce, question)
        finally:
            _set_handler(signal.SIGALRM, previous)
            if timer[0] > 0:
                _setitimer(_REAL, *timer)
            if mask is not None:
                with contextlib.suppress(OSError):
                    _setaffinity(0, mask)


def failure(exc):
    """An exception of the student's code as the grader reads it: its class's name, its nearest
    class of Python's own, and its message (the student's __str__ may fail: then none)."""
    cls = _type(exc)
    try:
        message = _str(exc)
    except BaseException:
        message = ""
    if _type(message) is not _str_type:
        message = ""
    return {
        "type": safe_name(_type_name(cls)),
        "exc": next((b.__name__ for b in _type_mro(cls) if b in _EXCEPTIONS), "Exception"),
        "message": message[:300],
    }


def refs_in(item, depth=0):
    """The objects (not plain data) in an attribute's value, one level into lists and tuples."""
    kind = _type(item)
    if kind in _PLAIN or kind is _int:
        return ()
    if kind in (_list, _tuple) and depth < 2:
        out = []
        for v in item[:MAX_ITEMS]:
            out.extend(refs_in(v, depth + 1))
        return out
    return () if kind in _CONTAINERS else (item,)


def first_member(mro, name):
    for base in mro:
        members = _type_dict(base)
        if name in members:
            return members[name]
    return None


def has_member(kind, name):
    return any(name in _type_dict(base) for base in _type_mro(kind))


def safe_name(name):
    name = name if _isinstance(name, _str_type) else "object"
    name = name.rsplit(".", 1)[-1][:60]
    return name if name.isidentifier() else "object"


def pin(cpu):
    """Keep this thread on processor `cpu`; the mask it had, or None if nothing changed."""
    if cpu is None or _getaffinity is None:
        return None
    try:
        mask = _getaffinity(0)
        if cpu in mask:
            _setaffinity(0, {cpu})
            return mask
    except OSError:
        pass
    return None


_FUNCTION = type(pin)


def install(fd, namespace=None):
    """Make `serve` of this module answer on `fd` about `namespace` (default: __main__'s globals)."""
    global serve
    if namespace is None:
        namespace = vars(sys.modules["__main__"])
    serve = Server(fd, namespace).serve
    return serve


serve = None
