"""Hyperparameter sweeps on Ray Tune (the ``deepq[ray]`` extra): one trial per (configuration,
seed), each an ordinary deepq run writing its usual run directory.

A trial reports to Tune at every deepq checkpoint, so a trial that fails or loses its node is
restarted (up to ``--max-failures`` times) with ``deepq resume`` semantics: from its run
directory's last checkpoint, its step counter never going back. ``deepq sweep --resume DIR``
continues an interrupted sweep (``Tuner.restore``). The end is ``deepq compare`` over the
configurations, plus a line on trials lost and restarts.

Layout of a sweep directory (``--storage``): ``sweep.json`` (what was asked), ``runs/LABEL/seed-K``
(the deepq runs), ``tune/`` (Tune's own state), ``sweep.png``. On a cluster it must be a path
every node can write (a shared filesystem).
"""

from __future__ import annotations

import itertools
import json
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deepq.cluster import require_ray, start_ray
from deepq.config import build_config
from deepq.errors import UserError

SPEC_FILE = "sweep.json"
ATTEMPTS_FILE = "attempts.json"  # in each run directory: the step each attempt of the trial started at


def parse_grid(pairs: list[str]) -> dict[str, list[str]]:
    """``["lr=1e-3,3e-4", "hidden_sizes=64:64,256:256"]`` -> ``{"lr": ["1e-3", "3e-4"], ...}``;
    a value's own commas (a tuple such as hidden_sizes) are written as colons."""
    grid: dict[str, list[str]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key or not values:
            raise UserError(f"--grid takes KEY=V1,V2,...; got {pair!r}")
        if key in grid:
            raise UserError(f"--grid names {key} twice; list all its values once")
        grid[key] = [value.replace(":", ",") for value in values.split(",") if value]
    if not grid:
        raise UserError("deepq sweep needs at least one --grid KEY=V1,V2")
    return grid


@dataclass
class SweepSpec:
    """What a sweep runs: every combination of the grid's values, on every seed."""

    env_id: str
    seeds: list[int]
    grid: dict[str, list[str]]
    preset: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    steps: int | None = None

    def configurations(self) -> list[dict[str, str]]:
        """One overrides dict per combination, in grid order."""
        keys = list(self.grid)
        return [dict(zip(keys, values, strict=True)) for values in itertools.product(*self.grid.values())]

    @staticmethod
    def label(combination: dict[str, str]) -> str:
        """A configuration's name and folder: ``learning_rate=0.001__batch_size=64``."""
        return "__".join(f"{key}={value.replace(',', ':')}" for key, value in combination.items())

    def check(self) -> None:
        """Build every configuration now, so a bad key or value stops the sweep before Ray starts."""
        for combination in self.configurations():
            build_config(self.env_id, self.preset, {**self.overrides, **combination})

    def trials(self, storage: Path) -> list[dict[str, Any]]:
        """One Tune parameter set per (configuration, seed)."""
        return [{"env_id": self.env_id, "preset": self.preset, "overrides": {**self.overrides, **combination},
                 "seed": seed, "steps": self.steps, "label": self.label(combination),
                 "run_dir": str((storage / "runs" / self.label(combination) / f"seed-{seed}").resolve())}
                for combination in self.configurations() for seed in self.seeds]

    def save(self, storage: Path) -> None:
        storage.mkdir(parents=True, exist_ok=True)
        (storage / SPEC_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, storage: Path) -> SweepSpec:
        path = storage / SPEC_FILE
        if not path.exists():
            raise UserError(f"{storage} holds no deepq sweep ({SPEC_FILE} is missing); pass the --storage of one")
        return cls(**json.loads(path.read_text()))


def run_trial(params: dict[str, Any]) -> None:
    """One trial, inside a Ray worker: a deepq run, resumed from its run directory when Tune
    restarts it after a failure; reports to Tune at each deepq checkpoint and at the end."""
    from ray import tune

    from deepq.train import Trainer

    trial = params["trial"]
    run_dir = Path(trial["run_dir"])
    saved = run_dir / "checkpoint.pt"
    if tune.get_checkpoint() is not None and (run_dir / "summary.json").exists():
        summary = json.loads((run_dir / "summary.json").read_text())
        if summary["steps"] >= summary["total_steps"]:  # it finished; only its last report was lost
            _report(tune, run_dir, summary["steps"], summary)
            return
    if tune.get_checkpoint() is not None and saved.exists():
        trainer = Trainer.resume(run_dir, progress=False, threads=1)
    else:
        config, preset = build_config(trial["env_id"], trial["preset"], trial["overrides"])
        trainer = Trainer(trial["env_id"], config, seed=trial["seed"], run_dir=run_dir, total_steps=trial["steps"],
                          progress=False, preset=preset.name if preset else None, overwrite=True, threads=1)
    _note_attempt(run_dir, trainer.clock.step)
    written = [trainer.clock.next_checkpoint]

    def report_checkpoints(t: Trainer) -> None:
        if t.clock.next_checkpoint != written[0]:  # a deepq checkpoint was just written
            written[0] = t.clock.next_checkpoint
            _report(tune, run_dir, t.clock.step, None)

    summary = trainer.run(callback=report_checkpoints)
    _report(tune, run_dir, summary["steps"], summary)


def _note_attempt(run_dir: Path, step: int) -> None:
    path = run_dir / ATTEMPTS_FILE
    attempts = json.loads(path.read_text()) if path.exists() else []
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([*attempts, step]) + "\n")


