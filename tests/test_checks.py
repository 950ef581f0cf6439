"""The checks framework (gradekit.checks) and how the grader reads test cells (gradekit.checks.probes):
verdicts, every check running, the notebook's messages, what a kernel runs in a test cell's place
(no check, no expected value), and the source notebook's test cells as the grader will read them."""

from __future__ import annotations

import ast
import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradekit import checks
from gradekit.checks import carry_forward, framework, probes
from gradekit.course.notebooks import grade_cells, nbgrader_meta, read
from simulation.course import SOURCE_NOTEBOOK
from simulation.reference import solution_code

pytestmark = pytest.mark.course

# -- comparing plain data ----------------------------------------------------------------------------

plain_data = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@given(plain_data)
def test_plain_data_equals_itself_after_its_trip_to_the_grader(value):
    travelled = json.loads(json.dumps(checks.plain(value)))
    assert checks.differences(value, travelled) == []


@pytest.mark.parametrize(
    ("expected", "got", "where"),
    [
        (1.0, 1.0 + 1e-6, "expected 1.0, got 1.000001"),
        (0.0, 1e-11, "expected 0.0"),
        (True, 1, "expected True, got 1"),  # a bool is not a number here
        (1.0, True, "expected 1.0, got True"),
        (["a", "b"], ["b", "a"], "[0]: expected 'a', got 'b'"),
        ({"x": 1.0, "y": -1.0}, {"x": 1.0, "y": 1.0}, "y: expected -1.0, got 1.0"),
        ({"x": 1.0}, {"x": 1.0, "z": 2.0}, "expected {'x': 1.0}"),
        ("+", None, "expected '+', got None"),
        ([1.0, 2.0], [1.0], "expected [1.0, 2.0], got [1.0]"),
    ],
)
def test_differences_say_where_and_what(expected, got, where):
    found = checks.differences(expected, got)
    assert found and where in found[0], found


def test_numbers_match_within_the_relative_tolerance_and_nan_matches_nan():
    assert checks.differences(1e300, 1e300 * (1 + 1e-12)) == []
    assert checks.differences(12.0, 12.000000000000002) == []
    assert checks.differences(math.nan, math.nan) == []
    assert checks.differences([1.0, (2.0, 3.0)], [1.0, [2.0, 3.0]]) == []  # tuples travel as lists
    assert checks.differences(1.0, 1.1, tol=0.2) == []


def test_plain_caps_sizes_and_describes_objects():
    class Thing:
        def __repr__(self):
            return "Thing" * 100

    assert checks.plain(Thing()) == {"object": "Thing", "repr": ("Thing" * 100)[:79] + "…"}
    assert len(checks.plain(list(range(10_000)))) == checks.LIMITS["items"]
    assert len(checks.plain("x" * 10_000)) == checks.LIMITS["string"]
    assert checks.plain(2**80)["object"] == "int"
    assert checks.plain((1, [2, {"a": (3,)}])) == [1, [2, {"a": [3]}]]
    assert checks.plain({1: 2})["object"] == "dict"  # keys must be strings


def item(expect, points=1.0, probe=lambda: None, **kw):
    return checks.Check(kw.pop("name", "c"), points, probe, expect, kw.pop("hint", "h"), (), 1e-9, None)


def test_verdicts_of_errors_and_of_judging_functions():
    assert checks.verdict(item(1.0), {"error": {"type": "NotImplementedError"}}).problem.startswith(
        "not written yet"
    )
    timeout = checks.verdict(item(1.0), {"error": {"type": "Timeout", "message": "still running after 2 s"}})
    assert timeout.problem == "took too long (still running after 2 s)"
    raised = checks.verdict(item(1.0), {"error": {"type": "TypeError", "message": "bad operand"}})
    assert (raised.problem, raised.score) == ("raised TypeError: bad operand", 0.0)
    judged = item(lambda got: None if got > 0 else f"expected a positive number, got {got}")
    assert checks.verdict(judged, {"value": 3}).passed
    assert checks.verdict(judged, {"value": -3}).problem == "expected a positive number, got -3"
    unreadable = checks.verdict(judged, {"value": "text"})  # the judge raised: the check fails
    assert "not what this check can read" in unreadable.problem
    passed = checks.verdict(item(2.0, points=0.25), {"value": 2.0})
    assert (passed.passed, passed.score, passed.problem) == (True, 0.25, "")


