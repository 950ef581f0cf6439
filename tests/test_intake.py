"""Submissions as they arrive (gradekit/intake/): read each time as the time it states, each file
as the notebook it is, and make every folder gradable or say why not, losing nothing. Unit-level,
on a tiny nbgrader notebook; the end-to-end autograde of simulation/arrivals.py is elsewhere."""

from __future__ import annotations

import codecs
import copy
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook
from nbgrader.utils import parse_utc

from gradekit import cli, intake
from gradekit.course import Course
from gradekit.intake import (
    INTAKE_DIR,
    Expected,
    NotANotebook,
    Record,
    decode,
    expected_notebooks,
    name_key,
    parse_notebook,
    take_in,
    take_in_folder,
    timestamps,
)
from gradekit.intake.timestamps import nbgrader_reads, nbgrader_timestamp, read_timestamp
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.submissions import fill, reference_answers

# ---------------------------------------------------------------------------------------------
# timestamps.read_timestamp


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2026-01-15 12:00:00", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15T12:00:00", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 12:00", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 9:05", dt.datetime(2026, 1, 15, 9, 5)),
        ("  2026-01-15 12:00:00\n", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15T12:00:00Z", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 12:00:00 UTC", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 12:00:00 GMT", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 13:00:00+01:00", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 13:00:00 +01:00", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 13:00:00 +0100", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-16 00:30:00 +0100", dt.datetime(2026, 1, 15, 23, 30)),  # across midnight
        ("2026-01-15 17:30:00 +0530", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 07:00:00 -05", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 07:00:00-0500", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 13:00:00 Europe/Berlin", dt.datetime(2026, 1, 15, 12, 0)),  # winter: CET, +1
        ("2026-07-15 14:00:00 Europe/Berlin", dt.datetime(2026, 7, 15, 12, 0)),  # summer: CEST, +2
        ("2026-01-15 13:00:00 CET", dt.datetime(2026, 1, 15, 12, 0)),
        ("2026-01-15 12:00:00.5", dt.datetime(2026, 1, 15, 12, 0, 0, 500_000)),
        ("2026-01-15 12:00:00,25Z", dt.datetime(2026, 1, 15, 12, 0, 0, 250_000)),
        ("2026-01-15 12:00:00.123456 UTC", dt.datetime(2026, 1, 15, 12, 0, 0, 123_456)),
        ("2026-01-15 13:00:00.000001 +01:00", dt.datetime(2026, 1, 15, 12, 0, 0, 1)),
    ],
)
def test_read_timestamp_reads_the_time_stated(text, utc):
    assert read_timestamp(text) == utc


def test_plus_0100_is_one_hour_where_nbgrader_reads_100_seconds():
    text = "2026-01-15 13:00:00 +0100"
    assert read_timestamp(text) == dt.datetime(2026, 1, 15, 12, 0)
    assert parse_utc(text) == dt.datetime(2026, 1, 15, 12, 58, 20)  # nbgrader 0.9.6: 100 seconds
    assert nbgrader_reads(text) == parse_utc(text)
    assert nbgrader_reads("handed in on Thursday night") is None


@pytest.mark.parametrize(
    "text, reason",
    [
        ("handed in on Thursday night", "not a date and time"),
        ("", "not a date and time"),
        ("15/01/2026 12:00", "not a date and time"),
        ("2026-01-15", "not a date and time"),
        ("2026-01-15 12:00 tomorrow-ish!", "not a date and time"),
        ("2026-02-30 12:00", "not a valid date and time (day is out of range for month)"),
        ("2026-13-01 12:00", "not a valid date and time (month must be in 1..12)"),
        ("2026-01-15 25:00", "not a valid date and time (hour must be in 0..23)"),
        ("2026-01-15 12:00 +1500", "not a UTC offset: +1500"),
        ("2026-01-15 12:00 +01:75", "not a UTC offset: +01:75"),
        ("2026-01-15 12:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        # POSIX TZ strings are not zone names (and `UTC+1` would mean UTC-1 there)
        ("2026-01-15 12:00 UTC+1", "unknown time zone 'UTC+1'"),
        ("2026-01-15 12:00 ABC3", "unknown time zone 'ABC3'"),
        ("0001-01-01 00:30 +01:00", "outside the years"),  # before year 1 once in UTC
        ("9999-12-31 23:30 -01:00", "outside the years"),
    ],
)
def test_read_timestamp_rejects_what_is_not_a_time_with_the_reason(text, reason):
    with pytest.raises(ValueError) as error:
        read_timestamp(text)
    assert type(error.value) is ValueError and reason in str(error.value)


def _offset_text(offset: dt.timedelta, style: str) -> str:
    if style == "Z":
        return "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    hours, minutes = divmod(abs(offset) // dt.timedelta(minutes=1), 60)
    return {"+HH:MM": f"{sign}{hours:02}:{minutes:02}", "+HHMM": f" {sign}{hours:02}{minutes:02}"}[style]


@given(
    moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    minutes=st.integers(-14 * 60, 14 * 60),
    style=st.sampled_from(["Z", "+HH:MM", "+HHMM"]),
    sep=st.sampled_from([" ", "T"]),
)
def test_nbgrader_reads_back_the_moment_read(moment, minutes, style, sep):
    offset = dt.timedelta(minutes=0 if style == "Z" else minutes)
    text = moment.isoformat(sep=sep, timespec="microseconds") + _offset_text(offset, style)
    utc = read_timestamp(text)
    assert utc == moment - offset
    written = nbgrader_timestamp(utc)
    assert parse_utc(written) == utc, written
    assert read_timestamp(written) == utc


@settings(max_examples=300)
@given(st.text(max_size=40) | st.from_regex(timestamps._TIMESTAMP, fullmatch=True))
def test_read_timestamp_gives_a_naive_utc_time_or_a_value_error(text):
    """Anything the pattern lets through (any digits, any zone-like word) included."""
    try:
        moment = read_timestamp(text)
    except ValueError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert isinstance(moment, dt.datetime) and moment.tzinfo is None


# ---------------------------------------------------------------------------------------------
# intake.decode and parse_notebook

TEXT = '{"greeting": "grüß dich, ∂x 🙂"}'


@pytest.mark.parametrize(
    "data, bom",
    [
        (TEXT.encode("utf-8"), None),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8 with a byte-order mark"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16 with a byte-order mark"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16 with a byte-order mark"),
        (TEXT.encode("utf-16"), "utf-16 with a byte-order mark"),  # Python writes the native mark
        (codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "utf-32 with a byte-order mark"),
        (codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"), "utf-32 with a byte-order mark"),
    ],
)
def test_decode_reads_the_encodings_editors_save(data, bom):
    assert decode(data) == (TEXT, bom)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"PK\x03\x04\x14\x00\x08\x00\x9c\x8e", "not UTF-8 text (invalid start byte at byte 8)"),
        (b'{"a": "caf\xe9"}', "not UTF-8 text (invalid continuation byte at byte 10)"),
        (codecs.BOM_UTF16_LE + b"{\x00x", "not utf-16 text (truncated data at byte 4)"),
        (codecs.BOM_UTF8 + b"\xff", "not utf-8 text (invalid start byte at byte 3)"),
    ],
)
def test_decode_says_why_bytes_are_no_text(data, reason):
    with pytest.raises(NotANotebook, match=r"^" + re.escape(reason) + r"$"):
        decode(data)


