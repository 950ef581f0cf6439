"""LMS downloads (gradekit/intake/lms.py): `nbgrader zip_collect` files every upload of a Canvas archive to
its student under the name the student gave it, remembers who the LMS marked late and which files
name nobody, and intake then makes each folder gradable or says why not."""

from __future__ import annotations

import datetime as dt
import json
import logging
import zipfile

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import parse_utc

from gradekit import cli, intake
from gradekit.course import Course
from gradekit.intake.lms import LmsCollector
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.demo import nbgrader
from simulation.submissions import fill, reference_answers

EXTRACTED = "/course/downloaded/mini_auto_grad/extracted/submissions"


@pytest.mark.parametrize(
    "path, student, file_id, late",
    [
        (f"{EXTRACTED}/smithj_1234_5678_mini_auto_grad.ipynb", "smithj", "mini_auto_grad.ipynb", False),
        (f"{EXTRACTED}/doea_late_4321_8765_mini_auto_grad-1.ipynb", "doea", "mini_auto_grad-1.ipynb", True),
        (
            f"{EXTRACTED}/renamer_1111_2222_mini_auto_grad (1).ipynb",
            "renamer",
            "mini_auto_grad (1).ipynb",
            False,
        ),
        (f"{EXTRACTED}/pyonly_3333_4444_mini_auto_grad.py", "pyonly", "mini_auto_grad.py", False),
        (f"{EXTRACTED}/lee_5_6_homework 3 final.ipynb", "lee", "homework 3 final.ipynb", False),
        (f"{EXTRACTED}/lee_late_5_6_late_work.ipynb", "lee", "late_work.ipynb", True),
        (
            "C:\\course\\extracted\\smithj_1234_5678_mini_auto_grad.ipynb",
            "smithj",
            "mini_auto_grad.ipynb",
            False,
        ),
    ],
)
def test_the_student_id_comes_from_the_lms_part_of_the_name(path, student, file_id, late):
    collector = LmsCollector()
    assert collector.collect(path) == {"student_id": student, "file_id": file_id}
    archived = path.replace("\\", "/").rsplit("/", 1)[1]  # the ledger names the file of the archive
    assert collector.ledger == {"students": {student: {"late": late, "files": [archived]}}, "unclaimed": []}


@pytest.mark.parametrize(
    "path",
    [
        f"{EXTRACTED}/__MACOSX/._smithj_1234_5678_mini_auto_grad.ipynb",
        "/course/downloaded/mini_auto_grad/extracted/__MACOSX/submissions/._x.ipynb",
        f"{EXTRACTED}/.DS_Store",
        f"{EXTRACTED}/Thumbs.db",
    ],
)
def test_archive_junk_is_nobodys_and_not_reported(path):
    collector = LmsCollector()
    assert collector.collect(path) is None
    assert collector.ledger == {"students": {}, "unclaimed": []}


def test_a_file_without_a_student_id_is_logged_and_listed_as_unclaimed(caplog):
    collector = LmsCollector(log=logging.getLogger("tests.lms"))
    with caplog.at_level(logging.ERROR, logger="tests.lms"):
        assert collector.collect(f"{EXTRACTED}/mini_auto_grad.ipynb") is None
    assert collector.ledger["unclaimed"] == ["mini_auto_grad.ipynb"]
    assert "No student id in the name of" in caplog.text and "mini_auto_grad.ipynb" in caplog.text


def test_a_student_is_late_when_any_upload_was(caplog):
    collector = LmsCollector()
    collector.collect(f"{EXTRACTED}/doea_4321_8765_notes.ipynb")
    collector.collect(f"{EXTRACTED}/doea_late_4321_8766_mini_auto_grad.ipynb")
    collector.collect(f"{EXTRACTED}/doea_4321_8767_extra.py")
    assert collector.ledger["students"] == {
        "doea": {
            "late": True,
            "files": [
                "doea_4321_8765_notes.ipynb",
                "doea_late_4321_8766_mini_auto_grad.ipynb",
                "doea_4321_8767_extra.py",
            ],
        }
    }


