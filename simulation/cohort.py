"""A simulated cohort: submissions built from the release, each with the grade it must get.

Every case is a student: a notebook made from the release (its stubs filled with code, or the
notebook or file damaged on purpose) and an expectation written down *before* grading:

- `fails`: the checks the submission must fail, as "grade_id/check", each with a piece of text
  its feedback must show (the hint, or what went wrong; None where it cannot be predicted). Every
  other check must pass. The per-exercise scores follow from the points of the checks in the
  source notebook: an exercise scores its points minus those of its failed checks.
- `carried`: checks that must pass only by error carried forward (they fail with the student's own
  code, and pass with the reference solution for the pieces they are not about).
- `piece`: for a single mistake, the piece it is in (e.g. "Value.tanh._backwards"): every failed
  check must name that piece in its `tests`, so the mistake costs only the checks about it.
- or `rejected`: the submission cannot be graded at all (gradekit.intake finds it not gradable,
  with a reason that starts with this text); that student must end with no autograded notebook
  and a submission without a score, while everybody else is graded.

    from simulation.cohort import Kit, catalog, build
    kit = Kit.load(course_root)
    submissions = build(catalog(), kit)      # student -> notebook or bytes
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from gradekit.checks import probes
from gradekit.course.notebooks import (
    ASSIGNMENT,
    COURSE_ROOT,
    EXERCISES,
    NOTEBOOK,
    SOURCE_NOTEBOOK,
    exercise_of,
    grade_cells,
    nbgrader_meta,
    read,
)
from simulation.submissions import fill, only, reference_answers, region_exercises

Answers = dict[str, list[str | None]]
Submission = nbformat.NotebookNode | bytes


@dataclass(frozen=True)
class CheckInfo:
    """A check of the source notebook: its points, whether it is hidden, the pieces it tests."""

    points: float
    hidden: bool
    tests: tuple[str, ...]


@functools.cache
def source_checks(path: Path = SOURCE_NOTEBOOK) -> dict[str, CheckInfo]:
    """ "grade_id/check" -> CheckInfo of every check of the source notebook, in notebook order."""
    found = {}
    for cell in read(path).cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            test = probes.TestCell.parse(meta["grade_id"], cell.source)
            hidden = set(test.hidden_names)
            for item in test.specs():
                found[f"{meta['grade_id']}/{item.name}"] = CheckInfo(
                    item.points, item.name in hidden, item.tests
                )
    return found


# -- The kit a case is built from -----------------------------------------------------------------


@dataclass
class Kit:
    """The release a student starts from, and the source notebook behind it."""

    release: nbformat.NotebookNode
    source: nbformat.NotebookNode
    answers: Answers  # the reference code of every solution region, by solution cell
    exercises: dict[str, list[str]]  # the exercise of every solution region
    points: dict[str, float]  # grade_id -> points, from the source notebook

    @classmethod
    def load(cls, course: Path | None = None) -> Kit:
        """The release of `course` (default: this repository) and the source it was made from."""
        course = COURSE_ROOT if course is None else course
        source_path = course / "source" / ASSIGNMENT / NOTEBOOK
        source = read(source_path)
        return cls(
            release=read(course / "release" / ASSIGNMENT / NOTEBOOK),
            source=source,
            answers=reference_answers(source_path),
            exercises=region_exercises(source),
            points=grade_cells(source),
        )

    def solved(self, answers: Answers | None = None) -> nbformat.NotebookNode:
        """The release with its stubs filled with `answers` (default: the reference)."""
        return fill(self.release, self.answers if answers is None else answers)

    def only(self, *exercises: str) -> Answers:
        """The reference answers of `exercises`; every other stub left as released."""
        return only(self.answers, self.exercises, set(exercises))


# -- Editing answers and notebooks ----------------------------------------------------------------


def swap(answers: Answers, cell: str, old: str, new: str) -> Answers:
    """A copy of `answers` where the one region of `cell` that contains `old` has it replaced by
    `new` (once). Fails loudly when the reference changed and `old` is no longer unique."""
    regions = answers[cell]
    hits = [i for i, code in enumerate(regions) if code is not None and old in code]
    if len(hits) != 1 or regions[hits[0]].count(old) != 1:
        raise ValueError(f"{cell}: {old!r} should occur exactly once in one region, found in {hits}")
    copy = {k: list(v) for k, v in answers.items()}
    copy[cell][hits[0]] = regions[hits[0]].replace(old, new)
    return copy


def drop_line(answers: Answers, cell: str, line: str) -> Answers:
    """A copy of `answers` without the one line of `cell` whose code is `line` (indentation aside)."""
    pattern = re.compile(rf"^[ \t]*{re.escape(line)}[ \t]*\n", re.M)
    regions = answers[cell]
    hits = [i for i, c in enumerate(regions) if c is not None and len(pattern.findall(c)) == 1]
    if len(hits) != 1:
        raise ValueError(f"{cell}: the line {line!r} should be in exactly one region, found in {hits}")
    copy = {k: list(v) for k, v in answers.items()}
    copy[cell][hits[0]] = pattern.sub("", regions[hits[0]])
    return copy


def rewrite(answers: Answers, cell: str, containing: str, code: str) -> Answers:
    """A copy of `answers` where the region of `cell` that contains `containing` becomes `code`."""
    regions = answers[cell]
    hits = [i for i, c in enumerate(regions) if c is not None and containing in c]
    if len(hits) != 1:
        raise ValueError(f"{cell}: {containing!r} should be in exactly one region, found in {hits}")
    copy = {k: list(v) for k, v in answers.items()}
    copy[cell][hits[0]] = code
    return copy


def cell(nb, grade_id: str):
    """The cell of `nb` with this grade_id."""
    for c in nb.cells:
        if nbgrader_meta(c).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def append(nb, grade_id: str, code: str):
    """`nb` with `code` added at the end of the cell `grade_id` (outside any stub)."""
    target = cell(nb, grade_id)
    target.source = target.source.rstrip("\n") + "\n\n" + code.strip("\n") + "\n"
    return nb


def prepend(nb, grade_id: str, code: str):
    target = cell(nb, grade_id)
    target.source = code.strip("\n") + "\n\n" + target.source
    return nb


def delete(nb, *grade_ids: str):
    for grade_id in grade_ids:
        nb.cells.remove(cell(nb, grade_id))
    return nb


# -- Student code kept as files -------------------------------------------------------------------

SNIPPETS = COURSE_ROOT / "simulation" / "snippets"


def snippet(*names: str) -> str:
    """The code of simulation/snippets/<name>.py for each of `names`, one after the other; a
    snippet's `from <other snippet> import ...` line is dropped (that snippet comes before it)."""
    texts = []
    for name in names:
        lines = []
        for line in (SNIPPETS / f"{name}.py").read_text(encoding="utf-8").splitlines():
            imported = re.match(r"from (\w+) import ", line)
            if not (imported and (SNIPPETS / f"{imported[1]}.py").exists()):
                lines.append(line)
        texts.append("\n".join(lines).strip("\n"))
    return "\n\n".join(texts)


