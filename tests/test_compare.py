"""``deepq compare`` on synthetic runs whose answer is known: two groups drawn from known
distributions, written as run directories the way a ``--seeds`` run writes them."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from deepq.compare import (
    compare,
    group_runs,
    improvement_probabilities,
    interval_estimates,
    seeds_line,
)


def write_group(root, finals, solved_seconds=None, steps=(1000, 2000, 3000)):
    """A ``--seeds`` directory: one ``seed-K`` run per final score, its evaluations rising
    linearly to that score."""
    for k, final in enumerate(finals):
        run = root / f"seed-{k}"
        run.mkdir(parents=True)
        seconds = None if solved_seconds is None else solved_seconds[k]
        summary = {"seed": k, "final_eval_mean": float(final), "solved": seconds is not None,
                   "solved_at_seconds": seconds, "wall_seconds": 100.0, "steps": steps[-1]}
        (run / "summary.json").write_text(json.dumps(summary))
        with (run / "evaluations.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["global_step", "wall_seconds", "mean", "std", "episodes"])
            for i, step in enumerate(steps):
                writer.writerow([step, i * 10.0, final * (i + 1) / len(steps), 0.0, 5])
    return root


@pytest.fixture()
def groups(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.normal(100.0, 5.0, size=10)
    poor = rng.normal(50.0, 5.0, size=10)
    return (write_group(tmp_path / "good", good, solved_seconds=list(range(10, 20))),
            write_group(tmp_path / "poor", poor), good, poor)


def test_the_iqm_is_the_trimmed_mean_and_its_interval_covers_the_truth(groups):
    _, _, good, poor = groups
    estimates = interval_estimates({"good": good, "poor": poor}, reps=2000)
    iqm, low, high = estimates["good"][:, 0]
    assert iqm == pytest.approx(stats.trim_mean(good, 0.25))
    assert low < 100.0 < high and high - low < 15.0
    assert estimates["good"][0, 1] == pytest.approx(good.mean()) and estimates["good"][0, 2] == pytest.approx(
        np.median(good))
    assert estimates["poor"][2, 0] < estimates["good"][1, 0]  # the intervals do not overlap


def test_one_group_that_always_wins_has_an_improvement_probability_of_one(groups):
    _, _, good, poor = groups
    p = improvement_probabilities({"good": good, "poor": poor}, reps=2000)
    assert p[("good", "poor")][0] == 1.0 and p[("good", "poor")][1] > 0.95
    assert p[("poor", "good")][0] == 0.0
    # Two draws from one distribution: about even, and the interval says so.
    rng = np.random.default_rng(1)
    same = improvement_probabilities({"a": rng.normal(size=40), "b": rng.normal(size=40)}, reps=2000)
    assert same[("a", "b")][1] < 0.5 < same[("a", "b")][2]


def test_area_under_the_curve_and_time_to_threshold(groups):
    good_dir, _, good, _ = groups
    runs = group_runs(str(good_dir))
    assert len(runs) == 10
    # Evaluations at 1000, 2000, 3000 rising to the final f: f/3, 2f/3, f; trapezoid / 2000 steps = 2f/3.
    assert runs[0].score("auc") == pytest.approx(2.0 * good[0] / 3.0)
    assert [r.score("time") for r in runs] == [float(s) for s in range(10, 20)]


def test_the_report_lists_each_group_and_draws_the_figure(groups, tmp_path):
    good_dir, poor_dir, _, _ = groups
    out = tmp_path / "compare.png"
    report = compare([str(good_dir), str(poor_dir)], ["good", "poor"], "final", out, reps=500)
    assert "| good | 10 | 10/10 |" in report and "| poor | 10 | 0/10 |" in report
    assert "P(good > poor) = 1.00" in report
    assert out.stat().st_size > 10_000
    by_glob = compare([str(tmp_path / "go*"), str(poor_dir)], None, "time", None, reps=500)
    assert "| go* | 10 | 10/10 |" in by_glob and "P(go* > poor) = 1.00" in by_glob  # a glob is its own label; faster wins


def test_the_command_and_its_errors(groups, tmp_path):
    good_dir, poor_dir, _, _ = groups
    ok = subprocess.run([sys.executable, "-m", "deepq.cli", "compare", str(good_dir), str(poor_dir),
                         "--metric", "auc", "--reps", "300"], capture_output=True, text=True)
    assert ok.returncode == 0 and "| good | 10 |" in ok.stdout, ok.stderr
    for args, message in [
        ([str(tmp_path / "missing")], "does not exist"),
        ([str(good_dir), str(poor_dir), "--label", "one"], "one label per group"),
        ([str(good_dir), str(good_dir)], "share a label"),
    ]:
        bad = subprocess.run([sys.executable, "-m", "deepq.cli", "compare", *args, "--reps", "300"],
                             capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_a_seeds_run_ends_with_its_iqm():
    line = seeds_line([{"final_eval_mean": v} for v in (10.0, 20.0, 30.0, 40.0)], reps=500)
    assert line.startswith("IQM of the final greedy return over 4 seeds: 25.0 (95% CI")
