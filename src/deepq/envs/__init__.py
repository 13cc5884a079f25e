"""Environments: Gymnasium ids made and checked in one place, plus deepq's own."""

import gymnasium as gym

from deepq.envs.make import EnvError, env_spaces, make_env
from deepq.envs.resumable import ResumableVectorEnv

if "deepq/SandCar-v0" not in gym.registry:
    # The course's task never ends; the time limit only cuts it into episodes for training.
    gym.register("deepq/SandCar-v0", entry_point="deepq.envs.sandcar:SandCarEnv",
                 max_episode_steps=2000)

__all__ = ["EnvError", "ResumableVectorEnv", "env_spaces", "make_env"]
