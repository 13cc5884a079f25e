"""A hand-written driver for the sand car, as a reference for what the brain learns (run by hand).

    .venv/bin/python benchmarks/car_controller.py --maps empty strokes wall --frames 100000

The driver sees what the brain sees (the three sand sensors and the orientation to the goal)
and follows a fixed rule, no learning:

- ``avoid``: while any sensor reads sand, keep turning away from the side with more of it
  (the first choice is held until the sensors are clear); otherwise steer towards the goal,
  going straight within 10 degrees of it.
- ``hold``: turn only while the front sensor reads sand; with sand on one side only, go
  straight rather than turn towards it; otherwise steer towards the goal.
- ``follow``: follow the edge of the sand with it on the right (a "bug" rule): turn left while
  the front sensor reads over 0.2; go straight while the right sensor reads over 0.2 and the
  goal lies to the right; with all three sensors full (inside sand, or in a corner), or
  otherwise, steer towards the goal.

Prints goals in the last 10,000 frames and the share of those frames on sand, the figures
`deepq car train` reports. The environment is deterministic, so one run per map and rule.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

from deepq.envs.sandcar import SandCarEnv

STRAIGHT, LEFT, RIGHT = 0, 1, 2  # the course's actions: rotate 0, +20, -20 degrees
AIM = 10 / 180  # |orientation| under this counts as heading for the goal


class Driver:
    """One of the rules above; ``turn`` remembers the way it chose to turn away from sand."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.turn: int | None = None

    def __call__(self, obs: np.ndarray) -> int:
        front, left, right, orientation, _ = obs
        if self.rule == "follow":
            return self._follow(front, left, right, orientation)
        sand_ahead = front > 0 or (self.rule == "avoid" and (left > 0 or right > 0))
        if sand_ahead:
            if self.turn is None:
                self.turn = LEFT if left <= right else RIGHT
            return self.turn
        self.turn = None
        if self.rule == "hold" and ((left > 0 and orientation < 0) or (right > 0 and orientation > 0)):
            return STRAIGHT  # the goal lies beyond the sand on that side
        if orientation > AIM:
            return RIGHT
        if orientation < -AIM:
            return LEFT
        return STRAIGHT


    @staticmethod
    def _follow(front: float, left: float, right: float, orientation: float, edge: float = 0.2) -> int:
        if min(front, left, right) < 0.99:  # not inside sand
            if front > edge:
                return LEFT
            if right > edge and orientation > 0:  # the goal lies beyond the sand on the right
                return STRAIGHT
        return RIGHT if orientation > AIM else LEFT if orientation < -AIM else STRAIGHT


def drive(map_name: str, frames: int, policy: Callable[[np.ndarray], int], window: int = 10_000) -> tuple[int, float]:
    """Goals and the share of frames on sand over the last ``window`` frames."""
    env = SandCarEnv(map=map_name)
    obs, _ = env.reset(seed=0)
    goals = sand = 0
    for frame in range(frames):
        obs, _, _, _, info = env.step(policy(obs))
        if frame >= frames - window:
            goals += info["goal_reached"]
            sand += info["on_sand"]
    return goals, sand / window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=["empty", "strokes", "wall"])
    parser.add_argument("--frames", type=int, default=100_000)
    args = parser.parse_args()
    print("| rule | " + " | ".join(f"{m}: goals (sand)" for m in args.maps) + " |")
    print("| --- |" + " --- |" * len(args.maps))
    for rule in ("avoid", "hold", "follow"):
        cells = []
        for map_name in args.maps:
            goals, sand = drive(map_name, args.frames, Driver(rule))
            cells.append(f"{goals} ({sand:.1%})")
        print(f"| `{rule}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
