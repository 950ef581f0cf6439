"""Submissions as they really arrive, each with what grading must make of it.

`simulation.cohort` varies what students *write*; this catalog varies the *files* they hand in, the
way editors, browsers, operating systems and LMS downloads mangle them: renamed copies, split and
pasted cells, byte-order marks, timestamps in other zones or in words, a 20 MB print, a late hand-in.
Each case was built from a public bug report or an nbgrader 0.9.6 failure measured on this course
(docs/intake.md). Every case's code is the reference solution, so a gradable case scores full
marks in each exercise (minus a late penalty) unless it lost some of that code on the way (its
`lost` pieces say what did not arrive: their checks fail); a case that cannot be graded must be
flagged with a reason that says what to do.

Timestamps are against `DUE`, the due date the demo and the tests give the assignment.

    python -m simulation.arrivals COURSE   # hand the catalog in to COURSE (generated), due DUE

then grade COURSE as usual (`python -m gradekit grade --course COURSE`, or `nbgrader autograde`
there) and compare with each case's `what` and expectations; docs/intake.md has the table.
"""

from __future__ import annotations

import codecs
import copy
from collections.abc import Callable
from dataclasses import dataclass

import nbformat

from gradekit.course.notebooks import exercise_of, nbgrader_meta
from simulation.cohort import Kit, cell, default_kit
from simulation.course import NOTEBOOK

DUE = "2026-01-15 23:59:00 UTC"  # the assignment's due date in the demo and the tests
ON_TIME = "2026-01-15 12:00:00.000000 UTC"
Files = dict[str, bytes]  # file name in submitted/<student>/<assignment>/ -> its bytes


@dataclass(frozen=True)
class Arrival:
    student: str
    what: str  # what happened to the files, in a sentence
    files: Callable[[Kit], Files]
    flagged: str | None = None  # not gradable: a text the reason must contain
    note: str | None = None  # a text one of intake's notes must contain
    late: bool = False  # past the due date: nbgrader's "zero" penalty takes every point earned
    log: str | None = None  # a text autograde's log must contain (a warning that must stay)
    lost: tuple[str, ...] = ()  # pieces of the reference lost on the way: their checks fail

    def expected(self, kit: Kit | None = None) -> dict[str, float] | None:
        """Per-exercise scores in points, before any late penalty: full marks but the points of
        every check of a lost piece; None when not gradable."""
        if self.flagged:
            return None
        kit = kit or default_kit()
        scores = dict.fromkeys(kit.exercise_names, 0.0)
        for check_id, info in kit.checks.items():
            if not set(info.tests) & set(self.lost):
                scores[exercise_of(check_id)] += info.points
        return scores

    def penalty(self, kit: Kit | None = None) -> float:
        """Points the late-submission penalty takes (c.LateSubmissionPlugin.penalty_method = "zero")."""
        return sum((self.expected(kit) or {}).values()) if self.late else 0.0


def _bytes(nb) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


def _solved(kit: Kit, name: str = NOTEBOOK, stamp: str | None = ON_TIME) -> Files:
    files = {name: _bytes(kit.solved())}
    if stamp is not None:
        files["timestamp.txt"] = stamp.encode()
    return files


def _with(nb_change: Callable, name: str = NOTEBOOK) -> Callable[[Kit], Files]:
    def build(kit: Kit) -> Files:
        nb = kit.solved()
        nb_change(nb)
        return {name: _bytes(nb), "timestamp.txt": ON_TIME.encode()}

    return build


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id)


def _split(nb, grade_id: str = "mlp_classes", before: str = "class MLP") -> None:
    """JupyterLab's Split Cell: two cells, both with the nbgrader metadata (grade_id and all); the
    second gets a new cell id, as in JupyterLab (a fixed one here: the bytes are reproducible)."""
    i = _index(nb, grade_id)
    first = nb.cells[i]
    at = first.source.index(before)
    second = copy.deepcopy(first)
    second.id = f"{first.id}-split"
    first.source, second.source = first.source[:at].rstrip("\n"), first.source[at:]
    nb.cells.insert(i + 1, second)


def _paste(nb, grade_id: str, at: str | None) -> None:
    """A copy of cell `grade_id` pasted right before cell `at` (None: at the end), metadata and all,
    with a new cell id."""
    pasted = copy.deepcopy(cell(nb, grade_id))
    pasted.id = f"{pasted.id}-pasted"
    nb.cells.insert(len(nb.cells) if at is None else _index(nb, at), pasted)


