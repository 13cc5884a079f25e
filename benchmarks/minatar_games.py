"""MinAtar's five games with the ``minatar`` (DQN) and ``pqn-minatar`` presets, seeds side by side.

    .venv/bin/python benchmarks/minatar_games.py --algos pqn --seeds 0-4              # 1M steps, ~5 min a game here
    .venv/bin/python benchmarks/minatar_games.py --algos dqn --games Breakout --seeds 0-4
    .venv/bin/python benchmarks/minatar_games.py --algos dqn --games Asterix,Breakout --seeds 0 --threads 1

Each (game, algorithm) is one ``deepq train MinAtar/<Game>-v1 --seeds ...`` into
``OUT/<Game>/<algo>`` (MinAtar has no frame skip: a step is a frame). Prints, per game and
algorithm, the final greedy return's IQM over seeds with its 95% CI, the best and worst seed, and
the median wall time of a run (its own clock; the seeds share the machine's cores) and of the
whole command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deepq.cli import _seed_list  # noqa: E402
from deepq.compare import interval_estimates  # noqa: E402

GAMES = ["Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders"]
PRESETS = {"dqn": "minatar", "pqn": "pqn-minatar"}


def train(game: str, algo: str, seeds: str, steps: int, out: Path, threads: int | None) -> float:
    args = ["train", f"MinAtar/{game}-v1", "--preset", PRESETS[algo], "--seeds", seeds, "--steps", str(steps),
            "--run-dir", str(out), "--overwrite", "--no-progress", *(["--threads", str(threads)] if threads else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}  # this checkout's deepq, whatever is installed
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "deepq.cli", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"deepq {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default=",".join(GAMES))
    parser.add_argument("--algos", default="pqn,dqn")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("runs/minatar"))
    parser.add_argument("--threads", type=int, help="passed to deepq train: one process with this many torch threads "
                        "(e.g. 1 when two of these commands share the 2 cores)")
    args = parser.parse_args()
    games, algos = args.games.split(","), args.algos.split(",")
    for name, given, known in (("games", games, GAMES), ("algorithms", algos, list(PRESETS))):
        if unknown := [g for g in given if g not in known]:
            raise SystemExit(f"unknown {name} {unknown}; choose from {', '.join(known)}")
    seeds = _seed_list(args.seeds)
    print("| game | algorithm | final greedy return, IQM [95% CI] | worst .. best seed | minutes per run (all seeds) |")
    print("| --- | --- | --- | --- | --- |")
    for game in games:
        for algo in algos:
            out = args.out / game / algo
            wall = train(game, algo, args.seeds, args.steps, out, args.threads)
            summaries = [json.loads((out / f"seed-{s}" / "summary.json").read_text()) for s in seeds]
            finals = np.array([s["final_eval_mean"] for s in summaries])
            iqm, low, high = interval_estimates({"x": finals}, 2000)["x"][:, 0]
            run_minutes = np.median([s["wall_seconds"] for s in summaries]) / 60
            print(f"| {game} | {algo} | {iqm:.1f} [{low:.1f}, {high:.1f}] | {finals.min():.1f} .. {finals.max():.1f} "
                  f"| {run_minutes:.1f} ({wall / 60:.1f} for the {len(seeds)}) |", flush=True)


if __name__ == "__main__":
    main()
