"""A grade report to look at rather than read: one self-contained HTML page (inline SVG, no script,
no network, no new dependency) built from the gradebook.

- the distribution of scores, one histogram per exercise (and the total);
- the checks most often failed: each check (gradekit.checks) of each test cell, how many graded
  students failed it and how many passed it only by error carried forward, its points;
- the submissions that could not be graded, each with its reason (gradekit.intake's, or a failed
  autograde), the late ones with their penalty, and those never handed in;
- the submissions whose code does something no honest solution needs (patching builtins, rewriting
  later cells, replacing modules, walking the file system, ...). Verdicts are taken outside the
  student's kernel (gradekit.grading.judge), so such code cannot earn a check it fails; it can still pass off
  what it did not write (a ready-made autograd, answers hard-coded for the visible checks), which
  only a human reading it can tell.

    python -m gradekit report --to report.html      # in the course root
"""

from __future__ import annotations

import html
import re
import statistics
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from gradekit.course.notebooks import exercise_of
from gradekit.export.grades import AUTOGRADE_FAILED, StudentGrades, collect

# What a submission's own code should not need, with the reason to look at it. Matched against
# every code cell of the submitted notebook that differs from the cells the release gave out.
SUSPICIOUS: dict[str, str] = {
    r"input_transformers|ast_transformers|events\.register|set_custom_exc|register_magic": (
        "rewrites or hooks the cells that run after it (the test cells too)"
    ),
    r"displayhook|display_pub|execute_result": (
        "publishes cell results itself (nbgrader reads them as scores)"
    ),
    r"\bbuiltins\b|__builtins__": "touches Python's builtins",
    r"^\s*(?:math|random|operator|sys|os|nbformat)\.\w+\s*=(?!=)": "replaces a library function",
    r"\bsignal\.": "changes signal handling (interrupts, timeouts)",
    r"os\._exit|sys\.exit|\bexit\(|\bquit\(|os\.kill": "ends or kills the kernel",
    r"\.__(?:eq|ne|float|bool|abs|lt|gt|hash)__\s*=": (
        "patches comparison or conversion into a class from outside it"
    ),
    r"^\s*(?:from|import)\s+(?:micrograd|torch|jax|tinygrad|autograd)\b": "imports a ready-made autograd",
    r"gradebook|sqlite|\.db\b|nbgrader": "refers to the grader's files or tools",
    r"sys\.settrace|sys\.setprofile|gc\.get_objects|inspect\.(?:stack|currentframe)|sys\._getframe": (
        "inspects or traces the running code"
    ),
    r"sys\.modules|gradekit|importlib": "replaces or loads modules (the grader's checks run as one)",
    r"os\.walk|os\.scandir|os\.listdir|\bglob\b|/proc/": "walks the file system",
}


@dataclass
class CheckStats:
    check_id: str  # "grade_id/check"
    points: float
    hidden: bool
    failed: int = 0  # graded students who did not get its points
    carried: int = 0  # graded students who got them by error carried forward
    graded: int = 0  # graded students

    @property
    def exercise(self) -> str:
        return exercise_of(self.check_id)


@dataclass
class ReportData:
    assignment: str
    students: list[StudentGrades]
    graded: list[str]  # autograded: every test cell has a score
    ungraded: list[str]  # handed in, but nbgrader never scored it (autograding failed)
    missing: list[str]  # in the gradebook, no submission
    checks: list[CheckStats]  # most failed first, then notebook order
    flagged: dict[str, list[str]] = field(default_factory=dict)  # student -> reasons

    def most_failed(self) -> list[CheckStats]:
        return [c for c in self.checks if c.failed]


