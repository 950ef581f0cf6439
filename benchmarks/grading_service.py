"""How long does a student wait for feedback on submit? N students submit within a few seconds
(default 30, each the reference solution or one common mistake of the cohort) into nbgrader's
exchange while the grading service (gradekit.hub.grading_service) runs; for each submission, the
time from its folder appearing in the exchange to its feedback being released. Baseline, in the
same run: one batch `nbgrader autograde` of one student (nbgrader's start-up included), and
`generate_feedback` + `release_feedback` for them, the instructor's own way to the same feedback.

    sudo python benchmarks/grading_service.py [--n 30] [--keep DIR]

Root only (the students are unix accounts: the service grades a folder only for the account that
owns it). The last line is `grading_service: n=<n> median_s=<m> worst_s=<w> batch_one_s=<b>
median_ratio=<m/b> worst_ratio=<w/b>`.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: simulation/

from gradekit.course.notebooks import COURSE_ROOT
from gradekit.hub.ledger import Ledger
from simulation import cohort, exchange
from simulation.course import ASSIGNMENT, NOTEBOOK

MISTAKES = ("bug_tanh_derivative", "bug_assign_in_mul", "bug_order_not_reversed", "bug_no_zero_grad")


def nbgrader(course: Path, *args: str) -> float:
    """Seconds an nbgrader command takes in `course`."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    command = [sys.executable, "-m", "nbgrader", *args]
    subprocess.run(command, cwd=course, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def make_course(root: Path, inbound_root: Path) -> Path:
    course = root / "course"
    course.mkdir(parents=True)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", course)
    shutil.copytree(COURSE_ROOT / "source", course / "source")
    with (course / "nbgrader_config.py").open("a") as fh:
        fh.write(f"\nc.Exchange.root = {str(inbound_root)!r}\nc.GradingService.interval = 0.2\n")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    return course


def batch_one(course: Path, kit: cohort.Kit) -> float:
    """One student graded the instructor's way: autograde, generate and release feedback."""
    folder = course / "submitted" / "batch-one" / ASSIGNMENT
    folder.mkdir(parents=True)
    import nbformat

    nbformat.write(kit.solved(), str(folder / NOTEBOOK))
    (folder / "timestamp.txt").write_text("2026-12-03 12:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("0" * 32)
    seconds = nbgrader(course, "autograde", ASSIGNMENT, "--student", "batch-one", "--force")
    seconds += nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", "batch-one", "--force")
    seconds += nbgrader(course, "release_feedback", ASSIGNMENT, "--student", "batch-one")
    shutil.rmtree(course / "submitted" / "batch-one")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="students submitting at once (default 30)")
    parser.add_argument("--keep", type=Path, help="keep the course here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("root only: the students are unix accounts")
    root = Path(tempfile.mkdtemp(prefix="kit-service-bench-"))
    students = [f"kit-bench-{i:02d}" for i in range(args.n)]
    exchange.accounts(students)
    try:
        exchange_root = root / "exchange"
        inbound = exchange_root / "mini_auto_grad" / "inbound"
        inbound.mkdir(parents=True)
        inbound.chmod(0o1777)
        course = make_course(root, exchange_root)
        kit = cohort.Kit.load(course)
        cases = {c.student: c for c in cohort.catalog()}
        work = [kit.solved()] + [cases[name].build(kit) for name in MISTAKES]
        baseline = batch_one(course, kit)
        print(f"batch, one student (autograde + generate and release feedback): {baseline:.2f} s")
        service = subprocess.Popen(
            [sys.executable, "-m", "gradekit", "grade-on-submit", "--course", str(course)], cwd=COURSE_ROOT
        )
        appeared: dict[str, float] = {}
        try:
            for i, student in enumerate(students):
                folder = exchange.submit(inbound, student, ASSIGNMENT, {NOTEBOOK: work[i % len(work)]})
                appeared[folder.name] = time.time()
                time.sleep(0.1)  # 30 students within a few seconds
            ledger = Ledger(course / "grading_service.sqlite")
            finished: dict[str, float] = {}
            deadline = time.monotonic() + 1800
            while len(finished) < len(students) and time.monotonic() < deadline:
                for attempt in ledger.all():
                    if attempt.status not in ("pending", "grading") and attempt.folder not in finished:
                        finished[attempt.folder] = time.time()
                time.sleep(0.1)
        finally:
            service.terminate()
            service.wait()
        waits = [finished[name] - appeared[name] for name in finished]
        statuses = {t.status for t in Ledger(course / "grading_service.sqlite").all()}
        if len(waits) != len(students) or statuses != {"graded"}:
            raise SystemExit(f"not every submission was graded: {len(waits)} of {len(students)}, {statuses}")
        median, worst = statistics.median(waits), max(waits)
        print(f"time to feedback of {len(waits)} submissions: median {median:.1f} s, worst {worst:.1f} s")
        print(
            f"grading_service: n={len(waits)} median_s={median:.2f} worst_s={worst:.2f}"
            f" batch_one_s={baseline:.2f} median_ratio={median / baseline:.2f}"
            f" worst_ratio={worst / baseline:.2f}"
        )
    finally:
        exchange.remove_accounts(students)
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
