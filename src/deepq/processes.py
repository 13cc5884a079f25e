"""``--seeds`` over one process per core: the seeds split into groups, each group a ``Trainer``
in a child process with one torch thread, so the Python between the batched operations runs on
every core. This process only watches: it shows the groups' progress, passes a Ctrl-C or
SIGTERM on, and stops the run with a group's error. Members are independent, so a member's
results are the same whichever group trains it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from deepq.cpu import torch_threads
from deepq.errors import DeepQError, RunError
from deepq.logging import ProgressDisplay
from deepq.train import StopRequest, Trainer

TICK = 0.5  # seconds between the watcher's looks at the groups


class _PipeDisplay:
    """A group's progress display: its status and messages go to the watching process (through
    ``messages``, the group's own pipe; None: nowhere)."""

    def __init__(self, messages: Connection | None, index: int) -> None:
        self.messages, self.index = messages, index

    def status(self, step: int, episodes: int, avg: float | None, epsilon: float, sps: float) -> None:
        _send(self.messages, ("status", self.index, (step, episodes, avg, epsilon, sps)))

    def message(self, text: str) -> None:
        _send(self.messages, ("message", self.index, text))

    def close(self) -> None:
        pass


def _send(messages: Connection | None, item: tuple[str, int, Any]) -> None:
    """Send ``item`` to the watcher; if it is gone, nothing (the child then stops and saves)."""
    if messages is None:
        return
    try:
        messages.send(item)
    except OSError:  # a broken pipe: the watcher was killed
        pass


def _train_group(make: Callable[..., Trainer], index: int, seeds: list[int], messages: Connection,
                 parent: int) -> None:
    """A child's whole life: train its seeds, send the summaries (or the error) back."""
    os.setpgid(0, 0)  # a Ctrl-C at the terminal reaches the watcher only, which passes it on

    def parent_gone(trainer: Trainer) -> None:  # the watcher was killed: stop and save
        if os.getppid() != parent and trainer.stop.signal is None:
            trainer.stop.signal = signal.SIGTERM

    try:
        trainer = make(seeds, _PipeDisplay(messages, index))
        summaries = trainer.run(callback=parent_gone)
        _send(messages, ("done", index, (summaries, trainer.stop_signal)))
    except DeepQError as error:
        _send(messages, ("error", index, str(error)))
    except BaseException as error:  # noqa: BLE001 - reported to the watcher, which stops the run
        _send(messages, ("error", index, f"{type(error).__name__}: {error}"))


def train_in_processes(make: Callable[..., Trainer], seeds: Sequence[int], processes: int,
                       progress: bool | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Train ``seeds`` in ``processes`` groups, each ``make(group_seeds, display)`` run in a
    child; returns the members' summaries in seed order and the signal that stopped the run.

    This process runs torch on one thread meanwhile: a child forked while OpenMP's worker
    threads exist can deadlock in its first parallel operation."""
    with torch_threads(1):
        return _train_in_processes(make, seeds, processes, progress)


def _train_in_processes(make: Callable[..., Trainer], seeds: Sequence[int], processes: int,
                        progress: bool | None) -> tuple[list[dict[str, Any]], int | None]:
    groups = [[int(s) for s in g] for g in np.array_split(np.array(list(seeds)), max(1, min(processes, len(seeds))))]
    total_steps = make(groups[0], _PipeDisplay(None, 0)).total_steps  # bad settings fail here, before any fork
    context = multiprocessing.get_context("fork")
    # One pipe per child, not one shared queue: a child killed in the middle of a message then
    # cuts only its own pipe, where a shared queue's write lock would stay taken and block the rest.
    readers: dict[int, Connection] = {}
    children = []
    for i, g in enumerate(groups):
        readers[i], writer = context.Pipe(duplex=False)
        child = context.Process(target=_train_group, args=(make, i, g, writer, os.getpid()), daemon=False)
        child.start()
        writer.close()  # the child's end; later children do not inherit it, so its death is seen
        children.append(child)
    display = ProgressDisplay(total_steps, progress, label=f"train x{len(seeds)} ({len(groups)} processes)")
    status: dict[int, tuple[Any, ...]] = {}
    done: dict[int, tuple[list[dict[str, Any]], int | None]] = {}
    stop = StopRequest()
    stop.catch()
    passed_on = False
    try:
        while len(done) < len(children):
            if stop.signal is not None and not passed_on:
                for i, child in enumerate(children):
                    if i not in done and child.pid is not None:
                        _kill(child.pid, stop.signal)
                passed_on = True
            received = _receive(readers, TICK)
            if not received:
                for i, child in enumerate(children):
                    if i not in done and child.exitcode is not None and i not in readers:
                        raise RunError(f"the process training seeds {_text(groups[i])} ended unexpectedly "
                                       f"(exit code {child.exitcode}); their run directories keep what it saved") from None
                continue
            for kind, index, payload in received:
                if kind == "status":
                    status[index] = payload
                    _show(display, status, groups)
                elif kind == "message":
                    display.message(payload)
                elif kind == "error":
                    raise RunError(f"seeds {_text(groups[index])}: {payload}")
                else:
                    done[index] = payload
    except BaseException:
        for i, child in enumerate(children):
            if i not in done and child.pid is not None and child.exitcode is None:
                _kill(child.pid, signal.SIGTERM)
        raise
    finally:
        stop.release()
        while any(child.is_alive() for child in children):  # a child exits once its messages are read
            _receive(readers, 0.1)
        for reader in readers.values():
            reader.close()
        for child in children:
            child.join()
        display.close()
    summaries = [s for i in sorted(done) for s in done[i][0]]
    signals = [done[i][1] for i in sorted(done) if done[i][1] is not None]
    return summaries, stop.signal or (signals[0] if signals else None)


def _receive(readers: dict[int, Connection], timeout: float) -> list[tuple[str, int, Any]]:
    """The messages waiting in the children's pipes (waiting up to ``timeout`` for one); a pipe
    whose child has gone (its end closed, or cut in the middle of a message) is dropped."""
    ready = wait(list(readers.values()), timeout)  # with no pipes left, it just waits
    received = []
    for index, reader in list(readers.items()):
        if reader in ready:
            try:
                received.append(reader.recv())
            except (EOFError, OSError):
                reader.close()
                del readers[index]
    return received


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _show(display: ProgressDisplay, status: dict[int, tuple[Any, ...]], groups: list[list[int]]) -> None:
    """The groups' status as one: the slowest group's step, all episodes, the members' mean return."""
    step = min(s[0] for s in status.values())
    episodes = sum(s[1] for s in status.values())
    known = [(s[2], len(groups[i])) for i, s in status.items() if s[2] is not None]
    avg = sum(a * m for a, m in known) / sum(m for _, m in known) if known else None
    epsilon = max(s[3] for s in status.values())
    sps = sum(s[4] for s in status.values()) / len(status)  # each group reports the run's rate
    display.status(step, episodes, avg, epsilon, sps)


def _text(seeds: list[int]) -> str:
    return ", ".join(str(seed) for seed in seeds)