# -- the notebook: every check runs, every failure is listed ---------------------------------------


def test_in_the_notebook_every_check_runs_and_the_report_lists_every_failure(capsys):
    ran = []

    @checks.check(0.5, expect=1.0, hint="first hint")
    def first():
        ran.append("first")
        raise ValueError("boom")

    @checks.check(0.25, expect=2.0, hint="second hint")
    def second():
        ran.append("second")
        return 3.0

    checks.check(0.25, lambda: ran.append("third") or "ok", expect="ok", name="third")
    with pytest.raises(AssertionError) as failure:
        checks.report("cell")
    assert ran == ["first", "second", "third"]
    message = str(failure.value)
    assert message.startswith("2 of 3 checks failed")
    assert "first (0/0.5): raised ValueError: boom. Hint: first hint" in message
    assert "second (0/0.25): expected 2.0, got 3.0. Hint: second hint" in message
    printed = capsys.readouterr().out
    assert "cell: 1 of 3 checks passed, 0.25 of 1 points" in printed
    assert "✓ third (0.25/0.25)" in printed
    checks.check(1, lambda: 1, expect=1, name="again")
    checks.report("next")  # a new cell starts with no checks of the previous one
    assert "next: 1 of 1 checks passed" in capsys.readouterr().out


def test_a_check_never_stops_the_kernel():
    import sys

    outcome = checks.observe(item(None, probe=lambda: sys.exit(3)))
    assert outcome["error"]["type"] == "SystemExit"
    with pytest.raises(KeyboardInterrupt):  # a cell timeout still interrupts
        checks.observe(item(None, probe=lambda: (_ for _ in ()).throw(KeyboardInterrupt())))


# -- test cells: the grader's checks, and what the kernel runs in their place --------------------------

CELL = """\
import math

HINT = "a public hint"


@check(0.5, expect={"data": math.tanh(0.5), "op": "tanh"}, tests="Value.tanh", hint=HINT)
def visible():
    return 1


### BEGIN HIDDEN TESTS
@check(0.25, expect=[1.0, -1.0] * 3, tests="Value.tanh", hint="secret inputs, public hint")
def hidden_one():
    return [1.0, -1.0] * 3


check(0.25, lambda: "é", expect="ÉÉ-expected-é", name="hidden_two", hint="unicode survives")
### END HIDDEN TESTS


report("ex9_cell")
"""


def test_test_cells_are_read_as_checks_with_their_hidden_part():
    cell = probes.TestCell.parse("ex9_cell", CELL)
    assert [(s.name, s.hidden) for s in cell.sites] == [
        ("visible", False),
        ("hidden_one", True),
        ("hidden_two", True),
    ]
    specs = cell.specs()
    assert [s.name for s in specs] == ["visible", "hidden_one", "hidden_two"]
    assert specs[0].expect == {"data": math.tanh(0.5), "op": "tanh"}
    assert specs[1].tests == ("Value.tanh",)
    assert sum(s.points for s in specs) == 1.0
    assert "hidden_one" not in cell.visible_source and "report(" in cell.visible_source


