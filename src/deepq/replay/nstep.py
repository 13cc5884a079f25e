"""n-step returns: turn one-step transitions from vectorized environments into n-step ones.

The transition stored for time t is (s_t, a_t, R, s_{t+k}, terminated, gamma^k) with
R = r_t + gamma r_{t+1} + ... + gamma^(k-1) r_{t+k-1}, k = n normally. At an episode end the
pending transitions are flushed with k < n: after a termination they do not bootstrap
(``terminated`` = 1); after a truncation they bootstrap from the last real observation with
gamma^k. Each environment of a vector keeps its own window, so episodes never mix.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import torch

Transitions = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class NStepCollector:
    """Feed it each vector step; it returns the n-step transitions that are complete, environment
    by environment (``last_envs`` says which environment each came from)."""

    def __init__(self, n: int, gamma: float, num_envs: int) -> None:
        self.n = int(n)
        self.gamma = float(gamma)
        self.num_envs = num_envs
        # Per environment: the last (obs, action, reward) steps not yet stored.
        self.windows: list[deque[tuple[np.ndarray, int, float]]] = []
        self._one_step_discounts = np.full(num_envs, self.gamma, dtype=np.float32)
        self._all_envs = np.arange(num_envs)
        self._last_envs: list[int] | np.ndarray = []
        self.clear()

    @property
    def last_envs(self) -> np.ndarray:
        """The environment each row of the last push came from (built only when asked for)."""
        return np.asarray(self._last_envs, dtype=np.int64)

    def clear(self) -> None:
        """Forget pending steps (when the environments start fresh episodes)."""
        self.windows = [deque() for _ in range(self.num_envs)]

    def push(
        self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
        terminated: np.ndarray, truncated: np.ndarray,
    ) -> Transitions:
        """(obs, actions, returns, next_obs, terminated, discounts) ready for the memory."""
        if self.n == 1:  # nothing to accumulate
            self._last_envs = self._all_envs
            return obs, actions, rewards, next_obs, terminated, self._one_step_discounts
        rows: list[tuple[np.ndarray, int, float, np.ndarray, bool, float]] = []
        envs: list[int] = []
        for e, window in enumerate(self.windows):
            window.append((obs[e].copy(), int(actions[e]), float(rewards[e])))
            if terminated[e] or truncated[e]:
                while window:  # flush: shorter returns, cut at the episode's end
                    rows.append(self._emit(window, next_obs[e], bool(terminated[e])))
                    envs.append(e)
                    window.popleft()
            elif len(window) == self.n:
                rows.append(self._emit(window, next_obs[e], False))
                envs.append(e)
                window.popleft()
        self._last_envs = envs
        if not rows:
            shape = obs.shape[1:]
            empty = np.zeros((0, *shape), dtype=obs.dtype)
            return (empty, np.zeros(0, np.int64), np.zeros(0, np.float32), empty.copy(),
                    np.zeros(0, np.float32), np.zeros(0, np.float32))
        first, acts, returns, last, terms, discounts = zip(*rows, strict=True)
        return (np.stack(first), np.asarray(acts, np.int64), np.asarray(returns, np.float32),
                np.stack(last), np.asarray(terms, np.float32), np.asarray(discounts, np.float32))

    def _emit(self, window: deque[tuple[np.ndarray, int, float]], last_obs: np.ndarray,
              terminated: bool) -> tuple[np.ndarray, int, float, np.ndarray, bool, float]:
        ret = 0.0
        for k, (_, _, reward) in enumerate(window):
            ret += self.gamma**k * reward
        first_obs, action, _ = window[0]
        return first_obs, action, ret, last_obs.copy(), terminated, self.gamma ** len(window)

    def state_dict(self) -> dict[str, Any]:
        """The pending steps of each environment (they go in checkpoints for exact resume)."""
        return {"windows": [
            {"obs": torch.from_numpy(np.stack([o for o, _, _ in w])) if w else None,
             "actions": [a for _, a, _ in w], "rewards": [r for _, _, r in w]}
            for w in self.windows
        ]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.clear()
        for window, saved in zip(self.windows, state["windows"], strict=True):
            if saved["obs"] is not None:
                for o, a, r in zip(saved["obs"].numpy(), saved["actions"], saved["rewards"], strict=True):
                    window.append((o.copy(), int(a), float(r)))
