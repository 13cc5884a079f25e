import gymnasium as gym
import numpy as np
import pytest

from deepq.evaluation import evaluate, evaluate_members, random_policy


def test_random_cartpole_baseline_is_about_22():
    returns = evaluate(random_policy(2, seed=0), "CartPole-v1", 200, seed=0)
    assert len(returns) == 200
    assert 18 < returns.mean() < 26


def test_every_episode_counts_once_with_fixed_quotas():
    calls = []

    def policy(obs):
        calls.append(len(obs))
        return np.zeros(len(obs), dtype=np.int64)

    returns = evaluate(policy, "MountainCar-v0", 7, seed=3, max_batch=3)
    assert len(returns) == 7 and (returns == -200).all()
    assert max(calls) == 3  # three environments stepped as one batch


def test_same_seed_same_returns():
    a = evaluate(random_policy(2, seed=1), "CartPole-v1", 10, seed=5)
    b = evaluate(random_policy(2, seed=1), "CartPole-v1", 10, seed=5)
    assert np.array_equal(a, b)


def balance(obs):
    """A hand-made CartPole policy: push towards where the pole is falling."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def test_the_vectorized_cartpole_has_the_same_dynamics():
    """CartPole evaluations run in Gymnasium's numpy CartPoleVectorEnv: from the same state,
    the same actions give the same observations, rewards and episode ends as CartPole-v1."""
    single = gym.make("CartPole-v1")
    vector = gym.make_vec("CartPole-v1", num_envs=1, vectorization_mode="vector_entry_point")
    rng = np.random.default_rng(0)
    for episode in range(5):
        obs, _ = single.reset(seed=episode)
        vector.reset(seed=episode)
        vector.unwrapped.state = np.array(single.unwrapped.state, dtype=np.float64)[:, None]
        steps = 0
        while True:
            steps += 1
            action = int(balance(obs[None])[0]) if rng.random() < 0.9 else int(rng.integers(2))
            obs, reward, terminated, truncated, _ = single.step(action)
            vobs, vreward, vterminated, vtruncated, _ = vector.step(np.array([action]))
            assert np.allclose(obs, vobs[0], atol=1e-6) and reward == vreward[0]
            assert (terminated, truncated) == (vterminated[0], vtruncated[0])
            if terminated or truncated:
                break
        assert steps > 20


def test_vectorized_evaluation_counts_each_episode_once():
    returns = evaluate(balance, "CartPole-v1", 50, seed=0)
    assert len(returns) == 50 and (returns == 500).all()  # the hand-made policy balances to the limit
    pushes_left = evaluate(lambda obs: np.zeros(len(obs), np.int64), "CartPole-v1", 40, seed=0)
    per_env = evaluate(lambda obs: np.zeros(len(obs), np.int64), "CartPole-v1", 40, seed=0,
                       env_kwargs={"max_episode_steps": 500})  # env_kwargs: one env per episode
    assert len(pushes_left) == 40 and 8 <= pushes_left.mean() <= 11
    assert abs(pushes_left.mean() - per_env.mean()) < 1.0


def state_policy(weights):
    """A deterministic linear policy on the observation (different weights per member)."""
    return lambda obs: (obs @ np.asarray(weights) > 0).astype(np.int64)


@pytest.mark.parametrize("env_id, episodes", [("CartPole-v1", 30), ("LunarLander-v3", 4)])
def test_ensemble_members_get_exactly_their_solo_episodes(env_id, episodes):
    """evaluate_members runs K members' evaluations as one batch (CartPole: one numpy vector
    env; others: one list of envs); member k's returns equal its solo evaluation with seed k."""
    dim = gym.make(env_id).observation_space.shape[0]
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=dim) for _ in range(3)]
    seeds = [11, 5, 42]
    policies = [state_policy(w) for w in weights]

    def batched(obs):  # (K, N, obs) -> (K, N)
        return np.stack([policy(member_obs) for policy, member_obs in zip(policies, obs, strict=True)])

    together = evaluate_members(batched, env_id, episodes, seeds)
    for policy, seed, returns in zip(policies, seeds, together, strict=True):
        alone = evaluate(policy, env_id, episodes, seed=seed)
        assert np.array_equal(np.sort(returns), np.sort(alone))
    assert not np.array_equal(together[0], together[1])  # the members really differ
