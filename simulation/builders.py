"""How the cases of the simulated cohort build their submissions (the edits of more than a line)."""

from __future__ import annotations

import nbformat

from gradekit.course.notebooks import nbgrader_meta
from simulation.editing import Answers, Kit, append, body, cell, method, rewrite, snippet, swap


def children_as_a_list(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved()
    target = cell(nb, "value_class")
    assert target.source.count("self.children = tuple(children)") == 1
    target.source = target.source.replace("self.children = tuple(children)", "self.children = list(children)")
    return nb


NEURON_WITHOUT_BIAS = (
    ("self.bias = Value(random.uniform(-1, 1))\n", ""),
    ("total = self.bias\n", "total = 0.0\n"),
    ("return self.weights + [self.bias]\n", "return list(self.weights)\n"),
)


def assign_in_mul(kit: Kit) -> Answers:
    answers = swap(
        kit.answers, "value_class", "self.grad += other.data * grad", "self.grad = other.data * grad"
    )
    return swap(answers, "value_class", "other.grad += self.data * grad", "other.grad = self.data * grad")


def wrong_rsub(kit: Kit) -> Answers:
    return swap(kit.answers, "value_class", "return Value(other) - self", "return self - Value(other)")


def no_train(kit: Kit) -> Answers:
    return kit.answers | {"training": [None]}


def wrong_tanh_data(kit: Kit) -> Answers:
    return swap(kit.only("ex1"), "value_class", "math.tanh(self.data)", "math.tanh(self.data / 2)")


def neuron_without_bias(kit: Kit) -> Answers:
    answers = kit.answers
    for old, new in NEURON_WITHOUT_BIAS:
        answers = swap(answers, "mlp_classes", old, new)
    return answers


def number_helper(kit: Kit) -> nbformat.NotebookNode:
    wrap = "other = other if isinstance(other, Value) else Value(other)\n"
    answers = {cell: list(codes) for cell, codes in kit.answers.items()}
    answers["value_class"] = [
        code.replace(wrap, "other = as_value(other)\n") if code else code for code in answers["value_class"]
    ]
    for op in ("+", "-", "*", "/"):
        answers = swap(
            answers, "value_class", f"return Value(other) {op} self", f"return as_value(other) {op} self"
        )
    return append(kit.solved(answers), "value_class", snippet("as_value_helper"))


def loop_in_method(kit: Kit) -> Answers:
    answers = rewrite(kit.answers, "mlp_classes", "p.grad = 0.0", body("zero_grad_no_increment"))
    return swap(
        answers, "training", "model.zero_grad()\n", "for p in model.parameters():\n        p.grad = 0.0\n"
    )


def stripped_metadata(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved(wrong_rsub(kit))
    target = cell(nb, "ex1_reflected_and_numbers")
    target.metadata = {}
    target.source = "assert True  # (metadata removed, so that the cell could be edited)\n"
    return nb


def retyped_test_cell(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved(kit.only("ex1", "ex2"))
    meta = nbgrader_meta(cell(nb, "ex3_train_xor"))
    meta["solution"] = True
    return nb


def inflated_points(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved(kit.only("ex1"))
    for grade_id in kit.test_cells("ex1"):
        nbgrader_meta(cell(nb, grade_id))["points"] = 100
    return nb


def micrograd(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved()
    cell(nb, "value_class").source = "import math\nimport random\n\nfrom micrograd.engine import Value\n"
    return nb


def children_as_a_set(kit: Kit) -> Answers:
    answers = kit.answers
    for op in "+*-/":
        old = f"Value(self.data {op} other.data, children=(self, other)"
        answers = swap(answers, "value_class", old, old.replace("(self, other)", "{self, other}"))
    return answers


def eq_without_hash(kit: Kit) -> nbformat.NotebookNode:
    nb = kit.solved()
    target = cell(nb, "value_class")
    assert target.source.count("    def __repr__(self):") == 1
    target.source = target.source.replace(
        "    def __repr__(self):", method("eq_without_hash") + "\n\n    def __repr__(self):"
    )
    return nb


def tanh_through_exp(kit: Kit) -> Answers:
    return swap(
        kit.answers,
        "value_class",
        "t = math.tanh(self.data)\n",
        "e = math.exp(2 * self.data)\nt = (e - 1) / (e + 1)\n",
    )


def set_source(nb, grade_id: str, source: str):
    cell(nb, grade_id).source = source
    return nb
