"""The checks: what a test cell is made of, and how the grader reads it.

- `framework`: named checks with points, hints and expected vs got; the notebook's first code cell
  is an exact copy of this file, so the release stays one self-contained notebook;
- `probes`: test cells as the grader reads them (their checks, hidden or not, and what a kernel
  runs in their place);
- `carry_forward`: the pieces of the solution a check names, and the *world* of a set of pieces
  (the student's code with the reference's in place of every other piece);
- `closures`: a closure moved into another method for a world, its names mapped to the host's.

The framework's names are this package's: `from gradekit import checks; checks.verdict(...)`.
"""

from gradekit.checks.framework import (
    LIMITS,
    Check,
    Result,
    check,
    differences,
    failure,
    identify,
    observe,
    plain,
    report,
    shorten,
    show,
    spec_checks,
    spec_mode,
    verdict,
)

__all__ = [
    "LIMITS",
    "Check",
    "Result",
    "check",
    "differences",
    "failure",
    "identify",
    "observe",
    "plain",
    "report",
    "shorten",
    "show",
    "spec_checks",
    "spec_mode",
    "verdict",
]
