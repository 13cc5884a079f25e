"""deepq: deep Q-learning that works out of the box, from CartPole to Atari and the sand car.

``import deepq`` does not load torch: the names below are imported on first use, so that the
``deepq`` command can choose how torch's OpenMP threads wait before torch loads (``deepq.cpu``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from deepq.cpu import sleep_idle_threads

# Idle OpenMP threads sleep instead of spinning, unless the user chose otherwise: this must be
# set before torch loads its OpenMP runtime. The training commands choose a watched spin instead
# (deepq.cpu.spin_while_idle); a program that imports deepq gets threads that never hold a core.
sleep_idle_threads()

if TYPE_CHECKING:
    from deepq.agent import DQNAgent, next_state_value, q_taken, td_loss, td_loss_grad, td_target
    from deepq.api import DQN
    from deepq.config import PRESETS, DQNConfig

__version__ = "0.1.0"
_EXPORTS = {
    "DQN": "deepq.api", "DQNAgent": "deepq.agent", "DQNConfig": "deepq.config", "PRESETS": "deepq.config",
    "next_state_value": "deepq.agent", "q_taken": "deepq.agent", "td_loss": "deepq.agent",
    "td_loss_grad": "deepq.agent", "td_target": "deepq.agent",
}
__all__ = [
    "DQN", "DQNAgent", "DQNConfig", "PRESETS", "next_state_value", "q_taken", "td_loss", "td_loss_grad",
    "td_target",
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
