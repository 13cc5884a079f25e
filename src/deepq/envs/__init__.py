"""Environments: Gymnasium ids made and checked in one place, plus deepq's own."""

from deepq.envs.make import EnvError, env_spaces, make_env
from deepq.envs.resumable import ResumableVectorEnv

__all__ = ["EnvError", "ResumableVectorEnv", "env_spaces", "make_env"]
