"""deepq: deep Q-learning that works out of the box, from CartPole to Atari and the sand car.

``import deepq`` registers deepq's own Gymnasium environment (``deepq/SandCar-v0``) and changes
nothing else in the process; the names below (and torch) are imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

import gymnasium as gym

if "deepq/SandCar-v0" not in gym.registry:
    # The course's task never ends; the time limit only cuts it into episodes for training.
    gym.register("deepq/SandCar-v0", entry_point="deepq.envs.sandcar:SandCarEnv", max_episode_steps=2000)

if TYPE_CHECKING:
    from deepq.agent import DQNAgent, next_state_value, q_taken, td_loss, td_target
    from deepq.api import DQN
    from deepq.config import PRESETS, DQNConfig

__version__ = "0.2.0"  # the one place the version is written (pyproject reads it)
_EXPORTS = {
    "DQN": "deepq.api", "DQNAgent": "deepq.agent", "DQNConfig": "deepq.config", "PRESETS": "deepq.config",
    "next_state_value": "deepq.agent", "q_taken": "deepq.agent", "td_loss": "deepq.agent",
    "td_target": "deepq.agent",
}
__all__ = [
    "DQN", "DQNAgent", "DQNConfig", "PRESETS", "next_state_value", "q_taken", "td_loss", "td_target",
]


def lazy_exports(namespace: dict[str, Any], exports: dict[str, str]) -> Callable[[str], Any]:
    """A module's ``__getattr__`` that imports each name in ``exports`` (name -> module) when it
    is first asked for and keeps it in ``namespace``, the module's globals."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name]), name)
        namespace[name] = value
        return value

    return __getattr__


__getattr__ = lazy_exports(globals(), _EXPORTS)
