"""n-step returns: turn one-step transitions from vectorized environments into n-step ones.

The transition stored for time t is (s_t, a_t, R, s_{t+k}, terminated, gamma^k) with
R = r_t + gamma r_{t+1} + ... + gamma^(k-1) r_{t+k-1}, k = n normally. At an episode end the
pending transitions are flushed with k < n: after a termination they do not bootstrap
(``terminated`` = 1); after a truncation they bootstrap from the last real observation with
gamma^k. Each environment of a vector keeps its own window, so episodes never mix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

Transitions = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class NStepCollector:
    """Feed it each vector step; it returns the n-step transitions that are complete, environment
    by environment (``last_envs`` says which environment each came from).

    The last n steps of every environment sit in ring arrays ``(n, num_envs, ...)``: a push
    writes one slot, and an environment's pending steps are the last ``pending[e]`` slots, oldest
    first. A push is a few array operations whatever the number of environments."""

    def __init__(self, n: int, gamma: float, num_envs: int) -> None:
        self.n = int(n)
        self.gamma = float(gamma)
        self.num_envs = num_envs
        # gamma^k for k = 0..n, as Python computes them (float64): returns and discounts are
        # the numbers a step-by-step sum r_0 + gamma r_1 + ... gives.
        self._powers = np.array([self.gamma**k for k in range(self.n + 1)])
        self._one_step_discounts = np.full(num_envs, self.gamma, dtype=np.float32)
        self._n_step_discounts = self._powers[self.n].astype(np.float32).repeat(num_envs)
        self._all_envs = np.arange(num_envs)
        self._last_envs = self._all_envs[:0]
        self._obs: np.ndarray | None = None  # (n, num_envs, *obs_shape), made at the first push
        self._actions = np.zeros((self.n, num_envs), dtype=np.int64)
        self._rewards = np.zeros((self.n, num_envs), dtype=np.float64)
        self._pending = np.zeros(num_envs, dtype=np.int64)  # each environment's steps not yet stored
        self._t = 0  # pushes so far: the next push writes slot t % n

    @property
    def last_envs(self) -> np.ndarray:
        """The environment each row of the last push came from."""
        return self._last_envs

    def clear(self) -> None:
        """Forget pending steps (when the environments start fresh episodes)."""
        self._pending[:] = 0

    def push(
        self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
        terminated: np.ndarray, truncated: np.ndarray,
    ) -> Transitions:
        """(obs, actions, returns, next_obs, terminated, discounts) ready for the memory."""
        if self.n == 1:  # nothing to accumulate
            self._last_envs = self._all_envs
            return obs, actions, rewards, next_obs, terminated, self._one_step_discounts
        n, t = self.n, self._t
        if self._obs is None:
            self._obs = np.zeros((n, self.num_envs, *obs.shape[1:]), dtype=obs.dtype)
        self._obs[t % n] = obs
        self._actions[t % n] = actions
        self._rewards[t % n] = rewards
        self._t = t + 1
        ended = np.logical_or(terminated, truncated)
        if ended.any():
            self._pending += 1
            return self._flush(ended, terminated, next_obs)
        # The usual step: each window that this step fills gives its oldest step, all from the same slot.
        oldest = (t + 1) % n
        returns = self._powers[0] * self._rewards[oldest]
        for k in range(1, n):
            returns += self._powers[k] * self._rewards[(oldest + k) % n]
        full = self._pending == n - 1  # these windows stay at n - 1 pending steps
        if full.all():
            self._last_envs = self._all_envs
            return (self._obs[oldest].copy(), self._actions[oldest].copy(), returns.astype(np.float32),
                    next_obs, np.zeros(self.num_envs, np.float32), self._n_step_discounts)
        envs = np.flatnonzero(full)
        self._last_envs = envs
        self._pending[~full] += 1
        return (self._obs[oldest, envs], self._actions[oldest, envs], returns[envs].astype(np.float32),
                next_obs[envs], np.zeros(len(envs), np.float32), self._n_step_discounts[:len(envs)])

    def _flush(self, ended: np.ndarray, terminated: np.ndarray, next_obs: np.ndarray) -> Transitions:
        """A push in which some episodes ended: those environments give every pending step
        (shorter returns, cut at the end), the others their full windows' oldest step."""
        n, pending = self.n, self._pending
        full = ~ended & (pending == n)
        counts = np.where(ended, pending, full.astype(np.int64))
        envs = np.repeat(self._all_envs, counts)
        self._last_envs = envs
        rank = np.arange(len(envs)) - np.repeat(np.cumsum(counts) - counts, counts)  # step within the window
        length = pending[envs] - rank  # steps in the row's return
        first_slot = (self._t - pending[envs] + rank) % n
        returns = np.zeros(len(envs))
        for k in range(n):
            term = self._powers[k] * self._rewards[(first_slot + k) % n, envs]
            returns = np.where(k < length, returns + term, returns)
        rows = (self._obs[first_slot, envs], self._actions[first_slot, envs], returns.astype(np.float32),
                next_obs[envs], np.asarray(terminated, dtype=np.float32)[envs],
                self._powers[length].astype(np.float32))
        pending[ended] = 0
        pending[full] -= 1
        return rows

    def _window(self, e: int) -> list[int]:
        """Environment e's pending slots, oldest first."""
        return [(self._t - self._pending[e] + j) % self.n for j in range(self._pending[e])]

    def state_dict(self) -> dict[str, Any]:
        """The pending steps of each environment (they go in checkpoints for exact resume)."""
        windows = []
        for e in range(self.num_envs):
            slots = self._window(e)
            windows.append({
                "obs": torch.from_numpy(self._obs[slots, e]) if slots and self._obs is not None else None,
                "actions": [int(self._actions[s, e]) for s in slots],
                "rewards": [float(self._rewards[s, e]) for s in slots],
            })
        return {"windows": windows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clear()
        self._t = 0
        for e, saved in enumerate(state["windows"]):
            if saved["obs"] is None:
                continue
            obs = saved["obs"].numpy()
            if self._obs is None:
                self._obs = np.zeros((self.n, self.num_envs, *obs.shape[1:]), dtype=obs.dtype)
            self._pending[e] = len(obs)
            for slot, o, a, r in zip(self._window(e), obs, saved["actions"], saved["rewards"], strict=True):
                self._obs[slot, e], self._actions[slot, e], self._rewards[slot, e] = o, a, r
