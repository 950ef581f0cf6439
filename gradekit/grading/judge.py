"""Autograding by checks: student code in a sandboxed kernel, checks in the grader (nbgrader's
Execute, replaced).

`JudgedExecute` takes the place of nbgrader's `Execute` in `Autograde.autograde_preprocessors`.
For a notebook whose test cells are lists of checks (gradekit.checks), it

1. runs the student's cells in a sandboxed kernel (gradekit.sandbox), and at the place of each test
   cell lets the kernel answer questions (gradekit.channel.server) while the cell's visible checks
   run *here*, in the grader's process, on the kernel's objects (gradekit.grading.runner). The hidden
   checks of every cell run the same way after the notebook's last cell. The kernel never receives
   a check's code, name or expected value, and nothing it writes is taken as a result: each value
   a check judges is computed here, from the kernel's answers to the questions the check asked;
2. judges every check here (gradekit.grading.plan), by the function the notebook itself uses
   (`gradekit.checks.verdict`);
3. runs each failed check again in the world of its pieces (gradekit.grading.worlds), in a fresh sandboxed
   Python process, and keeps the better result (error carried forward);
4. writes the results into each test cell: a table of its checks (passed or not, points, what
   went wrong, the hint, carried forward or not), the cell's score as an `execute_result`
   (nbgrader's partial credit: SaveAutoGrades stores it), and the same results as plain data in
   `metadata.gradekit` for the grade report (gradekit.grading.render).

A kernel that dies or stops answering while a check runs (`os._exit`, a crash, a loop that ignores
its time limit) costs that check: the notebook runs again in a new kernel without it, and keeps
the results of the checks that were done. A student cell that kills the kernel, or never ends and
ignores the interrupt, runs again as its definitions only (its imports, functions, classes); if
those kill it too, the cell is left out.
"""

from __future__ import annotations

import copy
import math
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.corpus.words import generate_corpus_id as random_cell_id
from nbgrader.coursedir import CourseDirectory
from traitlets import Bool, Float, Integer

from gradekit import channel
from gradekit.checks import carry_forward
from gradekit.course.notebooks import is_checks_cell, nbgrader_meta
from gradekit.grading import kernel_setup, runner, worlds
from gradekit.grading.judge_thread import JudgeThread
from gradekit.grading.outputs import OutputBudget
from gradekit.grading.plan import Plan
from gradekit.grading.writeback import write_student_cells, write_verdicts
from gradekit.sandbox import SandboxedExecute
from gradekit.sandbox.forked import ForkedKernel


@dataclass(frozen=True)
class Role:
    """What a cell of a kernel run is: the grader's "setup", a "student" cell (its `index` in the
    notebook), a student cell run as its "definitions" only, a student cell left out ("killed"),
    or a place where "checks" run: `checks` holds (grade_id, check names) pairs, one for a test
    cell's visible checks at its place (`index`), one per test cell for the hidden checks of every
    test cell, in one cell after the notebook's last (index -1: one cell, not one per test cell, as
    no student code runs between them)."""

    kind: str
    index: int = -1
    checks: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def keys(self) -> list[tuple[str, str]]:
        """The (grade_id, check name) of every check of this role, in the order they run."""
        return [(grade_id, name) for grade_id, names in self.checks for name in names]


@dataclass
class Layout:
    """The cells of one kernel run and what each one is."""

    cells: list = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)
    cpu: int | None = None  # the processor the checks ask from, and the kernel answers on

    def add(self, source: str, role: Role, like=None) -> None:
        # nbformat.v4.new_code_cell's cell without its schema validation (valid by construction);
        # from_dict copies the metadata's dicts and lists
        metadata = like.metadata if like is not None else {}
        cell = nbformat.from_dict(
            {
                "id": random_cell_id(),
                "cell_type": "code",
                "metadata": metadata,
                "execution_count": None,
                "source": source,
                "outputs": [],
            }
        )
        self.cells.append(cell)
        self.roles.append(role)


@dataclass
class KernelRun:
    """What one kernel run of a notebook gave."""

    notebook: nbformat.NotebookNode
    layout: Layout
    died: int | None = None  # the layout index of the cell in which the kernel died
    outcomes: dict = field(default_factory=dict)  # (grade_id, check) -> outcome
    started: list = field(default_factory=list)  # (grade_id, check), in the order they started
    stuck: tuple | None = None  # the check during which the kernel stopped answering


