"""Solve time of deepq's presets over several seeds, as a table (run by hand, not in CI).

    .venv/bin/python benchmarks/presets.py CartPole-v1 --seeds 0-4 --jobs 2

Each seed trains with the environment's default preset, exactly as `deepq train ENV --seed N`
does. With ``--jobs 1`` each run has the machine to itself, with the threads `deepq train`
picks; with more jobs at once each is pinned to one core (one torch thread, evaluations in
its own process). Wall seconds to solved count
evaluation time. "end" is the final greedy 100-episode mean.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PINNED = False  # set in a pool worker that has been given one core of its own


def _pin_worker(counter: Any, cores: list[int]) -> None:
    global PINNED
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    os.sched_setaffinity(0, {cores[index % len(cores)]})
    PINNED = True


def runs_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` worker processes; with more than one, each worker keeps one core to itself."""
    if jobs == 1:
        return ProcessPoolExecutor(1)
    return ProcessPoolExecutor(jobs, initializer=_pin_worker,
                               initargs=(multiprocessing.Value("i", 0), sorted(os.sched_getaffinity(0))))


def run_seed(args: tuple[Any, ...]) -> dict[str, Any]:
    """(env_id, preset, seed, steps[, overrides[, stop_when_solved]]) -> the run's summary.
    Threads: one in a pinned worker, else as `deepq train` picks them."""
    env_id, preset, seed, steps, overrides, stop_when_solved = (*args, None, False)[:6]
    import torch

    from deepq.config import build_config
    from deepq.cpu import default_threads
    from deepq.train import Trainer

    config, found = build_config(env_id, preset, overrides)
    torch.set_num_threads(1 if PINNED else default_threads(config))
    trainer = Trainer(env_id, config, seed=seed, run_dir=tempfile.mkdtemp(prefix="deepq-bench-"),
                      total_steps=steps, progress=False, device="cpu", preset=found.name if found else None,
                      stop_when_solved=stop_when_solved)
    return trainer.run()


def main() -> None:
    from deepq.cli import _seed_list, add_set_option

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id")
    parser.add_argument("--preset")
    parser.add_argument("--seeds", type=_seed_list, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--stop-when-solved", action="store_true", help="end each run at its first solved evaluation")
    add_set_option(parser, "hyperparameters over the preset's, as `deepq train --set` takes them")
    args = parser.parse_args()
    from deepq.config import parse_overrides

    overrides = parse_overrides(args.overrides)
    runs = [(args.env_id, args.preset, seed, args.steps, overrides, args.stop_when_solved) for seed in args.seeds]
    with runs_pool(args.jobs) as pool:
        results = list(pool.map(run_seed, runs))
    print(f"\n{args.env_id}, preset {results[0]['preset']}{' with ' + ' '.join(args.overrides) if args.overrides else ''}, "
          f"{args.jobs} runs at a time, "
          f"threshold {results[0]['solved_threshold']}")
    print(f"{'seed':>4} {'solved at step':>15} {'solved at s':>12} {'final mean':>11} {'still solved':>13} "
          f"{'steps':>7} {'wall s':>7} {'steps/s':>8}")
    for r in results:
        step = "-" if r["solved_at_step"] is None else r["solved_at_step"]
        secs = "-" if r["solved_at_seconds"] is None else f"{r['solved_at_seconds']:.1f}"
        print(f"{r['seed']:>4} {step:>15} {secs:>12} {r['final_eval_mean']:>11.1f} "
              f"{str(r['solved_at_end']):>13} {r['steps']:>7} {r['wall_seconds']:>7.1f} {r['sps']:>8.0f}")
    solved = [r for r in results if r["solved"]]
    if solved:
        seconds = [r["solved_at_seconds"] for r in solved]
        steps = [r["solved_at_step"] for r in solved]
        print(f"solved {len(solved)}/{len(results)}, still solved at the end "
              f"{sum(r['solved_at_end'] for r in results)}/{len(results)}; median to solve "
              f"{statistics.median(seconds):.1f} s (range {min(seconds):.1f}-{max(seconds):.1f}), "
              f"{statistics.median(steps):.0f} steps")
    else:
        print(f"solved 0/{len(results)}")


if __name__ == "__main__":
    main()
