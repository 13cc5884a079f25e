"""The training loop: act -> step -> store -> learn -> log -> evaluate -> checkpoint.

``Trainer.run`` reads top to bottom. Data flows one way: the environments produce
transitions, the replay memories hold them, the agent learns from samples, the loggers record.

One loop trains K >= 1 members, one per seed (``--seeds``): one vector environment steps all
the members' environments, one batched forward pass acts for all of them, and one learn step
updates all their networks (``deepq.networks.MemberNets``). Each member has its own network,
replay memory, exploration draws, environments and evaluations, seeded as its seed alone would
be, and writes its own run directory (RUN_DIR/seed-K when there are several), so member k's run
does not depend on who runs beside it (beyond rounding).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepq.agent import DQNAgent
from deepq.checkpoint import (
    CHECKPOINT_FORMAT,
    FORMAT_VERSION,
    MODEL_FORMAT,
    CheckpointError,
    atomic_link,
    atomic_save,
    check_compatible,
    load_file,
)
from deepq.config import DQNConfig
from deepq.cpu import default_threads, flushing_subnormals, torch_threads
from deepq.envs import ResumableVectorEnv, env_spaces
from deepq.envs.atari import clip_reward, is_atari
from deepq.errors import RunError
from deepq.evaluation import evaluate_members
from deepq.logging import ProgressDisplay, RunLogger
from deepq.replay import (
    FrameReplay,
    MemberReplays,
    NStepCollector,
    PrioritizedReplay,
    ReplayBuffer,
    RolloutMemory,
)
from deepq.schedules import epsilon_at

EVAL_SEED_OFFSET = 1_000_003  # evaluation environments never share seeds with training ones


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda was asked for, but PyTorch sees no CUDA device; use --device cpu")
    if device not in ("cpu", "cuda"):
        raise RunError(f"unknown device {device!r}; use auto, cpu or cuda")
    return torch.device(device)


def available_memory() -> int | None:
    """Bytes of RAM that can be allocated now without swapping (Linux), or None if unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: int) -> None:
    """Refuse a replay memory that does not fit in RAM, before allocating it."""
    available = available_memory()
    if available is not None and needed > available:
        raise RunError(
            f"the replay memory needs {needed / 2**30:.2f} GiB but only {available / 2**30:.2f} GiB "
            "of RAM is available; lower buffer_size (--set buffer_size=N)"
        )


class StopRequest:
    """Ctrl-C or SIGTERM during a run: the first asks the loop to finish its step, save and
    stop (``signal`` says which came); a second aborts at once."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def catch(self) -> None:
        """Install the handlers (only the main thread can)."""
        def request_stop(signum: int, _frame: Any) -> None:
            if self.signal is not None:
                raise KeyboardInterrupt
            self.signal = signum

        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, request_stop)
        except ValueError:  # not the main thread: leave signals alone
            pass

    def release(self) -> None:
        """Put the previous handlers back."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


@dataclass
class Counters:
    """The run's clock, shared by its members; a checkpoint carries it so a resumed run goes on."""

    step: int = 0  # env steps taken by each member, over its environments
    gradient_steps: int = 0
    next_eval: int = 0
    next_checkpoint: int = 0
    wall_seconds: float = 0.0  # time spent in earlier sessions of this run


@dataclass
class Record:
    """One member's results so far; a checkpoint carries it with the counters."""

    episodes: int = 0
    solved_at_step: int | None = None
    solved_at_seconds: float | None = None
    train_solved_at_step: int | None = None
    best_eval_mean: float | None = None
    last_eval_step: int = -1
    last_eval_mean: float | None = None
    last_eval_std: float | None = None
    recent_returns: list[float] = field(default_factory=list)


COUNTER_KEYS = tuple(Counters.__dataclass_fields__)
RECORD_KEYS = tuple(Record.__dataclass_fields__)
RUN_FILES = ("config.json", "metrics.csv", "evaluations.csv", "summary.json", "model.pt", "checkpoint.pt",
             "learning_curve.png")


