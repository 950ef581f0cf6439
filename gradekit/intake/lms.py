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

import contextlib
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
        self._ledger_path, self._extracted = self._find_paths()
        self.ledger: dict = self._load()
        self._names: dict[str, set[str]] = {}  # student -> file names given in this run
        self._save()

    def _find_paths(self) -> tuple[Path | None, Path | None]:
        app = self.parent
        coursedir = getattr(app, "coursedir", None)
        if coursedir is None or not coursedir.assignment_id:
            return None, None
        folder = (
            Path(coursedir.root)
            / getattr(app, "downloaded_directory", "downloaded")
            / coursedir.assignment_id
        )
        return folder / LMS_LEDGER, folder / getattr(app, "extracted_directory", "extracted")

    def _load(self) -> dict:
        """The ledger of earlier runs (a second archive adds to the first: a late mark stays)."""
        ledger: dict = {"students": {}, "unclaimed": []}
        try:
            old = json.loads(self._ledger_path.read_text(encoding="utf-8")) if self._ledger_path else {}
        except (OSError, ValueError):
            old = {}
        if isinstance(old, dict):
            for student, entry in (old.get("students") or {}).items():
                if isinstance(entry, dict):
                    files = [str(f) for f in entry.get("files", []) if isinstance(f, str)]
                    ledger["students"][str(student)] = {"late": entry.get("late") is True, "files": files}
            ledger["unclaimed"] = [str(f) for f in old.get("unclaimed", []) if isinstance(f, str)]
        return ledger

    def _save(self) -> None:
        if self._ledger_path is not None:
            self._ledger_path.parent.mkdir(parents=True, exist_ok=True)
            self._ledger_path.write_text(json.dumps(self.ledger, indent=1) + "\n", encoding="utf-8")

    def _relative(self, path: str) -> list[str]:
        """The parts of `path` inside the extracted folder (all its parts if it is elsewhere)."""
        parts = Path(path).parts
        if self._extracted is not None:
            with contextlib.suppress(ValueError):
                return list(Path(path).resolve().relative_to(self._extracted.resolve()).parts)
        return [p for p in parts if p not in ("/", "")]

    def collect(self, submitted_file: str) -> dict | None:
        """{"student_id", "file_id"} for a file of the archive, or None for a file that is nobody's
        (logged, and listed as unclaimed in the ledger).

        The student is read from the *upload*: the shortest leading part of the file's path inside
        the extracted folder that the pattern matches. An archive a student uploaded is unpacked
        by nbgrader into a folder named after the upload; the files in it are that student's,
        whatever their own names say (a name inside could claim another student's id, or `late_`).
        A file's name is kept, except that an upload named `timestamp.txt` (the time nbgrader
        reads) or starting with a dot is prefixed with `uploaded-`, and a name given twice to one
        student gets ` (2)`, ` (3)`... (nbgrader stops the whole collection on a repeated name)."""
        path = submitted_file.replace("\\", "/")
        if any(re.search(pattern, path) for pattern in self.ignored):
            return None
        parts = self._relative(path)
        match, depth = None, 0
        for depth in range(1, len(parts) + 1):
            match = re.match(self.named_regexp, "/" + "/".join(parts[:depth]))
            if match is not None:
                break
        found = match.groupdict() if match is not None else {}
        student = found.get("student_id") or ""
        file_id = parts[-1] if match is not None and depth < len(parts) else found.get("file_id")
        if not student or not file_id or student.startswith(".") or "/" in student or "\\" in student:
            self.log.error(
                "No student id in the name of %s: it is not collected (c.LmsCollector.named_regexp)",
                submitted_file,
            )
            self.ledger["unclaimed"] = sorted(set(self.ledger["unclaimed"]) | {Path(path).name})
            self._save()
            return None
        if file_id.lower() == "timestamp.txt" or file_id.startswith("."):
            file_id = f"uploaded-{file_id}"
        file_id = self._unique(student, file_id)
        entry = self.ledger["students"].setdefault(student, {"late": False, "files": []})
        entry["late"] = entry["late"] or bool(found.get("late"))
        if Path(path).name not in entry["files"]:
            entry["files"].append(Path(path).name)
        self._save()
        return {"student_id": student, "file_id": file_id}

    def _unique(self, student: str, name: str) -> str:
        taken = self._names.setdefault(student, set())
        stem, dot, suffix = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
        candidate, number = name, 1
        while candidate.lower() in taken:
            number += 1
            candidate = f"{stem} ({number}){dot}{suffix}"
        taken.add(candidate.lower())
        return candidate
