"""Submissions made from the release: the kit a case starts from, edits of its answers and
cells, and student code kept as files in simulation/snippets/ (read by `snippet`, `body`, `method`)."""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from gradekit.checks import probes
from gradekit.course.notebooks import COURSE_ROOT, exercise_of, exercises, grade_cells, nbgrader_meta, read
from simulation.course import ASSIGNMENT, NOTEBOOK
from simulation.submissions import fill, only, reference_answers, region_exercises

Answers = dict[str, list[str | None]]
Submission = nbformat.NotebookNode | bytes
POW_CHECK = "if not isinstance(exponent, (int, float)):"  # the first line of the reference's __pow__


@dataclass(frozen=True)
class CheckInfo:
    """A check of the source notebook: its points, whether it is hidden, the pieces it tests."""

    points: float
    hidden: bool
    tests: tuple[str, ...]


def checks_of(source: nbformat.NotebookNode) -> dict[str, CheckInfo]:
    """ "grade_id/check" -> CheckInfo of every check of a source notebook, in notebook order."""
    found = {}
    for c in source.cells:
        meta = nbgrader_meta(c)
        if meta.get("grade") and not meta.get("solution") and c.cell_type == "code":
            test = probes.TestCell.parse(meta["grade_id"], c.source)
            hidden = set(test.hidden_names)
            for item in test.specs():
                found[f"{meta['grade_id']}/{item.name}"] = CheckInfo(
                    item.points, item.name in hidden, item.tests
                )
    return found


@dataclass
class Kit:
    """The release a student starts from, and the source notebook behind it."""

    release: nbformat.NotebookNode
    source: nbformat.NotebookNode
    answers: Answers  # the reference code of every solution region, by solution cell
    exercises: dict[str, list[str]]  # the exercise of every solution region
    points: dict[str, float]  # grade_id -> points, from the source notebook
    checks: dict[str, CheckInfo]  # every check of the source notebook, in order

    @classmethod
    def load(cls, course: Path | None = None) -> Kit:
        """The release of `course` (default: this repository) and the source it was made from."""
        course = COURSE_ROOT if course is None else course
        source_path = course / "source" / ASSIGNMENT / NOTEBOOK
        source = read(source_path)
        return cls(
            release=read(course / "release" / ASSIGNMENT / NOTEBOOK),
            source=source,
            answers=reference_answers(source_path),
            exercises=region_exercises(source),
            points=grade_cells(source),
            checks=checks_of(source),
        )

    @property
    def exercise_names(self) -> list[str]:
        """The course's exercises, in notebook order (the prefixes of its grade_ids)."""
        return exercises(self.points)

    def full_marks(self) -> dict[str, float]:
        """exercise -> its points."""
        marks = dict.fromkeys(self.exercise_names, 0.0)
        for grade_id, points in self.points.items():
            marks[exercise_of(grade_id)] += points
        return marks

    def test_cells(self, exercise: str) -> list[str]:
        """The grade_ids of the test cells of `exercise`, in order."""
        return list(dict.fromkeys(c.split("/")[0] for c in self.checks if exercise_of(c) == exercise))

    def solved(self, answers: Answers | None = None) -> nbformat.NotebookNode:
        """The release with its stubs filled with `answers` (default: the reference)."""
        return fill(self.release, self.answers if answers is None else answers)

    def only(self, *exercises: str) -> Answers:
        """The reference answers of `exercises`; every other stub left as released."""
        return only(self.answers, self.exercises, set(exercises))


def swap(answers: Answers, cell: str, old: str, new: str) -> Answers:
    """A copy of `answers` where the one region of `cell` that contains `old` has it replaced by
    `new` (once). Fails loudly when the reference changed and `old` is no longer unique."""
    regions = answers[cell]
    hits = [i for i, code in enumerate(regions) if code is not None and old in code]
    if len(hits) != 1 or regions[hits[0]].count(old) != 1:
        raise ValueError(f"{cell}: {old!r} should occur exactly once in one region, found in {hits}")
    copy = {k: list(v) for k, v in answers.items()}
    copy[cell][hits[0]] = regions[hits[0]].replace(old, new)
    return copy


def drop_line(answers: Answers, cell: str, line: str) -> Answers:
    """A copy of `answers` without the one line of `cell` whose code is `line` (indentation aside)."""
    pattern = re.compile(rf"^[ \t]*{re.escape(line)}[ \t]*\n", re.M)
    regions = answers[cell]
    hits = [i for i, c in enumerate(regions) if c is not None and len(pattern.findall(c)) == 1]
    if len(hits) != 1:
        raise ValueError(f"{cell}: the line {line!r} should be in exactly one region, found in {hits}")
    copy = {k: list(v) for k, v in answers.items()}
    copy[cell][hits[0]] = pattern.sub("", regions[hits[0]])
    return copy


