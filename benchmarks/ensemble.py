"""Many seeds at once: `deepq train ENV --seeds 0-7` against the same seeds trained one by one.

    .venv/bin/python benchmarks/ensemble.py CartPole-v1 --seeds 0-7 --repeats 3
    .venv/bin/python benchmarks/ensemble.py CartPole-v1 --seeds 0-7 --preset cartpole-fast

Every run is the `deepq` command in its own process, one after another (never two at once).
The separate runs are `deepq train ENV --seed K` (one torch thread, the command's default);
the ensemble is `deepq train ENV --seeds 0-7` (its default: one process per core, each training
its share of the seeds with one thread; ``deepq.processes``). Ensemble runs
are interleaved with the separate ones (E, half the seeds, E, the other half, E, ...) so both
see the same load. Wall seconds are the training loop's (summary.json, evaluations included;
for an ensemble the slowest member's); the process's own wall time, imports included, is shown
too. The ratio is the median ensemble wall time over the median wall time of one separate seed
(issue target: at most 2).

``--also-one-process`` runs a second ensemble next to each one as one process with one thread
per core (``--threads N``: the command's default before 2026-11-22's processes) and prints its
rows and ratio too. ``--also-sleeping`` does the same with ``OMP_WAIT_POLICY=PASSIVE`` (that
process's idle OpenMP threads sleep instead of spinning). ``--busy`` keeps one other process
busy (a Python loop) through every run, to see what the run costs a machine that has other work.
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
from typing import Any

USER_ENV = dict(os.environ)  # before deepq is imported: `import deepq` sets OMP_WAIT_POLICY=PASSIVE


def deepq_train(env_id: str, seed_args: list[str], extra: list[str],
                env: dict[str, str] | None = None, busy_beside: bool = False) -> tuple[list[dict[str, Any]], float]:
    """Run `deepq train` in a fresh process (``env`` added to its environment); returns the
    summaries written and the process's wall time. ``busy_beside``: a busy loop in another
    process for as long as the run lasts."""
    run_dir = Path(tempfile.mkdtemp(prefix="deepq-bench-"))
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy_beside else None
    try:
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "deepq.cli", "train", env_id, *seed_args, "--run-dir",
                                 str(run_dir), "--no-progress", *extra], capture_output=True, text=True,
                                env={**USER_ENV, **(env or {})})
        wall = time.perf_counter() - start
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    if result.returncode != 0:
        sys.exit(f"deepq train failed: {result.stderr.strip()}")
    paths = sorted(run_dir.glob("seed-*/summary.json")) or [run_dir / "summary.json"]
    return [json.loads(p.read_text()) for p in paths], wall


def run_wall(summaries: list[dict[str, Any]]) -> float:
    """A run's training wall time: its slowest member's (the members of one process share one)."""
    return max(summary["wall_seconds"] for summary in summaries)


def main() -> None:
    from deepq.cli import _seed_list, add_set_option

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id")
    parser.add_argument("--seeds", type=_seed_list, default=list(range(8)))
    parser.add_argument("--repeats", type=int, default=3, help="ensemble runs (default 3)")
    parser.add_argument("--preset", default=None, help="passed to both sides (default: the environment's)")
    add_set_option(parser, "passed to both sides")
    parser.add_argument("--also-one-process", action="store_true",
                        help="also run each ensemble as one process with one thread per core")
    parser.add_argument("--also-sleeping", action="store_true",
                        help="also run each ensemble as one process whose idle OpenMP threads sleep")
    parser.add_argument("--busy", action="store_true", help="keep one other process busy through every run")
    args = parser.parse_args()
    extra = ["--set", *args.overrides] if args.overrides else []
    if args.preset:
        extra += ["--preset", args.preset]
    seeds = args.seeds
    chunks = [seeds[i * len(seeds) // (args.repeats - 1): (i + 1) * len(seeds) // (args.repeats - 1)]
              for i in range(args.repeats - 1)] if args.repeats > 1 else [seeds]
    seed_text = ",".join(str(s) for s in seeds)
    solo: list[tuple[dict[str, Any], float]] = []
    ensembles: list[tuple[list[dict[str, Any]], float]] = []
    others: dict[str, list[tuple[list[dict[str, Any]], float]]] = {}  # label: runs
    one_process = ["--threads", str(os.cpu_count() or 1)]
    variants_asked = [(", one process", one_process, None)] if args.also_one_process else []
    if args.also_sleeping:
        variants_asked.append((", one process, sleeping", one_process, {"OMP_WAIT_POLICY": "PASSIVE"}))
    for rep in range(args.repeats):
        ensembles.append(deepq_train(args.env_id, ["--seeds", seed_text], extra, busy_beside=args.busy))
        print(f"ensemble {rep + 1}: {run_wall(ensembles[-1][0]):.1f} s", flush=True)
        for label, flags, env in variants_asked:
            others.setdefault(label, []).append(
                deepq_train(args.env_id, ["--seeds", seed_text, *flags], extra, env, busy_beside=args.busy))
            print(f"ensemble {rep + 1}{label}: {run_wall(others[label][-1][0]):.1f} s", flush=True)
        for seed in chunks[rep] if rep < len(chunks) else []:
            summaries, wall = deepq_train(args.env_id, ["--seed", str(seed)], extra, busy_beside=args.busy)
            solo.append((summaries[0], wall))
            print(f"  seed {seed} alone: {summaries[0]['wall_seconds']:.1f} s", flush=True)

    print(f"\n{args.env_id}, preset {solo[0][0]['preset']}, {len(seeds)} seeds, {solo[0][0]['steps']} steps each"
          + (", one other process busy throughout" if args.busy else ""))
    print(f"{'run':<32} {'wall s':>7} {'process s':>10} {'solved':>7} {'still solved':>13}")
    for summary, wall in solo:
        print(f"{'seed ' + str(summary['seed']) + ' alone':<32} {summary['wall_seconds']:>7.1f} {wall:>10.1f} "
              f"{str(summary['solved']):>7} {str(summary['solved_at_end']):>13}")
    variants = [("", ensembles), *others.items()]
    for label, runs in variants:
        for i, (summaries, wall) in enumerate(runs):
            solved = sum(s["solved"] for s in summaries)
            still = sum(s["solved_at_end"] for s in summaries)
            print(f"{f'--seeds {seeds[0]}-{seeds[-1]} run {i + 1}{label}':<32} {run_wall(summaries):>7.1f} "
                  f"{wall:>10.1f} {f'{solved}/{len(seeds)}':>7} {f'{still}/{len(seeds)}':>13}")
    one = statistics.median(s["wall_seconds"] for s, _ in solo)
    one_process = statistics.median(w for _, w in solo)
    for label, runs in variants:
        many = statistics.median(run_wall(s) for s, _ in runs)
        many_process = statistics.median(w for _, w in runs)
        print(f"median wall: one seed {one:.1f} s, {len(seeds)} seeds as an ensemble{label} {many:.1f} s; "
              f"ratio {many / one:.2f} (process time: {one_process:.1f} s vs {many_process:.1f} s, "
              f"ratio {many_process / one_process:.2f})")
    counts = "; ".join(f"ensemble runs{label} " + ", ".join(
        f"{sum(s['solved'] for s in e)}/{len(e)} and {sum(s['solved_at_end'] for s in e)}/{len(e)}" for e, _ in runs)
        for label, runs in variants)
    print(f"solve rate: separate runs {sum(s['solved'] for s, _ in solo)}/{len(solo)} solved, "
          f"{sum(s['solved_at_end'] for s, _ in solo)}/{len(solo)} still solved at the end; {counts}")


if __name__ == "__main__":
    main()
