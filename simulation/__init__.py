"""Simulated students for the kit's tests, benchmarks and `./kit demo` (not part of the kit).

- `cohort`: a simulated cohort, each submission with the result every check must give;
- `arrivals`: hand-ins as they really arrive (renamed, split, re-encoded, late...);
- `submissions`: submissions made from the release by filling its stubs;
- `reference`: the reference solution, executed from the source notebook;
- `demo`: the main job end to end (`./kit demo`);
- `snippets/`: student code kept as files.
"""
