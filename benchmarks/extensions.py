"""The effect of each DQN extension on LunarLander-v3: steps and wall seconds to a greedy
100-episode mean of 200, for the base preset, each addition alone, and all together (by hand).

    .venv/bin/python benchmarks/extensions.py [--seeds 0-4] [--jobs 2] [--steps 200000]

Every run starts from the `lunarlander` preset (double DQN, 256-256 MLP, hard target copy)
and stops when solved (`--stop-when-solved`); wall seconds count evaluation time. With
`--jobs 2` two runs share the machine's two cores, the same for every variant.
"""

from __future__ import annotations

import argparse
import statistics

from presets import run_seed, runs_pool

# The lunarlander preset uses 3-step returns; the base turns them off.
VARIANTS = {
    "base (double DQN, 1-step)": {"n_step": 1},
    "+ dueling": {"n_step": 1, "dueling": True},
    "+ prioritized": {"n_step": 1, "prioritized": True},
    "+ 3-step returns": {"n_step": 3},
    "all (rainbow-lite)": {"dueling": True, "prioritized": True, "n_step": 3},
}


def main() -> None:
    from deepq.cli import _seed_list

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="LunarLander-v3")
    parser.add_argument("--preset", default="lunarlander")
    parser.add_argument("--seeds", type=_seed_list, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    jobs = [(args.env, args.preset, seed, args.steps, overrides, True)
            for overrides in VARIANTS.values() for seed in args.seeds]
    with runs_pool(args.jobs) as pool:
        results = list(pool.map(run_seed, jobs))
    per_variant = len(args.seeds)
    print(f"\n{args.env}, preset {args.preset} + each addition, seeds {args.seeds}, at most {args.steps} "
          f"steps, stop when solved, {args.jobs} runs at a time")
    print("| variant | solved | median steps to 200 | median s to 200 | steps per seed | seconds per seed |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, name in enumerate(VARIANTS):
        runs = results[i * per_variant:(i + 1) * per_variant]
        solved = [r for r in runs if r["solved"]]
        steps = [r["solved_at_step"] for r in solved]
        secs = [r["solved_at_seconds"] for r in solved]
        each_steps = " ".join("-" if r["solved_at_step"] is None else str(r["solved_at_step"]) for r in runs)
        each_secs = " ".join("-" if r["solved_at_seconds"] is None else f"{r['solved_at_seconds']:.0f}"
                             for r in runs)
        med_steps = f"{statistics.median(steps):.0f}" if steps else "-"
        med_secs = f"{statistics.median(secs):.0f}" if secs else "-"
        print(f"| {name} | {len(solved)}/{len(runs)} | {med_steps} | {med_secs} | {each_steps} | {each_secs} |")
    print("A seed that never solved counts as unsolved; medians are over solved seeds only.")


if __name__ == "__main__":
    main()
