import csv
import json

import numpy as np
import pytest
from PIL import Image

from deepq.plotting import plot_run, plot_runs, running_mean


def write_run(run_dir, episodes=30, seed=0):
    run_dir.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    with (run_dir / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["global_step", "episode", "return", "length", "epsilon", "wall_seconds"])
        for episode in range(episodes):
            writer.writerow([episode * 20, episode + 1, float(rng.integers(10, 500)), 20, 1 - episode / episodes,
                             episode * 0.1])
    (run_dir / "config.json").write_text(json.dumps({"env_id": "CartPole-v1", "seed": seed,
                                                    "config": {"solved_threshold": 475.0}}))
    return run_dir


def test_running_mean_averages_the_last_window():
    assert np.allclose(running_mean(np.array([1.0, 3.0, 5.0, 7.0]), window=2), [1.0, 2.0, 4.0, 6.0])


def test_plot_run_draws_a_png_of_the_figure_size(tmp_path):
    out = plot_run(write_run(tmp_path / "a"))
    assert out == tmp_path / "a" / "learning_curve.png"
    with Image.open(out) as image:
        assert image.size == (900, 500)


def test_plot_runs_draws_every_run_across_the_cores(tmp_path):
    runs = [write_run(tmp_path / f"seed-{seed}", seed=seed) for seed in range(5)]
    plot_runs(runs)
    for run in runs:
        with Image.open(run / "learning_curve.png") as image:
            assert image.size == (900, 500)
    plot_runs([])  # nothing to draw, nothing forked


def test_a_plot_that_fails_in_a_forked_copy_fails_here(tmp_path):
    good = write_run(tmp_path / "good")
    missing = tmp_path / "missing"  # no metrics.csv: drawn by the second worker where there are two cores
    with pytest.raises(FileNotFoundError):
        plot_runs([good, missing])
    assert (good / "learning_curve.png").exists()
