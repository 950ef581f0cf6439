"""Checks: the tests of this notebook, one named check at a time.

A test cell is a list of checks followed by `report(grade_id)`. A check is a small function, its
*probe*, that runs some of your code and returns what it saw as plain data (numbers, strings,
lists, dicts); `expect` says what it should have returned:

    @check(0.5, expect=-1.0, tests="Value.__add__", hint="out.data is self.data + other.data")
    def sum_data():
        return (Value(2.0) + Value(-3.0)).data

    report("ex1_add_mul")

Every check runs, whatever the others do, and earns its points when its probe returns `expect`
(numbers are compared with a relative tolerance `tol`), or, when `expect` is a function, when
that function, given what the probe returned, finds nothing wrong (it returns None, or a sentence
saying what is wrong). `report` prints which checks passed and raises an AssertionError that lists
every failed check, what was expected, what came instead and a hint, so the cell turns red and
nbgrader's Validate button lists it.

How the course grades with the same checks (gradekit.grading.judge): the grader runs every check in a
process of its own, on your objects in your (sandboxed) process, and judges what came back with the
same `verdict` function as this notebook; no check's code or expected value enters your process.
`tests` names the pieces of the solution a check is about: the grader runs a failed check again
with the reference solution in place of every other piece, so that one mistake costs only the
checks of the piece it is in ("error carried forward").

This cell is a copy of gradekit/checks/framework.py of the course kit. Please do not reuse the names
`check`, `report` and `identify` for your own things.
"""

import builtins
import json
import math
import time

__all__ = ["check", "identify", "report"]

LIMITS = {"string": 300, "items": 2000, "depth": 8, "bytes": 256 * 1024}


class Check:
    """One check of a test cell.

    `name`: unique within its cell; `points`: what it is worth (the points of a cell's checks add
    up to the cell's points); `probe`: a function of no arguments that returns plain data;
    `expect`: the data it must return, or a function of that data returning None (right) or a
    sentence (wrong); `hint`: what to look at when it fails; `tests`: the pieces it is about
    (e.g. "Value.__add__._backwards", "train"); `tol`: relative tolerance for numbers;
    `limit`: seconds the probe may run when graded (None: the grader's default).
    """

    __slots__ = ("expect", "hint", "limit", "name", "points", "probe", "result", "run", "tests", "tol")

    def __init__(self, name, points, probe, expect, hint, tests, tol, limit):
        self.name, self.points, self.probe, self.expect = name, float(points), probe, expect
        self.hint, self.tests, self.tol, self.limit = hint, tests, tol, limit
        self.result = None  # notebook mode: the Result, kept until `report`
        self.run = _cell_run()  # notebook mode: which run of a cell defined it


class Result:
    """What became of one check: plain data (see `as_dict`) for the notebook, the grader, the
    gradebook's partial credit, the feedback and the grade report. `score` is in points."""

    __slots__ = ("cell", "hidden", "hint", "name", "note", "points", "problem", "score")

    def __init__(self, cell, name, points, problem, hint, hidden=False, note=""):
        self.cell, self.name, self.points = cell, name, points
        self.problem = problem  # "" when the check passed, else what went wrong
        self.score = points if not problem else 0.0
        self.hint, self.hidden, self.note = hint, hidden, note  # note: error carried forward

    @property
    def passed(self):
        return not self.problem

    def line(self):
        """One line for people: name, points, and for a failed check what went wrong and the hint."""
        mark = "✓" if self.passed else "✗"
        text = f"{mark} {self.name} ({_num(self.score)}/{_num(self.points)})"
        if self.problem:
            text += f": {self.problem}"
            if self.hint:
                text += f". Hint: {self.hint}"
        if self.note:
            text += f" [{self.note}]"
        return text

    def as_dict(self):
        return {slot: getattr(self, slot) for slot in self.__slots__}


class _Mode:
    """Where the checks run: "notebook" (run and judge at once) or "spec" (only collect them)."""

    def __init__(self):
        self.kind = "notebook"
        self.checks = []  # the checks of the current cell, in order


_mode = _Mode()


