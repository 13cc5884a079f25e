"""The vector environments the trainer steps: CartPoleBatch against CartPole-v1 itself."""

import gymnasium as gym
import numpy as np

from deepq.envs import ResumableVectorEnv
from deepq.envs.cartpole import CartPoleBatch, CartPolePhysics


def _play(batch_size: int, seeds: list[list[int]], steps: int, action_seed: int) -> list[list]:
    """Step a CartPoleBatch with random actions; every episode of env i starts from the next seed in
    seeds[i]. Returns, per env, its (obs, reward, terminated, truncated) at each step."""
    batch = CartPoleBatch(batch_size)
    queues = [list(s) for s in seeds]
    obs, _ = batch.reset(seed=[q.pop(0) for q in queues])
    rng = np.random.default_rng(action_seed)
    record: list[list] = [[("reset", obs[i].copy())] for i in range(batch_size)]
    for _ in range(steps):
        actions = rng.integers(0, 2, size=batch_size)
        obs, rewards, terminated, truncated, _ = batch.step(actions)
        for i in range(batch_size):
            record[i].append((int(actions[i]), obs[i].copy(), float(rewards[i]), bool(terminated[i]),
                              bool(truncated[i])))
        done = terminated | truncated
        if done.any():
            next_seeds = [q.pop(0) if d else None for q, d in zip(queues, done, strict=True)]
            obs, _ = batch.reset(seed=next_seeds, options={"reset_mask": done})
            for i in np.flatnonzero(done):
                record[i].append(("reset", obs[i].copy()))
    batch.close()
    return record


def test_each_batched_cartpole_follows_cartpole_v1_exactly():
    """Replaying env i's actions and seeds in a plain CartPole-v1 gives bit-identical observations,
    rewards and flags, across resets: each environment depends only on its own seeds and actions,
    not on the others beside it."""
    seeds = [[1000 * i + e for e in range(100)] for i in range(6)]
    record = _play(6, seeds, 400, action_seed=3)
    single = gym.make("CartPole-v1")
    episodes = 0
    for i, events in enumerate(record):
        queue = list(seeds[i])
        for event in events:
            if event[0] == "reset":
                obs, _ = single.reset(seed=queue.pop(0))
                episodes += 1
                assert np.array_equal(obs, event[1])
            else:
                action, batch_obs, reward, terminated, truncated = event
                obs, single_reward, single_terminated, single_truncated, _ = single.step(action)
                assert np.array_equal(obs, batch_obs)
                assert (single_reward, single_terminated, single_truncated) == (reward, terminated, truncated)
    assert episodes > 6 * 10  # random play ends an episode every ~22 steps: many resets were checked


def test_the_physics_step_is_gymnasiums_vector_step_bit_for_bit():
    """CartPolePhysics.step on any columns of states gives the numbers Gymnasium's
    CartPoleVectorEnv computes for them: states, and which episodes terminate."""
    rng = np.random.default_rng(0)
    physics = CartPolePhysics.of_gymnasium()
    vector = gym.make_vec("CartPole-v1", num_envs=300, vectorization_mode="vector_entry_point").unwrapped
    vector.reset(seed=0)
    state = rng.uniform(-0.25, 0.25, size=(4, 300)) * np.array([[10.0], [4.0], [1.0], [4.0]])
    fell = 0
    for _ in range(20):
        actions = rng.integers(0, 2, size=300)
        vector.state, vector.prev_done[:] = state.copy(), False
        _, _, vector_terminated, _, _ = vector.step(actions)
        state, terminated = physics.step(state, actions)
        assert np.array_equal(state, vector.state) and np.array_equal(terminated, vector_terminated)
        fell += int(terminated.sum())
        some = rng.permutation(300)[:7]  # a few columns alone: the same numbers as among the 300
        alone, alone_terminated = physics.step(state[:, some], actions[some])
        assert np.array_equal(alone, physics.step(state, actions)[0][:, some])
        assert np.array_equal(alone_terminated, physics.step(state, actions)[1][some])
    assert fell > 0  # the termination test was exercised
    assert (physics.max_episode_steps, CartPolePhysics.of_gymnasium("CartPole-v0").max_episode_steps) == (500, 200)


def test_truncation_at_500_steps():
    batch = CartPoleBatch(2)
    batch.reset(seed=[0, 1])
    for step in range(1, 501):
        batch.state[:] = 0.0  # hold the pole upright: no termination, only the time limit
        _, _, terminated, truncated, _ = batch.step(np.array([0, 1]))
        assert not terminated.any()
        assert truncated.all() == (step == 500)


def test_resumable_cartpole_state_round_trip():
    """A saved ResumableVectorEnv rebuilds its batched CartPoles' states by replaying actions."""
    envs = ResumableVectorEnv("CartPole-v1", 4, seed=5)
    assert isinstance(envs.envs, CartPoleBatch)
    envs.reset()
    rng = np.random.default_rng(0)
    for _ in range(60):
        _, _, terminated, truncated = envs.step(rng.integers(0, 2, size=4))
        obs = envs.reset_done(terminated | truncated)
    state = envs.state_dict()
    copy = ResumableVectorEnv("CartPole-v1", 4, seed=123)
    rebuilt, matches = copy.load_state_dict(state)
    assert matches and np.array_equal(rebuilt, obs)
    actions = rng.integers(0, 2, size=4)
    assert np.array_equal(envs.step(actions)[0], copy.step(actions)[0])
