"""What autograde does to a submission besides running it: the sanitize steps (gradekit/grading/sanitize.py)
on a tiny assignment whose gradebook nbgrader's own preprocessors build in a temporary SQLite file,
as `nbgrader generate_assignment` would (split and pasted cells, test cells restored without the
false checksum warning, a real change logged), the scores saved (nbgrader's, in one commit), and
the output budget of a graded cell
(gradekit/grading/outputs.py), fed kernel messages without a kernel."""

from __future__ import annotations

import copy
import json
import logging

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import (
    ClearHiddenTests,
    ClearSolutions,
    ComputeChecksums,
    OverwriteCells,
    SaveCells,
)
from nbgrader.preprocessors import SaveAutoGrades as NbgraderSaveAutoGrades
from sqlalchemy import event
from sqlalchemy.engine import Engine

from gradekit.course.notebooks import nbgrader_meta
from gradekit.grading.autogrades import SaveAutoGrades
from gradekit.grading.outputs import ERROR_LINES, ERROR_TEXT, NOTE, REMOVED, OutputBudget
from gradekit.grading.sanitize import CHANGED_LOCKED_CELL, DeduplicateCells, RestoreCells

ASSIGNMENT, NOTEBOOK, STUDENT = "tiny", "tiny", "alice"


def nbgrader_cell(kind, source, grade_id, *, solution=False, grade=False, locked=False, points=None):
    cell = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    return cell


SOURCE = new_notebook(
    cells=[
        new_markdown_cell("# Tiny\nWrite `double` and `half`."),
        nbgrader_cell(
            "code",
            "import math\n\ndef double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            "double",
            solution=True,
        ),
        nbgrader_cell(
            "code",
            "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
            "test_double",
            grade=True,
            locked=True,
            points=2,
        ),
        nbgrader_cell("markdown", "Why is doubling linear?", "why_question", locked=True),
        nbgrader_cell("markdown", "Because 2(a + b) = 2a + 2b.", "why", solution=True, grade=True, points=1),
        nbgrader_cell(
            "code",
            "def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION",
            "half",
            solution=True,
        ),
        nbgrader_cell("code", "assert half(4) == 2", "test_half", grade=True, locked=True, points=1),
    ],
    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The gradebook and the release of the tiny assignment, made by nbgrader's own steps (those of
    `nbgrader generate_assignment` that matter here, in its order)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('tiny') / 'gradebook.db'}"
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT)
    resources = {"nbgrader": {"db_url": db_url, "assignment": ASSIGNMENT, "notebook": NOTEBOOK}}
    nb = copy.deepcopy(SOURCE)
    for step in (ClearSolutions(), ComputeChecksums(), SaveCells(), ClearHiddenTests(), ComputeChecksums()):
        nb, resources = step.preprocess(nb, resources)
    return db_url, nb


@pytest.fixture
def release(course):
    return copy.deepcopy(course[1])


def resources(course) -> dict:
    return {
        "nbgrader": {"db_url": course[0], "assignment": ASSIGNMENT, "notebook": NOTEBOOK, "student": STUDENT}
    }


LOG = logging.getLogger("tests.sanitize")


def deduplicate(course, nb):
    nb, _ = DeduplicateCells(log=LOG).preprocess(nb, resources(course))
    return nb


def restore(course, nb):
    nb, _ = RestoreCells(log=LOG).preprocess(nb, resources(course))
    return nb


def grade_ids(nb) -> list[str | None]:
    return [nbgrader_meta(c).get("grade_id") for c in nb.cells]


def index(nb, grade_id: str) -> int:
    (found,) = [i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id]
    return found


def solved(release) -> nbformat.NotebookNode:
    nb = copy.deepcopy(release)
    nb.cells[index(nb, "double")].source = "import math\n\ndef double(x):\n    return 2 * x"
    nb.cells[index(nb, "half")].source = "def half(x):\n    return x / 2"
    nb.cells[index(nb, "why")].source = "It commutes with sums."
    return nb


