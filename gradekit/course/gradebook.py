"""The gradebook: its URL as every process of a course must use it, whether it can be used, and
what it knows of an assignment.

nbgrader keeps grades in a SQLAlchemy database (`CourseDirectory.db_url`): SQLite in the course root
by default, PostgreSQL for shards on several machines (`postgresql+psycopg2://...`; a bare
`postgresql://` URL makes SQLAlchemy 2 look for psycopg 3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

SQLITE_BUSY_TIMEOUT = 60  # seconds a SQLite writer waits for another process's lock


class DatabaseError(RuntimeError):
    """The gradebook cannot be used: bad URL, missing driver, unreachable, or not generated."""


def parse_url(url: str):
    """`url` parsed by SQLAlchemy; raises DatabaseError when it is no database URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError as error:
        raise DatabaseError(f"not a database URL: {url!r} ({error})") from None


def masked(url: str) -> str:
    """The URL with its password hidden, for logs and printed commands."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except DatabaseError:
        return url


def normalized_db_url(url: str, busy_timeout: int = SQLITE_BUSY_TIMEOUT) -> str:
    """`url` as every shard should use it: a SQLite path made absolute (nbgrader runs in the course
    root, not here) and given a busy timeout (pysqlite's default is 5 s)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return url
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    if "timeout" not in parsed.query:
        parsed = parsed.update_query_dict({"timeout": str(busy_timeout)})
    return parsed.render_as_string(hide_password=False)


def engine_for(url: str, connect_timeout: int = 10):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    parsed = parse_url(url)
    connect_args = {"connect_timeout": connect_timeout} if parsed.get_backend_name() == "postgresql" else {}
    try:
        return create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    except ImportError as error:  # the dialect's driver is not installed
        hint = ""
        if parsed.get_backend_name() == "postgresql":
            hint = (
                " (nbgrader's gradebook on PostgreSQL needs psycopg2: `pip install psycopg2-binary` and a"
                " postgresql+psycopg2:// URL; a bare postgresql:// URL makes SQLAlchemy look for psycopg 3)"
            )
        raise DatabaseError(f"no driver for {masked(url)}: {error}{hint}") from None


def check_database(url: str, assignment: str | None, retries: int = 0, wait: float = 2.0) -> str:
    """Raise DatabaseError unless the gradebook at `url` can be used; return a one-line description.

    With `assignment=None`, check only that the database can be reached (use it before
    `nbgrader generate_assignment --force`, which deletes release/ before it fails on a bad URL).
    With an assignment, also check that nbgrader has generated it into this gradebook.
    A server that cannot be reached (refused, timed out, too many clients: SQLAlchemy's
    OperationalError) is tried `retries` more times, `wait`, 2 * `wait`, ... seconds apart: many
    grading jobs starting at once, or a server restarting, should not fail a job for good."""
    attempt = 0
    while True:
        try:
            return _check_database(url, assignment)
        except _Unreachable:
            if attempt >= retries:
                raise
            time.sleep(wait * 2**attempt)
            attempt += 1


class _Unreachable(DatabaseError):
    """The server did not answer or refused the connection (a retry may succeed)."""


def _check_database(url: str, assignment: str | None) -> str:
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import OperationalError, SQLAlchemyError
    from sqlalchemy.orm import Session

    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ":memory:"
        if database == ":memory:":
            raise DatabaseError("an in-memory SQLite gradebook is lost when nbgrader exits")
        path = Path(database)
        if assignment is not None and not path.is_file():
            raise DatabaseError(f"no gradebook at {path}: run `nbgrader generate_assignment` first")
        if not path.parent.is_dir():
            raise DatabaseError(f"the folder of the gradebook does not exist: {path.parent}")
    engine = engine_for(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            if assignment is None:
                return f"{masked(url)}: reachable"
            if not {"assignment", "notebook", "submitted_assignment"} <= tables:
                raise DatabaseError(
                    f"{masked(url)} is not an nbgrader gradebook yet: run `nbgrader generate_assignment`"
                )
            from nbgrader.api import Assignment

            with Session(connection) as session:
                found = session.scalars(select(Assignment).where(Assignment.name == assignment)).first()
                if found is None or not found.notebooks:
                    raise DatabaseError(
                        f"{masked(url)} has no assignment {assignment!r}: run"
                        f" `nbgrader generate_assignment {assignment}` with this database"
                    )
                notebooks = len(found.notebooks)
    except ImportError as error:
        raise DatabaseError(f"no driver for {masked(url)}: {error}") from None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        kind = _Unreachable if isinstance(error, OperationalError) else DatabaseError
        raise kind(f"cannot use the gradebook {masked(url)}: {reason}") from None
    finally:
        engine.dispose()
    return f"{masked(url)}: assignment {assignment!r} with {notebooks} notebook(s)"


@dataclass
class GradebookState:
    """What the gradebook knows about one assignment."""

    notebooks: set[str]
    roster: set[str]  # every student of the gradebook
    submissions: dict[str, int]  # student -> number of submissions (nbgrader allows one)
    unsaved: dict[str, int]  # student -> autograded test cells without a score
    test_cells: int  # autograded test cells per submission


def gradebook_state(url: str, assignment: str) -> GradebookState:
    """One read of the gradebook (three queries, whatever the size of the cohort), consistent while
    other shards write: on PostgreSQL the queries share one snapshot (REPEATABLE READ), and
    everywhere a submission is counted only if the count of submissions saw it (one handed in
    between the queries is in the next read; it once raised KeyError mid-run)."""
    from nbgrader.api import Assignment, Grade, Student, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    engine = engine_for(url)
    try:
        snapshot = engine.dialect.name == "postgresql"
        reading = engine.execution_options(isolation_level="REPEATABLE READ") if snapshot else engine
        with Session(reading) as session:
            source = session.scalars(select(Assignment).where(Assignment.name == assignment)).one()
            # Autograded test cells get a score when nbgrader processes them; manually graded answers
            # (a grade cell that is also a solution cell, or markdown) may legitimately have none.
            tests = set()
            for notebook in source.notebooks:
                answers = {cell.name for cell in notebook.solution_cells}
                tests |= {
                    c.id for c in notebook.grade_cells if c.cell_type == "code" and c.name not in answers
                }
            roster = set(session.scalars(select(Student.id)))
            submissions = dict(
                session.execute(
                    select(SubmittedAssignment.student_id, func.count(SubmittedAssignment.id))
                    .where(SubmittedAssignment.assignment_id == source.id)
                    .group_by(SubmittedAssignment.student_id)
                ).all()
            )
            unsaved = dict.fromkeys(submissions, 0)
            rows = session.execute(
                select(SubmittedAssignment.student_id, Grade.cell_id, Grade.auto_score)
                .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                .join(Grade, Grade.notebook_id == SubmittedNotebook.id)
                .where(SubmittedAssignment.assignment_id == source.id)
            )
            for student, cell, score in rows:
                if cell in tests and score is None and student in unsaved:
                    unsaved[student] += 1
            notebooks = {nb.name for nb in source.notebooks}
    finally:
        engine.dispose()
    return GradebookState(notebooks, roster, submissions, unsaved, len(tests))


def scored(submission) -> bool:
    """Has an nbgrader submission (SubmittedAssignment) any score, automatic or manual? One
    without is not graded, which is not the same as scoring 0."""
    return any(
        g.auto_score is not None or g.manual_score is not None
        for nb in submission.notebooks
        for g in nb.grades
    )