def test_the_kernel_runs_a_test_cells_helpers_and_no_check_and_no_expected_value():
    cell = probes.TestCell.parse("ex9_cell", CELL)
    code = cell.shadow_code()
    compile(code, "shadow", "exec")
    assert "import math" in code and "HINT = 'a public hint'" in code  # later cells may use them
    for secret in ("math.tanh(0.5)", "[1.0, -1.0] * 3", "ÉÉ-expected-é", "tanh", "expect", "check", "report"):
        assert secret not in code
    assert "hidden" not in code and "visible" not in code  # not even a check's name


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("def helper():\n    pass\n\nreport('x')\n", None),
        (
            "### BEGIN HIDDEN TESTS\nSECRET = 3\n### END HIDDEN TESTS\nreport('x')\n",
            "only checks may be hidden",
        ),
        (
            "@check(1, expect=1)\ndef a():\n    return 1\n\n@check(1, expect=1)\ndef a():\n    return 1\n"
            "report('x')\n",
            "share a name",
        ),
        ("check(1, lambda: 1, expect=1)\nreport('x')\n", "needs name="),
        ("@check(1, expect=1)\ndef a():\n    return 1\n", "must end with report('x')"),
        ("def broken(:\n", "invalid syntax"),
    ],
)
def test_cells_the_grader_cannot_use_are_refused_with_a_reason(source, error):
    if error is None:
        probes.TestCell.parse("x", source)
    else:
        with pytest.raises(probes.TestCellError, match=re.escape(error)):
            probes.TestCell.parse("x", source)


# -- the course's own test cells -----------------------------------------------------------------------


def source_test_cells():
    nb = read(SOURCE_NOTEBOOK)
    return [
        probes.TestCell.parse(nbgrader_meta(c)["grade_id"], c.source)
        for c in nb.cells
        if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")
    ]


def test_every_test_cell_is_checks_whose_points_add_up_to_the_cell():
    points = grade_cells(read(SOURCE_NOTEBOOK))
    cells = source_test_cells()
    assert [c.grade_id for c in cells] == list(points)
    for cell in cells:
        specs = cell.specs()
        assert math.isclose(sum(s.points for s in specs), points[cell.grade_id]), cell.grade_id
        assert all(s.points > 0 and s.hint for s in specs), cell.grade_id
        assert cell.hidden_names, f"{cell.grade_id} has no hidden checks"
        assert [s.name for s in specs] == [site.name for site in cell.sites]


def test_every_check_tests_pieces_the_reference_defines():
    pieces = carry_forward.pieces_of(carry_forward.parse_cells([solution_code()]))
    for cell in source_test_cells():
        for spec in cell.specs():
            assert spec.tests, f"{cell.grade_id}/{spec.name} names no piece"
            unknown = set(spec.tests) - pieces
            assert not unknown, f"{cell.grade_id}/{spec.name}: no such piece {unknown}"


def test_no_check_and_no_expected_value_of_the_course_reaches_a_kernel():
    for cell in source_test_cells():
        code = cell.shadow_code()
        tree = ast.parse(code)
        assert not any(isinstance(n, ast.keyword) and n.arg == "expect" for n in ast.walk(tree)), (
            cell.grade_id
        )
        called = {
            n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert not called & {"check", "report"}, cell.grade_id
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert not defined & {site.name for site in cell.sites}, cell.grade_id


def test_the_notebook_carries_an_exact_copy_of_the_checks_framework():
    nb = read(SOURCE_NOTEBOOK)
    copies = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "check_helpers"]
    assert len(copies) == 1, "one locked cell 'check_helpers' holds gradekit/checks/framework.py"
    copy = copies[0]
    assert nbgrader_meta(copy).get("locked") and not nbgrader_meta(copy).get("grade")
    with open(framework.__file__, encoding="utf-8") as fh:
        assert copy.source == fh.read().rstrip("\n"), (
            "the notebook's copy of gradekit/checks/framework.py drifted: run ./kit demo (it copies it)"
            " and commit"
        )
    first_test = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade"))
    assert nb.cells.index(copy) < first_test


# -- what the grader does with what a kernel said ----------------------------------------------------


