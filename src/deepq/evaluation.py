"""Greedy evaluation: many episodes run as one batch of environments."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from deepq.envs import make_env

Policy = Callable[[np.ndarray], np.ndarray]


def evaluate(
    policy: Policy, env_id: str, episodes: int, seed: int = 0, max_batch: int = 100,
    env_kwargs: dict[str, Any] | None = None,
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
                            env_kwargs)[0]


def evaluate_members(
    policy: Policy, env_id: str, episodes: int, seeds: Sequence[int], max_batch: int = 100,
    env_kwargs: dict[str, Any] | None = None,
) -> list[np.ndarray]:
    """``evaluate`` for K policies at once (an ensemble's members), member ``k`` seeded
    ``seeds[k]``: ``policy`` maps observations ``(K, N, ...)`` to actions ``(K, N)``. Each
    member's episodes are exactly those it would get evaluated alone."""
    if not env_kwargs and _numpy_vector_entry_point(env_id):
        return _evaluate_vectorized(policy, env_id, episodes, seeds)
    n_envs = min(episodes, max_batch)
    quotas = np.array([[episodes // n_envs + (1 if e < episodes % n_envs else 0) for e in range(n_envs)]
                       for _ in seeds])
    envs = [[make_env(env_id, **(env_kwargs or {})) for _ in range(n_envs)] for _ in seeds]
    obs = np.stack([[env.reset(seed=seed + e)[0] for e, env in enumerate(member)]
                    for seed, member in zip(seeds, envs, strict=True)])
    running = np.zeros(quotas.shape)
    returns: list[list[float]] = [[] for _ in seeds]
    while (quotas > 0).any():
        actions = policy(obs)  # environments that are done still get (unused) actions
        for k, e in zip(*np.nonzero(quotas > 0), strict=True):
            next_obs, reward, terminated, truncated, _ = envs[k][e].step(int(actions[k, e]))
            running[k, e] += float(reward)
            if terminated or truncated:
                returns[k].append(running[k, e])
                running[k, e] = 0.0
                quotas[k, e] -= 1
                if quotas[k, e] == 0:
                    continue
                next_obs, _ = envs[k][e].reset()
            obs[k, e] = next_obs
    for member in envs:
        for env in member:
            env.close()
    return [np.asarray(r, dtype=np.float64) for r in returns]


def _numpy_vector_entry_point(env_id: str) -> bool:
    spec = gym.registry.get(env_id)
    entry = getattr(spec, "vector_entry_point", None)
    return isinstance(entry, str) and entry.startswith("gymnasium.envs.classic_control")


def _evaluate_vectorized(policy: Policy, env_id: str, episodes: int, seeds: Sequence[int]) -> list[np.ndarray]:
    """One episode in each of ``episodes`` environments per member, all members' environments
    in one numpy-vectorized environment; an environment that has finished keeps stepping (it
    autoresets) but no longer counts. Member k's block starts from the states its own
    vectorized environment, reset with ``seeds[k]``, starts from."""
    envs = gym.make_vec(env_id, num_envs=len(seeds) * episodes, vectorization_mode="vector_entry_point")
    envs.reset(seed=seeds[0])
    starts = []
    for seed in seeds:
        member = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="vector_entry_point")
        member.reset(seed=seed)
        starts.append(member.unwrapped.state)
        member.close()
    envs.unwrapped.state = np.concatenate(starts, axis=-1)
    obs = envs.unwrapped.state.T.astype(np.float32).reshape(len(seeds), episodes, -1)
    returns = np.zeros((len(seeds), episodes))
    finished = np.zeros((len(seeds), episodes), dtype=bool)
    while not finished.all():
        actions = np.asarray(policy(obs)).reshape(-1)
        flat_obs, rewards, terminated, truncated, _ = envs.step(actions)
        obs = flat_obs.reshape(obs.shape)
        returns += np.where(finished, 0.0, rewards.reshape(finished.shape))
        finished |= (terminated | truncated).reshape(finished.shape)
    envs.close()
    return list(returns)


def random_policy(n_actions: int, seed: int = 0) -> Policy:
    """A policy that picks uniformly random actions (the baseline to beat)."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, n_actions, size=len(obs))