def small_notebook(*cells) -> nbformat.NotebookNode:
    return new_notebook(
        cells=list(cells),
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
    ],
)
def test_parse_notebook_reads_a_notebook_in_any_of_them(encode):
    nb = small_notebook(new_markdown_cell("Grüße, ∂x"), new_code_cell("x = 'é'"))
    text = nbformat.writes(nb)
    parsed, parsed_text, _ = parse_notebook(encode(text))
    assert parsed == nb and parsed_text == text


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b" \n\t\n", "empty"),
        (codecs.BOM_UTF8, "empty"),
        (b"\x80\x81garbage", "not UTF-8 text"),
        (b'{"cells": [', "not valid JSON (Expecting value at line 1 column 12)"),
        (b'{"cells": []\n "nbformat": 4}', "not valid JSON (Expecting ',' delimiter at line 2 column 2)"),
        (b"print('hello')\n", "not valid JSON"),  # a .py saved as .ipynb
        (b"<html><body>Sign in</body></html>", "not valid JSON"),  # a download of the login page
        (b'{"a": 1}', "not a notebook"),
        (b"[1, 2, 3]", "not a notebook"),
        (b'"mini_auto_grad"', "not a notebook"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a notebook"),
        (b'{"nbformat": 5, "nbformat_minor": 0, "metadata": {}, "cells": []}', "not a notebook"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 3}', "not a notebook"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [1]}', "not a notebook"),
        (
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {},'
            b' "cells": [{"cell_type": "code", "source": 3, "metadata": {}, "outputs": []}]}',
            "not a notebook",
        ),
        (
            b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {},'
            b' "cells": [{"cell_type": "code", "source": "", "metadata": {"nbgrader": 1}, "outputs": []}]}',
            "not a notebook",
        ),
    ],
)
def test_parse_notebook_says_in_one_line_why_a_file_is_no_notebook(data, reason):
    with pytest.raises(NotANotebook) as error:
        parse_notebook(data)
    message = str(error.value)
    assert message.startswith(reason), message
    assert "\n" not in message and len(message) < 200, message


