"""What a simulated student must get, derived from the checks' declared pieces: the `Case`.

A case says what the student did in the terms the checks use: the pieces of the solution its
mistake is in (`breaks`, e.g. "Value.tanh._backwards"), and where needed the checks of those
pieces that still pass (`passes`: a derivative that is right at 0 passes the check at 0). Every
check's expected verdict then follows from the source notebook:

- a check that names an *unwritten* piece (its code in the submission still holds the release's
  stub) or a broken one fails, unless the case lists it in `passes`;
- every other check passes, with the student's code or by error carried forward.

So adding a check, pointing it at other pieces, or changing its points changes every case's
expectation with it, with no edit here. `caught_by` is for a mistake that shows in only a few of
its pieces' checks (children kept in a set: only the check of their order can see it): then only
those fail. `says` gives, for some failing checks, a text their feedback must show; `carried`
names checks that must pass *by error carried forward* (at least those).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import nbformat

from gradekit.checks.carry_forward import parse_cells, piece_source
from gradekit.course.notebooks import exercise_of
from simulation.editing import CheckInfo, Kit, Submission

NOT_DONE = "not written yet"  # what the feedback says of a check whose code is still a stub
STUB = "raise NotImplementedError()"  # the release's stub (nbgrader's default code_stub)


@functools.cache
def default_kit() -> Kit:
    """The kit of this repository's course."""
    return Kit.load()


def source_checks(kit: Kit | None = None) -> dict[str, CheckInfo]:
    """ "grade_id/check" -> CheckInfo of every check of the course's source notebook, in order."""
    return (kit or default_kit()).checks


def unwritten(submission: Submission, checks: Mapping[str, CheckInfo]) -> frozenset[str]:
    """The pieces named by `checks` whose code in `submission` still holds the release's stub (a
    piece the submission does not define at all is not unwritten: it may come from elsewhere)."""
    if not isinstance(submission, nbformat.NotebookNode):
        return frozenset()
    statements = parse_cells(c.source for c in submission.cells if c.cell_type == "code")
    pieces = {piece for info in checks.values() for piece in info.tests}
    return frozenset(p for p in pieces if STUB in (piece_source(statements, p) or ""))


@dataclass(frozen=True)
class Expected:
    """A case's expectation for one course: what fails (with a text its feedback must show, or
    None), what must pass by error carried forward, and the per-exercise scores in points."""

    fails: dict[str, str | None]
    carried: frozenset[str]
    scores: dict[str, float]
    unwritten: frozenset[str]
    broken: frozenset[str]


@dataclass(frozen=True)
class Case:
    student: str
    what: str  # what the student did, in a sentence
    build: Callable[[Kit], Submission]
    breaks: str | tuple[str, ...] = ()  # the pieces the mistake is in
    passes: Iterable[str] = frozenset()  # checks of broken or unwritten pieces that still pass
    caught_by: Iterable[str] | None = None  # or: the only checks of the broken pieces that fail
    says: Mapping[str, str | None] = field(default_factory=dict)  # failing check -> feedback text
    unwritten_says: str | None = NOT_DONE  # the feedback text of a check of an unwritten piece
    carried: frozenset[str] = frozenset()  # checks that must pass by error carried forward
    rejected: str | None = None  # not gradable: the start of the reason gradekit.intake gives
    requires: str | None = None  # a module the case needs (skipped without it)
    review: bool = False  # its code must be flagged for review by the grade report
    timeouts: int = 0  # cells that run into the cell timeout (each costs c.Execute.timeout)

    @property
    def pieces(self) -> frozenset[str]:
        return frozenset((self.breaks,) if isinstance(self.breaks, str) else self.breaks)

    def expect(self, kit: Kit | None = None) -> Expected:
        """The expectation in the course of `kit` (default: this repository's). Raises ValueError
        when the case names a check the course does not have, or one that cannot do what the case
        says (a check in `caught_by` that tests none of the broken pieces, a carried check that
        tests one)."""
        kit = kit or default_kit()
        checks = kit.checks
        named = set(self.passes) | set(self.caught_by or ()) | set(self.says) | set(self.carried)
        if unknown := named - set(checks):
            raise ValueError(f"{self.student}: no check named {sorted(unknown)}")
        scores = dict.fromkeys(kit.exercise_names, 0.0)
        if self.rejected:
            return Expected({}, frozenset(), scores, frozenset(), self.pieces)
        stubs = unwritten(self.build(kit), checks)

        def testing(pieces):
            return {c for c, info in checks.items() if set(info.tests) & pieces}

        by_mistake = testing(self.pieces) if self.caught_by is None else set(self.caught_by)
        if strays := by_mistake - testing(self.pieces):
            raise ValueError(f"{self.student}: {sorted(strays)} test none of {sorted(self.pieces)}")
        failing = (testing(stubs) | by_mistake) - set(self.passes)
        texts = {c: self.says.get(c, self.unwritten_says if c in testing(stubs) else None) for c in failing}
        if wrong := (set(self.says) - failing) | (self.carried & failing):
            raise ValueError(f"{self.student}: {sorted(wrong)} cannot fail and be described or carried")
        for check_id, info in checks.items():
            if check_id not in failing:
                scores[exercise_of(check_id)] += info.points
        return Expected(dict(sorted(texts.items())), self.carried, scores, stubs, self.pieces)

    def expected(self, kit: Kit | None = None) -> dict[str, float]:
        """Per-exercise score in points: those of every check the case does not fail."""
        return self.expect(kit).scores

    def available(self) -> bool:
        return self.requires is None or importlib.util.find_spec(self.requires) is not None


def named(*check_ids: str, text: str | None = None) -> dict[str, str | None]:
    """The checks `check_ids` ("grade_id/check"), each with the same expected feedback text."""
    unknown = set(check_ids) - set(source_checks())
    if unknown:
        raise ValueError(f"no such check: {sorted(unknown)}")
    return dict.fromkeys(check_ids, text)


def within(name: str) -> tuple[str, ...]:
    """Every piece the checks name that is `name` or part of it ("Value": "Value.__add__", ...)."""
    pieces = {piece for info in source_checks().values() for piece in info.tests}
    return tuple(sorted(p for p in pieces if p == name or p.startswith(name + ".")))


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
# Value is judged whole by the check that its nodes are distinct objects: written exercise 1 (the
# operators that build nodes) passes it while the closures of exercise 2 are still stubs
DISTINCT_NODES = frozenset({"ex1_add_mul/nodes_are_distinct"})
