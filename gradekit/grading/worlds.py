"""Error carried forward, run: each failed check again, in the world of its pieces.

gradekit.checks.carry_forward says what a world is (the student's definitions, with the reference
solution's in place of every piece a check is not about). This module runs them: one fresh
sandboxed Python process per set of pieces (not a Jupyter kernel: a world needs no notebook, and a
plain process starts many times faster; forked warm where kernels are, gradekit.sandbox.forked),
fed its cells on its standard input, answering the grader's questions (gradekit.channel.server)
while the failed checks of those pieces run in the grader (gradekit.grading.runner). A check that
passes there scores, and its feedback says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from gradekit import channel
from gradekit.checks import carry_forward
from gradekit.grading import runner
from gradekit.grading.plan import Plan
from gradekit.grading.render import carried_note
from gradekit.sandbox import Sandbox, forked, protected_paths, seccomp_fd, warm_parent
from gradekit.sandbox.autograde import kernel_argv

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


def carry_errors_forward(execute, nb, resources, plan: Plan, results, student_sources: list[str]) -> None:
    """Run every failed check that names pieces again in the world of its pieces, and put the
    result of those that pass there into `results` (grade_id -> name -> Result), with a note.
    `execute` is the JudgedExecute grading the notebook (its config, limits and log)."""
    wanted_by_pieces: dict[frozenset[str], dict[str, list[str]]] = {}
    for grade_id, found in plan.specs.items():
        for item in found:
            if item.tests and not results[grade_id][item.name].passed:
                wanted_by_pieces.setdefault(frozenset(item.tests), {}).setdefault(grade_id, []).append(
                    item.name
                )
    if not wanted_by_pieces:
        execute.log.info("Error carried forward: no failed check names pieces")
        return  # nothing to carry: the student's code need not be parsed
    mine = carry_forward.parse_cells(student_sources)
    definitions = [d for d in map(carry_forward.definitions_only, student_sources) if d]
    runnable = {
        p: w
        for p, w in wanted_by_pieces.items()
        if not carry_forward.unwritten(mine, plan.release, p, plan.reference)
    }
    execute.log.info(
        "Error carried forward: %d world(s) for %d failed check(s) (%d world(s) of pieces as released)",
        len(runnable),
        sum(len(n) for w in wanted_by_pieces.values() for n in w.values()),
        len(wanted_by_pieces) - len(runnable),
    )
    carried, suspects = [], set().union(*(p for p in wanted_by_pieces if p not in runnable))
    for pieces, wanted in sorted(runnable.items(), key=lambda kv: sorted(kv[0])):
        world = carry_forward.world(plan.reference, mine, pieces)
        outcomes, stopped = run_world(execute, nb, resources, plan, [*definitions, world.code], wanted)
        if stopped is not None:
            execute.log.warning("The world of %s stopped in %s", sorted(pieces), stopped)
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


def run_world(execute, nb, resources, plan: Plan, cells: list[str], wanted: dict[str, list[str]]):
    """Run `cells` in a fresh sandboxed Python process, then the checks `wanted` (grade_id ->
    names) against it: their outcomes ((grade_id, name) -> outcome), and the check during which the
    process stopped answering (None if it did not)."""
    grader_end, student_end = channel.channel_pair()
    cpu = channel.current_cpu()
    program = [["<gradekit setup>", channel.server_code(student_end.fileno())]]
    program += [[f"<gradekit world cell {i}>", source] for i, source in enumerate(cells)]
    program.append(["<gradekit checks>", channel.serve_code(cpu)])
    folder = tempfile.mkdtemp(prefix="gradekit-world-")
    outcomes, stopped, process = {}, None, None
    try:
        process = start_world(execute, nb, resources, folder, student_end)
        process.stdin.write(json.dumps(program).encode())
        process.stdin.close()
        cell_timeout = execute.timeout if execute.timeout and execute.timeout > 0 else 30
        # the student's definitions and the world's code run first: they get the cell timeout
        session = channel.Session(grader_end, cell_allowance=cell_timeout * (1 + len(cells)))
        with channel.pinned(cpu):
            stopped = _judge_world(execute, plan, session, wanted, outcomes)
        execute.unasked += session.wire.ignored
    finally:
        if student_end.fileno() != -1:
            student_end.close()
        grader_end.close()
        if process is not None:
            stop_world(process)
        shutil.rmtree(folder, ignore_errors=True)
    return outcomes, stopped


def start_world(execute, nb, resources, folder: str, student_end):
    """A world's process (RUNNER, in the sandbox unless that is allowed off; forked warm when
    kernels are, gradekit.sandbox.forked), its cells still to be written to its standard input; it
    holds `student_end` of the channel (closed here after). A Popen, or a ForkedKernel."""
    cwd = (resources or {}).get("metadata", {}).get("path") or os.getcwd()
    command, env, passed = [kernel_python(execute, nb), "-c", RUNNER], dict(os.environ), ()
    sandbox = Sandbox(parent=execute)
    filter_fd = seccomp_fd()
    try:
        if sandbox.decide(execute.log):
            unused = os.path.join(folder, "connection.json")
            Path(unused).write_text("{}")
            protected = [folder, *protected_paths(execute.config)]
            if (
                sandbox.fork_kernels
                and warm_parent.unavailable_reason() is None
                and warm_parent.is_this_python(command[0])
            ):
                try:
                    return _forked_world(sandbox, command, cwd, unused, protected, student_end)
                except warm_parent.ForkUnavailable as exc:
                    execute.log.warning("Could not fork a world warm (%s): starting it cold", exc)
            command = sandbox.command(
                command, cwd=cwd, connection_file=unused, protected=protected, seccomp=filter_fd
            )
            env, passed = {}, (filter_fd,)
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(student_end.fileno(), *passed),
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    finally:
        os.close(filter_fd)
        student_end.close()


def _forked_world(sandbox, command, cwd, unused, protected, student_end) -> forked.ForkedKernel:
    stdin_read, stdin_write = os.pipe()
    try:
        fds = {0: stdin_read, student_end.fileno(): student_end.fileno()}
        process = forked.fork_process(
            sandbox, command, cwd=cwd, connection_file=unused, protected=protected, fds=fds
        )
    except BaseException:
        os.close(stdin_write)
        raise
    finally:
        os.close(stdin_read)
    process.stdin = os.fdopen(stdin_write, "wb")
    return process


def stop_world(process) -> None:
    """Wait up to 2 s for a world's process to end once its checks are done, then end it (and, for
    a forked one, its sandbox)."""
    if isinstance(process, forked.ForkedKernel):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=2)
        process.kill()
        process.close()
        return
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _judge_world(execute, plan: Plan, session: channel.Session, wanted, outcomes: dict):
    """The checks `wanted` against a world's process; the check it stopped in, or None."""
    try:
        session.ready()
    except (channel.Stuck, NameError):
        return ("", "")
    session.cell_allowance = execute.probe_limit
    for grade_id, names in wanted.items():
        run = runner.run_checks(session, plan.cells[grade_id], names, execute.probe_limit)
        outcomes.update({(grade_id, name): outcome for name, outcome in run.outcomes.items()})
        if run.stuck is not None:
            return (grade_id, run.stuck)
    with contextlib.suppress(channel.Stuck):
        session.done()
    return None


def kernel_python(execute, nb) -> str:
    """The Python of the kernel the notebook asks for (its kernelspec), for world processes."""
    argv = kernel_argv(nb, execute.kernel_name)
    return (shutil.which(argv[0]) or argv[0]) if argv else sys.executable
