"""Environments: Gymnasium ids made and checked in one place, plus deepq's own."""

from deepq.envs.make import EnvError, env_spaces, make_env, make_vector_env

__all__ = ["EnvError", "env_spaces", "make_env", "make_vector_env"]