NOTEBOOK_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150)
@given(
    st.one_of(
        st.binary(max_size=40),
        NOTEBOOK_JSON.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "nbformat": st.sampled_from([4, 3]),
                "nbformat_minor": st.integers(0, 5),
                "metadata": st.just({}),
                "cells": st.lists(
                    st.fixed_dictionaries(
                        {"cell_type": st.sampled_from(["code", "markdown"])},
                        optional={
                            "source": NOTEBOOK_JSON,
                            "metadata": st.fixed_dictionaries({}, optional={"nbgrader": NOTEBOOK_JSON}),
                        },
                    )
                    | NOTEBOOK_JSON,
                    max_size=2,
                ),
            }
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_parse_notebook_either_gives_a_notebook_intake_can_use_or_says_why_not(data):
    """Whatever a file holds, intake neither crashes on it nor lets a malformed notebook through."""
    tiny = Expected(ASSIGNMENT, frozenset({"double"}), frozenset({"x = 1"}))
    try:
        nb, _, _ = parse_notebook(data)
    except NotANotebook as error:
        assert str(error) and "\n" not in str(error)
        return
    tiny.holds_work(nb)
    tiny.is_mine("anything.ipynb", nb)
    tiny.is_mine(NOTEBOOK, nb)


# ---------------------------------------------------------------------------------------------
# intake.name_key


@pytest.mark.parametrize(
    "filename",
    [
        "mini_auto_grad.ipynb",
        "mini_auto_grad (1).ipynb",
        "mini_auto_grad(2).ipynb",
        "mini_auto_grad-Copy1.ipynb",
        "mini_auto_grad-Copy2.ipynb",
        "Mini_Auto_Grad.ipynb",
        "MINI_AUTO_GRAD.IPYNB",
        "Copy of mini_auto_grad.ipynb",
        "Copy of mini_auto_grad (1).ipynb",
        "mini_auto_grad - Copy.ipynb",
        "mini_auto_grad - Copy (2).ipynb",
        "mini auto grad copy 2.ipynb",
        "mini_auto_grad copy.ipynb",
        "mini_auto_grad-1.ipynb",
        "mini_auto_grad_2.ipynb",
        "mini-auto-grad.ipynb",
        " mini_auto_grad .ipynb",
        "mini_auto_grad",
    ],
)
def test_name_key_ignores_copy_marks_case_and_separators(filename):
    assert name_key(filename) == "mini_auto_grad"


@pytest.mark.parametrize(
    "filename",
    [
        "homework.ipynb",
        "mini_auto.ipynb",
        "auto_grad.ipynb",
        "mini_auto_grad_solution.ipynb",
        "mini_auto_grader.ipynb",
        "scratch.ipynb",
        "copy.ipynb",
        "mini_auto_grad.py",
        "mini_auto_grad2.ipynb",
    ],
)
def test_name_key_keeps_other_names_apart(filename):
    assert name_key(filename) != "mini_auto_grad"


COPY_MARKS = [
    lambda name: f"{name} (1)",  # a browser's second download
    lambda name: f"{name}-Copy1",  # JupyterLab's Duplicate
    lambda name: f"Copy of {name}",  # Google Drive, Colab
    lambda name: f"{name} - Copy (2)",  # Windows Explorer
    lambda name: f"{name} copy 2",  # macOS Finder
    lambda name: f"{name}-3",  # an LMS resubmission
    str.upper,
    str.title,
    lambda name: name.replace("_", " "),
]


@given(
    name=st.from_regex(r"[a-z]{2,8}(_[a-z]{2,8}){0,2}", fullmatch=True),
    marks=st.lists(st.sampled_from(COPY_MARKS), max_size=4),
)
def test_name_key_sees_through_copies_of_copies(name, marks):
    renamed = name
    for mark in marks:
        renamed = mark(renamed)
    assert name_key(renamed + ".ipynb") == name_key(name + ".ipynb")


def test_name_key_keeps_numbered_notebooks_apart_when_the_number_is_part_of_the_name():
    assert name_key("lab1.ipynb") != name_key("lab2.ipynb")
    assert name_key("lab1 (1).ipynb") == name_key("lab1.ipynb")


# ---------------------------------------------------------------------------------------------
# intake.take_in_folder, on a tiny assignment: a solution cell and its test


def nbgrader_cell(source: str, grade_id: str, *, solution=False, grade=False, locked=False, points=None):
    cell = new_code_cell(source)
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


STUB = "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
RELEASE = small_notebook(
    new_markdown_cell("# Doubling\nWrite `double`."),
    nbgrader_cell(STUB, "double", solution=True),
    nbgrader_cell("assert double(2) == 4", "test_double", grade=True, locked=True, points=1),
)


def work(code: str = "def double(x):\n    return 2 * x") -> nbformat.NotebookNode:
    nb = copy.deepcopy(RELEASE)
    nb.cells[1].source = code
    return nb


def as_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


WORK = as_bytes(work())
OTHER_WORK = as_bytes(work("def double(x):\n    return x + x"))
UNTOUCHED = as_bytes(RELEASE)
OTHER_ASSIGNMENT = as_bytes(
    small_notebook(nbgrader_cell("def triple(x):\n    return 3 * x", "hw2_triple", solution=True))
)
SCRATCH = as_bytes(small_notebook(new_code_cell("x = 1 + 1\nprint(x)")))
ON_TIME = "2026-01-15 12:00:00.000000 UTC"
DUE = dt.datetime(2026, 1, 15, 23, 59)


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> list[Expected]:
    release = tmp_path_factory.mktemp("release") / ASSIGNMENT
    release.mkdir()
    nbformat.write(RELEASE, str(release / NOTEBOOK))
    return expected_notebooks(release)


def test_expected_is_read_from_the_release(expected):
    assert expected == [
        Expected(
            ASSIGNMENT,
            frozenset({"double", "test_double"}),
            frozenset({STUB, "assert double(2) == 4"}),
        )
    ]


def hand_in_files(root: Path, files: dict[str, bytes | str], student: str = "student") -> Path:
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return folder


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones included), by path relative to it."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def visible(folder: Path) -> dict[str, bytes]:
    """What nbgrader sees in the folder: everything but .intake/."""
    return {k: v for k, v in contents(folder).items() if not k.startswith(INTAKE_DIR)}


def originals(folder: Path) -> dict[str, bytes]:
    prefix = f"{INTAKE_DIR}/originals/"
    return {k[len(prefix) :]: v for k, v in contents(folder).items() if k.startswith(prefix)}


def graded_notebook(folder: Path) -> nbformat.NotebookNode:
    data = (folder / NOTEBOOK).read_bytes()
    assert not data.startswith(codecs.BOM_UTF8)
    return nbformat.reads(data.decode("utf-8"), as_version=4)


def test_the_exact_name_with_work_is_graded_as_handed_in(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "timestamp.txt": ON_TIME})
    record = take_in_folder(folder, expected)
    assert record.graded == {ASSIGNMENT: NOTEBOOK}
    assert record.flagged == [] and record.notes == [] and record.kept == {}
    assert record.student == "student" and record.assignment == ASSIGNMENT
    assert record.timestamp == ON_TIME
    assert visible(folder) == {NOTEBOOK: WORK, "timestamp.txt": ON_TIME.encode()}
    assert originals(folder) == {}
    assert contents(folder) == visible(folder), "a folder that needed nothing is not touched (no .intake/)"


