"""Shared fixtures: the reference solution, and throwaway copies of the course for nbgrader."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from gradekit import channel
from gradekit.cluster.lifeline import die_with_parent
from gradekit.course.notebooks import COURSE_ROOT, read
from simulation.course import ASSIGNMENT, NOTEBOOK, SOURCE_NOTEBOOK
from simulation.demo import hand_in, nbgrader  # noqa: F401  (hand_in: used by the test modules)
from simulation.reference import load

# Property tests draw the same examples on every run and every machine: a failure always reproduces.
settings.register_profile("kit", derandomize=True, deadline=None, max_examples=100)
settings.load_profile("kit")


@pytest.fixture(scope="session")
def ref():
    """The reference solution, executed from the source notebook's solution cells."""
    return load(SOURCE_NOTEBOOK)


def make_course(root: Path) -> Path:
    """A copy of the course (config + source) in `root`, with its release and solutions generated
    by nbgrader into a fresh SQLite gradebook there."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root)
    shutil.copytree(COURSE_ROOT / "source", root / "source")
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    nbgrader(root, "generate_solution", ASSIGNMENT, "--force")
    return root


@pytest.fixture(scope="session")
def course(tmp_path_factory) -> Path:
    """A freshly generated course shared by the tests of a session: treat it as read-only."""
    return make_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="session")
def release_nb(course):
    return read(course / "release" / ASSIGNMENT / NOTEBOOK)


@pytest.fixture
def fresh_course(course, tmp_path) -> Path:
    """A private copy of the generated course (gradebook included), for a test that grades."""
    return Path(shutil.copytree(course, tmp_path / "course"))


# A world's runner: each [label, source] from stdin, in __main__, in order; a cell that fails
# costs only itself.
PROGRAM = """\
import json, sys
sys.path.insert(0, %r)
import __main__
for label, source in json.load(sys.stdin):
    try:
        exec(compile(source, label, "exec"), vars(__main__))
    except Exception:
        pass
"""


class StudentProcess:
    """A second Python process that runs `cells` (a student's code), then answers on a channel
    (gradekit.channel), as a world's process does when it is graded: `session` asks it questions,
    `names` is a namespace whose missing names are its globals."""

    def __init__(self, cells: list[str]):
        mine, theirs = channel.channel_pair()
        program = [["setup", channel.server_code(theirs.fileno())]]
        program += [[f"cell {i}", code] for i, code in enumerate(cells)]
        program.append(["serve", channel.serve_code()])
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROGRAM % str(COURSE_ROOT)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(theirs.fileno(),),
            preexec_fn=die_with_parent(),
        )
        theirs.close()
        self.process.stdin.write(json.dumps(program).encode())
        self.process.stdin.close()
        self.session = channel.Session(mine, cell_allowance=60)
        self.session.ready()
        self.session.cell_allowance = 20
        self.names = channel.Namespace(self.session, {})

    def close(self) -> None:
        with contextlib.suppress(channel.Stuck):
            self.session.done()
        self.process.kill()
        self.process.wait()


def grade_with_shards(root: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m gradekit grade` on the course at `root` (intake, then autograding), run to the
    end; it dies with this process, and its nbgrader processes with it."""
    return subprocess.run(
        [sys.executable, "-m", "gradekit", "grade", "--course", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=die_with_parent(),
    )
