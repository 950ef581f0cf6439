"""How fast is the reference engine? Compares it with micrograd 0.1.0 (PyPI), in one run.

    pip install micrograd==0.1.0       # the `bench` extra
    python benchmarks/engine.py [--notebook PATH] [--repeats 7] [--depth 1000000]

The engine is the one the notebook teaches (`simulation.reference.load`), or the solution cells of the
notebook given with --notebook, so that a candidate version can be compared before it is applied.

- mlp: an MLP 2-16-16-1 (each library's own: tanh in ours, ReLU in micrograd), forward on 100 points,
  the mean squared error, zero_grad, backward.
- chain: x = x * 1.0 + 0.0, 25,000 times (100,001 nodes, depth 50,000), then backward. micrograd
  sorts recursively, so the recursion limit is raised for micrograd's runs only.
- xor: ours only, one run of the notebook's recipe: MLP(XOR_SIZES) trained with train(...).
- depth: ours only, in a subprocess: backward through a 1,000,000-node chain, with its peak memory.

Both engines run in this one interpreter with the same settings (the collector on, default
thresholds): each timed run starts after a full collection, the two engines alternate, and the
medians are reported. micrograd's graphs are reference cycles, which the collector frees after the
timer stops; graphs without cycles are freed by reference counting inside the timer. The last line
is `engine: mlp_ratio=<ours/micrograd> chain_ratio=<ours/micrograd> xor_s=<seconds>`.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: simulation/

from simulation.course import SOURCE_NOTEBOOK
from simulation.reference import load

MLP_SIZES = [2, 16, 16, 1]
MLP_POINTS = 100
CHAIN_STEPS = 25_000  # four nodes a step: the constant 1.0, the product, the constant 0.0, the sum
MICROGRAD_VERSION = "0.1.0"


def micrograd():
    """micrograd's engine and nn modules, refusing any other version than the one compared."""
    try:
        version = importlib.metadata.version("micrograd")
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"micrograd is not installed: pip install micrograd=={MICROGRAD_VERSION}")
    if version != MICROGRAD_VERSION:
        sys.exit(f"micrograd {version} is installed; this benchmark compares {MICROGRAD_VERSION}")
    from micrograd import engine, nn

    return engine, nn


def mlp_data() -> tuple[list[list[float]], list[float]]:
    rng = random.Random(0)
    points = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(MLP_POINTS)]
    return points, [1.0 if x * y > 0 else -1.0 for x, y in points]


class _Probe:
    """Creating an instance runs any collection that is due, as any new object of a class does."""


def collections_due() -> None:
    """Run, inside the timer, the collections that the collector has due: an engine that pauses the
    collector must not push that work out of its timer (or into the other engine's)."""
    _Probe()


def mlp_step(model, predict, points, targets) -> tuple[float, float]:
    """Seconds of the forward pass (with the loss) and of the backward pass (with zero_grad)."""
    start = time.perf_counter()
    predictions = [predict(x) for x in points]
    loss = sum((p - t) ** 2 for p, t in zip(predictions, targets)) / len(points)
    collections_due()
    middle = time.perf_counter()
    model.zero_grad()
    loss.backward()
    del predictions, loss  # a graph without cycles is freed here, inside the timer
    collections_due()
    return middle - start, time.perf_counter() - middle


def chain(value_class, steps: int = CHAIN_STEPS) -> tuple[float, float]:
    """Seconds to build the chain and to backpropagate through it."""
    start = time.perf_counter()
    x = value_class(1.0)
    node = x
    for _ in range(steps):
        node = node * 1.0 + 0.0
    collections_due()
    middle = time.perf_counter()
    node.backward()
    del node
    collections_due()
    seconds = middle - start, time.perf_counter() - middle
    assert x.grad == 1.0, f"d(chain)/dx should be 1.0, got {x.grad!r}"
    return seconds