@pytest.mark.parametrize(
    "name",
    [
        "mini_auto_grad (1).ipynb",
        "mini_auto_grad-Copy1.ipynb",
        "Mini_Auto_Grad.ipynb",
        "Copy of mini_auto_grad.ipynb",
        "homework 3 final.ipynb",  # any name: its nbgrader cells say what it is
    ],
)
def test_a_renamed_copy_is_graded_under_the_notebooks_name(tmp_path, expected, name):
    folder = hand_in_files(tmp_path, {name: WORK})
    record = take_in_folder(folder, expected)
    assert record.flagged == []
    assert record.graded == {ASSIGNMENT: name}
    assert f"graded {name} as {NOTEBOOK} (handed in under another name)" in record.notes
    assert visible(folder) == {NOTEBOOK: WORK}
    assert originals(folder) == {name: WORK}
    assert record.kept == {name: f"{INTAKE_DIR}/originals/{name}"}


def test_a_renamed_copy_beside_the_untouched_release_is_the_one_graded(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: UNTOUCHED, "mini_auto_grad-Copy1.ipynb": WORK})
    record = take_in_folder(folder, expected)
    assert record.flagged == []
    assert record.graded == {ASSIGNMENT: "mini_auto_grad-Copy1.ipynb"}
    assert visible(folder) == {NOTEBOOK: WORK}
    assert originals(folder) == {NOTEBOOK: UNTOUCHED, "mini_auto_grad-Copy1.ipynb": WORK}


def test_the_untouched_release_alone_is_graded_and_said_to_hold_no_work(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: UNTOUCHED})
    record = take_in_folder(folder, expected)
    assert record.flagged == [] and record.graded == {ASSIGNMENT: NOTEBOOK}
    assert record.notes == [f"{NOTEBOOK} is the release as handed out, with no work in it"]
    assert visible(folder) == {NOTEBOOK: UNTOUCHED}


def test_two_renamed_copies_with_the_same_work_grade_the_first_by_name(tmp_path, expected):
    folder = hand_in_files(tmp_path, {"mini_auto_grad (2).ipynb": WORK, "mini_auto_grad (1).ipynb": WORK})
    record = take_in_folder(folder, expected)
    assert record.flagged == []
    assert record.graded == {ASSIGNMENT: "mini_auto_grad (1).ipynb"}
    assert any("the same work is in 2 files" in note for note in record.notes), record.notes
    assert visible(folder) == {NOTEBOOK: WORK}
    assert originals(folder) == {"mini_auto_grad (1).ipynb": WORK, "mini_auto_grad (2).ipynb": WORK}


def test_two_renamed_copies_with_different_work_are_flagged_and_left_alone(tmp_path, expected):
    handed = {
        "mini_auto_grad (1).ipynb": WORK,
        "mini_auto_grad (2).ipynb": OTHER_WORK,
        "timestamp.txt": ON_TIME,
    }
    folder = hand_in_files(tmp_path, handed)
    record = take_in_folder(folder, expected)
    assert record.graded == {}
    assert record.reason == (
        "2 notebooks hold different work for mini_auto_grad: 'mini_auto_grad (1).ipynb',"
        " 'mini_auto_grad (2).ipynb'; keep the one to grade as mini_auto_grad.ipynb and take in again"
    )
    assert visible(folder) == {k: v.encode() if isinstance(v, str) else v for k, v in handed.items()}
    assert originals(folder) == {}


def test_the_exact_name_with_work_wins_over_an_older_copy(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "mini_auto_grad (1).ipynb": OTHER_WORK})
    record = take_in_folder(folder, expected)
    assert record.flagged == [] and record.graded == {ASSIGNMENT: NOTEBOOK}
    assert f"mini_auto_grad (1).ipynb also handed in, not graded (kept under {INTAKE_DIR}/)" in record.notes
    assert visible(folder) == {NOTEBOOK: WORK}
    assert originals(folder) == {"mini_auto_grad (1).ipynb": OTHER_WORK}


def test_a_scratch_notebook_beside_the_work_is_moved_aside(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "scratch.ipynb": SCRATCH})
    record = take_in_folder(folder, expected)
    assert record.flagged == [] and record.graded == {ASSIGNMENT: NOTEBOOK}
    assert visible(folder) == {NOTEBOOK: WORK}
    assert originals(folder) == {"scratch.ipynb": SCRATCH}


def test_only_a_python_file_is_flagged_saying_what_was_handed_in(tmp_path, expected):
    folder = hand_in_files(tmp_path, {"mini_auto_grad.py": "def double(x):\n    return 2 * x\n"})
    record = take_in_folder(folder, expected)
    assert record.graded == {}
    assert record.reason == "no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py"
    assert visible(folder) == {"mini_auto_grad.py": b"def double(x):\n    return 2 * x\n"}


def test_an_empty_folder_is_flagged(tmp_path, expected):
    folder = hand_in_files(tmp_path, {})
    assert take_in_folder(folder, expected).reason == "no notebook mini_auto_grad.ipynb; the folder is empty"


