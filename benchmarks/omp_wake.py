"""What a parallel region costs when idle OpenMP threads sleep (PASSIVE) or spin (ACTIVE).

    .venv/bin/python benchmarks/omp_wake.py            # 3 alternating rounds

torch runs an operation on more than 32,768 elements, and every batched product, as an OpenMP
parallel region. `import deepq` sets OMP_WAIT_POLICY=PASSIVE (unless it is set), so a helper
thread sleeps as soon as a region ends and the next region has to wake it. This script times,
in a fresh process per setting (the policy is read when torch loads OpenMP):

- ``relu``: one ReLU over (8, 64, 128) floats, the size of an 8-member ensemble's activations;
- ``bmm``: one (8, 64, 128) x (8, 128, 128) batched product, the ensemble's hidden layer;
- ``learn``: the 8-member CartPole learn step on a fixed batch, two steps back to back and then
  0.5 ms of busy Python, as in a training loop (acting, stepping, sampling), per step.

It prints the median µs of each over the rounds, for 1 and 2 torch threads under each policy.
Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PROBE = r"""
import json, statistics, sys, time
import deepq  # sets OMP_WAIT_POLICY (unless set) before torch loads OpenMP, as the command does
import torch
from deepq.agent import DQNAgent
from deepq.config import build_config
from deepq.cpu import flushing_subnormals
from deepq.ensemble import EnsembleAgent
from deepq.replay.uniform import Batch

torch.set_num_threads(int(sys.argv[1]))


def per_call(fn, calls):
    for _ in range(calls // 10):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


with flushing_subnormals():
    x = torch.randn(8, 64, 128)
    w = torch.randn(8, 128, 128)
    config, _ = build_config("CartPole-v1", None)
    members = [DQNAgent((4,), 2, config, torch.device("cpu")) for _ in range(8)]
    agent = EnsembleAgent(members, config, torch.device("cpu"))
    shape = (8, 64)
    batch = Batch(obs=torch.randn(*shape, 4), actions=torch.randint(0, 2, shape), rewards=torch.ones(shape),
                  next_obs=torch.randn(*shape, 4), terminated=torch.zeros(shape),
                  discounts=torch.full(shape, 0.99 ** 3), weights=None, indices=None)

    def two_steps_then_busy():
        start = time.perf_counter()
        agent.learn(batch)
        agent.learn(batch)
        took = time.perf_counter() - start
        busy(0.0005)
        return took

    for _ in range(100):  # warm up
        two_steps_then_busy()
    learn_times = [two_steps_then_busy() for _ in range(400)]
    print(json.dumps({"relu": per_call(lambda: torch.relu(x), 5000), "bmm": per_call(lambda: torch.bmm(x, w), 1000),
                      "learn": statistics.median(learn_times) / 2 * 1e6}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = [(policy, threads) for policy in ("PASSIVE", "ACTIVE") for threads in (1, 2)]
    results: dict[tuple[str, int], list[dict[str, float]]] = {s: [] for s in settings}
    for round_ in range(args.rounds):
        for policy, threads in settings:
            out = subprocess.run([sys.executable, "-c", PROBE, str(threads)], capture_output=True, text=True,
                                 env={**os.environ, "OMP_WAIT_POLICY": policy})
            if out.returncode != 0:
                sys.exit(f"the {policy} probe with {threads} thread(s) failed: {out.stderr.strip()}")
            results[(policy, threads)].append(json.loads(out.stdout))
        print(f"round {round_ + 1} of {args.rounds} done", flush=True)
    print(f"\n{'OMP_WAIT_POLICY':<16} {'threads':>7} {'relu µs':>9} {'bmm µs':>9} {'learn step µs':>14}")
    for policy, threads in settings:
        rows = results[(policy, threads)]
        medians = [statistics.median(r[key] for r in rows) for key in ("relu", "bmm", "learn")]
        print(f"{policy:<16} {threads:>7} {medians[0]:>9.1f} {medians[1]:>9.1f} {medians[2]:>14.0f}")


if __name__ == "__main__":
    main()
