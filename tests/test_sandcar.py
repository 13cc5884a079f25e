"""SandCar against the rules of specs/sandcar.md: hand-computed frames and a plain reference."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import deepq  # noqa: F401  (registers deepq/SandCar-v0)
from deepq.envs.sandcar import SandCarEnv, builtin_map


def reference_trajectory(sand, actions, width=800, height=600):
    """The course's update() written out plainly from the spec, for golden comparisons."""
    x, y, angle = width / 2 - 10, height / 2 - 5, 0.0
    vel = (6.0, 0.0)
    goal = (20.0, height - 20.0)
    last_distance = 0.0
    signals = [0.0, 0.0, 0.0]

    def rot(v, d):
        r = math.radians(d)
        return (v[0] * math.cos(r) - v[1] * math.sin(r), v[1] * math.cos(r) + v[0] * math.sin(r))

    def obs():
        a, b = vel, (goal[0] - x, goal[1] - y)
        o = -(180 / math.pi) * math.atan2(a[0] * b[1] - a[1] * b[0], a[0] * b[0] + a[1] * b[1]) / 180
        return [*signals, o, -o]

    out = [(obs(), None)]
    for action in actions:
        x, y = vel[0] + x, vel[1] + y
        angle = angle + (0, 20, -20)[action]
        signals = []
        for a in (angle, (angle + 30) % 360, (angle - 30) % 360):
            sx, sy = rot((30, 0), a)
            sx, sy = sx + x, sy + y
            if sx < 10 or sx > width - 10 or sy < 10 or sy > height - 10:
                signals.append(1.0)
            else:
                ix, iy = int(sx), int(sy)
                signals.append(int(np.sum(sand[ix - 10:ix + 10, iy - 10:iy + 10])) / 400.0)
        distance = math.sqrt((x - goal[0]) ** 2 + (y - goal[1]) ** 2)
        if sand[int(x), int(y)] > 0:
            vel, reward = rot((1, 0), angle), -1.0
        else:
            vel, reward = rot((6, 0), angle), (0.1 if distance < last_distance else -0.2)
        if x < 10:
            x, reward = 10, -1.0
        if x > width - 10:
            x, reward = width - 10, -1.0
        if y < 10:
            y, reward = 10, -1.0
        if y > height - 10:
            y, reward = height - 10, -1.0
        if distance < 100:
            goal = (width - goal[0], height - goal[1])
        last_distance = distance
        out.append((obs(), reward))
    return out


def test_reset_is_the_course_start():
    env = SandCarEnv()
    obs, info = env.reset()
    assert info["position"] == (390.0, 295.0) and info["angle"] == 0.0 and info["goal"] == (20.0, 580.0)
    # o = Vector(6, 0).angle((20 - 390, 580 - 295)) / 180
    o = -(180 / math.pi) * math.atan2(6 * 285, 6 * -370) / 180
    assert obs.tolist() == pytest.approx([0, 0, 0, o, -o], abs=1e-12)
    assert o == pytest.approx(-142.394 / 180, abs=1e-5)


def test_first_frames_by_hand():
    env = SandCarEnv()
    env.reset()
    obs, reward, terminated, truncated, info = env.step(0)
    assert info["position"] == (396.0, 295.0)
    assert reward == -0.2  # not closer than last distance 0
    assert not terminated and not truncated
    obs, reward, *_ , info = env.step(1)  # move straight on, then turn +20 degrees
    assert info["position"] == (402.0, 295.0) and info["angle"] == 20.0
    assert reward == -0.2  # moving east, away from the goal in the north-west
    vx, vy = 6 * math.cos(math.radians(20)), 6 * math.sin(math.radians(20))
    assert (env.vx, env.vy) == pytest.approx((vx, vy), abs=1e-12)


def test_sand_slows_the_car_and_costs_one():
    env = SandCarEnv()
    env.reset()
    env.sand[396, 295] = 1.0
    _, reward, *_, info = env.step(0)
    assert reward == -1.0 and info["on_sand"]
    assert (env.vx, env.vy) == (1.0, 0.0)
    _, reward, *_, info = env.step(0)
    assert info["position"] == (397.0, 295.0) and reward == -0.2


