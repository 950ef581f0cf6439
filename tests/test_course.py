"""The course as nbgrader sees it: a clean source that passes its own tests, a release and solutions
in sync with it, a release that leaks nothing and gives no free points, feedback that hides tests."""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
import shutil

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.validator import Validator

from gradekit.course.notebooks import COURSE_ROOT, exercise_of, grade_cells, nbgrader_meta, read, secret_lines
from gradekit.export import grades
from simulation.course import ASSIGNMENT, EXERCISES, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.demo import nbgrader
from simulation.submissions import fill, reference_answers
from tests.conftest import hand_in

pytestmark = pytest.mark.course


@pytest.fixture(scope="module")
def source():
    return read(SOURCE_NOTEBOOK)


def secrets(nb, solutions: bool = True) -> list[str]:
    """The hidden test lines (and solution lines) of a notebook that appear nowhere else in it."""
    found = sorted(secret_lines([c.source for c in nb.cells], solutions=solutions))
    assert len(found) > 50, "the check would be empty"
    return found


def visible_text(page: str) -> str:
    """The text a student reads in an HTML page: tags stripped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_source_is_stored_clean(source):
    for cell in source.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_graded_cells_name_their_exercise_and_weigh_the_same(source):
    points = grade_cells(source)
    assert points and all(p > 0 for p in points.values())
    assert {exercise_of(cell) for cell in points} == set(EXERCISES)
    per_exercise = {ex: sum(p for c, p in points.items() if exercise_of(c) == ex) for ex in EXERCISES}
    assert len(set(per_exercise.values())) == 1, per_exercise


def test_every_test_cell_follows_a_solution_or_test_cell(source):
    """nbgrader restores a deleted test cell after the previous nbgrader cell of the source, and
    crashes if that one is a locked cell that is not graded."""
    nbgrader_cells = [nbgrader_meta(c) for c in source.cells if nbgrader_meta(c)]
    for before, cell in itertools.pairwise(nbgrader_cells):
        if cell.get("grade"):
            assert before.get("grade") or before.get("solution"), cell["grade_id"]


def test_source_passes_all_its_tests():
    """`nbgrader validate` exits 0 even when tests fail, so ask the Validator API."""
    assert Validator().validate(str(SOURCE_NOTEBOOK)) == {}


def test_release_fails_every_test_cell(course, source):
    result = Validator().validate(str(course / "release" / ASSIGNMENT / NOTEBOOK))
    assert len(result["failed"]) == len(grade_cells(source))


@pytest.mark.parametrize("folder", ["release", "solutions"])
def test_committed_notebooks_match_the_source(course, folder):
    committed = COURSE_ROOT / folder / ASSIGNMENT / NOTEBOOK
    regenerated = course / folder / ASSIGNMENT / NOTEBOOK
    assert committed.exists(), f"{folder}/ is missing: run ./kit demo (it regenerates it) and commit"
    assert nbformat.read(committed, 4) == nbformat.read(regenerated, 4), (
        f"{folder}/ drifted from source/: run ./kit demo (it regenerates it) and commit the result"
    )


def test_release_leaks_nothing(release_nb, source):
    text = nbformat.writes(release_nb)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
        assert marker not in text
    leaked = [line for line in secrets(source) if line in text]
    assert not leaked, f"solution or hidden lines in the release: {leaked[:5]}"
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


SNOOP = """
import base64, linecache, sys
def _cell_of_caller(depth=2):
    return "".join(linecache.getlines(sys._getframe(depth).f_code.co_filename))
def _longest_line_with_a_value(text):
    return max((line.strip() for line in text.splitlines() if "Value(" in line), key=len, default="")