# Every way a submission might write "results" of its own (simulation/snippets/forge_*.py): each
# on a blank notebook must earn nothing; all at once on the reference must change nothing.
FORGING = {
    "forge_thread": "a thread that never stops",
    "forge_atexit": "an atexit hook",
    "forge_finalizer": "__del__ finalizers, in reference cycles and at exit",
    "forge_signals": "signal handlers and interval timers (SIGALRM, SIGPROF, ...)",
    "forge_patches": "patched json encoders, os.write, sockets' send, sys.stdout and sys.stderr",
    "forge_gc_callback": "garbage collector callbacks",
    "forge_trace": "sys.settrace and threading.settrace",
    "forge_profile": "sys.setprofile and threading.setprofile",
    "forge_ctypes": "write(2) called through ctypes from a thread",
    "forge_fork": "a forked copy of the kernel",
    "forge_child_process": "a child process that outlives the cell",
}


def _forging(*techniques: str) -> Callable[[Kit], Submission]:
    return lambda k: append(
        nbformat.from_dict(k.release), "value_class", snippet("forge_common", *techniques)
    )


# -- The catalog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    student: str
    what: str  # what the student did, in a sentence
    build: Callable[[Kit], Submission]
    fails: Mapping[str, str | None] = field(default_factory=dict)  # "grade_id/check" -> feedback text
    carried: frozenset[str] = frozenset()  # checks that pass only by error carried forward
    piece: str | None = None  # a single mistake: the piece every failed check is about
    rejected: str | None = None  # not gradable: the start of the reason gradekit.intake gives
    requires: str | None = None  # a module the case needs (skipped without it)
    review: bool = False  # its code must be flagged for review by the grade report
    timeouts: int = 0  # cells that run into the cell timeout (each costs c.Execute.timeout)

    def expected(self, checks: Mapping[str, CheckInfo] | None = None) -> dict[str, float]:
        """Per-exercise score: the points of every check the case does not fail."""
        checks = source_checks() if checks is None else checks
        unknown = (set(self.fails) | set(self.carried)) - set(checks)
        if unknown:
            raise ValueError(f"{self.student}: no check named {sorted(unknown)}")
        scores = dict.fromkeys(EXERCISES, 0.0)
        if self.rejected:
            return scores
        for check_id, info in checks.items():
            if check_id not in self.fails:
                scores[exercise_of(check_id)] += info.points
        return scores

    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


NOT_DONE = "not written yet"  # what the feedback says of a check whose code is still a stub

EX1 = ("ex1_add_mul", "ex1_sub_div_pow", "ex1_reflected_and_numbers", "ex1_tanh")
EX2 = ("ex2_add_mul_grads", "ex2_other_grads", "ex2_reused_nodes", "ex2_topological_order", "ex2_backward")
EX3 = ("ex3_neuron", "ex3_layer", "ex3_mlp", "ex3_train_xor")


def every(cells: Iterable[str], text: str | None = NOT_DONE) -> dict[str, str | None]:
    """Every check of the test cells `cells`, each with the same expected feedback text."""
    cells = set(cells)
    return {c: text for c in source_checks() if c.split("/")[0] in cells}


def named(*check_ids: str, text: str | None = None) -> dict[str, str | None]:
    """The checks `check_ids` ("grade_id/check"), each with the same expected feedback text."""
    unknown = set(check_ids) - set(source_checks())
    if unknown:
        raise ValueError(f"no such check: {sorted(unknown)}")
    return dict.fromkeys(check_ids, text)


def testing(*pieces: str, cells: Iterable[str] | None = None) -> frozenset[str]:
    """The checks (of `cells`, default all) that name one of `pieces` in their tests."""
    return frozenset(
        c
        for c, info in source_checks().items()
        if set(info.tests) & set(pieces) and (cells is None or c.split("/")[0] in set(cells))
    )


# Code the cases put into the stubs (dedented; `fill` indents it to the stub).

RECURSIVE_ORDER = """\
order, seen = [], set()

def visit(node):
    if id(node) in seen:
        return
    seen.add(id(node))
    for child in node.children:
        visit(child)
    order.append(node)

visit(root)
return order[::-1]
"""

RECURSIVE_ORDER_WITH_COMPREHENSION = """\
order, seen = [], set()

def visit(node):
    if node not in seen:
        seen.add(node)
        [visit(child) for child in node.children]  # a comprehension: two frames per level
        order.append(node)

visit(root)
return order[::-1]
"""

# Two searches that visit every node once but in an order that is not a reversed topological one
# on graphs with shared nodes: a node before its children (pre-order), and level by level.
PREORDER = """\
order, seen, stack = [], set(), [root]
while stack:
    node = stack.pop()
    if id(node) in seen:
        continue
    seen.add(id(node))
    order.append(node)
    stack.extend(reversed(node.children))
return order
"""

BREADTH_FIRST = """\
order, seen, i = [root], {id(root)}, 0
while i < len(order):
    for child in order[i].children:
        if id(child) not in seen:
            seen.add(id(child))
            order.append(child)
    i += 1
return order
"""


