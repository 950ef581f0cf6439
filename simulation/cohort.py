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

from simulation.cases import adversarial, correct, mistakes, partial
from simulation.editing import Answers, CheckInfo, Kit, Submission, append, cell, snippet
from simulation.expectations import NOT_DONE, Case, Expected, default_kit, named, source_checks, testing

__all__ = [
    "CATALOG",
    "NOT_DONE",
    "Answers",
    "Case",
    "CheckInfo",
    "Expected",
    "Kit",
    "Submission",
    "append",
    "build",
    "catalog",
    "cell",
    "default_kit",
    "named",
    "snippet",
    "source_checks",
    "testing",
]

CATALOG: tuple[Case, ...] = correct.CASES + partial.CASES + mistakes.CASES + adversarial.CASES


def catalog(include_unavailable: bool = False) -> list[Case]:
    """The cases, without those whose module is not installed (unless asked)."""
    return [case for case in CATALOG if include_unavailable or case.available()]


def build(cases: list[Case], kit: Kit) -> dict[str, Submission]:
    """student -> the notebook (or raw bytes) of every case."""
    students = [case.student for case in cases]
    if len(set(students)) != len(students):
        raise ValueError("two cases share a student id")
    return {case.student: case.build(kit) for case in cases}
