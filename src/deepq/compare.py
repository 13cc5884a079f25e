"""Groups of runs judged with honest statistics (Agarwal et al., 2021): the interquartile mean,
mean and median of a per-run score with 95% stratified bootstrap confidence intervals, the
probability that one group improves on another, performance profiles and learning curves with
confidence bands. The statistics are ``rliable``'s (the ``deepq[stats]`` extra).

A group is one argument of ``deepq compare``: a ``--seeds`` directory (its ``seed-K`` runs), one
run directory, or a glob matching run directories.
"""

from __future__ import annotations

import csv
import glob
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepq.errors import UserError

METRICS = ("final", "auc", "time")
METRIC_NAMES = {"final": "final greedy return", "auc": "area under the greedy curve (mean return)",
                "time": "wall seconds to the threshold"}


def _rliable() -> tuple[Any, Any]:
    """rliable's ``library`` and ``metrics``, or one clear line naming the extra."""
    try:
        from rliable import library, metrics
    except ImportError:
        raise UserError("deepq compare needs rliable: pip install 'deepq[stats]'") from None
    return library, metrics


@dataclass
class Run:
    """One finished run: its summary and its greedy evaluations (step, wall seconds, mean)."""

    path: Path
    summary: dict[str, Any]
    evaluations: list[tuple[int, float, float]] = field(default_factory=list)

    def score(self, metric: str) -> float:
        """The run's score: higher is better for ``final`` and ``auc``; for ``time``, its
        seconds to the threshold (the whole run's wall seconds when it never got there: a
        lower bound, counted as it is)."""
        if metric == "final":
            return float(self.summary["final_eval_mean"])
        if metric == "auc":
            steps = np.array([e[0] for e in self.evaluations], dtype=float)
            means = np.array([e[2] for e in self.evaluations], dtype=float)
            if len(steps) < 2:
                return float(means[-1])
            return float(np.trapezoid(means, steps) / (steps[-1] - steps[0]))
        seconds = self.summary.get("solved_at_seconds")
        return float(seconds if seconds is not None else self.summary["wall_seconds"])


def load_run(path: Path) -> Run:
    """A run directory's summary and evaluations, or a clear error naming what is missing."""
    summary_path = path / "summary.json"
    if not summary_path.exists():
        raise UserError(f"{path} has no summary.json: not a finished deepq run (deepq resume {path} finishes it)")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"{summary_path} cannot be read ({error}); rerun that run") from None
    if summary.get("final_eval_mean") is None:
        raise UserError(f"{path} was never evaluated; it cannot be compared")
    evaluations = []
    eval_path = path / "evaluations.csv"
    if eval_path.exists():
        with eval_path.open() as handle:
            evaluations = [(int(row["global_step"]), float(row["wall_seconds"]), float(row["mean"]))
                           for row in csv.DictReader(handle)]
    if not evaluations:
        evaluations = [(int(summary["steps"]), float(summary["wall_seconds"]), float(summary["final_eval_mean"]))]
    return Run(path, summary, evaluations)


def group_runs(spec: str) -> list[Run]:
    """The runs one ``deepq compare`` argument names: a ``--seeds`` directory, a run directory,
    or a glob of either."""
    paths = sorted(Path(p) for p in glob.glob(spec)) if any(c in spec for c in "*?[") else [Path(spec)]
    runs: list[Run] = []
    for path in paths:
        members = sorted(path.glob("seed-*/summary.json"))
        if members:
            runs += [load_run(m.parent) for m in members]
        elif (path / "summary.json").exists():
            runs.append(load_run(path))
        elif path.is_dir():
            continue  # a glob may match other folders
        else:
            raise UserError(f"{path} does not exist; pass a run directory, a --seeds directory or a glob")
    if not runs:
        raise UserError(f"no finished deepq runs in {spec!r}")
    return runs


