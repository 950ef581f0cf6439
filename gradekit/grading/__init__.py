"""Autograding, as nbgrader's preprocessors (configured in nbgrader_config.py).

- `judge`: the autograde step: the student's cells in the sandboxed kernel, the checks in the
  grader (`JudgedExecute`, in the place of nbgrader's Execute);
- `judge_thread`: the grader's side of one kernel run, in a thread, test cell by test cell;
- `kernel_setup`: what a grading kernel runs first, and a setup that failed stopped with its reason;
- `writeback`: what a run gave, written back into the autograded notebook;
- `autogrades`: the scores into the gradebook (nbgrader's SaveAutoGrades, in one transaction);
- `runner`: a test cell's checks run against a student's process;
- `plan`: what the grader knows of an assignment, and where a verdict is decided (`Plan.judge`);
- `worlds`: error carried forward, run (each failed check again in the world of its pieces);
- `render`: a cell's verdicts as people read them;
- `sanitize`: nbgrader's sanitizing, with split or pasted cells and changed test cells handled;
- `outputs`: a cell's output capped in bytes;
- `feedback`: feedback that never shows hidden tests.
"""
