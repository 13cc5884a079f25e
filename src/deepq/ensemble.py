"""Many seeds at once: K independent agents trained as one batched ensemble (or several, one per core).

``deepq train CartPole-v1 --seeds 0-7`` trains 8 agents side by side. Each member has its own
network, replay memory, exploration draws, environments and evaluations, seeded as a run of
its seed alone would be; what is shared is the work: one vector environment steps all the
members' environments, one batched forward pass picks all their greedy actions, and one
learn step updates all their networks (``EnsembleMLP``: weights stacked along a leading member
dimension, batched matrix products). The loss is the sum of the members' losses, so each
member's gradient is its own; gradient-norm clipping is per member, and Adam's update is
elementwise, so one optimizer keeps the members independent. Member k's results do not
depend on which other members run beside it (``tests/test_ensemble.py`` checks this).

Each member writes its own run directory (RUN_DIR/seed-K) as if it had been trained alone:
config, metrics, evaluations, TensorBoard events, model, summary and learning curve.

On the CPU the command splits the seeds over one process per core (``EnsembleProcesses``, at
the end of this module): each process is an ensemble of its share of the seeds, with one torch
thread, so the Python between the batched operations runs on every core too.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepq.agent import DQNAgent, td_loss
from deepq.config import DQNConfig
from deepq.cpu import ThreadGovernor, flushing_subnormals, fork
from deepq.envs import ResumableVectorEnv, env_spaces
from deepq.envs.atari import clip_reward
from deepq.evaluation import evaluate_members
from deepq.logging import ProgressDisplay, RunLogger
from deepq.networks import MLP, EnsembleMLP
from deepq.replay import Batch, NStepCollector, ReplayBuffer
from deepq.replay.uniform import to_device
from deepq.schedules import epsilon_at, learning_rate_at
from deepq.train import EVAL_SEED_OFFSET, RunError, StopRequest, Trainer, check_memory


def check_ensemble_config(config: DQNConfig, obs_shape: tuple[int, ...]) -> None:
    """Refuse, with the way out, what the ensemble does not batch."""
    refused = [  # (refused, what, the setting that --seeds takes instead)
        (len(obs_shape) != 1, "image observations (the CNN)", None),
        (config.prioritized, "prioritized=true", "prioritized=false"),
        (config.exploration != "epsilon", "exploration=boltzmann", "exploration=epsilon"),
    ]
    for bad, what, instead in refused:
        if bad:
            switch = f", or add --set {instead}" if instead else ""
            raise RunError(f"--seeds trains MLP agents with uniform replay and epsilon-greedy "
                           f"exploration; {what} is not batched yet. Train those seeds one at a time "
                           f"with --seed{switch}")


def check_distinct(seeds: Sequence[int]) -> None:
    """Refuse a seed listed twice (two members would be one run twice, in one directory)."""
    if len(set(seeds)) != len(seeds):
        raise RunError(f"--seeds lists a seed twice ({list(seeds)}); give distinct seeds")


class EnsembleReplay:
    """K equal replay memories in stacked arrays ``(K, capacity, ...)``; member k samples its
    rows with its own generator, exactly as its ``ReplayBuffer`` would alone. With n-step
    returns the members store different numbers of rows per step, so each keeps its own cursor."""

    def __init__(self, members: int, capacity: int, obs_shape: tuple[int, ...], obs_dtype: Any,
                 gamma: float, device: torch.device, seeds: Sequence[int]) -> None:
        self.capacity = int(capacity)
        self.device = device
        self.obs = np.zeros((members, self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros((members, self.capacity), dtype=np.int64)
        self.rewards = np.zeros((members, self.capacity), dtype=np.float32)
        self.terminated = np.zeros((members, self.capacity), dtype=np.float32)
        self.discounts = np.full((members, self.capacity), gamma, dtype=np.float32)
        self.rngs = [np.random.default_rng(seed) for seed in seeds]
        self._member_starts = np.arange(members) * self.capacity  # member k's first row in the flat arrays
        self.cursors = np.zeros(members, dtype=np.int64)  # each member's next row to write
        self.sizes = np.zeros(members, dtype=np.int64)  # each member's rows holding data

    def __len__(self) -> int:
        """Rows every member can sample from (the smallest member's count)."""
        return int(self.sizes.min())

    def add(self, members: np.ndarray, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray,
            next_obs: np.ndarray, terminated: np.ndarray, discounts: np.ndarray) -> None:
        """Store transitions (arrays ``(m, ...)``); row i goes to member ``members[i]``. The rows
        are grouped by member in ascending order, each member's in the order it would store them
        alone (as an ``NStepCollector`` over every member's environments returns them)."""
        counts = np.bincount(members, minlength=len(self.sizes))
        first_of_member = np.cumsum(counts) - counts
        rank = np.arange(len(members)) - first_of_member[members]  # position among the member's rows
        flat = self._member_starts[members] + (self.cursors[members] + rank) % self.capacity
        for array, values in ((self.obs, obs), (self.next_obs, next_obs), (self.actions, actions),
                              (self.rewards, rewards), (self.terminated, terminated), (self.discounts, discounts)):
            array.reshape(-1, *array.shape[2:])[flat] = values
        self.cursors = (self.cursors + counts) % self.capacity
        self.sizes = np.minimum(self.sizes + counts, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """A ``(K, batch_size)`` batch, each member's rows distinct and uniformly drawn."""
        if len(self) < batch_size:
            raise ValueError(f"cannot sample {batch_size} from a memory holding {len(self)}")
        indices = np.stack([rng.choice(size, batch_size, replace=False)
                            for rng, size in zip(self.rngs, self.sizes.tolist(), strict=True)])
        flat = (self._member_starts[:, None] + indices).ravel()  # rows of the (K * capacity, ...) arrays

        def gather(array: np.ndarray) -> torch.Tensor:  # np.take on one flat axis: 3x faster than [k, i]
            rows = array.reshape(-1, *array.shape[2:]).take(flat, axis=0)
            return to_device(rows.reshape(*indices.shape, *array.shape[2:]), self.device)

        return Batch(
            obs=gather(self.obs), actions=gather(self.actions), rewards=gather(self.rewards),
            next_obs=gather(self.next_obs), terminated=gather(self.terminated),
            discounts=gather(self.discounts), weights=None, indices=indices,
        )


class EnsembleAgent(DQNAgent):
    """A ``DQNAgent`` whose network is an ``EnsembleMLP``: observations ``(K, n, ...)`` in,
    one Q-value table per member out. ``learn`` is the solo learn step, unchanged: by hand
    (``learn_by_hand``, batched products) unless the members are dueling."""

    def __init__(self, members: Sequence[DQNAgent], config: DQNConfig, device: torch.device) -> None:
        nets = [member.q_net for member in members]
        if not all(isinstance(net, MLP) for net in nets):
            raise RunError("--seeds needs MLP members")
        first = members[0]
        super().__init__(first.obs_shape, first.n_actions, config, device,
                         q_net=EnsembleMLP(nets))  # type: ignore[arg-type]
        self.by_hand = not self.q_net.dueling

    def act(self, obs: np.ndarray, epsilon: float, rng: Any) -> np.ndarray:
        """Epsilon-greedy actions ``(K, n)``; ``rng`` is one generator per member, drawn from
        in the order a solo agent draws."""
        if epsilon <= 0.0:  # as DQNAgent.act: greedy, with no draws
            return self.greedy(obs)
        explore = np.stack([member_rng.random(obs.shape[1]) < epsilon for member_rng in rng])
        actions = np.stack([member_rng.integers(0, self.n_actions, size=obs.shape[1]) for member_rng in rng])
        if not explore.all():
            actions = np.where(explore, actions, self.greedy(obs))
        return actions

    def clip_grad_norm(self, max_norm: float) -> None:
        """Per-member clipping: member k's gradients scaled by its own global norm."""
        grads = [p.grad for pair in self.q_net.layer_parameters() for p in pair if p.grad is not None]
        per_tensor = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
        norms = torch.linalg.vector_norm(per_tensor, dim=0)  # (K,): each member's global norm
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        if bool((scale == 1.0).all()):  # no member is over the limit: scaling by 1 changes nothing
            return
        for g in grads:
            g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))


