"""Atari games from ale-py with the standard DQN preprocessing, built from Gymnasium's wrappers.

No-op starts (up to 30), frame skip 4 with a max over the last two frames, 84x84 grayscale
(Gymnasium's AtariPreprocessing); FIRE after reset where the game needs it; episodic life for
training (a lost life ends the learning episode, the game goes on); the last 4 frames stacked
(FrameStackObservation, padding an episode's start with its first frame). Rewards are clipped
to their sign by the trainer (``clip_rewards``), which logs the raw score.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

FRAME_STACK = 4


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/") or "NoFrameskip" in env_id


class FireReset(gym.Wrapper):
    """Press FIRE after each reset, for games that wait for it (Breakout)."""

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        for action in (1, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        return obs, info


class EpisodicLife(gym.Wrapper):
    """A lost life ends the episode for learning; the game itself resets only when it is over."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.lives = 0
        self.game_over = True

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = self.env.unwrapped.ale.lives()
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return obs, float(reward), terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:  # a life was lost: carry on from where the game is, with a no-op step
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self.lives = self.env.unwrapped.ale.lives()
        return obs, info


def make_atari(env_id: str, training: bool, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """One preprocessed, frame-stacked Atari environment: observations (4, 84, 84) uint8."""
    import ale_py

    gym.register_envs(ale_py)
    if env_id.startswith("ALE/"):
        kwargs.setdefault("frameskip", 1)  # AtariPreprocessing does the skipping
    env = gym.make(env_id, render_mode=render_mode, **kwargs)
    env = AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)
    if training:
        env = EpisodicLife(env)
    if "FIRE" in env.unwrapped.get_action_meanings():
        env = FireReset(env)
    return FrameStackObservation(env, FRAME_STACK, padding_type="reset")


def clip_reward(rewards: np.ndarray) -> np.ndarray:
    """The sign of each reward: -1, 0 or +1 (Mnih et al., 2015)."""
    return np.sign(rewards).astype(np.float32)
