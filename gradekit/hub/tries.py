"""Graded tries: how many submissions of one student are graded per window of time, and which
graded try counts.

A student has `limit` graded tries in any window of `window` seconds (a sliding window: a try
counts for `window` seconds after it was submitted). A submission past the limit is kept, not
graded, and answered with the time the next graded try opens: when the oldest graded try of the
window leaves it. The grade that counts is the last graded try (nbgrader's own rule: the gradebook
holds the submission graded last), or the best one (`counts = "best"`).

Times are naive UTC datetimes, as nbgrader keeps them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """Whether a submission is graded; if not, when the next graded try opens (naive UTC)."""

    graded: bool
    opens: dt.datetime | None = None

    def message(self, limit: int, window: float) -> str:
        """What the student reads for a try that is not graded."""
        if self.graded:
            return ""
        hours = window / 3600
        span = f"{hours:g} hours" if hours != 1 else "hour"
        return (
            f"Not graded: you have used your {limit} graded tries of the last {span}. This"
            f" submission is kept. Your next graded try opens at {self.opens:%Y-%m-%d %H:%M} UTC."
        )


def decide(graded_at: Iterable[dt.datetime], submitted: dt.datetime, limit: int, window: float) -> Decision:
    """Whether a try submitted at `submitted` is graded, given when the student's earlier graded
    tries were submitted (`graded_at`), `limit` tries per `window` seconds. Raises ValueError for a
    limit below 1 or a window that is not positive."""
    if limit < 1 or window <= 0:
        raise ValueError(f"tries_per_window must be at least 1 and window positive, not {limit}, {window}")
    span = dt.timedelta(seconds=window)
    recent = sorted(t for t in graded_at if submitted - span < t <= submitted)
    if len(recent) < limit:
        return Decision(True)
    return Decision(False, recent[len(recent) - limit] + span)


def counting(tries: list[tuple[dt.datetime, float]], counts: str) -> int | None:
    """The index in `tries` ((submitted, score) of every graded try, in order) of the try whose
    grade counts: the last one, or the best (the earliest of equal bests); None if there is none.
    Raises ValueError for a `counts` other than "last" and "best"."""
    if counts not in ("last", "best"):
        raise ValueError(f'counts must be "last" or "best", not {counts!r}')
    if not tries:
        return None
    if counts == "last":
        return len(tries) - 1
    best = max(score for _, score in tries)
    return next(i for i, (_, score) in enumerate(tries) if score == best)
