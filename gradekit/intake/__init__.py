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
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from gradekit.course import Course
from gradekit.course.notebooks import nbgrader_meta
from gradekit.intake.timestamps import nbgrader_reads, nbgrader_timestamp, read_timestamp

INTAKE_DIR = ".intake"  # in each submission folder; listed in c.CourseDirectory.ignore
RECORD = "record.json"
LMS_LEDGER = "lms.json"  # written by gradekit.intake.lms into downloaded/<assignment>/


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with control characters (a newline in a file name...) shown escaped: a line of a
    summary cannot be made to look like several."""
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], text)


class NotANotebook(ValueError):
    """The bytes of a file are not a Jupyter notebook; the message says why, in one line."""


# ---------------------------------------------------------------------------------------------
# Reading what arrived


_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)


def decode(data: bytes) -> tuple[str, str | None]:
    """The text of a notebook file and the byte-order mark it had (None: plain UTF-8). JSON files
    are UTF-8 (RFC 8259 §8.1); editors on Windows add a UTF-8 mark or save UTF-16 with one.
    Raises NotANotebook if the bytes are not text in any of these."""
    for bom, name, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec), f"{name} with a byte-order mark"
            except UnicodeDecodeError as error:  # the byte counted in the file, mark included
                where = len(bom) + error.start
                raise NotANotebook(f"not {name} text ({error.reason} at byte {where})") from None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        raise NotANotebook(f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def parse_notebook(data: bytes) -> tuple[nbformat.NotebookNode, str, str | None]:
    """The notebook in `data`, its text, and the byte-order mark it had. Raises NotANotebook."""
    text, bom = decode(data)
    if not text.strip():
        raise NotANotebook("empty")
    try:
        json.loads(text)  # nbformat says only "does not appear to be JSON", without where
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise NotANotebook(f"not valid JSON ({error.msg} at {where})") from None
    except RecursionError:
        raise NotANotebook("not a notebook (JSON nested too deeply)") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat's own errors for JSON that is no notebook
        message = " ".join(str(error).split())  # one line (jsonschema's messages have several)
        raise NotANotebook(f"not a notebook ({type(error).__name__}: {message[:120]})") from None
    if not isinstance(nb.get("cells"), list):
        raise NotANotebook("not a notebook (no list of cells)")
    for number, cell in enumerate(nb.cells, 1):
        problem = _malformed(cell)
        if problem:
            raise NotANotebook(f"not a notebook (cell {number} {problem})")
    return nb, text, bom


def _malformed(cell) -> str | None:
    """What makes a cell unusable (nbformat only logs an invalid notebook), None if nothing."""
    if not isinstance(cell, dict):
        return "is not an object"
    if not isinstance(cell.get("cell_type"), str):
        return "has no cell type"
    if not isinstance(cell.get("source"), str):
        return "has no text as its source"
    metadata = cell.get("metadata", {})
    if not isinstance(metadata, dict) or not isinstance(metadata.get("nbgrader", {}), dict):
        return "has metadata that is not an object"
    grade_id = metadata.get("nbgrader", {}).get("grade_id")
    if grade_id is not None and not isinstance(grade_id, str):
        return "has a grade_id that is not text"
    return None


_COPY_MARKS = (
    re.compile(r"^copy[ _]of[ _]"),  # Google Drive, Colab: "Copy of x"
    re.compile(r"[ _]*\(\d+\)$"),  # browsers: "x (1)"
    re.compile(r"[ _]*-[ _]*copy([ _]*\(\d+\))?$"),  # Windows: "x - Copy (2)"
    re.compile(r"[ _-]+copy\d*$"),  # Jupyter: "x-Copy1"; macOS: "x copy 2" below
    re.compile(r"[ _]+copy[ _]+\d+$"),
    re.compile(r"[ _-]+\d+$"),  # LMS resubmissions: "x-1", "x_2"
)


def name_key(filename: str) -> str:
    """What a notebook's file name says it is, once copy marks, case, spaces and dashes are ignored:
    `Copy of Mini Auto Grad - Copy (2).ipynb` -> `mini_auto_grad`."""
    key = filename[: -len(".ipynb")] if filename.lower().endswith(".ipynb") else filename
    key = key.strip().lower()
    changed = True
    while changed:
        before = key
        for mark in _COPY_MARKS:
            key = mark.sub("", key).strip()
        changed = key != before
    return re.sub(r"[\s\-]+", "_", key)


# ---------------------------------------------------------------------------------------------
# What the assignment expects


@dataclass(frozen=True)
class Expected:
    """One notebook of the assignment, as the release has it."""

    name: str  # without .ipynb
    cell_ids: frozenset[str]  # grade_ids of its nbgrader cells
    release_code: frozenset[str]  # the stripped sources of the release's code cells

    @classmethod
    def from_release(cls, path: Path) -> Expected:
        nb = nbformat.read(str(path), as_version=4)
        return cls(
            path.stem,
            frozenset(nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c).get("grade_id")),
            frozenset(c.source.strip() for c in nb.cells if c.cell_type == "code"),
        )

    def holds_work(self, nb) -> bool:
        return any(
            c.cell_type == "code" and c.source.strip() and c.source.strip() not in self.release_code
            for c in nb.cells
        )

    def is_mine(self, filename: str, nb) -> bool | None:
        """True: this notebook; None: not this one; False: another assignment's notebook that has
        this one's name."""
        ids = {nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
        if ids & self.cell_ids:
            return True
        named = name_key(filename) == name_key(self.name)
        if named and ids and not ids & self.cell_ids:
            return False
        return True if named else None


def expected_notebooks(release_folder: Path) -> list[Expected]:
    """The assignment's notebooks, from its release folder (`nbgrader generate_assignment`)."""
    return [Expected.from_release(p) for p in sorted(release_folder.glob("*.ipynb"))]


# ---------------------------------------------------------------------------------------------
# One folder


@dataclass
class Record:
    """What intake decided for one student's submission folder (`.intake/record.json`)."""

    student: str
    assignment: str
    graded: dict[str, str] = field(default_factory=dict)  # notebook -> the file it was taken from
    flagged: list[str] = field(default_factory=list)  # why the folder cannot be graded (empty: it can)
    notes: list[str] = field(default_factory=list)  # what intake changed or noticed, one line each
    attention: list[str] = field(default_factory=list)  # graded, but a person should look, one line each
    timestamp: str | None = None  # the submission time nbgrader will read (UTC), if any
    late_by_lms: bool = False  # the LMS marked the upload late
    kept: dict[str, str] = field(default_factory=dict)  # file moved aside -> its place under .intake/

    @property
    def reason(self) -> str | None:
        return "; ".join(self.flagged) or None

    @classmethod
    def load(cls, folder: Path) -> Record | None:
        path = folder / INTAKE_DIR / RECORD
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            record = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        lists = (record.flagged, record.notes, record.attention)
        maps = (record.graded, record.kept)
        well_formed = (
            isinstance(record.student, str)
            and isinstance(record.assignment, str)
            and all(isinstance(x, list) and all(isinstance(t, str) for t in x) for x in lists)
            and all(isinstance(m, dict) and all(isinstance(v, str) for v in m.values()) for m in maps)
            and (record.timestamp is None or isinstance(record.timestamp, str))
            and isinstance(record.late_by_lms, bool)
        )
        return record if well_formed else None

    def save(self, folder: Path) -> None:
        path = folder / INTAKE_DIR / RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


class _Folder:
    """File moves inside one submission folder that lose nothing."""

    def __init__(self, folder: Path, record: Record):
        self.folder, self.record = folder, record
        self.originals = folder / INTAKE_DIR / "originals"

    def keep(self, path: Path) -> None:
        """Move `path` under .intake/originals/, never over an earlier original."""
        self.originals.mkdir(parents=True, exist_ok=True)
        target = self.originals / path.name
        number = 1
        while target.exists():
            number += 1
            target = self.originals / f"{path.stem}.{number}{path.suffix}"
        os.replace(path, target)
        self.record.kept[path.name] = str(target.relative_to(self.folder))


def take_in_folder(
    folder: Path,
    notebooks: list[Expected],
    due: dt.datetime | None = None,
    late_by_lms: bool = False,
) -> Record:
    """Make `folder` (submitted/<student>/<assignment>/) gradable as the module docstring says, and
    return (and save) its record. Running it again on a folder it made gradable changes nothing."""
    record = Record(student=folder.parent.name, assignment=folder.name, late_by_lms=late_by_lms)
    previous = Record.load(folder)
    if previous is not None:  # keep what earlier runs did: their notes, the files they kept
        record.notes, record.kept = list(previous.notes), dict(previous.kept)
        record.attention = list(previous.attention)
        record.late_by_lms = record.late_by_lms or previous.late_by_lms
    files = _Folder(folder, record)
    if not folder.is_dir():
        record.flagged.append(f"no folder {folder}")
        return record
    found = sorted(
        p for p in folder.iterdir() if (p.is_file() or p.is_symlink()) and p.suffix.lower() == ".ipynb"
    )
    readable: dict[Path, tuple[nbformat.NotebookNode, str, str | None]] = {}
    unreadable: dict[Path, str] = {}
    for path in found:
        if path.is_symlink():  # read as the grader, a link could show a student any file it can read
            unreadable[path] = (
                f"a symbolic link, not a notebook (to {os.readlink(path)!r}): hand in the file itself"
            )
            continue
        try:
            readable[path] = parse_notebook(path.read_bytes())
        except NotANotebook as error:
            unreadable[path] = str(error)
        except OSError as error:
            unreadable[path] = f"unreadable ({error.strerror})"

    chosen: dict[str, Path] = {}
    for expected in notebooks:
        exact = folder / f"{expected.name}.ipynb"
        mine = {p: readable[p] for p in readable if expected.is_mine(p.name, readable[p][0])}
        foreign = [p for p in readable if expected.is_mine(p.name, readable[p][0]) is False]
        worked = [p for p in mine if expected.holds_work(mine[p][0])]
        pick, why = None, None
        codes = {p: tuple(c.source for c in mine[p][0].cells if c.cell_type == "code") for p in worked}
        if exact in worked:
            pick = exact
            others = sorted(p.name for p in worked if codes[p] != codes[exact])
            if others:  # the exact name wins; a person should still look
                record.attention.append(
                    f"{', '.join(others)} also hold{'s' if len(others) == 1 else ''} work, different from"
                    f" {exact.name}: {exact.name} is graded (the exact name wins); check which one"
                    " the student meant"
                )
        elif len(worked) == 1:
            pick, why = worked[0], "handed in under another name"
        elif worked:
            if len(set(codes.values())) == 1:
                pick, why = worked[0], f"the same work is in {len(worked)} files"
            else:
                names = ", ".join(repr(p.name) for p in worked)
                record.flagged.append(
                    f"{len(worked)} notebooks hold different work for {expected.name}: {names};"
                    f" keep the one to grade as {expected.name}.ipynb and take in again"
                )
                continue
        elif mine:
            pick = exact if exact in mine else sorted(mine)[0]
            if pick != exact:
                why = "handed in under another name"
            # named as graded, so that a second run (which finds it under that name) says the same
            record.notes.append(f"{expected.name}.ipynb is the release as handed out, with no work in it")
        if pick is None:
            if exact in unreadable:
                record.flagged.append(f"{exact.name} is {unreadable[exact]}")
            elif foreign:
                record.flagged.append(
                    f"{foreign[0].name} is the notebook of another assignment (none of its cells"
                    f" belongs to {expected.name})"
                )
            elif unreadable:
                first = sorted(unreadable)[0]
                record.flagged.append(
                    f"no readable {expected.name}.ipynb: {first.name} is {unreadable[first]}"
                )
            else:
                others = sorted(
                    p.name for p in folder.iterdir() if p.name not in (INTAKE_DIR, "timestamp.txt")
                )
                handed = f"; handed in: {', '.join(others)}" if others else "; the folder is empty"
                record.flagged.append(f"no notebook {expected.name}.ipynb{handed}")
            continue
        chosen[expected.name] = pick
        if why:
            record.notes.append(f"graded {pick.name} as {expected.name}.ipynb ({why})")

    if record.flagged:
        record.graded = {}
    else:
        for name, pick in chosen.items():
            _, text, bom = readable[pick]
            target = folder / f"{name}.ipynb"
            record.graded[name] = pick.name
            if pick == target and bom is None:
                earlier = previous.graded.get(name) if previous is not None else None
                if earlier in record.kept:  # an earlier run wrote it from this file, now kept aside
                    record.graded[name] = earlier
                continue
            if bom is not None:
                record.notes.append(f"{pick.name} was {bom}: graded as UTF-8")
            if target.exists():
                files.keep(target)
            if pick.exists():
                files.keep(pick)
            target.write_text(text, encoding="utf-8")
        # Every other notebook goes aside: nbgrader would only warn about it ("unknown notebook").
        graded_paths = {folder / f"{name}.ipynb" for name in chosen}
        for path in found:
            if path.exists() and path not in graded_paths:
                record.notes.append(f"{path.name} also handed in, not graded (kept under {INTAKE_DIR}/)")
                files.keep(path)

    _take_in_timestamp(folder, files, record, due)
    record.notes = list(dict.fromkeys(map(one_line, record.notes)))
    record.flagged = [one_line(text) for text in record.flagged]
    record.attention = list(dict.fromkeys(map(one_line, record.attention)))
    # A folder handed in as nbgrader expects it, with nothing to say, is left exactly as it is.
    if previous is not None or record.flagged or record.notes or record.attention or record.kept:
        record.save(folder)
    return record


def _take_in_timestamp(folder: Path, files: _Folder, record: Record, due: dt.datetime | None) -> None:
    path = folder / "timestamp.txt"
    if path.is_symlink():
        files.keep(path)
        record.notes.append(
            f"timestamp.txt is a symbolic link, not a time: graded as on time (kept under {INTAKE_DIR}/)"
        )
    if path.exists():
        data = path.read_bytes()
        as_nbgrader_reads = data.decode("utf-8", errors="replace").strip()
        try:  # a byte-order mark (Notepad) or UTF-16 is read through; nbgrader fails on it
            text = decode(data)[0].strip()
        except NotANotebook:
            text = as_nbgrader_reads
        try:
            moment = read_timestamp(text)
        except ValueError as error:
            files.keep(path)
            record.notes.append(
                f"timestamp.txt {text[:60]!r} is not a time ({error}): graded as on time; check the"
                f" hand-in time (the original is kept under {INTAKE_DIR}/)"
            )
            moment = None
        else:
            if nbgrader_reads(as_nbgrader_reads) != moment:
                files.keep(path)
                path.write_text(nbgrader_timestamp(moment), encoding="utf-8")
                record.notes.append(f"timestamp.txt {text[:60]!r} read as {nbgrader_timestamp(moment)}")
        if moment is not None:
            record.timestamp = nbgrader_timestamp(moment)
            if not (record.late_by_lms and due is not None and moment <= due):
                return
            # The LMS saw it late; a time that says otherwise does not undo that (the LMS's
            # mark is what the student cannot write).
            files.keep(path)
            record.notes.append(
                f"late according to the LMS, but timestamp.txt says {nbgrader_timestamp(moment)}:"
                " the LMS is believed"
            )
    if record.late_by_lms:
        if due is None:
            record.notes.append("late according to the LMS; the assignment has no due date, so no penalty")
        else:
            moment = due + dt.timedelta(seconds=1)
            if path.exists():
                files.keep(path)
            path.write_text(nbgrader_timestamp(moment), encoding="utf-8")
            record.timestamp = nbgrader_timestamp(moment)
            record.notes.append(
                "late according to the LMS, whose archive gives no time: timestamp set to the due date + 1 s"
            )


# ---------------------------------------------------------------------------------------------
# The course


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

    from gradekit.export.grades import scored

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
    import logging

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
