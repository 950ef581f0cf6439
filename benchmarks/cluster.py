"""What does grading through Slurm cost, and what would 10,000 submissions take on a cluster?

Grades one synthetic cohort of K submissions (default 100; the mix of benchmarks/grading.py: per 10,
6 reference solutions, 2 with ex1 and ex2, 1 with ex1 only, 1 untouched release) four times, each
time on a fresh PostgreSQL gradebook and with no autograded/ folder:

- the baseline: `python -m gradekit grade --shards 1`, one process on this machine;
- `python -m gradekit grade --shards 2` on this machine;
- the Slurm recipe (cluster/slurm/submit.sh, as docs/scale.md prints it) with 1 array task, then
  with 2, on the cluster of SLURM_CONF: from `submit.sh` until the check job has ended.

Every run must give the baseline's scores and leave nobody missing. For the Slurm runs the
breakdown comes from slurmctld (`scontrol show job`: submit, start and end times, 1 s resolution)
and from each task's nbgrader log (its first student starts, its last student ends), which gives
the two numbers of the projection:

- F, a task's fixed cost: from the task's start until its first student starts (the shard runner's
  start-up, the gradebook check, intake of the shard, nbgrader's start-up);
- c, seconds per submission per task while tasks run side by side (first student's start to last
  student's end, over the students it graded less one).

Projection for N submissions on M nodes with T tasks per node (the measured node: this machine,
T = 2 tasks on its 2 cores): queue wait + F + S * c + the check job, where S is the largest of the
M * T shards of N ids (sha256 spreads them about evenly, not exactly), and the check job's two
commands look at every student: their start-up + N * (their time on the K graded students less
the start-up) / K, timed here after the 2-task run. It assumes that PostgreSQL and the shared
storage keep up with M * T writers, which this one machine cannot measure.

    .ci/postgres.sh run .ci/slurm.sh run python benchmarks/cluster.py [--k 100] [--keep DIR]

(as root; the two scripts start and stop a throwaway PostgreSQL server and a one-node Slurm
cluster, and export KIT_TEST_POSTGRES_URL and SLURM_CONF). The last line is
`cluster: k=<K> local_1=<s> local_2=<s> slurm_1=<s> slurm_2=<s> ratio_slurm_1=<x> ratio_slurm_2=<x>
projected_10000_on_20_nodes=<s>`, wall seconds, ratios over the baseline.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

from grading import LOG_LINE, cohort, hand_in, log, make_course

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: simulation/

from gradekit.cluster.shard import shard_of
from gradekit.cluster.status import grading_status
from gradekit.course import Course
from gradekit.course.notebooks import COURSE_ROOT, read
from gradekit.export import grades
from simulation.course import ASSIGNMENT, NOTEBOOK

SUBMIT = COURSE_ROOT / "cluster" / "slurm" / "submit.sh"
PROJECTED = (10_000, 20)  # submissions, nodes


class Gradebooks:
    """Fresh PostgreSQL databases on the server of an admin URL, dropped at the end."""

    def __init__(self, admin_url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.names: list[str] = []

    def new(self) -> str:
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        name = f"kit_bench_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        from sqlalchemy import text

        with self.admin.connect() as connection:
            for name in self.names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def environment(db_url: str) -> dict[str, str]:
    """What a person has when they run the recipe: the gradebook URL, the kit's environment active."""
    return dict(
        os.environ,
        NBGRADER_DB_URL=db_url,
        VIRTUAL_ENV=sys.prefix,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )


def fresh(course: Path, db_url: str, logfile: Path) -> None:
    """Ungraded again, on a new gradebook: no autograded/ or logs/, the assignment generated into it."""
    for folder in ("autograded", "logs"):
        shutil.rmtree(course / folder, ignore_errors=True)
    with logfile.open("a") as fh:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "generate_assignment",
                ASSIGNMENT,
                "--force",
                f"--db={db_url}",
            ],
            cwd=course,
            env=environment(db_url),
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=True,
        )


def scontrol(*args: str) -> str:
    return subprocess.run(["scontrol", *args], capture_output=True, text=True, check=True).stdout


def jobs(job: str) -> list[dict[str, str]]:
    return [
        dict(re.findall(r"(\w+)=(\S*)", line)) for line in scontrol("show", "job", "-o", job).splitlines()
    ]


