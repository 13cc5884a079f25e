"""deepq: deep Q-learning that works out of the box, from CartPole to Atari and the sand car."""

import os

# Idle OpenMP threads sleep instead of spinning (unless the user chose otherwise). This must be
# set before torch loads its OpenMP runtime. With spinning, a multi-threaded run (--seeds) on a
# machine where anything else is busy ran 3x slower; on a quiet machine sleeping costs nothing
# measurable (docs/performance.md). Not even a short spin (GOMP_SPINCOUNT=10000): on a quiet
# machine it made LunarLander's 2-thread step ~0.9x as long, but beside one busy process it
# made `--seeds 0-7` 6.5x slower (197 s against 30 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from deepq.agent import DQNAgent, next_state_value, q_taken, td_loss, td_loss_grad, td_target
from deepq.api import DQN
from deepq.config import PRESETS, DQNConfig

__version__ = "0.1.0"
__all__ = [
    "DQN", "DQNAgent", "DQNConfig", "PRESETS", "next_state_value", "q_taken", "td_loss", "td_loss_grad",
    "td_target",
]
