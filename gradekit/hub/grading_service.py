"""Grading on submit: every `nbgrader submit` in the exchange graded as it arrives, with a limit on
graded tries, and its feedback released for the student's *Fetch Feedback*.

    python -m gradekit grade-on-submit [--course DIR] [--once]

Run it as the instructor, on the course root (on the demo hub it is a JupyterHub managed service:
the hub starts it, and starts it again if it ends; docs/hub.md). Configured in nbgrader_config.py:

    c.GradingService.tries_per_window = 3     # graded tries per student and window
    c.GradingService.window = 24 * 3600       # seconds
    c.GradingService.counts = "last"          # or "best": which graded try the gradebook keeps
    c.GradingService.interval = 2.0           # seconds between looks at the exchange
    c.GradingService.batch = 4                # students per nbgrader run (feedback comes per run)
    c.GradingService.parallel = 2             # nbgrader runs at once (one per core)

Each look at the exchange (`GradingService.step`):

1. every submission folder of the course's `inbound/` seen for the first time goes into the ledger
   (gradekit.hub.ledger), pending; the exchange itself is never changed: nothing is lost;
2. the pending ones are claimed, oldest first; one that its student did not make with their own
   `nbgrader submit` (gradekit.intake.exchange.untrusted: another account's folder, links, a
   time from the future) is `failed` with the reason, graded for nobody;
3. each try is decided (gradekit.hub.tries): past the limit, it is `refused`, and the student's
   Fetch Feedback brings a page that says so and when the next graded try opens;
4. the tries to grade are graded in rounds of one try per student: each copied into
   `submitted/<student>/<assignment>/` (exactly that try, not nbgrader's "latest"), then nbgrader
   autograde (with the kit's intake hook, sandbox and judge: batch grading's own steps) for the
   round's students in one process, generate_feedback and release_feedback for them;
5. with `counts = "best"`, a student whose new try scored below an earlier one gets the earlier
   one graded again, so the gradebook holds the best.

A student can only have their own folders graded (the folder's owner is the student it names) and
reads only their own feedback (nbgrader files it under a hash of their submission's secret).
"""

from __future__ import annotations

import html
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.utils import notebook_hash, parse_utc
from traitlets import Enum, Float, Integer
from traitlets.config import Configurable

from gradekit.course import Course, load_config
from gradekit.export.grades import collect
from gradekit.hub import tries as policy
from gradekit.hub.ledger import Ledger, Try
from gradekit.intake.exchange import untrusted
from gradekit.intake.folder import Record

LEDGER = "grading_service.sqlite"
FAILED = "autograding failed: see logs/grading_service/"
log = logging.getLogger("gradekit.grading_service")


