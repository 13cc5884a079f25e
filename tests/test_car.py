"""The course brain, the headless trainer and the window (SDL dummy driver)."""

import json
from collections import OrderedDict

import numpy as np
import pygame
import pytest
import torch
from torch import nn

from deepq.car import Dqn
from deepq.car.app import fit_lines
from deepq.car.train import train_car
from deepq.checkpoint import CheckpointError


class CourseNetwork(nn.Module):
    """The course's own ai.py network (5 -> 30 -> 3), to make a file as the course saves it."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 30)
        self.fc2 = nn.Linear(30, 3)

    def forward(self, state):
        return self.fc2(torch.relu(self.fc1(state)))


def test_loads_a_brain_saved_by_the_course(tmp_path):
    torch.manual_seed(0)
    course = CourseNetwork()
    optimizer = torch.optim.Adam(course.parameters(), lr=0.001)
    course(torch.randn(4, 5)).sum().backward()
    optimizer.step()
    torch.save({"state_dict": course.state_dict(), "optimizer": optimizer.state_dict()},
               tmp_path / "last_brain.pth")
    brain = Dqn(5, 3, 0.9)
    brain.load(tmp_path / "last_brain.pth")
    state = torch.randn(8, 5)
    assert torch.allclose(brain.agent.q_net(state[None])[0], course(state))
    brain.save(tmp_path / "ours.pth")
    saved = torch.load(tmp_path / "ours.pth", weights_only=True)
    assert set(saved) == {"state_dict", "optimizer"}
    assert list(saved["state_dict"]) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    course.load_state_dict(saved["state_dict"])  # the course can load ours


def test_tutorial_brain_shape_and_wrong_file(tmp_path):
    brain = Dqn(5, 3, 0.9, brain="tutorial")
    widths = [p.shape for p in brain.agent.q_net.parameters() if p.dim() == 2]
    assert widths == [(60, 5), (40, 60), (25, 40), (3, 25)]
    brain.save(tmp_path / "tutorial.pth")
    with pytest.raises(CheckpointError, match="not a course brain"):
        Dqn(5, 3, 0.9, brain="course").load(tmp_path / "tutorial.pth")


def test_update_stores_each_transition_with_its_own_reward():
    brain = Dqn(5, 3, 0.9, seed=0)
    states = [np.full(5, i, dtype=np.float32) for i in range(4)]
    actions = [brain.update(0.0, states[0])]
    actions.append(brain.update(-1.0, states[1]))
    actions.append(brain.update(0.1, states[2]))
    memory = brain.memory
    # row 1: from states[0] with the first action, rewarded -1.0 (the course would store 0.0)
    assert memory.obs[1].tolist() == states[0].tolist() and memory.actions[1] == actions[0]
    assert memory.rewards[1] == -1.0 and memory.next_obs[1].tolist() == states[1].tolist()
    assert memory.rewards[2] == pytest.approx(0.1) and memory.actions[2] == actions[1]
    assert brain.score() == pytest.approx((0.0 - 1.0 + 0.1) / 4)


def test_n_step_brain_stores_discounted_returns():
    brain = Dqn(5, 3, 0.9, seed=0, n_step=3)
    states = [np.full(5, i, dtype=np.float32) for i in range(6)]
    rewards = [0.0, 0.1, -0.2, -1.0, 0.1, 0.1]  # the first is the reward before any action
    actions = [brain.update(r, s) for r, s in zip(rewards, states)]
    memory = brain.memory
    assert len(memory) == 4  # of 6 transitions, the newest 2 wait in the window for 3 rewards
    # row 0: from the zero start state; row 1: from states[0] with the first action
    assert memory.obs[1].tolist() == states[0].tolist() and memory.actions[1] == actions[0]
    assert memory.rewards[1] == pytest.approx(0.1 + 0.9 * -0.2 + 0.81 * -1.0)
    assert memory.next_obs[1].tolist() == states[3].tolist()
    assert memory.discounts[1] == pytest.approx(0.729)


def test_prioritized_brain_sets_priorities_from_td_errors():
    brain = Dqn(5, 3, 0.9, seed=0, prioritized=True, total_steps=1000)
    rng = np.random.default_rng(0)
    for _ in range(300):
        brain.update(float(rng.normal()), rng.normal(size=5))
    priorities = brain.memory.tree.get(np.arange(300))
    assert len(np.unique(priorities)) > 150  # sampled rows got their own |TD error|
    assert brain.memory.beta == pytest.approx(0.4 + 0.6 * 300 / 1000)


def test_learns_once_more_than_100_are_stored():
    brain = Dqn(5, 3, 0.9, seed=0)
    before = [p.detach().clone() for p in brain.agent.q_net.parameters()]
    rng = np.random.default_rng(0)
    for _ in range(100):  # memory holds 100: not more than 100 yet
        brain.update(float(rng.normal()), rng.normal(size=5))
    assert all(torch.equal(a, b) for a, b in zip(before, brain.agent.q_net.parameters()))
    brain.update(0.0, rng.normal(size=5))
    assert not all(torch.equal(a, b) for a, b in zip(before, brain.agent.q_net.parameters()))


def test_brain_hyperparameters_can_be_changed():
    brain = Dqn(5, 3, brain="tutorial", seed=0, gamma="0.95", target_update_interval="50", double="true",
                exploration="epsilon", exploration_fraction=0.5, exploration_final_eps=0.0, total_steps=200)
    assert brain.config.hidden_sizes == (60, 40, 25) and brain.config.gamma == 0.95 and brain.config.double
    rng = np.random.default_rng(0)
    for _ in range(150):
        brain.update(float(rng.normal()), rng.normal(size=5))
    online, target = brain.agent.q_net.member_state_dict(0), brain.agent.target_net.member_state_dict(0)
    # the training loop's schedule: copied at the first learn step (frame 101), then 50 frames on
    assert not all(torch.equal(online[k], target[k]) for k in online)  # last copied at frame 101
    brain.update(0.0, rng.normal(size=5))  # frame 151: copied again
    online, target = brain.agent.q_net.member_state_dict(0), brain.agent.target_net.member_state_dict(0)
    assert all(torch.equal(online[k], target[k]) for k in online)
    state = rng.normal(size=5).astype(np.float32)  # epsilon is 0 past half the run: greedy
    greedy = int(brain.agent.greedy(state[None])[0])
    assert {brain.select_action(state) for _ in range(20)} == {greedy}
    with pytest.raises(ValueError, match="did you mean gamma"):
        Dqn(5, 3, gama=0.9)


def test_pose_brain_sees_the_odometer_pose_and_learns_the_goal_bonus():
    """The pose brain's states are the five course inputs and the car's pose (from its own
    Odometer, equal to the car's), and a frame that reaches a goal is stored with +2."""
    from deepq.car.odometer import pose_features
    from deepq.envs.sandcar import SandCarEnv

    env = SandCarEnv(map="wall")
    brain = Dqn(5, 3, brain="pose", seed=0, n_step=1)
    assert brain.config.gamma == 0.99 and brain.agent.q_net(torch.zeros(1, 1, 10)).shape == (1, 1, 3)
    assert Dqn(5, 3, 0.95, brain="pose").config.gamma == 0.95 and Dqn(5, 3).config.gamma == 0.9
    # the brain's own choice, replaced by steering to the goal, so goals come in a few hundred frames
    brain.select_action = lambda state: 2 if state[3] > 0.05 else 1 if state[3] < -0.05 else 0
    obs, reward, goal_frames, rewards = env.reset()[0], 0.0, [], []
    for frame in range(1_500):
        action = brain.update(reward, obs)
        truth = pose_features(np.array([env.x]), np.array([env.y]), np.array([env.angle]),
                              np.array([env.goal_x]), env.width, env.height)[0]
        np.testing.assert_allclose(brain.last_state[5:], truth, atol=1e-6)
        np.testing.assert_array_equal(brain.last_state[:5], np.asarray(obs, np.float32))
        obs, reward, _, _, info = env.step(action)
        rewards.append(reward)
        if info["goal_reached"]:
            goal_frames.append(frame)
    brain.update(reward, obs)
    assert len(goal_frames) >= 3
    stored = brain.memory.rewards[: brain.memory.size]
    expected = np.array([0.0, *rewards], np.float32)  # the first transition: from the zero state, before any move
    expected[np.array(goal_frames) + 1] += 2.0
    np.testing.assert_allclose(stored, expected, atol=1e-6)
    assert brain.score() == pytest.approx(sum(rewards[-1000:]) / 1001)  # the score is the course's reward


def test_pose_brain_learns_to_reach_the_goals(tmp_path):
    """The pose brain on the empty map, seed 0: at least 55 goals in the last 10,000 of 100,000
    frames with under 1% of them on sand (measured: 65 on one host, 64 on another, none on sand).
    Not `wall`: there it stops reaching goals for 10-30k frames before it learns the way over
    the top, and where that ends depends on the CPU's rounding (seed 0: 54 goals on one host, 0
    on another, with the same code and packages)."""
    summary = train_car("empty", 100_000, seed=0, run_dir=tmp_path, brain="pose", progress=False)
    assert summary["goals_per_10k_last"] >= 55
    assert summary["sand_fraction_last"] < 0.01


def test_route_brain_sees_its_waypoint_and_learns_progress_along_the_way():
    """The route brain's states are the pose brain's ten plus the angle to the waypoint on its
    own route (and its negative); the reward it stores adds 0.3 per 6 pixels gained along that
    route and +2 for a goal. Steering to the waypoint alone goes round the strokes more and more
    as its sensors fill in the map."""
    from deepq.envs.sandcar import SandCarEnv, angle_between, rotate

    env = SandCarEnv(map="strokes")
    brain = Dqn(5, 3, brain="route", seed=0, n_step=1)
    assert brain.config.gamma == 0.9 and brain.agent.q_net(torch.zeros(1, 1, 12)).shape == (1, 1, 3)
    brain.select_action = lambda state: 1 if state[10] < -0.05 else 2 if state[10] > 0.05 else 0
    obs, reward, goals, sand, expected, last = env.reset()[0], 0.0, 0, [], [0.0], None
    reached = False
    for _ in range(6_000):
        route = brain.route  # the route the last action was chosen on
        action = brain.update(reward, obs)
        # the brain's pose is the car's to ~1e-13; the checks use the brain's, as a cell's
        # edge may fall between the two
        pose = brain.odometer
        assert (pose.x, pose.y, pose.angle) == pytest.approx((env.x, env.y, env.angle), abs=1e-6)
        if last is not None:  # what the last frame earned, as that route measures it
            gained = route.distance(*last) - route.distance(pose.x, pose.y)
            expected.append(reward + 0.3 * gained / 6.0 + 2.0 * reached)
        way_x, way_y = brain.route.waypoint(pose.x, pose.y)
        heading = rotate(1.0, 0.0, pose.angle)
        angle = angle_between(*heading, way_x - pose.x, way_y - pose.y) / 180.0
        np.testing.assert_allclose(brain.last_state[10:], [angle, -angle], atol=1e-6)
        np.testing.assert_array_equal(brain.last_state[:5], np.asarray(obs, np.float32))
        last = (pose.x, pose.y)
        obs, reward, _, _, info = env.step(action)
        reached = info["goal_reached"]
        goals += reached
        sand.append(info["on_sand"])
    stored = brain.memory.rewards[: brain.memory.size]
    np.testing.assert_allclose(stored, np.array(expected, np.float32), atol=1e-5)
    assert goals >= 10
    assert np.mean(sand[-2_000:]) < 0.5 * np.mean(sand[:2_000])  # measured: 29% of the first 2,000 frames


def test_default_brain_learns_to_go_round_the_strokes(tmp_path):
    """`deepq car train`'s default brain on the strokes map: at least 60 goals in the last 10,000
    of 100,000 frames with under 1% of them on sand. Seed 1: seed 0's last 10,000 frames change
    with the host's float rounding (1.35% on sand on one host, before and after the flat
    weights; seeds 1-3 there: 0%, 66, 64 and 66 goals)."""
    summary = train_car("strokes", 100_000, seed=1, run_dir=tmp_path, progress=False)
    assert summary["brain"] == "route"
    assert summary["goals_per_10k_last"] >= 60
    assert summary["sand_fraction_last"] < 0.01


def test_headless_training_learns_to_reach_goals(tmp_path):
    summary = train_car("empty", 20_000, seed=0, run_dir=tmp_path, brain="course", progress=False)
    assert summary["goals_per_10k_last"] >= 40
    assert summary["sand_fraction_last"] == 0.0
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    for key in ("frames", "goals", "goals_per_10k_last", "sand_fraction_last", "fps"):
        assert key in on_disk
    assert (tmp_path / "last_brain.pth").exists() and (tmp_path / "scores.png").exists()


def test_headless_training_runs_on_the_environment_it_is_given(tmp_path):
    """``train_car(env=...)``: every frame's reward comes from the given env, here a wrapper
    that pays a constant, so the course's score (mean of the last 1000 rewards) is that constant."""
    import gymnasium as gym

    from deepq.envs.sandcar import SandCarEnv

    class Constant(gym.RewardWrapper):
        frames = 0

        def reward(self, reward):
            Constant.frames += 1
            return 0.5

    summary = train_car("wall", 10_000, seed=0, run_dir=tmp_path, brain="course", progress=False,
                        env=Constant(SandCarEnv(map="wall")))
    assert Constant.frames == 10_000 and summary["frames"] == 10_000
    assert summary["history"][-1]["score"] == pytest.approx(0.5 * 1000 / 1001)


@pytest.fixture()
def app(tmp_path):
    from deepq.car.app import CarApp

    app = CarApp(map_name="empty", seed=0, brain_file=str(tmp_path / "brain.pth"),
                 map_file=str(tmp_path / "map.png"))
    yield app
    pygame.quit()


def click(app, name):
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=app.buttons[name].center, button=1))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=app.buttons[name].center, button=1))
    app.tick()


