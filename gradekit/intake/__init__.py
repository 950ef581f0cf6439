"""Submissions as they arrive: make each student's folder in submitted/ gradable, or say why not.

Real hand-ins are renamed (`mini_auto_grad (1).ipynb`, `-Copy1`, `Copy of …`, another case),
handed in beside an untouched copy of the release, saved with a byte-order mark or in UTF-16,
or stamped with a time nbgrader misreads (`+0100` read as 100 seconds) or cannot read at all
(free text crashes nbgrader 0.9.6). Before nbgrader grades a folder
`submitted/<student>/<assignment>/`, `take_in_folder` decides, for each notebook of the assignment:

1. The candidates are the folder's readable notebooks that are this notebook: the same name once
   copy marks, case and separators are ignored (`name_key`), or any name when their nbgrader
   cells are this notebook's cells. A notebook whose cells all belong to another assignment is
   not a candidate.
2. A candidate *holds work* when one of its code cells is not a cell of the release.
3. The notebook graded is, in order: the candidate with the exact name if it holds work; else the
   only candidate that holds work; else, when several renamed candidates hold the same work, the
   first by name; else, when none holds work, the exact name or the first candidate (an untouched
   release is graded, and scores what it earns: nothing). Two renamed candidates with different
   work are *ambiguous*: the folder is flagged, naming the files.
4. The notebook graded is written under its own name, UTF-8 without a byte-order mark; every other
   notebook in the folder is moved aside, so nbgrader sees exactly one file per notebook.
5. `timestamp.txt` is read as ISO 8601 (a `Z`, a `+01:00` or `+0100` offset, or a zone name,
   else UTC) and rewritten in nbgrader's own format, in UTC, when nbgrader would read it otherwise.
   A timestamp that is not a time is moved aside (the submission counts as on time) and reported.
   A submission the LMS marked late (`gradekit.intake.lms`) with no time of its own gets the due date
   plus one second: late, by the least amount the archive allows.

Nothing is deleted or overwritten: every file moved or rewritten is kept, byte for byte, under
`.intake/originals/` of the folder, and `.intake/record.json` says what was decided and why
(`c.CourseDirectory.ignore` keeps `.intake` out of autograded/). A folder handed in as nbgrader
expects it, with nothing to note, is not touched at all. A folder that cannot be graded is
*flagged* with a one-line reason an instructor can act on; `take_in` registers its student in the
gradebook with a submission that has no score, so the export and the report list them as not
graded instead of losing them or showing a 0.

Run it as `python -m gradekit intake [ASSIGNMENT]` (the kit's commands run it before grading), and
nbgrader runs it for each student it autogrades (`c.Autograde.pre_convert_hook =
"gradekit.intake.pre_convert_hook"`), so that `nbgrader autograde` alone grades renamed notebooks.

Modules:
- `files`: which file is the assignment's notebook (names, encodings, cells);
- `folder`: one student's folder made gradable, or judged not gradable with a reason (`take_in_folder`);
- `timestamps`: submission times as machines and LMSs write them;
- `exchange`: nbgrader's exchange, collected without trusting what students wrote into it;
- `lms`: `nbgrader zip_collect` for LMS downloads, losing no student.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gradekit.course import Course
from gradekit.intake.files import Expected, NotANotebook, decode, expected_notebooks, name_key, parse_notebook
from gradekit.intake.folder import INTAKE_DIR, RECORD, Record, take_in_folder
from gradekit.intake.timestamps import read_timestamp

LMS_LEDGER = "lms.json"  # written by gradekit.intake.lms into downloaded/<assignment>/

__all__ = [
    "INTAKE_DIR",
    "LMS_LEDGER",
    "RECORD",
    "Expected",
    "Intake",
    "NotANotebook",
    "Record",
    "decode",
    "expected_notebooks",
    "intake_command",
    "name_key",
    "parse_notebook",
    "pre_convert_hook",
    "register",
    "take_in",
    "take_in_folder",
]


def lms_ledger(course: Course) -> dict:
    """What `gradekit.intake.lms` learnt from the LMS's file names at zip_collect ({} if none)."""
    path = course.root / "downloaded" / course.assignment / LMS_LEDGER
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@dataclass
class Intake:
    """What `take_in` found in a whole course."""

    records: dict[str, Record]  # student -> record
    unclaimed: list[str] = field(default_factory=list)  # LMS files no student id could be read from

    @property
    def flagged(self) -> dict[str, str]:
        return {s: r.reason for s, r in self.records.items() if r.flagged}

    def lines(self) -> list[str]:
        """One line per student with something to say, then the unclaimed files."""
        out = []
        for student, record in sorted(self.records.items()):
            if record.flagged:
                out.append(f"not gradable: {student}: {record.reason}")
            for line in record.attention:
                out.append(f"check: {student}: {line}")
            for note in record.notes:
                out.append(f"note: {student}: {note}")
        out += [
            f"unclaimed: {name} (no student id in its name; see nbgrader_config.py)"
            for name in self.unclaimed
        ]
        return out