@pytest.mark.parametrize(
    "name, data, reason",
    [
        (NOTEBOOK, b"PK\x03\x04\x14\x00\x08\x00\x9c", "mini_auto_grad.ipynb is not UTF-8 text"),
        (NOTEBOOK, WORK[: len(WORK) // 2], "mini_auto_grad.ipynb is not valid JSON (Expecting"),
        (NOTEBOOK, b"", "mini_auto_grad.ipynb is empty"),
        (
            "mini_auto_grad (1).ipynb",
            b"",
            "no readable mini_auto_grad.ipynb: mini_auto_grad (1).ipynb is empty",
        ),
    ],
)
def test_an_unreadable_notebook_is_flagged_with_the_reason(tmp_path, expected, name, data, reason):
    folder = hand_in_files(tmp_path, {name: data})
    record = take_in_folder(folder, expected)
    assert record.graded == {} and record.reason.startswith(reason), record.reason
    assert "\n" not in record.reason
    assert visible(folder) == {name: data}


def test_another_assignments_notebook_is_flagged(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: OTHER_ASSIGNMENT})
    record = take_in_folder(folder, expected)
    assert record.graded == {}
    assert record.reason == (
        "mini_auto_grad.ipynb is the notebook of another assignment"
        " (none of its cells belongs to mini_auto_grad)"
    )
    assert visible(folder) == {NOTEBOOK: OTHER_ASSIGNMENT}


@pytest.mark.parametrize(
    "data, bom",
    [
        (codecs.BOM_UTF8 + WORK, "utf-8 with a byte-order mark"),
        (codecs.BOM_UTF16_LE + WORK.decode().encode("utf-16-le"), "utf-16 with a byte-order mark"),
        (codecs.BOM_UTF16_BE + WORK.decode().encode("utf-16-be"), "utf-16 with a byte-order mark"),
    ],
)
def test_a_byte_order_mark_is_rewritten_as_utf8_and_the_original_kept(tmp_path, expected, data, bom):
    folder = hand_in_files(tmp_path, {NOTEBOOK: data})
    record = take_in_folder(folder, expected)
    assert record.flagged == [] and record.graded == {ASSIGNMENT: NOTEBOOK}
    assert f"{NOTEBOOK} was {bom}: graded as UTF-8" in record.notes
    assert visible(folder) == {NOTEBOOK: WORK}
    assert originals(folder) == {NOTEBOOK: data}


def test_a_renamed_utf16_copy_is_graded_as_utf8(tmp_path, expected):
    data = WORK.decode().encode("utf-16")
    folder = hand_in_files(tmp_path, {"Mini_Auto_Grad (1).ipynb": data})
    record = take_in_folder(folder, expected)
    assert record.graded == {ASSIGNMENT: "Mini_Auto_Grad (1).ipynb"}
    assert graded_notebook(folder) == work()
    assert originals(folder) == {"Mini_Auto_Grad (1).ipynb": data}


def test_a_timestamp_with_an_offset_is_rewritten_in_utc_and_the_original_kept(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "timestamp.txt": "2026-01-16 00:30:00 +0100\n"})
    record = take_in_folder(folder, expected)
    assert (folder / "timestamp.txt").read_text() == "2026-01-15 23:30:00.000000 UTC"
    assert parse_utc((folder / "timestamp.txt").read_text()) == dt.datetime(2026, 1, 15, 23, 30)
    assert record.timestamp == "2026-01-15 23:30:00.000000 UTC"
    assert "timestamp.txt '2026-01-16 00:30:00 +0100' read as 2026-01-15 23:30:00.000000 UTC" in record.notes
    assert originals(folder) == {"timestamp.txt": b"2026-01-16 00:30:00 +0100\n"}


@pytest.mark.parametrize(
    "text", [ON_TIME, "2026-01-15T12:00:00Z", "2026-01-15 13:00:00 Europe/Berlin", "2026-01-15 12:00:00"]
)
def test_a_timestamp_nbgrader_reads_right_is_left_as_it_is(tmp_path, expected, text):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "timestamp.txt": text})
    record = take_in_folder(folder, expected)
    assert (folder / "timestamp.txt").read_text() == text
    assert record.timestamp == ON_TIME and record.notes == [] and originals(folder) == {}


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + b"2026-01-16 00:30:00 +0100\r\n",
        codecs.BOM_UTF8 + ON_TIME.encode(),  # nbgrader cannot read it: the mark is not whitespace
        "2026-01-16 00:30:00 +0100".encode("utf-16"),
    ],
)
def test_a_timestamp_saved_with_a_byte_order_mark_is_read_through_it(tmp_path, expected, data):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "timestamp.txt": data})
    record = take_in_folder(folder, expected)
    assert record.timestamp in ("2026-01-15 23:30:00.000000 UTC", ON_TIME)
    assert (folder / "timestamp.txt").read_text() == record.timestamp
    assert originals(folder) == {"timestamp.txt": data}


def test_a_timestamp_in_words_is_kept_aside_and_the_submission_has_no_time(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "timestamp.txt": "handed in on Thursday night"})
    record = take_in_folder(folder, expected)
    assert record.flagged == [] and record.timestamp is None
    assert not (folder / "timestamp.txt").exists()
    assert originals(folder) == {"timestamp.txt": b"handed in on Thursday night"}
    (note,) = record.notes
    assert note.startswith("timestamp.txt 'handed in on Thursday night' is not a time (not a date and time")
    assert "graded as on time" in note


def test_a_symbolic_link_is_never_read(tmp_path, expected):
    """Intake and nbgrader read as the grader: a link handed in as the notebook (or as the
    timestamp) could show the student any file the grader can read. It is not followed: a linked
    notebook makes the folder not gradable, a linked timestamp is kept aside."""
    secret = tmp_path / "gradebook-secret.ipynb"
    secret.write_bytes(WORK)
    folder = hand_in_files(tmp_path, {})
    (folder / NOTEBOOK).symlink_to(secret)
    record = take_in_folder(folder, expected)
    assert record.flagged == [
        f"{NOTEBOOK} is a symbolic link, not a notebook (to {str(secret)!r}): hand in the file itself"
    ]
    assert record.graded == {}

    other = hand_in_files(tmp_path / "b", {NOTEBOOK: WORK})
    (other / "timestamp.txt").symlink_to(tmp_path / "anything")
    record = take_in_folder(other, expected)
    assert record.flagged == [] and record.timestamp is None
    assert not (other / "timestamp.txt").is_symlink() and not (other / "timestamp.txt").exists()
    assert any("timestamp.txt is a symbolic link" in note for note in record.notes)


