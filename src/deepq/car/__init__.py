"""The self-driving car of the course: its world (SandCar), its brain (Dqn), its odometer, and its app.

The names below are imported on first use (``import deepq.car`` does not load torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepq import lazy_exports

if TYPE_CHECKING:
    from deepq.car.brain import Dqn
    from deepq.car.odometer import Odometer
    from deepq.car.specs import BRAINS

_EXPORTS = {"BRAINS": "deepq.car.specs", "Dqn": "deepq.car.brain", "Odometer": "deepq.car.odometer"}
__all__ = ["BRAINS", "Dqn", "Odometer"]
__getattr__ = lazy_exports(globals(), _EXPORTS)