def bootstrap(library: Any, scores: dict, func: Any, reps: int, seed: int) -> tuple[dict, dict]:
    """rliable's stratified bootstrap (percentile intervals, 95%), reproducible from ``seed``."""
    with warnings.catch_warnings():  # arch's notice that it will take a Generator some day
        warnings.simplefilter("ignore", FutureWarning)
        return library.get_interval_estimates(scores, func, reps=reps, random_state=np.random.RandomState(seed))


def interval_estimates(groups: dict[str, np.ndarray], reps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """For each group's ``(runs,)`` scores: ``[[IQM, mean, median], [low], [high]]`` with 95%
    stratified bootstrap intervals."""
    library, metrics = _rliable()

    def aggregates(scores: np.ndarray) -> np.ndarray:  # one task: rliable's median would be of task means
        return np.array([metrics.aggregate_iqm(scores), metrics.aggregate_mean(scores), np.median(scores)])

    scores = {label: values.reshape(-1, 1) for label, values in groups.items()}
    points, intervals = bootstrap(library, scores, aggregates, reps, seed)
    return {label: np.vstack([points[label], intervals[label]]) for label in groups}


def improvement_probabilities(groups: dict[str, np.ndarray], reps: int, higher_is_better: bool = True,
                              seed: int = 0) -> dict[tuple[str, str], np.ndarray]:
    """P(a run of X scores better than a run of Y) for every ordered pair, with its 95% CI:
    ``{(x, y): [point, low, high]}``."""
    library, metrics = _rliable()
    sign = 1.0 if higher_is_better else -1.0
    pairs = {(x, y): (sign * groups[x].reshape(-1, 1), sign * groups[y].reshape(-1, 1))
             for x in groups for y in groups if x != y}
    if not pairs:
        return {}
    keyed = {f"{x}\0{y}": value for (x, y), value in pairs.items()}
    points, intervals = bootstrap(library, keyed, lambda a, b: np.array([metrics.probability_of_improvement(a, b)]),
                                  reps, seed)
    return {tuple(key.split("\0")): np.array([points[key][0], *intervals[key][:, 0]]) for key in keyed}


def curve_estimates(runs: list[Run], reps: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The group's IQM greedy return at each evaluation step every run has, with its 95% band:
    ``steps (S,)`` and ``[[IQM], [low], [high]]`` of shape ``(3, S)``."""
    library, metrics = _rliable()
    common = sorted(set.intersection(*({e[0] for e in run.evaluations} for run in runs)))
    if not common:
        return np.array([]), np.empty((3, 0))
    table = np.array([[dict((e[0], e[2]) for e in run.evaluations)[s] for s in common] for run in runs])
    scores = {"curve": table[:, None, :]}  # (runs, 1 task, steps)

    def per_step(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x[..., j]) for j in range(x.shape[-1])])

    points, intervals = bootstrap(library, scores, per_step, reps, seed)
    return np.array(common), np.vstack([points["curve"], intervals["curve"]])


def seeds_line(summaries: list[dict[str, Any]], reps: int = 2000) -> str:
    """The line a ``--seeds`` run ends with: its seeds' IQM final greedy return with its 95% CI."""
    finals = np.array([s["final_eval_mean"] for s in summaries if s.get("final_eval_mean") is not None])
    if len(finals) < 2:
        return ""
    try:
        estimates = interval_estimates({"seeds": finals}, reps)["seeds"]
    except UserError:
        return "(pip install 'deepq[stats]' for the seeds' IQM and its 95% confidence interval)"
    return (f"IQM of the final greedy return over {len(finals)} seeds: {estimates[0, 0]:.1f} "
            f"(95% CI {estimates[1, 0]:.1f} to {estimates[2, 0]:.1f}); deepq compare judges runs against each other")


def compare(specs: list[str], labels: list[str] | None, metric: str, out: Path | None, reps: int) -> str:
    """The comparison report (a table, the improvement probabilities), and the figure at ``out``."""
    if metric not in METRICS:
        raise UserError(f"unknown --metric {metric!r}; choose one of {', '.join(METRICS)}")
    if labels and len(labels) != len(specs):
        raise UserError(f"{len(labels)} --label values for {len(specs)} groups; give one label per group")
    names = labels or [Path(spec.rstrip("/")).name or spec for spec in specs]
    if len(set(names)) != len(names):
        raise UserError(f"two groups share a label ({', '.join(names)}); name them with --label")
    groups = {name: group_runs(spec) for name, spec in zip(names, specs, strict=True)}
    scores = {name: np.array([run.score(metric) for run in runs]) for name, runs in groups.items()}
    estimates = interval_estimates(scores, reps)
    lines = [f"{METRIC_NAMES[metric]}: IQM, mean and median with 95% stratified bootstrap CIs ({reps} resamples)",
             "", "| group | runs | solved | IQM | mean | median | median s to threshold |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, runs in groups.items():
        e = estimates[name]
        cells = [f"{e[0, i]:.1f} [{e[1, i]:.1f}, {e[2, i]:.1f}]" for i in range(3)]
        times = [r.summary["solved_at_seconds"] for r in runs if r.summary.get("solved_at_seconds") is not None]
        median_time = f"{float(np.median(times)):.1f}" if times else "never"
        solved = sum(bool(r.summary.get("solved")) for r in runs)
        lines.append(f"| {name} | {len(runs)} | {solved}/{len(runs)} | {' | '.join(cells)} | {median_time} |")
    probabilities = improvement_probabilities(scores, reps, higher_is_better=metric != "time")
    if probabilities:
        lines += ["", "P(a run of X is better than a run of Y), 95% CI:", ""]
        for (x, y), p in probabilities.items():
            lines.append(f"- P({x} > {y}) = {p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}]")
    if out is not None:
        draw(groups, scores, estimates, metric, out, reps)
        lines += ["", f"figure: {out}"]
    return "\n".join(lines)


def draw(groups: dict[str, list[Run]], scores: dict[str, np.ndarray], estimates: dict[str, np.ndarray],
         metric: str, out: Path, reps: int) -> None:
    """Three panels: IQM with its CI per group, performance profiles (share of runs scoring
    above tau, with bands), and IQM learning curves with bands. Drawn off-screen."""
    library, _ = _rliable()
    from matplotlib.figure import Figure  # drawn to a file only: pyplot's backend is left alone

    all_scores = np.concatenate(list(scores.values()))
    taus = np.linspace(all_scores.min(), all_scores.max(), 60) if len(all_scores) else np.zeros(1)
    sign = -1.0 if metric == "time" else 1.0  # a profile counts runs better than tau
    profiles, profile_cis = library.create_performance_profile(
        {name: sign * values.reshape(-1, 1) for name, values in scores.items()}, sign * taus, reps=max(200, reps // 10))
    fig = Figure(figsize=(16, 4.8))
    axes = fig.subplots(1, 3)
    names = list(groups)
    for i, name in enumerate(names):
        e = estimates[name]
        axes[0].errorbar([e[0, 0]], [i], xerr=[[e[0, 0] - e[1, 0]], [e[2, 0] - e[0, 0]]], fmt="o", capsize=6)
        line, = axes[1].plot(taus, profiles[name], label=name)
        axes[1].fill_between(taus, profile_cis[name][0], profile_cis[name][1], alpha=0.2, color=line.get_color())
        steps, curve = curve_estimates(groups[name], max(200, reps // 10))
        if len(steps):
            line, = axes[2].plot(steps, curve[0], label=name)
            axes[2].fill_between(steps, curve[1], curve[2], alpha=0.2, color=line.get_color())
    axes[0].set_yticks(range(len(names)), names)
    axes[0].set_xlabel(f"IQM of the {METRIC_NAMES[metric]} (95% CI)")
    axes[1].set_xlabel(METRIC_NAMES[metric] + (" (tau; lower is better)" if metric == "time" else " (tau)"))
    axes[1].set_ylabel("fraction of runs better than tau")
    axes[2].set_xlabel("environment steps")
    axes[2].set_ylabel("IQM greedy return (95% band)")
    for ax in axes[1:]:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