class JudgedExecute(OutputBudget, SandboxedExecute):
    """nbgrader's Execute for notebooks whose test cells are checks: the student's code runs in the
    sandboxed kernel, the checks and their verdicts here (see the module docstring)."""

    probe_limit = Float(
        10.0, help="Seconds of the student's code one check may take, unless the check sets its own limit=."
    ).tag(config=True)
    carry_errors_forward = Bool(
        True, help="Run each failed check again with the reference solution for the pieces it is not about."
    ).tag(config=True)
    max_kernel_deaths = Integer(
        5,
        help="Kernel deaths (os._exit, crashes, hung checks) tolerated per submission before it is given up.",
    ).tag(config=True)

    _current = -1
    _run: KernelRun | None = None
    _plan: Plan | None = None
    _session: channel.Session | None = None
    _judge: JudgeThread | None = None
    unasked = 0  # messages of the student's processes that answered no question (this submission)
    _student_end = None

    # -- nbconvert hooks -----------------------------------------------------------------------

    def preprocess_cell(self, cell, resources, index):
        self._current = index
        self._check_assign_resources(resources)
        if self._student_end is not None:  # the kernel has its own copy by now
            self._student_end.close()
            self._student_end = None
        role = self._run.layout.roles[index] if self._run is not None else Role("student")
        if role.kind == "setup":
            cell = self.execute_cell(cell, index, store_history=False)
            kernel_setup.check(cell, self.log)
            return cell, self.resources
        if role.kind != "checks":
            cell = self.execute_cell(cell, index, store_history=True)
            return cell, self.resources
        self._judge.checks(role)
        try:
            cell = self.execute_cell(cell, index, store_history=False)
        finally:
            self._judge.wait(role)
        return cell, self.resources

    def _get_timeout(self, cell):
        role = self._run.layout.roles[self._current] if self._run is not None else None
        if role is not None and role.kind == "checks":
            return self.checks_timeout(role)
        return super()._get_timeout(cell)

    def checks_timeout(self, role: Role) -> int:
        """Seconds a kernel may spend answering the checks of `role`: each check's own limit plus
        the grace after it, and a margin. The grader stops a check at its limit itself; this is
        only the guard behind it."""
        limits = [
            item.limit or self.probe_limit
            for grade_id, names in role.checks
            for item in self._plan.specs[grade_id]
            if item.name in names
        ]
        return math.ceil(sum(limit + channel.GRACE for limit in limits) + 30)

    def _update_display_id(self, display_id, msg):
        # Code run by a check must not rewrite what an earlier cell displayed (the feedback shows it).
        role = self._run.layout.roles[self._current] if self._run is not None else None
        if role is None or role.kind != "checks":
            super()._update_display_id(display_id, msg)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.extra_fds = tuple(getattr(self, "_extra_fds", ()))
        return km

    def kill_kernel(self) -> None:
        """End the kernel now (it stopped answering while a check ran); nbclient then sees it dead."""
        provisioner = getattr(self.km, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if isinstance(process, ForkedKernel):  # the kernel and its whole sandbox
            process.kill()
        elif process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()

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
        self._plan, self.unasked = plan, 0
        try:
            outcomes, run, killers = self._phase_one(nb, resources, plan)
            results = plan.judge(outcomes)
            if self.carry_errors_forward and plan.reference is not None:
                worlds.carry_errors_forward(
                    self, nb, resources, plan, results, self._sources(nb, plan, killers)
                )
            self._write(nb, run, plan, results, killers)
        finally:
            self._plan = self._run = None
        return nb, resources

    def _phase_one(self, nb, resources, plan: Plan):
        """Run the notebook with its checks; again without whatever killed the kernel."""
        done: dict = {}  # (grade_id, check) -> outcome of a check that need not run again
        killers: dict[int, int] = {}  # notebook cell -> 1: run its definitions only, 2: leave it out
        for _ in range(self.max_kernel_deaths + 1):
            layout = self._layout(nb, plan, done, killers, channel.current_cpu())
            run = self._execute(layout, nb, resources)
            if run.died is None:
                return {**run.outcomes, **done}, run, killers
            if run.died < 0:
                raise DeadKernelError("the kernel died before the notebook started")
            role = layout.roles[run.died]
            if role.kind == "checks":
                done.update(run.outcomes)  # the checks that finished keep their results
                keys = set(role.keys)
                mine = [key for key in run.started if key in keys]
                running = next((key for key in reversed(mine) if key not in run.outcomes), None)
                if running is None and run.stuck is not None:
                    running = run.stuck
                if running is not None:
                    done[running] = run.outcomes.get(running) or {"error": runner.KERNEL_DIED}
                elif not mine:  # before its first check started: its first test cell's cannot run
                    grade_id, names = role.checks[0]
                    for name in names:
                        done[(grade_id, name)] = {"error": runner.KERNEL_DIED}
            elif role.kind in ("student", "definitions"):
                definitions = carry_forward.definitions_only(nb.cells[role.index].source)
                first_time = (
                    role.kind == "student" and definitions and definitions != nb.cells[role.index].source
                )
                killers[role.index] = 1 if first_time else 2
            else:
                raise DeadKernelError("the kernel died while the grader set it up")
            self.log.warning(
                "The kernel died in %s; running the notebook again without it",
                (role.kind, role.checks[0][0] if role.checks else role.index),
            )
        raise DeadKernelError(f"the kernel died {self.max_kernel_deaths + 1} times")

    def _layout(self, nb, plan: Plan, done: dict, killers: dict[int, int], cpu: int | None) -> Layout:
        layout = Layout(cpu=cpu)
        layout.add("", Role("setup"))  # filled in by _execute, which knows the channel's fd
        for index, cell in enumerate(nb.cells):
            grade_id = nbgrader_meta(cell).get("grade_id")
            if cell.cell_type != "code":
                continue
            if grade_id in plan.cells:
                test = plan.cells[grade_id]
                names = tuple(s.name for s in test.sites if not s.hidden and (grade_id, s.name) not in done)
                layout.add(
                    test.shadow_code() + "\n" + channel.serve_code(cpu),
                    Role("checks", index, ((grade_id, names),)),
                    cell,
                )
            elif killers.get(index) == 1:
                source = carry_forward.definitions_only(cell.source) or ""
                layout.add(source, Role("definitions", index), cell)
            elif index in killers:
                layout.add("", Role("killed", index))
            elif is_checks_cell(cell):
                continue  # the notebook's copy of the checks: the grader sets up its own
            else:
                layout.add(cell.source, Role("student", index), cell)
        hidden = []
        for grade_id, test in plan.cells.items():
            names = tuple(n for n in test.hidden_names if (grade_id, n) not in done)
            if names:
                hidden.append((grade_id, names))
        if hidden:
            layout.add(channel.serve_code(cpu), Role("checks", -1, tuple(hidden)))
        return layout

    def _execute(self, layout: Layout, nb, resources) -> KernelRun:
        """Execute the cells of `layout` in a new sandboxed kernel, the checks running here."""
        grader_end, student_end = channel.channel_pair()
        try:
            channel.send_boot(grader_end, kernel_setup.setup())
        except BaseException:
            grader_end.close()
            student_end.close()
            raise
        layout.cells[0].source = channel.boot_code(student_end.fileno())
        notebook = nbformat.v4.new_notebook(cells=layout.cells, metadata=copy.deepcopy(nb.metadata))
        run = KernelRun(notebook, layout)
        self._run, self._current = run, -1
        self._session = channel.Session(grader_end, cell_allowance=self.probe_limit)
        self._student_end, self._extra_fds = student_end, (student_end.fileno(),)
        self._judge = JudgeThread(self, run, self._session)
        self._judge.start()
        self.reset_output_budget()
        try:
            super().preprocess(notebook, resources)
        except DeadKernelError:
            run.died = self._current
        except CellTimeoutError:
            # No output, not even the interrupt's, within the timeout: the kernel ignores SIGINT
            # (signal.SIG_IGN and an endless loop). It is shut down with the run; the cell is
            # treated as one that killed the kernel.
            self.log.warning(
                "The kernel did not answer an interrupt in cell %d: it was stopped", self._current
            )
            run.died = self._current
        finally:
            self._judge.stop()
            self.unasked += self._session.wire.ignored
            if self._student_end is not None:
                self._student_end.close()
            self._student_end, self._extra_fds = None, ()
            grader_end.close()
            self._session = self._judge = None
        return run

    def _sources(self, nb, plan: Plan, killers: dict[int, int]) -> list[str]:
        """The student's code cells as the last kernel run ran them (for error carried forward)."""
        sources = []
        for index, cell in enumerate(nb.cells):
            grade_id = nbgrader_meta(cell).get("grade_id")
            if cell.cell_type != "code" or grade_id in plan.cells or is_checks_cell(cell):
                continue
            if killers.get(index) == 1:
                sources.append(carry_forward.definitions_only(cell.source) or "")
            elif index not in killers:
                sources.append(cell.source)
        return sources

    def _write(self, nb, run: KernelRun, plan: Plan, results, killers: dict[int, int]) -> None:
        nb.metadata["language_info"] = run.notebook.metadata.get(
            "language_info", nb.metadata.get("language_info", {})
        )
        # what the student's processes wrote to the grader's channel that answered no question:
        # forgery attempts (they count for nothing), worth a look (gradekit.export.report)
        nb.metadata["gradekit"] = {"unasked_messages": self.unasked}
        write_student_cells(nb, run.notebook.cells, run.layout.roles)
        write_verdicts(nb, run.notebook.cells, run.layout.roles, plan, results)