def test_window_paints_erases_and_buttons_work(app, tmp_path):
    sand = app.env.sand
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(100, 100), button=1))
    for x in range(100, 200, 4):
        pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(x, 100), rel=(4, 0), buttons=(1, 0, 0)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(200, 100), button=1))
    app.tick()
    y = app.env.height - 1 - 100
    assert sand[150, y] == 1 and sand[140:160, y - 10:y + 10].all()  # under the brush
    assert sand[150, y + 30] == 0
    painted = sand.sum()
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(150, 100), button=3))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(150, 100), button=3))
    app.tick()
    assert sand[150, y] == 0 and sand.sum() < painted

    click(app, "save map")
    click(app, "clear")
    assert sand.sum() == 0
    click(app, "load map")
    assert sand.sum() > 0 and sand[150, y] == 0

    click(app, "pause")
    frames = app.frames
    app.tick()
    assert app.frames == frames
    click(app, "pause")
    click(app, "speed")
    before = app.frames
    app.tick()
    assert app.frames - before == 10

    for _ in range(20):
        app.tick()
    click(app, "save")  # runs in a thread; the window keeps ticking
    frames = app.frames
    app.tick()
    assert app.frames > frames
    app.wait_for_save()
    saved = torch.load(tmp_path / "brain.pth", weights_only=True)
    assert isinstance(saved["state_dict"], (dict, OrderedDict))
    click(app, "load")
    assert "loaded" in app.status

    app.status = f"loaded {tmp_path / 'a' / 'long' / 'path' / 'to' / 'last_brain.pth'}"
    lines = fit_lines(app.status, app.font, 200)
    assert len(lines) > 1 and all(app.font.size(line)[0] <= 200 for line in lines)
    squeezed = app.status.replace(" ", "")
    assert "".join(lines).replace(" ", "") == squeezed or lines[-1].endswith("...")
    words = "paint sand with the left button".split()
    lines = fit_lines(" ".join(words), app.font, 200)
    assert len(lines) > 1 and [w for line in lines for w in line.split()] == words  # breaks between words
    shot = app.screenshot(tmp_path / "window.png")
    image = pygame.image.load(str(shot))
    assert image.get_size() == (app.env.width + 220, app.env.height)


@pytest.mark.parametrize("brain", ["pose", "route"])
def test_window_drives_deepqs_brains(tmp_path, brain):
    from deepq.car.app import CarApp

    app = CarApp(map_name="wall", brain=brain, seed=0, width=640, height=480,
                 brain_file=str(tmp_path / "brain.pth"), map_file=str(tmp_path / "map.png"))
    try:
        app.step_world(500)
        app.brain.update(app.reward, app.obs)  # the brain learns where the last move went on its next update
        odometer, env = app.brain.odometer, app.env.unwrapped
        assert (odometer.width, odometer.height) == (640, 480)
        assert abs(odometer.x - env.x) < 1e-9 and abs(odometer.y - env.y) < 1e-9
        if brain == "route":  # its map is the window's size and has seen the wall's sand
            assert app.brain.sand_map.sand.shape == (640 // 5, 480 // 5) and app.brain.sand_map.sand.any()
    finally:
        app.pygame.quit()
