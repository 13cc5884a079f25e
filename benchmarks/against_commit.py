"""This checkout's deepq against an earlier commit's, side by side, interleaved, same seeds.

    .venv/bin/pip install -c constraints.txt -e '.[bench]'   # SB3 for the peer column
    .venv/bin/python benchmarks/against_commit.py e56c449 --repeats 3

The earlier commit is unpacked (``git archive``) into a temporary folder and run with the same
interpreter and packages, through its own ``deepq`` command (``python -m deepq.cli`` with its
``src`` first on ``PYTHONPATH``). Each repeat runs, for each side in turn:

- CartPole-v1 seeds 0-9 with ``--stop-when-solved``: wall seconds to solved, steps to solved and
  steps/s (summary.json). Seconds to solved is steps to solved (where rounding sends each
  trajectory: the same seed may solve at 16k steps on one side and 24k on the other) times the
  cost of a step; the table prints both parts, and ten seeds keep the median from one trajectory;
- CartPole-v1 seed 0 for the preset's 50k steps, and ``--seeds 0-7``: their wall ratio;
- LunarLander-v3 seed 0 for ``--steps`` steps: environment steps/s (summary.json);

then SB3 (RL-Zoo settings, ``solve_time.run_sb3``) on the same CartPole seeds. Prints medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from deepq.cli import _seed_list  # noqa: E402  (the --seeds syntax of deepq train)


def unpack(rev: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"deepq-{rev}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


def deepq(src: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run([sys.executable, "-m", "deepq.cli", *args, "--no-progress"], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{src}: deepq {' '.join(args)} failed:\n{result.stderr[-2000:]}")


def summary(path: Path) -> dict:
    return json.loads((path / "summary.json").read_text())


def one_repeat(side: str, src: Path, work: Path, seeds: list[int], lunar_steps: int) -> dict:
    out: dict = {"solve": [], "solve_steps": [], "solve_sps": [], "one": None, "eight": None, "lunar_sps": None}
    for seed in seeds:
        run = work / f"{side}-solve-{seed}"
        deepq(src, "train", "CartPole-v1", "--seed", str(seed), "--run-dir", str(run), "--stop-when-solved")
        out["solve"].append(summary(run)["solved_at_seconds"])
        out["solve_steps"].append(summary(run)["solved_at_step"])
        out["solve_sps"].append(summary(run)["sps"])
    deepq(src, "train", "CartPole-v1", "--seed", "0", "--run-dir", str(work / f"{side}-one"))
    out["one"] = summary(work / f"{side}-one")["wall_seconds"]
    deepq(src, "train", "CartPole-v1", "--seeds", "0-7", "--run-dir", str(work / f"{side}-eight"))
    out["eight"] = max(summary(work / f"{side}-eight" / f"seed-{s}")["wall_seconds"] for s in range(8))
    out["solved8"] = sum(summary(work / f"{side}-eight" / f"seed-{s}")["solved"] for s in range(8))
    deepq(src, "train", "LunarLander-v3", "--seed", "0", "--steps", str(lunar_steps), "--run-dir",
          str(work / f"{side}-lunar"), "--set", "eval_interval=0", "eval_episodes=10")
    out["lunar_sps"] = summary(work / f"{side}-lunar")["sps"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev", help="the earlier commit, e.g. HEAD~1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", default="0-9", help="CartPole seeds for the time to solved (0-9 or 0,3,5)")
    parser.add_argument("--lunar-steps", type=int, default=20_000)
    parser.add_argument("--no-sb3", action="store_true")
    args = parser.parse_args()
    seeds = _seed_list(args.seeds)
    sides = {"before": unpack(args.rev), "now": ROOT / "src"}
    rows: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="deepq-against-") as tmp:
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(reversed(sides))
            for side in order:
                work = Path(tmp) / f"r{repeat}"
                work.mkdir(exist_ok=True)
                rows[side].append(one_repeat(side, sides[side], work, seeds, args.lunar_steps))
                print(f"repeat {repeat} {side}: {rows[side][-1]}", flush=True)
    sb3 = []
    if not args.no_sb3:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from solve_time import run_sb3

        for seed in seeds:
            sb3.append(run_sb3("CartPole-v1", seed, None, True)["solved_at_seconds"])
            print(f"sb3 seed {seed}: {sb3[-1]}", flush=True)

    def med(values: list) -> float:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else float("nan")

    table = {}
    for side, reps in rows.items():
        table[side] = {
            "solve": med([v for r in reps for v in r["solve"]]),
            "steps": med(reps[0]["solve_steps"]),  # the same on every repeat: one trajectory per seed
            "sps": med([v for r in reps for v in r["solve_sps"]]),
            "ratio": med([r["eight"] / r["one"] for r in reps]),
            "lunar": med([r["lunar_sps"] for r in reps]),
            "solved8": [r["solved8"] for r in reps],
            "unsolved": sum(v is None for r in reps for v in r["solve"]),
        }
    b, n = table["before"], table["now"]
    print(f"\n| measure | {args.rev} | this checkout | now / before |\n| --- | --- | --- | --- |")
    print(f"| CartPole-v1 median s to solved ({len(seeds)} seeds x {args.repeats}) | {b['solve']:.2f} | "
          f"{n['solve']:.2f} | {n['solve'] / b['solve']:.2f}x |")
    print(f"| CartPole-v1 median steps to solved (the same seeds) | {b['steps']:.0f} | {n['steps']:.0f} | "
          f"{n['steps'] / b['steps']:.2f}x |")
    print(f"| CartPole-v1 median steps/s on the way there | {b['sps']:.0f} | {n['sps']:.0f} | "
          f"{n['sps'] / b['sps']:.2f}x |")
    print(f"| --seeds 0-7 / one seed, wall (median of {args.repeats}) | {b['ratio']:.2f} | {n['ratio']:.2f} | "
          f"{n['ratio'] / b['ratio']:.2f}x |")
    print(f"| LunarLander-v3 steps/s ({args.lunar_steps} steps) | {b['lunar']:.0f} | {n['lunar']:.0f} | "
          f"{n['lunar'] / b['lunar']:.2f}x |")
    print(f"| 8 seeds solved per run | {b['solved8']} | {n['solved8']} | |")
    if sb3:
        print(f"| SB3 (RL Zoo) median s to solved | | {med(sb3):.2f} | deepq {med(sb3) / n['solve']:.1f}x faster |")


if __name__ == "__main__":
    main()
