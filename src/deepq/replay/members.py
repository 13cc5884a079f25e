"""One replay memory per member, sampled together: a batch ``(K, B, ...)`` for K members.

Each member's memory is the one its seed would have alone (uniform, frames, prioritized), and
it samples with its own generator, so member k's batches do not depend on who runs beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from deepq.replay.prioritized import PrioritizedReplay
from deepq.replay.uniform import Batch


def with_member_dim(batch: Batch) -> Batch:
    """One memory's batch ``(B, ...)`` as a one-member batch ``(1, B, ...)``."""
    return Batch(*(None if t is None else t.unsqueeze(0) for t in batch[:-1]), indices=batch.indices[None])


class MemberReplays:
    """K replay memories behind one ``sample`` and one ``update_priorities``."""

    def __init__(self, replays: Sequence[Any]) -> None:
        self.replays = list(replays)
        self.prioritized = all(isinstance(r, PrioritizedReplay) for r in self.replays)

    def __len__(self) -> int:
        """Rows every member can sample from."""
        return min(len(replay) for replay in self.replays)

    def __getitem__(self, k: int) -> Any:
        return self.replays[k]

    def set_beta(self, beta: float) -> None:
        """The importance-sampling exponent of every prioritized memory."""
        for replay in self.replays:
            replay.beta = beta

    def sample(self, batch_size: int) -> Batch:
        """Each member's batch, stacked along a leading member dimension."""
        batches = [replay.sample(batch_size) for replay in self.replays]
        if len(batches) == 1:
            return with_member_dim(batches[0])
        fields = [None if parts[0] is None else torch.stack(parts) for parts in zip(*(b[:-1] for b in batches),
                                                                                     strict=True)]
        return Batch(*fields, indices=np.stack([b.indices for b in batches]))

    def update_priorities(self, indices: np.ndarray, td_errors: torch.Tensor) -> None:
        """Member k's new priorities from its own rows' TD errors (``(K, B)`` each)."""
        if not self.prioritized:
            return
        for k, replay in enumerate(self.replays):
            replay.update_priorities(indices[k], td_errors[k])
