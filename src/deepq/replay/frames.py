"""A replay memory for stacked frames that stores each frame once (Atari).

An observation is a stack of the last ``stack`` frames; consecutive observations share all but
one. Here each environment writes its frames in order into its own circular region, one new
frame per step (plus the first frame of each episode), and a stack is rebuilt at sample time
from the frames before it. Rules, each tested with exact index tables in tests/test_frames.py:

- a stack never mixes two episodes: before an episode's first frame it repeats that frame
  (the padding Gymnasium's FrameStackObservation(padding_type="reset") gives when acting);
- a transition is sampled only once its next frame is written, and never when its history
  reaches past the oldest frame still held (the write cursor);
- a finished episode's last observation is written as its own frame, so a truncated
  transition bootstraps from the true last stack, and the next episode starts afresh;
- with n-step returns (``n_step`` > 1) the return, its discount and the bootstrap stack are
  read at sample time from the next n stored steps, cut at a termination (no bootstrap) and at
  a truncation (bootstrap from the episode's last stack); a row becomes sampleable once its n
  steps are written or its episode has ended, so no frame is stored twice for n-step either.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepq.replay.uniform import Batch, to_device


class FrameReplay:
    """``capacity`` frames of shape ``frame_shape`` (uint8), split evenly over ``num_envs``."""

    def __init__(
        self, capacity: int, frame_shape: tuple[int, ...] = (84, 84), stack: int = 4, num_envs: int = 1,
        gamma: float = 0.99, device: torch.device | str = "cpu", seed: int | None = None,
        n_step: int = 1,
    ) -> None:
        self.num_envs = num_envs
        self.slots = int(capacity) // num_envs  # per environment
        self.n_step = int(n_step)
        if self.slots < stack + n_step + 1:
            raise ValueError(f"capacity {capacity} is too small for {num_envs} envs, stacks of {stack} "
                             f"and {n_step}-step returns")
        self.capacity = self.slots * num_envs
        self.stack = stack
        self.gamma = gamma
        self.device = torch.device(device)
        shape = (num_envs, self.slots)
        self.frames = np.zeros((*shape, *frame_shape), dtype=np.uint8)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=np.float32)
        self.first = np.zeros(shape, dtype=bool)  # the frame is an episode's first
        self.has_next = np.zeros(shape, dtype=bool)  # a transition starts here, its next frame is written
        self.cursor = np.zeros(num_envs, dtype=np.int64)  # next slot each env writes
        self.written = np.zeros(num_envs, dtype=np.int64)  # slots holding data
        self.open = np.zeros(num_envs, dtype=bool)  # an episode is under way (its frame is stored)
        self.episode_steps = np.zeros(num_envs, dtype=np.int64)  # transitions in the open episode
        self.count = 0  # slots with has_next (transitions stored)
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def bytes_needed(capacity: int, frame_shape: tuple[int, ...] = (84, 84)) -> int:
        """Bytes the arrays of a memory of ``capacity`` frames take."""
        return int(capacity) * (int(np.prod(frame_shape)) + 8 + 4 + 4 + 1 + 1)

    def __len__(self) -> int:
        """Transitions that can be sampled once their history is held: with n-step returns the
        newest n - 1 steps of each running episode wait for their returns to complete."""
        if self.n_step == 1:
            return self.count
        waiting = np.minimum(self.episode_steps, self.n_step - 1) * self.open
        return self.count - int(waiting.sum())

    # --- writing ---
    def _write(self, envs: np.ndarray, frames: np.ndarray, first: bool) -> np.ndarray:
        """Each of ``envs`` writes its frame at its cursor; returns the slots written."""
        slots = self.cursor[envs].copy()
        self.frames[envs, slots] = frames
        self.first[envs, slots] = first
        self.count -= int(self.has_next[envs, slots].sum())
        self.has_next[envs, slots] = False
        self.actions[envs, slots], self.rewards[envs, slots], self.terminated[envs, slots] = 0, 0.0, 0.0
        self.cursor[envs] = (slots + 1) % self.slots
        self.written[envs] = np.minimum(self.written[envs] + 1, self.slots)
        return slots

    def add(
        self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
        terminated: np.ndarray, truncated: np.ndarray | None = None,
    ) -> np.ndarray:
        """One vector step of stacked observations (num_envs, stack, H, W), written for all
        environments at once; stores only the newest frames. Returns the rows (flat indices)
        that became sampleable: the new transitions themselves for one-step returns; for n-step,
        those whose n steps this step completes, and at an episode's end every one of its rows
        still waiting."""
        envs = np.arange(self.num_envs)
        done = np.asarray(terminated, bool) if truncated is None else np.asarray(terminated, bool) | truncated
        starting = envs[~self.open]
        if len(starting):  # an episode's first observation
            self._write(starting, obs[starting, -1], first=True)
            self.open[starting] = True
            self.episode_steps[starting] = 0
        slots = (self.cursor - 1) % self.slots  # each holds its obs' newest frame
        self.actions[envs, slots] = actions
        self.rewards[envs, slots] = rewards
        self.terminated[envs, slots] = terminated
        self._write(envs, next_obs[:, -1], first=False)
        self.has_next[envs, slots] = True
        self.count += self.num_envs
        self.episode_steps += 1
        # rows (at most n back in their episode) whose n-step return is now complete
        full = ~done & (self.episode_steps >= self.n_step)
        rows = [envs[full] * self.slots + (slots[full] - self.n_step + 1) % self.slots]
        for env in envs[done]:
            back = min(int(self.episode_steps[env]), self.n_step)
            rows.append(env * self.slots + np.arange(slots[env] - back + 1, slots[env] + 1) % self.slots)
        self.open[done] = False
        return np.sort(np.concatenate(rows)).astype(np.int64)

    # --- reading ---
    def _history(self, env: np.ndarray, newest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Slots of the stacks ending at ``newest`` (oldest first), and whether each is whole
        (its history does not run past the oldest frame held)."""
        slots = np.empty((len(newest), self.stack), dtype=np.int64)
        slots[:, -1] = newest
        whole = np.ones(len(newest), dtype=bool)
        oldest = np.where(self.written[env] < self.slots, 0, self.cursor[env])
        for d in range(self.stack - 2, -1, -1):
            current = slots[:, d + 1]
            at_start = self.first[env, current]
            whole &= at_start | (current != oldest)  # stepping back past the oldest frame
            # before an episode's first frame, repeat it (padding), never the previous episode's
            slots[:, d] = np.where(at_start, current, (current - 1) % self.slots)
        return slots, whole

    def _returns(
        self, env: np.ndarray, slot: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """n-step (returns, discounts, terminated, bootstrap slots, complete) of the rows
        starting at ``slot``: rewards summed over up to n stored steps, stopping at a
        termination or at the episode's last frame. ``complete`` is False for a row whose
        window reaches the newest frame of an episode still running (its return is not known
        yet)."""
        newest = (self.cursor[env] - 1) % self.slots
        running = self.open[env]
        returns = np.zeros(len(slot))
        discounts = np.ones(len(slot))
        ended = np.zeros(len(slot), dtype=bool)  # terminated inside the window
        complete = np.ones(len(slot), dtype=bool)
        boot = slot.copy()
        alive = np.ones(len(slot), dtype=bool)  # still summing rewards
        for k in range(self.n_step):
            current = (slot + k) % self.slots
            returns += np.where(alive, self.gamma**k * self.rewards[env, current], 0.0)
            stop = alive & (self.terminated[env, current] > 0)
            ended |= stop
            after = (current + 1) % self.slots
            boot = np.where(alive, after, boot)
            discounts = np.where(alive, self.gamma ** (k + 1), discounts)
            goes_on = alive & ~stop & self.has_next[env, after]
            if k < self.n_step - 1:  # a window cut short by a running episode's newest frame
                complete &= ~(alive & ~stop & ~goes_on & (after == newest) & running)
            alive = goes_on
        return returns, discounts, ended, boot, complete

    def is_valid(self, rows: np.ndarray) -> np.ndarray:
        """Whether each flat row starts a transition that can be sampled now."""
        env, slot = np.divmod(np.asarray(rows, dtype=np.int64), self.slots)
        _, whole = self._history(env, slot)
        valid = self.has_next[env, slot] & whole
        if self.n_step > 1:
            valid &= self._returns(env, slot)[4]
        return valid

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """Distinct valid rows, uniformly at random: draws over the written slots of every
        environment, keeping the valid ones, until there are enough."""
        if len(self) < batch_size:
            raise ValueError(f"cannot sample {batch_size} from a memory holding {len(self)}")
        ends = np.cumsum(self.written)
        starts = ends - self.written
        chosen = np.empty(0, dtype=np.int64)
        while len(chosen) < batch_size:
            draws = self.rng.integers(0, ends[-1], size=batch_size + batch_size // 4 + 4)
            env = np.searchsorted(ends, draws, side="right")
            rows = env * self.slots + (draws - starts[env])
            chosen = np.unique(np.concatenate([chosen, rows[self.is_valid(rows)]]))
        return self.rng.permutation(chosen)[:batch_size]

    def stacks(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(obs, next_obs) stacks for flat ``rows``, each (len(rows), stack, H, W) uint8."""
        env, slot = np.divmod(np.asarray(rows, dtype=np.int64), self.slots)
        obs_slots, _ = self._history(env, slot)
        # The next stack is the same history shifted by one frame (its newest frame is never an
        # episode's first), so each sample reads stack + 1 frames once and both stacks are views.
        window = np.concatenate([obs_slots, ((slot + 1) % self.slots)[:, None]], axis=1)
        frames = self._read(env, window)
        return frames[:, :-1], frames[:, 1:]

    def gather(self, rows: np.ndarray, weights: np.ndarray | None = None) -> Batch:
        def move(array: np.ndarray) -> torch.Tensor:
            return to_device(array, self.device)

        env, slot = np.divmod(np.asarray(rows, dtype=np.int64), self.slots)
        if self.n_step == 1:
            obs, next_obs = self.stacks(rows)
            rewards, terminated = self.rewards[env, slot], self.terminated[env, slot]
            discounts = np.full(len(rows), self.gamma, dtype=np.float32)
        else:
            returns, discount, ended, boot, _ = self._returns(env, slot)
            obs, next_obs = self._read(env, self._history(env, slot)[0]), self._read(env, self._history(env, boot)[0])
            rewards, terminated = returns.astype(np.float32), ended.astype(np.float32)
            discounts = discount.astype(np.float32)
        return Batch(
            obs=move(obs), actions=move(self.actions[env, slot]), rewards=move(rewards),
            next_obs=move(next_obs), terminated=move(terminated), discounts=move(discounts),
            weights=None if weights is None else move(weights.astype(np.float32, copy=False)),
            indices=np.asarray(rows),
        )

    def _read(self, env: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """The frames at ``slots`` (rows, k) of each row's environment: (rows, k, H, W)."""
        flat = self.frames.reshape(self.num_envs * self.slots, -1)
        frames = np.take(flat, (env[:, None] * self.slots + slots).ravel(), axis=0)
        return frames.reshape(*slots.shape, *self.frames.shape[2:])

    def sample(self, batch_size: int) -> Batch:
        return self.gather(self.sample_indices(batch_size))

    # --- persistence ---
    STATE = ("frames", "actions", "rewards", "terminated", "first", "has_next", "cursor", "written", "open",
             "episode_steps")

    def state_dict(self) -> dict[str, Any]:
        return {name: torch.from_numpy(getattr(self, name).copy()) for name in self.STATE} | {
            "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` saved (a prioritized memory's state adds its own keys)."""
        for name in self.STATE:
            getattr(self, name)[...] = state[name].numpy()
        self.rng.bit_generator.state = state["rng"]
        self.count = int(self.has_next.sum())
