"""The student's side of the grading channel: answers the grader's questions about its objects.

This file runs inside the student's process (the sandboxed kernel, or the process of a world of
error carried forward). The grader loads it there from this file's source, before any student
code runs, and calls `serve()` where a test cell stands in the notebook. Every check then runs in
the grader's own process (gradekit.channel.remote); what it needs of the student's code it asks here, one
question at a time: the value of a global name, an attribute, a call, an operator (`a + b`, `a ==
b`, `len(a)`, `hash(a)`, ...), a snapshot of some objects' attributes. The answer is plain data or a
*reference* (a number) to an object of this process, which the grader may name in later questions.

This side decides nothing and knows nothing of the checks: no check's name, code or expected value
ever reaches it. Whatever the student's code does to it (patch it, patch `json` or `os`, write to
its socket from a thread, a signal handler or a child process) can only change what this process
answers to the question it is asked, never which check a value belongs to or what the grader makes
of it.

Wire format (both ways): one message per SOCK_SEQPACKET datagram, a 13-byte header (nonce: u64,
part: u32, last: u8; little-endian) and a part of a JSON document; a document longer than one
datagram is split into parts with the same nonce. The grader draws a fresh random nonce for every
question and takes as the answer only parts that carry it, in order.
"""

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


class ProbeTimeout(BaseException):
    """The student's code ran past the time the grader gave it (raised by SIGALRM)."""


