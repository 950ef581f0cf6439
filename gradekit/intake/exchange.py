"""nbgrader's exchange, collected without trusting what students wrote into it
(`c.ExchangeFactory.collect = "gradekit.intake.exchange.SafeCollect"`).

Every student can write into the exchange's `inbound/` folder (nbgrader 0.9.6 makes it `-wx` for
all), and `nbgrader collect` runs as the instructor. Stock collect trusts the folder's name for the
student id and the time (`<student>+<assignment>+<time>+<random>`), only *warns* when the folder
belongs to another account (`check_owner`), follows symbolic links (`shutil.copytree` without
`symlinks=True`: a link to the instructor's source notebook or gradebook is copied as that file),
and stops for everyone at a name whose time does not parse. An adversarial review of the demo hub
(docs/hub.md) used each: another student's grade replaced by a blank notebook, full marks from a
link to the source notebook (hidden tests and all), the gradebook read back through feedback.

`SafeCollect` takes a submission folder only when all of these hold, else skips it with an error
naming the folder and the reason (the student's previous submission, if any, stays collected):
- the name parses, and its student is a unix account that owns the folder and everything in it;
- nothing in it is a symbolic link, device or pipe; only folders and regular files;
- its time (in the name, and in its timestamp.txt) is not later than the folder's inode change
  time (which its owner cannot set) plus `clock_skew` seconds: no submission from the future, so
  none that stays "latest" or dodges a late penalty by its own say;
- it has the `submission_secret.txt` that `nbgrader submit` writes (feedback is released by it).
The copy keeps links as links (a backstop for a link made after the check), and gradekit.intake
never reads through a link.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import pwd
import shutil
import stat
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect, groupby
from nbgrader.utils import ignore_patterns, parse_utc
from traitlets import Float


def untrusted(path: Path, clock_skew: float = 300.0) -> str | None:
    """None if the exchange folder at `path` (`inbound/<student>+<assignment>+<time>+<random>`) is a
    submission its student made with `nbgrader submit`, else why not (the rules of the module
    docstring; `clock_skew` in seconds). Used by `SafeCollect` and by the grading service."""
    parts = path.name.rsplit("+", 3)
    if len(parts) < 3:
        return "its name is not <student>+<assignment>+<time>+<random>"
    student, stated = parts[0], parts[2]
    try:
        claimed = parse_utc(stated)
    except Exception:  # dateutil's ParserError, OverflowError...
        return f"the time in its name ({stated[:40]!r}) is not a time"
    try:
        uid = pwd.getpwnam(student).pw_uid
    except KeyError:
        return f"{student!r} is not an account here"
    try:
        top = os.lstat(path)
    except OSError as error:
        return f"it cannot be read ({error.strerror})"
    if not stat.S_ISDIR(top.st_mode):
        return "it is not a folder"
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in ["", *dirs, *files]:  # the folder itself first
            entry = Path(folder) / name if name else Path(folder)
            info = os.lstat(entry)
            kind = stat.S_IFMT(info.st_mode)
            if kind not in (stat.S_IFDIR, stat.S_IFREG):
                what = "a symbolic link" if kind == stat.S_IFLNK else "not a regular file"
                return f"{entry.relative_to(path.parent)} is {what}"
            if info.st_uid != uid:
                return f"{entry.relative_to(path.parent)} does not belong to {student}"
    changed = dt.datetime.fromtimestamp(top.st_ctime, dt.UTC).replace(tzinfo=None)
    latest = changed + dt.timedelta(seconds=clock_skew)
    if claimed > latest:
        return f"its time {claimed} is after the folder was made ({changed:%Y-%m-%d %H:%M:%S} UTC)"
    stamp = path / "timestamp.txt"
    if stamp.exists():
        try:
            written = parse_utc(stamp.read_text(encoding="utf-8", errors="replace").strip())
        except Exception:
            return "its timestamp.txt is not a time"
        if written > latest:
            return f"its timestamp.txt ({written}) is after the folder was made"
    if not (path / "submission_secret.txt").is_file():
        return "it has no submission_secret.txt (nbgrader submit writes one)"
    return None


class SafeCollect(ExchangeCollect):
    """nbgrader's default collect, for submissions a student's own `nbgrader submit` made (see
    the module docstring)."""

    clock_skew = Float(
        300.0, help="Seconds a submission's stated time may be ahead of its folder's change time."
    ).tag(config=True)

    def _untrusted(self, path: Path) -> str | None:
        return untrusted(path, self.clock_skew)

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        student_id = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = os.path.join(self.inbound_path, f"{student_id}+{self.coursedir.assignment_id}+*")
        records = []
        for found in sorted(glob.glob(pattern)):
            why = self._untrusted(Path(found))
            if why is not None:
                self.log.error("Not collected: %s: %s", found, why)
                continue
            records.append(self._path_to_record(found))
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                self.duedate = gradebook.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        newest = {}
        for student, theirs in groupby(records, lambda item: item["username"]).items():
            ordered = self._sort_by_timestamp(theirs)
            if self.duedate is not None and self.before_duedate:
                on_time = [r for r in ordered if r["timestamp"] <= self.duedate]
                ordered = on_time or ordered
            newest[student] = ordered[0]
        self.src_records = list(newest.values())

    def do_copy(self, src, dest, log=None):
        """nbgrader's copy (its ignore patterns and size limits), keeping links as links. (No
        `groupshared` course folders: the kit's course does not use them.)"""
        size = self.get_size(src)
        if size > 1000 * self.coursedir.max_dir_size:
            self.log.error("Directory size is too big")
            raise RuntimeError(f"Directory size is too big: {size} bytes")
        ignore = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )
        shutil.copytree(src, dest, symlinks=True, ignore=ignore)
