"""The course kit: only what nbgrader lacks, through nbgrader's own plugin and preprocessor points.

The folders follow the pipeline of a course, from the source notebook to the grades:

- `course/`: the course as the kit sees it: the one `Course` model (paths, nbgrader_config.py,
  gradebook URL, students), its notebooks' nbgrader metadata, its gradebook;
- `checks/`: what a test cell is made of (named checks, the notebook's copy of `framework.py`), how
  the grader reads test cells (`probes`), and the pieces of the solution a check is about
  (`carry_forward`);
- `channel/`: the grading channel: checks run in the grader, on the student's objects in the
  student's sandboxed process (`server.py` is the student's side);
- `grading/`: nbgrader's autograde step, replaced (`judge`), a cell's checks against a student's
  process (`runner`), where a verdict is decided (`plan`), error carried forward run (`worlds`),
  sanitizing, output caps, feedback;
- `sandbox/`: every student process runs in bubblewrap (`policy`, `bwrap`, `seccomp`, `kernels`,
  `autograde`);
- `intake/`: submissions as they arrive: which file is the notebook (`files`), where a student's
  folder is judged gradable (`folder`), timestamps, LMS archives, nbgrader's exchange;
- `cluster/`: grading in shards, here or on a cluster: where a shard starts (`shard`), who is
  missing (`status`), the run (`runner`), progress, summary, the processes' lifeline;
- `export/`: grades out: per-exercise CSV, Canvas and Moodle files, the HTML report;
- `hub/`: `./kit hub`, a demo JupyterHub;
- `cli.py`: every command, `python -m gradekit <command>`.

Simulated students (the cohort, real-world arrivals, `./kit demo`) are not part of the kit: they
live in simulation/, beside the tests.
"""
