"""The course kit's own code: only what nbgrader lacks for the mini_auto_grad course.

Course content and nbgrader metadata:
- `notebooks`: where the course's notebooks live; what their nbgrader cells hold (points, secrets).
- `reference`: the reference solution, executed from the source notebook itself.
- `submissions`: submissions made from the release by filling its solution stubs.

Grading, through nbgrader's plugin and preprocessor points (configured in nbgrader_config.py):
- `checks`: the tests' framework: named checks with points and hints (copied into the notebook).
- `probes`: test cells as the grader reads them: their checks, and code without expected values.
- `judge`: the autograde step: checks run in the sandboxed kernel and are judged outside it.
- `carry_forward`: a failed check runs again with the reference for the pieces it is not about.
- `sandbox`: every student kernel of `nbgrader autograde` runs in a bubblewrap sandbox.
- `feedback`: feedback that never shows hidden tests.
- `grades`: per-exercise scores, and an nbgrader export plugin for them.
- `report`: the HTML grade report.
- `shards`: autograding split into shards that run in parallel (and on several machines).

Demonstration:
- `cohort`: a simulated cohort, each submission with the score it must get.
- `demo`: the main job end to end (`./kit demo`).
"""
