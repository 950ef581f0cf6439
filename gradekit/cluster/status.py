"""Who is graded and who is *missing* (the rule `--only-missing` and the check job use).

A student is *graded* when all three hold, and *missing* otherwise:
  1. the gradebook holds their submission and a score for every autograded test cell
     (nbgrader creates the submission with empty scores before executing, and saves each score
     as the test cell is processed);
  2. `autograded/<id>/<assignment>/<notebook>.ipynb` exists for every notebook they submitted, is a
     readable notebook and has been executed (nbgrader first writes the sanitized notebook there,
     unexecuted, and overwrites it with the executed one last: a process killed in between leaves a
     folder that plain `nbgrader autograde` skips forever as "existing");
  3. the submission is not newer than its grading (`timestamp.txt` in submitted/ vs autograded/).
A student intake found not gradable is missing, with intake's reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from gradekit import intake
from gradekit.course.gradebook import GradebookState, gradebook_state


def executed(notebook: Path) -> bool | None:
    """True if the notebook has been executed, False if not, None if it is not a readable notebook
    (a write cut off midway)."""
    try:
        with notebook.open(encoding="utf-8") as fh:
            cells = json.load(fh)["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return any(c.get("cell_type") == "code" and c.get("execution_count") is not None for c in cells)


def submission_time(folder: Path) -> datetime | None:
    """The time in a folder's timestamp.txt, as nbgrader reads it; None if none can be read."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc((folder / "timestamp.txt").read_text().strip())
    except (OSError, ValueError):
        return None


def missing_reason(course: Path, student: str, state: GradebookState, assignment: str):
    """None if the student is graded, else why not (see the module docstring)."""
    submitted = course / "submitted" / student / assignment
    autograded = course / "autograded" / student / assignment
    record = intake.Record.load(submitted)
    if record is not None and record.flagged:
        return f"not gradable: {record.reason}"
    if student not in state.submissions:
        return "no submission in the gradebook"
    if state.unsaved.get(student):
        return f"no score for {state.unsaved[student]} of {state.test_cells} test cells in the gradebook"
    for name in sorted(p.stem for p in submitted.glob("*.ipynb") if p.stem in state.notebooks):
        result = executed(autograded / f"{name}.ipynb")
        if result is None:
            if not (autograded / f"{name}.ipynb").exists():
                return f"no autograded {name}.ipynb"
            return f"autograded {name}.ipynb is unreadable (cut off?)"
        if not result:
            return f"autograded {name}.ipynb was never executed (grading interrupted)"
    handed_in, graded = submission_time(submitted), submission_time(autograded)
    if handed_in is not None and (graded is None or handed_in > graded):
        return "submitted again after grading"
    return None


def grading_status(
    course: Path, db_url: str, students: Iterable[str], assignment: str
) -> dict[str, str | None]:
    """student -> None if graded, else the reason it is missing."""
    state = gradebook_state(db_url, assignment)
    return {s: missing_reason(course, s, state, assignment) for s in students}
