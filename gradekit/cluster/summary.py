"""What one grading run did, for the instructor, and its exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

from gradekit.cluster.shard import Shard, signal_name


@dataclass
class Summary:
    """What one run did, for the instructor: who was graded, who could not be and why, who was
    late, and what the logs warn about that a person should read."""

    shards: list[Shard]
    status: dict[str, str | None]  # every student of the selected shards -> None if graded
    graded: list[str]  # graded in this run
    failed: dict[str, str]  # attempted in this run, still missing, the shard ran to its end -> why
    skipped: list[str]  # graded already (--only-missing)
    seconds: float
    interrupted: bool = False
    not_gradable: dict[str, str] = field(default_factory=dict)  # intake flagged them -> why
    late: dict[str, float] = field(default_factory=dict)  # graded late -> penalty (points)
    notes: int = 0  # intake's notes (renamed notebooks, timestamps read...): `python -m gradekit intake`
    warnings: list[str] = field(default_factory=list)  # changed locked cells and the like, from the logs
    unclaimed: list[str] = field(default_factory=list)  # LMS files with no student id
    # attempted, still missing, but their shard stopped before it was done with them (interrupted,
    # killed, or still failing on a database or kernel start error after the retries) -> why
    left: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.left and not self.not_gradable and not self.interrupted

    @property
    def exit_code(self) -> int:
        """0: all graded; 1: some students cannot be graded (a rerun fails the same way);
        3: grading incomplete, a rerun with --only-missing may finish it; 130: interrupted."""
        if self.interrupted:
            return 130
        if self.left:
            return 3
        return 1 if self.failed or self.not_gradable else 0

    def report(self) -> str:
        lines = []
        for shard in self.shards:
            bad = [code for code in shard.returncodes if code != 0]
            if bad:
                codes = ", ".join(map(signal_name, bad))
                lines.append(f"{shard.name}: nbgrader ended with {codes} (log: {shard.log})")
        logs = {student: shard.log for shard in self.shards for student in shard.students}
        for student, reason in sorted(self.not_gradable.items()):
            lines.append(f"not gradable: {student}: {reason}")
        for student, reason in sorted(self.failed.items()):
            lines.append(f"failed: {student}: {reason} (log: {logs[student]})")
        for student, reason in sorted(self.left.items()):
            lines.append(f"left: {student}: {reason}")
        if self.left:
            lines.append(
                f"left: {len(self.left)} students were not graded because grading stopped:"
                " a run with --only-missing grades them (on Slurm: the check job, or submit.sh again)"
            )
        for student, penalty in sorted(self.late.items()):
            lines.append(f"late: {student}: penalty {penalty:g} points")
        lines += [f"warning: {line}" for line in self.warnings]
        lines += [f"unclaimed: {name} (no student id in its name)" for name in self.unclaimed]
        if self.notes:
            lines.append(
                f"intake: {self.notes} notes (renamed notebooks, timestamps): python -m gradekit intake"
            )
        lines.append(
            f"summary: shards={len(self.shards)} students={len(self.status)} graded={len(self.graded)}"
            f" failed={len(self.failed)} left={len(self.left)} not_gradable={len(self.not_gradable)}"
            f" skipped={len(self.skipped)}"
            f" late={len(self.late)} seconds={self.seconds:.1f}"
        )
        return "\n".join(lines)
