"""Every command of the kit, as `python -m gradekit <command>` (the nbgrader steps stay nbgrader's).

    python -m gradekit grade [--shards N] [--only-missing] [--shard-index I]   intake, then autograde
    python -m gradekit status [--shards N --shard-index I]     who is graded, who is missing and why
    python -m gradekit check-db                                can the gradebook be used?
    python -m gradekit print-command [--shards N]              each shard's nbgrader command
    python -m gradekit intake [ASSIGNMENT]                     what intake makes of submitted/
    python -m gradekit report [--to report.html]               the HTML grade report
    python -m gradekit grade-on-submit [--once]                grade each submission as it arrives
    python -m gradekit sandbox                                 can this machine run sandboxed kernels?
    python -m gradekit hub [--port 8000]                       a demo JupyterHub (root; docs/hub.md)

Every command works on the course in the current folder when it has an nbgrader_config.py, else on
the kit's own repository (`--course` to name another). Exit codes: 0 done, 1 some students are
not graded (or missing), 2 the course or its gradebook cannot be used, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gradekit.course.gradebook import DatabaseError
from gradekit.course.notebooks import default_course, only_assignment


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per command, each with the options it uses."""
    top = argparse.ArgumentParser(
        prog="python -m gradekit", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _course_options(commands.add_parser("check-db", help="can the gradebook be reached?"))
    for name, help_text in (
        ("grade", "take in and autograde, in shards"),
        ("status", "who is graded, who is missing and why (exit 1 if any)"),
        ("print-command", "each shard's nbgrader command"),
    ):
        sub = commands.add_parser(name, help=help_text)
        _course_options(sub)
        _shard_options(sub, grading=name != "status")
    intake = commands.add_parser("intake", help="what intake makes of each submission folder")
    intake.add_argument("assignment", nargs="?", help="default: the one assignment of source/")
    _course_options(intake, assignment=False)
    intake.add_argument("--student", action="append", help="only this student (repeatable)")
    report = commands.add_parser("report", help="the HTML grade report")
    _course_options(report)
    report.add_argument("--to", type=Path, default=Path("report.html"), help="HTML file to write")
    serve = commands.add_parser("grade-on-submit", help="grade each submission of the exchange as it arrives")
    _course_options(serve)
    serve.add_argument("--once", action="store_true", help="grade what is there, then stop")
    commands.add_parser("sandbox", help="can this machine run sandboxed kernels? (for grading nodes)")
    hub = commands.add_parser("hub", help="a demo JupyterHub with an instructor and students (root)")
    hub.add_argument("--root", type=Path, default=Path("/srv/kit-hub"), help="where the hub lives")
    hub.add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1 (and the next two)")
    hub.add_argument("--setup-only", action="store_true", help="set up, do not run")
    hub.add_argument(
        "--grade-on-submit", action="store_true", help="grade each submission as it arrives (a hub service)"
    )
    return top


def _course_options(sub, assignment: bool = True) -> None:
    sub.add_argument(
        "--course",
        type=Path,
        default=default_course(),
        help="course root (default: here if it has an nbgrader_config.py, else the kit's repository)",
    )
    if assignment:
        sub.add_argument("--assignment", help="default: the one assignment of source/")
    sub.add_argument("--db", help="gradebook URL (default: NBGRADER_DB_URL, else the course config)")


def _shard_options(sub, grading: bool = True) -> None:
    sub.add_argument("--shards", type=int, default=2, help="number of shards N (default 2)")
    sub.add_argument("--shard-index", type=int, help="only shard I (0 <= I < N)")
    if grading:
        sub.add_argument("--only-missing", action="store_true", help="only the missing students")
        sub.add_argument("--log-dir", type=Path, help="shard logs (default: <course>/logs/autograde)")
    sub.add_argument(
        "--retries",
        type=int,
        default=2,
        help="tries more to reach the gradebook (2 s, 4 s, ... apart), and reruns of a shard after a"
        " database or kernel start error (default 2)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` names (default: sys.argv[1:]); its exit code."""
    top = parser()
    args = top.parse_args(argv)
    if getattr(args, "shards", 1) < 1:
        top.error("--shards must be at least 1")
    if getattr(args, "shard_index", None) is not None and not 0 <= args.shard_index < args.shards:
        top.error(f"--shard-index must be in 0..{args.shards - 1}")
    handler = _handler(args.command)
    try:
        if hasattr(args, "assignment") and not args.assignment:
            args.assignment = only_assignment(args.course)
        return handler(args)
    except (DatabaseError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _handler(command: str):
    """The function that runs `command` (imported only when it runs: each pulls in what it needs)."""
    if command in ("grade", "status", "check-db", "print-command"):
        from gradekit.cluster import runner

        return {
            "grade": runner.grade_command,
            "status": runner.status_command,
            "check-db": runner.check_db_command,
            "print-command": runner.print_command,
        }[command]
    if command == "intake":
        from gradekit.intake import intake_command

        return intake_command
    if command == "report":
        from gradekit.export.report import report_command

        return report_command
    if command == "grade-on-submit":
        from gradekit.hub.grading_service import serve_command

        return serve_command
    if command == "sandbox":
        from gradekit.sandbox import sandbox_command

        return sandbox_command
    from gradekit.hub import hub_command

    return hub_command