def test_the_gradebook_is_the_tiny_assignment(course, release):
    with Gradebook(course[0]) as gradebook:
        notebook = gradebook.find_notebook(NOTEBOOK, ASSIGNMENT)
        assert [c.name for c in notebook.source_cells] == [g for g in grade_ids(SOURCE) if g]
        assert "HIDDEN TESTS" in gradebook.find_source_cell("test_double", NOTEBOOK, ASSIGNMENT).source
    assert "HIDDEN TESTS" not in release.cells[index(release, "test_double")].source


def test_a_notebook_with_one_cell_per_grade_id_is_left_as_it_is(course, release, caplog):
    nb = solved(release)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert deduplicate(course, copy.deepcopy(nb)) == nb
    assert caplog.records == []


def split(nb, grade_id: str, first: str, second: str) -> int:
    """JupyterLab's Split Cell on cell `grade_id`: both halves carry its metadata; its index."""
    at = index(nb, grade_id)
    copied = copy.deepcopy(nb.cells[at])
    nb.cells[at].source, copied.source = first, second
    nb.cells.insert(at + 1, copied)
    return at


def test_a_split_solution_cell_keeps_every_line_and_grades_the_first_half(course, release):
    """JupyterLab's Split Cell: both halves carry the solution cell's metadata."""
    nb = solved(release)
    at = split(nb, "double", "import math", "def double(x):\n    return 2 * x")
    nb = deduplicate(course, nb)
    assert grade_ids(nb).count("double") == 1
    first, after = nb.cells[at], nb.cells[at + 1]
    assert nbgrader_meta(first)["grade_id"] == "double" and nbgrader_meta(first)["solution"]
    assert first.source == "import math"
    # the other half runs where it was, as an ordinary code cell: no line of the student's is lost
    assert after.cell_type == "code" and "nbgrader" not in after.metadata
    assert after.source == "def double(x):\n    return 2 * x"
    assert grade_ids(nb)[at + 2] == "test_double"


def test_a_split_markdown_answer_is_joined_back_into_the_graded_cell(course, release):
    nb = solved(release)
    at = split(nb, "why", "It commutes with sums\n", "and with scaling.")
    nb = deduplicate(course, nb)
    assert nb.cells[at].source == "It commutes with sums\n\nand with scaling."
    assert nbgrader_meta(nb.cells[at])["grade_id"] == "why"
    assert nb.cells[at + 1].source == "" and "nbgrader" not in nb.cells[at + 1].metadata


def test_a_solution_cell_pasted_again_runs_as_an_ordinary_cell(course, release):
    nb = solved(release)
    pasted = copy.deepcopy(nb.cells[index(nb, "half")])
    pasted.source = "def half(x):\n    return x * 0.5"
    nb.cells.append(pasted)
    nb = deduplicate(course, nb)
    assert grade_ids(nb).count("half") == 1
    assert (
        nb.cells[-1].source == "def half(x):\n    return x * 0.5" and "nbgrader" not in nb.cells[-1].metadata
    )


@pytest.mark.parametrize("where", ["above the code it tests", "right below itself"])
def test_a_pasted_test_cell_leaves_one_cell_right_after_the_code_it_tests(course, release, where):
    nb = solved(release)
    pasted = copy.deepcopy(nb.cells[index(nb, "test_double")])
    pasted.source = "# pasted\n" + pasted.source
    at = index(nb, "double") if where == "above the code it tests" else index(nb, "test_double") + 1
    nb.cells.insert(at, pasted)
    nb = deduplicate(course, nb)
    assert grade_ids(nb).count("test_double") == 1
    kept = index(nb, "test_double")
    assert kept == index(nb, "double") + 1
    assert not nb.cells[kept].source.startswith("# pasted")
    assert grade_ids(nb) == grade_ids(release)


def test_a_cell_of_no_grade_id_of_this_assignment_becomes_an_ordinary_cell(course, release, caplog):
    nb = solved(release)
    stranger = nbgrader_cell("code", "print('hw2')", "hw2_q1", grade=True, locked=True, points=5)
    leftover = new_code_cell("x = 1")
    leftover.metadata["nbgrader"] = {}  # what nbgrader's DeduplicateIds leaves behind
    nb.cells[3:3] = [stranger, leftover]
    with caplog.at_level(logging.INFO, logger=LOG.name):
        nb = deduplicate(course, nb)
    assert [c.source for c in nb.cells[3:5]] == ["print('hw2')", "x = 1"]
    assert all("nbgrader" not in c.metadata for c in nb.cells[3:5])
    assert [r.getMessage() for r in caplog.records] == [
        "alice: cell 'hw2_q1' is not a cell of this assignment: graded as an ordinary cell"
    ]


