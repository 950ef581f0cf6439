"""Autograding by checks, judged outside the student's kernel (nbgrader's Execute, replaced).

`JudgedExecute` takes the place of nbgrader's `Execute` in `Autograde.autograde_preprocessors`.
For a notebook whose test cells are lists of checks (gradekit.checks), it

1. runs the notebook in a sandboxed kernel (gradekit.sandbox) with every test cell replaced by its
   *probe code*: the cell's visible checks, every `expect=` taken out (gradekit.probes). The
   hidden checks of all cells run after the last cell of the notebook, so no code of the student's
   that runs later can show them in its outputs. Each probe writes what it returned, as a line of
   JSON, to a file descriptor of the grader's; nothing else crosses from the kernel to the grader;
2. judges every check in this process, with the expectations read from the gradebook's copy of
   the test cells, by the function the notebook itself uses (`gradekit.checks.verdict`);
3. runs each failed check again in the world of its pieces (gradekit.carry_forward), in a fresh
   sandboxed Python process, and keeps the better result (error carried forward);
4. writes the results into each test cell: a table of its checks (passed or not, points, what
   went wrong, the hint, carried forward or not), the cell's score as an `execute_result`
   (nbgrader's partial credit: SaveAutoGrades stores it), and the same results as plain data in
   `metadata.gradekit` for the grade report.

A kernel that dies (`os._exit`, a crash) while a check runs costs that check: the notebook runs
again in a new kernel without it. A student cell that kills the kernel is skipped the same way.
Test cells that are not lists of checks are run as nbgrader runs them.
"""

from __future__ import annotations

import copy
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import is_grade, is_solution
from traitlets import Bool, Float, Integer

from gradekit import carry_forward, checks, probes
from gradekit.feedback import REDACTED
from gradekit.notebooks import CHECKS_CELL, nbgrader_meta, read, secret_lines
from gradekit.outputs import OutputBudget
from gradekit.sandbox import Sandbox, SandboxedExecute, SandboxUnavailable, _protected_paths, seccomp_fd

KILLED = {
    "type": "KernelDied",
    "message": "the kernel stopped while this check ran (os._exit, a crash)",
    "origin": "grader",
}
NO_RESULT = {
    "type": "NoResult",
    "message": "no result: the check never reported back (the cell ran out of time, or the code "
    "before it stopped the kernel or replaced the checks)",
    "origin": "grader",
}
RESULTS_LIMIT = 64 * 1024 * 1024  # bytes of results read from one kernel run (its RLIMIT_FSIZE)
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


@dataclass
class Layout:
    """The cells of one kernel run and what each one is."""

    cells: list = field(default_factory=list)
    roles: list = field(default_factory=list)  # ("setup",) ("student", index) ("probe", grade_id, names)

    def add(self, source: str, role: tuple, like=None) -> None:
        cell = nbformat.v4.new_code_cell(source)
        if like is not None:
            cell.metadata = copy.deepcopy(like.metadata)
        self.cells.append(cell)
        self.roles.append(role)

    def probe_indices(self) -> set[int]:
        return {i for i, role in enumerate(self.roles) if role[0] in ("probe", "setup", "world")}


