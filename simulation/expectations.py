"""What a simulated student must get, written down before grading: the `Case`, and helpers that
name checks by their test cells and by the pieces they test."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gradekit.checks import probes
from gradekit.course.notebooks import EXERCISES, SOURCE_NOTEBOOK, exercise_of, nbgrader_meta, read
from simulation.editing import Kit, Submission


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
