"""Greedy evaluation: many episodes run as one batch of environments."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from deepq.cpu import cores, fork, forked_copies, torch_threads
from deepq.envs import make_env
from deepq.envs.cartpole import CartPolePhysics

Policy = Callable[[np.ndarray], np.ndarray]


def evaluate(
    policy: Policy, env_id: str, episodes: int, seed: int = 0, max_batch: int = 100,
    env_kwargs: dict[str, Any] | None = None, processes: int | None = None,
) -> np.ndarray:
    """Run ``episodes`` episodes of ``policy`` (a batch of observations -> actions) and return
    their undiscounted returns.

    Up to ``max_batch`` environments step together so the policy sees one batch per step.
    Each environment is given a fixed quota of episodes up front, so short episodes are not
    over-counted. Episode ``i`` of environment ``e`` is seeded ``seed + e`` at its first reset.
    An environment that Gymnasium also ships as one numpy-vectorized environment (CartPole)
    runs all ``episodes`` at once that way instead, seeded ``seed``: the same dynamics, with
    no Python loop over the environments.
    """
    return evaluate_members(lambda obs: policy(obs[0])[None], env_id, episodes, [seed], max_batch,
                            env_kwargs, processes)[0]


def evaluate_members(
    policy: Policy, env_id: str, episodes: int, seeds: Sequence[int], max_batch: int = 100,
    env_kwargs: dict[str, Any] | None = None, processes: int | None = None,
) -> list[np.ndarray]:
    """``evaluate`` for K policies at once (an ensemble's members), member ``k`` seeded
    ``seeds[k]``: ``policy`` maps observations ``(K, N, ...)`` to actions ``(K, N)``. Each
    member's episodes are exactly those it would get evaluated alone.

    The environments are stepped in up to ``processes`` blocks at once (default: one per core,
    up to 8, at least ``MIN_SHARE`` environments each): this process steps the first block,
    forked copies of it the others, while the policy still sees one batch per step. The returns
    are the same, in the same order, for any number of processes.
    """
    if not env_kwargs and _is_numpy_cartpole(env_id):
        return _evaluate_vectorized(policy, env_id, episodes, seeds)
    n_envs = min(episodes, max_batch)
    quotas = [episodes // n_envs + (1 if e < episodes % n_envs else 0) for e in range(n_envs)]
    envs = [[make_env(env_id, **(env_kwargs or {})) for _ in range(n_envs)] for _ in seeds]
    obs = np.stack([[env.reset(seed=seed + e)[0] for e, env in enumerate(member)]
                    for seed, member in zip(seeds, envs, strict=True)])
    slots = [(k, e) for k in range(len(seeds)) for e in range(n_envs)]
    if processes is None:
        processes = 1 + forked_copies(min(cores(), 8) - 1)
    blocks = np.array_split(np.arange(len(slots)), max(1, min(processes, len(slots) // MIN_SHARE)))
    shares = [_Share([slots[i] for i in block], envs, quotas, obs) for block in blocks]
    steppers: list[_Share | _ForkedShare] = [shares[0]]
    returns: list[list[float]] = [[] for _ in seeds]
    try:
        for share in shares[1:]:
            steppers.append(_ForkedShare(share, [s.conn for s in steppers[1:]]))
        with torch_threads(cores() - len(shares) + 1, at_most=True):  # the forked blocks keep their cores busy
            _run_blocks(policy, obs, steppers, returns)
    finally:
        for stepper in steppers[1:]:
            stepper.stop()
        for member in envs:
            for env in member:
                env.close()
    return [np.asarray(r, dtype=np.float64) for r in returns]


def _run_blocks(policy: Policy, obs: np.ndarray, steppers: list[Any], returns: list[list[float]]) -> None:
    """Step all blocks in step with each other until every episode is done."""
    busy = list(steppers)
    while busy:
        actions = policy(obs)  # environments that are done still get (unused) actions
        for stepper in reversed(busy):  # the forked blocks first, so they run alongside this one
            stepper.start(actions[stepper.rows])
        for stepper in busy:  # in slot order, so the returns come in the order of one process
            obs[stepper.rows], finished, _ = stepper.result()
            for k, episode_return in finished:
                returns[k].append(episode_return)
        busy = [stepper for stepper in busy if stepper.remaining]


MIN_SHARE = 8  # environments: fewer than this per process and the messages cost more than the steps


class _Share:
    """A block of the evaluation's environments (slots ``(member, env)``) with their episode
    quotas and running returns, stepped one after another."""

    def __init__(self, slots: list[tuple[int, int]], envs: list[list[Any]], quotas: list[int],
                 obs: np.ndarray) -> None:
        self.rows = tuple(np.array(index) for index in zip(*slots, strict=True))  # indexes obs[k, e]
        self.slots = slots
        self.envs = [envs[k][e] for k, e in slots]
        self.quotas = np.array([quotas[e] for _, e in slots])
        self.running = np.zeros(len(slots))
        self.obs = obs[self.rows].copy()
        self.remaining = int(self.quotas.sum())
        self._result: tuple[np.ndarray, list[tuple[int, float]], int] | None = None

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, list[tuple[int, float]], int]:
        """Step every environment with episodes left; returns the block's observations, the
        ``(member, return)`` of each episode that ended, and the episodes still to run."""
        finished = []
        for i in np.nonzero(self.quotas > 0)[0]:
            env = self.envs[i]
            next_obs, reward, terminated, truncated, _ = env.step(int(actions[i]))
            self.running[i] += float(reward)
            if terminated or truncated:
                finished.append((self.slots[i][0], float(self.running[i])))
                self.running[i] = 0.0
                self.quotas[i] -= 1
                if self.quotas[i] == 0:
                    continue
                next_obs, _ = env.reset()
            self.obs[i] = next_obs
        self.remaining = int(self.quotas.sum())
        return self.obs, finished, self.remaining

    def start(self, actions: np.ndarray) -> None:
        self._result = self.step(actions)

    def result(self) -> tuple[np.ndarray, list[tuple[int, float]], int]:
        assert self._result is not None
        return self._result


class _ForkedShare:
    """A ``_Share`` stepped by a forked copy of this process, in step with it, over a pipe.

    The child only steps environments and answers; it ignores Ctrl-C and SIGTERM (this process
    handles them and stops it) and leaves with ``os._exit``, so none of this process's cleanup
    (checkpoints, log files) runs twice. It ends on ``stop()`` or when this process goes away.
    """

    def __init__(self, share: _Share, other_conns: list[Any]) -> None:
        self.rows, self.remaining = share.rows, share.remaining
        self.conn, child_conn = multiprocessing.Pipe()
        self.pid = fork()
        if self.pid == 0:
            _serve(share, child_conn, [self.conn, *other_conns])
        child_conn.close()

    def start(self, actions: np.ndarray) -> None:
        self.conn.send(actions)

    def result(self) -> tuple[np.ndarray, list[tuple[int, float]], int]:
        try:
            answer = self.conn.recv()
        except EOFError:
            raise RuntimeError("an evaluation process ended unexpectedly") from None
        if isinstance(answer, str):
            raise RuntimeError(f"an evaluation process failed: {answer}")
        self.remaining = answer[2]
        return answer

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.conn.close()
        os.waitpid(self.pid, 0)


def _serve(share: _Share, conn: Any, inherited: list[Any]) -> None:
    """The forked child's whole life: step ``share`` for each batch of actions until told to
    stop, then exit without running anything of the parent's."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for other in inherited:
            other.close()
        while (actions := conn.recv()) is not None:
            conn.send(share.step(actions))
        code = 0
    except EOFError:  # the parent went away
        code = 0
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises it
        try:
            conn.send(f"{type(error).__name__}: {error}")
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _is_numpy_cartpole(env_id: str) -> bool:
    spec = gym.registry.get(env_id)
    return getattr(spec, "vector_entry_point", None) == "gymnasium.envs.classic_control.cartpole:CartPoleVectorEnv"


def _evaluate_vectorized(policy: Policy, env_id: str, episodes: int, seeds: Sequence[int]) -> list[np.ndarray]:
    """One episode in each of ``episodes`` CartPoles per member, member k's starting from the
    states Gymnasium's numpy-vectorized CartPole, reset with ``seeds[k]``, starts from. The
    states of the episodes still running are stepped as one array with Gymnasium's arithmetic
    (``CartPolePhysics``); an episode that has ended leaves it, and its observation, no longer
    updated, is still shown to the policy (whose action for it is unused)."""
    physics = CartPolePhysics.of_gymnasium(env_id)
    state = np.concatenate([physics.start_states(seed, episodes) for seed in seeds], axis=1)
    obs = state.T.astype(np.float32).reshape(len(seeds), episodes, -1)
    rows = obs.reshape(len(seeds) * episodes, -1)  # a view: writing a row updates obs
    running = np.arange(len(seeds) * episodes)  # the (member, episode) rows still running
    lengths = np.zeros(len(seeds) * episodes)  # every step of CartPole-v1 is worth 1
    for step in range(1, physics.max_episode_steps + 1):
        actions = np.asarray(policy(obs)).reshape(-1)[running]
        state, terminated = physics.step(state, actions)
        lengths[running] = step
        if step == physics.max_episode_steps or terminated.all():
            break
        if terminated.any():
            running, state = running[~terminated], state[:, ~terminated]
        rows[running] = state.T
    return list(lengths.reshape(len(seeds), episodes))


def random_policy(n_actions: int, seed: int = 0) -> Policy:
    """A policy that picks uniformly random actions (the baseline to beat)."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, n_actions, size=len(obs))