def with_recursion_limit(limit: int, run):
    """Run `run()` with the recursion limit raised to `limit`: for micrograd's recursive sort only."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        return run()
    finally:
        sys.setrecursionlimit(old)


def xor_run(m, seed: int) -> float:
    start = time.perf_counter()
    random.seed(seed)
    model = m.MLP(m.XOR_SIZES)
    m.train(model, m.XOR_INPUTS, m.XOR_TARGETS, m.XOR_STEPS, m.XOR_LEARNING_RATE)
    collections_due()
    return time.perf_counter() - start


def measured(run):
    """`run()` from a clean heap, checking that it leaves the collector as it found it."""
    settings = gc.isenabled(), gc.get_threshold()
    gc.collect()
    result = run()
    gc.collect()  # micrograd's cyclic garbage: freed here, outside the timer
    assert (gc.isenabled(), gc.get_threshold()) == settings, "an engine changed the garbage collector"
    return result


def depth_check(notebook: Path, nodes: int) -> dict:
    """Build a chain of `nodes` nodes and backpropagate through it, in a fresh interpreter."""
    child = [sys.executable, __file__, "--notebook", str(notebook), "--depth-child", str(nodes)]
    result = subprocess.run(child, capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": f"exit code {result.returncode}: {result.stderr.strip()[-500:]}"}
    return json.loads(result.stdout)


def depth_child(notebook: Path, nodes: int) -> None:
    m = load(notebook)
    steps = -(-(nodes - 1) // 4)  # at least `nodes` nodes
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        build, backward = chain(m.Value, steps)
    except RecursionError as error:
        print(json.dumps({"error": f"RecursionError: {error}"}))
        return
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = {"nodes": 4 * steps + 1, "depth": 2 * steps, "build_s": build, "backward_s": backward}
    print(json.dumps(report | {"baseline_kb": baseline, "peak_kb": peak}))


def median_ms(samples: list[float]) -> str:
    return f"{1000 * statistics.median(samples):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--notebook", type=Path, default=SOURCE_NOTEBOOK, help="the source notebook")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved runs of each benchmark")
    parser.add_argument("--depth", type=int, default=1_000_000, help="nodes of the depth check (0: skip)")
    parser.add_argument("--depth-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.depth_child:
        depth_child(args.notebook, args.depth_child)
        return

    ours = load(args.notebook)
    mg_engine, mg_nn = micrograd()
    print(f"ours: the solution cells of {args.notebook}")
    print(f"micrograd {MICROGRAD_VERSION} (PyPI); both in this Python {sys.version.split()[0]}")
    print(f"collector on, thresholds {gc.get_threshold()}; {args.repeats} interleaved runs of each, medians")

    if args.depth:
        depth = depth_check(args.notebook, args.depth)
        if "error" in depth:
            print(f"depth: {args.depth:,} nodes FAILED: {depth['error']}")
        else:
            graph_mb = (depth["peak_kb"] - depth["baseline_kb"]) / 1024
            print(
                f"depth: backward through a chain of {depth['nodes']:,} nodes (depth {depth['depth']:,}), "
                f"at the default recursion limit: build {depth['build_s']:.2f} s, "
                f"backward {depth['backward_s']:.2f} s"
            )
            print(
                f"       peak RSS {depth['peak_kb'] / 1024:.0f} MB, {graph_mb:.0f} MB more than before the "
                "chain was built"
            )

    points, targets = mlp_data()
    random.seed(0)
    our_model = ours.MLP(MLP_SIZES)
    their_model = mg_nn.MLP(MLP_SIZES[0], MLP_SIZES[1:])
    recursion_limit = 2 * CHAIN_STEPS + 1000
    runs = {
        "ours mlp": lambda: mlp_step(our_model, lambda x: our_model(x)[0], points, targets),
        "micrograd mlp": lambda: mlp_step(their_model, their_model, points, targets),
        "ours chain": lambda: chain(ours.Value),
        "micrograd chain": lambda: with_recursion_limit(recursion_limit, lambda: chain(mg_engine.Value)),
    }
    samples = {name: [] for name in runs}
    xor_seconds = []
    for repeat in range(args.repeats):
        names = list(runs) if repeat % 2 == 0 else list(reversed(runs))
        for name in names:
            samples[name].append(measured(runs[name]))
        xor_seconds.append(measured(lambda repeat=repeat: xor_run(ours, seed=repeat)))

    totals = {name: [sum(s) for s in runs_of] for name, runs_of in samples.items()}
    for bench, parts in (("mlp", ("forward", "backward")), ("chain", ("build", "backward"))):
        for engine in ("ours", "micrograd"):
            name = f"{engine} {bench}"
            split = ", ".join(
                f"{part} {median_ms([s[i] for s in samples[name]])}" for i, part in enumerate(parts)
            )
            print(f"{name:>16}: {median_ms(totals[name])}  ({split})")
    print(f"micrograd's chain: recursion limit raised to {recursion_limit:,} for it only; ours at default")
    print("teardown: acyclic graphs are freed inside the timer; cycles (micrograd's) are collected after it")
    print(f"xor: MLP({ours.XOR_SIZES}) trained {ours.XOR_STEPS} steps: {median_ms(xor_seconds)} a run")

    def ratio(bench: str) -> float:
        return statistics.median(totals[f"ours {bench}"]) / statistics.median(totals[f"micrograd {bench}"])

    print(
        f"engine: mlp_ratio={ratio('mlp'):.3f} chain_ratio={ratio('chain'):.3f} "
        f"xor_s={statistics.median(xor_seconds):.3f}"
    )


if __name__ == "__main__":
    main()
