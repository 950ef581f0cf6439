"""Simulated students for the kit's tests, benchmarks and `./kit demo` (not part of the kit).

- `cohort`: a simulated cohort (its cases in `cases/`), each submission with the result every
  check must give, derived from the checks' pieces (`expectations`);
- `course`: this repository's course as the simulation sees it (its assignment, notebook,
  exercises, read from source/);
- `recipes`: the changes of docs/course.md ("Changing the course"), as notebook edits;
- `editing`, `builders`: submissions made from the release, and the cases' larger edits;
- `arrivals`: hand-ins as they really arrive (renamed, split, re-encoded, late...);
- `submissions`: submissions made from the release by filling its stubs;
- `reference`: the reference solution, executed from the source notebook;
- `demo`: the main job end to end (`./kit demo`);
- `snippets/`: student code kept as files.
"""
