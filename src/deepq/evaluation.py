"""Greedy evaluation: many episodes run as one batch of environments."""

from __future__ import annotations

from collections.abc import Callable
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
    if not env_kwargs and _numpy_vector_entry_point(env_id):
        return _evaluate_vectorized(policy, env_id, episodes, seed)
    n_envs = min(episodes, max_batch)
    quotas = [episodes // n_envs + (1 if e < episodes % n_envs else 0) for e in range(n_envs)]
    envs = [make_env(env_id, **(env_kwargs or {})) for _ in range(n_envs)]
    obs = [env.reset(seed=seed + e)[0] for e, env in enumerate(envs)]
    running = np.zeros(n_envs)
    returns: list[float] = []
    active = list(range(n_envs))
    while active:
        actions = policy(np.stack([obs[e] for e in active]))
        still_active = []
        for e, action in zip(active, actions, strict=True):
            next_obs, reward, terminated, truncated, _ = envs[e].step(int(action))
            running[e] += float(reward)
            if terminated or truncated:
                returns.append(running[e])
                running[e] = 0.0
                quotas[e] -= 1
                if quotas[e] == 0:
                    continue
                next_obs, _ = envs[e].reset()
            obs[e] = next_obs
            still_active.append(e)
        active = still_active
    for env in envs:
        env.close()
    return np.asarray(returns, dtype=np.float64)


def _numpy_vector_entry_point(env_id: str) -> bool:
    spec = gym.registry.get(env_id)
    entry = getattr(spec, "vector_entry_point", None)
    return isinstance(entry, str) and entry.startswith("gymnasium.envs.classic_control")


def _evaluate_vectorized(policy: Policy, env_id: str, episodes: int, seed: int) -> np.ndarray:
    """One episode in each of ``episodes`` environments of one numpy-vectorized environment;
    an environment that has finished keeps stepping (it autoresets) but no longer counts."""
    envs = gym.make_vec(env_id, num_envs=episodes, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=seed)
    returns = np.zeros(episodes)
    finished = np.zeros(episodes, dtype=bool)
    while not finished.all():
        obs, rewards, terminated, truncated, _ = envs.step(np.asarray(policy(obs)))
        returns += np.where(finished, 0.0, rewards)
        finished |= terminated | truncated
    envs.close()
    return returns


def random_policy(n_actions: int, seed: int = 0) -> Policy:
    """A policy that picks uniformly random actions (the baseline to beat)."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, n_actions, size=len(obs))
