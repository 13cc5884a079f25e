"""Cost of prioritized sampling against uniform sampling from the same storage.

    .venv/bin/python benchmarks/prioritized_sampling.py [--size 1000000] [--batch 64]

Fills a memory of ``--size`` transitions (LunarLander-sized observations, 8 floats), then
times, in the same process: uniform sample(); prioritized sample() + update_priorities() (the
sum-tree walk, the importance weights and the priority write-back, with TD errors made
beforehand, as the learn step hands them over); and the two tree operations alone. The
operations run in alternating blocks, so machine noise hits them alike; the table gives each
one's median over the blocks and the ratio to uniform sampling.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from deepq.replay import PrioritizedReplay, ReplayBuffer


def per_call_us(operations: list[Callable[[], object]], calls: int = 2000, blocks: int = 9) -> list[float]:
    """Median µs per call of each operation, timed in alternating blocks of ``calls`` calls."""
    times: list[list[float]] = [[] for _ in operations]
    for _ in range(blocks):
        for fn, samples in zip(operations, times, strict=True):
            start = time.perf_counter()
            for _ in range(calls):
                fn()
            samples.append((time.perf_counter() - start) / calls * 1e6)
    return [statistics.median(samples) for samples in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    uniform = ReplayBuffer(args.size, (8,), seed=0)
    prioritized = PrioritizedReplay(ReplayBuffer(args.size, (8,), seed=0), seed=0)
    chunk = 100_000
    for start in range(0, args.size, chunk):
        n = min(chunk, args.size - start)
        data = (rng.normal(size=(n, 8)).astype(np.float32), rng.integers(0, 4, n), rng.normal(size=n),
                rng.normal(size=(n, 8)).astype(np.float32), np.zeros(n))
        uniform.add(*data)
        prioritized.add(*data)
    prioritized.update_priorities(np.arange(args.size), rng.exponential(size=args.size))

    errors = rng.exponential(size=args.batch)
    targets = rng.integers(0, args.size, args.batch)

    def prioritized_step() -> None:
        batch = prioritized.sample(args.batch)
        prioritized.update_priorities(batch.indices, errors)

    names = ["uniform sample()", "prioritized sample() + update_priorities()",
             "  sum-tree search alone (batch)", "  sum-tree update alone (batch)"]
    times = per_call_us([lambda: uniform.sample(args.batch), prioritized_step,
                         lambda: prioritized.sample_indices(args.batch),
                         lambda: prioritized.update_priorities(targets, errors)])
    rows = list(zip(names, times, strict=True))
    base = rows[0][1]
    print(f"\nbatch {args.batch} from {args.size:,} transitions (one thread), median of 9 alternating blocks")
    print("| operation | µs per call | / uniform |")
    print("| --- | --- | --- |")
    for name, us in rows:
        print(f"| {name} | {us:.1f} | {us / base:.2f} |")


if __name__ == "__main__":
    main()