class JudgedExecute(OutputBudget, SandboxedExecute):
    """nbgrader's Execute for notebooks whose test cells are checks: probes run in the sandboxed
    kernel, the verdicts are taken here (see the module docstring)."""

    probe_limit = Float(10.0, help="Seconds one check's probe may run before it fails.").tag(config=True)
    carry_errors_forward = Bool(
        True, help="Run each failed check again with the reference solution for the pieces it is not about."
    ).tag(config=True)
    max_kernel_deaths = Integer(
        5, help="Kernel deaths (os._exit, crashes) tolerated per submission before it is given up."
    ).tag(config=True)

    _probing = False
    _current = -1
    _probe_cells: set[int] = set()  # noqa: RUF012  (replaced per run, never mutated)

    # -- nbconvert hooks -----------------------------------------------------------------------

    def preprocess_cell(self, cell, resources, index):
        self._current = index
        self._probing = index in self._probe_cells
        self._check_assign_resources(resources)
        cell = self.execute_cell(cell, index, store_history=not self._probing)
        return cell, self.resources

    def _update_display_id(self, display_id, msg):
        # Code run by a probe must not rewrite what an earlier cell displayed (the feedback shows it).
        if not self._probing:
            super()._update_display_id(display_id, msg)

    # -- the whole notebook --------------------------------------------------------------------

    def preprocess(self, nb, resources=None, km=None):
        info = (resources or {}).get("nbgrader", {})
        coursedir = CourseDirectory(config=self.config)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", info.get("assignment", "")))
        plan = Plan.load(
            info["db_url"], info["notebook"], info["assignment"], source / f"{info['notebook']}.ipynb"
        )
        if not plan.cells:
            return super().preprocess(nb, resources, km=km)
        if plan.reference is None and self.carry_errors_forward:
            self.log.warning("No source notebook at %s: errors are not carried forward", source)
        outcomes, run, killers = self._phase_one(nb, resources, plan)
        results = plan.judge(outcomes)
        if self.carry_errors_forward and plan.reference is not None:
            self._carry_forward(nb, resources, plan, results, killers)
        self._write(nb, run, plan, results, killers)
        return nb, resources

    def _seconds(self) -> float | None:
        """Seconds a test cell's checks may take (a margin under the cell timeout); None or -1 as
        the timeout (nbclient's "no timeout") give None."""
        return None if self.timeout is None or self.timeout <= 0 else 0.8 * self.timeout

    def _phase_one(self, nb, resources, plan: Plan):
        """Run the notebook with probes; restart without whatever killed the kernel."""
        skipped: dict[str, set[str]] = {}  # grade_id -> checks that killed the kernel
        killers: set[int] = set()  # notebook cells that killed the kernel
        last_words: dict = {}  # what a check that killed the kernel reported before it did
        for _ in range(self.max_kernel_deaths + 1):
            layout = self._layout(nb, plan, skipped, killers)
            run, died, outcomes, started = self._run(layout, nb, resources)
            if died is None:
                for grade_id, names in skipped.items():
                    for name in names:
                        outcomes[(grade_id, name)] = last_words.get((grade_id, name)) or {"error": KILLED}
                return outcomes, (run, layout), killers
            if died < 0:
                raise DeadKernelError("the kernel died before the notebook started")
            role = layout.roles[died]
            if role[0] == "probe":
                # the check of that cell that started last (it may have said why before dying)
                mine = [key for key in started if key[0] == role[1] and key[1] in role[2]]
                if mine:
                    skipped.setdefault(role[1], set()).add(mine[-1][1])
                    if mine[-1] in outcomes:
                        last_words[mine[-1]] = outcomes[mine[-1]]
                else:  # before its first check started: none of them can run
                    skipped.setdefault(role[1], set()).update(role[2])
            elif role[0] == "student":
                killers.add(role[1])
            else:
                raise DeadKernelError("the kernel died while the grader set it up")
            self.log.warning("The kernel died in %s; running the notebook again without it", role[:2])
        raise DeadKernelError(f"the kernel died {self.max_kernel_deaths + 1} times")

    def _layout(self, nb, plan: Plan, skipped, killers) -> Layout:
        seconds = self._seconds()
        layout = Layout()
        layout.add("", ("setup",))  # filled in by _run, which knows the results' file descriptor
        for index, cell in enumerate(nb.cells):
            grade_id = nbgrader_meta(cell).get("grade_id")
            if cell.cell_type != "code":
                continue
            if grade_id in plan.cells:
                test = plan.cells[grade_id]
                names = [
                    s.name for s in test.sites if not s.hidden and s.name not in skipped.get(grade_id, ())
                ]
                layout.add(
                    test.probe_code(names, seconds, visible_only=True), ("probe", grade_id, names), cell
                )
            elif index in killers:
                layout.add("", ("killed", index))
            elif grade_id == CHECKS_CELL and nbgrader_meta(cell).get("locked"):
                continue  # the notebook's copy of the checks: the grader loads its own
            else:
                layout.add(cell.source, ("student", index), cell)
        for grade_id, test in plan.cells.items():
            names = [n for n in test.hidden_names if n not in skipped.get(grade_id, ())]
            if names:
                layout.add(test.probe_code(names, seconds), ("probe", grade_id, names))
        return layout

    def _run(self, layout: Layout, nb, resources):
        """Execute the cells of `layout` in a new sandboxed kernel: the executed notebook, the
        index of the cell in which the kernel died (None if it did not), what the probes reported
        ((grade_id, check) -> outcome), and the checks that started, in order."""
        folder = tempfile.mkdtemp(prefix="gradekit-results-")
        path = os.path.join(folder, "results.jsonl")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        layout.cells[0].source = probes.setup_code(self.probe_limit, fd)
        run = nbformat.v4.new_notebook(cells=layout.cells, metadata=copy.deepcopy(nb.metadata))
        self._probe_cells = layout.probe_indices()
        self._current, self._extra_fds, died = -1, (fd,), None
        self.reset_output_budget()
        try:
            super().preprocess(run, resources)
        except DeadKernelError:
            died = self._current
        except CellTimeoutError:
            # No output, not even the interrupt's, within the timeout: the kernel ignores SIGINT
            # (signal.SIG_IGN and an endless loop). It is shut down with the run; the cell is
            # treated as one that killed the kernel.
            self.log.warning(
                "The kernel did not answer an interrupt in cell %d: it was stopped", self._current
            )
            died = self._current
        finally:
            os.close(fd)
            self._probing, self._probe_cells, self._extra_fds = False, set(), ()
            with open(path, "rb") as fh:
                lines = fh.read(RESULTS_LIMIT).splitlines()
            shutil.rmtree(folder, ignore_errors=True)
        outcomes, started = collect(lines, layout)
        return run, died, outcomes, started

    def _run_program(self, layout: Layout, nb, resources):
        """Run the cells of `layout` one after another in a fresh sandboxed Python process, each
        cell's failure costing only itself: what the probes reported ((grade_id, check) ->
        outcome), and the check that was running if the process died. (Not a Jupyter kernel: a
        world needs no notebook, and a plain process starts many times faster.)"""
        folder = tempfile.mkdtemp(prefix="gradekit-world-")
        path = os.path.join(folder, "results.jsonl")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        filter_fd = seccomp_fd()
        try:
            layout.cells[0].source = probes.setup_code(self.probe_limit, fd)
            program = [
                [f"<gradekit {role[0]} cell {i}>", c.source]
                for i, (c, role) in enumerate(zip(layout.cells, layout.roles))
            ]
            cwd = (resources or {}).get("metadata", {}).get("path") or os.getcwd()
            command = [self._python(nb), "-c", RUNNER]
            sandbox = Sandbox(parent=self)
            reason, env = sandbox.unavailable_reason(), {}
            if reason is None:
                unused = os.path.join(folder, "connection.json")
                Path(unused).write_text("{}")
                protected = [folder, *_protected_paths(self.config)]
                command = sandbox.command(
                    command, cwd=cwd, connection_file=unused, protected=protected, seccomp=filter_fd
                )
            elif sandbox.allow_unsandboxed:
                env = dict(os.environ)
            else:
                raise SandboxUnavailable(sandbox.refusal(reason))
            cell_timeout = self.timeout if self.timeout and self.timeout > 0 else 30
            seconds = cell_timeout * (1 + sum(role[0] == "probe" for role in layout.roles))
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(fd, filter_fd),
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
            try:
                process.communicate(json.dumps(program).encode(), timeout=seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
        finally:
            os.close(fd)
            os.close(filter_fd)
            with open(path, "rb") as fh:
                lines = fh.read(RESULTS_LIMIT).splitlines()
            shutil.rmtree(folder, ignore_errors=True)
        outcomes, started = collect(lines, layout)
        running = next((key for key in reversed(started) if key not in outcomes), None)
        return outcomes, running

    def _python(self, nb) -> str:
        """The Python of the kernel the notebook asks for (its kernelspec), for world processes."""
        name = self.kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
        try:
            argv = KernelSpecManager(config=self.config).get_kernel_spec(name).argv
        except Exception:
            return sys.executable
        return shutil.which(argv[0]) or argv[0]

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.extra_fds = tuple(getattr(self, "_extra_fds", ()))
        return km

    # -- error carried forward -------------------------------------------------------------------

    def _carry_forward(self, nb, resources, plan: Plan, results, killers: set[int]) -> None:
        student_sources = [
            c.source
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code"
            and nbgrader_meta(c).get("grade_id") not in (*plan.cells, CHECKS_CELL)
            and i not in killers
        ]
        mine = carry_forward.parse_cells(student_sources)
        worlds: dict[frozenset[str], dict[str, list[str]]] = {}
        for grade_id, found in plan.specs.items():
            for item in found:
                if item.tests and not results[grade_id][item.name].passed:
                    worlds.setdefault(frozenset(item.tests), {}).setdefault(grade_id, []).append(item.name)
        definitions = [d for d in map(carry_forward.definitions_only, student_sources) if d]
        runnable = {p: w for p, w in worlds.items() if not carry_forward.unwritten(mine, plan.release, p)}
        self.log.info(
            "Error carried forward: %d world(s) for %d failed check(s) (%d world(s) of pieces as released)",
            len(runnable),
            sum(len(n) for w in worlds.values() for n in w.values()),
            len(worlds) - len(runnable),
        )
        carried, suspects = [], set().union(*(p for p in worlds if p not in runnable))
        for pieces, wanted in sorted(runnable.items(), key=lambda kv: sorted(kv[0])):
            world = carry_forward.world(plan.reference, mine, pieces)
            layout = Layout()
            layout.add("", ("setup",))
            for source in definitions:
                layout.add(source, ("student", -1))
            layout.add(world.code, ("world",))
            for grade_id, names in wanted.items():
                layout.add(
                    plan.cells[grade_id].probe_code(names, self._seconds()), ("probe", grade_id, names)
                )
            outcomes, running = self._run_program(layout, nb, resources)
            if running is not None:
                self.log.warning("The world of %s stopped in %s", sorted(pieces), running)
            again = plan.judge(outcomes, {g: set(n) for g, n in wanted.items()})
            carried.append((pieces, wanted, again))
        # Which pieces still fail their own checks: the likely cause of what was carried forward.
        for pieces, wanted, again in carried:
            if not all(again[g][n].passed for g, names in wanted.items() for n in names):
                suspects.update(pieces)
        for pieces, wanted, again in carried:
            for grade_id, names in wanted.items():
                for name in names:
                    second = again[grade_id][name]
                    if second.passed:
                        first = results[grade_id][name]
                        second.note = carried_note(pieces, first.problem, suspects)
                        results[grade_id][name] = second

    # -- writing the results -------------------------------------------------------------------

    def _write(self, nb, run_and_layout, plan: Plan, results, killers: set[int]) -> None:
        run, layout = run_and_layout
        nb.metadata["language_info"] = run.metadata.get("language_info", nb.metadata.get("language_info", {}))
        for executed, role in zip(run.cells, layout.roles):
            if role[0] == "student":
                original = nb.cells[role[1]]
                original.outputs = executed.outputs
                original.execution_count = executed.execution_count
            elif role[0] == "killed":
                said = (
                    "the kernel stopped in this cell (it exited, crashed, or ignored the interrupt at"
                    " the time limit); the grader ran the notebook again without it"
                )
                original = nb.cells[role[1]]
                original.outputs = [
                    nbformat.v4.new_output(
                        "error", ename="KernelDied", evalue=said, traceback=[f"KernelDied: {said}"]
                    )
                ]
        counts = {}  # grade_id -> the execution count of its cell in the notebook's own place
        for executed, role in zip(run.cells, layout.roles):
            if role[0] == "probe":
                counts.setdefault(role[1], executed.execution_count)
        for cell in nb.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            # "gradekit" metadata marks the verdicts this grader wrote; none other may carry it
            cell.metadata.pop("gradekit", None)
            if grade_id not in plan.cells or not is_grade(cell) or is_solution(cell):
                continue
            found = list(results[grade_id].values())
            score = round(sum(r.score for r in found), 6)
            cell.outputs = [
                nbformat.v4.new_output(
                    "display_data",
                    data={
                        "text/plain": render_text(grade_id, found),
                        "text/html": render_html(grade_id, found),
                    },
                ),
                nbformat.v4.new_output(
                    "execute_result",
                    data={
                        "text/plain": f"{score:g}",
                        "text/html": f"<p><strong>{score:g}</strong> of {plan.points[grade_id]:g} points</p>",
                    },
                    execution_count=counts.get(grade_id),
                ),
            ]
            cell.execution_count = counts.get(grade_id)
            cell.metadata["gradekit"] = {"score": score, "checks": [r.as_dict() for r in found]}


# Runs a world: each [label, source] read as JSON from stdin, in order, in __main__.
RUNNER = """\
import json, sys

def _gradekit_program(cells):
    import __main__
    for label, source in cells:
        try:
            exec(compile(source, label, "exec"), vars(__main__))
        except BaseException:
            pass

_gradekit_program(json.load(sys.stdin))
"""


def collect(lines: list[bytes], layout: Layout):
    """What the probes of a run reported: (grade_id, check) -> outcome, and the checks that
    started, in order. Only well-formed lines about the checks a cell of `layout` was asked to run
    are taken; anything else the student's process wrote there is ignored."""
    asked = {(role[1], name) for role in layout.roles if role[0] == "probe" for name in role[2]}
    found, started = {}, []
    for line in lines:
        if len(line) > checks.LIMITS["bytes"]:
            continue
        try:
            seen = json.loads(line)
            key = (seen["cell"], seen["check"])
            if not (isinstance(key[0], str) and isinstance(key[1], str)) or key not in asked:
                continue
            if seen.get("started") is True:
                started.append(key)
            elif isinstance(seen.get("error"), dict):
                error = seen["error"]
                found[key] = {"error": {"type": str(error.get("type")), "message": str(error.get("message"))}}
            elif "value" in seen:
                found[key] = {"value": seen["value"]}
        except Exception:  # not JSON, too deep, not a dict, no cell: not a report
            continue
    return found, started


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
        + f": {checks._short(problem, 100)}"
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
