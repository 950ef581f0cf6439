"""A simulated cohort: submissions built from the release, each with the grade it must get.

Every case is a student: a notebook made from the release (its stubs filled with code, or the
notebook or file damaged on purpose) and an expectation written down *before* grading:

- `fails`: the test cells the submission must fail, each with a piece of text its feedback must
  show (the hint of the failing assertion, or the exception name; None where the first failing
  check cannot be predicted, e.g. which assertion of a training test trips first). Every other
  test cell must pass. The per-exercise scores follow from the points of the source notebook:
  an exercise scores its points minus those of its failed cells.
- or `rejected`: nbgrader cannot grade the submission at all; that student must end with no
  autograded notebook and 0 points, while everybody else is graded.

A case can also carry `hole`: the kit (as configured today) gives a different score than the one
the case expects, because of a gap in the tests or in nbgrader; `hole` says why and what fixes
it. The cohort test keeps such cases out of its main assertion and checks them as strict xfails,
so that the day the fix lands, the test says so.

    from gradekit.cohort import Kit, catalog, build
    kit = Kit.load(course_root)
    submissions = build(catalog(), kit)      # student -> notebook or bytes
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from gradekit.notebooks import (
    ASSIGNMENT,
    COURSE_ROOT,
    EXERCISES,
    NOTEBOOK,
    exercise_of,
    grade_cells,
    nbgrader_meta,
    read,
)
from gradekit.submissions import fill, only, reference_answers, region_exercises

Answers = dict[str, list[str | None]]
Submission = nbformat.NotebookNode | bytes

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


# -- The catalog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    student: str
    what: str  # what the student did, in a sentence
    build: Callable[[Kit], Submission]
    fails: Mapping[str, str | None] = field(default_factory=dict)  # grade_id -> feedback text
    rejected: str | None = None  # why nbgrader cannot grade this submission at all
    hole: str | None = None  # why the kit does not give the expected score today, and the fix
    requires: str | None = None  # a module the case needs (skipped without it)
    review: bool = False  # its code must be flagged for review by the grade report
    timeouts: int = 0  # cells that run into the cell timeout (each costs c.Execute.timeout)

    def expected(self, points: Mapping[str, float]) -> dict[str, float]:
        """Per-exercise score: the points of every test cell the case does not fail."""
        unknown = set(self.fails) - set(points)
        if unknown:
            raise ValueError(f"{self.student}: no test cell named {sorted(unknown)}")
        scores = dict.fromkeys(EXERCISES, 0.0)
        if self.rejected:
            return scores
        for grade_id, value in points.items():
            if grade_id not in self.fails:
                scores[exercise_of(grade_id)] += value
        return scores

    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


NOT_DONE = "NotImplementedError"  # what a stub left as released raises

EX1 = ("ex1_add_mul", "ex1_sub_div_pow", "ex1_reflected_and_numbers", "ex1_tanh")
EX2 = ("ex2_add_mul_grads", "ex2_other_grads", "ex2_reused_nodes", "ex2_topological_order", "ex2_backward")
EX3 = ("ex3_neuron", "ex3_layer", "ex3_mlp", "ex3_train_xor")


def every(cells: tuple[str, ...], text: str | None = NOT_DONE) -> dict[str, str | None]:
    return dict.fromkeys(cells, text)


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


CATALOG: tuple[Case, ...] = (
    # -- correct, in another way than the reference: full marks ----------------------------------
    Case("ok_reference", "the reference solution", lambda k: k.solved()),
    Case(
        "ok_recursive_order",
        "recursive depth-first search for the order (the chain of the hidden test is ~600 deep, "
        "under the ~970 a kernel allows)",
        lambda k: k.solved(rewrite(k.answers, "topological_order", "order.reverse()", RECURSIVE_ORDER)),
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
                "other.grad -= self.data / other.data**2 * grad",
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
        "part_no_train",
        "Neuron, Layer and MLP written, train left as released",
        lambda k: k.solved(_no_train(k)),
        {"ex3_train_xor": NOT_DONE},
    ),
    # -- one common mistake each ---------------------------------------------------------------------
    Case(
        "bug_assign_in_mul",
        "`=` instead of `+=` in both lines of the product's closure: a node used twice keeps one "
        "contribution",
        lambda k: k.solved(_assign_in_mul(k)),
        {
            # c = a*b + b: the product overwrites the 1 that the sum gave b
            "ex2_add_mul_grads": "b is used twice, add both parts",
            # a * a: a gets 3 twice instead of 3 + 3
            "ex2_reused_nodes": "d(a * a)/da should be 2a = 6.0",
            # (w * 5).backward() overwrites the 2 of the first pass
            "ex2_backward": "should add up to 2 + 5 = 7.0",
            # every weight keeps the gradient of one sample of four: XOR is not learnt
            "ex3_train_xor": None,
        },
    ),
    Case(
        "bug_root_grad_not_set",
        "backward() never sets the root's gradient to 1: every gradient stays 0",
        lambda k: k.solved(drop_line(k.answers, "value_class", "self.grad = 1.0")),
        {
            "ex2_add_mul_grads": "L.grad should be 1.0",
            "ex2_other_grads": "the derivative of x - 3",
            "ex2_reused_nodes": "db/da should be 2.0",
            "ex2_backward": "d(root)/d(root) = 1.0",
            "ex3_neuron": "must keep them in the graph",  # hidden: d(out)/d(x0) stays 0
            "ex3_train_xor": "the loss should fall",  # no gradient, no step: the loss is constant
        },
    ),
    Case(
        "bug_order_not_reversed",
        "the topological order returned leaves first: only the root's own children get a gradient",
        lambda k: k.solved(drop_line(k.answers, "topological_order", "order.reverse()")),
        {
            "ex2_add_mul_grads": "x4.grad should be 2.0",  # L, x6, x5 are right, x4 is a grandchild
            "ex2_other_grads": "(x - 1) / (x + 1)",  # the only hidden case where x is not a child
            "ex2_reused_nodes": "dc/da should be 4.0",  # b = a + a; c = b + b
            "ex2_topological_order": "the root must come first",
            "ex2_backward": "a.grad = 2 * 12 = 24.0",  # hidden: a * 3 * 4
            "ex3_neuron": "must keep them in the graph",
            "ex3_train_xor": "the loss should fall",  # the parameters are never reached
        },
    ),
    Case(
        "bug_tanh_derivative",
        "tanh's derivative taken at the input, 1 - a**2, instead of 1 - tanh(a)**2",
        lambda k: k.solved(swap(k.answers, "value_class", "(1.0 - t**2)", "(1.0 - self.data**2)")),
        {
            "ex2_other_grads": "the derivative of tanh(x)",
            # hidden units with |a| > 1 are pushed the wrong way
            "ex3_train_xor": None,
        },
    ),
    Case(
        "bug_power_derivative",
        "power rule without the - 1: d(a**n)/da = n * a**n",
        lambda k: k.solved(
            swap(k.answers, "value_class", "self.data ** (exponent - 1)", "self.data**exponent")
        ),
        {
            "ex2_other_grads": "the derivative of x ** 3",
            "ex2_backward": "expected a.grad = 4.0",  # hidden: (a**2).backwards() at a = 2 gives 8
            # d(p - t)**2/dp becomes 2 (p - t)**2 >= 0: every prediction is pushed down
            "ex3_train_xor": None,
        },
    ),
    Case(
        "bug_rsub_order",
        "`2 - v` computed as v - 2",
        lambda k: k.solved(_wrong_rsub(k)),
        # ex2 passes: its gradients are checked against finite differences of the same (wrong) data
        {"ex1_reflected_and_numbers": "2 - v should be -2.0"},
    ),
    Case(
        "bug_rtruediv_order",
        "`2 / v` computed as v / 2",
        lambda k: k.solved(
            swap(k.answers, "value_class", "return Value(other) / self", "return self / Value(other)")
        ),
        {"ex1_reflected_and_numbers": "2 / v should be 0.5"},
    ),
    Case(
        "bug_neuron_no_bias",
        "a Neuron without bias (no attribute, not in parameters, not in the output)",
        lambda k: k.solved(_neuron_without_bias(k)),
        {
            "ex3_neuron": "has no attribute 'bias'",
            "ex3_layer": "9 parameters",
            "ex3_mlp": "33 parameters",
            # ex3_train_xor passes: it grades train(), which is right, and 24 weights without
            # biases still learn XOR (f(0, 0) = 0 comes for free) and fit the 3 hidden points.
            # (First predicted to fail; measured to pass; the reasoning above is why.)
        },
    ),
    Case(
        "bug_layer_bare_value",
        "a Layer of one neuron returns the bare Value, not a list",
        lambda k: k.solved(
            rewrite(k.answers, "mlp_classes", "return [neuron(x) for neuron", LAYER_BARE_VALUE)
        ),
        {
            "ex3_layer": "not the bare Value",
            "ex3_mlp": "the MLP returns the last layer's list",
            "ex3_train_xor": "not subscriptable",  # model(x)[0] on a Value
        },
    ),
    Case(
        "bug_nonlinear_last_layer",
        "tanh in every layer, the last one too",
        lambda k: k.solved(swap(k.answers, "mlp_classes", "non_linear=(i != last)", "non_linear=True")),
        {
            "ex3_mlp": "the last layer must be linear",
            "ex3_train_xor": None,  # hidden: a target of 2.0 is out of tanh's reach
        },
    ),
    Case(
        "bug_no_zero_grad",
        "training without zero_grad: every step adds all the previous gradients",
        lambda k: k.solved(drop_line(k.answers, "training", "model.zero_grad()")),
        {"ex3_train_xor": None},
    ),
    Case(
        "bug_tanh_no_chain",
        "tanh's closure forgets `* grad`: right only when tanh is the root",
        lambda k: k.solved(swap(k.answers, "value_class", "(1.0 - t**2) * grad", "(1.0 - t**2)")),
        {"ex2_other_grads": "tanh", "ex3_train_xor": None},
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
                "other.data**2 * grad",
                "other.data**2",
            )
        ),
        {"ex2_other_grads": "/"},
    ),
    # -- adversarial ---------------------------------------------------------------------------------
    Case(
        "adv_assert_true",
        "the failing test cell replaced by `assert True`",
        lambda k: _set_source(k.solved(_no_train(k)), "ex3_train_xor", "assert True\n"),
        {"ex3_train_xor": NOT_DONE},  # nbgrader restores the locked cell from the gradebook
    ),
    Case(
        "adv_deleted_tests",
        "the `=`-instead-of-`+=` student deletes two of the test cells that fail",
        lambda k: delete(k.solved(_assign_in_mul(k)), "ex2_reused_nodes", "ex2_backward"),
        {  # add_missing_cells puts them back
            "ex2_add_mul_grads": "b is used twice, add both parts",
            "ex2_reused_nodes": "d(a * a)/da should be 2a = 6.0",
            "ex2_backward": "should add up to 2 + 5 = 7.0",
            "ex3_train_xor": None,
        },
    ),
    Case(
        "adv_stripped_metadata",
        "the `2 - v` student strips the nbgrader metadata of the failing test cell and edits it",
        _stripped_metadata,
        # the stripped cell is an ordinary cell; the test cell is missing, so it is put back
        {"ex1_reflected_and_numbers": "2 - v should be -2.0"},
    ),
    Case(
        "adv_retyped_test_cell",
        "a test cell's metadata changed to `solution: true` (a manually graded answer)",
        _retyped_test_cell,
        rejected="OverwriteCells cannot restore a test cell whose grade/solution flags changed: "
        "RuntimeError 'Inconsistent checksums'",
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
        {"ex3_mlp": "CellTimeoutError"},  # hidden: deep.zero_grad() runs into the cell timeout
        timeouts=1,
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
        rejected="the kernel cannot be interrupted; nbgrader gives up on the submission",
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
        "train() calls sys.exit(0), hoping the test cell ends 'successfully'",
        lambda k: k.solved(swap(k.answers, "training", "losses = []\n", "import sys\nsys.exit(0)\n")),
        {"ex3_train_xor": "SystemExit"},
        review=True,
    ),
    Case(
        "adv_os_exit",
        "os._exit(0) at the end of a solution cell: the kernel process dies",
        lambda k: append(k.solved(), "training", "import os\n\nos._exit(0)\n"),
        rejected="the kernel died (DeadKernelError); nbgrader gives up on the submission",
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
        # the tests compare floats and use `is`: the lie buys nothing
        {
            "ex1_add_mul": "should have data -6.0",
            "ex1_sub_div_pow": "-Value(6) should have data -6.0",  # -a is a * -1
            "ex1_reflected_and_numbers": "v * 3 should be 12.0",
        }
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
        {"ex3_train_xor": "the loss should fall"},
        review=True,
    ),
    Case(
        "adv_isclose_patched",
        "math.isclose patched to always say True, on top of a wrong tanh (ex1 only)",
        lambda k: append(
            k.solved(_wrong_tanh_data(k)), "value_class", "math.isclose = lambda *args, **kwargs: True\n"
        ),
        # the tests do not use math.isclose
        {"ex1_tanh": "tanh(0.5) should be"} | every(EX2 + EX3),
        review=True,
    ),
    Case(
        "adv_abs_patched",
        "builtins.abs patched to return 0.0, on top of a wrong tanh (ex1 only)",
        lambda k: append(
            k.solved(_wrong_tanh_data(k)), "value_class", "import builtins\n\nbuiltins.abs = lambda x: 0.0\n"
        ),
        {"ex1_tanh": "tanh(0.5) should be"} | every(EX2 + EX3),
        hole=(
            "the tests compare with abs(got - expected) < tol, and student code runs in the same "
            "interpreter before them: patching a builtin passes every tolerance check. No test cell "
            "can defend itself against code that ran first; the report lists such submissions "
            "for review (gradekit.report.SUSPICIOUS)."
        ),
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
        every(EX1 + EX2 + EX3, None),
        hole=(
            "student code runs first in the kernel that runs the tests, and IPython lets it rewrite "
            "every later cell (input_transformers_post, ast_transformers), so the test cells never "
            "fail. No nbgrader setting prevents it; the report lists such submissions for review "
            "(gradekit.report.SUSPICIOUS), and only running the tests outside the student's "
            "interpreter would close it."
        ),
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
        every(EX1, None)
        | {
            "ex2_other_grads": None,  # no tanh
            "ex2_topological_order": None,  # no .children
            "ex2_backward": None,  # c.backward() twice gives 36, not 24
        }
        | every(EX3, None),  # Neuron needs tanh
        requires="micrograd",
        review=True,
    ),
    Case(
        "adv_invalid_json",
        "a notebook file cut off in the middle (invalid JSON)",
        lambda k: nbformat.writes(k.solved()).encode()[:5000],
        rejected="nbformat cannot read it",
    ),
    Case("adv_empty_file", "an empty file", lambda k: b"", rejected="nbformat cannot read it"),
    Case(
        "adv_other_assignment",
        "the notebook of another nbgrader assignment, under this assignment's name",
        lambda k: nbformat.from_dict(json.loads(json.dumps(OTHER_ASSIGNMENT))),
        rejected="none of the test cells can be put back: add_missing_cells raises KeyError",
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
