"""Replay memories: where transitions wait between the environment and the learner."""

from deepq.replay.frames import FrameReplay
from deepq.replay.members import MemberReplays
from deepq.replay.nstep import NStepCollector
from deepq.replay.prioritized import PrioritizedReplay, SumTree
from deepq.replay.rollout import RolloutMemory
from deepq.replay.uniform import Batch, ReplayBuffer

__all__ = ["Batch", "FrameReplay", "MemberReplays", "NStepCollector", "PrioritizedReplay", "ReplayBuffer",
           "RolloutMemory", "SumTree"]
