"""Grading a big course: shards that run in parallel, on one machine or a cluster.

- `runner`: a grading run (`python -m gradekit grade`): intake, shards started, watched, rerun;
- `shard`: one shard, the students ONE `nbgrader autograde` process grades (where a shard starts);
- `autograde_shard`: one shard's nbgrader, with its list of students to leave out in a file;
- `status`: who is graded and who is *missing* (`--only-missing`, the check job);
- `progress`: students done so far, as a run goes;
- `summary`: what a run did, for the instructor, and its exit code;
- `lifeline`: the processes the kit starts die with it.
"""