def _report(tune: Any, run_dir: Path, step: int, summary: dict[str, Any] | None) -> None:
    """A Tune report whose checkpoint points at the run directory (the deepq checkpoint is there)."""
    metrics = {"step": step, "done": summary is not None}
    if summary is not None:
        metrics.update({key: summary[key] for key in ("final_eval_mean", "solved", "wall_seconds")
                        if summary.get(key) is not None})
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "deepq.json").write_text(json.dumps({"run_dir": str(run_dir), "step": step}))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def sweep(spec: SweepSpec | None, storage: Path, address: str | None = None, max_failures: int = 3,
          resume: bool = False, reps: int = 2000) -> tuple[str, int]:
    """Run (or, with ``resume``, continue) the sweep in ``storage``; returns (the report, the
    number of trials that did not finish)."""
    ray = require_ray("deepq sweep", tune=True)
    from ray import tune

    storage = Path(storage).resolve()
    if resume:
        spec = SweepSpec.load(storage)
        if not (storage / "tune").exists():
            raise UserError(f"{storage} has no Tune state to continue (tune/ is missing); start the sweep again")
    else:
        assert spec is not None
        spec.check()
        if (storage / SPEC_FILE).exists():
            raise UserError(f"{storage} already holds a sweep; continue it with `deepq sweep --resume {storage}` "
                            "or pick another --storage")
        spec.save(storage)
    started = start_ray(ray, address)
    try:
        trainable = tune.with_resources(run_trial, {"cpu": 1})
        if resume:
            tuner = tune.Tuner.restore(str(storage / "tune"), trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable, param_space={"trial": tune.grid_search(spec.trials(storage))},
                run_config=tune.RunConfig(name="tune", storage_path=str(storage), verbose=0,
                                          failure_config=tune.FailureConfig(max_failures=max_failures)),
            )
        results = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    return report(spec, storage, [str(r.error).splitlines()[0] for r in results if r.error], reps)


def report(spec: SweepSpec, storage: Path, errors: list[str], reps: int = 2000) -> tuple[str, int]:
    """``deepq compare`` over the configurations, then trials lost and restarts."""
    from deepq.compare import compare

    trials = spec.trials(storage)
    lost = [t for t in trials if not (Path(t["run_dir"]) / "summary.json").exists()]
    restarts = {}
    for t in trials:
        path = Path(t["run_dir"]) / ATTEMPTS_FILE
        attempts = json.loads(path.read_text()) if path.exists() else []
        if len(attempts) > 1:
            restarts[f"{t['label']}/seed-{t['seed']}"] = attempts
    lines = []
    finished = {t["label"] for t in trials if t not in lost}
    labels = [SweepSpec.label(c) for c in spec.configurations() if SweepSpec.label(c) in finished]
    if labels:
        lines.append(compare([str(storage / "runs" / label) for label in labels], labels, "final",
                             storage / "sweep.png", reps))
    lines += ["", f"trials: {len(trials) - len(lost)} of {len(trials)} finished, {len(lost)} lost; "
                  f"restarts: {sum(len(a) - 1 for a in restarts.values())}"]
    for name, attempts in restarts.items():
        lines.append(f"- {name} started at steps {', '.join(map(str, attempts))} (each attempt resumed where "
                     "the last checkpoint left it)")
    for error in errors:
        lines.append(f"- failed: {error}")
    return "\n".join(lines), len(lost)
