"""Make and check Gymnasium environments, with one clear error for an id that will not work."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from deepq.config import closest
from deepq.envs.atari import is_atari, make_atari
from deepq.envs.minatar import ChannelsFirst, is_minatar, register_minatar
from deepq.errors import EnvError  # noqa: F401 - raised here, importable from here


def _registered_ids() -> list[str]:
    return list(gym.registry.keys())


def _ensure_registered(env_id: str) -> None:
    if is_atari(env_id):
        import ale_py  # registers the ALE ids with Gymnasium

        gym.register_envs(ale_py)
    if is_minatar(env_id):
        register_minatar()
    if env_id not in gym.registry:
        raise EnvError(
            f"unknown environment {env_id!r}{closest(env_id, _registered_ids())}; "
            "use a Gymnasium id such as CartPole-v1 or LunarLander-v3"
        )


def make_env(env_id: str, render_mode: str | None = None, training: bool = False, **kwargs: Any) -> gym.Env:
    """``gym.make`` with deepq's checks: the id exists and the action space is Discrete.

    Atari ids get the standard DQN preprocessing (``deepq.envs.atari``); ``training`` adds
    episodic life there (evaluation plays whole games). MinAtar ids give (channels, 10, 10) maps.
    """
    _ensure_registered(env_id)
    try:
        if is_atari(env_id):
            env = make_atari(env_id, training, render_mode=render_mode, **kwargs)
        else:
            env = gym.make(env_id, render_mode=render_mode, **kwargs)
            if is_minatar(env_id):
                env = ChannelsFirst(env)
    except gym.error.DependencyNotInstalled as error:
        raise EnvError(f"{env_id} needs a package that is missing: {error}") from None
    except TypeError as error:
        raise EnvError(f"bad option for {env_id}: {error}") from None
    if not isinstance(env.action_space, gym.spaces.Discrete):
        kind = type(env.action_space).__name__
        env.close()
        raise EnvError(
            f"DQN needs a Discrete action space; {env_id} has {kind}. "
            "Pick an environment with discrete actions (e.g. LunarLander-v3, not continuous=True)"
        )
    return env


def env_spaces(env_id: str, **kwargs: Any) -> tuple[tuple[int, ...], Any, int]:
    """(observation shape, observation dtype, number of actions) of ``env_id``."""
    env = make_env(env_id, **kwargs)
    shape = tuple(env.observation_space.shape or ())
    dtype = env.observation_space.dtype or np.float32
    n_actions = int(env.action_space.n)
    env.close()
    return shape, dtype, n_actions