def gather(gradebook: Gradebook, assignment: str, course: Path | None = None) -> ReportData:
    """Everything the report shows, out of the gradebook and, with `course`, the autograded
    notebooks (the result of every check) and the submitted code."""
    graded, ungraded, missing = [], [], []
    for student in sorted(gradebook.students, key=lambda s: s.id):
        try:
            submission = gradebook.find_submission(assignment, student.id)
        except MissingEntry:
            missing.append(student.id)
            continue
        grades = [grade for nb in submission.notebooks for grade in nb.grades]
        if not grades or all(g.auto_score is None and g.manual_score is None for g in grades):
            ungraded.append(student.id)
        else:
            graded.append(student.id)
    stats: dict[str, CheckStats] = {}
    for student in graded if course is not None else []:
        for path in sorted((course / "autograded" / student / assignment).glob("*.ipynb")):
            for result in check_results(path):
                check_id = f"{result['cell']}/{result['name']}"
                entry = stats.setdefault(check_id, CheckStats(check_id, result["points"], result["hidden"]))
                entry.graded += 1
                entry.failed += bool(result["problem"])
                entry.carried += bool(result["note"])
    order = list(stats)
    checks = sorted(stats.values(), key=lambda c: (-c.failed, order.index(c.check_id)))
    flagged = flag_submissions(course, assignment) if course is not None else {}
    return ReportData(
        assignment, collect(gradebook, assignment, course), graded, ungraded, missing, checks, flagged
    )


