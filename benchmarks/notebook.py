"""How long does the reference notebook take to run? Kernel start and all cells, as a student runs
it (pictures drawn) and as the autograder runs it (NBGRADER_EXECUTION=autograde: pictures skipped),
plus the slowest cells. Medians of --runs (default 3).

    python benchmarks/notebook.py [--runs 3]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: simulation/

from gradekit.course.notebooks import nbgrader_meta
from simulation.course import SOURCE_NOTEBOOK


def run_once() -> tuple[float, float, dict[str, float]]:
    nb = nbformat.read(SOURCE_NOTEBOOK, 4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3")
    start = time.perf_counter()
    cells = {}
    with client.setup_kernel():
        started = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            before = time.perf_counter()
            client.execute_cell(cell, index)
            name = nbgrader_meta(cell).get("grade_id") or f"cell {index}"
            cells[name] = time.perf_counter() - before
    return started - start, time.perf_counter() - started, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for mode in ("student", "autograde"):
        if mode == "autograde":
            os.environ["NBGRADER_EXECUTION"] = "autograde"
        runs = [run_once() for _ in range(args.runs)]
        kernel = statistics.median(r[0] for r in runs)
        cells = statistics.median(r[1] for r in runs)
        slowest = sorted(runs[-1][2].items(), key=lambda item: -item[1])[:3]
        print(f"{mode}: kernel start {kernel:.2f} s, all cells {cells:.2f} s; slowest: ", end="")
        print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in slowest))


if __name__ == "__main__":
    main()
