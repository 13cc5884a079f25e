"""The learning-curve plot: episode returns, their 100-episode average, epsilon, the threshold."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never opens a window, never blocks
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from deepq.cpu import cores, fork, forked_copies  # noqa: E402

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

    fig, ax = plt.subplots(figsize=(9, 5))
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
    plt.close(fig)
    return out


def plot_runs(run_dirs: Sequence[Path]) -> None:
    """``plot_run`` for each run directory (an ensemble's members), shared out over the cores:
    forked copies of this process draw some of the plots while this one draws the rest (a plot
    is ~0.15-0.2 s of matplotlib; 8 took 1.5-1.7 s one after another, 1.1 s on two cores). A
    copy that fails leaves its plots to this process, which then raises the error itself."""
    run_dirs = [Path(d) for d in run_dirs]
    workers = 1 + forked_copies(max(0, min(cores(), len(run_dirs)) - 1))
    shares = [run_dirs[i::workers] for i in range(workers)]
    children = []
    for share in shares[1:]:
        pid = fork()
        if pid == 0:  # the copy: draw its share and leave, running none of this process's cleanup
            code = 1
            try:
                for run_dir in share:
                    plot_run(run_dir)
                code = 0
            finally:
                os._exit(code)
        children.append((pid, share))
    failed = []
    try:
        for run_dir in shares[0]:
            plot_run(run_dir)
    finally:  # the copies are waited for even when this process's plots fail
        for pid, share in children:
            if os.waitpid(pid, 0)[1] != 0:
                failed += share
    for run_dir in failed:
        plot_run(run_dir)
