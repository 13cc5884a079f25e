"""Replay memories: where transitions wait between the environment and the learner."""

from deepq.replay.uniform import Batch, ReplayBuffer

__all__ = ["Batch", "ReplayBuffer"]
