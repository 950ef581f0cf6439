"""Grading past one machine, for real: the Slurm recipe of docs/scale.md (the committed files in
cluster/slurm/, which the docs print verbatim) submitted with `sbatch --array` to a one-node Slurm
cluster (.ci/slurm.sh) against a PostgreSQL gradebook, with the course on local storage standing in
for shared storage. Every student ends with exactly the per-cell scores of one sequential
`nbgrader autograde`, also when one array task is cancelled and another requeued mid-student: the
check job then grades exactly the students still missing, and nobody is graded twice.

Run with `pytest -m cluster` where SLURM_CONF names a running cluster (`./kit test` as root starts
one: `.ci/slurm.sh run`) and KIT_TEST_POSTGRES_URL a PostgreSQL server; without them the tests skip,
or fail when CI is set.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from gradekit import hub
from gradekit.cluster.shard import shard_of
from gradekit.cluster.status import executed, grading_status
from gradekit.course.gradebook import gradebook_state
from gradekit.course.notebooks import COURSE_ROOT
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.demo import nbgrader
from simulation.submissions import fill, reference_answers
from tests.conftest import hand_in

# the cohort of the shard tests, its sequential scores, a PostgreSQL database (fixtures, used by name)
from tests.test_shards import UNGRADABLE, cohort, postgres_db, scores_of, sequential  # noqa: F401

pytestmark = [pytest.mark.cluster, pytest.mark.course]

RECIPE = COURSE_ROOT / "cluster" / "slurm"
TASKS = 2


@pytest.fixture(scope="module")
def slurm() -> str:
    conf = os.environ.get("SLURM_CONF")
    if not conf or shutil.which("sbatch") is None:
        how = 'start one with `eval "$(.ci/slurm.sh start)"` (or `.ci/slurm.sh run ./kit test`, as root)'
        if os.environ.get("CI"):
            pytest.fail(f"no Slurm cluster (SLURM_CONF) and CI is set: the cluster tests must run; {how}")
        pytest.skip(f"no Slurm cluster: SLURM_CONF is not set ({how})")
    return conf


def slurm_run(*argv: str, **kwargs) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60, **kwargs).stdout


def wait_for(jobs: list[str], timeout: float = 900) -> None:
    """Until none of `jobs` (ids, arrays included) is pending, running or completing."""
    deadline = time.monotonic() + timeout
    while slurm_run("squeue", "-h", "-j", ",".join(jobs), "-o", "%i %T").strip():
        assert time.monotonic() < deadline, slurm_run("squeue", "-j", ",".join(jobs))
        time.sleep(1)


def jobs(job: str) -> list[dict[str, str]]:
    """The records of a job or of an array's tasks, from slurmctld (no accounting: no sacct)."""
    lines = slurm_run("scontrol", "show", "job", "-o", job).splitlines()
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in lines]


def states(job: str) -> dict[str, tuple[str, str]]:
    """Job or array task id -> (JobState, ExitCode)."""
    found = {}
    for fields in jobs(job):
        task = fields.get("ArrayTaskId")
        key = f"{fields['ArrayJobId']}_{task}" if task else fields["JobId"]
        found[key] = (fields["JobState"], fields["ExitCode"])
    return found


def test_the_docs_print_the_recipe_that_is_tested():
    """docs/scale.md shows the committed scripts verbatim: one text, not two."""
    docs = (COURSE_ROOT / "docs" / "scale.md").read_text()
    for name in ("grade.sbatch", "check.sbatch", "submit.sh"):
        text = (RECIPE / name).read_text()
        assert f"```bash\n{text}```" in docs, f"docs/scale.md does not print cluster/slurm/{name} as it is"


@dataclass
class Instructor:
    """A unix account that submits the recipe, as on a real cluster (Slurm runs its jobs as the
    account, and the sandbox on the node then makes a user namespace, docs/sandbox.md), and the
    kit's environment where every account can read it: uv.lock with the postgres extra, the kit as
    a package, Debian's Python (as gradekit.hub builds the hub's)."""

    user: str
    home: Path
    venv: Path


