"""Grades into the LMS (gradekit.export.lms_export): Canvas's and Moodle's gradebook import CSVs, written
by `nbgrader export` from a graded course with a late, a not gradable and an absent student, and a
student the LMS knows by another id (nbgrader's `lms_user_id`)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from simulation import arrivals
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.demo import nbgrader
from simulation.submissions import fill, reference_answers
from tests.conftest import grade_with_shards

pytestmark = pytest.mark.course


@pytest.fixture(scope="module")
def graded(course, release_nb, tmp_path_factory) -> Path:
    root = Path(shutil.copytree(course, tmp_path_factory.mktemp("lms_export") / "course"))
    solved = fill(release_nb, reference_answers(SOURCE_NOTEBOOK))
    import nbformat

    handed = {
        "jdoe": (solved, "2026-01-15 12:00:00 UTC"),
        "late": (solved, "2026-01-16 08:00:00 UTC"),
        "blank": (release_nb, "2026-01-15 12:00:00 UTC"),
    }
    for student, (nb, stamp) in handed.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / NOTEBOOK))
        (folder / "timestamp.txt").write_text(stamp)
    pyonly = root / "submitted" / "pyonly" / ASSIGNMENT
    pyonly.mkdir(parents=True)
    (pyonly / "mini_auto_grad.py").write_text("x = 1\n")
    arrivals.give_due_date(f"sqlite:///{root / 'gradebook.db'}")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_student(
            "jdoe", first_name="Jane", last_name="Doe", email="jane@uni.example", lms_user_id="4711"
        )
        gradebook.update_or_create_student("absent", first_name="Abe", last_name="Sent")
    result = grade_with_shards(root, "--shards", "1")
    assert result.returncode == 1, result.stderr  # pyonly is not gradable
    return root


def export(root: Path, exporter: str, tmp_path: Path) -> list[list[str]]:
    target = tmp_path / f"{exporter}.csv"
    nbgrader(root, "export", "--exporter", f"gradekit.export.lms_export.{exporter}", "--to", str(target))
    with target.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_canvas_csv_has_canvas_columns_points_possible_and_the_total_after_penalties(graded, tmp_path):
    rows = export(graded, "CanvasCsvExport", tmp_path)
    a = ASSIGNMENT
    assert rows[0] == [
        "Student", "ID", "SIS User ID", "SIS Login ID", "Section",
        f"{a} ex1", f"{a} ex2", f"{a} ex3", a,
    ]  # fmt: skip
    assert rows[1] == ["Points Possible", "", "", "", "", "10", "10", "10", "30"]
    by_login = {row[3]: row for row in rows[2:]}
    assert by_login == {
        "absent": ["Sent, Abe", "", "", "absent", "", "", "", "", ""],
        "blank": ["blank", "", "", "blank", "", "0", "0", "0", "0"],
        "jdoe": ["Doe, Jane", "4711", "", "jdoe", "", "10", "10", "10", "30"],  # Canvas's id: lms_user_id
        "late": ["late", "", "", "late", "", "10", "10", "10", "0"],  # earned 30, late: total 0
        "pyonly": ["pyonly", "", "", "pyonly", "", "", "", "", ""],  # not gradable: no grade, not 0
    }


def test_moodle_csv_maps_by_lms_id_and_says_why_in_the_feedback(graded, tmp_path):
    rows = export(graded, "MoodleCsvExport", tmp_path)
    a = ASSIGNMENT
    assert rows[0] == [
        "Username", "Email address", "First name", "Last name",
        f"{a} ex1", f"{a} ex2", f"{a} ex3", a, f"{a} feedback",
    ]  # fmt: skip
    by_user = {row[0]: row for row in rows[1:]}
    assert sorted(by_user) == ["4711", "absent", "blank", "late", "pyonly"]  # jdoe by her LMS id
    assert by_user["4711"] == ["4711", "jane@uni.example", "Jane", "Doe", "10", "10", "10", "30", ""]
    assert by_user["late"][4:] == ["10", "10", "10", "0", "late: 30 points earned, late penalty 30"]
    assert by_user["blank"][4:] == ["0", "0", "0", "0", ""]
    assert by_user["pyonly"][4:8] == ["", "", "", ""]
    assert (
        by_user["pyonly"][8] == "not graded: no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py"
    )
    assert by_user["absent"][4:] == ["", "", "", "", "no submission"]


def test_only_the_students_asked_for(graded, tmp_path):
    target = tmp_path / "some.csv"
    nbgrader(
        graded,
        "export",
        "--exporter",
        "gradekit.export.lms_export.MoodleCsvExport",
        "--to",
        str(target),
        "--student",
        "jdoe",
    )
    rows = list(csv.reader(target.open(newline="")))
    assert [row[0] for row in rows[1:]] == ["4711"]
