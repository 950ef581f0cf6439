"""How fast does the course grade? Autogrades a synthetic cohort of K submissions, in one run:

- sequential `nbgrader autograde` runs (seconds per submission, nbgrader's start-up included) with
  the kit's kernels, forked from a warm parent (gradekit.sandbox.forked), then the same with cold
  kernels (`--Sandbox.fork_kernels=False`), taking turns with those of the floor (below), --rounds
  of each (default 2), averaged; both kinds must give the same scores;
- `python -m gradekit grade --shards N` for N = 1, 2, 4 (wall time, same cohort, fresh gradebook);
- one mistake each: --mistakes submissions (default 10) cycling through five one-mistake cases of
  the cohort, graded sequentially, to show what error carried forward costs (a world is a fresh
  sandboxed Python process, run only for failed checks whose pieces are written);
- the floor: a trivial one-cell notebook assignment (one test cell, `assert True`) with K
  submissions, graded sequentially the same way, with cold kernels: what nbgrader costs per
  submission whatever the notebook holds;
- where the time of one submission goes: the phases of each student in nbgrader's own log of the
  sequential runs (timed to the millisecond: gradebook and copying, sanitizing, executing and saving
  the scores, writing), nbgrader's start-up and exit (once per process), and, measured alone with
  nbclient on the very notebooks nbgrader executed, a kernel start, the notebook's cells and a
  kernel shutdown, forked and cold.

    python benchmarks/grading.py [--k 200] [--shards 1,2,4] [--rounds 2] [--keep DIR]

The cohort cycles through 10 students: 6 reference solutions, 2 with ex1 and ex2 done, 1 with only
ex1, 1 untouched release. Every run must give the same scores as the sequential one. The last line
is `grading: s_per_submission=<x> floor=<y> ratio=<x/y> speedup_2_shards=<z> cold_ratio=<c/y>`,
where x, c and y are sequential seconds per submission (forked kernels, cold kernels, the floor)
and z is sequential wall time over the 2-shard wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: simulation/

from gradekit.cluster.shard import LOG_FORMAT, nbgrader_env
from gradekit.cluster.status import grading_status
from gradekit.course import Course
from gradekit.course.notebooks import COURSE_ROOT, read
from gradekit.export import grades
from simulation import cohort as catalog_of_cases
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.submissions import fill, only, reference_answers, region_exercises

FLOOR = "floor"
COLD = "--Sandbox.fork_kernels=False"  # a cold kernel per submission (the floor's always are)
MIX = ["reference"] * 6 + ["ex1_and_ex2"] * 2 + ["only_ex1", "blank"]
MISTAKES = (
    "bug_tanh_derivative",
    "bug_order_not_reversed",
    "bug_neuron_no_bias",
    "bug_rsub_order",
    "bug_radd_recursion",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \[AutogradeApp \| \w+\] (.*)$", re.M)
# Each student's grading in nbgrader 0.9.6's log: the message that opens each phase, in order.
PHASES = {
    "Creating/updating student": "gradebook and copying files",
    "Sanitizing ": "sanitizing the submission",
    "Autograding ": "executing, saving the scores",
    "Writing ": "writing the graded notebook",
    "Setting destination file permissions": "(done)",
}


def phases(log_text: str) -> dict[str, float]:
    """Mean seconds per student of each phase, from a timed nbgrader autograde log (LOG_FORMAT)."""
    events = [
        (datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f").timestamp(), m) for t, m in LOG_LINE.findall(log_text)
    ]
    totals = dict.fromkeys(PHASES.values(), 0.0)
    students = 0
    current = None  # (phase, start)
    for when, message in events:
        marker = next((m for m in PHASES if message.startswith(m)), None)
        if marker is None or (marker == "Writing " and "autograded" not in message):
            continue
        if marker == "Creating/updating student":
            students += 1
        elif marker == "Writing " and current and current[0] != "executing, saving the scores":
            continue  # the sanitized copy is written inside the sanitizing phase
        if current:
            totals[current[0]] += when - current[1]
        current = (PHASES[marker], when) if marker != "Setting destination file permissions" else None
    del totals["(done)"]
    return {phase: seconds / max(students, 1) for phase, seconds in totals.items()}


def mean_phases(logfiles: list[Path]) -> dict[str, float]:
    """`phases` of several runs, averaged."""
    runs = [phases(path.read_text()) for path in logfiles]
    return {phase: statistics.mean(r[phase] for r in runs) for phase in runs[0]}


def run(course: Path, logfile: Path, *command: str, check: bool = True) -> float:
    """Run a command in the course (nbgrader's output to `logfile`); return its wall time."""
    start = time.perf_counter()
    with logfile.open("a") as fh:
        fh.write(f"\n# {' '.join(command)}\n")
        fh.flush()
        result = subprocess.run(command, cwd=course, env=nbgrader_env(), stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if check and result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)} (see {logfile})")
    return seconds