def rewrite(answers: Answers, cell: str, containing: str, code: str) -> Answers:
    """A copy of `answers` where the region of `cell` that contains `containing` becomes `code`."""
    regions = answers[cell]
    hits = [i for i, c in enumerate(regions) if c is not None and containing in c]
    if len(hits) != 1:
        raise ValueError(f"{cell}: {containing!r} should be in exactly one region, found in {hits}")
    copy = {k: list(v) for k, v in answers.items()}
    copy[cell][hits[0]] = code
    return copy


def cell(nb, grade_id: str):
    """The cell of `nb` with this grade_id."""
    for c in nb.cells:
        if nbgrader_meta(c).get("grade_id") == grade_id:
            return c
    raise KeyError(grade_id)


def append(nb, grade_id: str, code: str):
    """`nb` with `code` added at the end of the cell `grade_id` (outside any stub)."""
    target = cell(nb, grade_id)
    target.source = target.source.rstrip("\n") + "\n\n" + code.strip("\n") + "\n"
    return nb


def prepend(nb, grade_id: str, code: str):
    target = cell(nb, grade_id)
    target.source = code.strip("\n") + "\n\n" + target.source
    return nb


def delete(nb, *grade_ids: str):
    for grade_id in grade_ids:
        nb.cells.remove(cell(nb, grade_id))
    return nb


SNIPPETS = COURSE_ROOT / "simulation" / "snippets"


def snippet(*names: str) -> str:
    """The code of simulation/snippets/<name>.py for each of `names`, one after the other; a
    snippet's `from <other snippet> import ...` line is dropped (that snippet comes before it)."""
    texts = []
    for name in names:
        lines = []
        for line in (SNIPPETS / f"{name}.py").read_text(encoding="utf-8").splitlines():
            imported = re.match(r"from (\w+) import ", line)
            if not (imported and (SNIPPETS / f"{imported[1]}.py").exists()):
                lines.append(line)
        texts.append("\n".join(lines).strip("\n"))
    return "\n\n".join(texts)


def _function(name: str):
    """The one function of simulation/snippets/<name>.py (the one method of its one class)."""
    tree = ast.parse((SNIPPETS / f"{name}.py").read_text(encoding="utf-8"))
    nodes = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    if len(nodes) != 1:
        raise ValueError(f"{name}.py should hold one function or one class with one method")
    node = nodes[0]
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
        if len(methods) != 1:
            raise ValueError(f"{name}.py: its class should hold one method")
        node = methods[0]
    return node


def body(name: str) -> str:
    """The body of the function (or method) of simulation/snippets/<name>.py, dedented, without its
    docstring: code that takes the place of a solution region."""
    node = _function(name)
    statements = node.body[1:] if ast.get_docstring(node) else node.body
    text = (SNIPPETS / f"{name}.py").read_text(encoding="utf-8").splitlines()
    lines = text[statements[0].lineno - 1 : statements[-1].end_lineno]
    return textwrap.dedent("\n".join(lines)) + "\n"


def method(name: str) -> str:
    """The method of the class of simulation/snippets/<name>.py, as it stands in a class body."""
    node = _function(name)
    text = (SNIPPETS / f"{name}.py").read_text(encoding="utf-8").splitlines()
    return "\n".join(text[node.lineno - 1 : node.end_lineno])


# Every way a submission might write "results" of its own (simulation/snippets/forge_*.py): each
# on a blank notebook must earn nothing; all at once on the reference must change nothing.
FORGING = {
    "forge_thread": "a thread that never stops",
    "forge_atexit": "an atexit hook",
    "forge_finalizer": "__del__ finalizers, in reference cycles and at exit",
    "forge_signals": "signal handlers and interval timers (SIGALRM, SIGPROF, ...)",
    "forge_patches": "patched json encoders, os.write, sockets' send, sys.stdout and sys.stderr",
    "forge_gc_callback": "garbage collector callbacks",
    "forge_trace": "sys.settrace and threading.settrace",
    "forge_profile": "sys.setprofile and threading.setprofile",
    "forge_ctypes": "write(2) called through ctypes from a thread",
    "forge_fork": "a forked copy of the kernel",
    "forge_child_process": "a child process that outlives the cell",
}


def forging(*techniques: str) -> Callable[[Kit], Submission]:
    return lambda k: append(
        nbformat.from_dict(k.release), "value_class", snippet("forge_common", *techniques)
    )
