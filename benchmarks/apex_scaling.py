"""Ape-X on this machine: what the actors collect, what the learner absorbs, time to solve.

    .venv/bin/python benchmarks/apex_scaling.py [--env LunarLander-v3] [--actors 1,2,4]
        [--seconds 60] [--solve-seeds 0,1,2]

Three tables, each measured in this process on a local Ray:
- environment steps/s that N actors deliver to the learner, which stores every block in its
  prioritized replay and does not learn (so the actors, not the learner, set the pace); timed
  from the first block of every actor for ``--seconds``;
- the learner alone: gradient steps/s on a full prioritized replay of the preset's size, with
  the preset's batch, the samples/s that makes, and the environment steps/s it could absorb at
  the preset's replay ratio (samples learned per environment step);
- CartPole-v1's wall seconds to the solved threshold (greedy mean of 20 episodes >= 475 at an
  evaluation every 2,000 steps), the one-process trainer against ``--actors 2``, per seed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch

APEX_RATIO = 19 * 512 / 12_500  # samples learned per agent step in Horgan et al. (2018)
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deepq.agent import DQNAgent  # noqa: E402
from deepq.apex import ActorFleet  # noqa: E402
from deepq.config import build_config  # noqa: E402
from deepq.envs import env_spaces  # noqa: E402
from deepq.replay import PrioritizedReplay, ReplayBuffer  # noqa: E402


def collect_rate(env_id: str, actors: int, seconds: float) -> tuple[float, float]:
    """(environment steps/s delivered, seconds until every actor's first block)."""
    config, _ = build_config(env_id, None, {"actors": str(actors), "prioritized": "true"})
    obs_shape, obs_dtype, n_actions = env_spaces(env_id)
    replay = PrioritizedReplay(ReplayBuffer(config.buffer_size, obs_shape, obs_dtype), config.priority_alpha)
    agent = DQNAgent(obs_shape, n_actions, config, torch.device("cpu"), seeds=[0])
    fleet = ActorFleet(env_id, config, {}, 0, None, print)
    try:
        started = time.perf_counter()
        fleet.start(agent)
        first: set[float] = set()
        while len(first) < actors:  # every actor up and sending
            for block in fleet.receive(wait=True):
                first.add(block["epsilon"])
        warm = time.perf_counter() - started
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for block in fleet.receive(wait=True):
                replay.add_with_errors(block["priorities"], *block["transitions"])
                steps += block["steps"]
        return steps / (time.perf_counter() - t0), warm
    finally:
        fleet.close()


def learner_rate(env_id: str, seconds: float) -> tuple[float, int, float]:
    """(gradient steps/s on a full memory, batch size, samples learned per environment step)."""
    config, _ = build_config(env_id, None, {"prioritized": "true"})
    obs_shape, obs_dtype, n_actions = env_spaces(env_id)
    torch.set_num_threads(2)
    replay = PrioritizedReplay(ReplayBuffer(config.buffer_size, obs_shape, obs_dtype), config.priority_alpha, seed=1)
    rng = np.random.default_rng(0)
    size = config.buffer_size
    replay.add_with_errors(rng.random(size), rng.normal(size=(size, *obs_shape)).astype(obs_dtype),
                           rng.integers(0, n_actions, size), rng.normal(size=size).astype(np.float32),
                           rng.normal(size=(size, *obs_shape)).astype(obs_dtype), np.zeros(size, np.float32),
                           np.full(size, config.gamma, np.float32))
    agent = DQNAgent(obs_shape, n_actions, config, torch.device("cpu"), seeds=[0])
    agent.learn_round(replay, 0, 1, 20)  # warm up
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        agent.learn_round(replay, done, 10**9, 50)
        done += 50
    steps_per_learn = config.gradient_steps if config.gradient_steps > 0 else config.num_envs * config.train_freq
    ratio = config.batch_size * steps_per_learn / (config.num_envs * config.train_freq)
    return done / (time.perf_counter() - t0), config.batch_size, ratio


def solve_seconds(seed: int, actors: int | None, folder: Path) -> tuple[float | None, float]:
    """(wall seconds to the threshold from the run's start, whole command's seconds)."""
    run = folder / f"{'apex' if actors else 'local'}-{seed}"
    args = [sys.executable, "-m", "deepq.cli", "train", "CartPole-v1", "--seed", str(seed), "--run-dir", str(run),
            "--no-progress", "--stop-when-solved", "--steps", "60000", "--set", "eval_episodes=20"]
    if actors:
        args += ["--actors", str(actors)]
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    whole = time.perf_counter() - started
    summary = json.loads((run / "summary.json").read_text())
    return summary["solved_at_seconds"], whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="LunarLander-v3")
    parser.add_argument("--actors", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--solve-seeds", default="0,1,2")
    args = parser.parse_args()

    print(f"\n{args.env}: environment steps/s collected (the learner stores, does not learn)\n")
    print("| actors | env steps/s | per actor | start-up s |\n| --- | --- | --- | --- |")
    one = None
    for count in [int(a) for a in args.actors.split(",")]:
        rate, warm = collect_rate(args.env, count, args.seconds)
        one = one or rate / count
        print(f"| {count} | {rate:,.0f} | {rate / count:,.0f} | {warm:.1f} |", flush=True)

    updates, batch, ratio = learner_rate(args.env, args.seconds / 2)
    print(f"\n{args.env}: the learner alone (2 threads, prioritized replay, preset's network)\n")
    print("| samples per env step | gradient steps/s | batch | samples/s | env steps/s it absorbs | "
          "one-actor equivalents |\n| --- | --- | --- | --- | --- | --- |")
    # The Ape-X paper's learner: ~19 batches of 512 per second against ~50k frames/s (12.5k agent steps/s).
    for label, r in ((f"{ratio:g} (the preset's)", ratio), (f"{APEX_RATIO:.2f} (the Ape-X paper's)", APEX_RATIO)):
        absorbs = updates * batch / r
        print(f"| {label} | {updates:,.0f} | {batch} | {updates * batch:,.0f} | {absorbs:,.0f} | {absorbs / one:.1f} |",
              flush=True)

    print("\nCartPole-v1: wall seconds to greedy mean >= 475 (run's own clock; whole command in brackets)\n")
    print("| seed | one process | --actors 2 |\n| --- | --- | --- |")
    local, apex = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in [int(s) for s in args.solve_seeds.split(",")]:
            a, a_whole = solve_seconds(seed, None, Path(folder))
            b, b_whole = solve_seconds(seed, 2, Path(folder))
            local.append(a if a is not None else float("inf"))
            apex.append(b if b is not None else float("inf"))
            print(f"| {seed} | {a} ({a_whole:.1f}) | {b} ({b_whole:.1f}) |", flush=True)
    print(f"| median | {statistics.median(local):.1f} | {statistics.median(apex):.1f} |")
    ray.shutdown()


if __name__ == "__main__":
    main()