def nbgrader(course: Path, logfile: Path, *args: str, check: bool = True) -> float:
    return run(
        course,
        logfile,
        sys.executable,
        "-m",
        "nbgrader",
        *args,
        f"--NbGrader.log_format={LOG_FORMAT}",
        check=check,
    )


def make_course(root: Path, logfile: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root)
    shutil.copytree(COURSE_ROOT / "source", root / "source")
    nbgrader(root, logfile, "generate_assignment", ASSIGNMENT)
    return root


def make_floor_course(root: Path, logfile: Path) -> Path:
    """The same configuration, one assignment whose notebook is one test cell worth one point."""
    root.mkdir(parents=True)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root)
    cell = new_code_cell("assert True")
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "floor_test",
        "locked": True,
        "points": 1,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    nb = new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    (root / "source" / FLOOR).mkdir(parents=True)
    nbformat.write(nb, str(root / "source" / FLOOR / f"{FLOOR}.ipynb"))
    nbgrader(root, logfile, "generate_assignment", FLOOR)
    return root


def hand_in(course: Path, assignment: str, notebooks: list[nbformat.NotebookNode]) -> list[str]:
    students = []
    for i, nb in enumerate(notebooks):
        student = f"s{i:04d}"
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, str(folder / f"{assignment}.ipynb"))
        students.append(student)
    return students


def cohort(release, k: int) -> tuple[list[nbformat.NotebookNode], dict[str, nbformat.NotebookNode]]:
    answers = reference_answers(SOURCE_NOTEBOOK)
    exercises = region_exercises(read(SOURCE_NOTEBOOK))
    variants = {
        "reference": fill(release, answers),
        "ex1_and_ex2": fill(release, only(answers, exercises, {"ex1", "ex2"})),
        "only_ex1": fill(release, only(answers, exercises, {"ex1"})),
        "blank": release,
    }
    return [variants[MIX[i % len(MIX)]] for i in range(k)], variants


def reset(course: Path) -> None:
    """Ungraded again: no autograded/, no logs, the gradebook as generate_assignment left it."""
    for folder in ("autograded", "logs"):
        shutil.rmtree(course / folder, ignore_errors=True)
    shutil.copy(course / "gradebook.pristine.db", course / "gradebook.db")


def scores(course: Path) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {g.student: g.cells for g in grades.collect(gradebook, ASSIGNMENT)}


def graded_all(course: Path) -> bool:
    status = grading_status(
        course, f"sqlite:///{course / 'gradebook.db'}", Course.load(course).students(), ASSIGNMENT
    )
    return all(reason is None for reason in status.values())


def all_graded(course: Path) -> None:
    status = grading_status(
        course, f"sqlite:///{course / 'gradebook.db'}", Course.load(course).students(), ASSIGNMENT
    )
    missing = {s: r for s, r in status.items() if r is not None}
    if missing:
        raise SystemExit(f"not graded: {dict(list(missing.items())[:5])}")