def test_lms_late_with_a_due_date_is_stamped_one_second_after_it(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK})
    record = take_in_folder(folder, expected, due=DUE, late_by_lms=True)
    assert record.late_by_lms and record.timestamp == "2026-01-15 23:59:01.000000 UTC"
    assert parse_utc((folder / "timestamp.txt").read_text()) == DUE + dt.timedelta(seconds=1)
    assert any("due date + 1 s" in note for note in record.notes), record.notes


def test_lms_late_keeps_a_time_of_its_own(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "timestamp.txt": "2026-01-16 08:00:00 UTC"})
    record = take_in_folder(folder, expected, due=DUE, late_by_lms=True)
    assert record.timestamp == "2026-01-16 08:00:00.000000 UTC"
    assert (folder / "timestamp.txt").read_text() == "2026-01-16 08:00:00 UTC"


def test_lms_late_is_not_undone_by_a_timestamp_that_says_on_time(tmp_path, expected):
    """The LMS's late mark is what a student cannot write; a timestamp.txt that came with the
    upload and says otherwise is kept aside, and the submission is late by the least amount."""
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "timestamp.txt": "2026-01-10 09:00:00 UTC"})
    record = take_in_folder(folder, expected, due=DUE, late_by_lms=True)
    assert record.timestamp == "2026-01-15 23:59:01.000000 UTC"
    assert (folder / "timestamp.txt").read_text() == "2026-01-15 23:59:01.000000 UTC"
    assert originals(folder) == {"timestamp.txt": b"2026-01-10 09:00:00 UTC"}
    assert any("the LMS is believed" in note for note in record.notes)
    again = take_in_folder(folder, expected, due=DUE, late_by_lms=True)
    assert again.timestamp == record.timestamp and originals(folder) == {
        "timestamp.txt": b"2026-01-10 09:00:00 UTC"
    }


def test_lms_late_without_a_due_date_is_only_noted(tmp_path, expected):
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK})
    record = take_in_folder(folder, expected, due=None, late_by_lms=True)
    assert record.timestamp is None and not (folder / "timestamp.txt").exists()
    assert record.notes == ["late according to the LMS; the assignment has no due date, so no penalty"]


def test_a_missing_folder_is_flagged(tmp_path, expected):
    record = take_in_folder(tmp_path / "submitted" / "ghost" / ASSIGNMENT, expected)
    assert record.student == "ghost" and record.reason.startswith("no folder ")


SCENARIOS = {
    "exact": {NOTEBOOK: WORK, "timestamp.txt": ON_TIME},
    "renamed": {"mini_auto_grad (1).ipynb": WORK},
    "beside release": {NOTEBOOK: UNTOUCHED, "mini_auto_grad-Copy1.ipynb": WORK},
    "same work twice": {"mini_auto_grad (1).ipynb": WORK, "mini_auto_grad (2).ipynb": WORK},
    "different work": {"mini_auto_grad (1).ipynb": WORK, "mini_auto_grad (2).ipynb": OTHER_WORK},
    "bom": {NOTEBOOK: codecs.BOM_UTF8 + WORK, "scratch.ipynb": SCRATCH},
    "utf-16 renamed": {"Mini_Auto_Grad.ipynb": WORK.decode().encode("utf-16")},
    "offset": {NOTEBOOK: WORK, "timestamp.txt": "2026-01-16 00:30:00 +0100"},
    "words": {NOTEBOOK: WORK, "timestamp.txt": "handed in on Thursday night"},
    "python only": {"mini_auto_grad.py": "print(1)"},
    "unreadable": {NOTEBOOK: b"\x80"},
}


def test_other_work_beside_the_exact_name_is_graded_by_name_and_raised_for_a_look(tmp_path, expected):
    """The exact name wins (a stale copy beside the real notebook is common), but a renamed copy
    with different work is put in front of a person, not only noted."""
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, "Copy of mini_auto_grad.ipynb": OTHER_WORK})
    record = take_in_folder(folder, expected)
    assert record.flagged == [] and record.graded == {"mini_auto_grad": NOTEBOOK}
    assert record.attention == [
        "Copy of mini_auto_grad.ipynb also holds work, different from mini_auto_grad.ipynb:"
        " mini_auto_grad.ipynb is graded (the exact name wins); check which one the student meant"
    ]
    assert take_in_folder(folder, expected).attention == record.attention


def test_a_file_name_cannot_forge_a_line_of_the_summary(tmp_path, expected):
    name = "x\nnot gradable: carl: must resubmit\ny.ipynb"
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK, name: b"{}"})
    record = take_in_folder(folder, expected)
    assert all("\n" not in line for line in record.notes + record.flagged + record.attention)
    assert any("x\\nnot gradable: carl" in note for note in record.notes)


def test_a_malformed_record_is_ignored(tmp_path, expected):
    """A record.json that is not what intake writes (handed in by another route, or damaged) is
    not believed, and intake decides afresh."""
    folder = hand_in_files(tmp_path, {NOTEBOOK: WORK})
    (folder / INTAKE_DIR).mkdir()
    forged = {"student": "eve", "assignment": ASSIGNMENT, "kept": 5, "late_by_lms": "no"}
    (folder / INTAKE_DIR / "record.json").write_text(json.dumps(forged))
    assert Record.load(folder) is None
    record = take_in_folder(folder, expected, due=DUE, late_by_lms=True)
    assert record.flagged == [] and record.late_by_lms is True and record.kept == {}


@pytest.mark.parametrize("late", [False, True])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_taking_in_twice_changes_nothing(tmp_path, expected, scenario, late):
    folder = hand_in_files(tmp_path, SCENARIOS[scenario])
    first = take_in_folder(folder, expected, due=DUE, late_by_lms=late)
    after_first = contents(folder)
    second = take_in_folder(folder, expected, due=DUE, late_by_lms=late)
    assert contents(folder) == after_first
    assert second == first


