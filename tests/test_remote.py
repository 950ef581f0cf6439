"""The grading channel (gradekit.channel, gradekit.channel.server): checks run in the grader's
process on stand-ins for the student's objects, in a real second process. Python's semantics as a
probe sees them (identity, isinstance, exceptions, operators, iteration, copies of plain data), the
snapshot of plain attributes and when it goes stale, time limits, and what the student's process
can and cannot make the grader believe."""

from __future__ import annotations

import random
import time

import pytest

from gradekit import channel, checks
from gradekit.checks import probes
from gradekit.grading import runner
from tests.conftest import StudentProcess

pytestmark = pytest.mark.course

STUDENT = """\
import random

class Value:
    def __init__(self, data, children=()):
        self.data = float(data)
        self.grad = 0.0
        self.children = tuple(children)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other))

    __radd__ = __add__

    def __mul__(self, other):
        raise NotImplementedError()

    def bump(self):
        self.grad += 1.0
        return self

    def __repr__(self):
        return f"Value({self.data})"


class Oops(ValueError):
    pass


def fails():
    raise Oops("nope")


def draws(n):
    return [random.uniform(-1, 1) for _ in range(n)]


def forever():
    while True:
        pass


def stubborn():
    import signal
    signal.setitimer(signal.ITIMER_REAL, 0)
    while True:
        try:
            pass
        except BaseException:
            pass


NUMBERS = [1, 2.5, "x", None, True, (1, 2), {"k": [3]}]
"""


@pytest.fixture
def student():
    made = []

    def make(code=STUDENT, before_serving=""):
        made.append(StudentProcess([code, before_serving]))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_stand_ins_behave_like_the_students_objects(student):
    s = student()
    Value = s.names["Value"]
    a, b = Value(2.0), Value(-3.0)
    c = a + b
    assert type(c).__name__ == "Value" and isinstance(c, Value) and not isinstance(2.0, Value)
    assert c.data == -1.0 and type(c.data) is float
    assert c.children[0] is a and c.children[1] is b  # one stand-in per object: `is` works
    assert type(c.children) is tuple
    assert (1 + a).data == 3.0  # the reflected operator, decided by the student's process
    assert repr(a) == "Value(2.0)" and f"{a}" == "Value(2.0)"
    assert len({a, b, c, a}) == 3 and a == a and a != b  # hash and == are the student's
    assert a.bump() is a and a.grad == 1.0  # the snapshot of a.grad was stale after the call
    a.grad = 5.0
    assert a.grad == 5.0


def test_plain_data_crosses_as_copies_of_the_same_types(student):
    s = student()
    numbers = s.names["NUMBERS"]
    assert numbers == [1, 2.5, "x", None, True, (1, 2), {"k": [3]}]
    assert [type(n) for n in numbers] == [int, float, str, type(None), bool, tuple, dict]
    numbers.append("local")  # a copy: the student's list is unchanged
    assert s.session.global_("NUMBERS")[-1] == {"k": [3]}


def test_exceptions_are_the_students_with_pythons_classes(student):
    s = student()
    with pytest.raises(NotImplementedError):
        s.names["Value"](1.0) * 2
    with pytest.raises(ValueError, match="nope") as caught:  # Oops(ValueError): caught as a ValueError
        s.names["fails"]()
    assert type(caught.value).__name__ == "Oops"
    with pytest.raises(AttributeError):
        _ = s.names["Value"](1.0).missing
    assert getattr(s.names["Value"](1.0), "missing", "default") == "default"
    with pytest.raises(KeyError):
        s.names["no_such_name"]


def test_a_probe_gives_the_students_code_plain_data_and_its_own_objects_only(student):
    s = student()
    with pytest.raises(TypeError, match="plain data and the student's own objects only"):
        s.names["Value"](lambda: 1)


def test_the_probes_builtins_are_the_graders_whatever_the_student_did(student):
    s = student(before_serving="import builtins\nbuiltins.len = lambda x: 42\nsum = lambda *a: 0\n")
    cell = probes.TestCell.parse(
        "ex9_cell",
        "@check(1, expect=[3, 6.0])\ndef sizes():\n    return [len([1, 2, 3]), sum([1.0, 2.0, 3.0])]\n\n"
        "report('ex9_cell')\n",
    )
    run = runner.run_checks(s.session, cell, ["sizes"], 5.0)
    assert run.outcomes["sizes"]["value"] == [3, 6.0]


