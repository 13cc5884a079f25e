"""deepq: deep Q-learning that works out of the box, from CartPole to Atari and the sand car."""

import os

# Idle OpenMP threads sleep instead of spinning (unless the user chose otherwise). This must be
# set before torch loads its OpenMP runtime. With spinning, a multi-threaded run (--seeds) on a
# machine where anything else is busy ran 3x slower; on a quiet machine sleeping costs nothing
# measurable (docs/performance.md). A short spin first (GNU OpenMP's GOMP_SPINCOUNT; ~0.1 ms)
# keeps a thread awake between the back-to-back products of one learn step: LunarLander's
# 2-thread step took ~0.91x as long in the run.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from deepq.agent import DQNAgent, next_state_value, q_taken, td_loss, td_loss_grad, td_target
from deepq.api import DQN
from deepq.config import PRESETS, DQNConfig

__version__ = "0.1.0"
__all__ = [
    "DQN", "DQNAgent", "DQNConfig", "PRESETS", "next_state_value", "q_taken", "td_loss", "td_loss_grad",
    "td_target",
]
