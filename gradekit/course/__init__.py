"""The course as the kit sees it: the one `Course` model, its notebooks and its gradebook.

- `Course` (here): where a course's release, submissions and gradebook are, read once from its
  nbgrader_config.py as nbgrader reads it, and who its students are;
- `notebooks`: the course's paths and nbgrader's metadata of its cells (points, grade ids, what is
  secret);
- `gradebook`: the gradebook's URL as every process must use it, whether it can be used, and what
  it knows of an assignment.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from gradekit.course.gradebook import normalized_db_url
from gradekit.course.notebooks import only_assignment

CONFIG_FILE = "nbgrader_config.py"


@dataclass
class Course:
    """Where one assignment's release, submissions and gradebook are.

    `root`: the course root; `db_url`: the gradebook, normalized (`gradebook.normalized_db_url`);
    `submitted`, `release`: nbgrader's folders (`CourseDirectory`), `release` for this assignment;
    `config`: the course's nbgrader configuration (traitlets Config), loaded once."""

    root: Path
    assignment: str
    db_url: str
    submitted: Path
    release: Path
    config: object = None

    @classmethod
    def from_coursedir(cls, coursedir, assignment: str, config=None) -> Course:
        """From nbgrader's own CourseDirectory (inside an nbgrader command)."""
        root = Path(coursedir.root)
        return cls(
            root,
            assignment,
            normalized_db_url(coursedir.db_url),
            Path(coursedir.format_path(coursedir.submitted_directory, ".", ".")).resolve(),
            Path(coursedir.format_path(coursedir.release_directory, ".", assignment)).resolve(),
            config if config is not None else coursedir.config,
        )

    @classmethod
    def load(cls, root: Path, assignment: str | None = None, db_url: str | None = None) -> Course:
        """From the course's nbgrader_config.py, as nbgrader would read it. The assignment is
        `assignment` if given, else the one assignment of source/ (ValueError if it has several).
        The gradebook is `db_url` if given, else NBGRADER_DB_URL if set, else what the config
        says, else nbgrader's default (gradebook.db in the root)."""
        from nbgrader.coursedir import CourseDirectory

        root = Path(root).resolve()
        assignment = assignment or only_assignment(root)
        config = load_config(root)
        coursedir = CourseDirectory(config=config)
        coursedir.root = str(root)
        chosen = db_url or os.environ.get("NBGRADER_DB_URL")
        if chosen:
            coursedir.db_url = chosen
        return cls.from_coursedir(coursedir, assignment, config)

    @property
    def course_id(self) -> str:
        """See `course_id`."""
        return course_id(self.root, self.config)

    def folder(self, student: str) -> Path:
        """submitted/<student>/<assignment>/"""
        return self.submitted / student / self.assignment

    def due(self) -> dt.datetime | None:
        """The assignment's due date in the gradebook (naive UTC, as nbgrader keeps it), or None."""
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.db_url) as gradebook:
            try:
                return gradebook.find_assignment(self.assignment).duedate
            except MissingEntry:
                return None

    def students(self) -> list[str]:
        """Every student folder in submitted/ that has something for this assignment: its
        assignment folder, or a notebook dropped loose beside it (hidden folders are not students,
        as for nbgrader's glob). The one list of students of every command."""
        if not self.submitted.is_dir():
            return []
        return sorted(
            p.name
            for p in self.submitted.iterdir()
            if p.is_dir() and not p.name.startswith(".") and ((p / self.assignment).is_dir() or _loose(p))
        )


def course_id(root: Path, config=None) -> str:
    """The course's `c.CourseDirectory.course_id` (nbgrader's exchange files assignments by it),
    else the name of its root folder. `config`: the loaded configuration, if at hand."""
    config = load_config(root) if config is None else config
    configured = config.get("CourseDirectory", {}).get("course_id") if "CourseDirectory" in config else None
    return str(configured or Path(root).resolve().name)


def load_config(root: Path, user: bool = False):
    """The course's nbgrader configuration (an empty one if it has no nbgrader_config.py): the
    one loader of the file, for every command of the kit. With `user`, the nbgrader_config.py of
    Jupyter's config folders (~/.jupyter, ...: where a hub puts `c.Exchange.root`) first, the
    course's over them, as an nbgrader command run in the course root reads them."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = Config()
    folders = [*reversed(jupyter_config_path())] if user else []
    for folder in [*folders, str(root)]:
        if (Path(folder) / CONFIG_FILE).exists():
            config.merge(PyFileConfigLoader(CONFIG_FILE, path=str(folder)).load_config())
    return config


def _loose(student_folder: Path) -> bool:
    return any(p.suffix.lower() == ".ipynb" for p in student_folder.iterdir() if p.is_file())