def test_a_kernel_may_answer_a_cells_checks_for_the_sum_of_their_limits():
    from traitlets.config import Config

    from gradekit.grading.judge import JudgedExecute, Role
    from gradekit.grading.plan import Plan

    cell = probes.TestCell.parse(
        "ex9_cell",
        "@check(1, expect=1)\ndef a():\n    return 1\n\n@check(1, expect=1, limit=20)\ndef b():\n"
        "    return 1\n\nreport('ex9_cell')\n",
    )
    other = probes.TestCell.parse(
        "ex9_other", "@check(1, expect=1, limit=3)\ndef c():\n    return 1\n\nreport('ex9_other')\n"
    )
    execute = JudgedExecute(config=Config(), probe_limit=10.0, timeout=5)
    cells = {"ex9_cell": cell, "ex9_other": other}
    execute._plan = Plan(cells, {g: c.specs() for g, c in cells.items()}, dict.fromkeys(cells, 2.0), None, [])
    assert execute.checks_timeout(Role("checks", 3, (("ex9_cell", ("a", "b")),))) == 10 + 2 + 20 + 2 + 30
    assert execute.checks_timeout(Role("checks", 3, (("ex9_cell", ("b",)),))) == 20 + 2 + 30  # not the 5 s
    # the hidden checks of every test cell answer in one cell: the sum over the cells
    both = Role("checks", -1, (("ex9_cell", ("b",)), ("ex9_other", ("c",))))
    assert execute.checks_timeout(both) == 20 + 2 + 3 + 2 + 30


def test_only_what_the_students_process_said_is_censored():
    from gradekit.grading.plan import Plan

    plan = Plan(
        {}, {}, {}, None, [], frozenset({"secret_hidden_co", "ecret_hidden_cod"}), ("random.seed(7)",)
    )  # 16-character grams of the long hidden lines, and the short lines whole
    quoting = {"error": {"type": "RuntimeError", "message": "look: secret_hidden_code!"}}
    assert plan.censor(quoting)["error"]["message"] == "a message that quotes the hidden checks (not shown)"
    value = {"value": {"op": "xx secret_hidden_co", "n": [1, "fine"]}}
    assert plan.censor(value) == {
        "value": {"op": "a message that quotes the hidden checks (not shown)", "n": [1, "fine"]}
    }
    short = {"error": {"type": "ValueError", "message": "after random.seed(7) it broke"}}
    assert plan.censor(short)["error"]["message"] == "after [hidden test line removed] it broke"
    # the author's message is judged after censoring: it keeps what the author wrote
    author = item(lambda got: "the author says secret_hidden_code after random.seed(7)")
    assert (
        checks.verdict(author, plan.censor({"value": 1})).problem
        == "the author says secret_hidden_code after random.seed(7)"
    )


def test_feedback_redaction_leaves_the_judges_verdicts_alone_and_nothing_else():
    import nbformat

    from gradekit.grading.feedback import REDACTED, RedactHiddenTests

    def cell(grade, gradekit):
        out = nbformat.v4.new_code_cell("pass")
        out.metadata["nbgrader"] = {"grade": grade, "solution": False, "grade_id": "c"}
        if gradekit:
            out.metadata["gradekit"] = {"score": 0}
        out.outputs = [nbformat.v4.new_output("stream", text="after random.seed(1), it broke")]
        return out

    redact = RedactHiddenTests()
    redact.hidden_lines = ["random.seed(1)"]
    verdicts, student, forged = cell(True, True), cell(False, False), cell(False, True)
    for each in (verdicts, student, forged):
        redact.preprocess_cell(each, {}, 0)
    assert verdicts.outputs[0].text == "after random.seed(1), it broke"  # the grader wrote it
    assert student.outputs[0].text == forged.outputs[0].text == f"after {REDACTED}, it broke"


def test_expectations_are_stripped_whatever_the_line_endings_and_nesting():
    tricky = (
        'HINT = "a line separator \u2028 in a string"\n'
        "# a form feed \x0c in a comment\r\n"
        'check(1, lambda: 1, expect={"k": [1,\n  2]}, name="a")\r'
        'check(1, lambda: 1, expect=[check(0, lambda: 2, expect=777777, name="in"), 5555], name="b")\n'
    )
    stripped = probes.strip_expectations(tricky)
    ast.parse(stripped)
    assert "777777" not in stripped and "5555" not in stripped and '"k"' not in stripped
    assert stripped.count("expect=None") == 2


