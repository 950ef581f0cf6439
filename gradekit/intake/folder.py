"""One student's submission folder made gradable, or found not gradable with a reason: what is
decided is kept in `.intake/record.json`, every file moved or rewritten under `.intake/originals/`."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from gradekit.intake.files import Expected, NotANotebook, decode, one_line, parse_notebook
from gradekit.intake.timestamps import nbgrader_reads, nbgrader_timestamp, read_timestamp

INTAKE_DIR = ".intake"  # in each submission folder; listed in c.CourseDirectory.ignore
RECORD = "record.json"


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


class Keeper:
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
    """Make `folder` (submitted/<student>/<assignment>/) gradable as gradekit.intake's docstring
    says, and return (and save) its record. Running it again on a folder it made gradable changes
    nothing."""
    record = Record(student=folder.parent.name, assignment=folder.name, late_by_lms=late_by_lms)
    previous = Record.load(folder)
    if previous is not None:  # keep what earlier runs did: their notes, the files they kept
        record.notes, record.kept = list(previous.notes), dict(previous.kept)
        record.attention = list(previous.attention)
        record.late_by_lms = record.late_by_lms or previous.late_by_lms
    files = Keeper(folder, record)
    if not folder.is_dir():
        record.flagged.append(f"no folder {folder}")
        return record
    found, readable, unreadable = read_notebooks(folder)
    chosen = {}
    for expected in notebooks:
        pick = choose(expected, folder, readable, unreadable, record, others=len(notebooks) > 1)
        if pick is not None:
            chosen[expected.name] = pick
    if not chosen and not record.flagged:  # several notebooks, none of them handed in
        names = ", ".join(f"{e.name}.ipynb" for e in notebooks)
        record.flagged.append(f"none of the assignment's notebooks ({names}) was handed in")
    if record.flagged:
        record.graded = {}
    else:
        write_graded(folder, chosen, readable, found, record, previous, files)
    take_in_timestamp(folder, files, record, due)
    record.notes = list(dict.fromkeys(map(one_line, record.notes)))
    record.flagged = [one_line(text) for text in record.flagged]
    record.attention = list(dict.fromkeys(map(one_line, record.attention)))
    # A folder handed in as nbgrader expects it, with nothing to say, is left exactly as it is.
    if previous is not None or record.flagged or record.notes or record.attention or record.kept:
        record.save(folder)
    return record


Readable = dict[Path, tuple[nbformat.NotebookNode, str, "str | None"]]


def read_notebooks(folder: Path) -> tuple[list[Path], Readable, dict[Path, str]]:
    """The folder's notebook files (sorted), those that read as notebooks (path -> notebook, text,
    byte-order mark or encoding found), and why the others do not."""
    found = sorted(
        p for p in folder.iterdir() if (p.is_file() or p.is_symlink()) and p.suffix.lower() == ".ipynb"
    )
    readable: Readable = {}
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
    return found, readable, unreadable


def choose(
    expected: Expected,
    folder: Path,
    readable: Readable,
    unreadable: dict[Path, str],
    record: Record,
    others: bool = False,
):
    """The file to grade as `expected` (the rules of gradekit.intake's docstring), or None with the
    reason in `record.flagged`: where a student's folder is judged gradable. With `others` (the
    assignment has other notebooks), a notebook not handed in at all (no file of the folder is it,
    readable or not) is no reason to leave the folder ungraded: it is noted, and its cells score 0."""
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
        if len(set(codes.values())) != 1:
            names = ", ".join(repr(p.name) for p in worked)
            record.flagged.append(
                f"{len(worked)} notebooks hold different work for {expected.name}: {names};"
                f" keep the one to grade as {expected.name}.ipynb and take in again"
            )
            return None
        pick, why = worked[0], f"the same work is in {len(worked)} files"
    elif mine:
        pick = exact if exact in mine else sorted(mine)[0]
        if pick != exact:
            why = "handed in under another name"
        # named as graded, so that a second run (which finds it under that name) says the same
        record.notes.append(f"{expected.name}.ipynb is the release as handed out, with no work in it")
    if pick is None and others and not (mine or foreign or unreadable):
        record.notes.append(f"{expected.name}.ipynb was not handed in: its cells score 0")
    elif pick is None:
        record.flagged.append(no_notebook(expected, folder, readable, unreadable, foreign))
    elif why:
        record.notes.append(f"graded {pick.name} as {expected.name}.ipynb ({why})")
    return pick


def no_notebook(expected: Expected, folder: Path, readable, unreadable: dict[Path, str], foreign) -> str:
    """Why no file of `folder` can be graded as `expected`, in one line an instructor can act on."""
    exact = folder / f"{expected.name}.ipynb"
    if exact in unreadable:
        return f"{exact.name} is {unreadable[exact]}"
    if foreign:
        return (
            f"{foreign[0].name} is the notebook of another assignment (none of its cells"
            f" belongs to {expected.name})"
        )
    if unreadable:
        first = sorted(unreadable)[0]
        return f"no readable {expected.name}.ipynb: {first.name} is {unreadable[first]}"
    others = sorted(p.name for p in folder.iterdir() if p.name not in (INTAKE_DIR, "timestamp.txt"))
    handed = f"; handed in: {', '.join(others)}" if others else "; the folder is empty"
    return f"no notebook {expected.name}.ipynb{handed}"


def write_graded(folder, chosen: dict[str, Path], readable: Readable, found, record, previous, files) -> None:
    """Each chosen file written under its notebook's name, UTF-8 without a byte-order mark; every
    other notebook of the folder moved aside (nbgrader would only warn about it: "unknown
    notebook"). Nothing is lost: what is moved or rewritten is kept."""
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
    graded_paths = {folder / f"{name}.ipynb" for name in chosen}
    for path in found:
        if path.exists() and path not in graded_paths:
            record.notes.append(f"{path.name} also handed in, not graded (kept under {INTAKE_DIR}/)")
            files.keep(path)


def take_in_timestamp(folder: Path, files: Keeper, record: Record, due: dt.datetime | None) -> None:
    """timestamp.txt read as the time it states and rewritten as nbgrader reads times, or moved
    aside when it is no time; an LMS's late mark with no time of its own becomes the due date + 1 s."""
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