@pytest.fixture(scope="module")
def instructor(slurm):
    if os.geteuid() != 0:
        how = "run it as root: it creates a unix account"
        if os.environ.get("CI"):
            pytest.fail(f"the cluster tests must run when CI is set; {how}")
        pytest.skip(how)
    tag = f"{os.getpid() % 100000}"
    account = Instructor(
        f"kitslurm{tag}", Path(f"/home/kitslurm{tag}"), Path(f"/var/tmp/kit-cluster-env-{tag}")
    )
    try:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", account.user], check=True)
        account.home.chmod(0o700)
        hub.shared_environment(COURSE_ROOT, account.venv, extra="postgres")
        yield account
    finally:
        subprocess.run(["pkill", "-KILL", "-u", account.user], capture_output=True)
        subprocess.run(["userdel", "--remove", account.user], capture_output=True)
        shutil.rmtree(account.venv, ignore_errors=True)


@dataclass
class Shared:
    """A generated course on local storage (/var/tmp) standing in for shared storage, owned by the
    instructor, its gradebook on PostgreSQL, and the environment the instructor has when they run
    submit.sh: NBGRADER_DB_URL set without the password (it is in ~/.pgpass, mode 600, as the
    recipe says), the kit's environment active."""

    root: Path
    db: str
    instructor: Instructor
    env: dict[str, str]
    jobs: list[str] = field(default_factory=list)

    def run(self, *argv: str) -> str:
        """A command run by the instructor in the course folder; its output."""
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        return slurm_run(runuser, "-u", self.instructor.user, "--", *argv, cwd=self.root, env=self.env)

    def submit(self) -> tuple[str, str]:
        """submit.sh as the docs show it, run by the instructor with TASKS array tasks:
        (array job id, check job id)."""
        array, check = self.run(str(RECIPE / "submit.sh"), f"--array=0-{TASKS - 1}").split()
        self.jobs += [array, check]
        return array, check


