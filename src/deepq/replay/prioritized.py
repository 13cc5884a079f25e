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
    """Leaf priorities with the sums of each group of ``branching`` leaves, level by level.

    Levels are built up from the leaves (``branching`` = 16 children per node) until one has
    at most ``top_size`` nodes. That top level is never summed further: a search takes its
    running sum once per batch, finds every value's top node at once (``np.searchsorted``) and
    descends from there, so a 1M-entry tree needs two descents of 16 children instead of five.
    Updates and searches take whole batches, never looping over the batch in Python; running
    sums over groups of 16 are one small matrix product (several times faster than
    ``np.cumsum`` on this shape), and the top level's running sum is ``torch.cumsum`` written
    straight into a numpy array (faster than ``np.cumsum`` here, and bit-identical to it).
    """

    def __init__(self, capacity: int, branching: int = 16, top_size: int = 4096) -> None:
        self.capacity = int(capacity)
        self.branching = b = int(branching)
        sizes = [self.capacity]
        while sizes[-1] > top_size:
            sizes.append(-(-sizes[-1] // b))  # ceil division
        # levels[0] holds the leaves; every level is padded with zeros to whole groups of b
        self.levels = [np.zeros(-(-size // b) * b) for size in sizes]
        # groups[i]: levels[i] seen as (groups, b), a view (no copy)
        self.groups = [level.reshape(-1, b) for level in self.levels]
        # x @ running: column 0 is 0 and column k + 1 the sum of x's first k + 1 entries, so a
        # child's exclusive sum (column k) is bit-for-bit its predecessor's inclusive sum
        self._running = np.hstack([np.zeros((b, 1)), np.triu(np.ones((b, b)))])
        self._ones = np.ones(b)
        self._before = np.zeros(len(self.levels[-1]) + 1)  # reused by every search
        # tensor views sharing memory with the top level and with ``_before[1:]``
        self._top_view = torch.from_numpy(self.levels[-1])
        self._running_view = torch.from_numpy(self._before)[1:]

    @property
    def total(self) -> float:
        return float(self.levels[-1].sum())

    def get(self, indices: np.ndarray) -> np.ndarray:
        """The priorities at leaf ``indices``."""
        return self.levels[0][np.asarray(indices)]

    def set(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        """Set leaf ``indices`` to ``priorities`` (the last value wins for a repeated index)."""
        nodes = np.asarray(indices, dtype=np.int64)
        self.levels[0][nodes] = priorities
        for level in range(1, len(self.levels)):  # parents recomputed from their children
            nodes = nodes // self.branching
            self.levels[level][nodes] = self.groups[level - 1][nodes] @ self._ones

    def _top_running_sum(self) -> np.ndarray:
        """Running sum of the top level, starting with 0 (so entry i is the sum before node i)."""
        torch.cumsum(self._top_view, 0, out=self._running_view)  # fills self._before[1:]
        return self._before

    def find(self, values: np.ndarray, fractions: bool = False) -> np.ndarray:
        """For each value in [0, total), the leaf whose prefix-sum interval holds it (with
        ``fractions``, values in [0, 1) are fractions of the total). A value at or above the
        total (rounding) gets the last leaf with a nonzero priority."""
        before = self._top_running_sum()
        values = np.asarray(values, dtype=np.float64)
        # Each value is kept in [0, node's sum): the child it falls in is then never empty
        # (children of zero priority before it have running sums <= the value and are skipped).
        if fractions:  # fractions are >= 0
            values = np.minimum(values * before[-1], np.nextafter(before[-1], 0.0))
        else:
            values = np.clip(values, 0.0, np.nextafter(before[-1], 0.0))
        nodes = np.searchsorted(before[1:], values, side="right")  # the first sum above the value
        values -= before[nodes]  # exact and >= 0: before[node] <= value
        rows = np.arange(len(values))
        for groups in reversed(self.groups[:-1]):
            running = groups[nodes] @ self._running  # (batch, b + 1): 0, then inclusive sums
            np.minimum(values, np.nextafter(running[:, -1], 0.0), out=values)
            choice = (running[:, 1:] <= values[:, None]).argmin(axis=1)  # first sum above
            values -= running[rows, choice]  # the sum before the child: exact and >= 0
            nodes *= self.branching
            nodes += choice
        return nodes

    def state_dict(self) -> dict[str, Any]:
        return {"leaves": torch.from_numpy(self.levels[0][: self.capacity].copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        leaves = state["leaves"].numpy()
        for level in self.levels:
            level[:] = 0.0
        filled = np.flatnonzero(leaves)
        self.set(filled, leaves[filled])


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

    def add_with_errors(self, td_errors: np.ndarray, *args: Any) -> np.ndarray:
        """Store transitions at the priorities of their given TD errors rather than the largest
        seen (Ape-X: the actors computed them). An empty block (shorter than its n-step windows)
        adds nothing."""
        if len(td_errors) == 0:
            return np.zeros(0, dtype=np.int64)
        rows = self.storage.add(*args)
        self.update_priorities(rows, td_errors)
        return rows

    def sample_indices(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Stratified proportional draw: (rows, importance weights)."""
        if len(self) < batch_size:
            raise ValueError(f"cannot sample {batch_size} from a memory holding {len(self)}")
        indices = self._draw(batch_size)
        # A storage whose rows can go stale (the frame memory, when the cursor passes a stack's
        # history) says which rows are valid; stale ones get priority 0 and are drawn again.
        # Each pass zeroes at least one stale leaf, so this ends.
        is_valid = getattr(self.storage, "is_valid", None)
        while is_valid is not None:
            stale = ~is_valid(indices)
            if not stale.any():
                break
            self.tree.set(indices[stale], np.zeros(int(stale.sum())))
            indices = self._draw(batch_size)
        # (N P(i))^-beta over the batch's largest: N and the total cancel, leaving
        # (p_i / smallest p in the batch)^-beta.
        priorities = self.tree.get(indices)
        return indices, (np.minimum.reduce(priorities) / priorities) ** self.beta

    def _draw(self, batch_size: int) -> np.ndarray:
        """One uniform value in each of ``batch_size`` equal slices of the total."""
        slices = np.arange(batch_size) + self.rng.random(batch_size)
        return self.tree.find(slices * (1.0 / batch_size), fractions=True)

    def sample(self, batch_size: int) -> Batch:
        indices, weights = self.sample_indices(batch_size)
        return self.storage.gather(indices, weights)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray | torch.Tensor) -> None:
        """Set the sampled rows' priorities to (|TD error| + eps)^alpha."""
        errors = td_errors.detach().cpu().numpy() if isinstance(td_errors, torch.Tensor) else td_errors
        priorities = np.abs(errors, dtype=np.float64)  # a new array, updated in place below
        priorities += self.eps
        np.power(priorities, self.alpha, out=priorities)
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
