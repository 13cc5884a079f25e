import numpy as np

from deepq.evaluation import evaluate, random_policy


def test_random_cartpole_baseline_is_about_22():
    returns = evaluate(random_policy(2, seed=0), "CartPole-v1", 200, seed=0)
    assert len(returns) == 200
    assert 18 < returns.mean() < 26


def test_every_episode_counts_once_with_fixed_quotas():
    calls = []

    def policy(obs):
        calls.append(len(obs))
        return np.zeros(len(obs), dtype=np.int64)

    returns = evaluate(policy, "CartPole-v1", 7, seed=3, max_batch=3)
    assert len(returns) == 7
    assert max(calls) == 3  # three environments stepped as one batch


def test_same_seed_same_returns():
    a = evaluate(random_policy(2, seed=1), "CartPole-v1", 10, seed=5)
    b = evaluate(random_policy(2, seed=1), "CartPole-v1", 10, seed=5)
    assert np.array_equal(a, b)
