"""The DQN family side by side on one environment, judged with ``deepq compare``.

    .venv/bin/pip install -c constraints.txt -e '.[bench,stats]'   # sb3-contrib for --sb3-qrdqn
    .venv/bin/python benchmarks/family.py LunarLander-v3 --seeds 0-9 --sb3-qrdqn
    .venv/bin/python benchmarks/family.py LunarLander-v3 --algos none --sb3-qrdqn --sb3-jobs 2  # sb3 alone
    .venv/bin/python benchmarks/family.py Acrobot-v1 --seeds 0-9 --algos dqn,c51,qrdqn,iqn,mdqn,rainbow

Each algorithm is one ``deepq train ENV --seeds ...`` run (its seeds over processes, as the
command runs them) into ``OUT/ENV/ALGO``; on LunarLander-v3 the algorithms are the presets of
those names (``dqn``: the environment's default preset); elsewhere, the environment's default
preset with the head's keys (``HEADS``). ``--sb3-qrdqn`` adds sb3-contrib's QR-DQN with the RL
Zoo's LunarLander values, evaluated greedily on deepq's schedule and written as deepq run
directories, so that the same ``deepq compare`` reads it. Prints the comparison for the final
greedy return and the area under the curve, and the wall time of each group.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deepq.cli import _seed_list  # noqa: E402

HEADS = {  # the head's keys, for environments without the family's presets
    "dqn": [],
    "c51": ["distribution=c51", "num_atoms=51", "v_min=-100", "v_max=100"],
    "qrdqn": ["distribution=qr", "num_quantiles=50"],
    "iqn": ["distribution=iqn", "num_tau_samples=16", "num_tau_prime_samples=16", "num_quantile_samples=16"],  # the iqn preset's
    "mdqn": ["munchausen=true", "double=false"],
    "rainbow": ["distribution=c51", "num_atoms=51", "v_min=-100", "v_max=100", "noisy=true", "dueling=true",
                "double=true", "prioritized=true", "priority_alpha=0.5", "n_step=3"],
}
# sb3-contrib QR-DQN, RL Zoo (hyperparams/qrdqn.yml, LunarLander): lr linear from 1.5e-3 to 0.
SB3_QRDQN = dict(learning_rate=1.5e-3, batch_size=128, buffer_size=100_000, learning_starts=10_000, gamma=0.995,
                 target_update_interval=1, train_freq=256, gradient_steps=-1, exploration_fraction=0.24,
                 exploration_final_eps=0.18, steps=100_000, net_arch=[256, 256], n_quantiles=170)


def run_deepq(env_id: str, algo: str, seeds: str, out: Path, steps: int | None) -> float:
    args = ["train", env_id, "--seeds", seeds, "--run-dir", str(out), "--overwrite", "--no-progress"]
    if env_id == "LunarLander-v3" and algo != "dqn":
        args += ["--preset", algo]
    elif HEADS[algo]:
        args += ["--set", *HEADS[algo]]
    if steps:
        args += ["--steps", str(steps)]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}  # this checkout's deepq, whatever is installed
    result = subprocess.run([sys.executable, "-m", "deepq.cli", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"deepq {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    print(result.stdout.strip().splitlines()[-1], flush=True)
    return time.perf_counter() - start


def run_sb3_qrdqn(env_id: str, seed: int, out: Path) -> None:
    """One sb3-contrib QR-DQN run, greedy evaluations on deepq's schedule, as a deepq run dir."""
    import gymnasium as gym
    import numpy as np
    from sb3_contrib import QRDQN
    from stable_baselines3.common.callbacks import BaseCallback

    from deepq.config import build_config
    from deepq.evaluation import evaluate
    from deepq.train import EVAL_SEED_OFFSET

    config, _ = build_config(env_id)
    hp = dict(SB3_QRDQN)
    steps, net_arch, quantiles = hp.pop("steps"), hp.pop("net_arch"), hp.pop("n_quantiles")
    start_lr = hp.pop("learning_rate")
    model = QRDQN("MlpPolicy", gym.make(env_id), seed=seed, device="cpu", verbose=0,
                  learning_rate=lambda remaining: start_lr * remaining,
                  policy_kwargs={"net_arch": net_arch, "n_quantiles": quantiles}, **hp)
    evaluations: list[tuple[int, float, float]] = []
    solved: list[float] = []
    started = time.perf_counter()

    def greedy_mean(episodes: int) -> float:
        policy = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
        return float(np.mean(evaluate(policy, env_id, episodes, seed=seed + EVAL_SEED_OFFSET)))

    class Evaluate(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % config.eval_interval == 0:
                mean = greedy_mean(config.eval_episodes)
                evaluations.append((self.num_timesteps, time.perf_counter() - started, mean))
                if mean >= config.solved_threshold and not solved:
                    solved.append(time.perf_counter() - started)
            return True

    model.learn(steps, callback=Evaluate())
    wall = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    with (out / "evaluations.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["global_step", "wall_seconds", "mean", "std", "episodes"])
        writer.writerows([(s, w, m, 0.0, config.eval_episodes) for s, w, m in evaluations])
    summary = {"seed": seed, "steps": steps, "wall_seconds": wall, "final_eval_mean": evaluations[-1][2],
               "solved": bool(solved), "solved_at_seconds": solved[0] if solved else None,
               "library": "sb3-contrib QR-DQN (RL Zoo)"}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"sb3-contrib QR-DQN seed {seed}: final {summary['final_eval_mean']:.1f}, {wall:.0f} s", flush=True)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("env_id")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--algos", default="dqn,c51,qrdqn,iqn,mdqn,rainbow")
    parser.add_argument("--steps", type=int, default=None, help="environment steps (default: each preset's)")
    parser.add_argument("--out", type=Path, default=Path("runs/family"))
    parser.add_argument("--sb3-qrdqn", action="store_true")
    parser.add_argument("--sb3-jobs", type=int, default=1,
                        help="sb3-contrib seeds run side by side, one torch thread each (default 1: one at a time)")
    args = parser.parse_args()
    algos = [a for a in args.algos.split(",") if a != "none"]  # none: sb3-contrib alone
    unknown = [a for a in algos if a not in HEADS]
    if unknown:
        raise SystemExit(f"unknown algorithms {unknown}; choose from {', '.join(HEADS)}")
    root = args.out / args.env_id.replace("/", "_")
    walls = {algo: run_deepq(args.env_id, algo, args.seeds, root / algo, args.steps) for algo in algos}
    groups = [str(root / algo) for algo in algos]
    if args.sb3_qrdqn:
        start = time.perf_counter()
        seeds = _seed_list(args.seeds)
        with ProcessPoolExecutor(args.sb3_jobs, mp_context=get_context("spawn"), initializer=_one_thread
                                 if args.sb3_jobs > 1 else None) as pool:
            list(pool.map(run_sb3_qrdqn, [args.env_id] * len(seeds), seeds,
                          [root / "sb3-qrdqn" / f"seed-{seed}" for seed in seeds]))
        walls["sb3-qrdqn"] = time.perf_counter() - start
        groups.append(str(root / "sb3-qrdqn"))
    from deepq.compare import compare

    for metric in ("final", "auc"):
        out = root / f"compare-{metric}.png"
        print(f"\n{args.env_id}, seeds {args.seeds}\n" + compare(groups, None, metric, out, 20_000))
    print("\n| group | wall seconds for all its seeds |\n| --- | --- |")
    for name, seconds in walls.items():
        print(f"| {name} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
