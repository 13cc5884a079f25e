"""MinAtar (Young & Tian, 2019): five Atari-like games on a 10x10 grid, made for CPUs.

The ``minatar`` package registers ``MinAtar/<Game>-v0`` (all 6 actions) and ``-v1`` (each
game's minimal action set) for Asterix, Breakout, Freeway, Seaquest and SpaceInvaders. Its
observations are (10, 10, channels) booleans, one channel per kind of object; deepq gives the
network (channels, 10, 10) uint8 maps, as the paper's CNN reads them.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from deepq.errors import EnvError

GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")


def is_minatar(env_id: str) -> bool:
    return env_id.startswith("MinAtar/")


def register_minatar() -> None:
    """Register MinAtar's ids with Gymnasium (once), or say which extra installs it."""
    if "MinAtar/Breakout-v1" in gym.registry:
        return
    try:
        import minatar.gym
    except ImportError:
        raise EnvError("MinAtar ids need the minatar package: pip install 'deepq[minatar]'") from None
    minatar.gym.register_envs()


class ChannelsFirst(gym.ObservationWrapper):
    """(H, W, C) boolean maps -> (C, H, W) uint8."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        h, w, c = env.observation_space.shape
        self.observation_space = gym.spaces.Box(0, 1, shape=(c, h, w), dtype=np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(observation, -1, 0), dtype=np.uint8)
