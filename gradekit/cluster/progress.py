"""Students done so far, as a grading run goes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import IO

from gradekit.cluster.shard import Shard
from gradekit.cluster.status import executed


class Progress:
    """Students done so far, shown as they finish: a progress bar on a terminal (tqdm: done / total,
    elapsed, estimated time left), a plain line per student otherwise (a CI log, a Slurm output
    file). A student is done once its executed notebook has been written in this run, or once
    nbgrader's log says it failed."""

    def __init__(self, course: Path, assignment: str, shards: list[Shard], stream: IO[str]):
        self.course, self.assignment, self.shards, self.stream = course, assignment, shards, stream
        self.start = time.time()
        self.pending = {s: shard for shard in shards for s in shard.students}
        self.seen: dict[str, tuple[float, int]] = {}  # student -> (mtime, size) already looked at
        self.total = len(self.pending)
        self.done = 0
        self.failed: list[str] = []
        self.bar = None
        if stream.isatty() and self.total:
            from tqdm import tqdm

            # No monitor thread: shards are started from this thread with a pre-exec function.
            tqdm.monitor_interval = 0
            try:  # a terminal that does not know its size (0 x 0) would get no bar at all
                known = min(os.get_terminal_size(stream.fileno())) > 0
            except (OSError, ValueError):
                known = False
            self.bar = tqdm(
                total=self.total,
                unit="student",
                desc="grading",
                file=stream,
                dynamic_ncols=known,
                ncols=None if known else 80,
                nrows=None if known else 24,
            )

    def _graded(self, student: str) -> bool:
        folder = self.course / "autograded" / student / self.assignment
        try:
            notebooks = list(folder.glob("*.ipynb"))
            stats = [p.stat() for p in notebooks]
        except OSError:
            return False
        mtime = max((st.st_mtime for st in stats), default=0.0)
        version = (mtime, sum(st.st_size for st in stats))
        if not notebooks or mtime < self.start - 1 or self.seen.get(student) == version:
            return False
        done = [executed(p) for p in notebooks]
        if None in done:  # being written: nbgrader's last write can keep the same mtime, so look again
            return False
        self.seen[student] = version
        return all(done)

    def update(self) -> None:
        """Count and show the students done since the last call. A stop signal (SIGINT, SIGTERM,
        SIGHUP: KeyboardInterrupt) waits until it is over, so that no student is half counted
        (taken off the pending list but never shown)."""
        stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        try:
            self._update()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def _update(self) -> None:
        for shard in self.shards:
            shard.scan_log()
        failed_now = {s for shard in self.shards for s in shard.failed_students} - set(self.failed)
        for student in list(self.pending):
            if student in failed_now:
                self.failed.append(student)
                self._advance(student, "failed")
            elif self._graded(student):
                self._advance(student, "graded")

    def _advance(self, student: str, what: str) -> None:
        del self.pending[student]
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"failed {len(self.failed)}" if self.failed else "", refresh=False)
            self.bar.update(1)
            return
        elapsed = time.time() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(
            f"[{self.done}/{self.total}] {what} {student} ({elapsed:.0f} s elapsed, ~{left:.0f} s left)",
            file=self.stream,
            flush=True,
        )

    def say(self, line: str) -> None:
        """A line between the updates (above the bar on a terminal)."""
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