# ---------------------------------------------------------------------------------------------
# RestoreCells


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_test_cells_as_released_are_restored_without_a_warning(course, release, caplog):
    nb = solved(release)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        nb = restore(course, nb)
    assert warnings(caplog) == []
    with Gradebook(course[0]) as gradebook:
        hidden = gradebook.find_source_cell("test_double", NOTEBOOK, ASSIGNMENT).source
    assert nb.cells[index(nb, "test_double")].source == hidden  # the hidden tests are back


def test_nbgrader_warned_about_a_checksum_for_every_test_cell_with_hidden_tests(course, release, caplog):
    """What RestoreCells replaces: the false warning, on an untouched submission."""
    with caplog.at_level(logging.INFO, logger=LOG.name):
        OverwriteCells(log=LOG).preprocess(solved(release), resources(course))
    assert [m for m in warnings(caplog) if "checksum" in m] == [
        m for m in warnings(caplog) if "test_double" in m
    ]
    assert len(warnings(caplog)) == 1


def test_a_changed_test_cell_is_restored_and_logged_once_naming_the_student(course, release, caplog):
    nb = solved(release)
    test = nb.cells[index(nb, "test_double")]
    test.source = "print('all good')\n# " + test.source
    with caplog.at_level(logging.INFO, logger=LOG.name):
        nb = restore(course, nb)
    assert warnings(caplog) == [f"alice {CHANGED_LOCKED_CELL} test_double: the gradebook's version is graded"]
    assert "print('all good')" not in nb.cells[index(nb, "test_double")].source
    assert "assert double(-3) == -6" in nb.cells[index(nb, "test_double")].source


def test_a_changed_locked_markdown_cell_is_logged_too(course, release, caplog):
    nb = solved(release)
    nb.cells[index(nb, "why_question")].source = "Why bother?"
    with caplog.at_level(logging.INFO, logger=LOG.name):
        nb = restore(course, nb)
    assert warnings(caplog) == [
        f"alice {CHANGED_LOCKED_CELL} why_question: the gradebook's version is graded"
    ]
    assert nb.cells[index(nb, "why_question")].source == "Why is doubling linear?"


def test_a_test_cell_marked_as_a_solution_is_graded_as_the_test_it_is(course, release, caplog):
    nb = solved(release)
    meta = nbgrader_meta(nb.cells[index(nb, "test_double")])
    meta.update(solution=True, grade=False, locked=False)
    del meta["points"]
    with caplog.at_level(logging.INFO, logger=LOG.name):
        nb = restore(course, nb)
    meta = nbgrader_meta(nb.cells[index(nb, "test_double")])
    assert (meta["grade"], meta["solution"], meta["locked"], meta["points"]) == (True, False, True, 2.0)
    assert warnings(caplog) == [
        "alice: cell test_double: its nbgrader flags were changed (grade, solution, locked, points); restored"
    ]


def test_a_locked_cell_turned_into_code_is_turned_back_and_logged(course, release, caplog):
    nb = solved(release)
    at = index(nb, "why_question")
    code = new_code_cell(nb.cells[at].source, metadata=nb.cells[at].metadata)
    nb.cells[at] = code
    with caplog.at_level(logging.INFO, logger=LOG.name):
        nb = restore(course, nb)
    assert nb.cells[at].cell_type == "markdown" and nb.cells[at].source == "Why is doubling linear?"
    assert warnings(caplog) == [
        "alice: cell why_question: its cell_type was changed (code instead of markdown); restored"
    ]


def test_points_changed_by_the_student_are_put_back(course, release, caplog):
    nb = solved(release)
    nbgrader_meta(nb.cells[index(nb, "test_half")])["points"] = 100
    with caplog.at_level(logging.INFO, logger=LOG.name):
        nb = restore(course, nb)
    assert nbgrader_meta(nb.cells[index(nb, "test_half")])["points"] == 1.0
    assert warnings(caplog) == ["alice: cell test_half: its nbgrader flags were changed (points); restored"]


