"""The hand-written MLP gradients (``deepq.fastpath``) against autograd, learn step for learn step.

    .venv/bin/python benchmarks/fastpath.py [--steps 300] [--blocks 7]

For each network and member count, two copies of one agent learn from the same fixed batches,
one by hand and one through autograd, alternating blocks of ``--steps`` learn steps; prints
the median µs per learn step of each and their ratio, each network with the torch threads
`deepq train` gives it (``deepq.cpu.default_threads``), subnormal floats flushed as it does.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from deepq.agent import DQNAgent
from deepq.config import build_config
from deepq.cpu import default_threads, flushing_subnormals
from deepq.replay import Batch

CASES = [  # (name, obs_dim, actions, overrides, members)
    ("sand car 5-30-3, batch 100", 5, 3, {"hidden_sizes": "30", "batch_size": 100, "double": False,
                                          "max_grad_norm": 0.0, "target_update_interval": 0}, 1),
    ("CartPole 4-128-128-2, batch 64", 4, 2, {}, 1),
    ("CartPole, 4 members", 4, 2, {}, 4),
    ("LunarLander 8-256-256-4, batch 128", 8, 4, {"hidden_sizes": "256,256", "batch_size": 128}, 1),
    ("LunarLander 8-256-256-4, batch 256", 8, 4, {"hidden_sizes": "256,256", "batch_size": 256}, 1),
    ("8-512-512-4, batch 256", 8, 4, {"hidden_sizes": "512,512", "batch_size": 256}, 1),
]


def batch(members: int, size: int, obs_dim: int, actions: int) -> Batch:
    g = torch.Generator().manual_seed(0)
    shape = (members, size)
    return Batch(torch.randn(*shape, obs_dim, generator=g), torch.randint(0, actions, shape, generator=g),
                 torch.randn(*shape, generator=g), torch.randn(*shape, obs_dim, generator=g),
                 torch.zeros(shape), torch.full(shape, 0.99), None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: default_threads; --seeds processes run members on 1)")
    args = parser.parse_args()
    print("| network | threads | by hand, µs | autograd, µs | autograd / by hand |\n| --- | --- | --- | --- | --- |")
    for name, obs_dim, actions, overrides, members in CASES:
        if args.only not in name:
            continue
        config, _ = build_config("CartPole-v1", overrides=overrides)
        threads = args.threads or default_threads(config, members)
        torch.set_num_threads(threads)
        hand = DQNAgent((obs_dim,), actions, config, seeds=range(members))
        hand.by_hand = True  # whatever the agent would choose for this network
        auto = copy.deepcopy(hand)
        auto.by_hand = False
        fixed = batch(members, config.batch_size, obs_dim, actions)
        times: dict[str, list[float]] = {"hand": [], "auto": []}
        for block in range(args.blocks + 1):
            for key, agent in (("hand", hand), ("auto", auto)):
                start = time.perf_counter()
                for _ in range(args.steps):
                    agent.learn(fixed)
                if block:  # the first block warms up
                    times[key].append((time.perf_counter() - start) / args.steps * 1e6)
        h, a = statistics.median(times["hand"]), statistics.median(times["auto"])
        print(f"| {name} | {threads} | {h:.0f} | {a:.0f} | {a / h:.2f}x |", flush=True)


if __name__ == "__main__":
    with flushing_subnormals():
        main()