def check(points, probe=None, *, expect=None, hint="", tests=(), name=None, tol=1e-9, limit=None):
    """Define a check worth `points` (see `Check`). Used as a decorator on the probe, or called
    with the probe (`check(0.25, lambda: v.op, expect="+", name="op")`). In the notebook the check
    runs at once; `report` says how it went."""
    if probe is None:
        return lambda function: check(
            points, function, expect=expect, hint=hint, tests=tests, name=name, tol=tol, limit=limit
        )
    tests = (tests,) if isinstance(tests, str) else tuple(tests)
    item = Check(name or probe.__name__, points, probe, expect, hint, tests, tol, limit)
    if _mode.kind == "notebook":
        item.result = verdict(item, observe(item))
    _mode.checks.append(item)
    return probe


def report(grade_id):
    """End a test cell: in the notebook, print the checks that passed and raise an AssertionError
    that lists every failed check. (Spec mode: return the checks.)"""
    if _mode.kind == "spec":
        return _mode.checks
    checks, _mode.checks = _mode.checks, []
    run = _cell_run()  # (a cell stopped before its report leaves checks of its own behind)
    results = [item.result for item in checks if item.run == run and item.result is not None]
    failed = [r for r in results if not r.passed]
    score = sum(r.score for r in results)
    total = sum(r.points for r in results)
    print(
        f"{grade_id}: {len(results) - len(failed)} of {len(results)} checks passed, "
        f"{_num(score)} of {_num(total)} points"
    )
    for result in results:
        if result.passed:
            print("  " + result.line())
    if failed:
        lines = "\n".join(r.line() for r in failed)
        raise AssertionError(f"{len(failed)} of {len(results)} checks failed:\n{lines}")


def identify(items, **known):
    """Name each of `items` by the object of `known` it is (`is`, not ==); anything else is
    described: identify(c.children, a=a, b=b) == ["a", "b"], or e.g. ["a", "another Value(2.0)"]."""
    names = []
    for item in items:
        for label, thing in known.items():
            if item is thing:
                names.append(label)
                break
        else:
            data = getattr(item, "data", None)
            shown = f"({data!r})" if type(data) in (int, float) else ""
            names.append(f"another {type(item).__name__}{shown}")
    return names


def _cell_run():
    """Which run of a notebook cell this is (IPython's execution count), or None outside IPython."""
    try:
        return get_ipython().execution_count  # a builtin in IPython
    except NameError:
        return None


def spec_checks():
    """Spec mode: the checks collected so far (see `spec_mode`)."""
    return list(_mode.checks)


class spec_mode:
    """Spec mode for the duration (`with spec_mode():`): checks are collected, never run; the
    grader reads a test cell's checks, expectations included, this way."""

    def __enter__(self):
        self.saved = (_mode.kind, _mode.checks)
        _mode.kind, _mode.checks = "spec", []
        return self

    def __exit__(self, *exc):
        _mode.kind, _mode.checks = self.saved
        return False


# -- Running a probe ----------------------------------------------------------------------------


def observe(item):
    """Run the probe of `item`: {"value": plain data} or {"error": {"type": ..., "message": ...}},
    and "seconds" it took. The value goes through JSON, as it does on its way to the grader."""
    start = time.monotonic()
    try:
        outcome = {"value": json.loads(json.dumps(plain(item.probe())))}
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a check never ends the kernel
        outcome = {"error": failure(exc)}
    outcome["seconds"] = round(time.monotonic() - start, 4)
    return outcome


def failure(exc):
    """What an exception raised by a probe says: {"type": its class name, "message": its text}."""
    return {"type": type(exc).__name__, "message": _message(exc)}


def _message(exc):
    try:
        text = str(exc)
    except BaseException:
        text = ""
    return shorten(text, 200)


def plain(value, depth=0):
    """`value` as JSON-ready data: numbers, strings, booleans, None, lists and dicts with string
    keys; anything else becomes {"object": type name, "repr": ...}. Sizes are capped (LIMITS)."""
    kind = type(value)
    if value is None or kind is bool:
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int) and abs(value) < 2**63:
        return int(value)
    if isinstance(value, str):
        return shorten(str(value), LIMITS["string"])
    if depth < LIMITS["depth"] and kind in (list, tuple):
        return [plain(v, depth + 1) for v in list(value)[: LIMITS["items"]]]
    if depth < LIMITS["depth"] and kind is dict and all(type(k) is str for k in value):
        return {k: plain(v, depth + 1) for k, v in list(value.items())[: LIMITS["items"]]}
    try:
        text = repr(value)
    except BaseException:
        text = "?"
    return {"object": kind.__name__, "repr": shorten(text, 80)}


