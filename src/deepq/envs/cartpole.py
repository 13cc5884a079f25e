"""Many CartPole-v1 environments stepped as numpy arrays, reset one by one from seeds.

Gymnasium ships CartPole's dynamics both as the single environment ``CartPole-v1`` and as
``CartPoleVectorEnv``, which steps N of them as arrays with no Python loop over them. That
vector environment resets all its environments from one generator, so an environment's start
depends on its neighbours. ``CartPoleBatch`` keeps the array stepping but resets environment
i from its own seed exactly as ``gym.make("CartPole-v1").reset(seed=s)`` does, and leaves the
resets to the caller (no autoreset): each environment then follows the very trajectory a
``CartPole-v1`` would, whichever environments run beside it (``tests/test_envs.py`` checks
this observation for observation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding

RESET_BOUND = 0.05  # CartPole-v1 starts each state variable uniformly in [-0.05, 0.05]


def is_batchable(env_id: str, kwargs: dict[str, Any]) -> bool:
    """Whether ``env_id`` with these options can run as a ``CartPoleBatch``."""
    return env_id == "CartPole-v1" and not kwargs


class CartPoleBatch:
    """``num_envs`` CartPole-v1 environments with the vector API's ``reset`` and ``step``.

    ``reset(seed=[...], options={"reset_mask": m})`` restarts the masked environments, each from
    its own seed; ``step`` never restarts one, so call ``reset`` for those that are done.
    """

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.vector = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
        self.core = self.vector.unwrapped
        self.core.reset(seed=0)  # allocates the state arrays; every environment is reset again below

    def reset(self, seed: Sequence[int | None], options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        mask = np.asarray(options["reset_mask"]) if options and "reset_mask" in options else np.ones(self.num_envs, bool)
        for i in np.flatnonzero(mask):
            start_rng, _ = seeding.np_random(seed[i])
            self.core.state[:, i] = start_rng.uniform(-RESET_BOUND, RESET_BOUND, size=4)
        self.core.steps[mask] = 0
        return self.observations(), {}

    def observations(self) -> np.ndarray:
        return self.core.state.T.astype(np.float32)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        self.core.prev_done[:] = False  # the core would restart these from its own generator
        obs, rewards, terminated, truncated, _ = self.core.step(np.asarray(actions))
        return obs, rewards.astype(np.float64), terminated, truncated, {}

    def step_one(self, index: int, action: int) -> np.ndarray:
        """Advance environment ``index`` alone (replaying a saved episode); returns its observation."""
        state, steps = self.core.state.copy(), self.core.steps.copy()
        actions = np.zeros(self.num_envs, dtype=np.int64)
        actions[index] = action
        self.core.prev_done[:] = False
        self.core.step(actions)
        state[:, index], steps[index] = self.core.state[:, index], self.core.steps[index]
        self.core.state, self.core.steps = state, steps
        return self.core.state[:, index].astype(np.float32)

    def close(self) -> None:
        self.vector.close()
