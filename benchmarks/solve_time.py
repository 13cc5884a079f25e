"""deepq vs Stable-Baselines3 DQN: wall seconds to solve, in the same run, on the same seeds.

    .venv/bin/pip install -e '.[bench]'      # stable-baselines3, an optional extra
    .venv/bin/python benchmarks/solve_time.py CartPole-v1 --seeds 0-4
    .venv/bin/python benchmarks/solve_time.py LunarLander-v3 --seeds 0-4

For each seed, deepq (the environment's default preset) and SB3 (RL-Zoo hyperparameters) train
one after the other, alternating, each run in a fresh process with the machine to itself and
the threads its library uses by default (deepq: ``deepq.cpu.default_threads``, as `deepq train`;
SB3: PyTorch's default, one per core). ``--jobs 2`` runs the two side by side instead, each
pinned to one core with one thread (the same load on both, half the machine each). Both are
evaluated the same way: every ``eval_interval`` steps (deepq's preset value),
100 greedy episodes with deepq's batched evaluator on separate seeded environments. For deepq
the evaluation runs inside its loop; for SB3 in a callback. Either way its time is counted in
the wall seconds to solve and in steps/s (the clock starts when training starts).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# RL-Zoo hyperparameters for SB3 DQN (rl-baselines3-zoo, hyperparams/dqn.yml).
ZOO: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(steps=50_000, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
                        learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256,
                        gradient_steps=128, exploration_fraction=0.16, exploration_final_eps=0.04,
                        net_arch=[256, 256]),
    "LunarLander-v3": dict(steps=100_000, learning_rate=6.3e-4, batch_size=128, buffer_size=50_000,
                           learning_starts=0, gamma=0.99, target_update_interval=250, train_freq=4,
                           gradient_steps=-1, exploration_fraction=0.12, exploration_final_eps=0.1,
                           net_arch=[256, 256]),
}
EVAL_SEED_OFFSET = 1_000_003


def run_deepq(env_id: str, seed: int, preset_name: str | None, stop: bool) -> dict[str, Any]:
    from deepq.config import build_config
    from deepq.train import Trainer

    config, preset = build_config(env_id, preset_name)
    trainer = Trainer(env_id, config, seed=seed, run_dir=tempfile.mkdtemp(prefix="deepq-bench-"),
                      progress=False, device="cpu", preset=preset.name if preset else None,
                      stop_when_solved=stop)
    s = trainer.run()
    return {"lib": "deepq", "seed": seed, "solved_at_seconds": s["solved_at_seconds"],
            "solved_at_step": s["solved_at_step"], "steps": s["steps"], "wall": s["wall_seconds"],
            "final": s["final_eval_mean"], "threshold": s["solved_threshold"],
            "eval_interval": config.eval_interval}


def run_sb3(env_id: str, seed: int, preset_name: str | None, stop: bool) -> dict[str, Any]:
    import gymnasium as gym
    import numpy as np
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    from deepq.config import build_config
    from deepq.evaluation import evaluate

    config, _ = build_config(env_id, preset_name)  # deepq's evaluation schedule and threshold
    hp = dict(ZOO[env_id])
    steps, net_arch = hp.pop("steps"), hp.pop("net_arch")
    model = DQN("MlpPolicy", gym.make(env_id), seed=seed, device="cpu", verbose=0,
                policy_kwargs={"net_arch": net_arch}, **hp)
    policy = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
    record: dict[str, Any] = {"solved_at_seconds": None, "solved_at_step": None, "final": None}

    class Evaluate(BaseCallback):
        def _on_training_start(self) -> None:
            self.start = time.perf_counter()
            self.next_eval = config.eval_interval

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.next_eval += config.eval_interval
                mean = float(np.mean(evaluate(policy, env_id, config.eval_episodes,
                                              seed=seed + EVAL_SEED_OFFSET)))
                record["final"] = mean
                if mean >= config.solved_threshold and record["solved_at_step"] is None:
                    record["solved_at_step"] = self.num_timesteps
                    record["solved_at_seconds"] = time.perf_counter() - self.start
                    return not stop
            return True

    callback = Evaluate()
    model.learn(steps, callback=callback)
    steps = model.num_timesteps
    if steps % config.eval_interval:
        record["final"] = float(np.mean(evaluate(policy, env_id, 100, seed=seed + EVAL_SEED_OFFSET)))
    wall = time.perf_counter() - callback.start
    return {"lib": "sb3", "seed": seed, "steps": steps, "wall": wall,
            "threshold": config.solved_threshold, **record}


def one(job: tuple[str, str, int, str | None, int | None, bool]) -> dict[str, Any]:
    """Run one library on one seed; ``core`` pins the process to that core (``--jobs 2``)."""
    lib, env_id, seed, preset, core, stop = job
    import torch

    from deepq.config import build_config
    from deepq.cpu import default_threads

    if core is not None:
        os.sched_setaffinity(0, {core})  # deepq's evaluator then steps its environments in-process
        torch.set_num_threads(1)
    elif lib == "deepq":
        torch.set_num_threads(default_threads(build_config(env_id, preset)[0]))
    return (run_deepq if lib == "deepq" else run_sb3)(env_id, seed, preset, stop)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    solved = [r for r in rows if r["solved_at_seconds"] is not None]
    secs = [r["solved_at_seconds"] for r in solved]
    return {
        "solved": f"{len(solved)}/{len(rows)}",
        "at_end": f"{sum(r['final'] is not None and r['final'] >= r['threshold'] for r in rows)}/{len(rows)}",
        "median": statistics.median(secs) if secs else None,
        "range": f"{min(secs):.1f}-{max(secs):.1f}" if secs else "-",
        "steps": statistics.median([r["solved_at_step"] for r in solved]) if solved else None,
        "sps": statistics.median([r["steps"] / r["wall"] for r in rows]),
        "final": statistics.median([r["final"] for r in rows]),
    }


def main() -> None:
    from deepq.cli import _seed_list

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id", choices=sorted(ZOO))
    parser.add_argument("--seeds", type=_seed_list, default=[0, 1, 2, 3, 4])
    parser.add_argument("--preset", help="deepq preset (default: the environment's own)")
    parser.add_argument("--jobs", type=int, choices=(1, 2), default=1,
                        help="1: one run at a time, alternating (default); 2: deepq and SB3 side by side")
    parser.add_argument("--stop-when-solved", action="store_true",
                        help="end each run at its first solved evaluation (no 'still solved at the end')")
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    side_by_side = args.jobs == 2 and len(cores) >= 2
    jobs = [(lib, args.env_id, seed, args.preset, cores[i] if side_by_side else None, args.stop_when_solved)
            for seed in args.seeds for i, lib in enumerate(("deepq", "sb3"))]
    with ProcessPoolExecutor(args.jobs, max_tasks_per_child=1) as pool:  # a fresh process per run
        rows = list(pool.map(one, jobs))

    print(f"\n{args.env_id}: per seed (wall seconds to a greedy 100-episode mean >= "
          f"{rows[0]['threshold']:g}, evaluation time included)")
    print(f"{'lib':>6} {'seed':>4} {'solved at s':>11} {'at step':>8} {'final mean':>10} {'steps':>7} "
          f"{'wall s':>7} {'steps/s':>8}")
    for r in rows:
        secs = "-" if r["solved_at_seconds"] is None else f"{r['solved_at_seconds']:.1f}"
        step = "-" if r["solved_at_step"] is None else str(r["solved_at_step"])
        print(f"{r['lib']:>6} {r['seed']:>4} {secs:>11} {step:>8} {r['final']:>10.1f} {r['steps']:>7} "
              f"{r['wall']:>7.1f} {r['steps'] / r['wall']:>8.0f}")
    mine = summarize([r for r in rows if r["lib"] == "deepq"])
    theirs = summarize([r for r in rows if r["lib"] == "sb3"])
    print(f"\n| {args.env_id} | deepq ({args.preset or 'default preset'}) | SB3 (RL Zoo) | deepq/SB3 |")
    print("| --- | --- | --- | --- |")

    def ratio(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None else f"{a / b:.2f}"

    def fmt(v: float | None, spec: str = ".1f") -> str:
        return "-" if v is None else format(v, spec)

    print(f"| median s to solved | {fmt(mine['median'])} | {fmt(theirs['median'])} | "
          f"{ratio(mine['median'], theirs['median'])} |")
    print(f"| range s | {mine['range']} | {theirs['range']} | |")
    print(f"| median steps to solved | {fmt(mine['steps'], ',.0f')} | {fmt(theirs['steps'], ',.0f')} | |")
    print(f"| median steps/s | {mine['sps']:.0f} | {theirs['sps']:.0f} | {ratio(mine['sps'], theirs['sps'])} |")
    print(f"| median final greedy mean | {mine['final']:.1f} | {theirs['final']:.1f} | |")
    print(f"| solved | {mine['solved']} | {theirs['solved']} | |")
    if not args.stop_when_solved:  # stopped runs end at their solved evaluation
        print(f"| still solved at the end | {mine['at_end']} | {theirs['at_end']} | |")
    print("Evaluation: 100 greedy episodes every eval_interval steps with the same evaluator; deepq "
          "in its loop, SB3 in a callback; both counted in wall seconds and steps/s.")
    print("Runs: " + ("deepq and SB3 side by side, one core and one thread each." if side_by_side else
                      "one at a time, alternating; each library's default threads.")
          + (" Each run stopped at its first solved evaluation." if args.stop_when_solved else ""))


if __name__ == "__main__":
    main()
