"""The learning-curve plot: episode returns, their 100-episode average, epsilon, the threshold."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # a figure drawn to files only: pyplot's backend is left alone

from deepq.cpu import cores, forked_copies

# Fixed margins, room for the tick labels and both axes' titles: ``tight_layout`` measures them
# by drawing the figure once more, ~0.1 s a plot.
MARGINS = {"left": 0.1, "right": 0.93, "bottom": 0.1, "top": 0.93}


def read_metrics(run_dir: Path) -> dict[str, np.ndarray]:
    """``metrics.csv`` as arrays, one per column."""
    path = Path(run_dir) / "metrics.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = ["global_step", "episode", "return", "length", "epsilon", "wall_seconds"]
    return {c: np.array([float(r[c]) for r in rows]) for c in columns}


def running_mean(values: np.ndarray, window: int = 100) -> np.ndarray:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    starts = np.arange(1, len(values) + 1) - counts
    return (cumulative[1:] - cumulative[starts]) / counts


def plot_run(run_dir: Path, out: Path | None = None) -> Path:
    """Draw the run's learning curve into ``out`` (default ``RUN_DIR/learning_curve.png``)."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "learning_curve.png"
    metrics = read_metrics(run_dir)
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").exists() else {}
    threshold = config.get("config", {}).get("solved_threshold")

    fig = Figure(figsize=(9, 5))
    ax = fig.add_subplot()
    fig.subplots_adjust(**MARGINS)
    steps = metrics["global_step"]
    ax.plot(steps, metrics["return"], color="tab:blue", alpha=0.3, lw=0.8, label="episode return")
    if len(steps):
        ax.plot(steps, running_mean(metrics["return"]), color="tab:blue", lw=2, label="average of last 100")
    evals_path = run_dir / "evaluations.csv"
    if evals_path.exists():
        with evals_path.open(newline="") as handle:
            evals = list(csv.DictReader(handle))
        if evals:
            ax.plot([float(e["global_step"]) for e in evals], [float(e["mean"]) for e in evals],
                    "o-", color="tab:green", ms=4, label="greedy evaluation mean")
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("environment step")
    ax.set_ylabel("return")
    ax.set_title(f"{config.get('env_id', run_dir.name)} (seed {config.get('seed', '?')})")
    eps_ax = ax.twinx()
    eps_ax.plot(steps, metrics["epsilon"], color="tab:orange", lw=1, label="epsilon")
    eps_ax.set_ylabel("epsilon", color="tab:orange")
    eps_ax.set_ylim(0, 1.05)
    lines = ax.get_legend_handles_labels()
    eps_lines = eps_ax.get_legend_handles_labels()
    ax.legend(lines[0] + eps_lines[0], lines[1] + eps_lines[1], loc="upper left", fontsize=8)
    fig.savefig(out, dpi=100)
    return out


def plot_runs(run_dirs: Sequence[Path]) -> None:
    """``plot_run`` for each run directory (many seeds' members), shared out over the cores by a
    process pool when there are several."""
    run_dirs = [Path(d) for d in run_dirs]
    workers = 1 + forked_copies(max(0, min(cores(), len(run_dirs)) - 1))
    if workers == 1:
        for run_dir in run_dirs:
            plot_run(run_dir)
        return
    import multiprocessing

    # close + join, not the context manager's terminate(): a worker killed while it holds the
    # task queue's lock would leave the other waiting on it, and the join forever.
    pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        pool.map(plot_run, run_dirs)
    finally:
        pool.close()
        pool.join()