@pytest.fixture
def shared(course, postgres_db, instructor):  # noqa: F811
    from sqlalchemy.engine import make_url

    root = Path(shutil.copytree(course, Path("/var/tmp") / f"kit-cluster-{uuid.uuid4().hex[:8]}"))
    url = make_url(postgres_db)
    pgpass = instructor.home / ".pgpass"
    line = f"{url.host}:{url.port}:{url.database}:{url.username}:{url.password}\n"
    hub.write_as(instructor.user, pgpass, line, 0o600)
    env = {
        "PATH": f"{instructor.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(instructor.venv),
        "HOME": str(instructor.home),
        "NBGRADER_DB_URL": url.set(password=None).render_as_string(hide_password=False),
        "SLURM_CONF": os.environ["SLURM_CONF"],
        "LANG": "C.UTF-8",
    }
    place = Shared(root, postgres_db, instructor, env)
    try:
        nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", f"--db={postgres_db}")
        yield place
    finally:
        if place.jobs:  # a failed test leaves no job running into the next one
            subprocess.run(["scancel", *place.jobs], capture_output=True, timeout=60)
            wait_for(place.jobs, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
        pgpass.unlink(missing_ok=True)


def graded_in(output: str) -> list[str]:
    """The students a run says it graded, in order (its per-student progress lines)."""
    return re.findall(r"^\[\d+/\d+\] graded (\S+) \(", output, re.M)


def test_the_slurm_recipe_grades_like_one_sequential_autograde(
    slurm,
    shared,
    cohort,  # noqa: F811
    sequential,  # noqa: F811
):
    root, db = shared.root, shared.db
    hand_in(root, cohort)
    hub.chown_tree(root, shared.instructor.user)  # the course, with what was handed in
    # What docs/scale.md asks to run on every node before the array, as the instructor.
    on_each_node = ["srun", "--nodes=1", "--ntasks-per-node=1", "python", "-m"]
    sandbox = shared.run(*on_each_node, "gradekit", "sandbox")
    assert sandbox.startswith("sandbox: available") and "user namespaces" in sandbox, sandbox
    assert "postgresql" in shared.run(*on_each_node, "gradekit", "check-db")
    start = time.monotonic()
    array, check = shared.submit()
    wait_for([array, check])
    seconds = time.monotonic() - start

    # Every task ran its shard; the one with the student that cannot be graded says so (exit 1).
    ungradable = {shard_of(s, TASKS) for s in UNGRADABLE}
    expected = {i: ("FAILED", "1:0") if i in ungradable else ("COMPLETED", "0:0") for i in range(TASKS)}
    outputs = "\n".join(p.read_text()[-1500:] for p in sorted((root / "logs").glob("slurm-*.out")))
    assert states(array) == {f"{array}_{i}": state for i, state in expected.items()}, outputs
    check_output = (root / "logs" / f"slurm-check-{check}.out").read_text()
    assert states(check) == {check: ("FAILED", "1:0")}, check_output  # --status: broken_json missing
    assert set(re.findall(r"^missing: (\w+): not gradable", check_output, re.M)) == UNGRADABLE
    assert graded_in(check_output) == [], check_output  # the array left nothing to grade
    for i in range(TASKS):  # each task ran its own shard of the two
        task_output = (root / "logs" / f"slurm-{array}_{i}.out").read_text()
        assert f"shard {i}/{TASKS}:" in task_output and "summary: shards=1" in task_output, task_output
        mine = {s for s in cohort if shard_of(s, TASKS) == i} - UNGRADABLE
        assert sorted(graded_in(task_output)) == sorted(mine), task_output

    assert scores_of(db) == sequential
    assert gradebook_state(db, ASSIGNMENT).submissions == dict.fromkeys(cohort, 1), "one submission each"

    # The jobs ran as the instructor, each shard's kernels in the sandbox (as a user that is not
    # root: in a user namespace of its own).
    uid = pwd.getpwnam(shared.instructor.user).pw_uid
    assert {p.stat().st_uid for p in (root / "autograded").rglob("*.ipynb")} == {uid}
    for i in range(TASKS):
        shard_log = (root / "logs" / "autograde" / f"shard-{i}-of-{TASKS}.log").read_text()
        assert "Autograding in a bubblewrap sandbox" in shard_log, shard_log[-3000:]
    print(f"slurm: {len(cohort)} students, {TASKS} array tasks + check: {seconds:.1f} s")


# Two more students with the reference answers and a scratch cell that sleeps, so that grading them
# takes long enough to interrupt their task mid-student. Sorted (nbgrader's order), each sits in the
# middle of its shard: shard 0 grades blank, kernel_crash, then laggard (cancelled there), then
# only_ex1 and reference; shard 1 grades ex1_and_ex2, then tortoise (requeued there).
CANCELLED, REQUEUED = "laggard", "tortoise"
SLEEP = 5  # seconds, well inside the cell timeout


def in_progress(root: Path, student: str) -> bool:
    """nbgrader writes the sanitized notebook to autograded/ first and the executed one last."""
    return executed(root / "autograded" / student / ASSIGNMENT / NOTEBOOK) is False


def autograded_at(root: Path, students) -> dict[str, int]:
    """student -> modification time (ns) of their autograded notebook: a student graded again gets a
    new one (nbgrader --force replaces the folder)."""
    return {s: (root / "autograded" / s / ASSIGNMENT / NOTEBOOK).stat().st_mtime_ns for s in students}


def test_a_cancelled_and_a_requeued_task_leave_the_check_job_exactly_what_is_missing(
    slurm,
    shared,
    cohort,  # noqa: F811
    sequential,  # noqa: F811
    release_nb,
):
    root, db = shared.root, shared.db
    slow = fill(release_nb, reference_answers(SOURCE_NOTEBOOK))
    slow.cells.append(nbformat.v4.new_code_cell(f"import time\ntime.sleep({SLEEP})  # scratch"))
    students = {**cohort, CANCELLED: slow, REQUEUED: slow}
    assert (shard_of(CANCELLED, TASKS), shard_of(REQUEUED, TASKS)) == (0, 1), "the hash moved them"
    shard = {i: sorted(s for s in students if shard_of(s, TASKS) == i) for i in range(TASKS)}
    assert shard == {
        0: ["blank", "kernel_crash", CANCELLED, "only_ex1", "reference"],
        1: ["broken_json", "ex1_and_ex2", REQUEUED],
    }
    hand_in(root, students)
    hub.chown_tree(root, shared.instructor.user)  # the course, with what was handed in

    array, check = shared.submit()
    slurm_run("scontrol", "hold", check)  # until the array's state is looked at
    before = {}  # what was graded when each task was interrupted
    interrupted = set()
    deadline = time.monotonic() + 300
    while len(interrupted) < 2:
        assert time.monotonic() < deadline, slurm_run("squeue")
        if CANCELLED not in interrupted and in_progress(root, CANCELLED):
            slurm_run("scancel", f"{array}_0")
            before |= autograded_at(root, ["blank", "kernel_crash"])
            interrupted.add(CANCELLED)
        if REQUEUED not in interrupted and in_progress(root, REQUEUED):
            slurm_run("scontrol", "requeue", f"{array}_1")
            before |= autograded_at(root, ["ex1_and_ex2"])
            interrupted.add(REQUEUED)
        time.sleep(0.1)
    wait_for([array])

    # The cancelled task stopped mid-student and says who it left; the requeued one ran again
    # (its output keeps both runs) and graded only what its first run had not finished.
    cancelled, requeued = ((root / "logs" / f"slurm-{array}_{i}.out").read_text() for i in range(TASKS))
    assert states(array) == {f"{array}_0": ("CANCELLED", "130:0"), f"{array}_1": ("FAILED", "1:0")}, (
        cancelled + requeued
    )
    assert jobs(f"{array}_1")[0]["Restarts"] == "1"
    assert graded_in(cancelled) == ["blank", "kernel_crash"], cancelled
    left = set(re.findall(r"^left: (\w+): ", cancelled, re.M))
    assert left == {CANCELLED, "only_ex1", "reference"}, cancelled
    runs = re.findall(r"^shard 1/2: (\d+) to grade, (\d+) graded already", requeued, re.M)
    assert runs == [("2", "0"), ("1", "1")], requeued
    assert graded_in(requeued) == ["ex1_and_ex2", REQUEUED], requeued
    status = grading_status(root, db, students, ASSIGNMENT)
    missing = {s for s, reason in status.items() if reason is not None}
    assert missing == left | UNGRADABLE, status
    graded = set(students) - missing
    assert autograded_at(root, before) == before, "a student graded before the interruption was graded again"
    graded_at = autograded_at(root, graded)

    slurm_run("scontrol", "release", check)
    wait_for([check])
    check_output = (root / "logs" / f"slurm-check-{check}.out").read_text()
    assert states(check) == {check: ("FAILED", "1:0")}, check_output  # broken_json is still missing
    assert sorted(graded_in(check_output)) == sorted(missing - UNGRADABLE), check_output
    assert f"{len(missing - UNGRADABLE)} to grade, {len(graded)} graded already" in check_output
    assert autograded_at(root, graded) == graded_at, "the check job graded a student again"

    reference = sequential["reference"]
    assert scores_of(db) == {**sequential, CANCELLED: reference, REQUEUED: reference}
    assert gradebook_state(db, ASSIGNMENT).submissions == dict.fromkeys(students, 1), "one submission each"
