"""Grades instructors can trust: a simulated cohort (simulation.cohort), graded by nbgrader in one
`autograde` run, must end with exactly the checks written down for every student (which failed,
which passed only by error carried forward) and the per-exercise scores that follow; the export,
the feedback and the grade report must agree with them; and a second run under another hash seed
must give every check of every case that is not adversarial the same result.

The cell timeout is lowered to CELL_TIMEOUT seconds for these runs (NBGRADER_CELL_TIMEOUT, 30 s by
default): the cohort has students whose code never ends. The slowest cell of the reference,
ex3_train_xor, needs ~0.5 s on an idle 2-core machine and ~2 s with a load average of 5.
"""

from __future__ import annotations

import base64
import csv
import html
import os
import re
import shutil
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, MissingEntry

from gradekit.course.notebooks import exercise_of, nbgrader_meta, read, secret_lines
from gradekit.export.grades import StudentGrades, collect
from simulation import cohort
from simulation.course import ASSIGNMENT, NOTEBOOK
from tests.conftest import hand_in

pytestmark = pytest.mark.course

CELL_TIMEOUT = 8
CHECK_LIMIT = 5  # seconds per check (NBGRADER_CHECK_LIMIT; 10 by default): one case hangs in a check
HASH_SEEDS = ("1", "2")  # the two runs; each student's kernel inherits it (Sandbox.pass_env)
FORKED = "Kernels are forked from a warm parent"  # what autograde's log says when they are