def shorten(text, size):
    """`text` cut to at most `size` characters (with an ellipsis)."""
    return text if len(text) <= size else text[: size - 1] + "…"


# -- Judging -------------------------------------------------------------------------------------


def verdict(item, outcome, cell=None, hidden=False):
    """The Result of `item` given the `outcome` of its probe (see `observe`). For a hidden check,
    what the student's code said is shown shorter (a submission can watch hidden checks run, and
    its feedback is no way out for them): the name of an exception of Python's own and 60
    characters of its message, 30 of a value."""
    got_size = 30 if hidden else 60
    if "error" in outcome:
        error = outcome["error"]
        grader = error.get("origin") == "grader"  # the grader's own words: no result, a dead kernel
        kind = _said(error.get("type"), 40)
        message = _said(error.get("message"), 300 if grader else 60 if hidden else 100)
        python = getattr(builtins, kind, None)
        known = isinstance(python, type) and issubclass(python, BaseException)
        if not kind.isidentifier() or (hidden and not known and not grader and kind != "Timeout"):
            kind, message = "an exception of its own", ""
        if kind == "NotImplementedError":
            problem = "not written yet (NotImplementedError)"
        elif grader:
            problem = message
        elif kind == "Timeout":
            problem = f"took too long ({message})"
        else:
            problem = f"raised {kind}" + (f": {message}" if message else "")
    elif callable(item.expect):
        try:
            found = item.expect(outcome["value"])
        except Exception:
            found = f"got {show(outcome['value'], got_size)}, which is not what this check can read"
        if found is None or found is True:
            problem = ""
        elif isinstance(found, str) and found.strip():
            problem = _said(found, 300)
        else:
            problem = f"got {show(outcome['value'], got_size)}"
    else:
        try:
            problem = "; ".join(differences(item.expect, outcome["value"], item.tol, size=got_size))
        except TypeError as exc:  # the author's expect= is not plain data
            problem = f"this check cannot judge: {exc}"
    return Result(cell, item.name, item.points, problem, item.hint, hidden)


def _said(text, size):
    """What the student's code said (an exception's name or message), as one short line: the
    feedback is no channel for anything longer."""
    lines = str(text if text is not None else "").strip().splitlines()
    return shorten(lines[0], size) if lines else ""


def differences(expected, got, tol=1e-9, where="", size=60):
    """Where `got` differs from `expected`, as sentences: lists and tuples are the same thing
    here, numbers match within the relative tolerance `tol` (and 1e-12 absolute); `got` is shown
    in at most `size` characters."""
    at = f"{where}: " if where else ""
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        same = type(got) is type(expected) and got == expected
    elif isinstance(expected, (int, float)):
        try:
            same = type(got) in (int, float) and (
                (math.isnan(expected) and math.isnan(got))
                or math.isclose(got, expected, rel_tol=tol, abs_tol=1e-12)
            )
        except (OverflowError, ValueError):  # an integer too large for a float is no match
            same = False
    elif isinstance(expected, (list, tuple)):
        if type(got) is not list or len(got) != len(expected):
            return [f"{at}expected {show(expected)}, got {show(got, size)}"]
        found = []
        for i, (e, g) in enumerate(zip(expected, got)):
            found += differences(e, g, tol, f"{where}[{i}]", size)
        return found[:3]
    elif isinstance(expected, dict):
        if type(got) is not dict or set(got) != set(expected):
            return [f"{at}expected {show(expected)}, got {show(got, size)}"]
        found = []
        for key in expected:
            found += differences(expected[key], got[key], tol, f"{where}.{key}" if where else key, size)
        return found[:3]
    else:
        raise TypeError(f"expect= can hold plain data only, not {type(expected).__name__}")
    return [] if same else [f"{at}expected {show(expected)}, got {show(got, size)}"]


def show(value, size=60):
    """A short, readable form of plain data for messages."""
    if isinstance(value, dict) and set(value) == {"object", "repr"}:
        return f"a {value['object']} ({value['repr']})"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return shorten("[" + ", ".join(show(v, 20) for v in value[:6]) + f", … {len(value)} items]", size)
    return shorten(repr(value), size)


def _num(x):
    return f"{x:g}"
