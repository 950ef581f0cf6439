"""Which file is an assignment's notebook: read a handed-in file as the notebook it is (any
encoding a browser or an editor saves), and tell this assignment's notebooks from others by their
cells, whatever their file names."""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from gradekit.course.notebooks import nbgrader_meta

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
    """The assignment's notebooks, from its release folder (`nbgrader generate_assignment`). A
    grade_id that several of them have (each notebook's copy of the checks framework, say) tells
    none of them apart: each keeps only the grade_ids that are its own."""
    found = [Expected.from_release(p) for p in sorted(release_folder.glob("*.ipynb"))]
    counts: dict[str, int] = {}
    for expected in found:
        for grade_id in expected.cell_ids:
            counts[grade_id] = counts.get(grade_id, 0) + 1
    return [replace(e, cell_ids=frozenset(g for g in e.cell_ids if counts[g] == 1)) for e in found]


# ---------------------------------------------------------------------------------------------
# One folder