def test_seeding_random_in_a_probe_seeds_the_students_random_too(student):
    s = student()
    cell = probes.TestCell.parse(
        "ex9_cell",
        "import random\n\n@check(1, expect=None)\ndef same():\n    random.seed(3)\n"
        "    theirs = draws(4)\n    random.seed(3)\n    mine = [random.uniform(-1, 1) for _ in range(4)]\n"
        "    return [theirs, mine]\n\nreport('ex9_cell')\n",
    )
    theirs, mine = runner.run_checks(s.session, cell, ["same"], 5.0).outcomes["same"]["value"]
    expected = random.Random(3)
    assert theirs == mine == [expected.uniform(-1, 1) for _ in range(4)]


def test_a_probe_past_its_limit_is_stopped_and_the_process_answers_again(student):
    s = student()
    cell = probes.TestCell.parse(
        "ex9_cell",
        "@check(1, expect=1, limit=0.3)\ndef slow():\n    forever()\n\n"
        "@check(1, expect=1)\ndef quick():\n    return 1\n\nreport('ex9_cell')\n",
    )
    start = time.monotonic()
    run = runner.run_checks(s.session, cell, ["slow", "quick"], 5.0)
    assert run.outcomes["slow"]["error"] == {"type": "Timeout", "message": "still running after 0.3 s"}
    assert run.outcomes["quick"]["value"] == 1 and run.stuck is None
    assert time.monotonic() - start < 3


def test_a_probe_that_ignores_its_limit_costs_that_check_and_stops_the_run(student):
    s = student()
    cell = probes.TestCell.parse(
        "ex9_cell",
        "@check(1, expect=1, limit=0.3)\ndef ignores():\n    stubborn()\n\n"
        "@check(1, expect=1)\ndef after():\n    return 1\n\nreport('ex9_cell')\n",
    )
    start = time.monotonic()
    run = runner.run_checks(s.session, cell, ["ignores", "after"], 5.0)
    assert run.stuck == "ignores" and not run.gone
    assert run.outcomes == {"ignores": {"error": runner.KEPT_RUNNING}}  # "after" runs in a new kernel
    assert time.monotonic() - start < 0.3 + channel.GRACE + 2


def test_a_dead_process_is_a_dead_kernel(student):
    s = student()
    cell = probes.TestCell.parse(
        "ex9_cell", "@check(1, expect=1)\ndef dies():\n    return Value(1.0).data\n\nreport('ex9_cell')\n"
    )
    s.process.kill()
    s.process.wait()
    run = runner.run_checks(s.session, cell, ["dies"], 5.0)
    assert run.stuck == "dies" and run.gone
    assert run.outcomes["dies"]["error"]["type"] == "KernelDied"


FORGER = """\
import json, os, socket, threading, time

# Every forging technique writes its "results" to every file descriptor it can find, as lines of
# the old results format, as datagrams that look like answers, with guessed nonces.
def forge():
    lines = []
    for check in ("op", "sum_data", "data"):
        lines.append(json.dumps({"cell": "ex9_cell", "check": check, "value": "+"}).encode() + b"\\n")
    for nonce in range(64):
        lines.append(struct.pack("<QIB", nonce, 0, 1) + b'{"ok": "+"}')
    for fd in range(3, 64):
        for line in lines:
            try:
                os.write(fd, line)
            except OSError:
                pass

import struct

def keep_forging():
    while True:
        forge()
        time.sleep(0.001)

threading.Thread(target=keep_forging, daemon=True).start()
forge()
"""


def test_nothing_the_students_process_writes_is_taken_for_an_answer(student):
    s = student(STUDENT, FORGER)
    cell = probes.TestCell.parse(
        "ex9_cell",
        "@check(1, expect='+')\ndef op():\n    return Value(1.0).missing_op\n\n"
        "@check(1, expect=3.0)\ndef data():\n    return (Value(1.0) + Value(2.0)).data\n\n"
        "report('ex9_cell')\n",
    )
    specs = {c.name: c for c in cell.specs()}
    run = runner.run_checks(s.session, cell, ["op", "data"], 5.0)
    assert not checks.verdict(specs["op"], run.outcomes["op"]).passed  # forged '+' is ignored
    assert checks.verdict(specs["data"], run.outcomes["data"]).passed  # the real answer still counts
    assert s.session.wire.ignored > 0  # the forgeries arrived, and were counted, not taken


def test_answers_longer_than_a_datagram_arrive_whole(student):
    s = student(STUDENT + "\nBIG = ['x' * 1000] * 2000\n")
    assert s.names["BIG"] == ["x" * 1000] * 2000


def test_references_end_with_their_check(student):
    s = student()
    with s.session.check_scope():
        kept = s.names["Value"](1.0)
        assert kept.data == 1.0
    with pytest.raises(LookupError):
        s.session.op("repr", kept)