def nbgrader_command(course: Path, *args: str, **env: str) -> subprocess.Popen:
    """nbgrader in `course` with this environment's bin/ first on PATH, output captured."""
    bin_dir = Path(sys.executable).parent
    full_env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **env)
    return subprocess.Popen(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=full_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def run_nbgrader(course: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    process = nbgrader_command(course, *args, **env)
    out, _ = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, out, "")


@dataclass
class Graded:
    course: Path
    kit: cohort.Kit
    cases: dict[str, cohort.Case]
    log: str
    returncode: int
    feedback: subprocess.CompletedProcess | None
    grades: dict[str, StudentGrades]
    never_scored: set[str]  # students with a submission row but no score at all
    seconds: float
    _expected: dict = field(default_factory=dict)

    def expect(self, student: str) -> cohort.Expected:
        """What the catalog says `student` must get in this course."""
        if student not in self._expected:
            self._expected[student] = self.cases[student].expect(self.kit)
        return self._expected[student]

    def notebook(self, folder: str, student: str) -> Path:
        return self.course / folder / student / ASSIGNMENT / NOTEBOOK

    def scores(self, student: str) -> dict[str, float]:
        return {ex: self.grades[student].exercise(ex) for ex in self.kit.exercise_names}

    def checks(self, student: str) -> dict[str, dict]:
        """ "grade_id/check" -> the result the grader wrote into the autograded notebook."""
        path = self.notebook("autograded", student)
        if not path.exists():
            return {}
        return {
            f"{r['cell']}/{r['name']}": r
            for cell in read(path).cells
            for r in cell.metadata.get("gradekit", {}).get("checks", [])
        }


def grade_everyone(root: Path, hash_seed: str, *options: str) -> subprocess.Popen:
    return nbgrader_command(
        root,
        "autograde",
        ASSIGNMENT,
        "--force",
        *options,
        NBGRADER_CELL_TIMEOUT=str(CELL_TIMEOUT),
        NBGRADER_CHECK_LIMIT=str(CHECK_LIMIT),
        PYTHONHASHSEED=hash_seed,
    )


def gather(root: Path, kit, cases, process: subprocess.Popen, start: float, feedback: bool) -> Graded:
    log, _ = process.communicate()
    seconds = time.perf_counter() - start
    feedback_run = run_nbgrader(root, "generate_feedback", ASSIGNMENT, "--force") if feedback else None
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        grades = {g.student: g for g in collect(gradebook, ASSIGNMENT)}
        never_scored = set()
        for student in grades:
            try:
                submission = gradebook.find_submission(ASSIGNMENT, student)
            except MissingEntry:
                continue
            if all(g.auto_score is None for nb in submission.notebooks for g in nb.grades):
                never_scored.add(student)
    return Graded(
        root,
        kit,
        {c.student: c for c in cases},
        log,
        process.returncode,
        feedback_run,
        grades,
        never_scored,
        seconds,
    )


@pytest.fixture(scope="module")
def runs(course, tmp_path_factory) -> tuple[Graded, Graded]:
    """The whole cohort handed in to a private copy of the course and graded with ONE autograde
    command under one hash seed, each kernel forked from a warm parent (the kit's default); at the
    same time, in a second copy, the whole cohort again under another hash seed with cold kernels
    (c.Sandbox.fork_kernels = False): a student's result must depend neither on how the kernel
    started nor on the hash seed it got."""
    roots = [
        Path(shutil.copytree(course, tmp_path_factory.mktemp(f"cohort{s}") / "course")) for s in HASH_SEEDS
    ]
    kit = cohort.Kit.load(roots[0])
    cases = cohort.catalog()
    submissions = cohort.build(cases, kit)
    for root in roots:
        hand_in(root, submissions)
    start = time.perf_counter()
    processes = [
        grade_everyone(roots[0], HASH_SEEDS[0]),
        grade_everyone(roots[1], HASH_SEEDS[1], "--Sandbox.fork_kernels=False"),
    ]
    first = gather(roots[0], kit, cases, processes[0], start, feedback=True)
    second = gather(roots[1], kit, cases, processes[1], start, feedback=False)
    return first, second


@pytest.fixture(scope="module")
def graded(runs) -> Graded:
    return runs[0]


def visible_text(page: str) -> str:
    """The text a student reads in an HTML page: tags stripped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def squash(text: str) -> str:
    return " ".join(text.split())


# -- the catalog itself ----------------------------------------------------------------------------


def test_catalog_covers_the_issue():
    cases = cohort.catalog(include_unavailable=True)
    checks = cohort.source_checks()
    assert len(cases) >= 55
    assert len({c.student for c in cases}) == len(cases), "student ids must be unique"
    for case in cases:
        expect = case.expect()  # every named check exists, and can do what the case says of it
        assert not ((expect.fails or case.carried) and case.rejected), f"{case.student}: graded or rejected"
        assert not (set(expect.fails) & case.carried), f"{case.student}: fails or is carried?"
    kinds = {c.student.split("_", 1)[0] for c in cases}
    assert kinds == {"ok", "part", "bug", "adv"}
    assert checks, "the source notebook has checks"
    students = {c.student for c in cases}
    for wanted in (  # the cases the issue names
        "ok_recursive_comprehension",
        "bug_radd_recursion",
        "bug_power_via_log",
        "bug_eq_without_hash",
        "bug_children_set",
        "bug_tanh_overflow",
        "bug_loss_summed",
        "adv_abs_patched",
        "adv_try_everything",
        "adv_patched_checks",
        "adv_os_exit_in_one_place",
        "adv_read_everything",
    ):
        assert wanted in students, wanted


def test_a_single_mistake_costs_only_the_checks_of_its_piece_in_its_own_exercise():
    """What the catalog promises (the graded run then holds the kit to it): a `bug_` case, one
    mistake, fails only checks of one exercise, and a one-piece mistake only checks about that
    piece; the other exercises keep full marks."""
    checks = cohort.source_checks()
    full_marks = cohort.default_kit().full_marks()
    for case in cohort.catalog(include_unavailable=True):
        if not case.student.startswith("bug_"):
            continue
        expect = case.expect()
        assert case.pieces and not expect.unwritten, f"{case.student}: one mistake, in pieces it names"
        exercises = {exercise_of(c) for c in expect.fails}
        assert len(exercises) == 1, f"{case.student} costs points in {sorted(exercises)}"
        full = [ex for ex in expect.scores if ex not in exercises]
        assert all(expect.scores[ex] == full_marks[ex] for ex in full), case.student
        strays = [c for c in expect.fails if not set(checks[c].tests) & case.pieces]
        assert not strays, f"{case.student}: {strays} do not test {sorted(case.pieces)}"


# -- scores ------------------------------------------------------------------------------------------


def flipped(graded: Graded, case: cohort.Case, expect: cohort.Expected, check_id: str, failed: bool) -> str:
    """A check whose verdict is not the derived one, said so an instructor knows where to look."""
    info = graded.kit.checks[check_id]
    grade_id = check_id.split("/")[0]
    if failed:
        why = (
            f"it tests {list(info.tests)}, none of which the case breaks ({sorted(expect.broken)}) or "
            f"leaves unwritten ({len(expect.unwritten)} pieces): a mistake charged outside its piece, or a "
            f"check whose tests= misses a piece it uses (the test cell {grade_id} of the source notebook)"
        )
        verdict = "failed, the catalog expects it to pass"
    else:
        why = (
            f"it tests {list(info.tests)}, of which the case breaks or leaves unwritten "
            f"{sorted(set(info.tests) & (expect.broken | expect.unwritten))}: if the mistake does not "
            f"show in this check, list it in the case's `passes` (simulation/cases/, `{case.student}`)"
        )
        verdict = "passed, the catalog expects it to fail"
    return f"{case.student}: {check_id} {verdict}; {why}"


def mismatches(graded: Graded, cases) -> list[str]:
    """Every case whose outcome differs from its expectation, described."""
    problems = []
    for case in cases:
        student = case.student
        if student not in graded.grades:
            problems.append(f"{student}: not in the gradebook at all")
            continue
        got = graded.scores(student)
        expect = graded.expect(student)
        expected = expect.scores
        autograded = graded.notebook("autograded", student).exists()
        if case.rejected:
            if autograded or student not in graded.never_scored or got != expected:
                problems.append(f"{student}: expected rejected ({case.rejected}), got {got}")
            elif f"intake: {student} cannot be graded: {case.rejected}" not in graded.log:
                problems.append(f"{student}: not gradable, but the autograde log does not say why")
            continue
        results = graded.checks(student)
        failed = {c for c, r in results.items() if r["problem"]}
        carried = {c for c, r in results.items() if r["note"]}
        if not autograded or set(results) != set(graded.kit.checks):
            problems.append(f"{student}: autograded={autograded}, {len(results)} checks reported")
        for check_id in sorted(failed ^ set(expect.fails)):
            problems.append(flipped(graded, case, expect, check_id, failed=check_id in failed))
        if missing := set(case.carried) - carried:
            problems.append(f"{student}: {sorted(missing)} must pass by error carried forward, and did not")
        charged = {c for c in carried if set(graded.kit.checks[c].tests) & (expect.broken | expect.unwritten)}
        if charged:
            problems.append(f"{student}: {sorted(charged)} test a piece gone wrong, yet were carried")
        if got != expected:
            problems.append(f"{student}: scores {got}, expected {expected}")
    return problems


def test_every_student_gets_exactly_the_expected_checks_and_scores(graded):
    """One failure message lists every case that differs from its expectation."""
    cases = list(graded.cases.values())
    problems = mismatches(graded, cases)
    assert not problems, "\n".join([f"{len(problems)} problems in {len(cases)} cases:", *problems])
    assert sorted(graded.grades) == sorted(graded.cases), "nobody lost, nobody added"


def test_every_check_gets_the_same_result_with_cold_kernels_and_another_hash_seed(runs):
    first, second = runs
    assert FORKED in first.log and FORKED not in second.log, "the first run forks, the second does not"
    assert sorted(second.cases) == sorted(first.cases), "the whole cohort, both ways"
    differ = []
    for student in second.cases:
        a, b = first.checks(student), second.checks(student)
        same = {c: (r["score"], bool(r["problem"]), bool(r["note"])) for c, r in a.items()} == {
            c: (r["score"], bool(r["problem"]), bool(r["note"])) for c, r in b.items()
        }
        if not same or first.scores(student) != second.scores(student):
            changed = sorted(
                c for c in set(a) | set(b) if (a.get(c) or {}).get("score") != (b.get(c) or {}).get("score")
            )
            differ.append(f"{student}: {changed}")
    assert not differ, "\n".join(differ)
    assert first.never_scored == second.never_scored


def test_nbgrader_reports_the_rejected_and_grades_the_rest(graded):
    rejected = {c.student for c in graded.cases.values() if c.rejected}
    assert graded.returncode == (1 if rejected else 0), graded.log[-3000:]
    assert graded.never_scored == rejected
    assert graded.feedback.returncode == 0, graded.feedback.stdout[-3000:]


def test_the_ready_made_autograd_case_runs_only_where_micrograd_is_installed(graded):
    case = next(c for c in cohort.CATALOG if c.requires == "micrograd")
    if not case.available():
        assert case.student not in graded.cases
        pytest.skip("micrograd is not installed: the ready-made autograd case is left out")
    assert case.student in graded.cases


# -- the per-exercise export -------------------------------------------------------------------------


def test_exercise_csv_export_has_one_right_row_per_student(graded, tmp_path):
    target = tmp_path / "grades.csv"
    result = run_nbgrader(
        graded.course, "export", "--exporter", "gradekit.export.grades.ExerciseCsvExport", "--to", str(target)
    )
    assert result.returncode == 0, result.stdout[-2000:]
    with target.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["student_id"] for r in rows) == sorted(graded.cases), "one row per student"
    total_points = sum(info.points for info in cohort.source_checks().values())
    problems = []
    for row in rows:
        case = graded.cases[row["student_id"]]
        got = {ex: float(row[ex]) for ex in graded.kit.exercise_names}
        if got != graded.expect(case.student).scores:
            problems.append(f"{case.student}: CSV {got}, expected {graded.expect(case.student).scores}")
        if float(row["total"]) != sum(got.values()) or float(row["max"]) != total_points:
            problems.append(f"{case.student}: total/max {row['total']}/{row['max']} do not add up")
        if row["graded"] != str(case.student not in graded.never_scored):
            problems.append(f"{case.student}: graded={row['graded']}")
    assert not problems, "\n".join(problems)


# -- feedback ------------------------------------------------------------------------------------------


def feedback_sections(page: str) -> dict[str, str]:
    """grade_id -> the visible text of that test cell in a feedback page (source and outputs)."""
    sections = {}
    for chunk in re.split(r'(?=<div class="cell border-box-sizing)', page):
        label = re.search(r"Grade cell: <code>([^<]+)</code>", chunk)
        if label:
            sections[label.group(1)] = squash(visible_text(chunk))
    return sections


def test_feedback_names_every_check_says_what_went_wrong_with_a_hint_and_leaks_nothing(graded):
    source = read(graded.course / "source" / ASSIGNMENT / NOTEBOOK)
    secrets = secret_lines([c.source for c in source.cells])
    assert len(secrets) > 50, "the leak check would be empty"
    checks = cohort.source_checks()
    problems = []
    for student, case in sorted(graded.cases.items()):
        path = graded.course / "feedback" / student / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")
        if case.rejected:
            if path.exists():
                problems.append(f"{student}: rejected, yet has feedback")
            continue
        if not path.exists():
            problems.append(f"{student}: no feedback page")
            continue
        page = path.read_text()
        sections = feedback_sections(page)
        results = graded.checks(student)
        for check_id in checks:
            grade_id, name = check_id.split("/")
            section = sections.get(grade_id, "")
            result = results.get(check_id)
            if result is None or name not in section:
                problems.append(f"{student}: {check_id} is not named in its feedback")
                continue
            if result["problem"]:
                for text in (result["problem"], result["hint"], graded.expect(student).fails.get(check_id)):
                    if text and squash(text)[:150] not in section:
                        problems.append(f"{student}: {check_id}'s feedback lacks {squash(text)[:80]!r}")
            if result["note"] and "error carried forward" not in section:
                problems.append(
                    f"{student}: {check_id} passed by error carried forward, the feedback does not say"
                )
        own = "\n".join(c.source for c in read(graded.notebook("submitted", student)).cells)
        text = visible_text(page)
        leaked = [line for line in secrets if line in text and line not in own]
        if leaked:
            problems.append(f"{student}: the feedback shows {len(leaked)} secret lines, e.g. {leaked[:3]}")
    assert not problems, "\n".join(problems[:60])


def test_a_submission_that_reads_every_file_gets_nothing_secret(graded):
    """adv_read_everything reads every file its kernel can see outside the system's and Python's
    installations, looks in each for what only the course's secret files hold, and hands back the
    list of what it read; in the installations it looks for the course's files by name."""
    nb = read(graded.notebook("autograded", "adv_read_everything"))
    lines = [line for c in nb.cells for o in c.get("outputs", []) for line in o.get("text", "").splitlines()]
    (listing,) = [line.split(" ", 1)[1] for line in lines if line.startswith("STOLEN ")]
    stolen = zlib.decompress(base64.b64decode(listing)).decode().split("\n")
    assert [line for line in lines if line.startswith("READ ")] == [f"READ {len(stolen)} files"], (
        "it finished, and its output was not cut"
    )
    assert stolen, "it found something to read (the sandbox's own files)"
    assert not [line for line in lines if line.startswith("FOUND ")], "course files in the installations"
    assert not [line for line in lines if line.startswith("SECRET ")], "secret markers in what it read"
    assert not [p for p in stolen if p.endswith(".ipynb") or "gradebook" in p], sorted(stolen)


# -- the grade report ------------------------------------------------------------------------------


def test_grade_report_shows_per_check_failure_rates(graded, tmp_path):
    from gradekit.export import report

    target = tmp_path / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "gradekit", "report", "--to", str(target)],
        cwd=graded.course,
        text=True,
        capture_output=True,
    )
    assert result.returncode == 0, result.stderr
    page = target.read_text()
    assert page.count("<svg") >= len(graded.kit.exercise_names) + 1, (
        "a histogram per exercise and one for the total"
    )
    assert not re.search(r"<script|<link|src=|https?://(?!www\.w3\.org/2000/svg)", page), "self-contained"

    graded_students = [
        s for s in graded.grades if s not in graded.never_scored and graded.grades[s].submitted
    ]
    failed = dict.fromkeys(cohort.source_checks(), 0)
    carried = dict.fromkeys(cohort.source_checks(), 0)
    for student in graded_students:
        for check_id, r in graded.checks(student).items():
            failed[check_id] += bool(r["problem"])
            carried[check_id] += bool(r["note"])
    rows = re.findall(
        r'<tr class="\w+"><td><code>([^<]+)</code>( \(hidden\))?</td><td>(ex\d)</td>'
        r"<td class=num>([\d.]+)</td>" + r"<td class=num>(\d+)</td>" * 3,
        page,
    )
    order = list(cohort.source_checks())
    assert [r[0] for r in rows] == sorted(order, key=lambda c: (-failed[c], order.index(c))), (
        "most failed first"
    )
    for check_id, hidden, exercise, points, n_failed, n_carried, of in rows:
        info = cohort.source_checks()[check_id]
        assert exercise == exercise_of(check_id) and float(points) == info.points
        assert bool(hidden) == info.hidden
        assert (int(n_failed), int(n_carried), int(of)) == (
            failed[check_id],
            carried[check_id],
            len(graded_students),
        )

    with Gradebook(f"sqlite:///{graded.course / 'gradebook.db'}") as gradebook:
        data = report.gather(gradebook, ASSIGNMENT, course=graded.course)
    assert sorted(data.ungraded) == sorted(c.student for c in graded.cases.values() if c.rejected)
    assert sorted(data.flagged) == sorted(c.student for c in graded.cases.values() if c.review)
    assert "Read these submissions" in page


def test_only_the_endless_cases_cost_a_cell_timeout(graded):
    """What keeps this module fast: a cell timeout only where a case means to loop forever outside
    any check (a check's own time limit stops a loop inside it)."""
    timeouts = graded.log.count("Timeout waiting for execute reply")
    expected = sum(case.timeouts for case in graded.cases.values())
    per_student = graded.seconds / len(graded.cases)
    print(f"autograde: {len(graded.cases)} students in {graded.seconds:.0f} s ({per_student:.1f} s each)")
    assert timeouts == expected, f"{timeouts} cell timeouts, expected {expected}"


def test_a_cell_the_kernel_died_in_says_which_of_its_definitions_were_graded(graded):
    """A cell that never ends (ignoring the interrupt) or ends the kernel runs again as its
    definitions: its output in the autograded notebook (and so in the feedback) names them."""
    for student, kept in (("adv_sigint_ignored", "(signal, train)"), ("adv_os_exit", "(os, train)")):
        nb = read(graded.notebook("autograded", student))
        training = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "training")
        said = " ".join(o.get("evalue", "") for o in training.outputs if o.output_type == "error")
        assert f"with only this cell's definitions {kept}" in said, (student, said)
