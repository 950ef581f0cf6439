"""Where a graded submission's time goes, cell by cell: the course's reference submissions graded by
nbgrader's AutogradeApp in this process (as `nbgrader autograde` does, the kit's config, sandboxed
kernels), the time of each kernel cell summed by its kind:

- `setup`: the grading kernel's first cell (gradekit.channel.boot);
- `student`: the submission's own code cells, each named by its first line;
- `checks <grade_id>`: a test cell, where the kernel answers its visible checks' questions;
- `hidden checks`: the one cell after the last, where it answers every hidden check's;

then the whole of JudgedExecute per submission (kernel start and shutdown, judging, writing the
results included) and of the autograde (nbgrader's other steps too), in seconds per submission,
means over --k submissions (default 6) after one not counted (the warm parent starts with it).

    python benchmarks/kernel_cells.py [--k 6] [--cold] [--keep DIR]

`--cold`: cold kernels (`--Sandbox.fork_kernels=False`). Times are this machine's now: compare two
runs of one code only when run one after the other (grading.py measures ratios in one run). The
last line is `kernel_cells: setup=<s> student=<s> checks=<s> hidden=<s> judged=<s> total=<s>`.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # grading.py, which adds the repository

import grading

from gradekit.cluster.shard import nbgrader_env
from gradekit.course.notebooks import read
from simulation.course import ASSIGNMENT


def label(role, cell) -> str:
    if role.kind == "checks":
        return "hidden checks" if role.index < 0 else f"checks {role.checks[0][0]}"
    if role.kind == "student":
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        return f"student {role.index}: {first[:40]}"
    return role.kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=6, help="reference submissions timed (default 6)")
    parser.add_argument("--cold", action="store_true", help="cold kernels, not forked ones")
    parser.add_argument("--keep", type=Path, help="build the course here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kit-kernel-cells-"))
    course = grading.make_course(root / "course", root / "log.txt")
    release = read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    _, variants = grading.cohort(release, 1)
    grading.hand_in(course, ASSIGNMENT, [variants["reference"]] * (args.k + 1))

    os.chdir(course)
    os.environ.update(nbgrader_env())
    # nbgrader's own update_or_create_submission trips SQLAlchemy's autoflush (as in the tests)
    warnings.filterwarnings("ignore", "Object of type .* not in session")
    from nbgrader.apps.autogradeapp import AutogradeApp

    from gradekit.grading import judge

    seconds: dict[str, float] = collections.defaultdict(float)
    counted = {"on": False}
    cell_of, run_of = judge.JudgedExecute.preprocess_cell, judge.JudgedExecute.preprocess

    def timed_cell(self, cell, resources, index):
        start = time.perf_counter()
        try:
            return cell_of(self, cell, resources, index)
        finally:
            if counted["on"] and self._run is not None:
                seconds[label(self._run.layout.roles[index], cell)] += time.perf_counter() - start

    def timed_run(self, nb, resources=None, km=None):
        start = time.perf_counter()
        try:
            return run_of(self, nb, resources, km)
        finally:
            if counted["on"]:
                seconds["(JudgedExecute, all of it)"] += time.perf_counter() - start

    judge.JudgedExecute.preprocess_cell, judge.JudgedExecute.preprocess = timed_cell, timed_run
    kind = ["--Sandbox.fork_kernels=False"] if args.cold else []
    common = [ASSIGNMENT, "--force", "--log-level=WARN", *kind]
    first = AutogradeApp.instance()
    first.initialize([*common, "--student=s0000"])
    first.start()
    AutogradeApp.clear_instance()
    app = AutogradeApp.instance()
    app.initialize([*common, "--student=s0*", "--CourseDirectory.student_id_exclude=s0000"])
    counted["on"] = True
    start = time.perf_counter()
    app.start()
    total = (time.perf_counter() - start) / args.k
    counted["on"] = False

    per = {name: value / args.k for name, value in seconds.items()}
    print(f"{'s per submission (' + ('cold' if args.cold else 'forked') + ' kernels)':54} {'':>7}")
    for name, value in sorted(per.items(), key=lambda item: -item[1]):
        print(f"{name:54} {value:7.4f}")
    print(f"{'(the whole autograde)':54} {total:7.4f}")

    def sum_of(prefix: str) -> float:
        return sum(v for n, v in per.items() if n.startswith(prefix))

    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"kernel_cells: setup={sum_of('setup'):.4f} student={sum_of('student'):.4f} "
        f"checks={sum_of('checks '):.4f} hidden={sum_of('hidden'):.4f} "
        f"judged={per.get('(JudgedExecute, all of it)', 0):.4f} total={total:.4f}"
    )


if __name__ == "__main__":
    main()