def check_results(path: Path) -> list[dict]:
    """The result of every check, in notebook order, as the grader wrote them into an autograded
    notebook (gradekit.grading.judge); [] for an unreadable notebook."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return []
    return [r for cell in nb.cells for r in cell.get("metadata", {}).get("gradekit", {}).get("checks", [])]


def flag_submissions(course: Path, assignment: str) -> dict[str, list[str]]:
    """student -> why their submitted code deserves a look (see SUSPICIOUS)."""
    given = set()
    for folder in ("release", "source"):
        for path in (course / folder / assignment).glob("*.ipynb"):
            given.update(c.source.strip() for c in _code_cells(path))
    flagged: dict[str, list[str]] = {}
    for path in sorted((course / "submitted").glob(f"*/{assignment}/*.ipynb")):
        student = path.relative_to(course / "submitted").parts[0]
        reasons: dict[str, str] = {}
        for source in (c.source for c in _code_cells(path) if c.source.strip() not in given):
            for pattern, reason in SUSPICIOUS.items():
                match = re.search(pattern, source, re.M)
                if match and reason not in reasons:
                    reasons[reason] = f"{reason}: {match.group(0).strip()}"
        unasked = _unasked(course / "autograded" / student / assignment / path.name)
        if unasked:
            reasons["channel"] = (
                f"its code wrote {unasked} message(s) to the grader's channel that answered no question "
                "(forged results, which count for nothing)"
            )
        if reasons:
            flagged[student] = list(reasons.values())
    return flagged


def _unasked(autograded: Path) -> int:
    """What the grader counted of a submission's messages that answered no question (see
    gradekit.grading.judge)."""
    try:
        nb = nbformat.read(str(autograded), as_version=4)
    except Exception:
        return 0
    count = nb.metadata.get("gradekit", {}).get("unasked_messages", 0)
    return count if isinstance(count, int) else 0


def _code_cells(path: Path) -> Iterable:
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # an unreadable file is reported as ungraded, not here
        return []
    return [c for c in nb.cells if c.cell_type == "code"]


# -- Drawing -------------------------------------------------------------------------------------

BAR = "#4c72b0"
FAIL = "#c44e52"


def histogram_svg(scores: list[float], maximum: float, title: str) -> str:
    """A bar per possible score 0..maximum (whole points; fractions go to the bin below)."""
    top = max(int(maximum), 1)
    counts = [0] * (top + 1)
    for score in scores:
        counts[min(max(int(score), 0), top)] += 1
    width, height, left, bottom, head = 380, 200, 34, 34, 28
    plot_w, plot_h = width - left - 10, height - bottom - head
    step = plot_w / len(counts)
    highest = max(counts) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{width / 2}" y="16" text-anchor="middle" class="title">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{head + plot_h}" x2="{left + plot_w}" y2="{head + plot_h}" class="axis"/>',
    ]
    for i, count in enumerate(counts):
        x = left + i * step
        bar = plot_h * count / highest
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{head + plot_h - bar:.1f}" width="{step - 2:.1f}" height="{bar:.1f}" '
            f'fill="{BAR}"><title>{count} student(s) with {i} point(s)</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{head + plot_h - bar - 3:.1f}" text-anchor="middle" '
                f'class="count">{count}</text>'
            )
        if len(counts) <= 16 or i % max(1, len(counts) // 10) == 0 or i == top:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{head + plot_h + 14}" text-anchor="middle" '
                f'class="tick">{i}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 4}" text-anchor="middle" class="tick">points</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def failed_table(data: ReportData) -> str:
    rows = []
    for check in data.checks:
        share = check.failed / check.graded if check.graded else 0.0
        rows.append(
            f'<tr class="{"failed" if check.failed else "passed"}">'
            f"<td><code>{html.escape(check.check_id)}</code>{' (hidden)' if check.hidden else ''}</td>"
            f"<td>{check.exercise}</td><td class=num>{check.points:g}</td>"
            f"<td class=num>{check.failed}</td><td class=num>{check.carried}</td>"
            f"<td class=num>{check.graded}</td>"
            f'<td><svg width="160" height="12" role="img" aria-label="{share:.0%}">'
            f'<rect width="160" height="12" fill="#e6e6e6"/>'
            f'<rect width="{160 * share:.1f}" height="12" fill="{FAIL}"/></svg> {share:.0%}</td></tr>'
        )
    return (
        "<table><thead><tr><th>check (grade_id/check)</th><th>exercise</th><th>points</th>"
        "<th>failed by</th><th>passed by error carried forward</th><th>of graded</th><th>share failed</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _summary(scores: list[float], maximum: float) -> str:
    if not scores:
        return "no graded submission"
    return (
        f"mean {statistics.mean(scores):.1f} / {maximum:g}, median {statistics.median(scores):g}, "
        f"full marks {sum(s >= maximum for s in scores)} of {len(scores)}"
    )


def _late_by(seconds: float) -> str:
    """`2 d 3 h`, `5 h 12 min`, `40 s`: how late, to the unit that matters."""
    minutes, hours, days = seconds / 60, seconds / 3600, seconds / 86400
    if days >= 1:
        return f"{int(days)} d {int(hours % 24)} h"
    if hours >= 1:
        return f"{int(hours)} h {int(minutes % 60)} min"
    return f"{int(minutes)} min" if minutes >= 1 else f"{seconds:.0f} s"


def _reason_item(reason: str) -> str:
    why, _, code = reason.rpartition(": ")
    return f"<li>{html.escape(why)}: <code>{html.escape(code)}</code></li>"


def render(data: ReportData) -> str:
    """The report as one self-contained HTML page."""
    charts = _charts(data)
    listed = _not_graded(data) + _late(data) + _no_submission(data)
    review = _review(data)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Grades: {html.escape(data.assignment)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1250px; color: #222; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }} figcaption {{ font-size: 90%; color: #555; text-align: center; }}
svg .title {{ font-weight: bold; font-size: 13px; }} svg .tick, svg .count {{ font-size: 11px; }}
svg .axis {{ stroke: #333; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 3px 10px; border-bottom: 1px solid #ddd; }}
td.num {{ text-align: right; }} tr.passed {{ color: #888; }}
</style></head>
<body>
<h1>Grades: {html.escape(data.assignment)}</h1>
<p>{len(data.students)} students: {len(data.graded)} graded, {len(data.ungraded)} not graded,
{len(data.missing)} without a submission.</p>
<h2>Score distribution</h2>
<div class="charts">{"".join(charts)}</div>
<h2 id="failed">Checks most often failed</h2>
<p>A check passed by error carried forward failed with the student's own code and passed with the
reference solution for the pieces it is not about: the mistake was charged in another check.</p>
{failed_table(data)}
{"".join(listed)}
{review}
</body></html>
"""


