"""Grading a big course: shards that run in parallel, on one machine or a cluster.

- `shards`: the shard runner (`python -m gradekit grade`);
- `autograde_shard`: one shard's nbgrader, with its list of students to leave out in a file;
- `lifeline`: the processes the kit starts die with it.
"""
