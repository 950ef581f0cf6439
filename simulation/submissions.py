"""Make student submissions out of the release: fill its solution stubs with code.

The release holds one stub (`# YOUR CODE HERE` + `raise NotImplementedError()`) where the source
holds a `### BEGIN SOLUTION` region, in the same order, so a submission is described by the code
that replaces each stub.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Mapping

import nbformat

from gradekit.course.notebooks import nbgrader_meta, read

STUB = re.compile(r"^([ \t]*)# YOUR CODE HERE\n[ \t]*raise NotImplementedError\(\)[ \t]*$", re.M)
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)


def solution_regions(source_nb) -> dict[str, list[str]]:
    """grade_id of each solution cell -> the dedented code of its solution regions, in order."""
    return {
        nbgrader_meta(c)["grade_id"]: [textwrap.dedent(r) for r in SOLUTION.findall(c.source)]
        for c in source_nb.cells
        if nbgrader_meta(c).get("solution")
    }


def region_exercises(source_nb) -> dict[str, list[str]]:
    """grade_id of each solution cell -> the exercise of each region ("ex1", ...): the last
    "Exercise N" written before the region (the docstrings say which exercise each region is)."""
    result = {}
    for c in source_nb.cells:
        if nbgrader_meta(c).get("solution"):
            result[nbgrader_meta(c)["grade_id"]] = [
                "ex" + re.findall(r"Exercise (\d)", c.source[: m.start()])[-1]
                for m in SOLUTION.finditer(c.source)
            ]
    return result


def only(answers: dict[str, list[str]], exercises: dict[str, list[str]], keep: set[str]):
    """`answers` with the regions of every exercise outside `keep` left blank."""
    return {
        cell: [code if ex in keep else None for code, ex in zip(codes, exercises[cell])]
        for cell, codes in answers.items()
    }


def fill(release_nb, answers: Mapping[str, list[str | None]]):
    """A copy of the release whose stubs are replaced by `answers[grade_id][k]` (None: left blank)."""
    nb = nbformat.from_dict(release_nb)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        codes = answers.get(meta.get("grade_id", ""))
        if not meta.get("solution") or codes is None:
            continue
        stubs = STUB.findall(cell.source)
        if len(stubs) != len(codes):
            raise ValueError(f"{meta['grade_id']}: {len(stubs)} stubs in the release, {len(codes)} answers")
        answers_left = iter(codes)

        def replace(match: re.Match, answers_left=answers_left) -> str:
            code = next(answers_left)
            if code is None:
                return match.group(0)
            return textwrap.indent(code.rstrip("\n"), match.group(1))

        cell.source = STUB.sub(replace, cell.source)
    return nb


def reference_answers(source_path) -> dict[str, list[str]]:
    return solution_regions(read(source_path))


def edit(answers: dict[str, list[str]], grade_id: str, index: int, change: Callable[[str], str]):
    """A copy of `answers` with region `index` of cell `grade_id` rewritten by `change`."""
    copy = {k: list(v) for k, v in answers.items()}
    new = change(copy[grade_id][index])
    if new == copy[grade_id][index]:
        raise ValueError(f"the edit of {grade_id}[{index}] changed nothing")
    copy[grade_id][index] = new
    return copy