def holds_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` already holds a deepq run (or one of its members)."""
    return any((run_dir / name).exists() for name in ("checkpoint.pt", "summary.json", "metrics.csv"))


def clear_run(run_dir: Path) -> None:
    """Delete what a run writes in ``run_dir`` (for ``overwrite``), nothing else."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for old in [*run_dir.glob("events.out.tfevents.*"), *run_dir.glob("checkpoints/checkpoint_*.pt")]:
        old.unlink()


def member_dirs(run_dir: Path) -> list[Path]:
    """The members' run directories of a ``--seeds`` run (RUN_DIR/seed-K), in seed order."""
    found = [p for p in run_dir.glob("seed-*") if p.is_dir() and p.name[5:].lstrip("-").isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def finished_summary(run_dir: Path, total_steps: int) -> bool:
    """Whether ``run_dir`` holds the summary of a run that reached ``total_steps``. A checkpoint at
    the last step without one is a run stopped between its last save and its summary: resuming it
    only writes the summary."""
    path = run_dir / "summary.json"
    return path.exists() and int(json.loads(path.read_text())["steps"]) >= total_steps


@dataclass
class Member:
    """What one seed owns in a run: its generator, memory, n-step windows, results and logs."""

    seed: int
    run_dir: Path
    rng: np.random.Generator
    replay: Any
    nstep: NStepCollector
    record: Record
    episode_return: np.ndarray
    episode_length: np.ndarray
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    logger: RunLogger | None = None
    finished: bool = False  # stopped at its solved evaluation (stop_when_solved)
    summary: dict[str, Any] | None = None


class Trainer:
    """Trains one agent per seed on one environment id (one seed: ``seed``; many: ``seeds``).

    One seed writes ``run_dir`` itself; ``seeds`` write ``run_dir/seed-K`` each. An existing run
    there is refused unless ``overwrite`` (its files are then replaced when the run starts).
    """

    def __init__(
        self, env_id: str, config: DQNConfig, seed: int = 0, run_dir: str | Path = "runs/run",
        total_steps: int | None = None, device: str = "auto", stop_when_solved: bool = False,
        progress: bool | None = None, env_kwargs: dict[str, Any] | None = None,
        preset: str | None = None, save_replay: bool = False, seeds: Sequence[int] | None = None,
        overwrite: bool = False, display: Any = None, threads: int | None = None,
        all_seeds: Sequence[int] | None = None, address: str | None = None, _resuming: bool = False,
    ) -> None:
        self.env_id = env_id
        self.config = config
        self.seeds = [int(seed)] if seeds is None else [int(s) for s in seeds]
        check_distinct(self.seeds)
        self.all_seeds = list(all_seeds) if all_seeds is not None else (None if seeds is None else self.seeds)
        self.run_dir = Path(run_dir)
        self.total_steps = int(total_steps or config.total_steps)
        self.device = resolve_device(device)
        self.stop_when_solved = stop_when_solved
        self.show_progress = progress
        self.display = display
        self.threads = threads
        self.env_kwargs = dict(env_kwargs or {})
        self.preset = preset
        self.save_replay = save_replay
        self.overwrite = overwrite
        self.address = address  # Ape-X (config.actors): the Ray cluster to join; None starts a local Ray
        if config.actors and len(self.seeds) > 1:
            raise RunError("--actors (Ape-X) trains one seed; drop --seeds or --actors")
        self.obs_shape, obs_dtype, self.n_actions = env_spaces(env_id, **self.env_kwargs)
        if config.learning_starts >= self.total_steps:
            raise RunError(
                f"learning_starts ({config.learning_starts}) must be below the run's steps "
                f"({self.total_steps}); lower it with --set learning_starts=N or raise --steps"
            )
        dirs = ([self.run_dir] if seeds is None else [self.run_dir / f"seed-{s}" for s in self.seeds])
        if not _resuming and not overwrite:
            for path in dirs:
                if holds_run(path):
                    raise RunError(f"{path} already holds a run; continue it with `deepq resume {path}`, "
                                   "or pass --overwrite (overwrite=True) or another run directory")

        self.agent = DQNAgent(self.obs_shape, self.n_actions, config, self.device, seeds=self.seeds)
        # PQN keeps its last rollout; DQN's stacked Atari frames go to the frame memory, which
        # stores each frame once (Ape-X's actors send whole transitions: they go to the uniform
        # store); anything else to the uniform (or prioritized) memory.
        self.pqn = config.algorithm == "pqn"
        self.frames = is_atari(env_id) and len(self.obs_shape) == 3 and not self.pqn and not config.actors
        if self.pqn:
            memory_bytes = RolloutMemory.bytes_needed(config.rollout_steps, config.num_envs, self.obs_shape, obs_dtype)
        elif self.frames:
            memory_bytes = FrameReplay.bytes_needed(config.buffer_size, self.obs_shape[1:])
        else:
            memory_bytes = ReplayBuffer.bytes_needed(config.buffer_size, self.obs_shape, obs_dtype)
        check_memory(len(self.seeds) * memory_bytes)
        n = config.num_envs
        self.members = [
            Member(seed, path, np.random.default_rng(seed), self._replay(seed, obs_dtype),
                   NStepCollector(config.n_step, config.gamma, n), Record(), np.zeros(n),
                   np.zeros(n, dtype=np.int64))
            for seed, path in zip(self.seeds, dirs, strict=True)
        ]
        self.replays = MemberReplays([m.replay for m in self.members])
        self.clock = Counters(next_eval=config.eval_interval or self.total_steps,
                              next_checkpoint=config.checkpoint_interval or self.total_steps)
        self.resumed_from: int | None = None
        self.replay_restored = False
        self.envs_states: list[dict[str, Any]] | None = None  # set by resume
        self.fleet: Any = None  # Ape-X's actors (deepq.apex.ActorFleet), while a run with actors goes on
        self.stop = StopRequest()

    def _replay(self, seed: int, obs_dtype: Any) -> Any:
        config = self.config
        if self.pqn:
            return RolloutMemory(config.rollout_steps, config.num_envs, self.obs_shape, obs_dtype, self.device,
                                 seed=seed + 1)
        replay: Any = (
            FrameReplay(config.buffer_size, self.obs_shape[1:], self.obs_shape[0], config.num_envs,
                        config.gamma, self.device, seed=seed + 1, n_step=config.n_step) if self.frames
            else ReplayBuffer(config.buffer_size, self.obs_shape, obs_dtype, config.gamma, self.device,
                              seed=seed + 1)
        )
        if config.prioritized:
            replay = PrioritizedReplay(replay, config.priority_alpha, config.priority_beta, seed=seed + 2)
        return replay

    @property
    def seed(self) -> int:
        """The first member's seed (the only one, for a one-seed run)."""
        return self.seeds[0]

    @property
    def replay(self) -> Any:
        """The first member's replay memory."""
        return self.members[0].replay

    @property
    def stop_signal(self) -> int | None:
        """The signal that interrupted the run, if any."""
        return self.stop.signal

    @property
    def run_threads(self) -> int:
        """The torch threads ``run`` uses: ``threads`` if given, else ``deepq.cpu.default_threads``
        for this run's members and network."""
        return self.threads or default_threads(self.config, len(self.seeds), self.agent.q_net.hidden_width)

    # --- the loop ---
    def run(self, callback: Callable[[Trainer], None] | None = None) -> list[dict[str, Any]] | dict[str, Any]:
        """Train until ``total_steps`` env steps (or every member solved, with ``stop_when_solved``);
        returns the summary (one seed) or the members' summaries (``seeds``).

        The run uses ``run_threads`` torch threads and flushes
        subnormal floats to zero (``deepq.cpu.flushing_subnormals``); both are put back after.
        ``callback(trainer)``, if given, is called after every vector step.
        """
        with flushing_subnormals(), torch_threads(self.run_threads):
            summaries = self._train(callback)
        return summaries if self.all_seeds is not None else summaries[0]

    def _train(self, callback: Callable[[Trainer], None] | None) -> list[dict[str, Any]]:
        config, clock, agent, members = self.config, self.clock, self.agent, self.members
        n, k_members = config.num_envs, len(members)
        self._prepare_run_dirs()
        own_display = self.display is None
        display = self.display or ProgressDisplay(
            self.total_steps, self.show_progress, clock.step,
            label="train" if k_members == 1 else f"train x{k_members}")
        for m in members:
            hparams = {"env_id": self.env_id, "seed": m.seed, **config.to_dict()}
            m.logger = RunLogger(m.run_dir, hparams, clock.step, display if k_members == 1 else None)
        envs = self._environments(display)
        obs = self._start_episodes(envs, display)
        for m in members:
            m.recent.extend(m.record.recent_returns)
        # PQN learns once its rollout is full: update_epochs passes over it in minibatches.
        gradient_steps = (config.update_epochs * n * config.rollout_steps // config.batch_size if self.pqn
                          else config.gradient_steps if config.gradient_steps > 0 else n * config.train_freq)
        # Learning needs a batch; after a resume without the saved memory, it first refills.
        min_replay = config.batch_size
        if self.resumed_from is not None and not self.replay_restored:
            min_replay = max(config.batch_size, min(config.learning_starts, config.buffer_size))
        self.session_start = time.perf_counter()
        sps_clock, sps_step, sps = self.session_start, clock.step, 0.0
        epsilon = epsilon_at(config, clock.step, self.total_steps)
        self.stop.catch()
        try:
            while (clock.step < self.total_steps and self.stop.signal is None
                   and not all(m.finished for m in members)):
                epsilon = epsilon_at(config, clock.step, self.total_steps)
                if self.fleet is None:  # act -> step -> store, here
                    obs = self._act_step_store(envs, obs, epsilon)
                else:  # Ape-X: the actors acted and stepped; store their blocks, unless the learner is
                    # behind its replay ratio (the actors then wait); wait for one when nothing is owed
                    owed = self._owed(gradient_steps, min_replay)
                    if owed <= gradient_steps:
                        epsilon = self._store_blocks(self.fleet, wait=owed == 0)

                # learn
                due = min(self._owed(gradient_steps, min_replay), gradient_steps)
                if due:
                    info = agent.learn_round(self.replays, clock.step, self.total_steps, due)
                    clock.gradient_steps += due
                    if clock.gradient_steps % 100 < due:
                        self._log_losses(info)
                    if self.fleet is not None and clock.gradient_steps % config.publish_interval < due:
                        self.fleet.publish(agent)

                # log
                now = time.perf_counter()
                if now - sps_clock >= 0.5:
                    sps = (clock.step - sps_step) * len(self.all_seeds or self.seeds) / (now - sps_clock)
                    sps_clock, sps_step = now, clock.step
                    for m in members:
                        if not m.finished:
                            m.logger.scalars(clock.step, {"charts/SPS": sps / k_members, "charts/epsilon": epsilon})
                    display.status(clock.step, sum(m.record.episodes for m in members),
                                   self._mean_recent(), epsilon, sps)

                # evaluate
                if clock.step >= clock.next_eval:
                    clock.next_eval += config.eval_interval or self.total_steps
                    self._evaluate(display)
                    if self.stop_when_solved:
                        for m in members:
                            if not m.finished and m.record.solved_at_step is not None:
                                display.message(self._named(m, f"solved at step {m.record.solved_at_step}; "
                                                               "stopping (--stop-when-solved)"))
                                self._finish(m, envs, interrupted=False)

                # checkpoint
                if clock.step >= clock.next_checkpoint:
                    clock.next_checkpoint += config.checkpoint_interval or self.total_steps
                    for m in members:
                        if not m.finished:
                            self._save_checkpoint(m, envs)
                if callback is not None:
                    callback(self)
        finally:
            self.stop.release()
            envs.close()

        interrupted = self.stop.signal is not None
        running = [m for m in members if not m.finished]
        if running and not interrupted and running[0].record.last_eval_step != clock.step:
            self._evaluate(display)
        for m in running:
            self._finish(m, envs, interrupted)
        display.status(clock.step, sum(m.record.episodes for m in members), self._mean_recent(), epsilon, sps)
        if own_display:
            display.close()
        if not interrupted and self.display is None:
            from deepq.plotting import plot_runs

            plot_runs([m.run_dir for m in members])
        return [m.summary for m in members]

    # --- pieces of the loop ---
    def _environments(self, display: Any) -> Any:
        """Every member's environments as one vector, or Ape-X's actors (``config.actors``)."""
        if self.config.actors:
            from deepq.apex import ActorFleet

            self.fleet = ActorFleet(self.env_id, self.config, self.env_kwargs, self.seed, self.address,
                                    display.message)
            return self.fleet
        return ResumableVectorEnv(self.env_id, len(self.members) * self.config.num_envs, seed=self.seeds,
                                  backend=self.config.env_backend, **self.env_kwargs)

    def _act_step_store(self, envs: ResumableVectorEnv, obs: np.ndarray, epsilon: float) -> np.ndarray:
        """One vector step of every member's environments, stored; returns the next observations."""
        config, members = self.config, self.members
        n, k_members = config.num_envs, len(members)
        actions, next_obs, rewards, learn_rewards, terminated, truncated = act_and_step(
            self.agent, envs, obs, epsilon, [m.rng for m in members], config.clip_rewards)
        done = terminated | truncated
        # store: member k's environments are rows k*n .. k*n + n - 1
        for k, m in enumerate(members):
            rows = slice(k * n, (k + 1) * n)
            part = (obs[rows], actions[k], learn_rewards[rows], next_obs[rows], terminated[rows], truncated[rows])
            if self.frames or self.pqn:  # the frame memory builds its own n-step returns; PQN's rollout has none
                m.replay.add(*part)
            else:
                m.replay.add(*m.nstep.push(*part))
        obs = envs.reset_done(done)
        self.clock.step += n
        for m, returns in zip(members, rewards.reshape(k_members, n), strict=True):
            m.episode_return += returns
            m.episode_length += 1
        for i in np.flatnonzero(done):
            m, env = members[i // n], i % n
            self._end_episode(m, float(m.episode_return[env]), int(m.episode_length[env]), epsilon)
            m.episode_return[env], m.episode_length[env] = 0.0, 0
        return obs

    def _store_blocks(self, fleet: Any, wait: bool) -> float:
        """Ape-X: the actors' blocks that arrived, stored at the priorities the actors gave them;
        returns the actors' mean epsilon (for the logs)."""
        m = self.members[0]
        for block in fleet.receive(wait):
            m.replay.add_with_errors(block["priorities"], *block["transitions"])
            self.clock.step += block["steps"]
            for ret, length in block["episodes"]:
                self._end_episode(m, ret, length, block["epsilon"])
        return float(np.mean(fleet.epsilons))

    def _owed(self, gradient_steps: int, min_replay: int) -> int:
        """Gradient steps owed now: ``gradient_steps`` every ``train_freq`` vector steps (PQN: each
        full rollout). Ape-X's steps come in blocks: it owes what keeps the same ratio of gradient
        steps to environment steps, and the loop takes them ``gradient_steps`` at a time."""
        config, clock = self.config, self.clock
        if clock.step < config.learning_starts or len(self.replays) < min_replay:
            return 0
        if not config.actors:
            train_freq = 1 if self.pqn else config.train_freq
            return gradient_steps if (clock.step // config.num_envs) % train_freq == 0 else 0
        ratio = gradient_steps / (config.num_envs * config.train_freq)
        return max(0, int((clock.step - config.learning_starts) * ratio) + gradient_steps - clock.gradient_steps)

    def _end_episode(self, m: Member, ret: float, length: int, epsilon: float) -> None:
        """Log member ``m``'s finished episode."""
        if not m.finished:
            m.record.episodes += 1
            m.recent.append(ret)
            m.logger.episode(self.clock.step, m.record.episodes, ret, length, epsilon, self._wall())
            self._check_train_solved(m)

    def _mean_recent(self) -> float | None:
        means = [float(np.mean(m.recent)) for m in self.members if m.recent]
        return float(np.mean(means)) if means else None

    def _named(self, m: Member, text: str) -> str:
        return text if self.all_seeds is None else f"seed {m.seed}: {text}"

    def _start_episodes(self, envs: Any, display: Any) -> np.ndarray | None:
        """Fresh episodes, or, on resume, the environments rebuilt exactly where they were
        (Ape-X's actors always start fresh episodes)."""
        if self.fleet is not None:
            self.fleet.start(self.agent, learned=self.clock.gradient_steps > 0)
            if self.resumed_from is not None:
                notes = "" if self.replay_restored else "; the replay memory was not saved, refilling it"
                display.message(f"resumed at step {self.clock.step}; the actors start new episodes{notes}")
            return None
        if self.resumed_from is None:
            return envs.reset()
        notes = [] if self.replay_restored else ["the replay memory was not saved, refilling it"]
        obs = None
        if self.envs_states is not None:
            obs, exact = envs.load_state_dict(ResumableVectorEnv.join_states(self.envs_states))
            if not exact:
                notes.append("the environments did not replay exactly, so their episodes restart")
                obs = None
        if obs is None:
            obs = envs.reset()
            for m in self.members:
                m.episode_return[:], m.episode_length[:] = 0.0, 0
                m.nstep.clear()
        display.message(f"resumed at step {self.clock.step}" + "".join(f"; {n}" for n in notes))
        return obs

    def _log_losses(self, info: dict[str, torch.Tensor]) -> None:
        """Each member's TD loss and mean Q(s, a) from the last learn step; stop on NaN or inf."""
        losses, q_values = info["loss"].tolist(), info["q_taken"].mean(dim=-1).tolist()
        for m, loss, q in zip(self.members, losses, q_values, strict=True):
            if m.finished:
                continue
            self._check_finite(m, loss)
            m.logger.scalars(self.clock.step, {"losses/td_loss": loss, "losses/q_values": q})

    def _check_finite(self, m: Member, loss: float | None = None) -> None:
        """Stop on NaN or inf (in the loss, when given, or the member's weights) before anything
        is saved, so the last good checkpoint stays."""
        k = self.members.index(m)
        if loss is not None and not np.isfinite(loss):
            found = f"the loss is {loss}"
        elif not all(bool(torch.isfinite(p[k]).all()) for p in self.agent.q_net.member_tensors()):
            found = "the weights hold NaN or inf"
        else:
            return
        raise RunError(self._named(m, f"training diverged at step {self.clock.step} ({found}); the last good "
                                      "checkpoint is kept. Lower learning_rate or set max_grad_norm, then resume"))

    def _wall(self) -> float:
        return self.clock.wall_seconds + time.perf_counter() - self.session_start

    def _check_train_solved(self, m: Member) -> None:
        threshold = self.config.solved_threshold
        if threshold is None or m.record.train_solved_at_step is not None or len(m.recent) < 100:
            return
        # The CartPole lab's criterion: the training average over 100 consecutive episodes.
        train_threshold = 450.0 if self.env_id.startswith("CartPole") else threshold
        if float(np.mean(m.recent)) >= train_threshold:
            m.record.train_solved_at_step = self.clock.step

    def _evaluate(self, display: Any) -> None:
        """Every member's greedy evaluation as one batch; each recorded in its own run."""
        with self.agent.evaluating():
            returns = evaluate_members(self.agent.greedy, self.env_id, self.config.eval_episodes,
                                       [m.seed + EVAL_SEED_OFFSET for m in self.members],
                                       env_kwargs=self.env_kwargs, processes=1 if self.display is not None else None)
        for m, member_returns in zip(self.members, returns, strict=True):
            if not m.finished:
                self.record_evaluation(m, member_returns, display)

    def record_evaluation(self, m: Member, returns: np.ndarray, display: Any) -> None:
        """Log an evaluation's returns and note the first one at the solved threshold."""
        record, step = m.record, self.clock.step
        mean, std = float(returns.mean()), float(returns.std())
        wall = self._wall()
        record.last_eval_step, record.last_eval_mean, record.last_eval_std = step, mean, std
        record.best_eval_mean = mean if record.best_eval_mean is None else max(record.best_eval_mean, mean)
        m.logger.evaluation(step, wall, mean, std, len(returns))
        threshold = self.config.solved_threshold
        if threshold is not None and mean >= threshold and record.solved_at_step is None:
            record.solved_at_step, record.solved_at_seconds = step, wall
            display.message(self._named(m, f"solved at step {step} after {wall:.1f} s "
                                           f"(greedy mean {mean:.1f} >= {threshold:g})"))

    def _finish(self, m: Member, envs: ResumableVectorEnv, interrupted: bool) -> None:
        """Member ``m``'s last checkpoint, model file and summary; it takes no further part."""
        m.finished = True
        self._save_checkpoint(m, envs)
        self.save_model(member=self.members.index(m))
        m.summary = self._summary(m, interrupted)
        (m.run_dir / "summary.json").write_text(json.dumps(m.summary, indent=2) + "\n")
        m.logger.close()

    def _meta(self, m: Member) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
            "obs_shape": list(self.obs_shape), "n_actions": self.n_actions,
            "config": self.config.to_dict(), "seed": m.seed, "preset": self.preset,
        }

    def _save_checkpoint(self, m: Member, envs: ResumableVectorEnv) -> None:
        """Member ``m``'s checkpoint: exactly what a run of its seed alone saves."""
        m.logger.flush()
        self._check_finite(m)
        k = self.members.index(m)
        m.record.recent_returns = list(m.recent)
        progress = {**asdict(self.clock), **asdict(m.record), "wall_seconds": self._wall()}
        n = self.config.num_envs
        data = {
            **self._meta(m), "format": CHECKPOINT_FORMAT, "total_steps": self.total_steps,
            "agent": self.agent.member_state_dict(k), "progress": progress,
            "rng": {"numpy": m.rng.bit_generator.state, "replay": m.replay.rng.bit_generator.state},
            "envs": envs.group_state_dict(k), "nstep": m.nstep.state_dict(),
            "episode_return": torch.from_numpy(m.episode_return.copy()),
            "episode_length": torch.from_numpy(m.episode_length.copy()),
            "replay": m.replay.state_dict() if self.save_replay else None,
            "members": None if self.all_seeds is None else self.all_seeds, "num_envs": n,
        }
        path = m.run_dir / "checkpoint.pt"
        keep = self.config.keep_checkpoints
        if keep <= 1:
            atomic_save(data, path)
            return
        # Keep the newest K: each is written once into checkpoints/, then linked as checkpoint.pt.
        folder = m.run_dir / "checkpoints"
        folder.mkdir(exist_ok=True)
        numbered = folder / f"checkpoint_{self.clock.step:012d}.pt"
        atomic_save(data, numbered)
        atomic_link(numbered, path)
        for old in sorted(folder.glob("checkpoint_*.pt"))[:-keep]:
            old.unlink()

    def save_model(self, path: Path | None = None, member: int = 0) -> Path:
        """Write a member's model file (weights plus what rebuilds them); default its RUN_DIR/model.pt."""
        m = self.members[member]
        path = Path(path) if path is not None else m.run_dir / "model.pt"
        data = {**self._meta(m), "format": MODEL_FORMAT, "q_net": self.agent.q_net.member_state_dict(member)}
        atomic_save(data, path)
        return path

    def _summary(self, m: Member, interrupted: bool) -> dict[str, Any]:
        record, step = m.record, self.clock.step
        wall = self._wall()
        threshold = self.config.solved_threshold
        final_mean = record.last_eval_mean
        summary = {
            "env_id": self.env_id, "seed": m.seed, "preset": self.preset,
            "steps": step, "total_steps": self.total_steps, "episodes": record.episodes,
            "gradient_steps": self.clock.gradient_steps, "wall_seconds": round(wall, 3),
            "sps": round(step / wall, 1) if wall > 0 else None,
            "solved_threshold": threshold,
            "solved": record.solved_at_step is not None,
            "solved_at_step": record.solved_at_step,
            "solved_at_seconds": None if record.solved_at_seconds is None else round(record.solved_at_seconds, 3),
            "solved_at_end": bool(threshold is not None and final_mean is not None and final_mean >= threshold),
            "train_solved_at_step": record.train_solved_at_step,
            "final_eval_mean": final_mean, "final_eval_std": record.last_eval_std,
            "final_eval_step": record.last_eval_step, "best_eval_mean": record.best_eval_mean,
            "interrupted": interrupted, "device": str(self.device),
        }
        if self.all_seeds is not None:
            summary["ensemble_seeds"] = list(self.all_seeds)
        return summary

    def _prepare_run_dirs(self) -> None:
        for m in self.members:
            try:
                m.run_dir.mkdir(parents=True, exist_ok=True)
                probe = m.run_dir / ".deepq-write-test"
                probe.write_text("ok")
                probe.unlink()
                if self.overwrite and self.resumed_from is None:
                    clear_run(m.run_dir)
                # Temporary files left by a process killed in the middle of a save.
                for stale in [*m.run_dir.glob(".*.tmp"), *m.run_dir.glob("checkpoints/.*.tmp")]:
                    stale.unlink()
            except OSError as error:
                raise RunError(
                    f"cannot write to run directory {m.run_dir} ({error.strerror}); "
                    "choose another with --run-dir"
                ) from None
            (m.run_dir / "config.json").write_text(json.dumps(
                {"env_id": self.env_id, "seed": m.seed, "preset": self.preset,
                 "total_steps": self.total_steps, "env_kwargs": self.env_kwargs,
                 "config": self.config.to_dict()}, indent=2) + "\n")

    # --- resume ---
    @classmethod
    def resume(cls, run_dir: str | Path, device: str = "auto", progress: bool | None = None,
               total_steps: int | None = None, seeds: Sequence[int] | None = None,
               **kwargs: Any) -> Trainer:
        """A trainer that continues the run saved in ``run_dir``: one seed's run directory, or a
        ``--seeds`` run's (its members RUN_DIR/seed-K resume together; ``seeds`` picks some)."""
        run_dir = Path(run_dir)
        paths = [run_dir / "checkpoint.pt"]
        group = False
        if not paths[0].exists():
            dirs = [d for d in member_dirs(run_dir) if (d / "checkpoint.pt").exists()]
            if seeds is not None:
                dirs = [d for d in dirs if int(d.name[5:]) in set(seeds)]
            if not dirs:
                raise CheckpointError(f"no checkpoint.pt in {run_dir}; is this a deepq run directory?")
            paths, group = [d / "checkpoint.pt" for d in dirs], True
        saved = [load_file(path, CHECKPOINT_FORMAT) for path in paths]
        first = saved[0]
        steps = {int(data["progress"]["step"]) for data in saved}
        if len(steps) > 1:
            raise RunError(f"the members in {run_dir} stopped at different steps ({sorted(steps)}); "
                           "resume them apart with `deepq resume` on each seed-K directory")
        config = DQNConfig.from_dict(first["config"])
        trainer = cls(
            first["env_id"], config, seed=int(first["seed"]), run_dir=run_dir,
            seeds=[int(data["seed"]) for data in saved] if group else None,
            total_steps=total_steps or int(first["total_steps"]), device=device, progress=progress,
            env_kwargs=first.get("env_kwargs") or {}, preset=first.get("preset"),
            save_replay=first.get("replay") is not None, _resuming=True, **kwargs,
        )
        for data in saved:
            check_compatible(data, trainer.env_id, trainer.obs_shape, trainer.n_actions)
        agents = [dict(data["agent"]) for data in saved]
        for agent, data in zip(agents, saved, strict=True):  # older checkpoints kept it with the counters
            agent.setdefault("last_target_update", data["progress"].get("last_target_update", 0))
        trainer.agent.load_member_state_dicts(agents)
        trainer.clock = Counters(**{key: first["progress"][key] for key in COUNTER_KEYS})
        for m, data in zip(trainer.members, saved, strict=True):
            m.record = Record(**{key: data["progress"][key] for key in RECORD_KEYS})
            m.rng.bit_generator.state = data["rng"]["numpy"]
            m.replay.rng.bit_generator.state = data["rng"]["replay"]
            m.nstep.load_state_dict(data["nstep"])
            m.episode_return[:] = data["episode_return"].numpy()
            m.episode_length[:] = data["episode_length"].numpy()
            if data.get("replay") is not None:
                m.replay.load_state_dict(data["replay"])
        trainer.replay_restored = all(data.get("replay") is not None for data in saved)
        trainer.envs_states = [data["envs"] for data in saved]
        trainer.resumed_from = trainer.clock.step
        if trainer.clock.step >= trainer.total_steps and all(
                finished_summary(m.run_dir, trainer.total_steps) for m in trainer.members):
            raise RunError(
                f"the run in {run_dir} is already at step {trainer.clock.step} of {trainer.total_steps}; "
                f"to train further pass --steps N with N above {trainer.clock.step}"
            )
        return trainer


def act_and_step(agent: DQNAgent, envs: Any, obs: np.ndarray, epsilon: float | np.ndarray,
                 rngs: Sequence[np.random.Generator], clip_rewards: bool) -> tuple[np.ndarray, ...]:
    """Act for K = len(rngs) members' environments (rows k*n .. k*n + n - 1 are member k's) and
    step them: (actions (K, n), next_obs, rewards, the rewards learned from, terminated, truncated).
    A finished episode's next_obs is its true last observation."""
    actions = agent.act(obs.reshape(len(rngs), -1, *obs.shape[1:]), epsilon, rngs)
    next_obs, rewards, terminated, truncated = envs.step(actions.reshape(-1))
    learn_rewards = clip_reward(rewards) if clip_rewards else rewards
    return actions, next_obs, rewards, learn_rewards, terminated, truncated


def check_distinct(seeds: Sequence[int]) -> None:
    """Refuse a seed listed twice (two members would be one run twice, in one directory)."""
    if len(set(seeds)) != len(seeds):
        raise RunError(f"--seeds lists a seed twice ({list(seeds)}); give distinct seeds")