def kernel_manager(course: Path, cold: bool = False):
    """The kernel manager class nbgrader uses in `course`, its config, and a label: the sandbox's
    (gradekit.sandbox) when the course's autograde steps run kernels in the sandbox and it works
    here, forked unless `cold` or the course says c.Sandbox.fork_kernels = False (or kernels cannot
    be forked here); else jupyter_client's plain one."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    try:
        from gradekit import sandbox
        from gradekit.sandbox import forked, warm_parent
    except ImportError:
        return AsyncKernelManager, config, "plain kernel"
    steps = sandbox.course_autograde_preprocessors(course / "nbgrader_config.py")
    sandboxed = any(map(sandbox.is_sandboxed_execute, steps))
    policy = sandbox.Sandbox(config=config)
    if sandboxed and policy.unavailable_reason() is None:
        if not cold and policy.fork_kernels and warm_parent.unavailable_reason() is None:
            return forked.ForkedKernelManager, config, "sandboxed kernel, forked"
        return sandbox.SandboxedKernelManager, config, "sandboxed kernel, cold"
    return AsyncKernelManager, config, "plain kernel"


async def _execute(
    nb: nbformat.NotebookNode, cwd: Path, course: Path, cold: bool = False
) -> tuple[float, float, float]:
    """Kernel start, cell execution, kernel shutdown of one notebook, as nbgrader runs it in
    `course` (nbclient, a fresh python3 kernel without history, errors allowed, the course's
    kernel manager, NBGRADER_EXECUTION=autograde)."""
    from nbclient import NotebookClient
    from nbgrader.utils import setenv

    manager, config, _ = kernel_manager(course, cold)
    client = NotebookClient(
        nb,
        timeout=30,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        kernel_manager_class=manager,
        config=config,
    )
    client.reset_execution_trackers()
    # nbgrader's kernel runs with NBGRADER_EXECUTION=autograde (the notebook skips its plots then).
    with setenv(NBGRADER_EXECUTION="autograde"):
        t0 = time.perf_counter()
        client.km = client.create_kernel_manager()
        if hasattr(client.km, "sandbox_protected"):  # what SandboxedExecute does
            client.km.sandbox_protected = (str(course), str(course / "gradebook.db"))
        await client.async_start_new_kernel(cwd=str(cwd), stderr=subprocess.DEVNULL)
        await client.async_start_new_kernel_client()
        t1 = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        t2 = time.perf_counter()
        await client._async_cleanup_kernel()
        t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def breakdown(course: Path, students: list[str], repeats: int, cold: bool = False) -> dict:
    """Mean kernel start / cells / kernel shutdown over one cycle of the mix (the first 10 students),
    re-executing the notebooks that nbgrader executed (autograded/, outputs cleared); the median of
    `repeats` runs per notebook."""
    runs = {}
    # The warm parent starts once per grading process (with its first kernel), not per submission:
    # started here before the measurements (gradekit.sandbox.warm_parent.WarmParent.started_in says how long).
    first = course / "autograded" / students[0] / ASSIGNMENT / NOTEBOOK
    empty = nbformat.v4.new_notebook(metadata=read(first).metadata)
    asyncio.run(_execute(empty, first.parent, course, cold))
    for student, variant in zip(students, MIX):
        path = course / "autograded" / student / ASSIGNMENT / NOTEBOOK
        nb = read(path)
        samples = []
        for _ in range(repeats):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            samples.append(asyncio.run(_execute(nb, path.parent, course, cold)))
        runs[student] = (variant, [statistics.median(sample[j] for sample in samples) for j in range(3)])
    mean = [statistics.mean(times[j] for _, times in runs.values()) for j in range(3)]
    per_variant = {}
    for variant, times in runs.values():
        per_variant.setdefault(variant, []).append(times[1])
    return {
        "kernel_start": mean[0],
        "execution": mean[1],
        "kernel_shutdown": mean[2],
        "per_variant_execution": {v: statistics.mean(t) for v, t in per_variant.items()},
    }


def print_breakdown(k: int, runs: dict, floor_run: tuple, kernel_label: str) -> None:
    """Where one submission's time goes: `runs` (name -> (s/submission, phases, kernel parts)) and
    the floor's (s/submission, phases, [kernel start, cells, shutdown])."""
    floor, floor_phases, (floor_start, floor_cells, floor_stop) = floor_run
    floor_once = floor - sum(floor_phases.values())
    floor_exec = floor_phases["executing, saving the scores"]
    floor_rest = floor_exec - floor_start - floor_cells - floor_stop
    names = list(runs)
    print(
        f"{'one submission, sequential run (s)':<46}" + "".join(f" {n:>8}" for n in names) + f" {'floor':>8}"
    )

    def row(label: str, values: list[float], floor_value: float) -> None:
        print(f"{label:<46}" + "".join(f" {v:8.3f}" for v in values) + f" {floor_value:8.3f}")

    once = [per - sum(phases.values()) for per, phases, _ in runs.values()]
    row(f"nbgrader start-up and exit ({once[0] * k:.1f} s) / K", once, floor_once)
    for phase in floor_phases:
        row(phase, [phases[phase] for _, phases, _ in runs.values()], floor_phases[phase])
    row("total", [per for per, _, _ in runs.values()], floor)
    print(f"'executing, saving the scores', measured alone (course: {kernel_label}; floor: cold):")
    for key, label, floor_value in (
        ("kernel_start", "  kernel start (nbclient, until ready)", floor_start),
        ("execution", "  the notebook's cells (nbclient)", floor_cells),
        ("kernel_shutdown", "  kernel shutdown (nbclient)", floor_stop),
    ):
        row(label, [parts[key] for _, _, parts in runs.values()], floor_value)
    rests = [
        phases["executing, saving the scores"]
        - parts["kernel_start"]
        - parts["execution"]
        - parts["kernel_shutdown"]
        for _, phases, parts in runs.values()
    ]
    row("  the rest: nbgrader's preprocessors, scores", rests, floor_rest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--k", type=int, default=200, help="submissions (default 200)")
    parser.add_argument("--shards", default="1,2,4", help="shard counts to measure (default 1,2,4)")
    parser.add_argument("--repeats", type=int, default=3, help="nbclient runs per variant for the breakdown")
    parser.add_argument(
        "--mistakes", type=int, default=10, help="one-mistake submissions graded (default 10)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="sequential runs of the course and of the floor, taking turns"
    )
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    shard_counts = [int(n) for n in args.shards.split(",")]
    if 2 not in shard_counts:
        parser.error("--shards must include 2 (the last line reports the 2-shard speedup)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="kit-grading-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    k = args.k
    notes: list[str] = []
    started = time.perf_counter()
    try:
        log(f"work folder {work}; nbgrader's output in {logs}")
        course = make_course(work / "course", logs / "setup.log")
        notebooks, _ = cohort(read(course / "release" / ASSIGNMENT / NOTEBOOK), k)
        students = hand_in(course, ASSIGNMENT, notebooks)
        shutil.copy(course / "gradebook.db", course / "gradebook.pristine.db")

        log(f"floor: trivial one-cell notebook, {k} submissions ...")
        floor_course = make_floor_course(work / "floor", logs / "setup.log")
        release = read(floor_course / "release" / FLOOR / f"{FLOOR}.ipynb")
        hand_in(floor_course, FLOOR, [release] * k)
        shutil.copy(floor_course / "gradebook.db", floor_course / "gradebook.pristine.db")

        # The course (forked kernels, then cold ones) and the floor take turns, so that a machine
        # that gets busier or quieter during the run weighs on all alike.
        sequential_walls, cold_walls, floor_walls = [], [], []
        for turn in range(args.rounds):
            log(f"round {turn + 1}/{args.rounds}: {k} submissions with forked kernels, cold ones, the floor")
            reset(course)
            sequential_walls.append(
                nbgrader(course, logs / f"sequential-{turn}.log", "autograde", ASSIGNMENT)
            )
            all_graded(course)
            expected = scores(course)
            reset(course)
            cold_walls.append(nbgrader(course, logs / f"cold-{turn}.log", "autograde", ASSIGNMENT, COLD))
            all_graded(course)
            if scores(course) != expected:
                raise SystemExit("cold kernels gave other scores than forked ones")
            reset(floor_course)
            floor_walls.append(nbgrader(floor_course, logs / f"floor-{turn}.log", "autograde", FLOOR, COLD))
        walls = {"sequential": statistics.mean(sequential_walls)}
        cold_wall, floor_wall = statistics.mean(cold_walls), statistics.mean(floor_walls)
        course_phases = mean_phases([logs / f"sequential-{turn}.log" for turn in range(args.rounds)])
        cold_phases = mean_phases([logs / f"cold-{turn}.log" for turn in range(args.rounds)])
        floor_phases = mean_phases([logs / f"floor-{turn}.log" for turn in range(args.rounds)])
        if "Kernels are forked from a warm parent" not in (logs / "sequential-0.log").read_text():
            notes.append("kernels were NOT forked (see the reason in sequential-0.log): both runs are cold")
        parts = breakdown(course, students, args.repeats)
        cold_parts = breakdown(course, students, args.repeats, cold=True)

        log(f"one mistake each: {args.mistakes} submissions ...")
        mistakes_course = make_course(work / "mistakes", logs / "setup.log")
        kit = catalog_of_cases.Kit.load(mistakes_course)
        cases = {case.student: case for case in catalog_of_cases.catalog()}
        wrong = [cases[MISTAKES[i % len(MISTAKES)]].build(kit) for i in range(args.mistakes)]
        hand_in(mistakes_course, ASSIGNMENT, wrong)
        mistakes_wall = nbgrader(mistakes_course, logs / "mistakes.log", "autograde", ASSIGNMENT)
        worlds = re.findall(r"Error carried forward: (\d+) world", (logs / "mistakes.log").read_text())
        mistakes_phases = phases((logs / "mistakes.log").read_text())

        for n in shard_counts:
            log(f"{n} shard(s) ...")
            reset(course)
            command = [
                sys.executable,
                "-m",
                "gradekit",
                "grade",
                "--course",
                str(course),
                "--shards",
                str(n),
            ]
            walls[f"shards N={n}"] = run(course, logs / f"shards-{n}.log", *command, check=False)
            if not graded_all(course):  # what a user would do next; its time counts too
                log(f"note: the {n}-shard run left students ungraded; an --only-missing run completes it")
                notes.append(f"shards N={n}: needed an --only-missing rerun (see {logs / f'shards-{n}.log'})")
                walls[f"shards N={n}"] += run(course, logs / f"shards-{n}.log", *command, "--only-missing")
            all_graded(course)
            if scores(course) != expected:
                raise SystemExit(f"{n} shards gave other scores than the sequential run")
            shard_logs = "".join(p.read_text() for p in (course / "logs" / "autograde").glob("*.log"))
            for marker in ("database is locked", "Address already in use"):
                if marker in shard_logs:
                    notes.append(f"shards N={n}: '{marker}' in the shard logs (the shard was rerun)")

        floor_path = floor_course / "autograded" / "s0000" / FLOOR / f"{FLOOR}.ipynb"
        floor_nb = read(floor_path)
        floor_parts = [
            asyncio.run(_execute(floor_nb, floor_path.parent, floor_course, cold=True))
            for _ in range(args.repeats)
        ]
        kernel_label = kernel_manager(course)[2]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    seq = walls["sequential"]
    s_per, cold = seq / k, cold_wall / k
    floor = floor_wall / k
    total = time.perf_counter() - started
    print(f"grading {k} submissions of {ASSIGNMENT} (mix per 10: 6 reference, 2 ex1+ex2, 1 ex1, 1 blank)")
    print(f"{os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.1f}, total {total:.0f} s")
    print()
    print(f"{'run':<36} {'wall s':>8} {'s/submission':>13} {'speedup':>8}")
    for name, wall in walls.items():
        label = (
            "sequential nbgrader autograde" if name == "sequential" else f"gradekit grade --shards {name[-1]}"
        )
        print(f"{label:<36} {wall:8.1f} {wall / k:13.3f} {seq / wall:8.2f}")
    print(f"{'sequential, cold kernels':<36} {cold_wall:8.1f} {cold:13.3f} {seq / cold_wall:8.2f}")
    print(f"{'floor: 1-cell notebook, cold kernels':<36} {floor_wall:8.1f} {floor:13.3f}")
    print()

    floor_parts_median = [statistics.median(p[j] for p in floor_parts) for j in range(3)]
    print_breakdown(
        k,
        {"forked": (s_per, course_phases, parts), "cold": (cold, cold_phases, cold_parts)},
        (floor, floor_phases, floor_parts_median),
        kernel_label,
    )
    executions = ", ".join(f"{v} {s:.2f} s" for v, s in parts["per_variant_execution"].items())
    print(f"cells per variant: {executions}")
    mistakes_exec = mistakes_phases["executing, saving the scores"]
    course_exec = course_phases["executing, saving the scores"]
    print(
        f"one mistake each ({', '.join(MISTAKES)}): {mistakes_wall / args.mistakes:.3f} s/submission, "
        f"'executing, saving the scores' {mistakes_exec:.3f} s (the mix above: {course_exec:.3f} s), "
        f"{sum(map(int, worlds)) / max(len(worlds), 1):.1f} world(s) per submission"
    )
    for note in notes:
        print(f"note: {note}")
    print()
    overhead = parts["kernel_start"] + parts["kernel_shutdown"]
    cold_overhead = cold_parts["kernel_start"] + cold_parts["kernel_shutdown"]
    print(f"kernel start + shutdown: {overhead:.3f} s forked ({kernel_label}), {cold_overhead:.3f} s cold")
    print(
        f"grading: s_per_submission={s_per:.3f} floor={floor:.3f} ratio={s_per / floor:.2f}"
        f" speedup_2_shards={seq / walls['shards N=2']:.2f} cold_ratio={cold / floor:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
