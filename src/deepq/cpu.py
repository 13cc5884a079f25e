"""How many CPU cores a run uses: torch threads for the learn step, processes for evaluation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from deepq.config import DQNConfig

WIDE = 256  # units: from this hidden-layer width on, a second thread shortens the learn step


def cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads(config: DQNConfig, members: int = 1) -> int:
    """Torch threads for a run when the user does not choose (``--threads``).

    - An ensemble (``members > 1``): one per core, up to 8; its batched step has the arithmetic
      to share.
    - One agent with a hidden layer of ``WIDE`` units or more: two. LunarLander's 256-256 step
      at batch 128 took 0.65-0.9x as long with two threads as with one on the 2-core machine
      (docs/performance.md).
    - Any smaller network: one. CartPole's 128-128 step at batch 64 gained nothing from a second
      thread (366-400 µs a step with one, 408-430 µs with two, in the run).

    Results are bitwise reproducible for a given thread count, not across counts.
    """
    if members > 1:
        return min(8, cores())
    if max(config.hidden_sizes, default=0) >= WIDE:
        return min(2, cores())
    return 1


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with at most ``threads`` torch threads, then restore the count: while other
    processes of ours keep cores busy, a thread that has to wait for one of them stalls every
    parallel operation (an evaluation split over two processes took 2.3 s with two threads and
    1.4 s with one on the 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(threads, before)))
    try:
        yield
    finally:
        torch.set_num_threads(before)