def slurm_time(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").timestamp()


def active(job_ids: list[str]) -> bool:
    out = subprocess.run(
        ["squeue", "-h", "-j", ",".join(job_ids)], capture_output=True, text=True, check=True
    ).stdout
    return bool(out.strip())


def student_span(shard_log: Path) -> tuple[float, float, int]:
    """(first student's start, last student's end, students) from a timed nbgrader log."""
    events = [
        (datetime.strptime(t, "%Y-%m-%d %H:%M:%S.%f").timestamp(), m)
        for t, m in LOG_LINE.findall(shard_log.read_text())
    ]
    starts = [t for t, m in events if m.startswith("Creating/updating student")]
    ends = [t for t, m in events if m.startswith("Setting destination file permissions")]
    return min(starts), max(ends), len(starts)


def slurm_run(course: Path, db_url: str, tasks: int) -> dict[str, float]:
    """submit.sh with `tasks` array tasks; wall time and its parts (seconds)."""
    start = time.time()
    out = subprocess.run(
        [str(SUBMIT), f"--array=0-{tasks - 1}"],
        cwd=course,
        env=environment(db_url),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    array, check = out.split()
    connections = 0
    while active([array, check]):
        connections = max(connections, open_connections(db_url))
        time.sleep(0.1)
    wall = time.time() - start
    task_jobs = jobs(array)
    (check_job,) = jobs(check)
    fixed, per_submission = [], []
    for task in task_jobs:
        if task["JobState"] not in ("COMPLETED",):
            raise SystemExit(f"array task {task['JobId']}: {task['JobState']} (see {course / 'logs'})")
        index = task["ArrayTaskId"]
        first, last, students = student_span(course / "logs" / "autograde" / f"shard-{index}-of-{tasks}.log")
        fixed.append(first - slurm_time(task["StartTime"]))
        per_submission.append((last - first) / max(1, students - 1))
    if check_job["JobState"] != "COMPLETED":
        raise SystemExit(f"check job {check}: {check_job['JobState']} (see {course / 'logs'})")
    return {
        "wall": wall,
        "queue": min(slurm_time(t["StartTime"]) for t in task_jobs) - math.floor(start),
        "array": max(slurm_time(t["EndTime"]) for t in task_jobs)
        - min(slurm_time(t["StartTime"]) for t in task_jobs),
        "check": slurm_time(check_job["EndTime"]) - slurm_time(check_job["StartTime"]),
        "fixed": max(fixed),
        "per_submission": max(per_submission),
        "connections": connections,
        "bytes_per_submission": written_bytes(course) / len(Course.load(course).students()),
    }


def check_commands(course: Path, db_url: str) -> dict[str, float]:
    """The check job's commands on the graded course, each timed (seconds; the best of 3), and
    the start-up they include (the interpreter importing gradekit.cluster.runner, twice)."""

    def best(*command: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command, cwd=course, env=environment(db_url), capture_output=True)
            times.append(time.perf_counter() - start)
        return min(times)

    kit = [sys.executable, "-m", "gradekit"]
    return {
        "only_missing": best(*kit, "grade", "--course", str(course), "--shards", "1", "--only-missing"),
        "status": best(*kit, "status", "--course", str(course)),
        "startup": 2 * best(sys.executable, "-c", "import gradekit.cluster.runner"),
    }


def open_connections(db_url: str) -> int:
    """Connections to the gradebook's database now, this query's own left out (pg_stat_activity)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    with (
        psycopg2.connect(
            host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database
        ) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        (count,) = cursor.fetchone()
    connection.close()
    return count


def written_bytes(course: Path) -> int:
    """Bytes in autograded/ and logs/: what grading wrote to the shared storage."""
    files = (f for folder in ("autograded", "logs") for f in (course / folder).rglob("*"))
    return sum(f.stat().st_size for f in files if f.is_file())


def local_run(course: Path, db_url: str, shards: int, logfile: Path) -> float:
    start = time.time()
    with logfile.open("a") as fh:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "gradekit",
                "grade",
                "--course",
                str(course),
                "--shards",
                str(shards),
            ],
            cwd=course,
            env=environment(db_url),
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.time() - start


def check_graded(course: Path, db_url: str, expected: dict | None) -> dict:
    from nbgrader.api import Gradebook

    status = grading_status(course, db_url, Course.load(course).students(), ASSIGNMENT)
    missing = {s: r for s, r in status.items() if r is not None}
    if missing:
        raise SystemExit(f"not graded: {dict(list(missing.items())[:5])}")
    with Gradebook(db_url) as gradebook:
        scores = {g.student: g.cells for g in grades.collect(gradebook, ASSIGNMENT)}
    if expected is not None and scores != expected:
        raise SystemExit("other scores than the baseline's")
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--k", type=int, default=100, help="submissions (default 100)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temp folder)")
    args = parser.parse_args()
    admin_url = os.environ.get("KIT_TEST_POSTGRES_URL")
    if not admin_url or not os.environ.get("SLURM_CONF"):
        parser.error(
            "needs KIT_TEST_POSTGRES_URL and SLURM_CONF: run under .ci/postgres.sh run .ci/slurm.sh run"
        )
    # /var/tmp: the jobs run as the submitting user, from a folder every node sees (here: this one)
    work = args.keep or Path(tempfile.mkdtemp(prefix="kit-cluster-bench-", dir="/var/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    gradebooks = Gradebooks(admin_url)
    k = args.k
    started = time.time()
    try:
        log(f"work folder {work}; output in {logs}")
        course = make_course(work / "course", logs / "setup.log")
        notebooks, _ = cohort(read(course / "release" / ASSIGNMENT / NOTEBOOK), k)
        hand_in(course, ASSIGNMENT, notebooks)
        walls: dict[str, float] = {}
        parts: dict[int, dict[str, float]] = {}

        expected = None
        for shards in (1, 2):
            log(f"local: gradekit grade --shards {shards}, {k} submissions ...")
            db = gradebooks.new()
            fresh(course, db, logs / "setup.log")
            walls[f"local_{shards}"] = local_run(course, db, shards, logs / f"local-{shards}.log")
            expected = check_graded(course, db, expected)
        for tasks in (1, 2):
            log(f"slurm: submit.sh --array=0-{tasks - 1}, {k} submissions ...")
            db = gradebooks.new()
            fresh(course, db, logs / "setup.log")
            parts[tasks] = slurm_run(course, db, tasks)
            walls[f"slurm_{tasks}"] = parts[tasks]["wall"]
            check_graded(course, db, expected)
            if tasks == 2:  # the check job's two commands again, timed here to the millisecond
                checking = check_commands(course, db)
            shutil.copytree(course / "logs", logs / f"slurm-{tasks}", dirs_exist_ok=True)
    finally:
        gradebooks.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    base = walls["local_1"]
    labels = {
        "local_1": "gradekit grade --shards 1 (baseline)",
        "local_2": "gradekit grade --shards 2",
        "slurm_1": "Slurm: submit.sh --array=0-0",
        "slurm_2": "Slurm: submit.sh --array=0-1",
    }
    mix = "mix per 10: 6 reference, 2 ex1+ex2, 1 ex1, 1 blank"
    print(f"grading {k} submissions of {ASSIGNMENT} on PostgreSQL ({mix})")
    load, total = os.getloadavg()[0], time.time() - started
    print(f"{os.cpu_count()} cores, load average at the end {load:.1f}, total {total:.0f} s")
    print()
    print(f"{'run':<40} {'wall s':>8} {'per 100 s':>10} {'ratio':>6} {'vs local':>9}")
    for key, label in labels.items():
        wall = walls[key]
        local = f"{wall / walls['local_' + key[-1]]:9.2f}" if key.startswith("slurm") else ""
        print(f"{label:<40} {wall:8.1f} {wall * 100 / k:10.1f} {wall / base:6.2f} {local}")
    print()
    print(f"{'Slurm, parts (s)':<40} {'1 task':>8} {'2 tasks':>8}")
    names = {
        "queue": "submit.sh until the first task starts",
        "array": "first task start to last task end",
        "check": "check job",
        "fixed": "F: task start to its first student",
        "per_submission": "c: s per submission per task",
        "connections": "gradebook connections at once (0.1 s samples)",
        "bytes_per_submission": "bytes written per submission",
    }
    for key, name in names.items():
        digits = 0 if key in ("connections", "bytes_per_submission") else 2
        print(f"{name:<40} {parts[1][key]:8.{digits}f} {parts[2][key]:8.{digits}f}")
    print()

    submissions, nodes = PROJECTED
    p = parts[2]
    # The shards are as even as a hash makes them: the last task to end has the largest one.
    sizes = Counter(shard_of(f"student{i:05d}", nodes * 2) for i in range(submissions))
    per_task = max(sizes.values())
    # The check job looks at every student (intake, gradebook, autograded notebooks): it grows with
    # the cohort, from the start-up of its two commands.
    per_student = (checking["only_missing"] + checking["status"] - checking["startup"]) / k
    check = checking["startup"] + submissions * per_student
    print(
        f"check job's commands on {k} graded students: --only-missing {checking['only_missing']:.2f} s,"
        f" --status {checking['status']:.2f} s, of which start-up {checking['startup']:.2f} s:"
        f" {per_student * 1000:.1f} ms per student"
    )
    projected = p["queue"] + p["fixed"] + per_task * p["per_submission"] + check
    print(
        f"projection: {submissions} submissions on {nodes} nodes like this one"
        f" (2 tasks each, {nodes * 2} tasks, the largest shard {per_task},"
        f" mean {submissions / nodes / 2:g}):"
        f" {p['queue']:.0f} s queue + F {p['fixed']:.1f} s + {per_task} x c {p['per_submission']:.2f} s"
        f" + check {check:.0f} s = {projected:.0f} s ({projected / 60:.1f} min)"
    )
    print(
        f"cluster: k={k} local_1={walls['local_1']:.1f} local_2={walls['local_2']:.1f}"
        f" slurm_1={walls['slurm_1']:.1f} slurm_2={walls['slurm_2']:.1f}"
        f" ratio_slurm_1={walls['slurm_1'] / base:.2f} ratio_slurm_2={walls['slurm_2'] / base:.2f}"
        f" projected_10000_on_20_nodes={projected:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
