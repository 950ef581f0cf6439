"""A copied or moved checkout works: its `.venv` (copied along, full of the old place's paths) is
made again where it now is, the small demo runs there, and nothing it writes or prints resolves to
the old place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradekit.course.notebooks import COURSE_ROOT

pytestmark = pytest.mark.course


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=COURSE_ROOT, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def copy_checkout(target: Path) -> None:
    """The committed files, as a clone has them, plus the .venv and .tools of this checkout (hard
    links: a copy as `cp -r` makes it, at no cost)."""
    for name in tracked_files():
        source = COURSE_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for folder in (".venv", ".tools"):
        if (COURSE_ROOT / folder).is_dir():
            subprocess.run(["cp", "-al", str(COURSE_ROOT / folder), str(target / folder)], check=True)


def test_a_copied_checkout_makes_its_venv_again_and_runs_the_small_demo(tmp_path):
    if not (COURSE_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    copy = tmp_path / "moved checkout"  # a space, too
    copy.mkdir()
    copy_checkout(copy)
    bin_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != bin_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")} | {"PATH": path}
    result = subprocess.run(["./kit", "demo", "--small"], cwd=copy, env=env, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "making it again here" in result.stderr
    assert "\nas expected: 7/7 students\n" in result.stdout, result.stdout
    assert (copy / ".venv" / ".location").read_text().strip() == str(copy.resolve())
    old = str(COURSE_ROOT)
    said = [line for line in output.splitlines() if old in line]
    assert said == [f"kit: .venv was made in {old}: making it again here"], said  # only where it was
    written = [copy / "report.html", copy / "grades_by_exercise.csv"]
    for folder in ("release", "solutions", "feedback", "logs", "autograded"):
        written += [p for p in (copy / folder).rglob("*") if p.is_file()]
    leaks = [str(p.relative_to(copy)) for p in written if old.encode() in p.read_bytes()]
    assert not leaks, f"these files name the old place {old}: {leaks}"
    where = subprocess.run(
        [str(copy / ".venv" / "bin" / "python"), "-c", "import gradekit; print(gradekit.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(copy.resolve())), where.stdout
