"""The grader's side of one kernel run, in a thread: the checks of each test cell, run while the
kernel answers them (gradekit.grading.judge starts it)."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from gradekit import channel
from gradekit.grading import runner

if TYPE_CHECKING:
    from gradekit.grading.judge import JudgedExecute, KernelRun, Role


class JudgeThread:
    """The grader's side of one kernel run, in a thread of its own: it runs each test cell's checks
    while the kernel executes the cell that answers them (`checks(role)`, then `wait(role)`), and
    between them reads and drops whatever the kernel writes to the channel, so that a submission
    that writes there (forged "results") never blocks on a full socket. When the kernel stops
    answering during a check (it ignored the time limit), the kernel is ended, so that the cell's
    execution ends too."""

    def __init__(self, execute: JudgedExecute, run: KernelRun, session: channel.Session):
        self.execute, self.run, self.session = execute, run, session
        self.wakeup_read, self.wakeup_write = os.pipe()
        self.todo: list[Role | None] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._main, name="gradekit-judge", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def checks(self, role: Role) -> None:
        """Run the checks of `role` now (the kernel is about to answer them)."""
        self.done.clear()
        self.todo.append(role)
        os.write(self.wakeup_write, b"c")

    def wait(self, role: Role) -> None:
        """Wait until the checks of `role` are done; end the kernel if they never are."""
        if not self.done.wait(self.execute.checks_timeout(role)):
            self.execute.kill_kernel()
            self.done.wait(channel.GRACE + 5)

    def stop(self) -> None:
        self.todo.append(None)
        os.write(self.wakeup_write, b"s")
        self.thread.join(channel.GRACE + 5)
        os.close(self.wakeup_read)
        os.close(self.wakeup_write)

    def _main(self) -> None:
        with channel.pinned(self.run.layout.cpu):
            while True:
                self.session.wire.drain_until_readable(self.wakeup_read)
                os.read(self.wakeup_read, 1)
                role = self.todo.pop(0)
                if role is None:
                    return
                try:
                    self._judge(role)
                finally:
                    self.done.set()

    def _judge(self, role: Role) -> None:
        execute, run, session = self.execute, self.run, self.session
        try:
            session.ready()
        except channel.Stuck:
            run.stuck = (role.checks[0][0], "")
            execute.kill_kernel()
            return
        for grade_id, names in role.checks:  # one test cell's checks after another, one session
            result = runner.run_checks(
                session,
                execute._plan.cells[grade_id],
                names,
                execute.probe_limit,
                lambda name, grade_id=grade_id: run.started.append((grade_id, name)),
            )
            for name, outcome in result.outcomes.items():
                run.outcomes[(grade_id, name)] = outcome
            if result.stuck is not None:
                run.stuck = (grade_id, result.stuck) if result.stuck else run.stuck
                execute.kill_kernel()
                return
        try:
            session.done()
        except channel.Stuck:
            execute.kill_kernel()