def _tamper(nb) -> None:
    test = cell(nb, "ex1_tanh")
    test.source = test.source.replace("report(", "print('all good')\n# report(", 1)


def _delete(nb, *grade_ids: str) -> None:
    nb.cells[:] = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") not in grade_ids]


def _print_20_mb(nb) -> None:
    solution = cell(nb, "training")
    solution.source += "\n\nprint('x' * 20_000_000)\n"


def _encoded(codec: str, bom: bytes) -> Callable[[Kit], Files]:
    def build(kit: Kit) -> Files:
        return {
            NOTEBOOK: bom + nbformat.writes(kit.solved()).encode(codec),
            "timestamp.txt": ON_TIME.encode(),
        }

    return build


def _renamed(name: str) -> Callable[[Kit], Files]:
    return lambda kit: _solved(kit, name)


def _beside(kit: Kit, work: str, other: str, other_nb) -> Files:
    files = _solved(kit, work)
    files[other] = _bytes(other_nb)
    return files


def _partial(kit: Kit):
    return kit.solved(kit.only("ex1"))


def _scratch() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1 + 1\nprint(x)", id="scratch-1")])


ARRIVALS: tuple[Arrival, ...] = (
    Arrival("arr_control", "the reference solution, handed in as released", _solved),
    Arrival(
        "arr_split_solution_cell",
        "the MLP classes cell split in two in JupyterLab: both halves keep its nbgrader metadata",
        _with(_split),
    ),
    Arrival(
        "arr_pasted_test_cell_above",
        "a copy of test cell ex3_layer pasted above the classes it tests",
        _with(lambda nb: _paste(nb, "ex3_layer", at="mlp_classes")),
    ),
    Arrival(
        "arr_pasted_test_cell_below",
        "a copy of test cell ex1_tanh pasted again right below it",
        _with(lambda nb: _paste(nb, "ex1_tanh", at="draw_graph_helper")),
    ),
    Arrival(
        "arr_pasted_solution_cell",
        "the training solution cell pasted again below the XOR tests",
        _with(lambda nb: _paste(nb, "training", at=None)),
    ),
    Arrival(
        "arr_renamed_browser_copy",
        "only `mini_auto_grad (1).ipynb`, as a browser names a second download",
        _renamed("mini_auto_grad (1).ipynb"),
        note="graded mini_auto_grad (1).ipynb",
    ),
    Arrival(
        "arr_renamed_jupyter_copy",
        "only `mini_auto_grad-Copy1.ipynb` (JupyterLab's Duplicate)",
        _renamed("mini_auto_grad-Copy1.ipynb"),
        note="graded mini_auto_grad-Copy1.ipynb",
    ),
    Arrival(
        "arr_renamed_case",
        "only `Mini_Auto_Grad.ipynb`",
        _renamed("Mini_Auto_Grad.ipynb"),
        note="graded Mini_Auto_Grad.ipynb",
    ),
    Arrival(
        "arr_renamed_freely",
        "only `homework 3 final.ipynb`: recognised by its nbgrader cells",
        _renamed("homework 3 final.ipynb"),
        note="graded homework 3 final.ipynb",
    ),
    Arrival(
        "arr_release_beside_work",
        "the untouched release as `mini_auto_grad.ipynb`, the work in `mini_auto_grad-Copy1.ipynb`",
        lambda kit: _beside(kit, "mini_auto_grad-Copy1.ipynb", NOTEBOOK, kit.release),
        note="graded mini_auto_grad-Copy1.ipynb",
    ),
    Arrival(
        "arr_work_beside_scratch",
        "the work as `mini_auto_grad.ipynb` and a scratch notebook beside it",
        lambda kit: _beside(kit, NOTEBOOK, "scratch.ipynb", _scratch()),
        note="scratch.ipynb also handed in, not graded",
    ),
    Arrival(
        "arr_work_beside_older_copy",
        "the work as `mini_auto_grad.ipynb` and an older partial copy as `mini_auto_grad (1).ipynb`",
        lambda kit: _beside(kit, NOTEBOOK, "mini_auto_grad (1).ipynb", _partial(kit)),
        note="mini_auto_grad (1).ipynb also handed in, not graded",
    ),
    Arrival(
        "arr_two_renamed_versions",
        "two renamed copies with different work and no `mini_auto_grad.ipynb`",
        lambda kit: _beside(kit, "mini_auto_grad (2).ipynb", "mini_auto_grad (1).ipynb", _partial(kit)),
        flagged="2 notebooks hold different work for mini_auto_grad: 'mini_auto_grad (1).ipynb', "
        "'mini_auto_grad (2).ipynb'",
    ),
    Arrival(
        "arr_python_file_only",
        "the code exported as `mini_auto_grad.py`, no notebook",
        lambda kit: {"mini_auto_grad.py": b"class Value:\n    pass\n", "timestamp.txt": ON_TIME.encode()},
        flagged="no notebook mini_auto_grad.ipynb; handed in: mini_auto_grad.py",
    ),
    Arrival(
        "arr_utf8_bom",
        "saved with a UTF-8 byte-order mark (Windows editors)",
        _encoded("utf-8", codecs.BOM_UTF8),
        note="was utf-8 with a byte-order mark",
    ),
    Arrival(
        "arr_utf16",
        "saved as UTF-16 with its byte-order mark",
        _encoded("utf-16-le", codecs.BOM_UTF16_LE),
        note="was utf-16 with a byte-order mark",
    ),
    Arrival(
        "arr_timestamp_offset",
        "timestamp.txt `2026-01-16 00:30:00 +0100`: 23:30 UTC, on time (nbgrader reads +0100 as 100 s)",
        lambda kit: _solved(kit, stamp="2026-01-16 00:30:00 +0100"),
        note="read as 2026-01-15 23:30:00.000000 UTC",
    ),
    Arrival(
        "arr_timestamp_words",
        "timestamp.txt holds `handed in on Thursday night` (nbgrader 0.9.6 crashes on it)",
        lambda kit: _solved(kit, stamp="handed in on Thursday night"),
        note="is not a time",
    ),
    Arrival(
        "arr_late",
        "handed in 8 hours after the due date",
        lambda kit: _solved(kit, stamp="2026-01-16 08:00:00.000000 UTC"),
        late=True,
    ),
    Arrival(
        "arr_print_20_mb",
        "a solution cell that prints one line of 20 MB",
        _with(_print_20_mb),
    ),
    Arrival(
        "arr_deleted_solution_and_test",
        "the training solution cell and its test cell both deleted (ex3's training skipped)",
        _with(lambda nb: _delete(nb, "training", "ex3_train_xor")),
        # the test is put back (nbgrader 0.9.6 stopped on a KeyError and graded nothing) and
        # fails without train(): 4 points of ex3
        lost=("train",),
        log="arr_deleted_solution_and_test deleted the test cell ex3_train_xor",
    ),
    Arrival(
        "arr_changed_test_cell",
        "test cell ex1_tanh edited to print 'all good' (restored, and the change is logged)",
        _with(_tamper),
        log="arr_changed_test_cell changed the locked cell ex1_tanh",
    ),
)


