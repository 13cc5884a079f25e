"""Hyperparameter sweeps on Ray Tune (the ``deepq[ray]`` extra): one trial per (configuration,
seed), each an ordinary deepq run writing its usual run directory.

A trial reports to Tune at every deepq checkpoint, so a trial that fails or loses its node is
restarted (up to ``--max-failures`` times) with ``deepq resume`` semantics: from its run
directory's last checkpoint, its step counter never going back. ``deepq sweep --resume DIR``
continues an interrupted sweep (``Tuner.restore``). The end is ``deepq compare`` over the
configurations, plus a line on trials lost and restarts.

With ``search="optuna"`` the grid is a search space instead (a key's listed values, or a range
``LOW..HIGH``): Ray Tune's Optuna searcher picks ``num_trials`` configurations, each one trial
that trains every seed at once (a ``--seeds`` run) and is scored by their mean final greedy return.

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
RANGE = ".."  # KEY=LOW..HIGH: a range to search, not a list of values
SEARCHERS = ("optuna",)
SHOWN = 5  # a search's report compares its best few configurations
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
    for key, values in grid.items():
        parse_range(key, values)
    return grid


def parse_range(key: str, values: list[str]) -> tuple[float, float] | tuple[int, int] | None:
    """A key's ``LOW..HIGH`` as two ints (both written as ints) or two floats; None for a list."""
    if not any(RANGE in value for value in values):
        return None
    low, _, high = values[0].partition(RANGE)
    try:
        bounds: tuple[float, float] | tuple[int, int] = (int(low), int(high))
    except ValueError:
        try:
            bounds = (float(low), float(high))
        except ValueError:
            bounds = ()  # type: ignore[assignment]
    if len(values) != 1 or len(bounds) != 2 or not bounds[0] < bounds[1]:
        raise UserError(f"--grid {key}={','.join(values)}: a range is one LOW..HIGH with LOW < HIGH, "
                        "e.g. learning_rate=1e-4..1e-2")
    return bounds


