"""How a run uses the CPU: torch threads for the learn step, processes for many seeds and for
evaluation, and subnormal floats flushed to zero while it trains. Each setting a run changes is
put back when it ends; importing this module changes nothing.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deepq.config import DQNConfig

WIDE = 256  # units: from this hidden-layer width on, a second thread shortens the learn step


def forked_copies(wanted: int) -> int:
    """How many forked copies of this process to use for work split ``wanted`` ways: ``wanted``
    where forking is safe and cheap (Linux), else none (the work runs here, in one piece)."""
    return wanted if hasattr(os, "fork") and sys.platform == "linux" else 0


def fork() -> int:
    """``os.fork()``, without Python 3.12's warning about forking a process that has threads
    (torch's): the copies deepq forks step environments or draw plots, never torch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads(config: DQNConfig, members: int = 1, width: int | None = None) -> int:
    """Torch threads for a run when the user does not choose (``--threads``).

    - An ensemble (``members > 1``): one per core, up to 8; its batched step has the arithmetic
      to share.
    - One agent with a hidden layer of ``WIDE`` units or more: two; its matrix products are
      large enough to share (measured on the performance page). ``width`` is the network's
      widest hidden layer (``MemberNets.hidden_width``: 512 for the Nature CNN, 128 for
      MinAtar's); without it, the MLP's ``hidden_sizes``.
    - Any smaller network: one; a second thread gained nothing there.

    Results are bitwise reproducible for a given thread count, not across counts.
    """
    if members > 1:
        return min(8, cores())
    if (max(config.hidden_sizes, default=0) if width is None else width) >= WIDE:
        return min(2, cores())
    return 1


def member_processes(members: int, threads: int | None, device: str) -> int:
    """Processes for ``--seeds`` (``deepq.processes``): one per core, up to one per member and 8,
    each with one torch thread, when deepq chooses the threads (no ``--threads``) and the run is
    on the CPU; else one process."""
    if threads is not None or members < 2 or device == "cuda" or not forked_copies(1):
        return 1
    if device == "auto":
        import torch

        if torch.cuda.is_available():
            return 1
    return min(8, cores(), members)


@contextmanager
def torch_threads(threads: int, at_most: bool = False) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (``at_most``: never more than the caller
    had), then put the caller's count back. Evaluations split over processes use ``at_most``:
    while other processes of ours keep cores busy, a thread that has to wait for one of them
    stalls every parallel operation."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(threads, before) if at_most else threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


FLUSH_VARIABLE = "DEEPQ_FLUSH_DENORMAL"  # set to 0 to keep subnormal floats during training


def flushing_here() -> bool:
    """Whether this thread flushes subnormal floats to zero now (half the smallest normal float
    is subnormal, so it comes out zero only when flushed)."""
    return sys.float_info.min / 2 == 0.0


@contextmanager
def flushing_subnormals() -> Iterator[None]:
    """Flush subnormal floats (below 1.2e-38) to zero on this thread for the block, then restore
    the previous setting; ``DEEPQ_FLUSH_DENORMAL=0`` turns this off.

    Adam's first moment of a weight whose gradient stays zero (a dead ReLU unit) is multiplied by
    0.9 every step and decays through the subnormal range, where the CPU takes many times longer
    per multiply (measured on the performance page). Each thread keeps its own setting and a
    new thread copies its creator's, so torch's OpenMP threads flush only if they start inside
    the block: the ``deepq train`` command enters it before building anything.
    """
    if os.environ.get(FLUSH_VARIABLE, "1") == "0":
        yield
        return
    import torch

    before = flushing_here()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