def catalog() -> list[Arrival]:
    return list(ARRIVALS)


def hand_in(folder_of: Callable[[str], object], arrivals: list[Arrival], kit: Kit) -> None:
    """Write each arrival's files into `folder_of(student)` (a pathlib.Path), created as needed."""
    for arrival in arrivals:
        folder = folder_of(arrival.student)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in arrival.files(kit).items():
            (folder / name).write_bytes(data)


def give_due_date(db_url: str) -> None:
    """Give the assignment the due date `DUE` in the gradebook at `db_url`."""
    from nbgrader.api import Gradebook

    from gradekit.intake.timestamps import read_timestamp
    from simulation.course import ASSIGNMENT

    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=read_timestamp(DUE))


def main(argv: list[str] | None = None) -> int:
    """Hand the catalog in to a generated course and give its assignment the due date `DUE`."""
    import argparse
    from pathlib import Path

    from gradekit.course import Course
    from simulation.course import ASSIGNMENT

    parser = argparse.ArgumentParser(prog="python -m simulation.arrivals", description=__doc__)
    parser.add_argument("course", type=Path, help="a course root with its release generated")
    course = parser.parse_args(argv).course.resolve()
    give_due_date(Course.load(course).db_url)  # the course's gradebook, as nbgrader finds it
    hand_in(lambda student: course / "submitted" / student / ASSIGNMENT, catalog(), Kit.load(course))
    for arrival in ARRIVALS:
        print(f"{arrival.student}: {arrival.what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