@dataclass
class Share:
    """An ``EnsembleTrainer`` 's part in a run of more seeds, split over processes
    (``EnsembleProcesses``): the run's seeds (each member's summary lists them), where the
    progress and messages go, and a call made about twice a second (the processes watch each
    other there). A share's trainer steps its environments' evaluations in this process only
    and leaves the learning curves to the run."""

    all_seeds: list[int]
    display: Any  # a ProgressDisplay, or anything with its status / message / close
    tick: Callable[[Any], None]  # called with the display


class EnsembleTrainer:
    """Trains one agent per seed, batched (see the module's docstring).

    Each member is a ``Trainer`` used for its bookkeeping: run directory, counters, logs,
    evaluations, summary and model file. The loop below does the acting, stepping, storing and
    learning for all members at once.
    """

    def __init__(
        self, env_id: str, config: DQNConfig, seeds: Sequence[int], run_dir: str | Path,
        total_steps: int | None = None, device: str = "auto", progress: bool | None = None,
        env_kwargs: dict[str, Any] | None = None, preset: str | None = None, share: Share | None = None,
    ) -> None:
        check_distinct(seeds)
        self.env_id, self.config, self.seeds = env_id, config, list(seeds)
        self.run_dir = Path(run_dir)
        self.show_progress = progress
        self.share = share
        self.env_kwargs = dict(env_kwargs or {})
        obs_shape, obs_dtype, _ = env_spaces(env_id, **self.env_kwargs)
        check_ensemble_config(config, obs_shape)
        # Each member is built as its solo run would be, so its network starts from its seed's
        # weights; the members' own replay memories are never written (zeroed pages cost nothing).
        self.members = [
            Trainer(env_id, config, seed=seed, run_dir=self.run_dir / f"seed-{seed}", total_steps=total_steps,
                    device=device, progress=False, env_kwargs=env_kwargs, preset=preset)
            for seed in self.seeds
        ]
        first = self.members[0]
        self.total_steps, self.device = first.total_steps, first.device
        self.agent = EnsembleAgent([m.agent for m in self.members], config, self.device)
        self.ensemble_net: EnsembleMLP = self.agent.q_net  # type: ignore[assignment]
        for member in self.members:
            member.replay = None
        check_memory(len(self.seeds) * ReplayBuffer.bytes_needed(config.buffer_size, first.obs_shape, obs_dtype))
        self.replay = EnsembleReplay(len(self.seeds), config.buffer_size, first.obs_shape, obs_dtype,
                                     config.gamma, self.device, seeds=[seed + 1 for seed in self.seeds])
        self.step = 0
        self.gradient_steps = 0
        self.stop = StopRequest()

    @property
    def stop_signal(self) -> int | None:
        """The signal that interrupted the run, if any."""
        return self.stop.signal

    def run(self) -> list[dict[str, Any]]:
        """Train every member for ``total_steps`` env steps, with subnormal floats flushed to zero
        (``deepq.cpu.flushing_subnormals``); returns their summaries."""
        with flushing_subnormals():
            return self._train()

    def _train(self) -> list[dict[str, Any]]:
        config, agent, members = self.config, self.agent, self.members
        k_members, n = len(members), config.num_envs
        for member in members:
            member._prepare_run_dir()
        hparams = {"env_id": self.env_id, **config.to_dict()}
        loggers = [RunLogger(m.run_dir, self.total_steps, {**hparams, "seed": m.seed}, quiet=True)
                   for m in members]
        share = self.share
        all_seeds = share.all_seeds if share else self.seeds
        display = share.display if share else ProgressDisplay(self.total_steps, self.show_progress,
                                                              label=f"train x{k_members}")
        envs = ResumableVectorEnv(self.env_id, k_members * n, seed=self.seeds, **self.env_kwargs)
        obs = envs.reset()
        rngs = [m.rng for m in members]
        # One collector over every member's environments: each environment keeps its own window,
        # and the rows come out environment by environment, so member by member.
        collector = NStepCollector(config.n_step, config.gamma, k_members * n)
        env_member = np.repeat(np.arange(k_members), n)  # the member each environment belongs to

        def split(array: np.ndarray) -> np.ndarray:  # (K * n, ...) -> (K, n, ...): member k's envs
            return array.reshape(k_members, n, *array.shape[1:])

        recent: list[deque[float]] = [deque(maxlen=100) for _ in members]
        episode_return = np.zeros(k_members * n)
        episode_length = np.zeros(k_members * n, dtype=np.int64)
        gradient_steps = config.gradient_steps if config.gradient_steps > 0 else n * config.train_freq
        next_eval = config.eval_interval or self.total_steps
        next_checkpoint = config.checkpoint_interval or self.total_steps
        last_target_update = 0
        start = time.perf_counter()
        sps_clock, sps_step = start, 0
        governor = ThreadGovernor()
        self.stop.catch()
        try:
            while self.step < self.total_steps and self.stop.signal is None:
                # act
                epsilon = epsilon_at(config, self.step, self.total_steps)
                actions = agent.act(split(obs), epsilon, rngs)
                # step
                next_obs, rewards, terminated, truncated = envs.step(actions.reshape(-1))
                done = terminated | truncated
                # store
                learn_rewards = clip_reward(rewards) if config.clip_rewards else rewards
                rows = collector.push(obs, actions.reshape(-1), learn_rewards, next_obs, terminated, truncated)
                self.replay.add(env_member[collector.last_envs], *rows)
                obs = envs.reset_done(done)
                self.step += n
                episode_return += rewards
                episode_length += 1
                for i in np.flatnonzero(done):
                    member, k = members[i // n], i // n
                    member.state.step = self.step
                    member.state.episodes += 1
                    recent[k].append(float(episode_return[i]))
                    loggers[k].episode(self.step, member.state.episodes, float(episode_return[i]),
                                       int(episode_length[i]), epsilon, member._wall(start))
                    episode_return[i], episode_length[i] = 0.0, 0
                    member._check_train_solved(recent[k])

                # learn
                if (self.step >= config.learning_starts and len(self.replay) >= config.batch_size
                        and (self.step // n) % config.train_freq == 0):
                    agent.set_learning_rate(learning_rate_at(config, self.step, self.total_steps))
                    for _ in range(gradient_steps):
                        info = agent.learn_from(self.replay, config.batch_size)
                        self.gradient_steps += 1
                    if config.target_update_interval and (
                        self.step - last_target_update >= config.target_update_interval
                    ):
                        agent.update_target()
                        last_target_update = self.step
                    if self.gradient_steps % 100 < gradient_steps:
                        self._log_losses(info, loggers)

                # log
                now = time.perf_counter()
                if now - sps_clock >= 0.5:
                    sps = (self.step - sps_step) * len(all_seeds) / (now - sps_clock)  # a share: as its run's
                    sps_clock, sps_step = now, self.step
                    governor.check()  # one torch thread while another process needs the core
                    if share:
                        share.tick(display)
                    averages = [float(np.mean(r)) for r in recent if r]
                    display.status(self.step, sum(m.state.episodes for m in members),
                                   float(np.mean(averages)) if averages else None, epsilon, sps)

                # evaluate
                if self.step >= next_eval:
                    next_eval += config.eval_interval or self.total_steps
                    self._evaluate(loggers, display, start)

                # save each member's model, so a crash loses at most one interval
                if self.step >= next_checkpoint:
                    next_checkpoint += config.checkpoint_interval or self.total_steps
                    self._save_models(loggers)
        finally:
            governor.close()
            self.stop.release()
            envs.close()
            if not share:
                display.close()

        interrupted = self.stop.signal is not None
        if not interrupted and members[0].state.last_eval_step != self.step:
            self._evaluate(loggers, None, start)
        self._save_models(loggers)
        summaries = []
        for member, logger, member_recent in zip(members, loggers, recent, strict=True):
            member.state.recent_returns = list(member_recent)
            summary = member._summary(start, interrupted)
            summary["ensemble_seeds"] = all_seeds
            (member.run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            logger.close()
            summaries.append(summary)
        if not interrupted and not share:
            from deepq.plotting import plot_runs

            plot_runs([member.run_dir for member in members])
        return summaries

    def _sync(self) -> None:
        for member in self.members:
            member.state.step, member.state.gradient_steps = self.step, self.gradient_steps

    def _log_losses(self, info: dict[str, Any], loggers: list[RunLogger]) -> None:
        """Each member's TD loss and mean Q(s, a), from the last learn step."""
        errors, q_values = info["td_error"], info["q_taken"]
        for k, logger in enumerate(loggers):
            loss = float(td_loss(errors[k], torch.zeros_like(errors[k]), self.config.loss))
            if not np.isfinite(loss):
                raise RunError(f"training diverged at step {self.step} (seed {self.seeds[k]}: the loss is "
                               f"{loss}); lower learning_rate or set max_grad_norm")
            logger.scalars(self.step, {"losses/td_loss": loss, "losses/q_values": float(q_values[k].mean())})

    def _evaluate(self, loggers: list[RunLogger], display: ProgressDisplay | None, start: float) -> None:
        """All members' greedy evaluations as one batch; each recorded in its own run."""
        self._sync()
        self.agent.q_net.eval()
        returns = evaluate_members(self.agent.greedy, self.env_id, self.config.eval_episodes,
                                   [seed + EVAL_SEED_OFFSET for seed in self.seeds], env_kwargs=self.env_kwargs,
                                   processes=1 if self.share else None)  # a share: the other cores train
        self.agent.q_net.train()
        for member, logger, member_returns in zip(self.members, loggers, returns, strict=True):
            solved_before = member.state.solved_at_step is not None
            member.record_evaluation(member_returns, logger, start)
            if display is not None and not solved_before and member.state.solved_at_step is not None:
                display.message(f"seed {member.seed}: solved at step {member.state.solved_at_step} "
                                f"after {member.state.solved_at_seconds:.1f} s")

    def _save_models(self, loggers: list[RunLogger]) -> None:
        """Write each member's model.pt (a plain model file: `deepq eval` and `DQN.load` read it)."""
        self._sync()
        for k, (member, logger) in enumerate(zip(self.members, loggers, strict=True)):
            logger.flush()
            member.agent.q_net.load_state_dict(self.ensemble_net.member_state_dict(k))
            member.save_model()


class EnsembleProcesses:
    """``--seeds`` over several processes, one per core: the seeds split into ``processes``
    groups, in order, each trained as an ``EnsembleTrainer`` with one torch thread. This process
    trains the first group and shows the progress; forked copies of it train the others.

    On two cores, two processes of 4 members with one thread each trained 8 CartPole seeds in
    0.70-1.06x the time of one process of 8 with two threads over 6 alternating pairs, 0.91x
    in the median (docs/performance.md): the batched products split about as well either way, and everything else (sampling, acting, stepping,
    logging, evaluating) runs on both cores instead of one. Members are independent, so a
    member's results are the same whichever process trains it.

    A Ctrl-C or SIGTERM reaches this process (the copies have their own process group); it
    stops its own group, then passes the signal on, and every member saves as in one process.
    A copy that fails stops the run with its error; a copy whose parent is gone stops and saves.
    """

    def __init__(
        self, env_id: str, config: DQNConfig, seeds: Sequence[int], run_dir: str | Path, processes: int,
        total_steps: int | None = None, device: str = "cpu", progress: bool | None = None,
        env_kwargs: dict[str, Any] | None = None, preset: str | None = None,
    ) -> None:
        check_distinct(seeds)
        self.seeds = list(seeds)
        count = max(1, min(processes, len(self.seeds)))
        self.groups = [[int(seed) for seed in group] for group in np.array_split(np.array(self.seeds), count)]
        obs_shape, obs_dtype, _ = env_spaces(env_id, **(env_kwargs or {}))
        check_memory(len(self.seeds) * ReplayBuffer.bytes_needed(config.buffer_size, obs_shape, obs_dtype))
        self.progress = progress
        self._children: list[_ShareProcess] = []
        self._done: dict[int, list[dict[str, Any]]] = {}  # summaries, by group
        self._signal: int | None = None

        def trainer(group: list[int], display: Any, tick: Callable[[Any], None]) -> EnsembleTrainer:
            return EnsembleTrainer(env_id, config, group, run_dir, total_steps=total_steps, device=device,
                                   progress=False, env_kwargs=env_kwargs, preset=preset,
                                   share=Share(self.seeds, display, tick))

        self._trainer = trainer
        # This process's own group is built first, so bad settings fail here, before any fork.
        # Its display is made once the copies are forked (a live display runs a thread).
        self.first = trainer(self.groups[0], None, self._watch_children)
        self.run_dir = Path(run_dir)

    @property
    def stop_signal(self) -> int | None:
        """The signal that interrupted the run, if any."""
        return self.first.stop_signal or self._signal

    def run(self) -> list[dict[str, Any]]:
        """Train every group; returns the members' summaries in the order of the seeds."""
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # before the forks: no process here starts OpenMP threads
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)

    def _run(self) -> list[dict[str, Any]]:
        for index, group in enumerate(self.groups[1:], start=1):
            self._children.append(_ShareProcess(index, group, self._trainer, [c.conn for c in self._children]))
        display = _RunDisplay(ProgressDisplay(self.first.total_steps, self.progress,
                                              label=f"train x{len(self.seeds)} ({len(self.groups)} processes)"),
                              len(self.groups[0]))
        assert self.first.share is not None
        self.first.share.display = display
        try:
            own = self.first.run()
            if self.first.stop_signal is not None:
                self._stop_children(self.first.stop_signal)
            for child in self._children:
                while child.index not in self._done:
                    self._receive(child, display)
        except BaseException:
            self._stop_children(signal.SIGTERM)
            raise
        finally:
            display.close()
            for child in self._children:
                child.wait()
        summaries = own + [summary for index in sorted(self._done) for summary in self._done[index]]
        if not any(summary["interrupted"] for summary in summaries):
            from deepq.plotting import plot_runs

            plot_runs([self.run_dir / f"seed-{seed}" for seed in self.seeds])
        return summaries

    def _watch_children(self, display: Any) -> None:
        """Pass a stop on at once; show the copies' messages; stop the run if one failed."""
        if self.first.stop_signal is not None:
            self._stop_children(self.first.stop_signal)
        for child in self._children:
            while child.index not in self._done and child.conn.poll():
                self._receive(child, display)

    def _receive(self, child: _ShareProcess, display: Any) -> None:
        """Take the copy's next message (waiting for it if need be)."""
        try:
            kind, payload, *rest = child.conn.recv()
        except (EOFError, OSError):
            raise RunError(f"the process training seeds {_seed_text(child.group)} ended unexpectedly; "
                           f"their run directories keep what it saved") from None
        if kind == "status":  # the copy's episodes and mean recent return
            display.others[child.index] = (payload, rest[0], len(child.group))
        elif kind == "message":
            display.message(payload)
        elif kind == "error":
            raise RunError(f"seeds {_seed_text(child.group)}: {payload}")
        else:  # "done": the summaries, and the signal that stopped the copy, if any
            self._done[child.index] = payload
            self._signal = self._signal or rest[0]

    def _stop_children(self, signum: int) -> None:
        """Send ``signum`` to the copies still training (once)."""
        for child in self._children:
            if child.index not in self._done and not child.stopped:
                child.kill(signum)


def _seed_text(seeds: list[int]) -> str:
    return ", ".join(str(seed) for seed in seeds)


class _RunDisplay:
    """The parent's progress display: its own group's status with the copies' episodes and
    returns (``others``, as they last reported them) added in."""

    def __init__(self, display: ProgressDisplay, own_members: int) -> None:
        self.display, self.own_members = display, own_members
        self.others: dict[int, tuple[int, float | None, int]] = {}  # index: episodes, mean return, members

    def status(self, step: int, episodes: int, avg: float | None, epsilon: float, sps: float) -> None:
        parts = [(avg, self.own_members), *[(a, m) for _, a, m in self.others.values()]]
        known = [(a, m) for a, m in parts if a is not None]
        mean = sum(a * m for a, m in known) / sum(m for _, m in known) if known else None
        total = episodes + sum(e for e, _, _ in self.others.values())
        self.display.status(step, total, mean, epsilon, sps)

    def message(self, text: str) -> None:
        self.display.message(text)

    def close(self) -> None:
        self.display.close()


class _PipeDisplay:
    """A share's progress display in a forked copy: its status and messages go to the parent
    (dropped if the parent is gone: the copy's next tick stops the run, which then saves)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def status(self, step: int, episodes: int, avg: float | None, epsilon: float, sps: float) -> None:
        self._send(("status", episodes, avg))

    def message(self, text: str) -> None:
        self._send(("message", text))

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            pass

    def close(self) -> None:
        pass


class _ShareProcess:
    """A forked copy of this process training one group of seeds (``EnsembleProcesses``)."""

    def __init__(self, index: int, group: list[int], trainer: Callable[..., EnsembleTrainer],
                 inherited: list[Any]) -> None:
        import multiprocessing

        self.index, self.group = index, group
        self.conn, child_conn = multiprocessing.Pipe()
        parent = os.getpid()
        self.pid = fork()
        if self.pid == 0:
            for conn in [self.conn, *inherited]:  # the parent's ends of this and the earlier copies' pipes
                conn.close()
            _train_share(group, trainer, child_conn, parent)
        child_conn.close()
        self.exited = self.stopped = False

    def kill(self, signum: int) -> None:
        """Pass a stop on: the copy saves its members and reports back."""
        self.stopped = True
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def wait(self) -> None:
        if not self.exited:
            os.waitpid(self.pid, 0)
            self.exited = True
        self.conn.close()


def _train_share(group: list[int], trainer: Callable[..., EnsembleTrainer], conn: Any, parent: int) -> None:
    """A forked copy's whole life: train ``group``, send the summaries back, exit without running
    anything of the parent's (its cleanup, its other processes' pipes)."""
    code = 1
    try:
        os.setpgid(0, 0)  # a Ctrl-C at the terminal reaches the parent only, which passes it on

        def parent_gone(_display: Any) -> None:  # the parent was killed: stop and save
            if os.getppid() != parent and share_trainer.stop.signal is None:
                share_trainer.stop.signal = signal.SIGTERM

        share_trainer = trainer(group, _PipeDisplay(conn), parent_gone)
        summaries = share_trainer.run()
        conn.send(("done", summaries, share_trainer.stop_signal))
        code = 0
    except RunError as error:
        conn.send(("error", str(error)))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which stops the run
        try:
            conn.send(("error", f"{type(error).__name__}: {error}"))
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)
