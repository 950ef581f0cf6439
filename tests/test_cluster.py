"""Grading past one machine, for real: the Slurm recipe of docs/scale.md (the committed files in
cluster/slurm/, which the docs print verbatim) submitted with `sbatch --array` to a one-node Slurm
cluster (.ci/slurm.sh) against a PostgreSQL gradebook, with the course on local storage standing in
for shared storage. Every student ends with exactly the per-cell scores of one sequential
`nbgrader autograde`.

Run with `pytest -m cluster` where SLURM_CONF names a running cluster (`./kit test` as root starts
one: `.ci/slurm.sh run`) and KIT_TEST_POSTGRES_URL a PostgreSQL server; without them the tests skip,
or fail when CI is set.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gradekit.demo import nbgrader
from gradekit.notebooks import ASSIGNMENT, COURSE_ROOT
from gradekit.shards import gradebook_state, shard_of
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


def states(job: str) -> dict[str, tuple[str, str]]:
    """Job or array task id -> (JobState, ExitCode), from slurmctld (no accounting: no sacct)."""
    found = {}
    for line in slurm_run("scontrol", "show", "job", "-o", job).splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
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


def test_the_slurm_recipe_grades_like_one_sequential_autograde(
    slurm,
    course,
    cohort,  # noqa: F811
    sequential,  # noqa: F811
    postgres_db,  # noqa: F811
):
    root = Path(shutil.copytree(course, Path("/var/tmp") / f"kit-cluster-{uuid.uuid4().hex[:8]}"))
    try:
        nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", f"--db={postgres_db}")
        hand_in(root, cohort)
        env = dict(
            os.environ,
            NBGRADER_DB_URL=postgres_db,
            VIRTUAL_ENV=sys.prefix,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        )
        start = time.monotonic()
        submitted = slurm_run(str(RECIPE / "submit.sh"), f"--array=0-{TASKS - 1}", cwd=root, env=env)
        array, check = submitted.split()
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
        for i in range(TASKS):  # each task ran its own shard of the two
            task_output = (root / "logs" / f"slurm-{array}_{i}.out").read_text()
            assert f"shard {i}/{TASKS}:" in task_output and "summary: shards=1" in task_output, task_output

        assert scores_of(postgres_db) == sequential
        assert gradebook_state(postgres_db).submissions == dict.fromkeys(cohort, 1), "one submission each"
        print(f"slurm: {len(cohort)} students, {TASKS} array tasks + check: {seconds:.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
