"""One shard's `nbgrader autograde`: nbgrader's own app, with the students to leave out read from a
file instead of the command line.

    python -m gradekit.cluster.autograde_shard EXCLUDE_FILE ASSIGNMENT [nbgrader autograde options ...]

EXCLUDE_FILE holds one student id per line. They become `CourseDirectory.student_id_exclude` (a
comma-separated string, nbgrader 0.9.6) in the configuration the app starts with; the course's
nbgrader_config.py, the user's, and the options given here are loaded on top as usual (none of them
sets that option). A shard of a big course leaves out nearly everyone: 10,000 ids of 13 characters
are more than Linux accepts in one command-line argument (MAX_ARG_STRLEN, 128 KiB: the process
would not start, E2BIG), so gradekit.cluster.shard writes them to a file next to the shard's log.

Exit code: nbgrader's.
"""

from __future__ import annotations

import sys
from pathlib import Path


def read_exclude_file(path: Path) -> list[str]:
    """The ids of an exclude file (one per line, blank lines ignored). Raises OSError."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_exclude_file(path: Path, students: list[str]) -> None:
    """Write `students` (ids without commas or line breaks) one per line. Raises OSError."""
    Path(path).write_text("".join(f"{student}\n" for student in students), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from nbgrader.apps.nbgraderapp import NbGraderApp
    from traitlets.config import Config

    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    exclude_file, *options = argv
    config = Config()
    config.CourseDirectory.student_id_exclude = ",".join(read_exclude_file(Path(exclude_file)))
    NbGraderApp.launch_instance(argv=["autograde", *options], config=config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
