"""What does the sandbox cost? Per-submission autograde time, sandboxed and not, in one run.

    python benchmarks/sandbox.py [--students 4] [--rounds 3]

Builds a course in a temporary directory (this repo's nbgrader_config.py and source/), hands in
`--students` copies of the reference solution, and autogrades them with `nbgrader autograde` in two
configurations that differ only in the kernel: the course's own autograde steps with
gradekit.sandbox.SandboxedExecute (docs/sandbox.md) or with nbgrader's stock Execute, alternately,
`--rounds` times.
A submission's time runs from nbgrader's "Creating/updating student" log line to its "Setting
destination file permissions" line (sanitize, kernel start, execution, shutdown, grades saved), so
nbgrader's start-up (~3 s, paid once per command) is left out. A bare kernel (start, one trivial
cell, shutdown) is timed both ways too. Medians are reported; other load on the machine shows up as
noise, which the alternation spreads over both sides. The last line is
`sandbox: overhead_ratio=<sandboxed / unsandboxed>` (per-submission medians).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: simulation/

from gradekit.course.notebooks import COURSE_ROOT, read
from gradekit.sandbox import (
    Sandbox,
    SandboxedKernelManager,
    course_autograde_preprocessors,
    with_sandboxed_execute,
)
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.submissions import fill, reference_answers

MODES = ("unsandboxed", "sandboxed")


def config_lines(mode: str) -> str:
    """The course's own autograde steps, with nbgrader's Execute or the sandboxed one."""
    steps = course_autograde_preprocessors(COURSE_ROOT / "nbgrader_config.py")
    if mode == "sandboxed":
        steps, exporter = with_sandboxed_execute(steps), "gradekit.sandbox.SandboxCheckedExporter"
    else:
        steps = [
            s.replace("gradekit.sandbox.SandboxedExecute", "nbgrader.preprocessors.Execute") for s in steps
        ]
        exporter = "nbconvert.exporters.NotebookExporter"
    return f"\nc.Autograde.exporter_class = {exporter!r}\nc.Autograde.autograde_preprocessors = {steps!r}\n"


def nbgrader(course: Path, *args: str) -> str:
    """Run nbgrader in `course` (this environment's bin/ first on PATH); its log, each line starting
    with its time stamp."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--NbGrader.log_format=%(created)f %(message)s"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"nbgrader {' '.join(args)} failed in {course}:\n{result.stderr[-3000:]}")
    return result.stderr


def submission_times(log: str) -> list[float]:
    """Seconds per submission, from an autograde log with time stamps."""
    times, start = [], None
    for line in log.splitlines():
        stamp, _, message = line.partition(" ")
        if message.startswith("Creating/updating student"):
            start = float(stamp)
        elif message.startswith("Setting destination file permissions") and start is not None:
            times.append(float(stamp) - start)
            start = None
    return times


def make_courses(root: Path, students: int) -> dict[str, Path]:
    """One course per mode, generated once and copied (gradebook included)."""
    base = root / "base"
    base.mkdir()
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", base)
    shutil.copytree(COURSE_ROOT / "source", base / "source")
    nbgrader(base, "generate_assignment", ASSIGNMENT, "--force")
    reference = fill(read(base / "release" / ASSIGNMENT / NOTEBOOK), reference_answers(SOURCE_NOTEBOOK))
    courses = {}
    for mode in MODES:
        course = Path(shutil.copytree(base, root / mode))
        with (course / "nbgrader_config.py").open("a") as fh:
            fh.write(config_lines(mode))
        for k in range(students):
            folder = course / "submitted" / f"student{k:02d}" / ASSIGNMENT
            folder.mkdir(parents=True)
            nbformat.write(reference, str(folder / NOTEBOOK))
        courses[mode] = course
    return courses


def bare_kernel(kernel_manager_class, cwd: Path) -> float:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    start = time.perf_counter()
    NotebookClient(
        nb, kernel_manager_class=kernel_manager_class, resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--students", type=int, default=4, help="cohort size (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="autograde commands per mode (default 3)")
    args = parser.parse_args(argv)
    reason = Sandbox().unavailable_reason()
    if reason:
        sys.exit(f"sandbox: cannot run: {reason}")

    with tempfile.TemporaryDirectory(prefix="gradekit-bench-") as tmp:
        root = Path(tmp)
        courses = make_courses(root, args.students)
        kernel = {mode: [] for mode in MODES}
        per_submission = {mode: [] for mode in MODES}
        for _ in range(args.rounds):
            for mode in MODES:
                log = nbgrader(courses[mode], "autograde", ASSIGNMENT, "--force")
                times = submission_times(log)
                if len(times) != args.students or (mode == "sandboxed") != ("bubblewrap sandbox" in log):
                    sys.exit(f"unexpected autograde log ({mode}):\n{log[-3000:]}")
                per_submission[mode] += times
            for mode, km in (("unsandboxed", AsyncKernelManager), ("sandboxed", SandboxedKernelManager)):
                kernel[mode].append(bare_kernel(km, root))

    print(f"{args.students} reference submissions x {args.rounds} autograde commands per mode, medians:")
    for mode in MODES:
        print(
            f"  {mode:<12} per submission {statistics.median(per_submission[mode]):6.2f} s"
            f"   bare kernel start + 1 cell + shutdown {statistics.median(kernel[mode]):5.2f} s"
        )
    ratio = statistics.median(per_submission["sandboxed"]) / statistics.median(per_submission["unsandboxed"])
    print(f"sandbox: overhead_ratio={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
