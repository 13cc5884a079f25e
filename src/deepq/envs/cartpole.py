"""Many CartPole-v1 environments stepped as numpy arrays, reset one by one from seeds.

Gymnasium ships CartPole's dynamics both as the single environment ``CartPole-v1`` and as
``CartPoleVectorEnv``, which steps N of them as arrays with no Python loop over them. That
vector environment resets all its environments from one generator, so an environment's start
depends on its neighbours, and each step checks the actions against its action space and
handles its autoreset (together ~3x the arithmetic's time for 800 environments).

``CartPolePhysics.step`` is that vector environment's Euler step alone, the same operations in
the same order, so the same numbers, on any columns of states: the evaluation steps only the
episodes still running. ``CartPoleBatch`` resets environment i from its own seed exactly as
``gym.make("CartPole-v1").reset(seed=s)`` does, and leaves the resets to the caller (no
autoreset): each environment then follows the very trajectory a ``CartPole-v1`` would,
whichever environments run beside it (``tests/test_envs.py`` checks this observation for
observation, and the step against Gymnasium's vector step).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv
from gymnasium.utils import seeding

RESET_BOUND = 0.05  # CartPole-v1 starts each state variable uniformly in [-0.05, 0.05]


def is_batchable(env_id: str, kwargs: dict[str, Any]) -> bool:
    """Whether ``env_id`` with these options can run as a ``CartPoleBatch``."""
    return env_id == "CartPole-v1" and not kwargs


@dataclass(frozen=True)
class CartPolePhysics:
    """CartPole-v1's constants (read from Gymnasium's vector environment) and its Euler step."""

    gravity: float
    masspole: float
    total_mass: float
    length: float  # half the pole's length
    polemass_length: float
    force_mag: float
    tau: float
    theta_threshold: float
    x_threshold: float
    max_episode_steps: int

    @classmethod
    def of_gymnasium(cls, env_id: str = "CartPole-v1") -> CartPolePhysics:
        """``env_id``'s (CartPole-v1 or -v0, which stops at 200 steps)."""
        vector = CartPoleVectorEnv(num_envs=1, max_episode_steps=gym.spec(env_id).max_episode_steps)
        if vector.kinematics_integrator != "euler":
            raise RuntimeError(f"Gymnasium's CartPole integrates with {vector.kinematics_integrator!r}; "
                               "deepq's copy of its step integrates with 'euler'")
        return cls(vector.gravity, vector.masspole, vector.total_mass, vector.length, vector.polemass_length,
                   vector.force_mag, vector.tau, vector.theta_threshold_radians, vector.x_threshold,
                   vector.max_episode_steps)

    def step(self, state: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """States ``(4, N)`` (x, x', theta, theta'; float64) and actions ``(N,)`` (0 pushes left,
        1 right) -> the next states and whether each pole fell or the cart left the track."""
        x, x_dot, theta, theta_dot = state
        force = np.sign(actions - 0.5) * self.force_mag
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + self.polemass_length * np.square(theta_dot) * sin) / self.total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * np.square(cos) / self.total_mass))
        x_acc = temp - self.polemass_length * theta_acc * cos / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * x_acc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * theta_acc
        terminated = ((x < -self.x_threshold) | (x > self.x_threshold)
                      | (theta < -self.theta_threshold) | (theta > self.theta_threshold))
        return np.stack((x, x_dot, theta, theta_dot)), terminated

    def start_states(self, seed: int, count: int) -> np.ndarray:
        """The ``(4, count)`` states a ``CartPoleVectorEnv`` of ``count`` environments starts
        from after ``reset(seed=seed)``."""
        rng, _ = seeding.np_random(seed)
        return rng.uniform(low=-RESET_BOUND, high=RESET_BOUND, size=(4, count))


class CartPoleBatch:
    """``num_envs`` CartPole-v1 environments with the vector API's ``reset`` and ``step``.

    ``reset(seed=[...], options={"reset_mask": m})`` restarts the masked environments, each from
    its own seed; ``step`` never restarts one, so call ``reset`` for those that are done.
    """

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.physics = CartPolePhysics.of_gymnasium()
        self.state = np.zeros((4, num_envs))  # every environment is reset before its first step
        self.steps = np.zeros(num_envs, dtype=np.int64)

    def reset(self, seed: Sequence[int | None], options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        mask = np.asarray(options["reset_mask"]) if options and "reset_mask" in options else np.ones(self.num_envs, bool)
        for i in np.flatnonzero(mask):
            start_rng, _ = seeding.np_random(seed[i])
            self.state[:, i] = start_rng.uniform(-RESET_BOUND, RESET_BOUND, size=4)
        self.steps[mask] = 0
        return self.observations(), {}

    def observations(self) -> np.ndarray:
        return self.state.T.astype(np.float32)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        self.state, terminated = self.physics.step(self.state, np.asarray(actions))
        self.steps += 1
        truncated = self.steps >= self.physics.max_episode_steps
        return self.observations(), np.ones(self.num_envs), terminated, truncated, {}

    def step_one(self, index: int, action: int) -> np.ndarray:
        """Advance environment ``index`` alone (replaying a saved episode); returns its observation."""
        column, _ = self.physics.step(self.state[:, index:index + 1], np.array([action]))
        self.state[:, index] = column[:, 0]
        self.steps[index] += 1
        return self.state[:, index].astype(np.float32)

    def close(self) -> None:
        pass
