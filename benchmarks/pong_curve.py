"""The greedy score of one Atari run against wall time and against steps, as a PNG for the docs.

    .venv/bin/python benchmarks/pong_curve.py RUN_DIR --out docs/guides/pong-curve.png

Reads RUN_DIR/evaluations.csv (deepq's greedy evaluations: step, wall seconds, mean, std) and
prints it as a table too.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from matplotlib.figure import Figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--title", default="ALE/Pong-v5 on a 2-core CPU")
    args = parser.parse_args()
    with (args.run_dir / "evaluations.csv").open() as handle:
        rows = [(int(r["global_step"]), float(r["wall_seconds"]), float(r["mean"]), float(r["std"]))
                for r in csv.DictReader(handle)]
    steps, seconds, means, stds = (list(column) for column in zip(*rows, strict=True))
    fig = Figure(figsize=(11, 4))
    by_time, by_steps = fig.subplots(1, 2, sharey=True)
    for ax, x, label in ((by_time, [s / 3600 for s in seconds], "wall hours"),
                         (by_steps, [s / 1e6 for s in steps], "environment steps (millions; frames = 4x)")):
        ax.plot(x, means, marker="o")
        ax.fill_between(x, [m - s for m, s in zip(means, stds, strict=True)], [m + s for m, s in zip(means, stds, strict=True)], alpha=0.2)
        ax.axhline(18, linestyle="--", color="grey", linewidth=1)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    by_time.axvline(2, linestyle=":", color="grey", linewidth=1)  # the 2-hour mark
    by_time.set_ylabel("greedy score (mean +/- std of the episodes)")
    fig.suptitle(args.title)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print("| steps | wall minutes | greedy mean | std |")
    print("| --- | --- | --- | --- |")
    for step, second, mean, std in rows:
        print(f"| {step:,} | {second / 60:.1f} | {mean:.2f} | {std:.2f} |")
    first = next(((step, second) for step, second, mean, _ in rows if mean >= 18), None)
    print("greedy mean >= 18: " + (f"first at step {first[0]:,}, {first[1] / 60:.1f} wall minutes"
                                   if first else "not reached"))
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