def test_ordinary_nbgrader_test_cells_are_left_alone():
    assert probes.is_checks(CELL)
    assert probes.is_checks("check(1, lambda: 1, expect=1, name='a')\nreport('x')\n")
    assert not probes.is_checks("assert f(2) == 4  # report(...) in a comment\n")
    assert not probes.is_checks("def report(x):\n    pass\n")


def test_an_expectation_that_is_not_plain_data_fails_the_check_not_the_grader():
    assert checks.verdict(item({1, 2}), {"value": [1, 2]}).problem.startswith("this check cannot judge")


def test_an_interrupted_check_leaves_the_next_report_working(capsys):
    with pytest.raises(KeyboardInterrupt):
        checks.check(1, lambda: (_ for _ in ()).throw(KeyboardInterrupt()), expect=1, name="stopped")
    checks.check(1, lambda: 1, expect=1, name="fine")
    checks.report("cell")
    assert "cell: 1 of 1 checks passed" in capsys.readouterr().out


def test_a_number_too_large_for_a_float_is_no_match_and_no_crash():
    assert checks.differences(1.0, 10**400) == [f"expected 1.0, got {checks.show(10**400)}"]
    assert not checks.verdict(item(1.0), {"value": 10**400}).passed


def test_a_hidden_check_shows_less_of_what_the_students_code_said():
    """A submission can watch hidden checks run: what it says back through them is kept short."""
    mine = {"error": {"type": "Leak", "message": "@purpx(0.125, rkcrpg=Abar, grfgf=Arheba, uvag=qenj"}}
    assert checks.verdict(item(1.0), mine, hidden=True).problem == "raised an exception of its own"
    assert "purpx" in checks.verdict(item(1.0), mine).problem  # visible: the student's own business
    python = {"error": {"type": "AttributeError", "message": "'Neuron' object has no attribute 'bias'" * 3}}
    shown = checks.verdict(item(1.0), python, hidden=True).problem
    assert (
        shown.startswith("raised AttributeError: 'Neuron' object has no attribute 'bias'") and len(shown) < 90
    )
    long_value = checks.verdict(item("+"), {"value": "x" * 200}, hidden=True).problem
    assert long_value == f"expected '+', got {checks.show('x' * 200, 30)}"
    grader = {"error": {"type": "NoResult", "message": "no result: " + "because " * 20, "origin": "grader"}}
    assert checks.verdict(item(1.0), grader, hidden=True).problem == grader["error"]["message"].strip()


@pytest.mark.parametrize(
    "environment",
    [{}, {"NBGRADER_CELL_TIMEOUT": "10"}, {"NBGRADER_CELL_TIMEOUT": "8", "NBGRADER_CHECK_LIMIT": "5"}],
    ids=["nbgrader_config.py", "./kit demo", "the cohort test"],
)
def test_no_shipped_config_stops_a_check_before_its_limit(environment, monkeypatch):
    """In every configuration the kit ships (the course's, the demo's and the cohort test's
    environment), each check of the source notebook gets its whole limit and the grace after it
    before anything stops the cell it runs in, however short the cell timeout of student cells."""
    from traitlets.config.loader import PyFileConfigLoader

    from gradekit.channel import GRACE
    from gradekit.course.notebooks import COURSE_ROOT
    from gradekit.grading.judge import JudgedExecute, Role
    from gradekit.grading.plan import Plan

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    execute = JudgedExecute(config=config)
    cells = {cell.grade_id: cell for cell in source_test_cells()}
    execute._plan = Plan(cells, {g: c.specs() for g, c in cells.items()}, {}, None, [])
    assert execute.probe_limit > 0
    for grade_id, cell in cells.items():
        every = tuple(site.name for site in cell.sites)
        for spec in execute._plan.specs[grade_id]:
            limit = spec.limit or execute.probe_limit
            for names in (every, (spec.name,)):
                role = Role("checks", 0, ((grade_id, names),))
                assert limit + GRACE < execute.checks_timeout(role), f"{grade_id}/{spec.name}"
