"""The odometer follows the car exactly from the brain's own actions, rewards and observations."""

import numpy as np
import pytest

from deepq.car.odometer import Odometer, pose_features
from deepq.envs.sandcar import SandCarEnv


def drive(map_name: str, frames: int, seed: int) -> tuple[float, int, int, int, int]:
    """Sticky random actions, with stretches of steering to the goal; the worst error and event counts."""
    env = SandCarEnv(map=map_name)
    odometer = Odometer(env.width, env.height)
    rng = np.random.default_rng(seed)
    action, worst, edges, sand, goals, mismatched = 0, 0.0, 0, 0, 0, 0
    obs = env.reset()[0]
    for frame in range(frames):
        if frame % 1_000 < 400:
            action = 2 if obs[3] > 0.05 else 1 if obs[3] < -0.05 else 0  # towards the goal
        elif rng.random() < 0.2:
            action = int(rng.integers(3))
        obs, reward, _, _, info = env.step(action)
        odometer.update(action, reward, obs)
        worst = max(worst, abs(odometer.x - env.x), abs(odometer.y - env.y))
        mismatched += (odometer.angle != env.angle) + ((odometer.goal_x, odometer.goal_y) != (env.goal_x, env.goal_y))
        edges += env.x in (10.0, env.width - 10.0) or env.y in (10.0, env.height - 10.0)
        sand += info["on_sand"]
        goals += info["goal_reached"]
    return worst, mismatched, edges, sand, goals


@pytest.mark.parametrize("map_name", ["empty", "strokes", "wall"])
def test_odometer_matches_the_car(map_name):
    worst, mismatched, edges, sand, goals = drive(map_name, 6_000, seed=0)
    assert worst < 1e-9 and mismatched == 0
    # the drive met what makes dead reckoning hard: borders (where -1 is not sand), goal switches
    assert edges > 50 and goals > 0
    if map_name != "empty":
        assert sand > 50


def test_odometer_without_the_border_check_goes_wrong(monkeypatch):
    """The border rule matters: treating every -1 as sand loses the car at the first border."""
    monkeypatch.setattr(Odometer, "_near_edge", lambda self: False)
    worst, *_ = drive("empty", 6_000, seed=0)
    assert worst > 1.0


def test_odometer_reset_and_features():
    odometer = Odometer(800, 600)
    odometer.update(1, 0.1, [0.0, 0.0, 0.0, 0.5, -0.5])
    odometer.reset()
    assert (odometer.x, odometer.y, odometer.angle) == (390.0, 295.0, 0.0)
    x, y, cos, sin, goal = odometer.features()
    assert x == pytest.approx(390 / 400 - 1) and y == pytest.approx(295 / 300 - 1)
    assert (cos, sin, goal) == (1.0, 0.0, 1.0)  # heading east, goal top left
    batch = pose_features(np.array([10.0, 790.0]), np.array([10.0, 590.0]), np.array([90.0, 180.0]),
                          np.array([780.0, 20.0]), 800, 600)
    np.testing.assert_allclose(batch, [[-0.975, -29 / 30, 0, 1, -1], [0.975, 29 / 30, -1, 0, 1]], atol=1e-12)
