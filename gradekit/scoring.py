"""An autograde preprocessor: every test cell of this kit passes or fails, nothing in between.

A test cell here passes when it runs without an error and fails when it raises. nbgrader reads two
more things from a test cell's outputs: the first displayed value is taken as partial credit (and
anything that is not a number as full credit, even when the cell fails afterwards), and any text on
stderr scores the cell 0. Submitted code can produce both in a test cell (a display hook that shows
"ok" before every cell earns full marks on a blank notebook; a harmless `warnings.warn` zeroes a
correct answer). This preprocessor runs after `Execute` and before the scores are saved, and turns
both into plain output in test cells, so only errors decide.
"""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution


class PassOrFail(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not is_grade(cell) or is_solution(cell):
            return cell, resources
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.output_type = "display_data"
                output.pop("execution_count", None)
            elif output.output_type == "stream" and output.name == "stderr":
                output.name = "stdout"
        return cell, resources
