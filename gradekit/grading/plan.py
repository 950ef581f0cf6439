"""What the grader knows of an assignment before it runs a submission: its `Plan`.

The plan is read once per autograde process from the gradebook's copy of the test cells (hidden
checks included) and from the instructor's source notebook (the reference solution, for error
carried forward). It holds every check with its expectation, and turns what the probes returned
(their outcomes) into verdicts (`Plan.judge`), censoring on the way whatever the student's code
said that quotes the hidden checks.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook

from gradekit import checks
from gradekit.checks import carry_forward, probes
from gradekit.course.notebooks import nbgrader_meta, read, secret_lines
from gradekit.grading.feedback import REDACTED

NO_RESULT = {
    "type": "NoResult",
    "message": "no result: the check never ran (the cell ran out of time, or the code before it "
    "stopped the kernel)",
    "origin": "grader",
}
QUOTE = 16  # characters: a message holding this much of the hidden checks' code is not shown


@dataclass
class Plan:
    """What the grader knows of an assignment's notebook before it runs a submission."""

    cells: dict[str, probes.TestCell]  # grade_id -> test cell made of checks, in notebook order
    specs: dict[str, list[checks.Check]]  # grade_id -> its checks, expectations included
    points: dict[str, float]  # grade_id -> the cell's points in the gradebook
    reference: list | None  # the reference solution's statements (None: no error carried forward)
    release: list  # the released solution cells' statements (the stubs)
    secret: frozenset[str] = frozenset()  # every QUOTE-long piece of the hidden checks' code
    short: tuple[str, ...] = ()  # the hidden checks' lines shorter than QUOTE, longest first

    @classmethod
    def load(cls, db_url: str, notebook: str, assignment: str, source: Path | None) -> Plan:
        """Test cells and points from the gradebook; the reference solution from `source`, the
        instructor's notebook (None or missing: no error carried forward). Read once per
        autograde process (it grades one assignment); raises TestCellError for a test cell the
        grader cannot use."""
        stamp = source.stat().st_mtime_ns if source is not None and source.exists() else None
        key = (db_url, notebook, assignment, str(source), stamp)
        if key not in _PLANS:
            _PLANS[key] = cls._read(db_url, notebook, assignment, source)
            if len(_PLANS) == 1:
                # The checks make many short-lived objects here (stand-ins, answers); a full pass
                # of the garbage collector over nbgrader's own long-lived heap then costs ~0.2 s.
                # Collected once and frozen (gc.freeze: Instagram's recipe, in the gc docs),
                # that heap is no longer scanned; what becomes garbage later is still freed.
                gc.collect()
                gc.freeze()
        return _PLANS[key]

    @classmethod
    def _read(cls, db_url: str, notebook: str, assignment: str, source: Path | None) -> Plan:
        with Gradebook(db_url) as gradebook:
            stored = gradebook.find_notebook(notebook, assignment)
            points = {cell.name: float(cell.max_score) for cell in stored.grade_cells}
            solutions = {cell.name for cell in stored.solution_cells}
            sources = [(cell.name, cell.source or "", cell.cell_type) for cell in stored.source_cells]
        cells, specs = {}, {}
        for name, text, kind in sources:
            if name not in points or name in solutions or kind != "code":
                continue
            if not probes.is_checks(text):
                continue  # an ordinary nbgrader test cell
            cell = probes.TestCell.parse(name, text)
            found = cell.specs()
            for item in found:
                if not callable(item.expect):
                    try:
                        checks.differences(item.expect, item.expect)
                    except TypeError as exc:
                        raise probes.TestCellError(f"{name}/{item.name}: {exc}") from exc
            total = sum(item.points for item in found)
            if abs(total - points[name]) > 1e-9:
                raise probes.TestCellError(
                    f"{name}: its checks add up to {total:g} points, the cell has {points[name]:g}"
                )
            if [item.name for item in found] != [site.name for site in cell.sites]:
                raise probes.TestCellError(f"{name}: the checks run are not the checks written")
            for item in found:
                if item.limit is not None and not 0 < item.limit:
                    raise probes.TestCellError(
                        f"{name}/{item.name}: limit= must be a positive number of seconds"
                    )
            cells[name], specs[name] = cell, found
        release = carry_forward.parse_cells(text for name, text, _ in sources if name in solutions)
        reference = None
        if source is not None and source.exists():
            nb = read(source)
            reference = carry_forward.parse_cells(
                c.source for c in nb.cells if c.cell_type == "code" and nbgrader_meta(c).get("solution")
            )
        hidden_code = secret_lines([cell.source for cell in cells.values()], solutions=False)
        secret = frozenset(line[i : i + QUOTE] for line in hidden_code for i in range(len(line) - QUOTE + 1))
        short = tuple(sorted((line for line in hidden_code if len(line) < QUOTE), key=len, reverse=True))
        return cls(cells, specs, points, reference, release, secret, short)

    def quotes(self, text: str) -> bool:
        """Whether `text` holds QUOTE characters in a row of the hidden checks' code."""
        return any(text[i : i + QUOTE] in self.secret for i in range(len(text) - QUOTE + 1))

    def censor(self, outcome: dict) -> dict:
        """What a probe reported, with every string that quotes the hidden checks' code (which a
        submission can watch run) replaced, and every short hidden line in it blanked out: its
        feedback is no way out for them. Only what came from the student's process is censored,
        never the author's own messages (feedback.RedactHiddenTests leaves the verdicts alone)."""
        said = "a message that quotes the hidden checks (not shown)"

        def clean(value):
            if isinstance(value, str):
                if self.quotes(value):
                    return said
                for line in self.short:
                    value = value.replace(line, REDACTED)
                return value
            if isinstance(value, list):
                return [clean(v) for v in value]
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            return value

        if "error" in outcome and outcome["error"].get("origin") != "grader":
            return {"error": {**outcome["error"], "message": clean(str(outcome["error"].get("message", "")))}}
        return {"value": clean(outcome["value"])} if "value" in outcome else outcome

    def hidden(self, grade_id: str) -> set[str]:
        return set(self.cells[grade_id].hidden_names)

    def judge(
        self, outcomes: dict, only: dict[str, set[str]] | None = None
    ) -> dict[str, dict[str, checks.Result]]:
        """grade_id -> check name -> Result, from the probes' outcomes ((cell, name) -> outcome)."""
        results = {}
        for grade_id, found in self.specs.items():
            hidden = self.hidden(grade_id)
            results[grade_id] = {}
            for item in found:
                if only is not None and item.name not in only.get(grade_id, ()):
                    continue
                outcome = outcomes.get((grade_id, item.name)) or {"error": NO_RESULT}
                results[grade_id][item.name] = checks.verdict(
                    item, self.censor(outcome), grade_id, item.name in hidden
                )
        return results


_PLANS: dict[tuple, Plan] = {}
