"""`nbgrader zip_collect` for LMS downloads, losing no student (c.ZipCollectApp.collector_plugin).

nbgrader's `FileNameCollectorPlugin` skips, with a warning only, every file whose name its regular
expression does not match and every file that is not a notebook, so a student who renamed their
upload (`mini_auto_grad (1).ipynb`, `homework.ipynb`) or uploaded a `.py` vanishes from the
gradebook, the export and the report; and Canvas's `late_` marker in the name is thrown away.

`LmsCollector` reads only the student id from the LMS's part of the name and keeps the uploaded
file's own name, so every upload lands in `submitted/<student>/<assignment>/` under the name the
student gave it: `gradekit.intake` then picks the notebook to grade, or flags the student with the
reason. It writes what the names said into `downloaded/<assignment>/lms.json`: which students the
LMS marked late (intake turns that into a timestamp when the assignment has a due date) and which
files carry no student id at all (`unclaimed`: the kit's summaries list them).

The default pattern fits Canvas's *Download Submissions* archive,
`<name>_[late_]<user id>_<submission id>_<uploaded file name>` (e.g.
`smithj_late_1234_5678_mini_auto_grad-1.ipynb`); set `c.LmsCollector.named_regexp` for another LMS
(it needs the groups `student_id` and `file_id`, and may have `late`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import List, Unicode

from gradekit.intake import LMS_LEDGER

CANVAS = r".*/(?P<student_id>[^/_]+)_(?:(?P<late>late)_)?\d+_\d+_(?P<file_id>[^/]+)$"


class LmsCollector(FileNameCollectorPlugin):
    """Every file of the archive to its student, under its own name (see the module docstring)."""

    named_regexp = Unicode(CANVAS, help="Reads student_id, file_id and late from a file's path.").tag(
        config=True
    )
    ignored = List(
        [r"(^|/)__MACOSX/", r"(^|/)\.DS_Store$", r"(^|/)Thumbs\.db$", r"(^|/)desktop\.ini$"],
        help="Files of the archive that are nobody's submission (patterns on the path).",
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ledger: dict = {"students": {}, "unclaimed": []}
        self._ledger_path = self._find_ledger()
        self._save()

    def _find_ledger(self) -> Path | None:
        app = self.parent
        coursedir = getattr(app, "coursedir", None)
        if coursedir is None or not coursedir.assignment_id:
            return None
        folder = (
            Path(coursedir.root)
            / getattr(app, "downloaded_directory", "downloaded")
            / coursedir.assignment_id
        )
        return folder / LMS_LEDGER

    def _save(self) -> None:
        if self._ledger_path is not None:
            self._ledger_path.parent.mkdir(parents=True, exist_ok=True)
            self._ledger_path.write_text(json.dumps(self.ledger, indent=1) + "\n", encoding="utf-8")

    def collect(self, submitted_file: str) -> dict | None:
        """{"student_id", "file_id"} for a file of the archive, or None for a file that is nobody's
        (logged, and listed as unclaimed in the ledger)."""
        path = submitted_file.replace("\\", "/")
        if any(re.search(pattern, path) for pattern in self.ignored):
            return None
        match = re.match(self.named_regexp, path)
        if match is None or not match.groupdict().get("student_id") or not match.groupdict().get("file_id"):
            self.log.error(
                "No student id in the name of %s: it is not collected (c.LmsCollector.named_regexp)",
                submitted_file,
            )
            self.ledger["unclaimed"].append(Path(path).name)
            self._save()
            return None
        found = match.groupdict()
        student = found["student_id"]
        entry = self.ledger["students"].setdefault(student, {"late": False, "files": []})
        entry["late"] = entry["late"] or bool(found.get("late"))
        entry["files"].append(Path(path).name)
        self._save()
        return {"student_id": student, "file_id": found["file_id"]}
