"""The self-driving car of the course: its world (SandCar), its brain (Dqn), its odometer, and its app."""

from deepq.car.brain import BRAINS, Dqn
from deepq.car.odometer import Odometer

__all__ = ["BRAINS", "Dqn", "Odometer"]
