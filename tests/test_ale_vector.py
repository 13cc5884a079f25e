"""ALE's C++ vector environment against the Gymnasium-wrapper path, episodic life, exact resume."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from deepq.envs import ResumableVectorEnv
from deepq.envs.ale_vector import AleVectorEnv, ale_options, rom_name

ale_py = pytest.importorskip("ale_py")


def test_rom_names_and_options():
    assert rom_name("ALE/Pong-v5") == "pong"
    assert rom_name("MsPacmanNoFrameskip-v4") == "ms_pacman"
    assert rom_name("ALE/SpaceInvaders-v5") == "space_invaders"
    assert ale_options("ALE/Pong-v5", {})["repeat_action_probability"] == 0.25
    assert ale_options("PongNoFrameskip-v4", {})["repeat_action_probability"] == 0.0
    assert ale_options("ALE/Pong-v5", {"max_episode_steps": 900})["max_num_frames_per_episode"] == 900
    assert ale_options("ALE/Pong-v5", {"obs_type": "rgb"}) is None  # left to the wrapper path


def wrapper_path(seed: int) -> gym.Env:
    """deepq's Gymnasium preprocessing with no-op starts and FIRE reset off."""
    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", frameskip=1, repeat_action_probability=0.0)
    env = AtariPreprocessing(env, noop_max=0, frame_skip=4, screen_size=84, grayscale_obs=True)
    return FrameStackObservation(env, 4, padding_type="reset")


def test_same_frames_as_the_wrapper_path():
    wrapped = wrapper_path(3)
    native = AleVectorEnv("ALE/Pong-v5", 1, noop_max=0, fire_reset=False, repeat_action_probability=0.0)
    expected, _ = wrapped.reset(seed=3)
    got, _ = native.reset(seed=[3])
    np.testing.assert_array_equal(got[0], expected)  # the start's padding repeats the first frame
    rng = np.random.default_rng(0)
    total = 0.0
    for _ in range(400):
        action = int(rng.integers(6))
        expected, reward, *_ = wrapped.step(action)
        got, rewards, *_ = native.step(np.array([action]))
        np.testing.assert_array_equal(got[0], expected)
        assert rewards[0] == reward
        total += abs(reward)
    assert total > 0  # points were scored, so the frames covered play, not just the serve
    wrapped.close()
    native.close()


def test_a_lost_life_ends_the_learning_episode_not_the_game():
    envs = ResumableVectorEnv("ALE/Breakout-v5", 2, seed=0)
    envs.reset()
    rng = np.random.default_rng(1)
    losses = 0
    for _ in range(600):
        frames_before = envs.envs.lives.copy()
        obs, _, terminated, truncated = envs.step(rng.integers(0, 4, 2))
        lost = envs.envs.life_lost.copy()
        assert not (lost & ~terminated).any()
        if lost.any():
            i = int(np.flatnonzero(lost)[0])
            assert envs.envs.lives[i] == frames_before[i] - 1 > 0
            history = len(envs.episode_actions[i])
            seed = envs.episode_seeds[i]
            next_obs = envs.reset_done(terminated | truncated)
            # the same game goes on: the episode's seed and actions still rebuild it
            assert envs.episode_seeds[i] == seed and len(envs.episode_actions[i]) == history
            # and the new learning episode's stack repeats the frame the life was lost at
            assert all(np.array_equal(next_obs[i, j], obs[i, -1]) for j in range(4))
            losses += 1
        else:
            envs.reset_done(terminated | truncated)
    assert losses >= 2
    envs.close()


@pytest.mark.parametrize("env_id", ["ALE/Pong-v5", "ALE/Breakout-v5"])
def test_resume_rebuilds_every_game_exactly(env_id):
    envs = ResumableVectorEnv(env_id, 3, seed=7, max_episode_steps=600)
    envs.reset()
    rng = np.random.default_rng(2)
    n_actions = int(envs.envs.single_action_space.n)
    for t in range(250):  # episodes end at 600 frames, and one starts late: the histories differ
        _, _, terminated, truncated = envs.step(rng.integers(0, n_actions, 3))
        envs.reset_done(terminated | truncated | ((t == 37) & (np.arange(3) == 1)))
    assert len({len(h) for h in envs.episode_actions}) > 1
    state = envs.state_dict()
    copy = ResumableVectorEnv(env_id, 3, seed=99, max_episode_steps=600)
    obs, exact = copy.load_state_dict(state)
    assert exact
    for _ in range(100):
        actions = rng.integers(0, n_actions, 3)
        a, ra, ta, tra = envs.step(actions)
        b, rb, tb, trb = copy.step(actions)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(ta | tra, tb | trb)
        np.testing.assert_array_equal(envs.reset_done(ta | tra), copy.reset_done(tb | trb))
    envs.close()
    copy.close()
