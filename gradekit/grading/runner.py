"""A test cell's checks, run in the grader against a student's process (gradekit.channel).

`run_checks` executes a test cell's code (hidden checks and expectations included: this is the
grader's process) in a `channel.Namespace`, so that the student's names are stand-ins for the
student's objects, and runs the probes it is asked for, one at a time, each with its time limit.
What each probe returned, or the exception it raised, is its *outcome*; the verdict is taken from
it later (gradekit.checks.verdict). Nothing of this reaches the student's process but the questions
the probes ask.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gradekit import channel, checks
from gradekit.checks import probes

KERNEL_DIED = {
    "type": "KernelDied",
    "message": "the kernel stopped while this check ran (os._exit, a crash)",
    "origin": "grader",
}
KEPT_RUNNING = {"type": "Timeout", "message": "kept running after its time limit"}


@dataclass
class CellRun:
    """What became of the checks a test cell was asked to run."""

    outcomes: dict[str, dict] = field(default_factory=dict)  # check name -> outcome
    started: list[str] = field(default_factory=list)  # checks that started, in order
    stuck: str | None = None  # the check during which the student's process stopped answering
    gone: bool = False  # ... because it is gone (dead), rather than busy past its time


def run_checks(
    session: channel.Session,
    cell: probes.TestCell,
    names: list[str] | set[str],
    default_limit: float,
    on_start: Callable[[str], None] | None = None,
) -> CellRun:
    """Run the checks `names` of `cell` against the process behind `session`, in the order the
    cell defines them. A check's limit is its own `limit=`, else `default_limit` seconds. Stops at
    the first check during which the process stops answering (`CellRun.stuck`)."""
    run = CellRun()
    wanted = set(names)
    namespace = channel.Namespace(
        session,
        {"check": checks.check, "report": checks.report, "identify": checks.identify, "__name__": "__main__"},
    )
    try:
        session.unlimited()
        with probes.spec_mode():
            exec(cell.code, namespace)
            found = list(checks.spec_checks())
    except channel.Stuck as exc:
        run.stuck, run.gone = "", "gone" in str(exc)
        return run
    except Exception as exc:  # the cell's own code failed (its author's mistake, or a missing name)
        problem = {
            "type": "TestCellError",
            "message": f"the test cell could not run: {exc!r}"[:300],
            "origin": "grader",
        }
        for name in names:
            run.outcomes[name] = {"error": problem}
        return run
    for item in found:
        if item.name not in wanted:
            continue
        run.started.append(item.name)
        if on_start is not None:
            on_start(item.name)
        limit = item.limit if item.limit is not None else default_limit
        try:
            with session.check_scope():
                namespace.in_check = True
                try:
                    run.outcomes[item.name] = observe(item, session, limit)
                finally:
                    namespace.end_check()
        except channel.Stuck as exc:
            run.stuck, run.gone = item.name, "gone" in str(exc)
            run.outcomes[item.name] = {"error": KERNEL_DIED if run.gone else KEPT_RUNNING}
            return run
    return run


def observe(item: checks.Check, session: channel.Session, limit: float) -> dict:
    """Run the probe of `item` for at most `limit` seconds of the student's code: {"value": plain
    data} or {"error": {"type", "message"}}, and "seconds" it took. Raises channel.Stuck when the
    student's process stops answering."""
    start = time.monotonic()
    session.limit(limit)
    try:
        outcome = {"value": json.loads(json.dumps(checks.plain(item.probe())))}
    except channel.ProbeTimeout:
        outcome = {"error": {"type": "Timeout", "message": f"still running after {limit:g} s"}}
    except channel.Stuck:
        raise
    except BaseException as exc:  # SystemExit too: a check never ends anything
        outcome = {"error": checks.failure(exc)}
    finally:
        session.unlimited()
    outcome["seconds"] = round(time.monotonic() - start, 4)
    return outcome
