"""The training loop: act -> step -> store -> learn -> log -> evaluate -> checkpoint.

``Trainer.run`` reads top to bottom. Data flows one way: the environments produce
transitions, the replay memory holds them, the agent learns from samples, the logger records.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections import deque
from collections.abc import Callable
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
from deepq.cpu import ThreadGovernor, flushing_subnormals
from deepq.envs import ResumableVectorEnv, env_spaces
from deepq.envs.atari import clip_reward
from deepq.evaluation import evaluate
from deepq.logging import RunLogger
from deepq.replay import FrameReplay, NStepCollector, PrioritizedReplay, ReplayBuffer
from deepq.schedules import epsilon_at, learning_rate_at, priority_beta_at

EVAL_SEED_OFFSET = 1_000_003  # evaluation environments never share seeds with training ones


class RunError(RuntimeError):
    """A run cannot go on (bad run directory, divergence); the message says why."""


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
class Progress:
    """Counters that a checkpoint carries so a resumed run continues where it stopped."""

    step: int = 0  # env steps taken, over all environments
    episodes: int = 0
    gradient_steps: int = 0
    last_target_update: int = 0
    next_eval: int = 0
    next_checkpoint: int = 0
    wall_seconds: float = 0.0  # time spent in earlier sessions of this run
    solved_at_step: int | None = None
    solved_at_seconds: float | None = None
    train_solved_at_step: int | None = None
    best_eval_mean: float | None = None
    last_eval_step: int = -1
    last_eval_mean: float | None = None
    last_eval_std: float | None = None
    recent_returns: list[float] = field(default_factory=list)


class Trainer:
    """Trains one agent on one environment id into one run directory."""

    def __init__(
        self, env_id: str, config: DQNConfig, seed: int = 0, run_dir: str | Path = "runs/run",
        total_steps: int | None = None, device: str = "auto", stop_when_solved: bool = False,
        progress: bool | None = None, env_kwargs: dict[str, Any] | None = None,
        preset: str | None = None, save_replay: bool = False,
    ) -> None:
        self.env_id = env_id
        self.config = config
        self.seed = seed
        self.run_dir = Path(run_dir)
        self.total_steps = int(total_steps or config.total_steps)
        self.device = resolve_device(device)
        self.stop_when_solved = stop_when_solved
        self.show_progress = progress
        self.env_kwargs = dict(env_kwargs or {})
        self.preset = preset
        self.save_replay = save_replay
        self.obs_shape, obs_dtype, self.n_actions = env_spaces(env_id, **self.env_kwargs)
        if config.learning_starts >= self.total_steps:
            raise RunError(
                f"learning_starts ({config.learning_starts}) must be below the run's steps "
                f"({self.total_steps}); lower it with --set learning_starts=N or raise --steps"
            )

        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.agent = DQNAgent(self.obs_shape, self.n_actions, config, self.device)
        # Stacked frames (C, H, W) go to the frame memory, which stores each frame once.
        self.frames = len(self.obs_shape) == 3
        memory_bytes = (FrameReplay.bytes_needed(config.buffer_size, self.obs_shape[1:]) if self.frames
                        else ReplayBuffer.bytes_needed(config.buffer_size, self.obs_shape, obs_dtype))
        check_memory(memory_bytes)
        self.replay: Any = (
            FrameReplay(config.buffer_size, self.obs_shape[1:], self.obs_shape[0], config.num_envs,
                        config.gamma, self.device, seed=seed + 1, n_step=config.n_step) if self.frames
            else ReplayBuffer(config.buffer_size, self.obs_shape, obs_dtype, config.gamma, self.device,
                              seed=seed + 1)
        )
        if config.prioritized:
            self.replay = PrioritizedReplay(self.replay, config.priority_alpha, config.priority_beta,
                                            seed=seed + 2)
        self.nstep = NStepCollector(config.n_step, config.gamma, config.num_envs)
        self.state = Progress(next_eval=config.eval_interval or self.total_steps,
                              next_checkpoint=config.checkpoint_interval or self.total_steps)
        self.episode_return = np.zeros(config.num_envs)
        self.episode_length = np.zeros(config.num_envs, dtype=np.int64)
        self.resumed_from: int | None = None
        self.replay_restored = False
        self.envs_state: dict[str, Any] | None = None  # set by resume
        self.stop = StopRequest()

    # --- the loop ---
    def run(self, callback: Callable[[Trainer], None] | None = None) -> dict[str, Any]:
        """Train until ``total_steps`` env steps (or solved, with ``stop_when_solved``), with
        subnormal floats flushed to zero (``deepq.cpu.flushing_subnormals``).

        ``callback(trainer)``, if given, is called after every vector step.
        """
        with flushing_subnormals():
            return self._train(callback)

    def _train(self, callback: Callable[[Trainer], None] | None) -> dict[str, Any]:
        self._prepare_run_dir()
        config, state, agent = self.config, self.state, self.agent
        n = config.num_envs
        logger = RunLogger(self.run_dir, self.total_steps, {"env_id": self.env_id, "seed": self.seed,
                           **config.to_dict()}, self.show_progress, start_step=state.step)
        envs = ResumableVectorEnv(self.env_id, n, seed=self.seed, **self.env_kwargs)
        obs = self._start_episodes(envs, logger)
        recent = deque(state.recent_returns, maxlen=100)
        gradient_steps = config.gradient_steps if config.gradient_steps > 0 else n * config.train_freq
        # Learning needs a batch; after a resume without the saved memory, it first refills.
        min_replay = config.batch_size
        if self.resumed_from is not None and not self.replay_restored:
            min_replay = max(config.batch_size, min(config.learning_starts, config.buffer_size))
        session_start = time.perf_counter()
        sps_clock, sps_step = session_start, state.step
        sps = 0.0
        governor = ThreadGovernor()
        self.stop.catch()
        try:
            while state.step < self.total_steps and self.stop.signal is None:
                # act
                epsilon = epsilon_at(config, state.step, self.total_steps)
                actions = agent.act(obs, epsilon, self.rng)
                # step (a finished episode's next_obs is its true last observation)
                next_obs, rewards, terminated, truncated = envs.step(actions)
                done = terminated | truncated
                # store
                learn_rewards = clip_reward(rewards) if config.clip_rewards else rewards
                if self.frames:  # the frame memory rebuilds stacks (and n-step returns) itself
                    self.replay.add(obs, actions, learn_rewards, next_obs, terminated, truncated)
                else:
                    self.replay.add(*self.nstep.push(obs, actions, learn_rewards, next_obs, terminated,
                                                     truncated))
                obs = envs.reset_done(done)
                state.step += n
                self.episode_return += rewards
                self.episode_length += 1
                for i in np.flatnonzero(done):
                    state.episodes += 1
                    recent.append(float(self.episode_return[i]))
                    logger.episode(state.step, state.episodes, float(self.episode_return[i]),
                                   int(self.episode_length[i]), epsilon, self._wall(session_start))
                    self.episode_return[i], self.episode_length[i] = 0.0, 0
                    self._check_train_solved(recent)

                # learn
                if (state.step >= config.learning_starts and len(self.replay) >= min_replay
                        and (state.step // n) % config.train_freq == 0):
                    agent.set_learning_rate(learning_rate_at(config, state.step, self.total_steps))
                    if config.prioritized:  # importance-sampling exponent annealed to 1
                        self.replay.beta = priority_beta_at(config, state.step, self.total_steps)
                    for _ in range(gradient_steps):
                        info = agent.learn_from(self.replay, config.batch_size)
                        state.gradient_steps += 1
                    if config.target_update_interval and (
                        state.step - state.last_target_update >= config.target_update_interval
                    ):
                        agent.update_target()
                        state.last_target_update = state.step
                    if state.gradient_steps % 100 < gradient_steps:
                        loss = float(info["loss"])
                        self._check_finite(loss)
                        logger.scalars(state.step, {"losses/td_loss": loss,
                                                    "losses/q_values": float(info["q_taken"].mean())})

                # log
                now = time.perf_counter()
                if now - sps_clock >= 0.5:
                    sps = (state.step - sps_step) / (now - sps_clock)
                    sps_clock, sps_step = now, state.step
                    governor.check()  # one torch thread while another process needs the core
                    logger.scalars(state.step, {"charts/SPS": sps, "charts/epsilon": epsilon})
                    avg = float(np.mean(recent)) if recent else None
                    logger.status(state.step, state.episodes, avg, epsilon, sps)

                # evaluate
                if state.step >= state.next_eval:
                    state.next_eval += config.eval_interval or self.total_steps
                    self._evaluate(logger, session_start)
                    if self.stop_when_solved and state.solved_at_step is not None:
                        logger.message(f"solved at step {state.solved_at_step}; stopping (--stop-when-solved)")
                        break

                # checkpoint
                if state.step >= state.next_checkpoint:
                    state.next_checkpoint += config.checkpoint_interval or self.total_steps
                    state.recent_returns = list(recent)
                    self._save_checkpoint(logger, session_start, envs)
                if callback is not None:
                    callback(self)
        finally:
            governor.close()
            self.stop.release()
            envs.close()

        state.recent_returns = list(recent)
        interrupted = self.stop.signal is not None
        if not interrupted and state.last_eval_step != state.step:
            self._evaluate(logger, session_start)
        self._save_checkpoint(logger, session_start, envs)
        self.save_model()
        summary = self._summary(session_start, interrupted)
        (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        logger.status(state.step, state.episodes, float(np.mean(recent)) if recent else None,
                      epsilon_at(config, state.step, self.total_steps), sps)
        logger.close()
        if not interrupted:
            from deepq.plotting import plot_run  # matplotlib only when a run ends

            plot_run(self.run_dir, self.run_dir / "learning_curve.png")
        return summary

    # --- pieces of the loop ---
    def _start_episodes(self, envs: ResumableVectorEnv, logger: RunLogger) -> np.ndarray:
        """Fresh episodes, or, on resume, the environments rebuilt exactly where they were."""
        if self.resumed_from is None:
            return envs.reset()
        notes = [] if self.replay_restored else ["the replay memory was not saved, refilling it"]
        obs = None
        if self.envs_state is not None:
            obs, exact = envs.load_state_dict(self.envs_state)
            if not exact:
                notes.append("the environments did not replay exactly, so their episodes restart")
                obs = None
        if obs is None:
            obs = envs.reset()
            self.episode_return[:], self.episode_length[:] = 0.0, 0
            self.nstep.clear()
        logger.message(f"resumed at step {self.state.step}" + "".join(f"; {n}" for n in notes))
        return obs

    def _check_finite(self, loss: float | None = None) -> None:
        """Stop on NaN or inf (in the loss, when given, or the weights) before anything is saved,
        so the last good checkpoint stays."""
        if loss is not None and not np.isfinite(loss):
            found = f"the loss is {loss}"
        elif not all(bool(torch.isfinite(p).all()) for p in self.agent.q_net.parameters()):
            found = "the weights hold NaN or inf"
        else:
            return
        raise RunError(
            f"training diverged at step {self.state.step} ({found}); the last good checkpoint is "
            "kept. Lower learning_rate or set max_grad_norm, then resume"
        )

    def _wall(self, session_start: float) -> float:
        return self.state.wall_seconds + time.perf_counter() - session_start

    def _check_train_solved(self, recent: deque[float]) -> None:
        threshold = self.config.solved_threshold
        if threshold is None or self.state.train_solved_at_step is not None or len(recent) < 100:
            return
        # The CartPole lab's criterion: the training average over 100 consecutive episodes.
        train_threshold = 450.0 if self.env_id.startswith("CartPole") else threshold
        if float(np.mean(recent)) >= train_threshold:
            self.state.train_solved_at_step = self.state.step

    def _evaluate(self, logger: RunLogger, session_start: float) -> None:
        self.agent.q_net.eval()
        returns = evaluate(self.agent.greedy, self.env_id, self.config.eval_episodes,
                           seed=self.seed + EVAL_SEED_OFFSET, env_kwargs=self.env_kwargs)
        self.agent.q_net.train()
        self.record_evaluation(returns, logger, session_start)

    def record_evaluation(self, returns: np.ndarray, logger: RunLogger, session_start: float) -> None:
        """Log an evaluation's returns and note the first one at the solved threshold."""
        state = self.state
        mean, std = float(returns.mean()), float(returns.std())
        wall = self._wall(session_start)
        state.last_eval_step, state.last_eval_mean, state.last_eval_std = state.step, mean, std
        state.best_eval_mean = mean if state.best_eval_mean is None else max(state.best_eval_mean, mean)
        logger.evaluation(state.step, wall, mean, std, len(returns))
        threshold = self.config.solved_threshold
        if threshold is not None and mean >= threshold and state.solved_at_step is None:
            state.solved_at_step, state.solved_at_seconds = state.step, wall
            logger.message(f"solved at step {state.step} after {wall:.1f} s "
                           f"(greedy mean {mean:.1f} >= {threshold:g})")

    def _meta(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION, "env_id": self.env_id, "env_kwargs": self.env_kwargs,
            "obs_shape": list(self.obs_shape), "n_actions": self.n_actions,
            "config": self.config.to_dict(), "seed": self.seed, "preset": self.preset,
        }

    def _save_checkpoint(self, logger: RunLogger, session_start: float, envs: ResumableVectorEnv) -> None:
        logger.flush()
        self._check_finite()
        state = dict(asdict(self.state), wall_seconds=self._wall(session_start))
        data = {
            **self._meta(), "format": CHECKPOINT_FORMAT, "total_steps": self.total_steps,
            "agent": self.agent.state_dict(), "progress": state,
            "rng": {
                "python": list(random.getstate()[1]), "numpy": self.rng.bit_generator.state,
                "torch": torch.get_rng_state(), "replay": self.replay.rng.bit_generator.state,
            },
            "envs": envs.state_dict(), "nstep": self.nstep.state_dict(),
            "episode_return": torch.from_numpy(self.episode_return.copy()),
            "episode_length": torch.from_numpy(self.episode_length.copy()),
            "replay": self.replay.state_dict() if self.save_replay else None,
        }
        path = self.run_dir / "checkpoint.pt"
        keep = self.config.keep_checkpoints
        if keep <= 1:
            atomic_save(data, path)
            return
        # Keep the newest K: each is written once into checkpoints/, then linked as checkpoint.pt.
        folder = self.run_dir / "checkpoints"
        folder.mkdir(exist_ok=True)
        numbered = folder / f"checkpoint_{self.state.step:012d}.pt"
        atomic_save(data, numbered)
        atomic_link(numbered, path)
        for old in sorted(folder.glob("checkpoint_*.pt"))[:-keep]:
            old.unlink()

    def save_model(self, path: Path | None = None) -> Path:
        """Write the model file (weights plus what rebuilds them); default RUN_DIR/model.pt."""
        path = Path(path) if path is not None else self.run_dir / "model.pt"
        data = {**self._meta(), "format": MODEL_FORMAT, "q_net": self.agent.q_net.state_dict()}
        atomic_save(data, path)
        return path

    def _summary(self, session_start: float, interrupted: bool) -> dict[str, Any]:
        state = self.state
        wall = self._wall(session_start)
        threshold = self.config.solved_threshold
        final_mean = state.last_eval_mean
        return {
            "env_id": self.env_id, "seed": self.seed, "preset": self.preset,
            "steps": state.step, "total_steps": self.total_steps, "episodes": state.episodes,
            "gradient_steps": state.gradient_steps, "wall_seconds": round(wall, 3),
            "sps": round(state.step / wall, 1) if wall > 0 else None,
            "solved_threshold": threshold,
            "solved": state.solved_at_step is not None,
            "solved_at_step": state.solved_at_step,
            "solved_at_seconds": None if state.solved_at_seconds is None else round(state.solved_at_seconds, 3),
            "solved_at_end": bool(threshold is not None and final_mean is not None and final_mean >= threshold),
            "train_solved_at_step": state.train_solved_at_step,
            "final_eval_mean": final_mean, "final_eval_std": state.last_eval_std,
            "final_eval_step": state.last_eval_step, "best_eval_mean": state.best_eval_mean,
            "interrupted": interrupted, "device": str(self.device),
        }

    def _prepare_run_dir(self) -> None:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            probe = self.run_dir / ".deepq-write-test"
            probe.write_text("ok")
            probe.unlink()
            # Temporary files left by a process killed in the middle of a save.
            for stale in [*self.run_dir.glob(".*.tmp"), *self.run_dir.glob("checkpoints/.*.tmp")]:
                stale.unlink()
        except OSError as error:
            raise RunError(
                f"cannot write to run directory {self.run_dir} ({error.strerror}); "
                "choose another with --run-dir"
            ) from None
        (self.run_dir / "config.json").write_text(json.dumps(
            {"env_id": self.env_id, "seed": self.seed, "preset": self.preset,
             "total_steps": self.total_steps, "env_kwargs": self.env_kwargs,
             "config": self.config.to_dict()}, indent=2) + "\n")

    @property
    def stop_signal(self) -> int | None:
        """The signal that interrupted the run, if any."""
        return self.stop.signal

    # --- resume ---
    @classmethod
    def resume(cls, run_dir: str | Path, device: str = "auto", progress: bool | None = None,
               total_steps: int | None = None) -> Trainer:
        """A trainer that continues the run saved in ``run_dir``."""
        path = Path(run_dir) / "checkpoint.pt"
        if not path.exists():
            raise CheckpointError(f"no checkpoint.pt in {run_dir}; is this a deepq run directory?")
        data = load_file(path, CHECKPOINT_FORMAT)
        config = DQNConfig.from_dict(data["config"])
        trainer = cls(
            data["env_id"], config, seed=int(data["seed"]), run_dir=run_dir,
            total_steps=total_steps or int(data["total_steps"]), device=device, progress=progress,
            env_kwargs=data.get("env_kwargs") or {}, preset=data.get("preset"),
            save_replay=data.get("replay") is not None,
        )
        check_compatible(data, trainer.env_id, trainer.obs_shape, trainer.n_actions)
        trainer.agent.load_state_dict(data["agent"])
        trainer.state = Progress(**data["progress"])
        rng = data["rng"]
        random.setstate((3, tuple(int(x) for x in rng["python"]), None))
        trainer.rng.bit_generator.state = rng["numpy"]
        trainer.replay.rng.bit_generator.state = rng["replay"]
        torch.set_rng_state(rng["torch"])
        trainer.envs_state = data["envs"]
        trainer.nstep.load_state_dict(data["nstep"])
        trainer.episode_return[:] = data["episode_return"].numpy()
        trainer.episode_length[:] = data["episode_length"].numpy()
        if data.get("replay") is not None:
            trainer.replay.load_state_dict(data["replay"])
            trainer.replay_restored = True
        trainer.resumed_from = trainer.state.step
        if trainer.state.step >= trainer.total_steps:
            raise RunError(
                f"the run in {run_dir} is already at step {trainer.state.step} of {trainer.total_steps}; "
                f"to train further pass --steps N with N above {trainer.state.step}"
            )
        return trainer
