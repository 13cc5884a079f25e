"""PQN's memory: the last rollout of every environment, learned from once it is full, then dropped.

There is no replay: a rollout of ``steps`` vector steps from ``num_envs`` environments fills
up, the agent sets each row's Q(lambda) target (``set_targets``), and ``sample`` deals the rows
out in shuffled minibatches, a new shuffle at each pass (epoch), until the next rollout
starts overwriting it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepq.replay.uniform import Batch, to_device


class RolloutMemory:
    """``steps`` x ``num_envs`` transitions of observations ``obs_shape``."""

    def __init__(self, steps: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32,
                 device: torch.device | str = "cpu", seed: int | None = None) -> None:
        self.steps, self.num_envs = int(steps), int(num_envs)
        self.device = torch.device(device)
        shape = (self.steps, self.num_envs)
        self.obs = np.zeros((*shape, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((*shape, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros(shape, dtype=np.int64)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=np.float32)
        self.done = np.zeros(shape, dtype=np.float32)  # terminated or truncated: the episode ended here
        self.t = 0  # vector steps written into the rollout under way
        self.targets: torch.Tensor | None = None  # (steps * num_envs,), once the rollout is full
        self.order = np.zeros(0, dtype=np.int64)
        self.position = 0
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def bytes_needed(steps: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32) -> int:
        """Bytes the arrays of a rollout take."""
        rows = int(steps) * int(num_envs)
        return rows * (2 * int(np.prod(obs_shape)) * np.dtype(obs_dtype).itemsize + 8 + 4 + 4 + 4)

    def __len__(self) -> int:
        """Rows to learn from: all of a full rollout, none before."""
        return self.steps * self.num_envs if self.t == self.steps else 0

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
        """One vector step; a full rollout that was learned from is overwritten from its start."""
        if self.t == self.steps:
            self.t = 0
        t = self.t
        self.obs[t], self.next_obs[t], self.actions[t], self.rewards[t] = obs, next_obs, actions, rewards
        self.terminated[t] = terminated
        self.done[t] = np.asarray(terminated, bool) | np.asarray(truncated, bool)
        self.t += 1
        self.targets = None
        return np.arange(t * self.num_envs, (t + 1) * self.num_envs)

    # --- learning from a full rollout ---
    def flat_next_obs(self) -> np.ndarray:
        """Every row's next observation, ``(steps * num_envs, ...)``."""
        return self.next_obs.reshape(-1, *self.next_obs.shape[2:])

    def signals(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rewards, terminated, done), each ``(steps, num_envs)``, for the Q(lambda) returns."""
        return self.rewards, self.terminated, self.done

    def set_targets(self, returns: torch.Tensor) -> None:
        """Each row's target ``(steps, num_envs)``; sampling starts a new pass."""
        if self.t != self.steps:
            raise ValueError(f"the rollout holds {self.t} of {self.steps} steps; learn once it is full")
        self.targets = returns.reshape(-1)
        self.position = len(self.order)  # the next sample shuffles

    def sample(self, batch_size: int) -> Batch:
        """The next minibatch of the current pass; a pass over every row, then a new shuffle."""
        if self.targets is None:
            raise ValueError("set_targets first: the rollout's rows have no targets yet")
        rows_total = self.steps * self.num_envs
        if self.position + batch_size > len(self.order):
            self.order, self.position = self.rng.permutation(rows_total), 0
        rows = self.order[self.position:self.position + batch_size]
        self.position += batch_size
        obs = self.obs.reshape(rows_total, *self.obs.shape[2:])[rows]
        zeros = torch.zeros(len(rows), device=self.device)
        return Batch(obs=to_device(obs, self.device), actions=to_device(self.actions.reshape(-1)[rows], self.device),
                     rewards=self.targets[torch.as_tensor(rows, device=self.device)], next_obs=None,
                     terminated=zeros, discounts=zeros, weights=None, indices=rows)

    # --- persistence ---
    STATE = ("obs", "next_obs", "actions", "rewards", "terminated", "done")

    def state_dict(self) -> dict[str, Any]:
        return {name: torch.from_numpy(getattr(self, name).copy()) for name in self.STATE} | {
            "t": self.t, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self.STATE:
            getattr(self, name)[...] = state[name].numpy()
        self.t = int(state["t"])
        self.rng.bit_generator.state = state["rng"]
        self.targets = None