def test_another_lms_is_read_with_its_own_pattern():
    collector = LmsCollector(named_regexp=r".*/(?P<student_id>\w+)--(?P<file_id>[^/]+)$")
    assert collector.collect("/x/jdoe--hw.ipynb") == {"student_id": "jdoe", "file_id": "hw.ipynb"}


def test_files_inside_an_uploaded_archive_belong_to_the_uploader():
    """nbgrader unpacks an uploaded zip into a folder named after the upload: a name inside it
    that claims another student (or `late_`) is just a file name of the uploader's."""
    collector = LmsCollector()
    inner = f"{EXTRACTED}/malloryx_1003_5003_notes.zip/bobjones_late_1002_5002_mini_auto_grad.ipynb"
    assert collector.collect(inner) == {
        "student_id": "malloryx",
        "file_id": "bobjones_late_1002_5002_mini_auto_grad.ipynb",
    }
    assert collector.ledger["students"] == {
        "malloryx": {"late": False, "files": ["bobjones_late_1002_5002_mini_auto_grad.ipynb"]}
    }


def test_an_uploaded_timestamp_or_hidden_file_cannot_pose_as_the_graders():
    collector = LmsCollector()
    assert collector.collect(f"{EXTRACTED}/malloryx_late_1_2_timestamp.txt")["file_id"] == (
        "uploaded-timestamp.txt"
    )
    assert collector.collect(f"{EXTRACTED}/malloryx_late_1_3_.intake")["file_id"] == "uploaded-.intake"
    assert collector.ledger["students"]["malloryx"]["late"] is True


def test_an_id_that_is_a_path_is_nobodys():
    collector = LmsCollector()
    assert collector.collect(f"{EXTRACTED}/.._1_1_evil.txt") is None
    assert collector.collect(f"{EXTRACTED}/.hidden_1_1_x.ipynb") is None
    assert collector.ledger == {"students": {}, "unclaimed": [".._1_1_evil.txt", ".hidden_1_1_x.ipynb"]}


def test_a_name_given_twice_to_one_student_is_numbered():
    """nbgrader stops the whole collection on two files of one student with one name."""
    collector = LmsCollector()
    first = collector.collect(f"{EXTRACTED}/lee_5_6_work.ipynb")
    second = collector.collect(f"{EXTRACTED}/lee_5_7_work.zip/work.ipynb")
    third = collector.collect(f"{EXTRACTED}/lee_5_8_Work.ipynb")
    assert [f["file_id"] for f in (first, second, third)] == [
        "work.ipynb",
        "work (2).ipynb",
        "Work (3).ipynb",
    ]


def test_a_second_archive_adds_to_the_ledger(tmp_path, monkeypatch):
    """Collecting another archive later (a second batch of uploads) keeps what the first said:
    a late mark is not lost."""
    ledger = tmp_path / "lms.json"
    monkeypatch.setattr(LmsCollector, "_find_paths", lambda self: (ledger, None))
    LmsCollector().collect(f"{EXTRACTED}/alice_late_1_1_mini_auto_grad.ipynb")
    LmsCollector().collect(f"{EXTRACTED}/carl_2_2_mini_auto_grad.ipynb")
    assert json.loads(ledger.read_text())["students"] == {
        "alice": {"late": True, "files": ["alice_late_1_1_mini_auto_grad.ipynb"]},
        "carl": {"late": False, "files": ["carl_2_2_mini_auto_grad.ipynb"]},
    }


# ---------------------------------------------------------------------------------------------
# nbgrader zip_collect with the course's config, then intake


def archive(course, files: dict[str, bytes | str]) -> None:
    folder = course / "downloaded" / ASSIGNMENT / "archive"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "submissions.zip", "w") as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)


