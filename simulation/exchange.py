"""Submissions put into nbgrader's exchange as `nbgrader submit` puts them, for the grading
service's tests and benchmark: unix accounts for the students (root only), and submission folders
`inbound/<student>+<assignment>+<time>+<random>` owned by their student, with the notebook,
`timestamp.txt` and `submission_secret.txt`.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import subprocess
import uuid
from pathlib import Path

import nbformat

STAMP = "%Y-%m-%d %H:%M:%S.%f %Z"  # nbgrader's timestamp format (nbgrader.utils.get_timestamp)


def accounts(names: list[str]) -> None:
    """Make sure every one of `names` is a unix account (useradd, no home). Root only."""
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)


def remove_accounts(names: list[str]) -> None:
    for name in names:
        subprocess.run(["userdel", name], capture_output=True)


def submit(
    inbound: Path,
    student: str,
    assignment: str,
    notebooks: dict[str, nbformat.NotebookNode],
    at: dt.datetime | None = None,
    owner: str | None = None,
) -> Path:
    """A submission folder of `student` made at `at` (naive UTC, default now), owned by `owner`
    (default the student) as `nbgrader submit` run by that account makes it; its path."""
    at = at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"
    folder = inbound / f"{student}+{assignment}+{stamp}+{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, str(folder / name))
    (folder / "timestamp.txt").write_text(stamp)
    (folder / "submission_secret.txt").write_text(uuid.uuid4().hex)
    info = pwd.getpwnam(owner or student)
    for path in [folder, *folder.iterdir()]:
        os.chown(path, info.pw_uid, info.pw_gid)
    return folder
