"""deepq: deep Q-learning that works out of the box, from CartPole to Atari and the sand car."""

from deepq.agent import DQNAgent, next_state_value, q_taken, td_loss, td_target
from deepq.api import DQN
from deepq.config import PRESETS, DQNConfig

__version__ = "0.1.0"
__all__ = [
    "DQN", "DQNAgent", "DQNConfig", "PRESETS", "next_state_value", "q_taken", "td_loss", "td_target",
]
