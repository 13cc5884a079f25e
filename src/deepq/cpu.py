"""How a run uses the CPU: torch threads for the learn step, how idle threads wait, processes for
evaluation, and subnormal floats flushed to zero while it trains.

This module does not import torch at import time: the wait policy has to be chosen before torch
loads its OpenMP runtime, which reads it once.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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


def ensemble_processes(members: int, threads: int | None, device: str) -> int:
    """Processes for ``--seeds`` (``deepq.ensemble.EnsembleProcesses``): one per core, up to one
    per member and 8, each with one torch thread, when deepq chooses the threads (no
    ``--threads``) and the run is on the CPU; else one process."""
    if threads is not None or members < 2 or device == "cuda" or not forked_copies(1):
        return 1
    if device == "auto":
        import torch

        if torch.cuda.is_available():
            return 1
    return min(8, cores(), members)


# --- how idle OpenMP threads wait --------------------------------------------------------------
# torch runs every batched product, and every operation on more than 32,768 floats, as an OpenMP
# parallel region. Between regions an idle helper thread either sleeps (PASSIVE), and the next
# region pays ~17 µs to wake it, or spins, and holds its core whether or not anything else needs
# it (docs/performance.md, "Many seeds in one process").
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
SPIN_COUNT = 3_000_000  # libgomp's spins before an idle thread sleeps: tens of ms on this machine
PROC_STAT = Path("/proc/stat")
_user_chose_wait = any(name in os.environ for name in WAIT_VARIABLES)  # read at `import deepq`


def sleep_idle_threads() -> None:
    """The library's default, set by ``import deepq``: idle threads sleep (PASSIVE), unless the
    user set ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``. A program that imports deepq cannot be
    watched the way a training loop can, and spinning threads made a 2-thread run 3-6x slower
    beside one busy process."""
    if not _user_chose_wait:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def spin_while_idle() -> bool:
    """For the training commands, before torch loads: idle threads spin for ``SPIN_COUNT``
    rounds before they sleep, and the loop's ``ThreadGovernor`` drops to one torch thread while
    another process keeps a core busy, so the spin only ever takes a core nobody else wants.
    Does nothing (and returns False) when the user chose a wait policy, when torch is already
    loaded, or where ``/proc/stat`` cannot be read (the governor could not watch)."""
    if _user_chose_wait or "torch" in sys.modules or not PROC_STAT.is_file():
        return False
    os.environ["OMP_WAIT_POLICY"] = "ACTIVE"
    os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
    return True


def threads_spin() -> bool:
    """Whether this process's idle OpenMP threads spin for long, as its environment says:
    a ``GOMP_SPINCOUNT`` of 100,000 or more (libgomp reads it first; suffixes k, M, G, T and
    "infinite" allowed), else ``OMP_WAIT_POLICY=ACTIVE``."""
    count = os.environ.get("GOMP_SPINCOUNT", "").strip().lower()
    if count:
        if count.startswith("infinit"):
            return True
        scale = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}.get(count[-1], 1.0)
        try:
            return float(count.rstrip("kmgt")) * scale >= 100_000
        except ValueError:
            return False
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == "ACTIVE"


def _busy_seconds() -> float | None:
    """CPU seconds every core has spent busy since boot (user, nice, system, interrupts), from
    ``/proc/stat``; None where it cannot be read."""
    try:
        fields = PROC_STAT.read_text().split("\n", 1)[0].split()
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds this process (every thread) and its finished children have used."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class ThreadGovernor:
    """Keeps spinning threads off a core that another process needs.

    ``check()``, called by the training loops about twice a second, measures how much CPU the
    rest of the machine used since the last check (``/proc/stat``'s busy time less this
    process's own). Above ``BUSY`` cores it drops torch to one thread (an idle spinning helper
    then sleeps within ``SPIN_COUNT`` rounds); once two checks in a row find less than ``QUIET``
    it restores the run's thread count. It acts only when the run has more than one thread and
    its threads spin (``threads_spin``): with sleeping threads a second thread costs no one else.
    Results are bitwise reproducible for a given thread count, so a run it moved between counts
    can differ from a rerun by rounding.
    """

    BUSY = 0.5  # cores used by other processes
    QUIET = 0.25
    MIN_INTERVAL = 0.25  # seconds: shorter windows are too coarse at 100 clock ticks a second

    def __init__(self) -> None:
        import torch

        self.threads = torch.get_num_threads()
        self.reduced = False
        self.quiet_checks = 0
        self._last = (time.monotonic(), _busy_seconds(), _own_seconds())
        self.active = self.threads > 1 and threads_spin() and self._last[1] is not None

    def others_busy(self) -> float | None:
        """Cores other processes kept busy since the last call (None if too soon to tell)."""
        now, busy, own = time.monotonic(), _busy_seconds(), _own_seconds()
        then, busy_then, own_then = self._last
        if busy is None or busy_then is None or now - then < self.MIN_INTERVAL:
            return None
        self._last = (now, busy, own)
        return max(0.0, (busy - busy_then) - (own - own_then)) / (now - then)

    def check(self) -> None:
        """Drop to one thread or restore the run's count, as the machine's load calls for."""
        if not self.active:
            return
        others = self.others_busy()
        if others is None:
            return
        import torch

        if not self.reduced and others > self.BUSY:
            torch.set_num_threads(1)
            self.reduced, self.quiet_checks = True, 0
        elif self.reduced:
            self.quiet_checks = self.quiet_checks + 1 if others < self.QUIET else 0
            if self.quiet_checks >= 2:
                torch.set_num_threads(self.threads)
                self.reduced = False

    def close(self) -> None:
        """Give the run its thread count back (if the governor had lowered it)."""
        if self.active and self.reduced:
            import torch

            torch.set_num_threads(self.threads)
            self.reduced = False


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with at most ``threads`` torch threads, then restore the count: while other
    processes of ours keep cores busy, a thread that has to wait for one of them stalls every
    parallel operation (an evaluation split over two processes took 2.3 s with two threads and
    1.4 s with one on the 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(threads, before)))
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
    per multiply: at the end of a CartPole run 42% of the 128x128 layer's first moments were
    subnormal, and an 8-member ensemble's Adam step took 867 µs with them, 114 µs flushed
    (docs/performance.md). Each thread keeps its own setting and a new thread copies its
    creator's, so torch's OpenMP threads flush only if they start inside the block: the
    ``deepq train`` command enters it before building anything.
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