def _children_as_a_list(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved()
    target = cell(nb, "value_class")
    assert target.source.count("self.children = tuple(children)") == 1
    target.source = target.source.replace("self.children = tuple(children)", "self.children = list(children)")
    return nb


# Reads every file the kernel can see outside the system's and Python's installations (the
# software the course runs on, the same for every student) and looks in each for what only the
# course's secret files hold (solution and hidden-test markers, nbgrader metadata, a SQLite
# gradebook); in those installations it looks for the course's notebooks and gradebook by name. It
# hands back what it found in its own output, which reaches the feedback: the list of files it
# read, compressed into one line (a graded cell keeps 100 kB of output: whole files would be cut).
# a check that cancels the grader's alarm and ignores every exception, for one input only
HANG_ON_MINUS_THREE = """\
if self.data == -3.0 and exponent == 3:
    import signal

    signal.setitimer(signal.ITIMER_REAL, 0)
    while True:
        try:
            pass
        except BaseException:
            pass
if not isinstance(exponent, (int, float)):"""

READ_EVERYTHING = """\
import base64 as _base64
import os as _os
import subprocess as _subprocess
import sys as _sys
import zlib as _zlib

_MARKERS = (b"BEGIN SOLUTION", b"BEGIN HIDDEN", b"HIDDEN TESTS", b"grade_id", b"SQLite format 3")


def _read_everything():
    software = sorted({_os.path.realpath(p) for p in ("/usr", _sys.prefix, _sys.base_prefix)})
    # the installations by name only, at find's speed (walking them in Python takes seconds)
    names = ["(", "-name", "mini_auto_grad*.ipynb", "-o", "-name", "gradebook.db", ")"]
    found = _subprocess.run(["find", *software, *names, "-print"], capture_output=True, text=True).stdout
    for path in found.splitlines():
        if "/nbgrader/tests/" not in path:
            print("FOUND", path)
    read = []
    for folder, dirs, files in _os.walk("/"):
        dirs[:] = [
            d
            for d in dirs
            if _os.path.join(folder, d) not in ("/proc", "/sys", "/dev")
            and not any(_os.path.realpath(_os.path.join(folder, d)).startswith(s) for s in software)
        ]
        for name in files:
            path = _os.path.join(folder, name)
            try:
                with open(path, "rb") as fh:
                    data = fh.read(10_000_000)
            except OSError:
                continue
            read.append(path)
            for marker in _MARKERS:
                if marker in data:
                    print("SECRET", path, marker.decode())
    listing = _zlib.compress("\\n".join(read).encode(), 9)
    print("STOLEN", _base64.b64encode(listing).decode())
    print("READ", len(read), "files")


_read_everything()
"""

# Replaces the kit's checks in the kernel by fakes that report nothing, and the names the test
# cells use by fakes that accept everything.
PATCHED_CHECKS = """\
import sys as _sys
import types as _types

_fake = _types.ModuleType("gradekit_checks")
_fake.check = lambda *args, **kwargs: args[1] if len(args) > 1 else (lambda probe: probe)
_fake.report = lambda *args, **kwargs: None
_fake.identify = lambda items, **known: []
_fake.begin = lambda *args, **kwargs: None
_fake.__all__ = ["check", "report", "identify"]
_sys.modules["gradekit_checks"] = _fake
check, report = _fake.check, _fake.report
"""

# Every later cell, the test cells too, loses its `raise` and `assert` statements.
AST_TRANSFORMER = """\
import ast as _ast


class _NoFailures(_ast.NodeTransformer):
    def visit_Raise(self, node):
        return _ast.Pass()

    def visit_Assert(self, node):
        return _ast.Pass()


get_ipython().ast_transformers.append(_NoFailures())
"""

EQ_WITHOUT_HASH = """\
    def __eq__(self, other):
        return isinstance(other, Value) and self.data == other.data

    def __repr__(self):"""

NEURON_WITH_SUM = """\
activation = sum((w * xi for w, xi in zip(self.weights, x)), self.bias)
return activation.tanh() if self.non_linear else activation
"""

AS_VALUE_HELPER = """\
def as_value(x):
    \"\"\"Wrap a plain number into a Value; leave a Value alone.\"\"\"
    return x if isinstance(x, Value) else Value(x)
"""

ZERO_GRAD_WHILE_NO_INCREMENT = """\
params = self.parameters()
i = 0
while i < len(params):
    params[i].grad = 0.0
"""

NEURON_WITHOUT_BIAS = (
    ("self.bias = Value(random.uniform(-1, 1))\n", ""),
    ("total = self.bias\n", "total = 0.0\n"),
    ("return self.weights + [self.bias]\n", "return list(self.weights)\n"),
)

LAYER_BARE_VALUE = """\
outs = [neuron(x) for neuron in self.neurons]
return outs[0] if len(outs) == 1 else outs
"""

TRAIN_FLOAT_LIES = """\
losses = []
for _ in range(steps):
    predictions = [model(x)[0] for x in inputs]
    loss = sum((p - t) ** 2 for p, t in zip(predictions, targets)) / len(inputs)
    losses.append(float(loss))
return losses
"""

# Every later cell, the test cells too, starts by displaying 'ok' as its result. (A pre_run_cell
# event that calls sys.displayhook does not work: IPython only publishes a result inside the cell.)
DISPLAY_HOOK = """\
get_ipython().input_transformers_post.append(lambda lines: ['__import__("sys").displayhook("ok")\\n', *lines])
"""

# Every later cell, the test cells too, runs inside try/except: no assertion can fail any more.
TRY_EVERYTHING = """\
def _swallow(lines):
    tail = "\\n    pass\\nexcept BaseException:\\n    pass\\n"
    return ["try:\\n", *("    " + line for line in lines), tail]


get_ipython().input_transformers_post.append(_swallow)
"""

OTHER_ASSIGNMENT = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "squares",
            "metadata": {
                "nbgrader": {
                    "grade": False,
                    "grade_id": "squares",
                    "locked": False,
                    "schema_version": 3,
                    "solution": True,
                    "task": False,
                }
            },
            "outputs": [],
            "source": "def squares(n):\n    return [i * i for i in range(n)]\n",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "test-squares",
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "test_squares",
                    "locked": True,
                    "points": 5,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
            },
            "outputs": [],
            "source": "assert squares(3) == [0, 1, 4]\n",
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _assign_in_mul(kit: Kit) -> Answers:
    answers = swap(
        kit.answers, "value_class", "self.grad += other.data * grad", "self.grad = other.data * grad"
    )
    return swap(answers, "value_class", "other.grad += self.data * grad", "other.grad = self.data * grad")


def _wrong_rsub(kit: Kit) -> Answers:
    return swap(kit.answers, "value_class", "return Value(other) - self", "return self - Value(other)")


def _no_train(kit: Kit) -> Answers:
    return kit.only("ex1", "ex2", "ex3") | {"training": [None]}


def _wrong_tanh_data(kit: Kit) -> Answers:
    return swap(kit.only("ex1"), "value_class", "math.tanh(self.data)", "math.tanh(self.data / 2)")


def _neuron_without_bias(kit: Kit) -> Answers:
    answers = kit.answers
    for old, new in NEURON_WITHOUT_BIAS:
        answers = swap(answers, "mlp_classes", old, new)
    return answers


def _number_helper(kit: Kit) -> nbformat.NotebookNode:
    wrap = "other = other if isinstance(other, Value) else Value(other)\n"
    answers = {cell: list(codes) for cell, codes in kit.answers.items()}
    answers["value_class"] = [
        code.replace(wrap, "other = as_value(other)\n") if code else code for code in answers["value_class"]
    ]
    for op in ("+", "-", "*", "/"):
        answers = swap(
            answers, "value_class", f"return Value(other) {op} self", f"return as_value(other) {op} self"
        )
    return append(kit.solved(answers), "value_class", AS_VALUE_HELPER)


