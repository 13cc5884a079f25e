"""The self-driving car of the course: its world (SandCar), its brain (Dqn), its odometer, and its app.

The names below are imported on first use (``import deepq.car`` does not load torch).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deepq.car.brain import Dqn
    from deepq.car.odometer import Odometer
    from deepq.car.specs import BRAINS

_EXPORTS = {"BRAINS": "deepq.car.specs", "Dqn": "deepq.car.brain", "Odometer": "deepq.car.odometer"}
__all__ = ["BRAINS", "Dqn", "Odometer"]


def __getattr__(name: str) -> Any:
    """``deepq.car.Dqn`` and the other exports, imported when first asked for."""
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepq.car' has no attribute {name!r}")
