"""The kit is a kit: a second, small course, about polynomials, with the same kit code and no
course constants. Its one assignment `ps1` has two notebooks (`evaluate.ipynb`: Horner's rule and
the derivative; `roots.ipynb`: a square root by bisection), its own course id and exercises, and goes through
nbgrader's release, the kit's intake and sandboxed autograding with per-check credit and error
carried forward, feedback and the per-exercise export.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gradekit.course import Course
from gradekit.course.notebooks import COURSE_ROOT, FRAMEWORK, read
from simulation.recipes import code_cell
from simulation.submissions import fill, solution_regions
from tests.conftest import nbgrader

pytestmark = pytest.mark.course

HORNER = '''def horner(coeffs, x):
    """Exercise 1: the polynomial coeffs[0] + coeffs[1] x + coeffs[2] x**2 + ... at x."""
    ### BEGIN SOLUTION
    total = 0.0
    for c in reversed(coeffs):
        total = total * x + c
    return total
    ### END SOLUTION
'''

HORNER_TEST = """# Test (2 points): Horner's rule.
@check(1, expect=17.0, tests="horner", hint="1 + 2x + 3x**2 at x = 2 is 17")
def at_two():
    return horner([1.0, 2.0, 3.0], 2.0)


### BEGIN HIDDEN TESTS
@check(1, expect=-1.0, tests="horner", hint="coeffs[0] is the constant term")
def at_minus_one():
    return horner([1.0, 2.0, 0.0], -1.0)
### END HIDDEN TESTS


report("ex1_horner")
"""

DERIVATIVE = '''def derivative(coeffs):
    """Exercise 2: the coefficients of the derivative: [c1, 2 c2, 3 c3, ...]."""
    ### BEGIN SOLUTION
    return [i * c for i, c in enumerate(coeffs)][1:]
    ### END SOLUTION
'''

DERIVATIVE_TEST = """# Test (2 points): the derivative, and its slope through your horner.
@check(1, expect=[2.0, 6.0], tests="derivative", hint="d(c x**i)/dx = i c x**(i-1)")
def coefficients():
    return derivative([1.0, 2.0, 3.0])


### BEGIN HIDDEN TESTS
@check(1, expect=14.0, tests="derivative", hint="the slope of 1 + 2x + 3x**2 at x = 2 is 14")
def slope_at_two():
    return horner(derivative([1.0, 2.0, 3.0]), 2.0)
### END HIDDEN TESTS


report("ex2_derivative")
"""

BISECT = '''def square_root(a, steps=60):
    """Exercise 3: the square root of a >= 0, by bisection on [0, max(1, a)]."""
    ### BEGIN SOLUTION
    lo, hi = 0.0, max(1.0, a)
    for _ in range(steps):
        mid = (lo + hi) / 2
        if mid * mid < a:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
    ### END SOLUTION
'''

# (a check gives the student's code plain data and the student's own objects only: no function)
BISECT_TEST = """# Test (1 point): bisection.
@check(1, expect=2**0.5, tests="square_root", hint="halve the interval that holds the root", tol=1e-9)
def root_of_two():
    return square_root(2.0)


report("ex3_bisect")
"""


def notebook(title: str, *cells) -> nbformat.NotebookNode:
    """A source notebook: the checks framework (locked), a title, then `cells`."""
    framework = code_cell(FRAMEWORK.read_text(encoding="utf-8").rstrip("\n"), "checks", None)
    framework.metadata["nbgrader"].update(solution=False, locked=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [framework, nbformat.v4.new_markdown_cell(f"# {title}"), *cells]
    return nb


def make_course(root: Path) -> Path:
    """The polynomials course: the kit's nbgrader_config.py with its own course id, and ps1."""
    config = (COURSE_ROOT / "nbgrader_config.py").read_text()
    config, found = re.subn(r'course_id = "[^"]*"', 'course_id = "polynomials"', config)
    assert found == 1
    (root / "nbgrader_config.py").write_text(config)
    source = root / "source" / "ps1"
    source.mkdir(parents=True)
    evaluate = notebook(
        "Evaluating polynomials",
        code_cell(HORNER, "horner_cell"),
        code_cell(HORNER_TEST, "ex1_horner", 2),
        code_cell(DERIVATIVE, "derivative_cell"),
        code_cell(DERIVATIVE_TEST, "ex2_derivative", 2),
    )
    roots = notebook("Roots", code_cell(BISECT, "bisect_cell"), code_cell(BISECT_TEST, "ex3_bisect", 1))
    nbformat.write(evaluate, str(source / "evaluate.ipynb"))
    nbformat.write(roots, str(source / "roots.ipynb"))
    nbgrader(root, "generate_assignment", "ps1", "--force")
    return root


