"""Environments: Gymnasium ids made and checked in one place, plus deepq's own."""

import gymnasium as gym

from deepq.envs.make import EnvError, env_spaces, make_env, make_vector_env

if "deepq/SandCar-v0" not in gym.registry:
    # The course's task never ends; the time limit only cuts it into episodes for training.
    gym.register("deepq/SandCar-v0", entry_point="deepq.envs.sandcar:SandCarEnv",
                 max_episode_steps=2000)

__all__ = ["EnvError", "env_spaces", "make_env", "make_vector_env"]