@dataclass
class SweepSpec:
    """What a sweep runs: every combination of the grid's values, on every seed."""

    env_id: str
    seeds: list[int]
    grid: dict[str, list[str]]
    preset: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    steps: int | None = None
    search: str | None = None  # "optuna": search the grid's space rather than run every combination
    num_trials: int | None = None  # the search's configurations

    def configurations(self) -> list[dict[str, str]]:
        """One overrides dict per combination, in grid order."""
        keys = list(self.grid)
        return [dict(zip(keys, values, strict=True)) for values in itertools.product(*self.grid.values())]

    @staticmethod
    def label(combination: dict[str, str]) -> str:
        """A configuration's name and folder: ``learning_rate=0.001__batch_size=64``."""
        return "__".join(f"{key}={value.replace(',', ':')}" for key, value in combination.items())

    def check(self) -> None:
        """Build every configuration now (for a search: each listed value and each range's ends),
        so a bad key, value or search stops the sweep before Ray starts."""
        if self.search is None:
            ranges = [key for key, values in self.grid.items() if parse_range(key, values)]
            if ranges:
                raise UserError(f"--grid {ranges[0]} is a range (LOW..HIGH), which only a search takes: add "
                                "--search optuna --trials N, or list its values as V1,V2")
            if self.num_trials is not None:
                raise UserError("--trials counts a search's configurations; add --search optuna, or drop --trials")
            for combination in self.configurations():
                build_config(self.env_id, self.preset, {**self.overrides, **combination})
            return
        if self.search not in SEARCHERS:
            raise UserError(f"unknown --search {self.search!r}; choose {', '.join(SEARCHERS)}")
        if not self.num_trials or self.num_trials < 1:
            raise UserError("--search needs --trials N (N >= 1), the number of configurations to try")
        for key, values in self.grid.items():
            for value in parse_range(key, values) or values:
                build_config(self.env_id, self.preset, {**self.overrides, key: str(value)})

    def trials(self, storage: Path) -> list[dict[str, Any]]:
        """One Tune parameter set per (configuration, seed) of the grid."""
        return [{"env_id": self.env_id, "preset": self.preset, "overrides": {**self.overrides, **combination},
                 "seeds": [seed], "steps": self.steps, "label": self.label(combination),
                 "run_dir": str((storage / "runs" / self.label(combination) / f"seed-{seed}").resolve())}
                for combination in self.configurations() for seed in self.seeds]

    def search_space(self, tune: Any) -> dict[str, Any]:
        """The grid as Tune's search space: listed values are a choice; an int range is uniform
        over its integers; a float range is log-uniform when positive, else uniform."""
        space = {}
        for key, values in self.grid.items():
            bounds = parse_range(key, values)
            if bounds is None:
                space[key] = tune.choice(values)
            elif isinstance(bounds[0], int):
                space[key] = tune.randint(bounds[0], bounds[1] + 1)
            else:
                space[key] = (tune.loguniform if bounds[0] > 0 else tune.uniform)(*bounds)
        return space

    def save(self, storage: Path) -> None:
        try:
            storage.mkdir(parents=True, exist_ok=True)
            (storage / SPEC_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")
        except OSError as error:
            raise UserError(f"cannot write the sweep's directory {storage} ({error.strerror or error}); "
                            "pick a writable --storage") from None

    @classmethod
    def load(cls, storage: Path) -> SweepSpec:
        path = storage / SPEC_FILE
        if not path.exists():
            raise UserError(f"{storage} holds no deepq sweep ({SPEC_FILE} is missing); pass the --storage of one")
        return cls(**json.loads(path.read_text()))


def search_trial(params: dict[str, Any]) -> dict[str, Any]:
    """A search's trial: the searcher's values, and the run directory named after the trial."""
    from ray import tune

    trial = params["trial"]
    chosen = {key: str(value) for key, value in params["search"].items()}
    short = {key: f"{value:.3g}" if isinstance(value, float) else str(value) for key, value in params["search"].items()}
    label = f"trial-{tune.get_context().get_trial_id()}__{SweepSpec.label(short)}"
    return {**trial, "overrides": {**trial["overrides"], **chosen}, "label": label,
            "run_dir": str(Path(trial["storage"]) / "runs" / label)}


def summaries(run_dir: Path) -> list[dict[str, Any]] | None:
    """The summaries of a trial's run (one seed's directory, or a search's ``seed-K`` members);
    None until every seed has finished."""
    from deepq.train import member_dirs

    paths = [run_dir / "summary.json"] if (run_dir / "summary.json").exists() else \
        [d / "summary.json" for d in member_dirs(run_dir)]
    if not paths or not all(p.exists() for p in paths):
        return None
    found = [json.loads(p.read_text()) for p in paths]
    return found if all(s["steps"] >= s["total_steps"] for s in found) else None


def score_of(means: list[float | None]) -> float:
    """A trial's score: the mean of its seeds' greedy returns that exist, -inf when none does."""
    evaluated = [mean for mean in means if mean is not None]
    return sum(evaluated) / len(evaluated) if evaluated else float("-inf")


def run_trial(params: dict[str, Any]) -> None:
    """One trial, inside a Ray worker: a deepq run (all a search trial's seeds at once), resumed
    from its run directory when Tune restarts it after a failure; reports to Tune at each deepq
    checkpoint and at the end."""
    from ray import tune

    from deepq.train import Trainer

    trial = search_trial(params) if "search" in params else params["trial"]
    run_dir = Path(trial["run_dir"])
    seeds = trial["seeds"]
    # An earlier attempt's files are this trial's own (its run directory is unique to the sweep):
    # its checkpoint counts even when its report never reached Tune (a node lost in between).
    done = summaries(run_dir)
    if done is not None:  # it finished; only its last report was lost
        _report(tune, run_dir, done[0]["steps"], done)
        return
    saved = run_dir / "checkpoint.pt" if len(seeds) == 1 else run_dir / f"seed-{seeds[0]}" / "checkpoint.pt"
    if saved.exists():
        trainer = Trainer.resume(run_dir, progress=False, threads=1)
    else:
        config, preset = build_config(trial["env_id"], trial["preset"], trial["overrides"])
        trainer = Trainer(trial["env_id"], config, seed=seeds[0], seeds=seeds if len(seeds) > 1 else None,
                          run_dir=run_dir, total_steps=trial["steps"], progress=False,
                          preset=preset.name if preset else None, overwrite=True, threads=1)
    _note_attempt(run_dir, trainer.clock.step)
    written = [trainer.clock.next_checkpoint]

    def report_checkpoints(t: Trainer) -> None:
        if t.clock.next_checkpoint != written[0]:  # a deepq checkpoint was just written
            written[0] = t.clock.next_checkpoint
            latest = [m.record.last_eval_mean if m.record.last_eval_mean is not None else
                      (sum(m.recent) / len(m.recent) if m.recent else None) for m in t.members]
            _report(tune, run_dir, t.clock.step, None, latest)

    result = trainer.run(callback=report_checkpoints)
    done = result if isinstance(result, list) else [result]
    _report(tune, run_dir, done[0]["steps"], done)


def _note_attempt(run_dir: Path, step: int) -> None:
    path = run_dir / ATTEMPTS_FILE
    attempts = json.loads(path.read_text()) if path.exists() else []
    run_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([*attempts, step]) + "\n")


