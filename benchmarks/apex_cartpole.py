"""Ape-X with 2 actors on CartPole-v1: how often a run reaches a greedy mean of 200, per variant.

    .venv/bin/python benchmarks/apex_cartpole.py --seeds 21-30 \
        --variant paper: --variant envs:actor_epsilons=envs --variant eps0.1:actor_epsilon=0.1

Each variant is the ``cartpole`` preset with Ape-X's keys (2 actors, prioritized replay, greedy
evaluations of 20 episodes every 2,000 steps) plus its own ``key=value`` pairs; each seed is one
run of ``--steps`` on a local Ray. ``actors=0`` gives the one-process trainer for reference.
Prints, per variant, the runs whose best greedy mean reached 200, the median best and final
means, and the median wall seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deepq.cli import _seed_list  # noqa: E402
from deepq.config import build_config  # noqa: E402
from deepq.train import Trainer  # noqa: E402

APEX = {"actors": "2", "prioritized": "true", "eval_episodes": "20", "eval_interval": "2000",
        "checkpoint_interval": "4000"}


def one_run(overrides: dict[str, str], seed: int, steps: int, run_dir: Path) -> tuple[float, float, float]:
    config, _ = build_config("CartPole-v1", "cartpole", {**APEX, **overrides})
    start = time.perf_counter()
    summary = Trainer("CartPole-v1", config, seed=seed, run_dir=run_dir, total_steps=steps, progress=False,
                      overwrite=True).run()
    return summary["best_eval_mean"], summary["final_eval_mean"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="21-30")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME:key=value,key=value (repeatable; NAME: alone is the preset as it is)")
    args = parser.parse_args()
    variants = {}
    for text in args.variant or ["paper:"]:
        name, _, pairs = text.partition(":")
        variants[name] = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
    seeds = _seed_list(args.seeds)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:  # variants interleaved, so that a change in the host's speed hits all alike
            for name, overrides in variants.items():
                best, final, wall = one_run(overrides, seed, args.steps, Path(folder) / f"{name}-{seed}")
                results[name].append((best, final, wall))
                print(f"{name} seed {seed}: best {best:.1f}, final {final:.1f}, {wall:.0f} s", flush=True)
    print("\n| variant | best >= 200 | median best | median final | median wall s |")
    print("| --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        bests, finals, walls = zip(*rows, strict=True)
        print(f"| {name} | {sum(b >= 200 for b in bests)}/{len(bests)} | {statistics.median(bests):.1f} "
              f"| {statistics.median(finals):.1f} | {statistics.median(walls):.0f} |")


if __name__ == "__main__":
    main()
