"""How often does the notebook's XOR recipe learn XOR? Trains from seeds 0..N-1 (default 1000).

    python benchmarks/xor_convergence.py [--seeds 1000]

A run counts as learned when its final mean squared error is below 0.05 and all four inputs are on
the right side of 0.5: the same bar as the notebook's hidden test.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: simulation/

from simulation.reference import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seeds", type=int, default=1000)
    args = parser.parse_args()
    m = load()
    failed, final_losses = [], []
    start = time.perf_counter()
    for seed in range(args.seeds):
        random.seed(seed)
        model = m.MLP(m.XOR_SIZES)
        losses = m.train(model, m.XOR_INPUTS, m.XOR_TARGETS, m.XOR_STEPS, m.XOR_LEARNING_RATE)
        right = all((model(x)[0].data > 0.5) == (t > 0.5) for x, t in zip(m.XOR_INPUTS, m.XOR_TARGETS))
        final_losses.append(losses[-1])
        if not (right and losses[-1] < 0.05):
            failed.append(seed)
    seconds = (time.perf_counter() - start) / args.seeds
    print(f"recipe: sizes={m.XOR_SIZES} steps={m.XOR_STEPS} learning_rate={m.XOR_LEARNING_RATE}")
    print(f"final loss: median={statistics.median(final_losses):.2e} worst={max(final_losses):.2e}")
    print(f"failed seeds: {failed}")
    print(f"xor: converged={args.seeds - len(failed)}/{args.seeds} s_per_run={seconds:.3f}")


if __name__ == "__main__":
    main()
