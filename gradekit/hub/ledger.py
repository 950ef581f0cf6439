"""The grading service's ledger: every submission it has seen in the exchange, once, with what
became of it. A SQLite file in the course root (`grading_service.sqlite`), beside the gradebook.

A submission is a row from the moment it is seen (`pending`); the service claims a batch
(`grading`), then records each `graded` (with its score), `refused` (past the tries' limit, with
the message) or `failed` (with the reason). The exchange folder's name is the key, so no
submission is graded twice, whatever the number of service processes; a service killed while
grading leaves `grading` rows, which the next one takes up again (`recover`): nothing is lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS tries (
    folder TEXT PRIMARY KEY,        -- inbound/<student>+<assignment>+<time>+<random>
    student TEXT NOT NULL,
    assignment TEXT NOT NULL,
    submitted TEXT NOT NULL,        -- naive UTC, ISO 8601
    status TEXT NOT NULL,           -- pending, grading, graded, refused, failed
    score REAL,                     -- points, when graded
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS tries_by_student ON tries (student, assignment, submitted);
"""


@dataclass(frozen=True)
class Try:
    """One submission in the exchange and what became of it (`score` in points)."""

    folder: str
    student: str
    assignment: str
    submitted: dt.datetime
    status: str
    score: float | None = None
    message: str = ""


class Ledger:
    """The ledger at `path` (created if missing). Every method is one transaction."""

    def __init__(self, path: Path):
        self.path = Path(path)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def _connect(self):
        """One transaction (BEGIN IMMEDIATE: one writer at a time), committed, and closed."""
        db = sqlite3.connect(self.path, timeout=60, isolation_level="IMMEDIATE")
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def add(self, found: list[Try]) -> int:
        """Record submissions seen for the first time as pending; how many were new."""
        with self._connect() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO tries (folder, student, assignment, submitted, status)"
                " VALUES (?, ?, ?, ?, 'pending')",
                [(t.folder, t.student, t.assignment, t.submitted.isoformat()) for t in found],
            )
            return db.total_changes - before

    def claim(self) -> list[Try]:
        """The pending tries, oldest first, now `grading` (no other process gets them)."""
        with self._connect() as db:
            pending = "SELECT * FROM tries WHERE status = 'pending' ORDER BY submitted, folder"
            rows = db.execute(pending).fetchall()
            claimed = [(r["folder"],) for r in rows]
            db.executemany("UPDATE tries SET status = 'grading' WHERE folder = ?", claimed)
        return [_try(r) for r in rows]

    def recover(self) -> int:
        """Tries a killed service left `grading`, pending again; how many."""
        with self._connect() as db:
            return db.execute("UPDATE tries SET status = 'pending' WHERE status = 'grading'").rowcount

    def finish(self, folder: str, status: str, score: float | None = None, message: str = "") -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE tries SET status = ?, score = ?, message = ? WHERE folder = ?",
                (status, score, message, folder),
            )

    def of(self, student: str, assignment: str) -> list[Try]:
        """A student's tries of an assignment, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM tries WHERE student = ? AND assignment = ? ORDER BY submitted, folder",
                (student, assignment),
            ).fetchall()
        return [_try(r) for r in rows]

    def all(self) -> list[Try]:
        with self._connect() as db:
            return [_try(r) for r in db.execute("SELECT * FROM tries ORDER BY submitted, folder")]


def _try(row: sqlite3.Row) -> Try:
    return Try(
        row["folder"],
        row["student"],
        row["assignment"],
        dt.datetime.fromisoformat(row["submitted"]),
        row["status"],
        row["score"],
        row["message"],
    )
