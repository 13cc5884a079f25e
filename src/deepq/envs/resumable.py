"""Vectorized environments whose exact state fits in a checkpoint.

A Gymnasium environment's state (physics, wrappers' counters, its random generator) cannot be
saved without pickling it. What can be saved is how it got there: every episode here starts
with ``reset(seed=s)``, ``s`` drawn from a seeded generator, and the actions taken since are
recorded. Restoring resets each environment with its episode's seed and replays the actions,
which rebuilds the same state for any environment that is deterministic given its seed
(classic control, Box2D, the ALE, the sand car).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from deepq.envs.ale_vector import AleVectorEnv, ale_options
from deepq.envs.atari import is_atari
from deepq.envs.cartpole import CartPoleBatch, is_batchable
from deepq.envs.make import make_env

SEED_RANGE = 2**31 - 1


class ResumableVectorEnv:
    """``num_envs`` copies of ``env_id`` stepped together: Gymnasium's SyncVectorEnv; CartPole-v1
    as one ``CartPoleBatch`` of numpy arrays (the same trajectories without a loop over them);
    Atari ids, unless ``backend="gymnasium"``, on ALE's C++ vector environment (``AleVectorEnv``).

    Resets are done here, not by the vector env's autoreset, so each new episode's seed is
    known: ``step`` returns the true last observation of a finished episode, and
    ``reset_done`` starts the next episodes.

    ``seed`` may be a list of K seeds (an ensemble's members): the environments are then K
    equal groups, group k drawing its episode seeds from ``seed[k]`` alone, as it would by itself.
    """

    def __init__(self, env_id: str, num_envs: int, seed: int | Sequence[int], backend: str = "auto",
                 **kwargs: Any) -> None:
        make_env(env_id, **kwargs).close()  # fail early, with deepq's message
        self.num_envs = num_envs
        self.envs: gym.vector.SyncVectorEnv | CartPoleBatch | AleVectorEnv
        if is_batchable(env_id, kwargs):
            self.envs = CartPoleBatch(num_envs)
        elif backend == "auto" and is_atari(env_id) and ale_options(env_id, kwargs) is not None:
            self.envs = AleVectorEnv(env_id, num_envs, **kwargs)
        else:
            self.envs = gym.vector.SyncVectorEnv(
                [lambda: make_env(env_id, training=True, **kwargs) for _ in range(num_envs)],
                autoreset_mode=gym.vector.AutoresetMode.DISABLED,
            )
        seeds = [seed] if isinstance(seed, int) else list(seed)
        if num_envs % len(seeds):
            raise ValueError(f"{num_envs} environments do not split into {len(seeds)} equal groups")
        self.seed_rngs = [np.random.default_rng(s) for s in seeds]
        self.group_size = num_envs // len(seeds)
        self.episode_seeds = [0] * num_envs
        self.episode_actions: list[list[int]] = [[] for _ in range(num_envs)]
        self.obs: np.ndarray | None = None

    def _new_seeds(self, indices: np.ndarray) -> list[int]:
        """Episode seeds for the environments at ``indices`` (ascending), each from its group's generator."""
        groups = indices // self.group_size
        seeds: list[int] = []
        for group in np.unique(groups):
            count = int((groups == group).sum())
            seeds += [int(s) for s in self.seed_rngs[group].integers(0, SEED_RANGE, size=count)]
        return seeds

    def reset(self) -> np.ndarray:
        """Start an episode in every environment; returns the first observations."""
        self.episode_seeds = self._new_seeds(np.arange(self.num_envs))
        self.episode_actions = [[] for _ in range(self.num_envs)]
        self.obs, _ = self.envs.reset(seed=list(self.episode_seeds))
        return self.obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(next observations, rewards, terminated, truncated); a finished episode's next
        observation is its true last one. Call ``reset_done`` before acting again."""
        next_obs, rewards, terminated, truncated, _ = self.envs.step(actions)
        for history, action in zip(self.episode_actions, actions.tolist(), strict=True):
            history.append(action)
        self.obs = next_obs
        return next_obs, rewards, terminated, truncated

    def reset_done(self, done: np.ndarray) -> np.ndarray:
        """Start new episodes where ``done``; returns the observations to act on next."""
        if isinstance(self.envs, AleVectorEnv):  # a lost life goes on in the same game
            lost = done & self.envs.life_lost
            if lost.any():
                self.obs = self.envs.go_on(lost)
            done = done & ~lost
        if not done.any():
            return self.obs
        indices = np.flatnonzero(done)
        seeds = self._new_seeds(indices)
        all_seeds: list[int | None] = [None] * self.num_envs
        for i, seed in zip(indices, seeds, strict=True):
            self.episode_seeds[i] = seed
            self.episode_actions[i] = []
            all_seeds[i] = seed
        self.obs, _ = self.envs.reset(seed=all_seeds, options={"reset_mask": done.astype(bool)})
        return self.obs

    def state_dict(self) -> dict[str, Any]:
        """Each environment's episode seed and actions so far, and the seed generator."""
        return {
            "seed_rngs": [rng.bit_generator.state for rng in self.seed_rngs],
            "episode_seeds": list(self.episode_seeds),
            "episode_actions": [torch.tensor(a, dtype=torch.int64) for a in self.episode_actions],
            "obs": torch.from_numpy(np.array(self.obs)),
        }

    def group_state_dict(self, k: int) -> dict[str, Any]:
        """``state_dict`` of group ``k`` alone (one member's environments): what its run alone saves."""
        rows = slice(k * self.group_size, (k + 1) * self.group_size)
        return {
            "seed_rngs": [self.seed_rngs[k].bit_generator.state],
            "episode_seeds": list(self.episode_seeds[rows]),
            "episode_actions": [torch.tensor(a, dtype=torch.int64) for a in self.episode_actions[rows]],
            "obs": torch.from_numpy(np.array(self.obs[rows])),
        }

    @staticmethod
    def join_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """One state for the groups whose ``group_state_dict`` s are ``states``, in order."""
        return {
            "seed_rngs": [rng for s in states for rng in (s["seed_rngs"] if "seed_rngs" in s else [s["seed_rng"]])],
            "episode_seeds": [seed for s in states for seed in s["episode_seeds"]],
            "episode_actions": [a for s in states for a in s["episode_actions"]],
            "obs": torch.cat([s["obs"] for s in states]),
        }

    def load_state_dict(self, state: dict[str, Any]) -> tuple[np.ndarray, bool]:
        """Rebuild the saved state; returns (observations, whether they match the saved ones).

        When an environment is not deterministic given its seed, the replayed observations
        differ from the saved ones; the caller then starts fresh episodes instead.
        """
        saved = state["seed_rngs"] if "seed_rngs" in state else [state["seed_rng"]]  # older checkpoints
        for rng, rng_state in zip(self.seed_rngs, saved, strict=True):
            rng.bit_generator.state = rng_state
        self.episode_seeds = [int(s) for s in state["episode_seeds"]]
        self.episode_actions = [a.tolist() for a in state["episode_actions"]]
        if isinstance(self.envs, AleVectorEnv):
            obs = self._replay_together()
        else:
            obs, _ = self.envs.reset(seed=list(self.episode_seeds))
            obs = np.array(obs)
            for i, history in enumerate(self.episode_actions):
                for action in history:
                    obs[i] = self._step_one(i, action)
        self.obs = obs
        return obs, bool(np.array_equal(obs, state["obs"].numpy()))

    def _replay_together(self) -> np.ndarray:
        """Replay on ALE, which steps all its games at once: game i, with L_i actions to replay
        out of T at most, is reset with its seed T - L_i steps in (no-ops before that), so the
        last step brings every game to where it was."""
        lengths = np.array([len(h) for h in self.episode_actions], dtype=np.int64)
        total = int(lengths.max(initial=0))
        begin = total - lengths
        obs, _ = self.envs.reset(seed=list(self.episode_seeds))
        for t in range(total + 1):
            late = (begin == t) & (t > 0)
            if late.any():
                obs, _ = self.envs.reset(seed=list(self.episode_seeds), options={"reset_mask": late})
            if t == total:
                break
            actions = np.array([h[t - b] if t >= b else 0 for h, b in zip(self.episode_actions, begin, strict=True)])
            self.envs.step(actions)
            obs = self.envs.go_on(self.envs.life_lost & (begin <= t))
        return np.array(obs)

    def _step_one(self, index: int, action: int) -> np.ndarray:
        """Advance environment ``index`` alone; returns its observation."""
        if isinstance(self.envs, CartPoleBatch):
            return self.envs.step_one(index, action)
        return self.envs.envs[index].step(action)[0]

    def close(self) -> None:
        self.envs.close()