def _charts(data: ReportData) -> list[str]:
    """A histogram of every exercise's scores and of the totals, over the graded students."""
    graded = [s for s in data.students if s.student in set(data.graded)]
    maxima = data.students[0] if data.students else None
    charts = []
    for name in (*(maxima.exercises if maxima else []), "total"):
        maximum = (maxima.max_total if name == "total" else maxima.exercise_max(name)) if maxima else 0.0
        scores = [s.total if name == "total" else s.exercise(name) for s in graded]
        charts.append(
            f"<figure>{histogram_svg(scores, maximum, f'{name} (max {maximum:g})')}"
            f"<figcaption>{_summary(scores, maximum)}</figcaption></figure>"
        )
    return charts


def _not_graded(data: ReportData) -> list[str]:
    if not data.ungraded:
        return []
    by_id = {s.student: s for s in data.students}
    items = "".join(
        f"<li><code>{html.escape(s)}</code>: {html.escape(by_id[s].reason or AUTOGRADE_FAILED)}</li>"
        for s in data.ungraded
    )
    return [
        f'<h3 id="not-graded">Not graded ({len(data.ungraded)})</h3>'
        f"<p>Handed in, but no score: fix what the reason says, then grade again.</p><ul>{items}</ul>"
    ]


def _late(data: ReportData) -> list[str]:
    late = [s for s in data.students if s.late]
    if not late:
        return []
    rows = "".join(
        f"<tr><td><code>{html.escape(s.student)}</code></td>"
        f"<td class=num>{_late_by(s.seconds_late)}</td><td class=num>{s.raw:g}</td>"
        f"<td class=num>-{s.penalty:g}</td><td class=num>{s.total:g}</td></tr>"
        for s in late
    )
    return [
        f'<h3 id="late">Late ({len(late)})</h3><table><tr><th>student</th><th>late by</th>'
        f"<th>earned</th><th>penalty</th><th>total</th></tr>{rows}</table>"
    ]


def _no_submission(data: ReportData) -> list[str]:
    if not data.missing:
        return []
    names = ", ".join(f"<code>{html.escape(s)}</code>" for s in data.missing)
    return [
        f"<h3>No submission ({len(data.missing)})</h3><p>in the gradebook without a submission: {names}</p>"
    ]


def _review(data: ReportData) -> str:
    if not data.flagged:
        return ""
    items = "".join(
        f"<li><code>{html.escape(student)}</code><ul>"
        + "".join(_reason_item(reason) for reason in reasons)
        + "</ul></li>"
        for student, reasons in sorted(data.flagged.items())
    )
    return (
        f'<h2 id="review">Read these submissions before publishing ({len(data.flagged)})</h2>'
        "<p>Their code does things no honest solution needs. It cannot earn a check it fails, "
        "but it may pass off work that is not the student's own.</p>"
        f"<ul>{items}</ul>"
    )


def report_command(args) -> int:
    """`python -m gradekit report`: write the HTML grade report of the course's gradebook."""
    from gradekit.course import Course

    course = Course.load(args.course, args.assignment, args.db)
    database = course.db_url.split("?", 1)[0].removeprefix("sqlite:///")
    if course.db_url.startswith("sqlite:///") and not Path(database).exists():
        print(
            f"error: no gradebook at {database}: run this in the course root, or pass --db", file=sys.stderr
        )
        return 2
    with Gradebook(course.db_url) as gradebook:
        data = gather(gradebook, args.assignment, course.root)
    args.to.write_text(render(data), encoding="utf-8")
    print(
        f"wrote {args.to}: {len(data.graded)} graded, {len(data.most_failed())} checks failed at least once"
    )
    return 0