"""


def snooping_submission(release_nb):
    """The reference solution, plus code that prints base64 of the test cell that calls `train`,
    and raises an exception carrying the longest line with a Value of the cell that calls
    `backwards` (a hidden check)."""
    answers = reference_answers(SOURCE_NOTEBOOK)
    answers["training"][0] = (
        "print(base64.b64encode(_cell_of_caller().encode()).decode())\n" + answers["training"][0]
    )
    nb = fill(release_nb, answers)
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "value_class")
    alias = "        self.backward()\n"
    assert alias in cell.source
    cell.source = SNOOP + cell.source.replace(
        alias, "        raise RuntimeError(_longest_line_with_a_value(_cell_of_caller()))\n"
    )
    return nb


def test_autograding_blank_reference_and_snoop(fresh_course, release_nb, source):
    """No free points for the untouched release, every point for the reference solution, and
    feedback for all that shows no hidden check (and no solution to those who did not write it),
    even to a submission that looks for the hidden checks' code in the frames that call it and
    tries to hand it back (it finds none: the checks run in the grader)."""
    hand_in(
        fresh_course,
        {
            "blank": release_nb,
            "reference": fill(release_nb, reference_answers(SOURCE_NOTEBOOK)),
            "snoop": snooping_submission(release_nb),
        },
    )
    nbgrader(fresh_course, "autograde", ASSIGNMENT)
    with Gradebook(f"sqlite:///{fresh_course / 'gradebook.db'}") as gradebook:
        students = {g.student: g for g in grades.collect(gradebook, ASSIGNMENT)}
    points = grade_cells(source)
    assert students["blank"].cells == dict.fromkeys(points, 0.0)
    assert students["reference"].cells == points
    assert students["snoop"].cells == {**points, "ex2_backward": 0.875}  # backwards_alias raised

    hidden = secrets(source, solutions=False)
    autograded = read(fresh_course / "autograded" / "snoop" / ASSIGNMENT / NOTEBOOK)
    outputs = json.dumps([c.get("outputs", []) for c in autograded.cells])
    decoded = "".join(
        base64.b64decode(blob + "=" * (-len(blob) % 4)).decode("utf-8", "replace")
        for blob in re.findall(r"[A-Za-z0-9+/]{200,}", outputs)
    )
    assert not [line for line in hidden if line in outputs + decoded], "hidden code in the outputs"
    alias = next(
        r
        for c in autograded.cells
        for r in c.metadata.get("gradekit", {}).get("checks", [])
        if r["name"] == "backwards_alias"
    )
    # the code that calls the student's backwards() is the grader's answering loop, never a check:
    # the hidden check's code is nowhere in the student's process to be handed back
    assert alias["problem"] == "raised RuntimeError"

    nbgrader(fresh_course, "generate_feedback", ASSIGNMENT)
    for student in ("blank", "reference", "snoop"):
        page = (fresh_course / "feedback" / student / ASSIGNMENT / NOTEBOOK).with_suffix(".html")
        text = visible_text(page.read_text())
        # The reference student's own code is the solution; nobody's feedback shows hidden tests
        # (but for lines they wrote themselves, such as model.zero_grad() in train).
        own = "\n".join(
            c.source for c in read(fresh_course / "submitted" / student / ASSIGNMENT / NOTEBOOK).cells
        )
        leaked = [
            line for line in secrets(source, solutions=student == "blank") if line in text and line not in own
        ]
        assert not leaked, f"{student}'s feedback shows: {leaked[:5]}"
        if student == "blank":
            assert "not written yet" in text
        if student == "reference" and shutil.which("dot"):
            html_page = page.read_text()
            pictures = html_page.count("<svg") + html_page.count("data:image/svg+xml")
            assert pictures >= 2, "the graph pictures reach the feedback"


def test_the_layout_the_readme_promises_exists_in_a_checkout():
    """Every top-level folder the README's layout table lists is in the repository (autograded/
    only through its README, which says what nbgrader writes there and what is safe to delete)."""
    import subprocess

    layout = (COURSE_ROOT / "README.md").read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([\w.-]+)/", layout, re.M)) | set(re.findall(r", `([\w.-]+)/`", layout))
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=COURSE_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    committed = {path.split("/")[0] for path in tracked if "/" in path}
    generated = {"feedback", "submitted", "logs"}  # written when grading, never committed
    assert "autograded" in listed and "autograded/README.md" in tracked
    assert listed - generated <= committed, sorted(listed - generated - committed)
    assert "Safe to delete" in (COURSE_ROOT / "autograded" / "README.md").read_text()


def test_demo_runs_end_to_end(tmp_path):
    """The README's main command, on a copy of the course."""
    import subprocess
    import sys

    for item in ("nbgrader_config.py", "source", "autograded/README.md"):
        src = COURSE_ROOT / item
        (tmp_path / item).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / item)
    result = subprocess.run(
        [sys.executable, "-m", "simulation.demo", "--small", "--course", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    table = result.stdout
    assert re.search(r"^ok_reference\s+10\s+10\s+10\s+30\s+10 10 10$", table, re.M), table
    assert re.search(r"^part_only_ex1\s+10\s+0\s+0\s+10\s+10 0 0$", table, re.M), table
    assert re.search(r"^part_blank\s+0\s+0\s+0\s+0\s+0 0 0$", table, re.M), table
    assert re.search(r"^arr_late\s+10\s+10\s+10\s+-30\s+0\s+10 10 10, late -30$", table, re.M), table
    assert re.search(r"^arr_python_file_only\s+not graded\s+not gradable: no notebook", table, re.M), table
    assert "\nas expected: 7/7 students\n" in table
    assert (tmp_path / "autograded" / "README.md").exists(), "the demo's clean-up keeps the committed README"
    # quiet: progress and summary, no nbgrader log line (those are in logs/)
    assert "[AutogradeApp" not in result.stdout + result.stderr
    assert len(result.stdout.splitlines()) < 60, result.stdout
    assert "Attribute 'checksum'" not in "".join(p.read_text() for p in (tmp_path / "logs").rglob("*.log"))
    assert (tmp_path / "report.html").read_text().count("<svg") >= 4
    rows = (tmp_path / "grades_by_exercise.csv").read_text().splitlines()
    assert rows[0] == "assignment,student_id,ex1,ex2,ex3,penalty,total,max,submitted,graded,late,reason"
    assert "mini_auto_grad,ok_reference,10.0,10.0,10.0,0.0,30.0,30.0,True,True,False," in rows
    assert "mini_auto_grad,arr_late,10.0,10.0,10.0,30.0,0.0,30.0,True,True,True," in rows


def test_the_environment_is_exactly_the_lock():
    """`./kit` installs uv.lock with `uv sync --locked`: every installed distribution is the
    version the lock pins (a fresh machine gets this environment, not today's newest releases)."""
    import importlib.metadata
    import sysconfig
    import tomllib

    lock = tomllib.loads((COURSE_ROOT / "uv.lock").read_text())
    pinned: dict[str, set[str]] = {}  # a package may have one version per Python range
    for package in lock["package"]:
        pinned.setdefault(package["name"], set()).add(package.get("version"))
    installed = {
        d.metadata["Name"].lower().replace("_", "-").replace(".", "-"): d.version
        for d in importlib.metadata.distributions(path=[sysconfig.get_paths()["purelib"]])
    }  # the environment's own, not what other packages vendor
    assert installed["nbgrader"] == "0.9.6" and pinned["nbgrader"] == {"0.9.6"}
    outside = {name: v for name, v in installed.items() if name in pinned and v not in pinned[name]}
    assert not outside, f"installed versions differ from uv.lock: {outside} (run ./kit, or ./kit lock)"
    missing = sorted(set(installed) - set(pinned) - {"pip", "setuptools", "uv"})
    assert not missing, f"installed but not in uv.lock: {missing}"


def test_the_gradebook_read_is_consistent_while_a_shard_hands_a_submission_in(tmp_path, monkeypatch):
    """A submission another shard adds between the read's queries is counted in the next read, not
    half in this one (CI: KeyError 'kernel_crash' in gradebook_state, two Slurm shards on
    PostgreSQL). The other shard writes just before the read asks for the grades."""
    from sqlalchemy import event

    from gradekit.course import gradebook as module

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gb:
        gb.add_assignment("a")
        gb.add_notebook("nb", "a")
        gb.add_grade_cell("test", "nb", "a", max_score=1, cell_type="code")
        gb.add_student("early")
        gb.add_student("late")
        gb.add_submission("a", "early")

    def engine_with_a_shard_writing(url_, **kw):
        engine = engine_for(url_, **kw)

        @event.listens_for(engine, "before_cursor_execute")
        def hand_in_late(conn, cursor, statement, *args):
            if "auto_score" in statement and not written:
                written.append(True)
                with Gradebook(url) as other:
                    other.add_submission("a", "late")

        return engine

    written: list[bool] = []
    engine_for = module.engine_for
    monkeypatch.setattr(module, "engine_for", engine_with_a_shard_writing)
    state = module.gradebook_state(url, "a")
    assert written == [True]
    assert (state.submissions, state.unsaved) == ({"early": 1}, {"early": 1})
    assert module.gradebook_state(url, "a").unsaved == {"early": 1, "late": 1}