class GradingService(Configurable):
    """The grading service of one course (see the module docstring)."""

    tries_per_window = Integer(3, help="Graded tries a student has per window.").tag(config=True)
    window = Float(24 * 3600.0, help="The window of graded tries, in seconds.").tag(config=True)
    counts = Enum(["last", "best"], "last", help="Which graded try the gradebook keeps.").tag(config=True)
    interval = Float(2.0, help="Seconds between two looks at the exchange.").tag(config=True)
    clock_skew = Float(300.0, help="Seconds a submission's time may be ahead of its folder.").tag(config=True)
    batch = Integer(4, help="Students graded by one nbgrader run (feedback comes per run).").tag(config=True)
    parallel = Integer(2, help="nbgrader runs at once (one per core is right).").tag(config=True)

    def __init__(self, course: Course, **kwargs):
        config = load_config(course.root, user=True)  # the hub's ~/.jupyter names the exchange
        super().__init__(config=config, **kwargs)
        self.course = course
        exchange = config.get("Exchange", {}).get("root") if "Exchange" in config else None
        self.inbound = Path(exchange or "/srv/nbgrader/exchange") / course.course_id / "inbound"
        self.outbound_feedback = self.inbound.parent / "feedback"
        self.ledger = Ledger(course.root / LEDGER)

    # -- one look at the exchange -------------------------------------------------------------

    def step(self) -> list[Try]:
        """See new submissions, decide and grade the pending ones; the tries finished now."""
        self.ledger.add(self.scan())
        claimed = self.ledger.claim()
        to_grade: list[Try] = []
        for attempt in claimed:
            why = untrusted(self.inbound / attempt.folder, self.clock_skew)
            if why is not None:
                log.error("not graded: %s: %s", attempt.folder, why)
                self.ledger.finish(attempt.folder, "failed", message=why)
                continue
            theirs = self.ledger.of(attempt.student, attempt.assignment)
            earlier = [t.submitted for t in theirs if t.status == "graded"]
            earlier += [t.submitted for t in to_grade if t.student == attempt.student]
            decision = policy.decide(earlier, attempt.submitted, self.tries_per_window, self.window)
            if not decision.graded:
                message = decision.message(self.tries_per_window, self.window)
                self.release_message(attempt, message)
                self.ledger.finish(attempt.folder, "refused", message=message)
                continue
            to_grade.append(attempt)
        for round_ in rounds(to_grade):
            self.grade_round(round_)
        if self.counts == "best":
            self.keep_best({t.student: t.assignment for t in to_grade})
        return claimed

    def scan(self) -> list[Try]:
        """Every submission folder of the course's inbound/ whose name parses, for the course's
        assignments."""
        found = []
        if not self.inbound.is_dir():
            return found
        for entry in sorted(os.scandir(self.inbound), key=lambda e: e.name):
            parts = entry.name.rsplit("+", 3)
            if len(parts) < 3:
                continue
            student, assignment, stated = parts[0], parts[1], parts[2]
            if assignment != self.course.assignment:
                continue
            try:
                submitted = parse_utc(stated)
            except Exception:  # a name no nbgrader submit wrote: untrusted() says why, when claimed
                continue
            found.append(Try(entry.name, student, assignment, submitted, "pending"))
        return found

    # -- grading ------------------------------------------------------------------------------

    def grade_round(self, round_: list[Try]) -> None:
        """Grade one try per student (`round_`), `batch` students per nbgrader run, `parallel`
        runs at once (the gradebook takes concurrent writers as the shards' runs do), and record
        each outcome: a student's feedback waits only for their own batch."""
        chunks = [round_[i : i + max(1, self.batch)] for i in range(0, len(round_), max(1, self.batch))]
        for attempt in round_:  # all staged before any run: each run's list of students to leave
            self.stage(attempt)  # out then names every student of the other batches
        with ThreadPoolExecutor(max_workers=max(1, self.parallel), thread_name_prefix="batch") as pool:
            list(pool.map(self.grade_batch, chunks))  # (an error in a batch is raised here)

    def grade_batch(self, batch: list[Try]) -> None:
        """nbgrader's steps for the staged tries of `batch`, and each one's outcome in the ledger."""
        students = [t.student for t in batch]
        self.nbgrader_steps(students)
        scores = self.scores(students)
        for attempt in batch:
            score = scores.get(attempt.student)
            if score is None:
                record = Record.load(self.course.folder(attempt.student))
                reason = (record.reason if record else None) or FAILED
                message = f"Not graded: {reason}"
                self.release_message(attempt, message)
                self.ledger.finish(attempt.folder, "failed", message=message)
            else:
                self.ledger.finish(attempt.folder, "graded", score=score)
            log.info("%s: %s", attempt.folder, "graded" if score is not None else "not gradable")

    def stage(self, attempt: Try) -> None:
        """Exactly this try in submitted/<student>/<assignment>/ (what was there before goes: each
        try stays in the exchange, and the ledger says which the gradebook holds)."""
        target = self.course.folder(attempt.student)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.inbound / attempt.folder, target, symlinks=True)

    def nbgrader_steps(self, students: list[str]) -> None:
        """autograde, generate_feedback and release_feedback of the assignment for `students` only
        (every other student of submitted/ and of the gradebook left out)."""
        others = sorted((set(self.course.students()) | set(self.roster())) - set(students))
        worker = threading.current_thread().name  # one exclusion list and log per worker
        exclude = self.course.root / "logs" / "grading_service" / f"exclude-{worker}.txt"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        exclude.write_text("\n".join(others) + "\n", encoding="utf-8")
        leave_out = [f"--CourseDirectory.student_id_exclude={','.join(others)}"] if others else []
        a = self.course.assignment
        steps = [
            ["-m", "gradekit.cluster.autograde_shard", str(exclude), a, "--force"],
            ["-m", "nbgrader", "generate_feedback", a, "--force", *leave_out],
            ["-m", "nbgrader", "release_feedback", a, *leave_out],
        ]
        logfile = exclude.parent / f"nbgrader-{worker}.log"
        bin_dir = str(Path(sys.executable).parent)
        env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        with logfile.open("a", encoding="utf-8") as out:
            for step in steps:
                out.write(f"\n# {' '.join(step)}  ({', '.join(students)})\n")
                out.flush()
                subprocess.run([sys.executable, *step], cwd=self.course.root, stdout=out, stderr=out, env=env)

    def roster(self) -> list[str]:
        with Gradebook(self.course.db_url) as gradebook:
            return [s.id for s in gradebook.students]

    def scores(self, students: list[str]) -> dict[str, float]:
        """student -> total after the late penalty, for those of `students` with a score."""
        with Gradebook(self.course.db_url) as gradebook:
            found = collect(gradebook, self.course.assignment, self.course.root)
        return {g.student: g.total for g in found if g.student in students and g.graded}

    def keep_best(self, students: dict[str, str]) -> None:
        """With counts = "best": grade again the best try of each of `students` whose last graded
        try is not their best, so that the gradebook holds the best."""
        again = []
        for student, assignment in students.items():
            graded = [t for t in self.ledger.of(student, assignment) if t.status == "graded"]
            best = policy.counting([(t.submitted, t.score or 0.0) for t in graded], "best")
            if best is not None and best != len(graded) - 1:
                again.append(graded[best])
        for attempt in again:
            self.stage(attempt)
        if again:
            self.nbgrader_steps([t.student for t in again])

    def release_message(self, attempt: Try, message: str) -> None:
        """A feedback page with `message` for each notebook of the try, where the student's Fetch
        Feedback finds it (nbgrader's hash of the submission's secret and the notebook's name)."""
        folder = self.inbound / attempt.folder
        try:
            secret = (folder / "submission_secret.txt").read_text()
        except OSError:
            return
        self.outbound_feedback.mkdir(parents=True, exist_ok=True)
        body = f"<h1>{html.escape(attempt.assignment)}</h1><p>{html.escape(message)}</p>"
        page = f"<!DOCTYPE html><html><body>{body}</body></html>"
        for notebook in sorted(folder.glob("*.ipynb")):
            name = notebook_hash(secret=secret, notebook_id=notebook.stem)
            target = self.outbound_feedback / f"{name}.html"
            partial = target.with_suffix(".tmp")
            partial.write_text(page, encoding="utf-8")
            partial.chmod(0o644)
            partial.replace(target)

    # -- running ------------------------------------------------------------------------------

    def run(self, once: bool = False) -> None:
        """Look at the exchange every `interval` seconds (once: until nothing is pending)."""
        recovered = self.ledger.recover()
        if recovered:
            log.info("taking up %d tries a stopped service left unfinished", recovered)
        while True:
            claimed = self.step()
            if once and not claimed:
                return
            if not claimed:
                time.sleep(self.interval)


def rounds(attempts: list[Try]) -> list[list[Try]]:
    """`attempts` (oldest first) in rounds of at most one try per student, in order."""
    result: list[list[Try]] = []
    for attempt in attempts:
        for round_ in result:
            if all(t.student != attempt.student for t in round_):
                round_.append(attempt)
                break
        else:
            result.append([attempt])
    return result


def serve_command(args) -> int:
    """`python -m gradekit grade-on-submit`: the grading service of the course."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    service = GradingService(Course.load(args.course, args.assignment, args.db))
    service.run(once=args.once)
    return 0