def test_edges_clamp_and_override_the_reward():
    env = SandCarEnv(100, 100)
    env.reset()
    env.x = 88.0
    _, reward, *_, info = env.step(0)
    assert info["position"][0] == 90 and reward == -1.0
    assert env.signals[0] == 1.0  # the front sensor is beyond 10 px of the edge


def test_sensor_signal_is_the_sand_sum_over_400():
    env = SandCarEnv()
    env.reset()
    env.sand[426 - 10:426 + 10, 295 - 10:295 + 5] = 1.0  # 20 x 15 = 300 cells under the front sensor
    env.step(0)  # car at (396, 295), front sensor at (426, 295)
    assert env.signals[0] == 300 / 400


def test_goal_alternates_between_the_corners():
    env = SandCarEnv()
    env.reset()
    env.x, env.y = 80.0, 520.0
    *_, info = env.step(0)
    assert info["goal_reached"] and info["goal"] == (780.0, 20.0)
    env.x, env.y = 700.0, 80.0
    *_, info = env.step(0)
    assert info["goal_reached"] and info["goal"] == (20.0, 580.0)


@pytest.mark.parametrize("map_name", ["empty", "wall", "strokes"])
def test_golden_trajectories_match_the_reference_to_1e9(map_name):
    rng = np.random.default_rng(7)
    env = SandCarEnv(map=map_name)
    sand = env.sand.copy()
    actions = rng.integers(0, 3, 3000).tolist()
    expected = reference_trajectory(sand, actions)
    obs, _ = env.reset()
    assert np.allclose(obs, expected[0][0], atol=1e-9, rtol=0)
    for action, (ref_obs, ref_reward) in zip(actions, expected[1:]):
        obs, reward, *_ = env.step(action)
        assert abs(reward - ref_reward) < 1e-9
        assert np.allclose(obs, ref_obs, atol=1e-9, rtol=0)


def test_sand_is_writable_and_reset_keeps_it():
    env = gym.make("deepq/SandCar-v0", width=200, height=150)
    env.reset()
    sand = env.unwrapped.sand
    assert sand.shape == (200, 150)
    env.unwrapped.paint(5, 5)
    assert sand[:15, :15].sum() == 15 * 15 and sand.sum() == 225  # clipped at 0
    env.reset()
    assert env.unwrapped.sand.sum() == 225
    env.unwrapped.clear()
    assert env.unwrapped.sand.sum() == 0


def test_builtin_maps():
    wall = builtin_map("wall", 800, 600)
    assert wall[380, 0] == 1 and wall[420, 420] == 1 and wall[421, 0] == 0 and wall[400, 421] == 0
    strokes = builtin_map("strokes", 800, 600)
    assert 0.02 < strokes.mean() < 0.4 and np.array_equal(strokes, builtin_map("strokes", 800, 600))
    assert strokes[390:410, 290:310].sum() == 0  # the start is clear
    with pytest.raises(ValueError, match="unknown map"):
        builtin_map("maze", 800, 600)


def test_png_map_round_trip(tmp_path):
    from deepq.envs.sandcar import load_map_png, save_map_png

    sand = builtin_map("strokes", 800, 600)
    save_map_png(sand, tmp_path / "map.png")
    assert np.array_equal(load_map_png(tmp_path / "map.png", 800, 600), sand)
    env = SandCarEnv(map=str(tmp_path / "map.png"))
    assert np.array_equal(env.sand, sand)


def test_passes_gymnasium_checker_and_renders():
    env = gym.make("deepq/SandCar-v0", render_mode="rgb_array").unwrapped
    check_env(env, skip_render_check=False)
    env.reset()
    env.paint(100, 100)
    frame = env.render()
    assert frame.shape == (600, 800, 3) and frame.dtype == np.uint8
    assert tuple(frame[600 - 1 - 100, 100]) == (255, 255, 0)  # sand is yellow, y up
    assert tuple(frame[300, 600]) == (0, 0, 0)  # road is black


def test_never_terminates_but_time_limit_truncates():
    env = gym.make("deepq/SandCar-v0")
    env.reset(seed=0)
    for step in range(2000):
        _, _, terminated, truncated, _ = env.step(step % 3)
        assert not terminated
    assert truncated