# Files a student's folder may hold, for the property below.
NOTEBOOK_NAMES = [NOTEBOOK, "mini_auto_grad (1).ipynb", "mini_auto_grad-Copy1.ipynb", "homework.ipynb"]
NOTEBOOK_BYTES = [
    WORK,
    OTHER_WORK,
    UNTOUCHED,
    SCRATCH,
    OTHER_ASSIGNMENT,
    codecs.BOM_UTF8 + WORK,
    WORK.decode().encode("utf-16"),
    b"",
    b"\x80garbage",
    WORK[:100],
]
TIMESTAMPS = [ON_TIME, "2026-01-16 00:30:00 +0100", "2026-01-15T12:00Z", "handed in on Thursday night", ""]


@settings(max_examples=60)
@given(
    notebooks=st.dictionaries(st.sampled_from(NOTEBOOK_NAMES), st.sampled_from(NOTEBOOK_BYTES), max_size=3),
    extra=st.dictionaries(
        st.sampled_from(["timestamp.txt", "mini_auto_grad.py", "notes.txt"]),
        st.sampled_from(TIMESTAMPS).map(str.encode),
        max_size=2,
    ),
    late=st.booleans(),
    due=st.sampled_from([None, DUE]),
)
def test_nothing_handed_in_is_ever_lost(expected, notebooks, extra, late, due):
    """Every byte sequence handed in is still a file of the folder afterwards (graded, or kept under
    .intake/originals/), a gradable folder shows nbgrader exactly one plain UTF-8 notebook under the
    notebook's name, and a second run changes nothing."""
    handed = {**notebooks, **extra}
    assume(handed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = hand_in_files(Path(tmp), handed)
        record = take_in_folder(folder, expected, due=due, late_by_lms=late)
        after = contents(folder)
        kept = list(after.values())
        for name, data in handed.items():
            assert data in kept, f"{name} was lost"
        notebooks_seen = sorted(k for k in visible(folder) if k.endswith(".ipynb"))
        if record.flagged:
            assert record.graded == {}
            assert {k: v for k, v in visible(folder).items() if k != "timestamp.txt"} == {
                k: v for k, v in handed.items() if k != "timestamp.txt"
            }
        else:
            assert notebooks_seen == [NOTEBOOK]
            graded_notebook(folder)
        assert take_in_folder(folder, expected, due=due, late_by_lms=late) == record
        assert contents(folder) == after


# ---------------------------------------------------------------------------------------------
# The course: take_in, its command line, and nbgrader's hook


def hand_in_course(course: Path, files: dict[str, dict[str, bytes]]) -> None:
    for student, handed in files.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        for name, data in handed.items():
            (folder / name).write_bytes(data)


@pytest.fixture
def solved(release_nb) -> bytes:
    return as_bytes(fill(release_nb, reference_answers(SOURCE_NOTEBOOK)))


@pytest.fixture
def solved_otherwise(release_nb) -> bytes:
    """The reference solution with one more line in a solution cell: different work."""
    nb = fill(release_nb, reference_answers(SOURCE_NOTEBOOK))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source += "\n# second thoughts"
    return as_bytes(nb)


@pytest.mark.course
def test_take_in_registers_a_flagged_student_without_scores(fresh_course, solved):
    hand_in_course(
        fresh_course,
        {"renamer": {"mini_auto_grad (1).ipynb": solved}, "pyonly": {"mini_auto_grad.py": b"x = 1\n"}},
    )
    (fresh_course / "submitted" / "loose").mkdir()
    (fresh_course / "submitted" / "loose" / NOTEBOOK).write_bytes(solved)  # no assignment folder
    (fresh_course / "submitted" / ".trash").mkdir()  # hidden: nobody's
    course = Course.load(fresh_course)
    found = take_in(course)
    assert sorted(found.records) == ["loose", "pyonly", "renamer"]
    assert found.flagged == {
        "loose": "the files are not in a mini_auto_grad/ folder: move mini_auto_grad.ipynb into"
        " submitted/loose/mini_auto_grad/",
        "pyonly": "no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py",
    }
    assert (fresh_course / "submitted" / "renamer" / ASSIGNMENT / NOTEBOOK).read_bytes() == solved
    assert found.lines()[1:] == [
        "not gradable: pyonly: no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py",
        "note: renamer: graded mini_auto_grad (1).ipynb as mini_auto_grad.ipynb"
        " (handed in under another name)",
    ]
    with Gradebook(course.db_url) as gradebook:
        for student in ("loose", "pyonly"):
            submission = gradebook.find_submission(ASSIGNMENT, student)
            grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
            assert grades and all(g.auto_score is None and g.manual_score is None for g in grades)
        # the gradable are left to autograde
        assert sorted(s.id for s in gradebook.students) == ["loose", "pyonly"]
    assert take_in(course).flagged == found.flagged  # again: the same row, no error


@pytest.mark.course
def test_a_student_graded_before_and_now_not_gradable_loses_the_old_scores(fresh_course, solved):
    """Scores belong to the files they were given for: once a student's folder holds something that
    cannot be graded, the gradebook says "not graded", not the earlier score."""
    hand_in_course(fresh_course, {"again": {NOTEBOOK: solved}})
    course = Course.load(fresh_course)
    with Gradebook(course.db_url) as gradebook:  # as if autograded earlier: 1 point per grade cell
        gradebook.update_or_create_student("again")
        submission = gradebook.update_or_create_submission(ASSIGNMENT, "again")
        for grade in [g for nb in submission.notebooks for g in nb.grades]:
            grade.auto_score = 1.0
        gradebook.db.commit()
    folder = fresh_course / "submitted" / "again" / ASSIGNMENT
    (folder / NOTEBOOK).write_bytes(b'{"cells": [')  # handed in again, cut off
    assert take_in(course).flagged["again"].startswith("mini_auto_grad.ipynb is not valid JSON")
    with Gradebook(course.db_url) as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, "again")
        grades = [g for nb in submission.notebooks for g in nb.grades]
        assert grades and all(g.auto_score is None and g.manual_score is None for g in grades)