# ---------------------------------------------------------------------------------------------
# SaveAutoGrades: nbgrader's, in one transaction


def graded(release) -> nbformat.NotebookNode:
    """The solved notebook as JudgedExecute leaves it: test_double failed, test_half half right."""
    nb = solved(release)
    nb.cells[index(nb, "test_double")].outputs = [
        nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])
    ]
    nb.cells[index(nb, "test_half")].outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1)
    ]
    return nb


def commits_of(work) -> int:
    """How many commits of any SQLAlchemy engine `work()` makes."""
    commits = []

    def count(connection):
        commits.append(connection)

    event.listen(Engine, "commit", count)
    try:
        work()
    finally:
        event.remove(Engine, "commit", count)
    return len(commits)


def saved(course, student: str, step, nb, manual: dict | None = None) -> tuple[dict, dict, int]:
    """What `step` (a SaveAutoGrades) writes for `student`'s new submission `nb` (with `manual`
    scores given before): grade_id -> (auto_score, needs_manual_grade), grade_id -> auto_comment,
    and how many commits it made."""
    with Gradebook(course[0]) as gradebook:
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(ASSIGNMENT, student)
        for grade_id, score in (manual or {}).items():
            gradebook.find_grade(grade_id, NOTEBOOK, ASSIGNMENT, student).manual_score = score
        gradebook.db.commit()
    info = {**resources(course)["nbgrader"], "student": student}
    commits = commits_of(lambda: step(log=LOG).preprocess(copy.deepcopy(nb), {"nbgrader": info}))
    with Gradebook(course[0]) as gradebook:
        stored = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, student)
        grades = {g.name: (g.auto_score, g.needs_manual_grade) for g in stored.grades}
        comments = {c.name: c.auto_comment for c in stored.comments}
    return grades, comments, commits


@pytest.mark.parametrize("manual", [None, {"test_half": 1.0}])
def test_the_scores_saved_are_nbgraders_in_one_commit(course, release, manual):
    nb = graded(release)
    nb.cells[index(nb, "half")].source = release.cells[index(release, "half")].source  # left as released
    theirs = saved(course, f"nbgrader-{bool(manual)}", NbgraderSaveAutoGrades, nb, manual)
    ours = saved(course, f"kit-{bool(manual)}", SaveAutoGrades, nb, manual)
    assert ours[:2] == theirs[:2]
    assert ours[0]["test_double"] == (0.0, False) and ours[0]["why"] == (None, True)
    assert ours[0]["test_half"] == (0.5, manual is not None)  # a manual score: needs a look again
    assert ours[1]["half"] == "No response." and ours[1]["double"] is None
    opening = commits_of(lambda: Gradebook(course[0]).__exit__(None, None, None))  # its own checks
    # nbgrader: one per grade cell's score and per solution cell's comment (why is both)
    assert (ours[2], theirs[2]) == (opening + 1, opening + 6)


def test_scores_are_all_saved_or_none(course, release):
    """A cell the gradebook does not know stops the step (nbgrader's MissingEntry) after the cells
    before it: none of their scores is kept (nbgrader's own would have committed them)."""
    nb = graded(release)
    nb.cells.append(nbgrader_cell("code", "assert True", "not_in_the_gradebook", grade=True, points=1))
    with pytest.raises(MissingEntry):
        saved(course, "broken", SaveAutoGrades, nb)
    with Gradebook(course[0]) as gradebook:
        stored = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, "broken")
        assert {g.name: g.auto_score for g in stored.grades} == dict.fromkeys(
            ["test_double", "why", "test_half"]
        )


# ---------------------------------------------------------------------------------------------
# OutputBudget


class Client(OutputBudget, NotebookClient):
    """The budget on nbclient's own output handling, as JudgedExecute has it."""


def message(msg_type: str, **content) -> dict:
    return {
        "msg_type": msg_type,
        "header": {"msg_type": msg_type},
        "parent_header": {"msg_id": "cell-1"},
        "content": content,
    }


def stream(text: str, name: str = "stdout") -> dict:
    return message("stream", name=name, text=text)


def display(data: dict, display_id: str | None = None, update: bool = False) -> dict:
    transient = {"display_id": display_id} if display_id else {}
    return message(
        "update_display_data" if update else "display_data", data=data, metadata={}, transient=transient
    )


