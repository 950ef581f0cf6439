"""The Kubernetes recipe of docs/scale.md (the committed manifests in cluster/kubernetes/, which the
docs print verbatim). No container runtime runs here, so no Kubernetes runs them; what can be
checked without one is checked:

- every manifest is a valid object of the Kubernetes API (kubernetes-validate, the API's OpenAPI
  schemas, strict: no unknown field) for the oldest version the recipe claims and the newest known;
- the rules the API server adds to the schema (an Indexed Job needs completions, a pod failure
  policy needs restartPolicy Never, FailIndex needs backoffLimitPerIndex) and the recipe's own
  (as many shards as completions, the same commands as the tested Slurm recipe, exit codes 1 and 2
  final as gradekit.cluster.runner documents them, every pod on the course volume);
- the pods' commands, run as the kubelet runs them (`sh -c ARGS` in the working directory, with the
  container's environment and JOB_COMPLETION_INDEX), every index then the check Job, grade the
  course like one sequential `nbgrader autograde` (PostgreSQL, as in tests/test_shards.py).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from gradekit.cluster.lifeline import die_with_parent
from gradekit.cluster.shard import shard_of
from gradekit.course.gradebook import gradebook_state
from gradekit.course.notebooks import COURSE_ROOT
from simulation.course import ASSIGNMENT
from simulation.demo import nbgrader
from tests.conftest import hand_in

# the cohort of the shard tests, its sequential scores, a PostgreSQL database (fixtures, used by name)
from tests.test_shards import UNGRADABLE, cohort, postgres_db, scores_of, sequential  # noqa: F401

pytestmark = pytest.mark.cluster

RECIPE = COURSE_ROOT / "cluster" / "kubernetes"
SLURM = COURSE_ROOT / "cluster" / "slurm"
MANIFESTS = ("course-volume.yaml", "grade-job.yaml", "check-job.yaml")
# backoffLimitPerIndex and the FailIndex action are in batch/v1 from Kubernetes 1.29, a container's
# appArmorProfile from 1.30 (docs/scale.md)
OLDEST = "1.30.0"


def manifest(name: str) -> dict:
    return yaml.safe_load((RECIPE / name).read_text())


def pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def container(job: dict) -> dict:
    (only,) = pod(job)["containers"]
    return only


def test_the_docs_print_the_manifests_that_are_tested():
    docs = (COURSE_ROOT / "docs" / "scale.md").read_text()
    assert sorted(p.name for p in RECIPE.iterdir()) == sorted(MANIFESTS)
    for name in MANIFESTS:
        text = (RECIPE / name).read_text()
        assert f"```yaml\n{text}```" in docs, (
            f"docs/scale.md does not print cluster/kubernetes/{name} as it is"
        )


@pytest.mark.parametrize("version", [OLDEST, kubernetes_validate.latest_version()])
@pytest.mark.parametrize("name", MANIFESTS)
def test_each_manifest_is_a_valid_kubernetes_object(name, version):
    kubernetes_validate.validate(manifest(name), version, strict=True)


def test_the_validator_catches_what_a_typo_or_an_old_cluster_would():
    """The check above can fail: a misspelt field, a wrong type, a cluster older than the recipe."""
    job = manifest("grade-job.yaml")
    container(job)["volumeMount"] = container(job).pop("volumeMounts")
    with pytest.raises(kubernetes_validate.ValidationError, match="'volumeMount' was unexpected"):
        kubernetes_validate.validate(job, OLDEST, strict=True)
    job = manifest("grade-job.yaml")
    job["spec"]["completions"] = "20"
    with pytest.raises(kubernetes_validate.ValidationError, match="'20' is not of type 'integer'"):
        kubernetes_validate.validate(job, OLDEST, strict=True)
    # 1.29 had no appArmorProfile field (an annotation instead), 1.28 knew FailIndex only as alpha
    with pytest.raises(kubernetes_validate.ValidationError, match="'appArmorProfile' was unexpected"):
        kubernetes_validate.validate(manifest("grade-job.yaml"), "1.29.0", strict=True)
    with pytest.raises(kubernetes_validate.ValidationError, match="podFailurePolicy"):
        kubernetes_validate.validate(manifest("grade-job.yaml"), "1.28.0", strict=True)


def shards_commands(script: str) -> list[list[str]]:
    """The `python -m gradekit grade ...` commands of a shell script or `sh -c` line, in order,
    each as its arguments after the module name."""
    found = []
    for part in re.split(r"[;\n]|\|\|", script):
        words = shlex.split(part, comments=True)
        words = [w for w in words if w not in ("exec", "true")]
        if words[:4] == ["python", "-m", "gradekit", "grade"]:
            found.append(words[4:])
    return found


def test_the_jobs_run_the_commands_of_the_tested_slurm_recipe():
    grade, check, volume = (manifest(n) for n in ("grade-job.yaml", "check-job.yaml", "course-volume.yaml"))
    spec = grade["spec"]
    # The API server's rules beyond the schema (Kubernetes' Job documentation).
    assert spec["completionMode"] == "Indexed" and spec["completions"] >= 1
    assert pod(grade)["restartPolicy"] == "Never"  # required by podFailurePolicy
    assert "backoffLimitPerIndex" in spec  # required by the FailIndex action
    disrupted, final = spec["podFailurePolicy"]["rules"]
    assert final["action"] == "FailIndex"
    assert final["onExitCodes"]["containerName"] == container(grade)["name"]

    # The recipe's: a pod evicted or preempted is replaced without counting as a failure; exit codes
    # 1 (some students cannot be graded) and 2 (database or course unusable) are final; 3 and 130
    # (incomplete, interrupted) are worth a new pod (gradekit.cluster.runner).
    evicted = {"type": "DisruptionTarget", "status": "True"}
    assert disrupted == {"action": "Ignore", "onPodConditions": [evicted]}
    assert final["onExitCodes"] == {"containerName": "shard", "operator": "In", "values": [1, 2]}
    assert spec["parallelism"] <= spec["completions"]

    # One shard per index, as many shards as completions: the Slurm array task's command with the
    # pod's index and count.
    assert container(grade)["command"] == ["sh", "-c"]
    (pod_command,) = shards_commands(container(grade)["args"][0])
    (task_command,) = shards_commands((SLURM / "grade.sbatch").read_text())
    assert task_command == [
        "--shard-index",
        "$SLURM_ARRAY_TASK_ID",
        "--shards",
        "${KIT_SHARDS:-$SLURM_ARRAY_TASK_COUNT}",
        "--only-missing",
    ]
    assert pod_command == [
        "--shard-index",
        "$JOB_COMPLETION_INDEX",
        "--shards",
        str(spec["completions"]),
        "--only-missing",
    ]
    assert shards_commands(container(check)["args"][0]) == shards_commands(
        (SLURM / "check.sbatch").read_text()
    )

    # Both Jobs: the same image, environment and security context, in the course folder on the
    # ReadWriteMany volume.
    for key in ("image", "env", "securityContext", "workingDir", "volumeMounts", "resources"):
        assert container(check)[key] == container(grade)[key], key
    for key in ("volumes", "automountServiceAccountToken"):
        assert pod(check)[key] == pod(grade)[key], key
    assert pod(grade)["automountServiceAccountToken"] is False
    (mount,) = container(grade)["volumeMounts"]
    assert container(grade)["workingDir"] == mount["mountPath"]
    (course_volume,) = pod(grade)["volumes"]
    assert course_volume["persistentVolumeClaim"]["claimName"] == volume["metadata"]["name"]
    assert volume["spec"]["accessModes"] == ["ReadWriteMany"]
    env = {e["name"]: e for e in container(grade)["env"]}
    assert env["NBGRADER_DB_URL"]["value"].startswith("postgresql+psycopg2://")
    assert ":" not in env["NBGRADER_DB_URL"]["value"].split("//")[1].split("@")[0], "no password in the URL"
    assert "secretKeyRef" in env["PGPASSWORD"]["valueFrom"]


def run_pod(job: dict, course: Path, db_url: str, index: int | None = None) -> subprocess.CompletedProcess:
    """The container of `job` as the kubelet would start it, here: its command and args in its
    working directory (the course), its environment (the gradebook URL pointed at the test's
    database: the password is in it, so no PGPASSWORD), the index of an Indexed Job's pod."""
    spec = container(job)
    env = {e["name"]: e["value"] for e in spec["env"] if "value" in e}
    env |= {
        "NBGRADER_DB_URL": db_url,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    if index is not None:
        env["JOB_COMPLETION_INDEX"] = str(index)
    return subprocess.run(
        [*spec["command"], *spec["args"]],
        cwd=course,
        env={k: v for k, v in os.environ.items() if k != "PGPASSWORD"} | env,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=die_with_parent(),
    )


@pytest.mark.course
def test_the_pods_commands_grade_like_one_sequential_autograde(
    course,
    cohort,  # noqa: F811
    sequential,  # noqa: F811
    postgres_db,  # noqa: F811
    tmp_path,
):
    root = Path(shutil.copytree(course, tmp_path / "course"))
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", f"--db={postgres_db}")
    hand_in(root, cohort)
    grade, check = manifest("grade-job.yaml"), manifest("check-job.yaml")
    shards = grade["spec"]["completions"]

    # Every index, two pods at a time (this machine has 2 cores; the Job runs them all at once).
    with ThreadPoolExecutor(max_workers=2) as pool:
        pods = list(pool.map(lambda i: run_pod(grade, root, postgres_db, i), range(shards)))
    for index, result in enumerate(pods):
        mine = [s for s in cohort if shard_of(s, shards) == index]
        expected = 1 if set(mine) & UNGRADABLE else 0  # 1: final (the pod failure policy's FailIndex)
        assert result.returncode == expected, f"pod {index}: {result.stdout}{result.stderr}"
        assert f"intake: {len(mine)} students" in result.stderr, result.stderr

    result = run_pod(check, root, postgres_db)
    assert result.returncode == 1, result.stdout + result.stderr  # --status: the ungradable is missing
    assert "shard 0/1: 0 to grade" in result.stderr, result.stderr
    assert set(re.findall(r"^missing: (\w+): not gradable", result.stdout, re.M)) == UNGRADABLE
    assert scores_of(postgres_db) == sequential
    assert gradebook_state(postgres_db, ASSIGNMENT).submissions == dict.fromkeys(cohort, 1), (
        "one submission each"
    )