@pytest.mark.course
def test_the_command_line_lists_who_is_not_gradable_and_exits_1(fresh_course, solved, release_nb):
    hand_in_course(
        fresh_course,
        {
            "ok": {NOTEBOOK: solved},
            "pyonly": {"mini_auto_grad.py": b"x = 1\n"},
            "beside": {"mini_auto_grad (1).ipynb": solved, NOTEBOOK: as_bytes(release_nb)},
        },
    )
    result = subprocess.run(
        [sys.executable, "-m", "gradekit", "intake", "--course", str(fresh_course)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "not gradable: pyonly: no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py" in lines
    assert not any(line.startswith("not gradable: ok") for line in lines)
    assert not any(line.startswith("not gradable: beside") for line in lines)
    assert (
        "note: beside: graded mini_auto_grad (1).ipynb as mini_auto_grad.ipynb (handed in under another name)"
        in lines
    )
    assert lines[-1] == "intake: students=3 gradable=2 not_gradable=1 unclaimed=0"


@pytest.mark.course
def test_the_command_line_exits_0_when_everybody_is_gradable_and_2_without_a_release(fresh_course, solved):
    hand_in_course(fresh_course, {"ok": {NOTEBOOK: solved}})
    assert cli.main(["intake", "--course", str(fresh_course)]) == 0
    assert cli.main(["intake", "--course", str(fresh_course), "no_such_assignment"]) == 2


@pytest.mark.course
def test_the_hook_points_nbgrader_at_the_notebook_to_grade(fresh_course, solved, solved_otherwise):
    hand_in_course(
        fresh_course,
        {
            "renamer": {"mini_auto_grad-Copy1.ipynb": solved},
            "twice": {"mini_auto_grad (1).ipynb": solved, "mini_auto_grad (2).ipynb": solved_otherwise},
        },
    )
    renamer = fresh_course / "submitted" / "renamer" / ASSIGNMENT
    notebooks = [str(renamer / "mini_auto_grad-Copy1.ipynb")]
    intake.pre_convert_hook(ASSIGNMENT, "renamer", notebooks)
    assert notebooks == [str(renamer / NOTEBOOK)]
    assert (renamer / NOTEBOOK).read_bytes() == solved

    twice = fresh_course / "submitted" / "twice" / ASSIGNMENT
    notebooks = sorted(str(p) for p in twice.glob("*.ipynb"))
    intake.pre_convert_hook(ASSIGNMENT, "twice", notebooks)
    assert notebooks == []  # flagged: nbgrader records the submission without a score


# -- an assignment of two notebooks, each with its copy of the checks cell (test_second_course) -------

CHECKS = nbgrader_cell("def check(points): ...", "checks", locked=True)  # the same grade_id in both
HALVE_STUB = "def halve(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
FIRST = small_notebook(CHECKS, *copy.deepcopy(RELEASE.cells[1:]))
SECOND = small_notebook(
    copy.deepcopy(CHECKS),
    nbgrader_cell(HALVE_STUB, "halve", solution=True),
    nbgrader_cell("assert halve(4) == 2", "test_halve", grade=True, locked=True, points=1),
)


@pytest.fixture(scope="module")
def two_notebooks(tmp_path_factory) -> list[Expected]:
    release = tmp_path_factory.mktemp("release2") / ASSIGNMENT
    release.mkdir()
    nbformat.write(FIRST, str(release / "first.ipynb"))
    nbformat.write(SECOND, str(release / "second.ipynb"))
    return expected_notebooks(release)


def test_a_grade_id_every_notebook_has_tells_none_of_them_apart(tmp_path, two_notebooks):
    first, second = two_notebooks
    assert "checks" not in first.cell_ids | second.cell_ids
    solved_second = copy.deepcopy(SECOND)
    solved_second.cells[1].source = "def halve(x):\n    return x / 2"
    solved_first = copy.deepcopy(FIRST)
    solved_first.cells[1].source = "def double(x):\n    return 2 * x"
    files = {"first.ipynb": as_bytes(solved_first), "second.ipynb": as_bytes(solved_second)}
    folder = hand_in_files(tmp_path, files)
    record = take_in_folder(folder, two_notebooks)
    assert record.flagged == [] and record.attention == [], record
    assert record.graded == {"first": "first.ipynb", "second": "second.ipynb"}
    assert visible(folder) == files, "each notebook graded as itself, nothing moved aside"


def test_a_notebook_not_handed_in_scores_0_and_the_rest_is_graded(tmp_path, two_notebooks):
    solved_first = copy.deepcopy(FIRST)
    solved_first.cells[1].source = "def double(x):\n    return 2 * x"
    folder = hand_in_files(tmp_path, {"first.ipynb": as_bytes(solved_first)})
    record = take_in_folder(folder, two_notebooks)
    assert record.flagged == [] and record.graded == {"first": "first.ipynb"}
    assert record.notes == ["second.ipynb was not handed in: its cells score 0"]
    nothing = hand_in_files(tmp_path, {"notes.txt": "nothing"}, student="other")
    assert take_in_folder(nothing, two_notebooks).flagged == [
        "none of the assignment's notebooks (first.ipynb, second.ipynb) was handed in"
    ]