def run(client: Client, *messages: dict, cell_index: int = 0) -> list:
    """The outputs of cell `cell_index` once nbclient has processed `messages` for it."""
    cell = client.nb.cells[cell_index]
    for msg in messages:
        client.process_message(msg, cell, cell_index)
    return cell.outputs


@pytest.fixture
def client() -> Client:
    client = Client(nbformat.v4.new_notebook(cells=[new_code_cell("..."), new_code_cell("...")]))
    client.reset_execution_trackers()  # what nbclient does before it runs a notebook...
    client.clear_before_next_output = False  # ...and before each cell
    client.reset_output_budget()
    return client


def test_a_20_mb_line_is_cut_at_the_budget_with_a_note(client):
    limit = client.max_output_bytes
    assert limit == 100_000
    (out,) = run(client, stream("x" * 20_000_000))
    assert out.output_type == "stream" and out.name == "stdout"
    assert out.text == "x" * limit + NOTE.format(limit=limit)
    assert "100,000 bytes" in out.text


def test_outputs_after_the_budget_is_spent_are_dropped(client):
    image = display({"image/png": "A" * 50_000, "text/plain": "<Figure>"})
    outs = run(client, stream("x" * 20_000_000), stream("more\n"), image, stream("and more\n", "stderr"))
    assert len(outs) == 1 and outs[0].text.endswith(NOTE.format(limit=100_000))


def test_small_outputs_add_up_to_the_budget(client):
    client.max_output_bytes = 1_000
    outs = run(client, *(stream(f"{i:03}" + "." * 296 + "\n") for i in range(10)))
    assert [o.text[:3] for o in outs] == ["000", "001", "002", "003"]
    assert [len(o.text) for o in outs[:3]] == [300, 300, 300]
    assert outs[3].text == "003" + "." * 97 + NOTE.format(limit=1_000)
    assert sum(len(o.text) for o in outs) == 1_000 + len(NOTE.format(limit=1_000))


def test_a_large_image_after_some_text_is_replaced_by_the_note(client):
    client.max_output_bytes = 1_000
    image = display({"image/png": "A" * 5_000})
    outs = run(client, stream("hello\n"), image, stream("bye\n"))
    assert [(o.output_type, o.get("text")) for o in outs] == [
        ("stream", "hello\n"),
        ("stream", NOTE.format(limit=1_000)),
    ]


def test_a_display_that_may_be_updated_keeps_its_place_not_its_content(client):
    client.max_output_bytes = 1_000
    (out,) = run(client, display({"text/html": "<p>" + "x" * 5_000 + "</p>"}, display_id="progress"))
    assert out.output_type == "display_data"
    assert out.data == {"text/plain": REMOVED.format(size=5_007, limit=1_000)}


def test_an_error_past_the_budget_keeps_its_name_with_a_short_message_and_traceback(client):
    client.max_output_bytes = 1_000
    traceback = [f"line {i}: " + "y" * 5_000 for i in range(300)]
    error = message("error", ename="ValueError", evalue="z" * 50_000, traceback=traceback)
    outs = run(client, stream("x" * 2_000), error)
    assert len(outs) == 2
    err = outs[1]
    assert err.output_type == "error" and err.ename == "ValueError"
    assert err.evalue == "z" * ERROR_TEXT
    assert (
        len(err.traceback) == ERROR_LINES and err.traceback[-1] == ("line 299: " + "y" * 5_000)[:ERROR_TEXT]
    )


def test_huge_output_metadata_or_exception_names_are_held_to_the_budget(client):
    """What an adversarial review found: a display's metadata and an exception's name were not
    counted (20 MB each passed whole)."""
    huge = message("display_data", data={"text/plain": "hi"}, metadata={"x": "M" * 20_000_000}, transient={})
    error = message("error", ename="N" * 20_000_000, evalue="boom", traceback=[])
    outs = run(client, huge, error)
    assert len(json.dumps(outs)) < 2 * client.max_output_bytes
    assert outs[-1].output_type == "error" and outs[-1].ename == "N" * ERROR_TEXT


