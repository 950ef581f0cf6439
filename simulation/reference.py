"""The reference solution, executed straight from the instructor's source notebook.

The engine exists once, in `source/`; tests and benchmarks import it from there, so what they check
is exactly what the notebook teaches and what `solutions/` shows.
"""

from __future__ import annotations

import functools
import types
from pathlib import Path

from gradekit.course.notebooks import nbgrader_meta, read
from simulation.course import SOURCE_NOTEBOOK


def solution_code(path: str | Path = SOURCE_NOTEBOOK) -> str:
    """The code of every solution cell and read-only helper cell (such as `draw_graph`) of the
    notebook, in order, as one Python source. Tests and examples are left out."""
    nb = read(path)
    cells = [
        c.source
        for c in nb.cells
        if c.cell_type == "code"
        and (
            nbgrader_meta(c).get("solution")
            or (nbgrader_meta(c).get("locked") and not nbgrader_meta(c).get("grade"))
        )
    ]
    return "\n\n".join(cells) + "\n"


@functools.cache
def load(path: str | Path = SOURCE_NOTEBOOK) -> types.ModuleType:
    """Execute the solution cells into a fresh module (`Value`, `MLP`, `train`, ...)."""
    module = types.ModuleType("mini_auto_grad_reference")
    module.__file__ = str(path)
    exec(compile(solution_code(path), f"{path}#solutions", "exec"), module.__dict__)
    return module