@pytest.mark.course
def test_zip_collect_files_lms_downloads(fresh_course, release_nb):
    """An LMS archive with Canvas-style names lands in submitted/<student>/ and is gradable."""
    handed_in = {"smithj": fill(release_nb, reference_answers(SOURCE_NOTEBOOK)), "doea": release_nb}
    archive(
        fresh_course,
        {
            "smithj_1234_5678_mini_auto_grad.ipynb": nbformat.writes(handed_in["smithj"]),
            "doea_late_4321_8765_mini_auto_grad-1.ipynb": nbformat.writes(handed_in["doea"]),
        },
    )
    nbgrader(fresh_course, "zip_collect", ASSIGNMENT)
    submitted = fresh_course / "submitted"
    assert nbformat.read(submitted / "doea" / ASSIGNMENT / "mini_auto_grad-1.ipynb", 4) == handed_in["doea"]
    intake.take_in(Course.load(fresh_course))
    for student, nb in handed_in.items():
        collected = submitted / student / ASSIGNMENT / NOTEBOOK
        assert nbformat.read(collected, 4) == nb, f"{student}'s notebook was not filed under their id"


@pytest.mark.course
def test_every_upload_of_a_canvas_archive_reaches_its_student(fresh_course, release_nb, capsys):
    solved = nbformat.writes(fill(release_nb, reference_answers(SOURCE_NOTEBOOK)))
    python = "class Value:\n    pass\n"
    archive(
        fresh_course,
        {
            "smithj_1234_5678_mini_auto_grad.ipynb": solved,
            "doea_late_4321_8765_mini_auto_grad-1.ipynb": solved,
            "renamer_1111_2222_mini_auto_grad (1).ipynb": solved,
            "pyonly_3333_4444_mini_auto_grad.py": python,
            "__MACOSX/._smithj_1234_5678_mini_auto_grad.ipynb": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X",
            "mini_auto_grad.ipynb": solved,  # no student id in its name
        },
    )
    nbgrader(fresh_course, "zip_collect", ASSIGNMENT)

    submitted = fresh_course / "submitted"
    uploaded = {
        "smithj": ("mini_auto_grad.ipynb", solved),
        "doea": ("mini_auto_grad-1.ipynb", solved),
        "renamer": ("mini_auto_grad (1).ipynb", solved),
        "pyonly": ("mini_auto_grad.py", python),
    }
    assert sorted(p.name for p in submitted.iterdir()) == sorted(uploaded)
    for student, (name, data) in uploaded.items():
        folder = submitted / student / ASSIGNMENT
        assert [p.name for p in folder.iterdir()] == [name], student
        assert (folder / name).read_text() == data
    ledger = json.loads((fresh_course / "downloaded" / ASSIGNMENT / "lms.json").read_text())
    assert ledger == {
        "students": {
            "doea": {"late": True, "files": ["doea_late_4321_8765_mini_auto_grad-1.ipynb"]},
            "pyonly": {"late": False, "files": ["pyonly_3333_4444_mini_auto_grad.py"]},
            "renamer": {"late": False, "files": ["renamer_1111_2222_mini_auto_grad (1).ipynb"]},
            "smithj": {"late": False, "files": ["smithj_1234_5678_mini_auto_grad.ipynb"]},
        },
        "unclaimed": ["mini_auto_grad.ipynb"],
    }

    due = dt.datetime(2026, 1, 15, 23, 59)
    with Gradebook(f"sqlite:///{fresh_course / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=due)
    assert cli.main(["intake", "--course", str(fresh_course)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "not gradable: pyonly: no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py" in lines
    assert "unclaimed: mini_auto_grad.ipynb (no student id in its name; see nbgrader_config.py)" in lines
    assert lines[-1] == "intake: students=4 gradable=3 not_gradable=1 unclaimed=1"

    stamp = (submitted / "doea" / ASSIGNMENT / "timestamp.txt").read_text()
    assert parse_utc(stamp) == due + dt.timedelta(seconds=1)
    assert not (submitted / "smithj" / ASSIGNMENT / "timestamp.txt").exists()
    for student in ("smithj", "doea", "renamer"):
        assert (submitted / student / ASSIGNMENT / NOTEBOOK).read_text() == solved, student
    assert intake.Record.load(submitted / "pyonly" / ASSIGNMENT).reason == (
        "no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py"
    )
