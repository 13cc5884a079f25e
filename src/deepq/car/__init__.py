"""The self-driving car of the course: its world (SandCar), its brain (Dqn), and its app."""

from deepq.car.brain import BRAINS, Dqn

__all__ = ["BRAINS", "Dqn"]
