"""Goals per 10,000 frames of the sand car, per map and seed, as a table (run by hand).

    .venv/bin/python benchmarks/car_goals.py --maps empty strokes wall --seeds 0-2 --frames 100000

Each run is `deepq car train` with its defaults (the course brain, one learn step per frame).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def run(args: tuple[str, int, int, str, dict[str, Any]]) -> dict[str, Any]:
    map_name, seed, frames, brain, overrides = args
    from deepq.car.train import train_car

    return train_car(map_name, frames, seed, tempfile.mkdtemp(prefix="deepq-car-"), brain, progress=False,
                     overrides=overrides)


def main() -> None:
    from deepq.cli import _seed_list, add_set_option
    from deepq.config import parse_overrides

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=["empty", "strokes", "wall"])
    parser.add_argument("--seeds", type=_seed_list, default=[0, 1, 2])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--brain", default="course")
    parser.add_argument("--jobs", type=int, default=2)
    add_set_option(parser, "brain hyperparameters over the defaults, as `deepq car train --set` takes them")
    args = parser.parse_args()
    overrides = parse_overrides(args.overrides)
    jobs = [(m, s, args.frames, args.brain, overrides) for m in args.maps for s in args.seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, jobs))
    print(f"\nbrain {args.brain}{' with ' + ' '.join(args.overrides) if args.overrides else ''}, "
          f"{args.frames} frames, {args.jobs} runs at a time")
    print(f"{'map':>8} {'seed':>4} {'goals/10k last':>15} {'sand last 10k':>14} {'goals':>6} {'frames/s':>9}")
    for r in results:
        print(f"{r['map']:>8} {r['seed']:>4} {r['goals_per_10k_last']:>15} {r['sand_fraction_last']:>14.2%} "
              f"{r['goals']:>6} {r['fps']:>9.0f}")
    print(f"median frames/s {statistics.median(r['fps'] for r in results):.0f}")


if __name__ == "__main__":
    main()
