"""CartPole-v1 vector steps: Gymnasium's SyncVectorEnv against deepq's CartPoleBatch.

    .venv/bin/python benchmarks/vector_env.py --envs 4 32 --steps 3000 --repeats 3

Both run inside the trainer's ``ResumableVectorEnv`` (random actions, finished episodes
restarted from new seeds after every step, as in training), alternating, so noise on this
shared machine hits them alike. Prints µs per vector step, median over the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import deepq.envs.resumable as resumable


def time_steps(num_envs: int, steps: int, batched: bool) -> float:
    """µs per vector step (and reset of the finished) of ``num_envs`` CartPoles."""
    real_check = resumable.is_batchable
    if not batched:
        resumable.is_batchable = lambda *args: False  # the trainer's SyncVectorEnv path
    try:
        envs = resumable.ResumableVectorEnv("CartPole-v1", num_envs, seed=0)
    finally:
        resumable.is_batchable = real_check
    envs.reset()
    actions = np.random.default_rng(0).integers(0, 2, size=(steps, num_envs))
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated = envs.step(action)
        envs.reset_done(terminated | truncated)
    elapsed = time.perf_counter() - start
    envs.close()
    return elapsed / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, nargs="+", default=[4, 32])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'envs':>5} {'SyncVectorEnv µs':>17} {'CartPoleBatch µs':>17} {'ratio':>6}")
    for n in args.envs:
        sync, batch = [], []
        for _ in range(args.repeats):
            sync.append(time_steps(n, args.steps, batched=False))
            batch.append(time_steps(n, args.steps, batched=True))
        s, b = statistics.median(sync), statistics.median(batch)
        print(f"{n:>5} {s:>17.1f} {b:>17.1f} {b / s:>6.2f}")


if __name__ == "__main__":
    main()
