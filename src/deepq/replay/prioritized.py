"""Proportional prioritized replay (Schaul et al., 2016): a sum tree over any storage.

The sampling distribution is kept apart from the storage: ``PrioritizedReplay`` wraps a memory
that has ``add`` (returning the rows written), ``gather(indices, weights)`` and ``len``, so it
works on the uniform memory and on the Atari frame memory alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from deepq.replay.uniform import Batch


class SumTree:
    """A complete binary tree whose leaves hold priorities and whose nodes hold sums.

    Stored as one array: the root at 1, node i's children at 2i and 2i+1, leaf k at
    ``leaves + k``. Updates and searches take whole batches and walk the tree level by level
    with numpy, never looping over the batch in Python.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.depth = max(1, int(np.ceil(np.log2(self.capacity))))
        self.leaves = 1 << self.depth
        self.nodes = np.zeros(2 * self.leaves, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def get(self, indices: np.ndarray) -> np.ndarray:
        """The priorities at leaf ``indices``."""
        return self.nodes[self.leaves + np.asarray(indices)]

    def set(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set leaf ``indices`` to ``priorities`` (the last value wins for a repeated index)."""
        nodes = self.leaves + np.asarray(indices, dtype=np.int64)
        self.nodes[nodes] = priorities
        for _ in range(self.depth):  # recompute each ancestor from its children, level by level
            nodes = np.unique(nodes // 2)
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]

    def find(self, values: np.ndarray) -> np.ndarray:
        """For each value in [0, total), the leaf whose prefix-sum interval holds it."""
        values = np.array(values, dtype=np.float64)
        nodes = np.ones(len(values), dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * nodes
            left_sum = self.nodes[left]
            # Never step into an empty subtree (a value at the very top of the range, after
            # rounding, would otherwise reach an empty leaf).
            go_right = (values >= left_sum) & (self.nodes[left + 1] > 0)
            values -= np.where(go_right, left_sum, 0.0)
            nodes = left + go_right
        return nodes - self.leaves

    def state_dict(self) -> dict[str, Any]:
        return {"nodes": torch.from_numpy(self.nodes.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nodes[:] = state["nodes"].numpy()


class PrioritizedReplay:
    """Sample transition i with probability p_i^alpha / sum_k p_k^alpha.

    New transitions enter at the largest priority seen so far; after each learn step the
    sampled rows get |TD error| + eps. Sampling is stratified (one draw from each of
    ``batch_size`` equal slices of the total), and each sample carries the importance weight
    (N * P(i))^-beta divided by the batch's largest weight, as Dopamine does.
    """

    def __init__(self, storage: Any, alpha: float = 0.6, beta: float = 0.4, eps: float = 1e-6,
                 seed: int | None = None) -> None:
        self.storage = storage
        self.alpha = float(alpha)
        self.beta = float(beta)  # the trainer anneals it to 1 over the run
        self.eps = float(eps)
        self.tree = SumTree(storage.capacity)
        self.max_priority = 1.0  # in p^alpha units
        self.rng = np.random.default_rng(seed)

    @property
    def capacity(self) -> int:
        return int(self.storage.capacity)

    def __len__(self) -> int:
        return len(self.storage)

    def add(self, *args: Any, **kwargs: Any) -> np.ndarray:
        rows = self.storage.add(*args, **kwargs)
        self.tree.set(rows, np.full(len(rows), self.max_priority))
        return rows

    def sample_indices(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Stratified proportional draw: (rows, importance weights)."""
        if len(self) < batch_size:
            raise ValueError(f"cannot sample {batch_size} from a memory holding {len(self)}")
        indices = self._draw(batch_size)
        # A storage whose rows can go stale (the frame memory, when the cursor passes a stack's
        # history) says which rows are valid; stale ones get priority 0 and are drawn again.
        is_valid = getattr(self.storage, "is_valid", None)
        for _ in range(100):
            if is_valid is None:
                break
            stale = ~is_valid(indices)
            if not stale.any():
                break
            self.tree.set(indices[stale], np.zeros(int(stale.sum())))
            indices = self._draw(batch_size)
        total = self.tree.total
        probabilities = self.tree.get(indices) / total
        weights = (len(self) * probabilities) ** (-self.beta)
        return indices, (weights / weights.max()).astype(np.float32)

    def _draw(self, batch_size: int) -> np.ndarray:
        bounds = np.linspace(0.0, self.tree.total, batch_size + 1)
        return self.tree.find(self.rng.uniform(bounds[:-1], bounds[1:]))

    def sample(self, batch_size: int) -> Batch:
        indices, weights = self.sample_indices(batch_size)
        return self.storage.gather(indices, weights)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray | torch.Tensor) -> None:
        """Set the sampled rows' priorities to (|TD error| + eps)^alpha."""
        errors = td_errors.detach().cpu().numpy() if isinstance(td_errors, torch.Tensor) else td_errors
        priorities = (np.abs(errors).astype(np.float64) + self.eps) ** self.alpha
        self.tree.set(indices, priorities)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def state_dict(self) -> dict[str, Any]:
        return {**self.storage.state_dict(), "tree": self.tree.state_dict(),
                "max_priority": self.max_priority, "sampler_rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.storage.load_state_dict(state)
        self.tree.load_state_dict(state["tree"])
        self.max_priority = float(state["max_priority"])
        self.rng.bit_generator.state = state["sampler_rng"]
