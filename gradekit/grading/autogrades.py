"""The autograded scores into the gradebook, in one transaction: `SaveAutoGrades`.

nbgrader's SaveAutoGrades (nbgrader 0.9.6, nbgrader/preprocessors/saveautogrades.py) commits the
gradebook after every grade, solution and task cell: on SQLite each commit is a disk sync, 22 per
submission of this course (0.04 s of the 0.05 s it took). This one does what nbgrader's does, cell
by cell, its code unchanged, and commits once at the end: the same rows, and a submission's scores
are all written or none (an error half way through leaves the gradebook as it was).
"""

from __future__ import annotations

from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.preprocessors import SaveAutoGrades as NbgraderSaveAutoGrades


class SaveAutoGrades(NbgraderSaveAutoGrades):
    """nbgrader's SaveAutoGrades, committed once per notebook (see the module docstring): each
    grade cell's `auto_score` and `needs_manual_grade`, each solution and task cell's
    `auto_comment`, as nbgrader sets them. Raises what nbgrader's raises (MissingEntry for a cell
    the gradebook does not know), and then none of the notebook's writes is kept."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        self.notebook_id, self.assignment_id = info["notebook"], info["assignment"]
        self.student_id, self.db_url = info["student"], info["db_url"]
        self.gradebook = Gradebook(self.db_url)
        with self.gradebook:
            session = self.gradebook.db
            session.commit = session.flush  # nbgrader's commit after each cell: written, not yet committed
            try:
                nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)
            finally:
                del session.commit  # the session's own commit again
            session.commit()  # (after an error, the gradebook's close rolls back what was written)
        return nb, resources
