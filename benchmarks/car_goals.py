"""Goals per 10,000 frames of the sand car, per map and seed, as a table (run by hand).

    .venv/bin/python benchmarks/car_goals.py --maps empty strokes wall --seeds 0-2 --frames 100000

Each run is `deepq car train`, by default with the course brain (``--brain route`` for the
command's own default), one learn step per frame.
``--set KEY=VALUE`` changes the brain as `deepq car train --set` does. ``--reward`` trains on
another reward, to test what the course's reward asks of the car (the environment is unchanged):

- ``course`` (default): the course's rule, +0.1 for any frame that brings the car closer.
- ``lagged``: the course's reward handed over one frame late, as the course's brain stores it.
- ``progress``: off sand and away from the edges, 0.1 * (distance gained this frame) / 6, so a
  full-speed frame straight at the goal earns the course's +0.1 and one straight away -0.1;
  sand and edges keep the course's -1.
- ``progress-cost``: ``progress`` minus 0.1 a frame on the road (a cost for time).
- ``geodesic``: the course's reward plus, off sand and away from the edges, 0.3 * (pixels gained
  this frame along the shortest sand-free way to the goal) / 6. The way is worked out from the
  true map (``car_paths.distance_field``) when the run starts: a reward that knows the way round
  the sand, which no brain gets in the app; it tests whether finding the way is all that is
  missing.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import gymnasium as gym

REWARDS = ("course", "lagged", "progress", "progress-cost", "geodesic")
GEODESIC_SCALE = 0.3  # reward a frame for 6 pixels gained along the sand-free way


class RewardVariant(gym.Wrapper):
    """The SandCar environment with one of the ``REWARDS`` (see the module's docstring)."""

    def __init__(self, env: gym.Env, reward: str) -> None:
        super().__init__(env)
        self.reward = reward
        self.previous_reward = 0.0
        self.ways: dict[tuple[float, float], Any] = {}  # goal -> distance field, for ``geodesic``
        if reward == "geodesic":
            from car_paths import CELL, distance_field

            from deepq.envs.sandcar import course_start

            self.cell = CELL
            car = env.unwrapped
            *_, goal_x, goal_y = course_start(car.width, car.height)  # the first goal; the other mirrors it
            for goal in ((goal_x, goal_y), (car.width - goal_x, car.height - goal_y)):
                self.ways[goal] = distance_field(car.sand, goal)

    def _way(self, goal: tuple[float, float], x: float, y: float) -> float:
        """Pixels from (x, y) along the sand-free way to ``goal`` (inf where there is none)."""
        field = self.ways[goal]
        return float(field[min(int(x) // self.cell, field.shape[0] - 1), min(int(y) // self.cell, field.shape[1] - 1)])

    def reset(self, **kwargs: Any) -> Any:
        self.previous_reward = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: int) -> Any:
        car = self.env.unwrapped
        before = math.hypot(car.x - car.goal_x, car.y - car.goal_y)  # to the goal of this frame
        goal = (car.goal_x, car.goal_y)
        way_before = self._way(goal, car.x, car.y) if self.ways else 0.0
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.reward == "lagged":
            reward, self.previous_reward = self.previous_reward, reward
        elif self.reward.startswith("progress") and reward in (0.1, -0.2):  # on the road, off the edges
            reward = 0.1 * (before - info["distance"]) / 6.0 - (0.1 if self.reward == "progress-cost" else 0.0)
        elif self.reward == "geodesic" and reward in (0.1, -0.2):
            gained = way_before - self._way(goal, car.x, car.y)
            if math.isfinite(gained):
                reward += GEODESIC_SCALE * gained / 6.0
        return obs, reward, terminated, truncated, info


def run(args: tuple[str, int, int, str, dict[str, Any], str]) -> dict[str, Any]:
    map_name, seed, frames, brain, overrides, reward = args
    from deepq.car.train import train_car
    from deepq.envs.sandcar import SandCarEnv

    env = RewardVariant(SandCarEnv(map=map_name), reward)
    return train_car(map_name, frames, seed, tempfile.mkdtemp(prefix="deepq-car-"), brain, progress=False,
                     overrides=overrides, env=env)


def main() -> None:
    from deepq.cli import _seed_list, add_set_option
    from deepq.config import parse_overrides

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", nargs="+", default=["empty", "strokes", "wall"])
    parser.add_argument("--seeds", type=_seed_list, default=[0, 1, 2])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--brain", default="course")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reward", choices=REWARDS, default="course", help="the reward the brain learns from")
    add_set_option(parser, "brain hyperparameters over the defaults, as `deepq car train --set` takes them")
    args = parser.parse_args()
    overrides = parse_overrides(args.overrides)
    jobs = [(m, s, args.frames, args.brain, overrides, args.reward) for m in args.maps for s in args.seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, jobs))
    print(f"\nbrain {args.brain}{' with ' + ' '.join(args.overrides) if args.overrides else ''}, "
          f"reward {args.reward}, {args.frames} frames, {args.jobs} runs at a time")
    print(f"{'map':>8} {'seed':>4} {'goals/10k last':>15} {'sand last 10k':>14} {'goals':>6} {'frames/s':>9}")
    for r in results:
        print(f"{r['map']:>8} {r['seed']:>4} {r['goals_per_10k_last']:>15} {r['sand_fraction_last']:>14.2%} "
              f"{r['goals']:>6} {r['fps']:>9.0f}")
    print(f"median frames/s {statistics.median(r['fps'] for r in results):.0f}")


if __name__ == "__main__":
    main()