def _report(tune: Any, run_dir: Path, step: int, done: list[dict[str, Any]] | None,
            latest: list[float | None] | None = None) -> None:
    """A Tune report whose checkpoint points at the run directory (the deepq checkpoint is there).
    Its ``score``, which a search reads, is the seeds' mean greedy return: the final one when
    ``done`` (their summaries), else the ``latest`` (before a seed's first evaluation, its recent
    training episodes' mean)."""
    latest = [s["final_eval_mean"] for s in done] if done is not None else latest or []
    metrics = {"step": step, "done": done is not None, "score": score_of(latest)}
    if done is not None:
        metrics["solved"] = sum(bool(s["solved"]) for s in done)
        metrics["wall_seconds"] = max(s["wall_seconds"] for s in done)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "deepq.json").write_text(json.dumps({"run_dir": str(run_dir), "step": step}))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def sweep(spec: SweepSpec | None, storage: Path, address: str | None = None, max_failures: int = 3,
          resume: bool = False, reps: int = 2000) -> tuple[str, int]:
    """Run (or, with ``resume``, continue) the sweep in ``storage``; returns (the report, the
    number of trials that did not finish: lost, or left unfinished by a stop)."""
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
    searcher = _searcher(spec) if spec.search else None  # before Ray starts: a missing Optuna is one line
    started = start_ray(ray, address)
    try:
        if not resume:  # only once Ray is there: a sweep refused before it leaves no folder behind
            spec.save(storage)
        trainable = tune.with_resources(run_trial, {"cpu": 1})
        if resume:
            tuner = tune.Tuner.restore(str(storage / "tune"), trainable, resume_unfinished=True, resume_errored=True)
        else:
            run_config = tune.RunConfig(name="tune", storage_path=str(storage), verbose=0,
                                        failure_config=tune.FailureConfig(max_failures=max_failures))
            if searcher is None:
                param_space = {"trial": tune.grid_search(spec.trials(storage))}
                tune_config = None
            else:
                param_space = {"trial": {"env_id": spec.env_id, "preset": spec.preset, "overrides": spec.overrides,
                                         "seeds": spec.seeds, "steps": spec.steps, "storage": str(storage)},
                               "search": spec.search_space(tune)}
                tune_config = tune.TuneConfig(search_alg=searcher, num_samples=spec.num_trials)
            tuner = tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)
        results = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    return report(spec, storage, [str(r.error).splitlines()[0] for r in results if r.error], reps)


def _searcher(spec: SweepSpec) -> Any:
    """Ray Tune's Optuna searcher, maximizing the trials' score, its sampler seeded by the first seed."""
    try:
        import optuna
        from ray.tune.search.optuna import OptunaSearch
    except ImportError:
        raise UserError("--search optuna needs Optuna: pip install 'deepq[ray]'") from None
    return OptunaSearch(metric="score", mode="max", sampler=optuna.samplers.TPESampler(seed=spec.seeds[0]))


def report(spec: SweepSpec, storage: Path, errors: list[str], reps: int = 2000) -> tuple[str, int]:
    """``deepq compare`` over the configurations (a search's best few, after its trials ranked by
    score), then trials lost and restarts."""
    from deepq.compare import compare

    if spec.search is None:
        runs = {f"{t['label']}/seed-{t['seeds'][0]}": Path(t["run_dir"]) for t in spec.trials(storage)}
        expected = len(runs)
    else:
        runs = {path.name: path for path in sorted((storage / "runs").glob("trial-*"))}
        expected = spec.num_trials or 0
    finished = {name: done for name, path in runs.items() if (done := summaries(path)) is not None}
    restarts = {}
    for name, path in runs.items():
        attempts = json.loads((path / ATTEMPTS_FILE).read_text()) if (path / ATTEMPTS_FILE).exists() else []
        if len(attempts) > 1:
            restarts[name] = attempts
    lines = []
    if spec.search is None:
        done_labels = {name.rsplit("/", 1)[0] for name in finished}
        labels = [SweepSpec.label(c) for c in spec.configurations() if SweepSpec.label(c) in done_labels]
    else:
        score = {name: score_of([s["final_eval_mean"] for s in done]) for name, done in finished.items()}
        labels = sorted(score, key=score.get, reverse=True)
        lines += [f"{len(labels)} configurations searched, best first (mean final greedy return over seeds "
                  f"{', '.join(map(str, spec.seeds))}):", ""]
        lines += [f"{rank}. {name}: {score[name]:.1f}" for rank, name in enumerate(labels, 1)]
        lines += ["", f"the best {min(SHOWN, len(labels))} compared:", ""] if labels else []
        labels = labels[:SHOWN]
    if labels:
        lines.append(compare([str(storage / "runs" / label) for label in labels], labels, "final",
                             storage / "sweep.png", reps))
    lost = min(len(errors), expected - len(finished))  # failed past --max-failures
    stopped = expected - len(finished) - lost  # not failed: the sweep itself was stopped
    lines += ["", f"trials: {len(finished)} of {expected} finished, {lost} lost; "
                  f"restarts: {sum(len(a) - 1 for a in restarts.values())}"]
    if stopped:
        lines.append(f"- {stopped} did not finish (the sweep was stopped): continue it with "
                     f"`deepq sweep --resume {storage}`")
    for name, attempts in restarts.items():
        lines.append(f"- {name} started at steps {', '.join(map(str, attempts))} (each attempt resumed where "
                     "the last checkpoint left it)")
    for error in errors:
        lines.append(f"- failed: {error}")
    return "\n".join(lines), expected - len(finished)