def test_every_cell_has_its_own_budget_and_a_reset_starts_afresh(client):
    client.max_output_bytes = 100
    assert run(client, stream("a" * 150), cell_index=0)[0].text == "a" * 100 + NOTE.format(limit=100)
    assert run(client, stream("b" * 50), cell_index=1)[0].text == "b" * 50
    assert len(run(client, stream("a"), cell_index=0)) == 1  # dropped, and noted once only
    client.reset_output_budget()
    assert [o.text[:1] for o in run(client, stream("a"), cell_index=0)] == ["a", "a"]


def test_no_budget_keeps_everything(client):
    client.max_output_bytes = 0
    assert run(client, stream("x" * 200_000))[0].text == "x" * 200_000


def test_output_cleared_frees_its_share_of_the_budget(client):
    """A live plot: each frame replaces the last (clear_output(wait=True)), only the last is kept."""
    client.max_output_bytes = 1_000
    frame = {"image/png": "A" * 600}
    clear = message("clear_output", wait=True)
    outs = run(client, *[m for _ in range(20) for m in (clear, display(frame))], stream("done\n"))
    assert [o.output_type for o in outs] == ["display_data", "stream"]
    assert outs[0].data == frame and outs[1].text == "done\n"
    outs = run(client, message("clear_output", wait=False), stream("x" * 900), cell_index=1)
    outs = run(client, message("clear_output", wait=False), stream("y" * 900), cell_index=1)
    assert [o.text for o in outs] == ["y" * 900]


def test_a_display_updated_by_its_id_is_held_to_the_budget(client):
    client.max_output_bytes = 1_000
    outs = run(client, stream("x" * 300), display({"text/plain": "0%"}, display_id="bar"))
    run(client, display({"text/plain": "50%"}, display_id="bar", update=True))
    assert outs[1].data == {"text/plain": "50%"}  # small updates are applied
    run(client, display({"text/plain": "y" * 20_000_000}, display_id="bar", update=True))
    assert outs[1].data == {"text/plain": REMOVED.format(size=20_000_000, limit=1_000)}
    outs = run(client, stream("more\n"))  # the budget is spent
    assert [o.get("text") for o in outs] == ["x" * 300, None, NOTE.format(limit=1_000)]


def test_an_update_from_a_later_cell_counts_against_the_cell_that_shows_the_display(client):
    client.max_output_bytes = 1_000
    shown = run(client, stream("x" * 900), display({"text/plain": "-"}, display_id="d"))
    run(client, display({"text/plain": "z" * 500}, display_id="d", update=True), cell_index=1)
    assert shown[1].data["text/plain"].startswith("[an output of 500 bytes was removed")


# -- CheckCellMetadata: nbgrader's checks, its schema built once --------------------------------

METADATA_KEYS = ["grade", "solution", "locked", "points", "grade_id", "schema_version", "task", "cell_type"]
METADATA_KEYS += ["checksum", "an_extra_key"]
METADATA_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.floats(allow_nan=False), st.text(max_size=5)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.lists(
        st.tuples(
            st.integers(0, 20),
            st.sampled_from(METADATA_KEYS),
            st.one_of(st.just("delete"), METADATA_VALUES),
        ),
        max_size=3,
    )
)
def test_the_metadata_check_says_what_nbgraders_says(changes):
    """Any nbgrader metadata a student's editor may leave (values of any type, keys removed or
    added, the schema version changed) is accepted or refused exactly as by nbgrader's
    CheckCellMetadata, with the same error."""
    from nbgrader.preprocessors import CheckCellMetadata as NbgradersCheck

    from gradekit.course.notebooks import COURSE_ROOT
    from gradekit.grading.sanitize import CheckCellMetadata

    nb = nbformat.read(COURSE_ROOT / "release" / "mini_auto_grad" / "mini_auto_grad.ipynb", as_version=4)
    graded = [cell for cell in nb.cells if "nbgrader" in cell.metadata]
    for index, key, value in changes:
        meta = graded[index % len(graded)].metadata.nbgrader
        if value == "delete":
            meta.pop(key, None)
        else:
            meta[key] = value

    def verdict(step):
        try:
            step().preprocess(copy.deepcopy(nb), {})
        except Exception as exc:
            return type(exc), str(exc)
        return None

    assert verdict(CheckCellMetadata) == verdict(NbgradersCheck)