def hand_in(root: Path, student: str, notebooks: dict[str, nbformat.NotebookNode]) -> None:
    folder = root / "submitted" / student / "ps1"
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, str(folder / name))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    root = make_course(tmp_path_factory.mktemp("polynomials"))
    release = {n: read(root / "release" / "ps1" / n) for n in ("evaluate.ipynb", "roots.ipynb")}
    answers = {n: solution_regions(read(root / "source" / "ps1" / n)) for n in release}
    solved = {n: fill(release[n], answers[n]) for n in release}
    wrong_horner = {c: list(v) for c, v in answers["evaluate.ipynb"].items()}
    wrong_horner["horner_cell"] = [wrong_horner["horner_cell"][0].replace("reversed(coeffs)", "coeffs")]
    hand_in(root, "alice", solved)  # the reference: full marks
    hand_in(root, "bob", {**solved, "evaluate.ipynb": fill(release["evaluate.ipynb"], wrong_horner)})
    hand_in(root, "carol", release)  # the release as handed out
    hand_in(root, "dave", {"evaluate.ipynb": solved["evaluate.ipynb"]})  # roots.ipynb never handed in
    result = subprocess.run(
        [sys.executable, "-m", "gradekit", "grade", "--course", str(root), "--shards", "2"],
        capture_output=True,
        text=True,
        cwd=COURSE_ROOT,
        env=dict(os.environ, NBGRADER_CELL_TIMEOUT="10"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    nbgrader(root, "generate_feedback", "ps1", "--force")
    return root


def test_the_course_model_reads_the_second_course(graded):
    course = Course.load(graded)
    assert (course.assignment, course.course_id) == ("ps1", "polynomials")


def test_per_exercise_scores_with_partial_credit_and_error_carried_forward(graded, tmp_path):
    target = tmp_path / "grades.csv"
    exporter = "gradekit.export.grades.ExerciseCsvExport"
    nbgrader(graded, "export", "--exporter", exporter, "--to", str(target))
    with target.open(newline="") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    scores = {s: tuple(float(r[ex]) for ex in ("ex1", "ex2", "ex3")) for s, r in rows.items()}
    assert scores == {
        "alice": (2, 2, 1),
        # horner reads the coefficients backwards: at_two fails (at_minus_one gives -1 either way);
        # the slope check through horner is about derivative: it passes by error carried forward
        "bob": (1, 2, 1),
        "carol": (0, 0, 0),
        "dave": (2, 2, 0),  # roots.ipynb not handed in: its cells score 0, the rest is graded
    }
    assert {r["max"] for r in rows.values()} == {"5.0"}


def test_feedback_names_the_failed_hidden_check_with_its_hint_and_no_hidden_code(graded):
    page = (graded / "feedback" / "bob" / "ps1" / "evaluate.html").read_text()
    assert "at_two" in page and "1 + 2x + 3x**2 at x = 2 is 17" in page
    assert "slope_at_two" in page and "error carried forward" in page
    assert "horner(derivative([1.0, 2.0, 3.0]), 2.0)" not in page  # a hidden check's code
    assert "reversed(coeffs)" not in page  # the solution
