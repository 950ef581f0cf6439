"""The grading channel between the grader and a student's process.

- `remote`: the grader's side: stand-ins for the student's objects, and the questions they ask;
- `server`: the student's side, installed in the student's process before its code runs: it
  answers the questions and decides nothing.
"""
