"""A feedback preprocessor that keeps hidden tests out of what students read.

nbgrader's `ClearHiddenTests` removes hidden tests from the cells of the feedback, but their lines
still reach students through outputs: the frames of a traceback, or a submission that prints the
source of the cell it runs in. This preprocessor, run after `ClearHiddenTests`, reduces the
traceback of every test cell to `ExceptionName: message` (the message is the hint) and blanks out
any hidden test line that appears in any output of any cell.

The one exception is a test cell whose outputs `gradekit.grading.judge.JudgedExecute` wrote (its cell
metadata holds "gradekit", which the judge removes from every other cell): those are the verdicts,
written by the grader, whose author messages may well mention a hidden line (`after
random.seed(1), ...`) and whose student-made strings the judge has already censored.
"""

from __future__ import annotations

import re

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from gradekit.course.notebooks import nbgrader_meta, secret_lines

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REDACTED = "[hidden test line removed]"


class RedactHiddenTests(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self.hidden_lines = self._hidden_lines(info["db_url"], info["notebook"], info["assignment"])
        return super().preprocess(nb, resources)

    @staticmethod
    def _hidden_lines(db_url: str, notebook: str, assignment: str) -> list[str]:
        with Gradebook(db_url) as gradebook:
            try:
                cells = gradebook.find_notebook(notebook, assignment).source_cells
            except MissingEntry:
                return []
            lines = secret_lines([cell.source or "" for cell in cells], solutions=False)
        # Longest first, so that a line containing a shorter hidden line is removed whole.
        return sorted(lines, key=len, reverse=True)

    def redact(self, text: str) -> str:
        text = _ANSI.sub("", text)
        for line in self.hidden_lines:
            text = text.replace(line, REDACTED)
        return text

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        is_test = bool(nbgrader_meta(cell).get("grade"))
        if is_test and not nbgrader_meta(cell).get("solution") and "gradekit" in cell.metadata:
            return cell, resources  # the judge's verdicts (see the module's docstring)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.evalue = self.redact(output.evalue)
                if is_test:
                    output.traceback = [f"{output.ename}: {output.evalue}"]
                else:
                    output.traceback = [self.redact(line) for line in output.traceback]
            elif output.output_type == "stream":
                output.text = self.redact(output.text)
            else:
                for mime, value in output.get("data", {}).items():
                    if isinstance(value, str) and (mime.startswith("text/") or mime.endswith("json")):
                        output.data[mime] = self.redact(value)
        return cell, resources
