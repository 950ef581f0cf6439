"""Every line a student may edit is some piece's responsibility: a mistake in any region of the
solution cells (the given constructor, `__repr__`, `backwards` and `zero_grad` included) is
charged in the checks that name that region, and nowhere else is it charged by error carried
forward to no one.

The editable regions are read from the source notebook: the solution cells are the cells a student
may edit, and each top-level definition in them, each method of a class and each closure of a
method is a region. The proof is by breaking: each region in turn raises instead of doing its work,
in a copy of the reference solution, and the checks that name it must fail with it even in the
world of their pieces (where every other piece is the reference's), run as the grader runs them.
"""

from __future__ import annotations

import ast

import pytest

from gradekit.checks import carry_forward, probes, verdict
from gradekit.course.notebooks import nbgrader_meta, read
from gradekit.grading import runner
from simulation.course import SOURCE_NOTEBOOK
from tests.conftest import StudentProcess

pytestmark = pytest.mark.course

BROKEN = "raise RuntimeError('broken on purpose by the test')"


def solution_cells() -> list[str]:
    return [c.source for c in read(SOURCE_NOTEBOOK).cells if nbgrader_meta(c).get("solution")]


def given_code() -> list[str]:
    """The locked cells of code that are no tests (imports, the recipe's constants, helpers)."""
    found = []
    for c in read(SOURCE_NOTEBOOK).cells:
        meta = nbgrader_meta(c)
        if (
            c.cell_type == "code"
            and meta.get("locked")
            and not meta.get("grade")
            and meta.get("grade_id") != "check_helpers"
        ):
            found.append(c.source)
    return found


def editable_regions() -> list[str]:
    """Every region of the solution cells, as a piece name: `Name`, `Class.member`,
    `Class.member.closure`."""
    statements = carry_forward.parse_cells(solution_cells())
    regions = []
    for node in statements:
        name = carry_forward.defined_names(node)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            regions.append(node.name)
        if isinstance(node, ast.ClassDef):
            for member, inner in carry_forward.members(node).items():
                regions.append(f"{node.name}.{member}")
                closure = carry_forward.nested_function(inner)
                if closure is not None:
                    regions.append(f"{node.name}.{member}.{closure.name}")
        assert name, f"solution cells hold definitions only, not {ast.unparse(node)[:60]!r}"
    return regions


def all_checks() -> list[tuple[probes.TestCell, object]]:
    found = []
    for c in read(SOURCE_NOTEBOOK).cells:
        meta = nbgrader_meta(c)
        if meta.get("grade") and not meta.get("solution"):
            cell = probes.TestCell.parse(meta["grade_id"], c.source)
            found += [(cell, item) for item in cell.specs()]
    return found


def test_solution_cells_hold_only_definitions():
    for node in carry_forward.parse_cells(solution_cells()):
        assert isinstance(node, (ast.FunctionDef, ast.ClassDef)), (
            f"a solution cell runs {ast.unparse(node)[:60]!r}: give it to the student in a locked cell "
            "(imports, constants), or make it a definition that a check names"
        )


def test_every_editable_region_is_named_by_a_check():
    """A region is named when a check's `tests=` names it, or names its whole class while no check
    names any member of that class on its own (the class is then one piece)."""
    named = {piece for _, item in all_checks() for piece in item.tests}
    regions = editable_regions()
    split_classes = {p.split(".")[0] for p in named if "." in p}
    unnamed = []
    for region in regions:
        top = region.split(".")[0]
        if region in named:
            continue
        if "." in region and top in named and top not in split_classes:
            continue
        if "." not in region and top in split_classes:
            continue  # a class taken apart: its members are the pieces
        unnamed.append(region)
    assert not unnamed, f"no check names these editable regions: {unnamed}"
    assert {"Value.__init__", "Value.__repr__", "Value.zero_grad", "Value.backwards"} <= set(regions)


def broken(region: str) -> str:
    """The solution cells with `region` raising RuntimeError instead of doing its work (a method
    with a closure keeps its closure and raises before it: the method, not its closure, is broken)."""
    tree = ast.parse("\n\n".join(solution_cells()))
    parts = region.split(".")
    node = next(n for n in tree.body if getattr(n, "name", None) == parts[0])
    for part in parts[1:]:
        body = node.body
        node = next(n for n in body if getattr(n, "name", None) == part or _assigns(n, part))
    raising = ast.parse(BROKEN).body
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        docstring = node.body[:1] if ast.get_docstring(node) else []
        if isinstance(node, ast.ClassDef):
            node.body = docstring + raising
        else:
            node.body = docstring + raising + node.body[len(docstring) :]
    return ast.unparse(tree)


def _assigns(node, name) -> bool:
    return isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets)


@pytest.mark.parametrize("region", editable_regions())
def test_a_broken_region_is_charged_in_the_checks_that_name_it(region):
    mine = broken(region)
    statements = carry_forward.parse_cells([mine])
    reference = carry_forward.parse_cells(solution_cells())
    everything = all_checks()
    split = {p.split(".")[0] for _, item in everything for p in item.tests if "." in p}
    top = region.split(".")[0]
    # a region's own checks: those that name it; for a class checked only as a whole, its checks
    own = region if top in split or "." not in region else top
    naming = [(cell, item) for cell, item in everything if own in item.tests]
    assert naming, region
    charged = []
    for pieces in sorted({frozenset(item.tests) for _, item in naming}, key=sorted):
        world = carry_forward.world(reference, statements, pieces)
        student = StudentProcess([*given_code(), mine, world.code])
        try:
            for cell, item in naming:
                if frozenset(item.tests) != pieces:
                    continue
                run = runner.run_checks(student.session, cell, [item.name], 10.0)
                outcome = run.outcomes.get(item.name, {"error": {"type": "NoResult", "message": ""}})
                if not verdict(item, outcome).passed:
                    charged.append(f"{cell.grade_id}/{item.name}")
                if run.stuck is not None:
                    break
        finally:
            student.close()
    assert charged, f"breaking {region} fails none of the checks that name it, even in their worlds"


def test_every_check_names_a_piece_the_student_writes():
    """A check about given code only (the constructor, zero_grad) would pass on the untouched
    release, by error carried forward if not at once: each check also names a piece that the
    release leaves as a stub, so that the blank notebook earns nothing."""
    release = carry_forward.parse_cells(
        c.source
        for c in read(
            SOURCE_NOTEBOOK.parents[2] / "release" / "mini_auto_grad" / "mini_auto_grad.ipynb"
        ).cells
        if nbgrader_meta(c).get("solution")
    )
    reference = carry_forward.parse_cells(solution_cells())
    for cell, item in all_checks():
        stubs = [p for p in item.tests if carry_forward.unwritten(release, release, {p}, reference)]
        assert stubs, f"{cell.grade_id}/{item.name} tests only given code: {item.tests}"