def make_server(fd, namespace):
    """`serve()`: answer the grader on the SOCK_SEQPACKET socket `fd` about the objects reachable
    from the dict `namespace` (the notebook's globals), until it says it is done. Everything used
    is captured here, before any student code can change it."""
    sock = socket.socket(fileno=fd)
    recv_into, send = sock.recv_into, sock.send
    pack, unpack_from = HEADER.pack, HEADER.unpack_from
    encoder = _json.make_encoder(
        None, _unencodable, _json.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    scan = _json.make_scanner(json.JSONDecoder())
    b_type, b_id, b_len, b_isinstance, b_issubclass = type, id, len, isinstance, issubclass
    b_getattr, b_setattr, b_delattr, b_repr, b_str, b_hash = getattr, setattr, delattr, repr, str, hash
    b_iter, b_next, b_format, b_dir, b_callable = iter, next, format, dir, callable
    b_list, b_tuple, b_dict, b_set, b_frozenset = list, tuple, dict, set, frozenset
    b_int, b_float, b_str_t, b_bool, b_object = int, float, str, bool, object
    obj_getattribute, obj_setattr = object.__getattribute__, object.__setattr__
    type_dict = type.__dict__["__dict__"].__get__
    type_mro = type.__dict__["__mro__"].__get__
    type_name = type.__dict__["__qualname__"].__get__
    exc_names = {
        c for c in vars(builtins).values() if b_isinstance(c, type) and b_issubclass(c, BaseException)
    }
    setitimer, set_handler, real_timer = signal.setitimer, signal.signal, signal.ITIMER_REAL
    seed = random.seed
    getaffinity, setaffinity = getattr(os, "sched_getaffinity", None), getattr(os, "sched_setaffinity", None)

    def pin(cpu):
        if cpu is None or getaffinity is None:
            return None
        try:
            mask = getaffinity(0)
            if cpu in mask:
                setaffinity(0, {cpu})
                return mask
        except OSError:
            pass
        return None

    def unpin(mask):
        with contextlib.suppress(OSError):
            setaffinity(0, mask)

    function = b_type(make_server)
    utf8 = "utf-8"
    ops = {
        name: b_getattr(operator, name)
        for name in [
            "add",
            "sub",
            "mul",
            "truediv",
            "floordiv",
            "mod",
            "pow",
            "matmul",
            "and_",
            "or_",
            "xor",
            "lshift",
            "rshift",
            "iadd",
            "isub",
            "imul",
            "itruediv",
            "ifloordiv",
            "imod",
            "ipow",
            "imatmul",
            "iand",
            "ior",
            "ixor",
            "ilshift",
            "irshift",
            "neg",
            "pos",
            "abs",
            "invert",
            "lt",
            "le",
            "eq",
            "ne",
            "gt",
            "ge",
            "getitem",
            "setitem",
            "delitem",
            "contains",
            "index",
            "truth",
        ]
    }
    ops.update(len=b_len, hash=b_hash, repr=b_repr, str=b_str, format=b_format, float=b_float, int=b_int)
    ops.update(round=round, dir=lambda o: sorted(b_dir(o)), bool=b_bool, complex=complex, bytes=bytes)
    ops.update(isinstance=b_isinstance, issubclass=b_issubclass, callable=b_callable)

    objects = {}  # reference -> object
    by_id = {}  # id(object) -> reference
    described = set()  # types whose description the grader has
    local = {}  # class reference -> what this side needs of its facts (snapshots)
    state = {"next": 1, "types": []}
    buffer = bytearray(HEADER.size + PART + 64)

    # -- references and values -------------------------------------------------------------------

    def ref(obj):
        key = b_id(obj)
        number = by_id.get(key)
        if number is None or objects.get(number) is not obj:
            number = state["next"]
            state["next"] = number + 1
            objects[number] = obj
            by_id[key] = number
        cls = b_type(obj)
        kind = "class" if b_isinstance(obj, type) else "object"
        answer = {"#": "r", "id": number, "k": kind, "c": describe(cls)}
        if kind == "class":
            answer["self"] = describe(obj)
        return answer

    def describe(cls):
        """The reference of class `cls`; its facts are sent with the first answer that names it."""
        number = by_id.get(b_id(cls))
        if number is None or objects.get(number) is not cls:
            number = state["next"]
            state["next"] = number + 1
            objects[number] = cls
            by_id[b_id(cls)] = number
        if number not in described:
            described.add(number)
            mro = type_mro(cls)
            for base in mro[1:]:
                describe(base)
            state["types"].append(facts(number, cls, mro))
        return number

    def facts(number, cls, mro):
        """What the grader needs to know of a class to answer some questions itself: its name, its
        MRO, its attribute names, and whether getattr and isinstance behave as Python's own."""
        names, data, slots = set(), set(), {}
        dict_plain, class_plain = True, True
        for base in mro:
            for name, member in type_dict(base).items():
                if name in names:
                    continue
                names.add(name)
                kind = b_type(member)
                if type_name(kind) == "member_descriptor":
                    if type.__dict__["__flags__"].__get__(base) & HEAPTYPE:
                        slots[name] = member  # a __slots__ entry of a class written in Python
                elif has_member(kind, "__set__") or has_member(kind, "__delete__"):
                    data.add(name)
                if name == "__dict__" and type_name(kind) != "getset_descriptor":
                    dict_plain = False
                if name == "__class__" and base is not b_object:
                    class_plain = False
        getattribute = first_member(mro, "__getattribute__")
        # only classes written in Python have the attributes a snapshot reads (instances of
        # functions, modules, builtins hold the interpreter's own: globals, closures...)
        heap = bool(type.__dict__["__flags__"].__get__(cls) & HEAPTYPE)
        plain = heap and getattribute is obj_getattribute and dict_plain and class_plain
        local[number] = {"plain": plain, "data": data, "slots": slots}
        return {
            "id": number,
            "name": _safe_name(type_name(cls)),
            "module": _safe_name(str(type_dict(cls).get("__module__", ""))),
            "mro": [by_id[b_id(b)] for b in mro],
            "names": sorted(names - b_set(slots))[:5000],
            "plain": plain,
            "setattr": first_member(mro, "__setattr__") is obj_setattr,
            "meta": b_type(cls) is type,
            "methods": sorted(n for n in names if b_type(first_member(mro, n)) is function)[:5000],
            "exc": next((b.__name__ for b in mro if b in exc_names), None),
        }

    def first_member(mro, name):
        for base in mro:
            members = type_dict(base)
            if name in members:
                return members[name]
        return None

    def has_member(kind, name):
        return any(name in type_dict(base) for base in type_mro(kind))

    def value(obj, depth=0, budget=None):
        """`obj` as JSON: plain data by value, everything else as a reference."""
        budget = budget if budget is not None else [MAX_ITEMS]
        kind = b_type(obj)
        if obj is None or kind is b_bool or kind is b_str_t or kind is b_float:
            return obj
        if kind is b_int:
            return obj if -(2**63) < obj < 2**63 else ref(obj)
        if depth < MAX_DEPTH and kind in (b_list, b_tuple, b_dict, b_set, b_frozenset):
            size = b_len(obj)
            if size <= budget[0]:
                budget[0] -= size
                if kind is b_list:
                    return [value(v, depth + 1, budget) for v in obj]
                if kind is b_dict:
                    return {
                        "#": "d",
                        "v": [
                            [value(k, depth + 1, budget), value(v, depth + 1, budget)] for k, v in obj.items()
                        ],
                    }
                tag = "t" if kind is b_tuple else "s" if kind is b_set else "f"
                return {"#": tag, "v": [value(v, depth + 1, budget) for v in obj]}
        return ref(obj)

    def unvalue(data):
        """What the grader sent, as objects of this process."""
        kind = b_type(data)
        if kind is b_list:
            return [unvalue(v) for v in data]
        if kind is b_dict:
            tag = data.get("#")
            if tag == "r":
                number = data.get("id")
                if number not in objects:
                    raise LookupError(f"no object {number!r} here (a reference of a check that ended)")
                return objects[number]
            items = data.get("v", [])
            if tag == "t":
                return b_tuple(unvalue(v) for v in items)
            if tag == "d":
                return {unvalue(k): unvalue(v) for k, v in items}
            if tag == "s":
                return b_set(unvalue(v) for v in items)
            if tag == "f":
                return b_frozenset(unvalue(v) for v in items)
            raise ValueError(f"unknown value tag {tag!r}")
        return data

    # -- questions ---------------------------------------------------------------------------------

    def snapshot(start, limit):
        """The plain attributes of `start` and of the objects they reach (breadth first, at most
        `limit` objects), as `getattr` would return them, read without running any code of the
        student's: only objects whose class keeps Python's own attribute lookup, only attributes
        of the instance's __dict__ that no data descriptor (a property) hides, and slots."""
        found, queue, seen = [], [start], {b_id(start)}
        while queue and b_len(found) < limit:
            obj = queue.pop(0)
            if b_isinstance(obj, type):
                continue
            cls = b_type(obj)
            facts_of = local[describe(cls)]
            if not facts_of["plain"]:
                continue
            attrs = {}
            try:
                own = obj_getattribute(obj, "__dict__")
            except AttributeError:
                own = None
            if b_type(own) is b_dict:
                for name, item in b_list(own.items()):
                    if (
                        b_type(name) is b_str_t
                        and name not in facts_of["data"]
                        and name not in facts_of["slots"]
                    ):
                        attrs[name] = item
            for name, member in facts_of["slots"].items():
                with contextlib.suppress(AttributeError):
                    attrs[name] = member.__get__(obj, cls)
            found.append([ref(obj)["id"], {name: value(item) for name, item in attrs.items()}])
            for item in attrs.values():
                for child in refs_in(item):
                    if b_id(child) not in seen:
                        seen.add(b_id(child))
                        queue.append(child)
        return {"#": "snap", "v": found}

    def refs_in(item, depth=0):
        """The objects (not plain data) in an attribute's value, one level into lists and tuples."""
        kind = b_type(item)
        if item is None or kind in (b_bool, b_str_t, b_float, b_int):
            return ()
        if kind in (b_list, b_tuple) and depth < 2:
            out = []
            for v in item[:MAX_ITEMS]:
                out.extend(refs_in(v, depth + 1))
            return out
        if kind in (b_list, b_tuple, b_dict, b_set, b_frozenset):
            return ()
        return (item,)

    def answer(question):
        op = question["op"]
        if op == "global":
            name = question["name"]
            if name not in namespace:
                raise NameError(f"name {name!r} is not defined")
            return value(namespace[name])
        if op == "getattr":
            return value(b_getattr(unvalue(question["obj"]), question["name"]))
        if op == "setattr":
            b_setattr(unvalue(question["obj"]), question["name"], unvalue(question["value"]))
            return None
        if op == "delattr":
            b_delattr(unvalue(question["obj"]), question["name"])
            return None
        if op == "call":
            args = unvalue(question.get("args", []))
            kwargs = unvalue(question.get("kwargs", {"#": "d", "v": []}))
            return value(unvalue(question["fn"])(*args, **kwargs))
        if op == "method":
            args = unvalue(question.get("args", []))
            kwargs = unvalue(question.get("kwargs", {"#": "d", "v": []}))
            return value(b_getattr(unvalue(question["obj"]), question["name"])(*args, **kwargs))
        if op == "op":
            function = ops[question["name"]]
            return value(function(*unvalue(question["args"])))
        if op == "iter":
            iterator = b_iter(unvalue(question["obj"]))
            return next_items(iterator, question.get("count", 256))
        if op == "next":
            return next_items(unvalue(question["iter"]), question.get("count", 256))
        if op == "attrs":
            return snapshot(unvalue(question["obj"]), b_int(question.get("limit", MAX_SNAPSHOT)))
        if op == "seed":
            seed(unvalue(question["value"]))
            return None
        raise ValueError(f"unknown question {op!r}")

    def next_items(iterator, count):
        items = []
        for _ in range(b_int(count)):
            try:
                items.append(b_next(iterator))
            except StopIteration:
                return {"#": "it", "done": True, "items": value(items), "iter": None}
        return {"#": "it", "done": False, "items": value(items), "iter": ref(iterator)}

    # -- the wire ------------------------------------------------------------------------------------

    def receive():
        """The next question from the grader (None: the grader is gone)."""
        parts, nonce = [], None
        while True:
            size = recv_into(buffer)
            if size == 0:
                return None, None
            if size < HEADER.size:
                continue
            number, part, last = unpack_from(buffer)
            if part == 0:
                parts, nonce = [], number
            elif number != nonce or part != b_len(parts):
                continue
            parts.append(bytes(buffer[HEADER.size : size]))
            if last:
                text = b"".join(parts).decode(utf8)
                return nonce, scan(text, 0)[0]

    def reply(nonce, document):
        data = "".join(encoder(document, 0)).encode(utf8)
        pieces = [data[i : i + PART] for i in range(0, b_len(data), PART)] or [b""]
        for index, piece in enumerate(pieces):
            send(pack(nonce, index, index == b_len(pieces) - 1) + piece)

    running = [False]  # whether the student's code runs now (the only time a time limit bites)

    def alarm(signum, frame):
        if running[0]:
            raise ProbeTimeout()

    def forget(first):
        for number in [n for n in objects if n >= first and n not in described]:
            obj = objects.pop(number)
            if by_id.get(b_id(obj)) == number:
                del by_id[b_id(obj)]

    def respond(nonce, question):
        seconds = question.get("t")
        try:
            try:
                running[0] = True
                if seconds is not None:
                    setitimer(real_timer, b_float(seconds), 0.25)
                result = {"ok": answer(question)}
            finally:
                running[0] = False
                setitimer(real_timer, 0)
        except ProbeTimeout:
            result = {"error": {"type": "Timeout", "exc": None, "message": ""}}
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too: answered
            result = {"error": failure(exc)}
        if state["types"]:
            result["types"] = state["types"]
            state["types"] = []
        try:
            reply(nonce, result)
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            problem = {
                "type": "ValueError",
                "exc": "ValueError",
                "message": f"the answer could not be sent: {exc}",
            }
            reply(nonce, {"error": problem})

    def serve(cpu=None):
        """Answer questions until the grader says it is done (or goes away). `cpu`: the processor
        the grader asks from; answering from the same one saves a wake-up across processors per
        question (several times the cost of the question itself on a virtual machine). A timer
        or a signal handler of the student's cannot stop this loop: the interval timer is held
        while it runs, and an exception raised while it waits for a question is ignored."""
        previous = set_handler(signal.SIGALRM, alarm)
        timer = signal.getitimer(real_timer)
        setitimer(real_timer, 0)
        mask = pin(cpu)
        try:
            while True:
                try:
                    nonce, question = receive()
                except OSError:
                    return  # the socket is gone
                except BaseException:
                    continue  # a signal handler of the student's raised while this waited
                if question is None:
                    return
                op = question.get("op") if b_type(question) is b_dict else None
                if op == "done":
                    reply(nonce, {"ok": None})
                    return
                if op == "forget":
                    forget(question.get("from", 0))
                elif op is not None:
                    respond(nonce, question)
        finally:
            set_handler(signal.SIGALRM, previous)
            if timer[0] > 0:
                setitimer(real_timer, *timer)
            if mask is not None:
                unpin(mask)

    def failure(exc):
        cls = b_type(exc)
        try:
            message = b_str(exc)
        except BaseException:
            message = ""
        if b_type(message) is not b_str_t:
            message = ""
        mro = type_mro(cls)
        return {
            "type": _safe_name(type_name(cls)),
            "exc": next((b.__name__ for b in mro if b in exc_names), "Exception"),
            "message": message[:300],
        }

    return serve


def _unencodable(obj):
    raise TypeError(f"not plain data: {type(obj).__name__}")


def _safe_name(name):
    name = name if isinstance(name, str) else "object"
    name = name.rsplit(".", 1)[-1][:60]
    return name if name.isidentifier() else "object"


def install(fd, namespace=None):
    """Make `serve` of this module answer on `fd` about `namespace` (default: __main__'s globals)."""
    global serve
    if namespace is None:
        namespace = vars(sys.modules["__main__"])
    serve = make_server(fd, namespace)
    return serve


serve = None
