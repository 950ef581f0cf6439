"""What a grading kernel runs first, before any student code, and what the grader makes of it.

`setup()` is the program (sent on the channel compiled: gradekit.channel.boot): the channel's
server on the kernel's end of the channel, the names `check`, `report` and `identify` of the
notebook's checks cell (in spec mode: they never run a probe, as the checks run in the grader),
and gradekit.sandbox.kernel_tuning. `check(cell, log)` reads that cell's outputs once it has run:
an error there is the kit's or the machine's, never the student's (`SetupFailed`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from gradekit import channel
from gradekit.checks import framework, probes
from gradekit.sandbox import kernel_tuning

TUNING = "gradekit_kernel_tuning"  # the module's name inside a kernel
_SAID: set[str] = set()  # what setup cells said, logged once per grading process


class SetupFailed(RuntimeError):
    """A grading kernel's setup cell (before any student code) raised: the kit's or the machine's
    fault, never the student's; the submission is not graded, and the message says why."""


@functools.cache
def setup() -> channel.Boot:
    """The grading kernel's first program (read once per grading process)."""
    server = channel.SERVER_MODULE[0]
    return channel.Boot(
        modules=(
            channel.SERVER_MODULE,
            (probes.MODULE, Path(framework.__file__).read_text(encoding="utf-8")),
            (TUNING, Path(kernel_tuning.__file__).read_text(encoding="utf-8")),
        ),
        main=(
            f"import {server} as server, {probes.MODULE} as checks, {TUNING} as tuning\n"
            "server.install(fd)\n"
            "checks._mode.kind = 'spec'\n"
            "main.update(check=checks.check, report=checks.report, identify=checks.identify)\n"
            "for left in tuning.tune():\n"
            "    print('kernel tuning left alone:', left, file=__import__('sys').stderr)\n"
        ),
    )


def check(cell, log) -> None:
    """The setup cell ran: raise SetupFailed (with the kernel's error) if it failed; log on `log`
    what it said (what kernel_tuning left alone), once per grading process."""
    for output in cell.outputs:
        if output.output_type == "error":
            raise SetupFailed(f"the grading kernel's setup failed: {output.ename}: {output.evalue}")
        said = output.get("text", "").strip() if output.output_type == "stream" else ""
        if said and said not in _SAID:
            _SAID.add(said)
            log.warning("The grading kernel's setup: %s", said)
