"""nbgrader configuration of the mini_auto_grad course.

Every path is relative to the folder of this file, so a copy of the course (tests, CI, a grading
node) works wherever it lives. Environment variables override what differs between machines.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821  (injected by nbgrader when it loads this file)

COURSE_ROOT = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "mini_auto_grad"
c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.solution_directory = "solutions"

# SQLite in the course root by default; a big course points this at PostgreSQL, e.g.
# NBGRADER_DB_URL=postgresql+psycopg2://grader@db.example/mini_auto_grad (psycopg2, not psycopg 3).
c.CourseDirectory.db_url = os.environ.get("NBGRADER_DB_URL", f"sqlite:///{COURSE_ROOT / 'gradebook.db'}")

# A cell that runs longer than this fails alone; the reference notebook needs ~1 s in all.
c.Execute.timeout = int(os.environ.get("NBGRADER_CELL_TIMEOUT", "30"))

# A deleted test cell is put back from the gradebook instead of silently costing nothing.
# (nbgrader inserts it after the previous solution or test cell of the source, which is why every
# test cell of the source notebook directly follows one of those.)
c.OverwriteCells.add_missing_cells = True

# Feedback: no hidden test in the cells, and tracebacks reduced to the exception and its message
# (the hint) so that no hidden line is printed through them either.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "gradekit.feedback.RedactHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Solutions are stored unexecuted: stock generate_solution runs the notebook and records timings
# in every cell, so two regenerations would never be identical (tests compare them with source/).
c.GenerateSolution.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.ClearMarkScheme",
]

# `nbgrader zip_collect`: how to read the student id out of an LMS download. This pattern fits
# Canvas's names, `<login>_[late_]<user id>_<submission id>_<file>` (e.g.
# `smithj_late_1234_5678_mini_auto_grad-1.ipynb`); adapt it to your LMS. nbgrader matches it against
# the file's whole path.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[^/_]+)_(?:late_)?\d+_\d+_(?P<file_id>mini_auto_grad)(?:-\d+)?\.ipynb$"
)

# Autograding: nbgrader's default steps, with `Execute` replaced by the kit's `JudgedExecute`.
# - Untrusted code: every student kernel runs in a bubblewrap sandbox (docs/sandbox.md): it sees
#   only its own submission's files (not the notebook nbgrader fills with hidden tests), has no
#   network and has limits on memory, CPU, processes and disk. Without a working bwrap,
#   autograding refuses to start unless c.Sandbox.allow_unsandboxed = True or
#   GRADEKIT_ALLOW_UNSANDBOXED=1 (trusted code only).
# - Checks judged outside the student's kernel (docs/grading.md): the kernel runs each test
#   cell's checks without their expected values and sends back what they returned; the grader
#   decides, gives partial credit per check, and runs a failed check again with the reference
#   solution for the pieces it is not about (error carried forward).
c.Autograde.exporter_class = "gradekit.sandbox.SandboxCheckedExporter"
c.Autograde.autograde_preprocessors = [
    "gradekit.judge.JudgedExecute",  # instead of nbgrader.preprocessors.Execute
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
