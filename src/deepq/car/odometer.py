"""Dead reckoning for the sand car: where the car is, worked out from what its brain knows.

The course's brain sees five numbers a frame (three sand sensors, the orientation to the goal
and its negative), but it also knows the action it took and the reward it got back. Under the
car's rules (``specs/sandcar.md``) those are enough to follow the car exactly:

- the heading is the sum of the rotations chosen, from 0 at the start;
- the speed of the next move is 1 after a frame on sand (reward -1) and 6 otherwise;
- the edges clamp the position to 10 pixels from the border (reward -1 there too, so next to an
  edge -1 does not tell sand from border: both speeds are tried on the next frame, and the one
  whose position agrees with the observed orientation is kept);
- the orientation is the angle from the heading to the goal, so the car lies on a known ray
  from the goal: projecting the estimate onto that ray removes any error across it, and which
  of the two goals the orientation points at shows when the goal has switched.

    odometer = Odometer(800, 600)
    obs, reward, *_ = env.step(action)
    odometer.update(action, reward, obs)      # after every step
    odometer.x, odometer.y, odometer.angle    # equal to the car's, to rounding

``tests/test_odometer.py`` drives random policies over every built-in map and checks the
estimate against ``SandCarEnv`` to 1e-9. ``benchmarks/car_policy_search.py --position`` uses
what it shows: a policy that also sees its position can drive round the sand.
"""

from __future__ import annotations

import math

import numpy as np

from deepq.envs.sandcar import (
    EDGE,
    ROAD_SPEED,
    ROTATIONS,
    SAND_SPEED,
    angle_between,
    course_start,
    rotate,
)

NEAR_EDGE = EDGE + ROAD_SPEED  # a reward of -1 within this of a border may be the border's


class Odometer:
    """Tracks one car's position, heading and goal from its actions, rewards and observations."""

    def __init__(self, width: int = 800, height: int = 600) -> None:
        self.width, self.height = int(width), int(height)
        self.reset()

    def reset(self) -> None:
        """The course's start: the car centred, heading east at road speed, the first goal top left."""
        self.x, self.y, self.goal_x, self.goal_y = course_start(self.width, self.height)
        self.angle = 0.0
        self.speed: float | None = ROAD_SPEED  # None: sand or border, told apart on the next frame

    def update(self, action: int, reward: float, observation: np.ndarray | list[float]) -> None:
        """Follow one frame: the action just taken, the reward and the observation it returned."""
        orientation = float(observation[3])
        rotation = ROTATIONS[int(action)]
        if self.speed is None:  # keep the move whose position agrees with the observed orientation
            moves = [self._move(speed, rotation) for speed in (ROAD_SPEED, SAND_SPEED)]
            self.x, self.y = min(moves, key=lambda xy: self._disagreement(*xy, self.angle + rotation, orientation))
        else:
            self.x, self.y = self._move(self.speed, rotation)
        self.angle += rotation
        if reward == -1.0:
            self.speed = None if self._near_edge() else SAND_SPEED
        else:
            self.speed = ROAD_SPEED
        other = (self.width - self.goal_x, self.height - self.goal_y)
        if self._error(self.x, self.y, self.angle, other, orientation) < self._error(
                self.x, self.y, self.angle, (self.goal_x, self.goal_y), orientation):
            self.goal_x, self.goal_y = other
        self._project(orientation)

    def _move(self, speed: float, rotation: float) -> tuple[float, float]:
        """Where the car ends up moving at ``speed`` along the current heading, clamped at the edges."""
        vx, vy = rotate(speed, 0.0, self.angle)
        x = min(max(self.x + vx, EDGE), self.width - EDGE)
        y = min(max(self.y + vy, EDGE), self.height - EDGE)
        return x, y

    def _near_edge(self) -> bool:
        return (self.x < NEAR_EDGE or self.x > self.width - NEAR_EDGE
                or self.y < NEAR_EDGE or self.y > self.height - NEAR_EDGE)

    def _disagreement(self, x: float, y: float, angle: float, orientation: float) -> float:
        """How far the orientation seen from (x, y) is from the observed one, for either goal."""
        goals = ((self.goal_x, self.goal_y), (self.width - self.goal_x, self.height - self.goal_y))
        return min(self._error(x, y, angle, goal, orientation) for goal in goals)

    @staticmethod
    def _error(x: float, y: float, angle: float, goal: tuple[float, float], orientation: float) -> float:
        hx, hy = rotate(1.0, 0.0, angle)
        seen = angle_between(hx, hy, goal[0] - x, goal[1] - y) / 180.0
        return abs((seen - orientation + 1.0) % 2.0 - 1.0)  # orientations wrap at +-1

    def _project(self, orientation: float) -> None:
        """Move the estimate onto the ray from the goal along which the car must lie."""
        bearing = math.radians(self.angle - 180.0 * orientation)  # direction from the car to the goal
        ux, uy = math.cos(bearing), math.sin(bearing)
        along = max((self.goal_x - self.x) * ux + (self.goal_y - self.y) * uy, 0.0)
        self.x, self.y = self.goal_x - along * ux, self.goal_y - along * uy

    def features(self) -> np.ndarray:
        """The car's pose as five inputs for a policy (see ``pose_features``)."""
        return pose_features(np.array([self.x]), np.array([self.y]), np.array([self.angle]),
                             np.array([self.goal_x]), self.width, self.height)[0]


def pose_features(x: np.ndarray, y: np.ndarray, angle: np.ndarray, goal_x: np.ndarray, width: int, height: int
                  ) -> np.ndarray:
    """(n, 5): position scaled to [-1, 1], the heading's cosine and sine, +1 / -1 for the goal's side."""
    radians = np.radians(angle)
    return np.column_stack([x / width * 2 - 1, y / height * 2 - 1, np.cos(radians), np.sin(radians),
                            np.where(goal_x < width / 2, 1.0, -1.0)])