def take_in(course: Course, students: Iterable[str] | None = None) -> Intake:
    """Take in every student folder of `course` (or only `students`), and register each flagged
    student in the gradebook with a submission that has no score."""
    notebooks = expected_notebooks(course.release)
    if not notebooks:
        raise FileNotFoundError(
            f"no release notebook in {course.release}: run `nbgrader generate_assignment` first"
        )
    due = course.due()
    ledger = lms_ledger(course)
    late = {s for s, entry in ledger.get("students", {}).items() if entry.get("late")}
    records = {}
    for student in students if students is not None else course.students():
        folder = course.folder(student)
        if not folder.is_dir():
            record = Record(student, course.assignment)
            loose = sorted(p.name for p in folder.parent.iterdir() if p.is_file())
            record.flagged.append(
                f"the files are not in a {course.assignment}/ folder: move {', '.join(loose)} into"
                f" {folder.relative_to(course.root) if folder.is_relative_to(course.root) else folder}/"
            )
            records[student] = record
            continue
        try:
            records[student] = take_in_folder(folder, notebooks, due, late_by_lms=student in late)
        except Exception as error:  # one folder never stops the others
            record = Record(student, course.assignment)
            record.flagged.append(f"intake failed on this folder ({type(error).__name__}: {error})")
            records[student] = record
    flagged = [r for r in records.values() if r.flagged]
    if flagged:
        register(course, flagged)
    return Intake(records, list(ledger.get("unclaimed", [])))


def register(course: Course, records: Iterable[Record]) -> None:
    """Give each flagged student a gradebook row: a submission without scores (not graded). A
    submission graded earlier is replaced: its scores were for files that are no longer what the
    student handed in (the files themselves stay in submitted/, under .intake/ when moved)."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    from gradekit.course.gradebook import scored

    with Gradebook(course.db_url) as gradebook, warnings.catch_warnings():
        # nbgrader's own update_or_create_submission trips SQLAlchemy's autoflush ("not in session")
        warnings.filterwarnings("ignore", message=".*not in session.*")
        for record in records:
            gradebook.update_or_create_student(record.student)
            timestamp = None
            if record.timestamp:
                with contextlib.suppress(ValueError):
                    timestamp = read_timestamp(record.timestamp)
            with contextlib.suppress(MissingEntry):
                old = gradebook.find_submission(course.assignment, record.student)
                if scored(old):
                    gradebook.remove_submission(course.assignment, record.student)
            gradebook.update_or_create_submission(course.assignment, record.student, timestamp=timestamp)


# ---------------------------------------------------------------------------------------------
# nbgrader's hook


def pre_convert_hook(assignment: str, student: str, notebooks: list[str]) -> None:
    """`c.Autograde.pre_convert_hook`: take in the folder nbgrader is about to grade, and point
    nbgrader at what intake decided. nbgrader 0.9.6 passes the converter's own list of the
    folder's notebook paths as `notebooks` and grades whatever that list then holds, so the list
    is updated in place (emptied for a flagged folder: nbgrader then records the submission
    without a score). nbgrader swallows a hook's exceptions; this one logs its own."""

    log = logging.getLogger("gradekit.intake")
    if not notebooks:
        return
    folder = Path(notebooks[0]).resolve().parent
    try:
        course = _running_course(assignment, folder)
        ledger = lms_ledger(course)
        late = bool(ledger.get("students", {}).get(folder.parent.name, {}).get("late"))
        record = take_in_folder(folder, expected_notebooks(course.release), course.due(), late)
    except Exception as error:  # never let intake stop nbgrader from grading what it found
        _app_log(log).error(
            "intake of %s failed, grading it as it is: %s: %s", folder, type(error).__name__, error
        )
        return
    app_log = _app_log(log)
    for note in record.notes:
        app_log.info("intake: %s: %s", record.student, note)
    for line in record.attention:
        app_log.warning("intake: %s: %s", record.student, line)
    if record.flagged:
        app_log.error("intake: %s cannot be graded: %s", record.student, record.reason)
    notebooks[:] = [str(folder / f"{name}.ipynb") for name in record.graded]


def _app_log(fallback):
    from traitlets.config import Application

    return Application.instance().log if Application.initialized() else fallback


def _running_course(assignment: str, folder: Path) -> Course:
    """The course as the running nbgrader command sees it (command-line options included)."""
    from nbgrader.apps.autogradeapp import AutogradeApp

    if AutogradeApp.initialized():
        return Course.from_coursedir(AutogradeApp.instance().coursedir, assignment)
    return Course.load(folder.parent.parent.parent, assignment)


# ---------------------------------------------------------------------------------------------
# Command line


def intake_command(args) -> int:
    """`python -m gradekit intake`: what intake makes of each submission folder (exit 1 if some
    cannot be graded or an LMS file has no student)."""
    course = Course.load(args.course, args.assignment, args.db)
    intake = take_in(course, args.student)
    for line in intake.lines():
        print(line)
    flagged = len(intake.flagged)
    print(
        f"intake: students={len(intake.records)} gradable={len(intake.records) - flagged}"
        f" not_gradable={flagged} unclaimed={len(intake.unclaimed)}"
    )
    return 1 if flagged or intake.unclaimed else 0
