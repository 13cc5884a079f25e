"""The uniform replay memory: preallocated circular arrays, sampled without replacement."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A numpy batch as a tensor on ``device``: shared memory on the CPU; on CUDA one pinned,
    non-blocking copy."""
    tensor = torch.from_numpy(array)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


class Batch(NamedTuple):
    """A sampled batch, already on the learner's device.

    ``discounts`` is the factor in front of the bootstrap: gamma**k for a k-step return, so the
    target is ``rewards + discounts * (1 - terminated) * max_a Q(next_obs, a)``.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    discounts: torch.Tensor
    weights: torch.Tensor | None  # importance-sampling weights (None for uniform replay)
    indices: np.ndarray  # where the batch came from, for priority updates


class ReplayBuffer:
    """A circular memory of ``capacity`` transitions kept in preallocated numpy arrays.

    Vectorized environments add one row per environment at once. Terminations and truncations
    stay apart: only ``terminated`` cuts the bootstrap; a truncated transition keeps its real
    next observation and bootstraps from it.
    """

    def __init__(
        self, capacity: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32,
        gamma: float = 0.99, device: torch.device | str = "cpu", seed: int | None = None,
    ) -> None:
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.discounts = np.full(self.capacity, gamma, dtype=np.float32)
        self.cursor = 0  # the next row to write
        self.size = 0  # rows holding data
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def bytes_needed(capacity: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32) -> int:
        """Bytes the arrays of a memory of ``capacity`` transitions take."""
        obs_bytes = int(np.prod(obs_shape, dtype=np.int64)) * np.dtype(obs_dtype).itemsize
        return int(capacity) * (2 * obs_bytes + 8 + 4 + 4 + 4)

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
        terminated: np.ndarray, discounts: np.ndarray | None = None,
    ) -> np.ndarray:
        """Store a batch of transitions (one per environment); returns the rows written."""
        n = len(actions)
        rows = (self.cursor + np.arange(n)) % self.capacity
        self.obs[rows] = obs
        self.next_obs[rows] = next_obs
        self.actions[rows] = actions
        self.rewards[rows] = rewards
        self.terminated[rows] = terminated
        if discounts is not None:
            self.discounts[rows] = discounts
        self.cursor = int((self.cursor + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        return rows

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """``batch_size`` distinct rows, uniformly at random."""
        if self.size < batch_size:
            raise ValueError(f"cannot sample {batch_size} from a memory holding {self.size}")
        return self.rng.choice(self.size, batch_size, replace=False)

    def gather(self, indices: np.ndarray, weights: np.ndarray | None = None) -> Batch:
        """The batch at ``indices``, moved to the device in one copy per array."""
        def move(array: np.ndarray) -> torch.Tensor:
            return to_device(array, self.device)

        return Batch(
            obs=move(self.obs[indices]),
            actions=move(self.actions[indices]),
            rewards=move(self.rewards[indices]),
            next_obs=move(self.next_obs[indices]),
            terminated=move(self.terminated[indices]),
            discounts=move(self.discounts[indices]),
            weights=None if weights is None else move(weights.astype(np.float32, copy=False)),
            indices=indices,
        )

    def sample(self, batch_size: int) -> Batch:
        """A uniform batch without replacement."""
        return self.gather(self.sample_indices(batch_size))

    def state_dict(self) -> dict[str, Any]:
        """Arrays and cursor, for checkpoints that keep the memory."""
        return {
            "obs": torch.from_numpy(self.obs[: self.size]),
            "next_obs": torch.from_numpy(self.next_obs[: self.size]),
            "actions": torch.from_numpy(self.actions[: self.size]),
            "rewards": torch.from_numpy(self.rewards[: self.size]),
            "terminated": torch.from_numpy(self.terminated[: self.size]),
            "discounts": torch.from_numpy(self.discounts[: self.size]),
            "cursor": self.cursor,
            "size": self.size,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` saved."""
        size = int(state["size"])
        for name in ("obs", "next_obs", "actions", "rewards", "terminated", "discounts"):
            getattr(self, name)[:size] = state[name].numpy()
        self.size, self.cursor = size, int(state["cursor"])
        self.rng.bit_generator.state = state["rng"]
