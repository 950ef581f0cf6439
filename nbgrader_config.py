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
# Seconds of the student's code one check may take, unless the check sets its own limit=; a check
# that keeps running past it costs that check only (docs/grading.md).
c.JudgedExecute.probe_limit = float(os.environ.get("NBGRADER_CHECK_LIMIT", "10"))

# A deleted test cell is put back from the gradebook instead of silently costing nothing.
# (nbgrader inserts it after the previous solution or test cell of the source, which is why every
# test cell of the source notebook directly follows one of those.)
c.OverwriteCells.add_missing_cells = True

# Feedback: no hidden test in the cells, and tracebacks reduced to the exception and its message
# (the hint) so that no hidden line is printed through them either.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "gradekit.grading.feedback.RedactHiddenTests",
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

# Late submissions: once the assignment has a due date (`nbgrader db assignment add mini_auto_grad
# --duedate="2026-12-14 23:59:00 UTC"`), a submission handed in after it scores 0 (nbgrader's "zero"
# method; "none" only marks it late). The kit's export, report and tables show the penalty as its own
# column, beside the per-exercise scores. Without a due date nothing is late.
c.LateSubmissionPlugin.penalty_method = "zero"

# `nbgrader zip_collect` for an LMS archive: `gradekit.intake.lms.LmsCollector` reads the student id from the
# LMS's part of each file name and keeps the name the student gave the file, so a renamed upload
# is not skipped; it remembers which uploads the LMS marked late. Its default pattern fits Canvas,
# `<login>_[late_]<user id>_<submission id>_<file>` (e.g. `smithj_late_1234_5678_mini_auto_grad.ipynb`);
# set c.LmsCollector.named_regexp for another LMS.
c.ZipCollectApp.collector_plugin = "gradekit.intake.lms.LmsCollector"

# `nbgrader collect` from the exchange (JupyterHub): only submissions a student's own `nbgrader
# submit` made are collected: owned by the student named, no symbolic links, no time from the
# future, with nbgrader's submission secret (gradekit/intake/exchange.py; stock collect only warns).
c.ExchangeFactory.collect = "gradekit.intake.exchange.SafeCollect"

# Submissions as they arrive (gradekit/intake/__init__.py): before a student's folder is graded, the notebook
# to grade is picked (a renamed copy, the work beside an untouched release, UTF-16 or a byte-order
# mark) and timestamp.txt is read as the time it states. Whatever is moved aside is kept in the
# folder's .intake/ (which nbgrader does not copy to autograded/); a folder that cannot be graded is
# recorded as not graded, with the reason. `python -m gradekit intake` does the same for the whole
# course and lists what it found; the kit's commands run it before grading.
c.Autograde.pre_convert_hook = "gradekit.intake.pre_convert_hook"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".intake"]

# Sanitizing, with two of nbgrader's steps replaced (gradekit/grading/sanitize.py): a cell split in two or
# copy-pasted (two cells with one grade_id) no longer stops grading, and a test cell is restored
# from the gradebook without the false "checksum has changed" warning its hidden tests caused on
# every submission; a real change to a locked cell is still logged, naming the student. The
# metadata check is nbgrader's, with its schema's validator built once (not once per cell).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "gradekit.grading.sanitize.DeduplicateCells",  # instead of nbgrader.preprocessors.DeduplicateIds
    "nbgrader.preprocessors.OverwriteKernelspec",
    "gradekit.grading.sanitize.RestoreCells",  # instead of nbgrader.preprocessors.OverwriteCells
    "gradekit.grading.sanitize.CheckCellMetadata",  # nbgrader's checks, its schema built once
]

# Autograding: nbgrader's default steps, with `Execute` replaced by the kit's `JudgedExecute`.
# - Untrusted code: every student kernel runs in a bubblewrap sandbox (docs/sandbox.md): it sees
#   only its own submission's files (not the notebook nbgrader fills with hidden tests), has no
#   network and has limits on memory, CPU, processes and disk. Without a working bwrap,
#   autograding refuses to start unless c.Sandbox.allow_unsandboxed = True or
#   GRADEKIT_ALLOW_UNSANDBOXED=1 (trusted code only).
# - Checks run in the grader, not in the student's kernel (docs/grading.md): at each test cell the
#   kernel answers the checks' questions about its objects (a call, an attribute, an operator), and
#   never sees a check's code or expected value; the grader decides, gives partial credit per
#   check, and runs a failed check again with the reference solution for the pieces it is not
#   about (error carried forward).
c.Autograde.exporter_class = "gradekit.sandbox.SandboxCheckedExporter"
# nbconvert validates the whole notebook against its schema after each step (12 times per
# submission); once, after the last step, is enough (nbconvert's own option).
c.Exporter.optimistic_validation = True
c.Autograde.autograde_preprocessors = [
    "gradekit.grading.judge.JudgedExecute",  # instead of nbgrader.preprocessors.Execute
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "gradekit.grading.autogrades.SaveAutoGrades",  # nbgrader's, committed once, not once per cell
    "nbgrader.preprocessors.AssignLatePenalties",
    "gradekit.grading.sanitize.CheckCellMetadata",  # nbgrader's checks, its schema built once
]

# Kernels are forked from a warm parent that has imported ipykernel (docs/sandbox.md). It imports
# the course's own trusted libraries too, so that no kernel spends its time importing them:
# graphviz, which draws the computation graphs (0.01-0.02 s of each kernel otherwise).
c.Sandbox.warm_imports = ["graphviz"]
