"""Submission times as students' machines and LMSs write them, read as the time they state.

nbgrader 0.9.6 reads `timestamp.txt` with `dateutil.parser.parse` and its own offset handling
(`nbgrader.utils.parse_utc`): `+0100` becomes 100 seconds, free text raises inside the app
(`AttributeError: 'CourseDirectory' object has no attribute 'fail'`), and the student is then
recorded as not submitted. `read_timestamp` reads ISO 8601 (ISO 8601-1:2019, the subset below) and
`nbgrader_timestamp` writes a time back in the format of nbgrader's exchange, which nbgrader reads
as written.
"""

from __future__ import annotations

import datetime as dt
import re

_TIMESTAMP = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[ T]"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,6}))?)?"
    r"\s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z][A-Za-z0-9_+\-/]*)?$"
)


def read_timestamp(text: str) -> dt.datetime:
    """A submission time as a naive UTC datetime (nbgrader's convention). Accepts ISO 8601 with a
    space or `T`, seconds optional, and a zone that is `Z`, a numeric offset (`+01:00`, `+0100`,
    `-05`), a zone name (`UTC`, `CET`, `Europe/Berlin`, as the tz database knows it), or nothing
    (UTC). Raises ValueError with the reason for anything else."""
    text = text.strip()
    match = _TIMESTAMP.match(text)
    if not match:
        raise ValueError("not a date and time (YYYY-MM-DD HH:MM:SS, optionally with a zone)")
    parts = [int(match[k] or 0) for k in ("year", "month", "day", "hour", "minute", "second")]
    microseconds = int((match["fraction"] or "0").ljust(6, "0"))
    try:
        moment = dt.datetime(*parts, microseconds)
    except ValueError as error:
        raise ValueError(f"not a valid date and time ({error})") from None
    zone = match["zone"]
    if zone is None or zone in ("Z", "UTC", "GMT"):
        return moment
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 14 or minutes > 59:
            raise ValueError(f"not a UTC offset: {zone}")
        offset = dt.timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
        try:
            return moment - offset
        except OverflowError:
            raise ValueError(_OUT_OF_RANGE) from None
    info = _tz_database_zone(zone)
    if info is None:
        raise ValueError(f"unknown time zone {zone!r} (a name of the tz database, e.g. Europe/Berlin)")
    try:
        return moment.replace(tzinfo=info).astimezone(dt.UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):  # ValueError: the zone's rules cannot place the moment
        raise ValueError(_OUT_OF_RANGE) from None


_OUT_OF_RANGE = "not a valid date and time (outside the years 1 to 9999 once in UTC)"


def nbgrader_timestamp(moment: dt.datetime) -> str:
    """A naive UTC time in the format nbgrader's exchange writes (`Exchange.timestamp_format`).
    The year always has four digits (strftime's `%Y` writes year 999 as `999`, which dateutil
    reads as another date)."""
    return moment.isoformat(sep=" ", timespec="microseconds") + " UTC"


def nbgrader_reads(text: str) -> dt.datetime | None:
    """What nbgrader 0.9.6 makes of a timestamp (`nbgrader.utils.parse_utc`), None if it fails."""
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(text.strip())
    except Exception:  # ValueError, OverflowError, dateutil's ParserError...
        return None


def _tz_database_zone(name: str) -> dt.tzinfo | None:
    """The zone of that name in the tz database (the system's, else the copy dateutil ships), or
    None. Only names: POSIX TZ strings such as `UTC+1` (which means UTC-1) are refused."""
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    from dateutil.zoneinfo import get_zonefile_instance

    return get_zonefile_instance().get(name)
