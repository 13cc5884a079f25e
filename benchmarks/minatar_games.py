"""MinAtar's five games with the ``minatar`` (DQN) and ``pqn-minatar`` presets, seeds side by side.

    .venv/bin/python benchmarks/minatar_games.py --algos pqn --seeds 0-4              # 1M steps, ~5 min a game here
    .venv/bin/python benchmarks/minatar_games.py --algos dqn --games Breakout --seeds 0-4
    .venv/bin/python benchmarks/minatar_games.py --algos dqn --games Asterix,Breakout --seeds 0 --threads 1
    .venv/bin/python benchmarks/minatar_games.py --algos dqn --report --out 'runs/mdqn/*'   # train nothing

Each (game, algorithm) is one ``deepq train MinAtar/<Game>-v1 --seeds ...`` into
``OUT/<Game>/<algo>`` (MinAtar has no frame skip: a step is a frame). Prints, per game and
algorithm, the final greedy return's IQM over seeds with its 95% CI, the best and worst seed, and
the median wall time of a run (its own clock; the seeds share the machine's cores) and of the
whole command. ``--report`` trains nothing: it reads the finished runs under OUT (a glob joins
seeds trained by separate commands) and prints each run's greedy return at every quarter of its
steps, then the same per-game table.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deepq.cli import _seed_list  # noqa: E402
from deepq.compare import Run, interval_estimates, load_run  # noqa: E402

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


def finished_runs(out: str, game: str, algo: str) -> list[Run]:
    """The finished seeds of one game and algorithm under OUT (a folder or a glob of folders)."""
    found = sorted({Path(p).parent for p in glob.glob(f"{out}/{game}/{algo}/seed-*/summary.json")},
                   key=lambda p: (int(p.name.removeprefix("seed-")), str(p)))
    return [load_run(path) for path in found]


def seed_row(game: str, algo: str, run: Run) -> str:
    """One run: its greedy return at each quarter of its steps, its best evaluation, its minutes."""
    steps, means = np.array([e[0] for e in run.evaluations]), np.array([e[2] for e in run.evaluations])
    total = int(run.summary["steps"])
    quarters = " / ".join(f"{means[np.abs(steps - total * q / 4).argmin()]:.1f}" for q in range(1, 5))
    best = means.argmax()
    return (f"| {game} | {algo} | {run.summary['seed']} | {quarters} | {means[best]:.1f} ({steps[best] // 1000}k) "
            f"| {run.summary['wall_seconds'] / 60:.0f} |")


def group_row(game: str, algo: str, runs: list[Run], wall: float | None) -> str:
    """One game and algorithm over its seeds: the final return's IQM with its 95% CI."""
    finals = np.array([run.score("final") for run in runs])
    iqm, low, high = interval_estimates({"x": finals}, 2000)["x"][:, 0]
    run_minutes = np.median([run.summary["wall_seconds"] for run in runs]) / 60
    command = f" ({wall / 60:.1f} for the {len(runs)})" if wall is not None else ""
    return (f"| {game} | {algo} | {len(runs)} | {iqm:.1f} [{low:.1f}, {high:.1f}] | {finals.min():.1f} .. "
            f"{finals.max():.1f} | {run_minutes:.1f}{command} |")


GROUP_HEADER = ("| game | algorithm | seeds | final greedy return, IQM [95% CI] | worst .. best seed "
                "| minutes per run |\n| --- | --- | --- | --- | --- | --- |")


def report(out: str, games: list[str], algos: list[str]) -> None:
    """Print the tables of the runs already finished under OUT."""
    found = {(g, a): finished_runs(out, g, a) for g in games for a in algos}
    found = {key: runs for key, runs in found.items() if runs}
    if not found:
        raise SystemExit(f"no finished runs under {out}/<Game>/<algo>/seed-*; train some first (see --help)")
    print("| game | algorithm | seed | greedy return at 1/4, 2/4, 3/4, 4/4 of the steps | best (steps) | minutes |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (game, algo), runs in found.items():
        for run in runs:
            print(seed_row(game, algo, run))
    print()
    print(GROUP_HEADER)
    for (game, algo), runs in found.items():
        print(group_row(game, algo, runs, None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", default=",".join(GAMES))
    parser.add_argument("--algos", default="pqn,dqn")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--out", default="runs/minatar", help="where runs go; with --report, a folder or a glob")
    parser.add_argument("--threads", type=int, help="passed to deepq train: one process with this many torch threads "
                        "(e.g. 1 when two of these commands share the 2 cores)")
    parser.add_argument("--report", action="store_true", help="train nothing: print the tables of the runs in OUT")
    args = parser.parse_args()
    games, algos = args.games.split(","), args.algos.split(",")
    for name, given, known in (("games", games, GAMES), ("algorithms", algos, list(PRESETS))):
        if unknown := [g for g in given if g not in known]:
            raise SystemExit(f"unknown {name} {unknown}; choose from {', '.join(known)}")
    if args.report:
        return report(args.out, games, algos)
    seeds = _seed_list(args.seeds)
    print(GROUP_HEADER)
    for game in games:
        for algo in algos:
            out = Path(args.out) / game / algo
            wall = train(game, algo, args.seeds, args.steps, out, args.threads)
            runs = [load_run(out / f"seed-{s}") for s in seeds]
            print(group_row(game, algo, runs, wall), flush=True)


if __name__ == "__main__":
    main()
