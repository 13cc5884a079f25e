"""The car's named brains: each one's network, temperature, discount and what it adds to the
course's. No torch here, so that the command line can list them before torch loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BrainSpec:
    """A brain: its hidden layers and softmax temperature, its discount, and for deepq's brains
    what they add to the course's."""

    hidden_sizes: tuple[int, ...]
    temperature: float
    note: str
    gamma: float = 0.9
    pose: bool = False  # the network also sees the pose an Odometer works out (5 more inputs)
    goal_bonus: float = 0.0  # added to the reward it learns from on the frame a goal is reached
    route: bool = False  # it also sees the angle to a waypoint on its way round the sand (2 more inputs; needs pose)
    route_reward: float = 0.0  # added to the reward it learns from, per 6 pixels gained along that way
    settings: dict[str, Any] = field(default_factory=dict)  # DQNConfig values beyond the course's

    def __post_init__(self) -> None:
        if self.route and not self.pose:
            raise ValueError("a route brain plans from its pose: it needs pose=True")


BRAINS: dict[str, BrainSpec] = {
    "course": BrainSpec((30,), 100.0, "the course's ai.py: 5 -> 30 -> 3, softmax(Q * 100)"),
    "tutorial": BrainSpec((60, 40, 25), 7.0, "the tutorial document: 5 -> 60 -> 40 -> 25 -> 3, softmax(Q * 7)"),
    # deepq's: the five course inputs plus the car's pose (10 -> 64 -> 64 -> 3), a longer horizon,
    # +2 for each goal on top of the course's reward, epsilon-greedy exploration annealed over
    # the first 30% of the run, 3-step double DQN with a target network. README, "The car".
    # Its softmax temperature (1.0) only matters with `--set exploration=boltzmann`.
    "pose": BrainSpec(
        (64, 64), 1.0, "deepq's: course inputs + odometer pose, 10 -> 64 -> 64 -> 3, epsilon-greedy",
        gamma=0.99, pose=True, goal_bonus=2.0,
        settings=dict(exploration="epsilon", exploration_fraction=0.3, exploration_final_eps=0.01,
                      n_step=3, learning_rate=1e-4, double=True, target_update_interval=1000)),
    # deepq's default: the pose brain, plus the way round the sand its sensors have shown
    # (sandmap.py): 12 -> 64 -> 64 -> 3, the angle to a waypoint on that way as two more inputs,
    # 0.3 for every 6 pixels gained along it, the course's gamma 0.9. README, "The car".
    "route": BrainSpec(
        (64, 64), 1.0, "deepq's: pose brain + the way round the sand it has seen, 12 -> 64 -> 64 -> 3",
        gamma=0.9, pose=True, goal_bonus=2.0, route=True, route_reward=0.3,
        settings=dict(exploration="epsilon", exploration_fraction=0.3, exploration_final_eps=0.01,
                      n_step=3, learning_rate=1e-4, double=True, target_update_interval=1000)),
}
