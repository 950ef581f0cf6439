"""A test cell's verdicts as people read them: the table of its checks in the autograded notebook
and the feedback (text and HTML), and the note of a check that passed by error carried forward."""

from __future__ import annotations

import html

from gradekit import checks


def carried_note(pieces, problem: str, suspects) -> str:
    """The feedback of a check that passed only by error carried forward: what it is about, what
    went wrong with the student's own code (shortened), and which of the student's other pieces
    fail their own checks, the likely cause."""
    names = ", ".join(sorted(pieces))
    others = sorted(set(suspects) - set(pieces))
    cause = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
    return (
        f"error carried forward: your {names} is right (it passes with the reference solution for the "
        f"rest); with your own code it fails"
        + (f", probably because of {cause}, whose own checks fail" if cause else "")
        + f": {checks.shorten(problem, 100)}"
    )


def render_text(grade_id: str, results: list[checks.Result]) -> str:
    score = sum(r.score for r in results)
    total = sum(r.points for r in results)
    passed = sum(r.passed for r in results)
    lines = [f"{grade_id}: {passed} of {len(results)} checks passed, {score:g} of {total:g} points"]
    for result in results:
        lines.append(("  (hidden) " if result.hidden else "  ") + result.line())
    return "\n".join(lines) + "\n"


PAD = 'style="padding: 2px 10px; text-align: left; vertical-align: top"'


def render_html(grade_id: str, results: list[checks.Result]) -> str:
    score = sum(r.score for r in results)
    total = sum(r.points for r in results)
    rows = []
    for r in results:
        what = html.escape(r.problem)
        if r.problem and r.hint:
            what += f"<br><em>Hint:</em> {html.escape(r.hint)}"
        if r.note:
            what += f"<br><em>{html.escape(r.note)}</em>"
        rows.append(
            f'<tr class="{"passed" if r.passed else "failed"}"><td {PAD}>{"✓" if r.passed else "✗"}</td>'
            f"<td {PAD}><code>{html.escape(r.name)}</code>{' (hidden)' if r.hidden else ''}</td>"
            f"<td {PAD}>{r.score:g}&nbsp;/&nbsp;{r.points:g}</td><td {PAD}>{what}</td></tr>"
        )
    return (
        f"<p><strong>{html.escape(grade_id)}</strong>: {sum(r.passed for r in results)} of {len(results)} "
        f"checks passed, {score:g} of {total:g} points</p>"
        f"<table><thead><tr><th></th><th {PAD}>check</th><th {PAD}>points</th>"
        f"<th {PAD}>what went wrong</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