def _loop_in_method(kit: Kit) -> Answers:
    answers = rewrite(kit.answers, "mlp_classes", "p.grad = 0.0", ZERO_GRAD_WHILE_NO_INCREMENT)
    return swap(
        answers, "training", "model.zero_grad()\n", "for p in model.parameters():\n        p.grad = 0.0\n"
    )


def _stripped_metadata(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved(_wrong_rsub(kit))
    target = cell(nb, "ex1_reflected_and_numbers")
    target.metadata = {}
    target.source = "assert True  # (metadata removed, so that the cell could be edited)\n"
    return nb


def _retyped_test_cell(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved(kit.only("ex1", "ex2"))
    meta = nbgrader_meta(cell(nb, "ex3_train_xor"))
    meta["solution"] = True
    return nb


def _inflated_points(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved(kit.only("ex1"))
    for grade_id in EX1:
        nbgrader_meta(cell(nb, grade_id))["points"] = 100
    return nb


def _micrograd(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved()
    cell(nb, "value_class").source = "import math\nimport random\n\nfrom micrograd.engine import Value\n"
    return nb


def _children_as_a_set(kit: Kit) -> Answers:
    answers = kit.answers
    for op in "+*-/":
        old = f"Value(self.data {op} other.data, children=(self, other)"
        answers = swap(answers, "value_class", old, old.replace("(self, other)", "{self, other}"))
    return answers


def _eq_without_hash(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved()
    target = cell(nb, "value_class")
    assert target.source.count("    def __repr__(self):") == 1
    target.source = target.source.replace("    def __repr__(self):", EQ_WITHOUT_HASH)
    return nb


def _tanh_through_exp(kit: Kit) -> Answers:
    return swap(
        kit.answers,
        "value_class",
        "t = math.tanh(self.data)\n",
        "e = math.exp(2 * self.data)\nt = (e - 1) / (e + 1)\n",
    )


SUB, DIV, POW, TANH = "Value.__sub__", "Value.__truediv__", "Value.__pow__", "Value.tanh"
ORDER = "find_reversed_topological_order"
ENGINE = (
    "Value.__add__._backwards",
    "Value.__mul__._backwards",
    "Value.__sub__._backwards",
    "Value.__truediv__._backwards",
    "Value.__pow__._backwards",
    "Value.tanh._backwards",
    "Value.backward",
    ORDER,
)
TRAINING = testing("train")
# the checks that train with tanh (the third trains one linear neuron: no tanh in its graph)
TRAINING_WITH_TANH = frozenset({"ex3_train_xor/learns_xor", "ex3_train_xor/fits_three_points"})
NEURON_GRAPH = frozenset({"ex3_neuron/inputs_stay_in_the_graph"})  # the one ex3 check that runs backward()
# (Value's constructor makes children a tuple, so a set passed to it still gives a tuple.)
CHILDREN_ORDER = named("ex1_add_mul/children_in_operand_order")

CATALOG: tuple[Case, ...] = (
    # -- correct, in another way than the reference: full marks ----------------------------------
    Case("ok_reference", "the reference solution", lambda k: k.solved()),
    Case(
        "ok_recursive_order",
        "recursive depth-first search for the order (the deepest graph of the checks is 300 nodes "
        "deep, as the notebook says)",
        lambda k: k.solved(rewrite(k.answers, "topological_order", "order.reverse()", RECURSIVE_ORDER)),
    ),
    Case(
        "ok_recursive_comprehension",
        "recursive depth-first search written with a list comprehension (two frames per level in "
        "Python 3.11: 600 for the deepest graph of the checks)",
        lambda k: k.solved(
            rewrite(k.answers, "topological_order", "order.reverse()", RECURSIVE_ORDER_WITH_COMPREHENSION)
        ),
    ),
    Case(
        "ok_sub_via_negation",
        "a - b returned as a + (-b), before the difference closure is even defined",
        lambda k: k.solved(
            rewrite(
                rewrite(k.answers, "value_class", "Value(self.data - other.data", "return self + (-other)\n"),
                "value_class",
                "other.grad -= grad\n",
                "pass  # never reached: __sub__ returns early\n",
            )
        ),
    ),
    Case(
        "ok_div_via_power",
        "a / b returned as a * b ** -1",
        lambda k: k.solved(
            rewrite(
                rewrite(
                    k.answers, "value_class", "Value(self.data / other.data", "return self * other**-1\n"
                ),
                "value_class",
                "other.grad -= self.data / other.data / other.data * grad",
                "pass  # never reached: __truediv__ returns early\n",
            )
        ),
    ),
    Case(
        "ok_neuron_sum",
        "Neuron output with sum(..., start=bias) instead of a loop",
        lambda k: k.solved(rewrite(k.answers, "mlp_classes", "total = self.bias", NEURON_WITH_SUM)),
    ),
    Case(
        "ok_number_helper",
        "plain numbers wrapped by a helper function defined after the class",
        _number_helper,
    ),
    # -- partial work --------------------------------------------------------------------------------
    Case("part_blank", "the release handed in untouched", lambda k: k.release, every(EX1 + EX2 + EX3)),
    Case("part_only_ex1", "only exercise 1", lambda k: k.solved(k.only("ex1")), every(EX2 + EX3)),
    Case("part_ex1_ex2", "exercises 1 and 2", lambda k: k.solved(k.only("ex1", "ex2")), every(EX3)),
    Case(
        "part_only_ex3",
        "only exercise 3: the network and its training are right, the engine is not written",
        lambda k: k.solved(k.only("ex3")),
        every(EX1 + EX2),
        # the checks that compute with Values pass only with the reference Value
        carried=named(
            "ex3_neuron/output",
            "ex3_neuron/linear_neuron",
            "ex3_layer/output_list",
            "ex3_layer/one_neuron_still_a_list",
            "ex3_layer/linear_layer",
            "ex3_mlp/output_list",
            "ex3_mlp/last_layer_linear",
            "ex3_mlp/deeper_network",
            "ex3_mlp/single_layer",
        ).keys()
        | NEURON_GRAPH
        | TRAINING,
    ),
    Case(
        "part_no_train",
        "Neuron, Layer and MLP written, train left as released",
        lambda k: k.solved(_no_train(k)),
        every(["ex3_train_xor"]),
    ),
    # -- one common mistake each ---------------------------------------------------------------------
    Case(
        "bug_assign_in_mul",
        "`=` instead of `+=` in both lines of the product's closure: a node used twice keeps one "
        "contribution",
        lambda k: k.solved(_assign_in_mul(k)),
        {
            "ex2_add_mul_grads/shared_operand": "uses b twice",  # c = a*b + b
            "ex2_reused_nodes/product_of_a_node_with_itself": "d(a * a)/da = 2a",
            "ex2_reused_nodes/node_used_on_two_paths": "expected 48.0",
        },
        # backward() and train() are right: with the reference product they pass
        carried=frozenset({"ex2_backward/two_roots_add_up", "ex2_backward/backward_twice"}) | TRAINING,
        piece="Value.__mul__._backwards",
    ),
    Case(
        "bug_root_grad_not_set",
        "backward() never sets the root's gradient to 1: every gradient stays 0",
        lambda k: k.solved(drop_line(k.answers, "value_class", "self.grad = 1.0")),
        {c: t for c, t in every(["ex2_backward"], None).items() if c != "ex2_backward/value_zero_grad"}
        | named("ex2_reused_nodes/node_used_on_two_paths", text="expected 48.0, got 0.0")
        | named("ex2_backward/root_gradient", text="set it in backward()"),
        # every closure is right: with the reference backward() their checks pass (but the two
        # whose gradient is 0 anyway, which pass as they are)
        carried=(testing(*ENGINE[:6]) - testing("Value.backward", ORDER) | TRAINING | NEURON_GRAPH)
        - named("ex2_other_grads/tanh_large_inputs", "ex2_other_grads/pow_zero").keys(),
        piece="Value.backward",
    ),
    Case(
        "bug_order_not_reversed",
        "the topological order returned leaves first: only the root's own children get a gradient",
        lambda k: k.solved(drop_line(k.answers, "topological_order", "order.reverse()")),
        named(
            "ex2_topological_order/worked_example_order",
            "ex2_topological_order/reused_node_order",
            "ex2_topological_order/shared_nodes",
            "ex2_topological_order/long_and_short_paths",
            "ex2_topological_order/deep_chain",
            text="the root must come first",
        )
        | named("ex2_reused_nodes/node_used_on_two_paths", text="only after every node that uses it"),
        carried=frozenset(
            {
                "ex2_add_mul_grads/worked_example",
                "ex2_add_mul_grads/shared_operand",
                "ex2_other_grads/sub_chain",
                "ex2_other_grads/div_chain",
                "ex2_other_grads/pow_chain",
                "ex2_other_grads/tanh_chain",
                "ex2_reused_nodes/sum_of_sums",
                "ex2_backward/backward_twice",
            }
        )
        | NEURON_GRAPH
        | TRAINING,
        piece=ORDER,
    ),
    Case(
        "bug_order_preorder",
        "a pre-order search (each node before its children, never reversed): [c, a, b, 3] for "
        "c = a + b, b = a * 3, where b must come before a",
        lambda k: k.solved(rewrite(k.answers, "topological_order", "order.reverse()", PREORDER)),
        named(
            "ex2_topological_order/reused_node_order",
            "ex2_topological_order/long_and_short_paths",
            text="a node comes after one of its children",
        )
        | named("ex2_reused_nodes/node_used_on_two_paths", text="expected 48.0"),
        # a tree has valid pre-orders (the worked example, a chain), and so has an MLP's loss: a
        # tree of nodes but for the parameters it shares, which are leaves: training is right
        piece=ORDER,
    ),
    Case(
        "bug_order_breadth_first",
        "a breadth-first search from the root: level by level, which puts a node reached by a short "
        "path before the nodes of a longer path to it",
        lambda k: k.solved(rewrite(k.answers, "topological_order", "order.reverse()", BREADTH_FIRST)),
        named(
            "ex2_topological_order/reused_node_order",
            "ex2_topological_order/long_and_short_paths",
            text="a node comes after one of its children",
        )
        | named("ex2_reused_nodes/node_used_on_two_paths", text="expected 48.0"),
        piece=ORDER,  # (and an MLP's loss is a tree but for its leaves: training is right)
    ),
    Case(
        "bug_init_children_list",
        "the given constructor edited to keep children as a list, `self.children = list(children)`",
        _children_as_a_list,
        # charged in the checks of the constructor, and not carried forward by the reference's
        named("ex1_add_mul/leaf_and_sum", text="children: expected '()'")
        | named("ex1_add_mul/children_are_tuples", text="expected ['tuple', 'tuple']"),
        piece="Value.__init__",
    ),
    Case(
        "bug_tanh_derivative",
        "tanh's derivative taken at the input, 1 - a**2, instead of 1 - tanh(a)**2",
        lambda k: k.solved(swap(k.answers, "value_class", "(1.0 - t**2)", "(1.0 - self.data**2)")),
        named(
            "ex2_other_grads/tanh_slope",
            "ex2_other_grads/tanh_chain",
            "ex2_other_grads/tanh_negative",
            "ex2_other_grads/tanh_large_inputs",
        ),  # tanh_zero passes: 1 - 0**2 is right at 0
        # hidden units with |a| > 1 are pushed the wrong way: the loss overflows
        carried=TRAINING_WITH_TANH,
        piece="Value.tanh._backwards",
    ),
    Case(
        "bug_power_derivative",
        "power rule without the - 1: d(a**n)/da = n * a**n",
        lambda k: k.solved(
            swap(k.answers, "value_class", "self.data ** (exponent - 1)", "self.data**exponent")
        ),
        named(
            "ex2_other_grads/pow_slope",
            "ex2_other_grads/pow_chain",
            "ex2_other_grads/pow_negative",
            "ex2_other_grads/pow_half",
            "ex2_other_grads/pow_one",
            "ex2_other_grads/pow_negative_base",
        ),  # pow_zero passes: 0 * a**0 is right
        # backward() and train() are right; the check of `backwards` squares a number
        carried=frozenset({"ex2_backward/backwards_alias"}) | TRAINING,
        piece="Value.__pow__._backwards",
    ),
    Case(
        "bug_power_via_log",
        "power rule computed as n * exp((n - 1) * log(a)): right for a > 0, a math domain error otherwise",
        lambda k: k.solved(
            swap(
                k.answers,
                "value_class",
                "self.data ** (exponent - 1)",
                "math.exp((exponent - 1) * math.log(self.data))",
            )
        ),
        named("ex2_other_grads/pow_one", "ex2_other_grads/pow_negative_base", text="math domain error"),
        # the squared error (p - t) ** 2 has p - t < 0: training fails with the student's engine
        carried=TRAINING,
        piece="Value.__pow__._backwards",
    ),
    Case(
        "bug_rsub_order",
        "`2 - v` computed as v - 2",
        lambda k: k.solved(_wrong_rsub(k)),
        named(
            "ex1_reflected_and_numbers/number_minus", "ex1_reflected_and_numbers/zero_minus", text="expected"
        ),
        piece="Value.__rsub__",
    ),
    Case(
        "bug_rtruediv_order",
        "`2 / v` computed as v / 2",
        lambda k: k.solved(
            swap(k.answers, "value_class", "return Value(other) / self", "return self / Value(other)")
        ),
        named("ex1_reflected_and_numbers/number_over", text="mind the order"),
        piece="Value.__rtruediv__",
    ),
    Case(
        "bug_radd_recursion",
        "`__radd__` written as `return other + self`, which calls __radd__ again: RecursionError",
        lambda k: k.solved(
            swap(k.answers, "value_class", "return Value(other) + self", "return other + self")
        ),
        named(
            "ex1_reflected_and_numbers/number_plus",
            "ex1_reflected_and_numbers/float_plus",
            "ex1_reflected_and_numbers/sum_of_values",
            text="RecursionError",
        ),
        carried=TRAINING,  # sum() of the squared errors starts from 0
        piece="Value.__radd__",
    ),
    Case(
        "bug_children_set",
        "children={self, other} (a set, as micrograd does) in the four binary operators",
        lambda k: k.solved(_children_as_a_set(k)),
        CHILDREN_ORDER,  # a set has no order: 40 pairs in operand order fail with near certainty
    ),
    Case(
        "bug_eq_without_hash",
        "Value.__eq__ compares data, which makes Value unhashable: the order's set of visited nodes "
        "raises TypeError",
        _eq_without_hash,
        named("ex1_add_mul/nodes_are_distinct", text="unhashable"),
        # every ex2 check runs the order (a set of Values): with the reference Value they pass
        carried=testing(*ENGINE, "Value.zero_grad") | NEURON_GRAPH | TRAINING,
        piece="Value",
    ),
    Case(
        "bug_tanh_overflow",
        "tanh computed as (e - 1) / (e + 1) with e = exp(2x): OverflowError for x >= 355",
        lambda k: k.solved(_tanh_through_exp(k)),
        named("ex1_tanh/tanh_large_inputs", text="OverflowError"),
        carried=frozenset({"ex2_other_grads/tanh_large_inputs"}),  # the derivative itself is right
        piece=TANH,
    ),
    Case(
        "bug_neuron_no_bias",
        "a Neuron without bias (no attribute, not in parameters, not in the output)",
        lambda k: k.solved(_neuron_without_bias(k)),
        named(
            "ex3_neuron/weights_and_bias",
            "ex3_neuron/parameters_in_order",
            "ex3_neuron/output",
            "ex3_neuron/linear_neuron",
            text="no attribute 'bias'",
        )
        | named("ex3_neuron/random_uniform_start", text="numbers random.uniform(-1, 1) draws")
        | named("ex3_neuron/one_input", text="expected 2, got 1"),
        # Layer and MLP are right: with the reference Neuron their counts and outputs are right
        carried=frozenset(
            {
                "ex3_layer/parameter_count",
                "ex3_layer/linear_layer",
                "ex3_mlp/parameter_count",
                "ex3_mlp/last_layer_linear",
                "ex3_mlp/deeper_network",
                "ex3_mlp/single_layer",
                "ex3_mlp/zero_grad",  # it compares the grads of all 46 parameters
                "ex3_train_xor/three_exact_steps",  # it needs the weight and the bias
            }
        ),
        piece="Neuron",
    ),
    Case(
        "bug_layer_bare_value",
        "a Layer of one neuron returns the bare Value, not a list",
        lambda k: k.solved(
            rewrite(k.answers, "mlp_classes", "return [neuron(x) for neuron", LAYER_BARE_VALUE)
        ),
        named("ex3_layer/one_neuron_still_a_list", text="not the bare Value"),
        carried=frozenset({"ex3_mlp/output_list", "ex3_mlp/last_layer_linear", "ex3_mlp/single_layer"})
        | TRAINING,
        piece="Layer",
    ),
    Case(
        "bug_nonlinear_last_layer",
        "tanh in every layer, the last one too",
        lambda k: k.solved(swap(k.answers, "mlp_classes", "non_linear=(i != last)", "non_linear=True")),
        named("ex3_mlp/last_layer_linear", "ex3_mlp/deeper_network", "ex3_mlp/single_layer", text="linear"),
        # a target of 2.0 is out of tanh's reach; one neuron with tanh is no linear model
        carried=frozenset({"ex3_train_xor/fits_three_points", "ex3_train_xor/three_exact_steps"}),
        piece="MLP",
    ),
    Case(
        "bug_no_zero_grad",
        "training without zero_grad: every step adds all the previous gradients",
        lambda k: k.solved(drop_line(k.answers, "training", "model.zero_grad()")),
        named(*TRAINING),
        piece="train",
    ),
    Case(
        "bug_loss_summed",
        "the loss summed instead of averaged: four times the gradient, and XOR's training diverges",
        lambda k: k.solved(
            swap(
                k.answers,
                "training",
                "zip(predictions, targets)) / len(inputs)",
                "zip(predictions, targets))",
            )
        ),
        # (measured with the reference engine: the three-point fit still converges)
        named("ex3_train_xor/learns_xor", text="loss summed instead of averaged")
        | named("ex3_train_xor/three_exact_steps", text="losses: expected"),
        piece="train",
    ),
    Case(
        "bug_tanh_no_chain",
        "tanh's closure forgets `* grad`: right only when tanh is the root",
        lambda k: k.solved(swap(k.answers, "value_class", "(1.0 - t**2) * grad", "(1.0 - t**2)")),
        named("ex2_other_grads/tanh_chain", text="the chain rule"),
        carried=TRAINING_WITH_TANH,
        piece="Value.tanh._backwards",
    ),
    Case(
        "bug_div_no_chain",
        "the quotient's closure forgets `* grad`: right only when the division is the root",
        lambda k: k.solved(
            swap(
                swap(
                    k.answers, "value_class", "self.grad += grad / other.data", "self.grad += 1 / other.data"
                ),
                "value_class",
                "other.data / other.data * grad",
                "other.data / other.data",
            )
        ),
        named("ex2_other_grads/div_chain", text="the chain rule"),
        piece="Value.__truediv__._backwards",
    ),
    # -- adversarial ---------------------------------------------------------------------------------
    Case(
        "adv_assert_true",
        "the failing test cell replaced by `assert True`",
        lambda k: _set_source(k.solved(_no_train(k)), "ex3_train_xor", "assert True\n"),
        every(["ex3_train_xor"]),  # nbgrader restores the locked cell from the gradebook
    ),
    Case(
        "adv_deleted_tests",
        "the `=`-instead-of-`+=` student deletes two of the test cells that fail",
        lambda k: delete(k.solved(_assign_in_mul(k)), "ex2_reused_nodes", "ex2_backward"),
        {  # add_missing_cells puts them back
            "ex2_add_mul_grads/shared_operand": "uses b twice",
            "ex2_reused_nodes/product_of_a_node_with_itself": "d(a * a)/da = 2a",
            "ex2_reused_nodes/node_used_on_two_paths": "expected 48.0",
        },
        carried=frozenset({"ex2_backward/two_roots_add_up", "ex2_backward/backward_twice"}) | TRAINING,
    ),
    Case(
        "adv_stripped_metadata",
        "the `2 - v` student strips the nbgrader metadata of the failing test cell and edits it",
        _stripped_metadata,
        # the stripped cell is an ordinary cell; the test cell is missing, so it is put back
        named(
            "ex1_reflected_and_numbers/number_minus", "ex1_reflected_and_numbers/zero_minus", text="expected"
        ),
    ),
    Case(
        "adv_retyped_test_cell",
        "a test cell's metadata changed to `solution: true` (a manually graded answer), ex3 not done",
        _retyped_test_cell,
        # gradekit.grading.sanitize.RestoreCells restores the flags (nbgrader's OverwriteCells stopped on
        # "Inconsistent checksums" and left the student ungraded) and logs the change
        every(EX3),
    ),
    Case(
        "adv_inflated_points",
        "the points of the ex1 test cells raised to 100 in the metadata",
        _inflated_points,
        every(EX2 + EX3),  # the gradebook's points count
    ),
    Case(
        "adv_loop_in_method",
        "MLP.zero_grad loops forever (i += 1 forgotten); train zeroes the gradients itself",
        lambda k: k.solved(_loop_in_method(k)),
        named("ex3_mlp/zero_grad", text="took too long"),  # the check's time limit stops it
        piece="MLP",
    ),
    Case(
        "adv_check_ignores_its_limit",
        "__pow__ cancels the grader's alarm and loops forever, ignoring every exception, for "
        "Value(-3.0) ** 3 only (one hidden check asks exactly that)",
        lambda k: k.solved(
            swap(k.answers, "value_class", "if not isinstance(exponent, (int, float)):", HANG_ON_MINUS_THREE)
        ),
        # that check keeps running after its limit: the grader stops the kernel, runs the notebook
        # again without it, and every other check (the next one of that cell too) is graded as usual
        named("ex1_sub_div_pow/pow_negative_base", text="kept running after its time limit"),
        piece="Value.__pow__",
        review=True,
    ),
    Case(
        "adv_loop_after_class",
        "a `while True: pass` left after the classes in a solution cell",
        lambda k: append(k.solved(), "mlp_classes", "while True:\n    pass\n"),
        # the cell times out, but the classes above the loop exist already
        timeouts=1,
    ),
    Case(
        "adv_sigint_ignored",
        "a loop that ignores interrupts: SIGINT set to SIG_IGN, then `while True`",
        lambda k: append(
            k.solved(),
            "training",
            "import signal\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
        ),
        # the kernel ignores the interrupt at the time limit: it is stopped, and the notebook runs
        # again with that cell's definitions only (its import and train(), not the loop): train()
        # is graded as written, and the cell's feedback says what was kept
        review=True,
        timeouts=1,
    ),
    Case(
        "adv_sys_exit_cell",
        "sys.exit() at the end of a solution cell",
        lambda k: append(k.solved(), "topological_order", "import sys\n\nsys.exit()\n"),
        # IPython turns SystemExit into an error output of that (ungraded) cell; the kernel lives
        review=True,
    ),
    Case(
        "adv_sys_exit_in_train",
        "train() calls sys.exit(0), hoping the check ends 'successfully'",
        lambda k: k.solved(swap(k.answers, "training", "losses = []\n", "import sys\nsys.exit(0)\n")),
        named(*TRAINING, text="raised SystemExit"),
        review=True,
    ),
    Case(
        "adv_os_exit",
        "os._exit(0) at the end of the training cell: the kernel process dies",
        lambda k: append(k.solved(), "training", "import os\n\nos._exit(0)\n"),
        # the grader runs the notebook again with that cell's definitions only, which define train
        review=True,
    ),
    Case(
        "adv_os_exit_in_one_place",
        "os._exit(0) in one method, __rtruediv__: the kernel dies while one check runs",
        lambda k: k.solved(
            swap(k.answers, "value_class", "return Value(other) / self", "import os\nos._exit(0)")
        ),
        named("ex1_reflected_and_numbers/number_over", text="the kernel stopped"),
        review=True,
    ),
    Case(
        "adv_eq_lies",
        "Value.__eq__ always True, on top of a `*` that adds (ex1 only)",
        lambda k: append(
            k.solved(swap(k.only("ex1"), "value_class", "self.data * other.data", "self.data + other.data")),
            "value_class",
            "Value.__eq__ = lambda self, other: True\n",
        ),
        # negation and the reflected product call `*`; and Value, patched from outside its body,
        # is judged whole (no reference `*` in its place), so they fail as well
        named(
            "ex1_add_mul/product_data",
            "ex1_reflected_and_numbers/times_number",
            "ex1_reflected_and_numbers/times_float",
            "ex1_reflected_and_numbers/number_times",
            "ex1_reflected_and_numbers/negative_times",
            "ex1_sub_div_pow/neg_data",
            "ex1_sub_div_pow/neg_twice",
            text="expected",
        )
        | named("ex1_add_mul/nodes_are_distinct", text="equal: expected False, got True")
        | every(EX2 + EX3),
        review=True,
    ),
    Case(
        "adv_float_lies",
        "Value.__float__ returns 0.0 and train() returns float(loss) without ever stepping",
        lambda k: append(
            k.solved(rewrite(k.answers, "training", "losses = []", TRAIN_FLOAT_LIES)),
            "value_class",
            "Value.__float__ = lambda self: 0.0\n",
        ),
        named(*TRAINING_WITH_TANH, text="the loss should fall")
        | named("ex3_train_xor/three_exact_steps", text="losses: expected"),
        review=True,
    ),
    Case(
        "adv_isclose_patched",
        "math.isclose patched to always say True, on top of a wrong tanh (ex1 only)",
        lambda k: append(
            k.solved(_wrong_tanh_data(k)), "value_class", "math.isclose = lambda *args, **kwargs: True\n"
        ),
        # the verdicts are taken in the grader's process, whose math is its own
        named("ex1_tanh/tanh_data", "ex1_tanh/tanh_values", text="use math.tanh(self.data)")
        | every(EX2 + EX3),
        review=True,
    ),
    Case(
        "adv_abs_patched",
        "builtins.abs patched to return 0.0, on top of a wrong tanh (ex1 only)",
        lambda k: append(
            k.solved(_wrong_tanh_data(k)), "value_class", "import builtins\n\nbuiltins.abs = lambda x: 0.0\n"
        ),
        named("ex1_tanh/tanh_data", "ex1_tanh/tanh_values", text="use math.tanh(self.data)")
        | every(EX2 + EX3),
        review=True,
    ),
    Case(
        "adv_display_hook",
        "the untouched release plus an input transformer that displays 'ok' at the start of every cell",
        lambda k: prepend(nbformat.from_dict(k.release), "value_class", DISPLAY_HOOK),
        every(EX1 + EX2 + EX3),
        review=True,
    ),
    Case(
        "adv_try_everything",
        "the untouched release plus an input transformer that wraps every later cell in try/except",
        lambda k: prepend(nbformat.from_dict(k.release), "value_class", TRY_EVERYTHING),
        every(EX1 + EX2 + EX3),
        review=True,
    ),
    Case(
        "adv_ast_transformer",
        "exercise 1 only, plus an AST transformer that deletes every later `raise` and `assert`",
        lambda k: append(k.solved(k.only("ex1")), "value_class", AST_TRANSFORMER),
        every(EX2 + EX3, None),  # the stubs no longer raise: the checks see None instead
        review=True,
    ),
    Case(
        "adv_patched_checks",
        "the untouched release plus fake check helpers: `check`, `report` and the kit's module "
        "replaced in sys.modules",
        lambda k: prepend(nbformat.from_dict(k.release), "value_class", PATCHED_CHECKS),
        every(EX1 + EX2 + EX3),  # the checks run in the grader: the kernel's copy is never used
        review=True,
    ),
    Case(
        "adv_read_everything",
        "the reference solution, plus code that reads every file it can and prints it base64-encoded",
        lambda k: append(k.solved(), "value_class", READ_EVERYTHING),
        review=True,
    ),
    Case(
        "adv_stderr_warning",
        "the reference, with a warnings.warn() in train (correct code that writes to stderr)",
        lambda k: k.solved(
            swap(
                k.answers,
                "training",
                "losses = []\n",
                "import warnings\nwarnings.warn('lr may be high')\nlosses = []\n",
            )
        ),
    ),
    Case(
        "adv_micrograd",
        "a ready-made autograd: `from micrograd.engine import Value` instead of writing the class",
        _micrograd,
        # micrograd's Value has _prev/_op, no children/op/tanh/backwards, and never resets grads
        named(
            "ex1_add_mul/leaf_and_sum",
            "ex1_add_mul/sum_children",
            "ex1_add_mul/product_children",
            "ex1_add_mul/operands_untouched",
            "ex1_add_mul/sum_op",
            "ex1_add_mul/product_op",
            "ex1_add_mul/children_are_tuples",
            "ex1_add_mul/children_in_operand_order",
            "ex1_sub_div_pow/sub_graph",
            "ex1_sub_div_pow/div_graph",
            "ex1_sub_div_pow/pow_graph",
            "ex1_sub_div_pow/neg_graph",
            "ex1_sub_div_pow/sub_same_node",
            "ex1_sub_div_pow/neg_twice",
            "ex1_reflected_and_numbers/number_becomes_a_child",
            text="no attribute",
        )
        | every(["ex1_tanh"], "no attribute 'tanh'")
        | named(
            "ex2_other_grads/tanh_slope",
            "ex2_other_grads/tanh_chain",
            "ex2_other_grads/tanh_negative",
            "ex2_other_grads/tanh_zero",
            "ex2_other_grads/tanh_large_inputs",
            "ex2_backward/backwards_alias",
            "ex2_backward/value_zero_grad",
            text="no attribute",
        )
        | named("ex2_backward/backward_twice", "ex2_backward/intermediate_reset", text="expected"),
        # the student's own order function and network are the reference's: with the reference
        # Value (which has .children and tanh) they pass; one linear neuron needs no tanh
        carried=testing(ORDER, cells=["ex2_topological_order"])
        | frozenset(
            {
                "ex3_neuron/output",
                "ex3_layer/output_list",
                "ex3_layer/one_neuron_still_a_list",
                "ex3_mlp/deeper_network",
                "ex3_mlp/last_layer_linear",
                "ex3_mlp/output_list",
            }
        )
        | (TRAINING - {"ex3_train_xor/three_exact_steps"}),
        requires="micrograd",
        review=True,
    ),
    *(
        Case(
            f"adv_{technique}",
            f"the untouched release plus forged results for guessable checks, from {how}",
            _forging(technique),
            every(EX1 + EX2 + EX3),  # nothing it writes is an answer to a question of the grader's
            review=True,
        )
        for technique, how in FORGING.items()
    ),
    Case(
        "adv_forge_everything_on_the_reference",
        "the reference solution, plus every forging technique at once",
        lambda k: append(k.solved(), "value_class", snippet("forge_common", *FORGING)),
        review=True,  # its own score, exactly: forged results neither add nor take away
    ),
    Case(
        "adv_invalid_json",
        "a notebook file cut off in the middle (invalid JSON)",
        lambda k: nbformat.writes(k.solved()).encode()[:5000],
        rejected="mini_auto_grad.ipynb is not valid JSON (",
    ),
    Case("adv_empty_file", "an empty file", lambda k: b"", rejected="mini_auto_grad.ipynb is empty"),
    Case(
        "adv_other_assignment",
        "the notebook of another nbgrader assignment, under this assignment's name",
        lambda k: nbformat.from_dict(json.loads(json.dumps(OTHER_ASSIGNMENT))),
        rejected="mini_auto_grad.ipynb is the notebook of another assignment (none of its cells belongs to",
    ),
)


def _set_source(nb, grade_id: str, source: str):
    cell(nb, grade_id).source = source
    return nb


def catalog(include_unavailable: bool = False) -> list[Case]:
    """The cases, without those whose module is not installed (unless asked)."""
    return [case for case in CATALOG if include_unavailable or case.available()]


def build(cases: list[Case], kit: Kit) -> dict[str, Submission]:
    """student -> the notebook (or raw bytes) of every case."""
    students = [case.student for case in cases]
    if len(set(students)) != len(students):
        raise ValueError("two cases share a student id")
    return {case.student: case.build(kit) for case in cases}
