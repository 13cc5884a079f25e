import subprocess
import sys

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


def lander_policy(obs):
    """A deterministic LunarLander policy (fire against the fall and the tilt), in batches."""
    actions = np.where(obs[..., 3] < -0.05, 2, 0)
    actions = np.where((actions == 0) & (obs[..., 4] > 0.1), 3, actions)
    return np.where((actions == 0) & (obs[..., 4] < -0.1), 1, actions)


def test_splitting_the_environments_over_processes_changes_nothing():
    """Forked processes step blocks of the environments: the returns are the same, in the same
    order, as with one process, for one policy and for an ensemble's members."""
    alone = evaluate(lander_policy, "LunarLander-v3", 40, seed=3, processes=1)
    for processes in (2, 3):
        assert np.array_equal(evaluate(lander_policy, "LunarLander-v3", 40, seed=3, processes=processes), alone)
    members = evaluate_members(lander_policy, "LunarLander-v3", 24, [0, 7], max_batch=12, processes=1)
    split = evaluate_members(lander_policy, "LunarLander-v3", 24, [0, 7], max_batch=12, processes=3)
    assert all(np.array_equal(a, b) for a, b in zip(members, split, strict=True))
    assert len(alone) == 40 and [len(m) for m in split] == [24, 24]


class Boom(gym.Env):
    """Falls over on its 5th step in episodes seeded 110 or more."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, render_mode=None):
        self.render_mode = render_mode

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.fragile, self.t = seed is not None and seed >= 110, 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.fragile and self.t == 5:
            raise ValueError("the physics exploded")
        return np.zeros(2, np.float32), 1.0, False, self.t >= 8, {}


gym.register("deepq-test/Boom-v0", entry_point=Boom)


def test_a_failure_in_a_forked_block_is_raised_here():
    """Environments 10-19 are stepped by the forked process: its error comes back as a
    RuntimeError naming it, and nothing hangs."""
    with pytest.raises(RuntimeError, match="ValueError: the physics exploded"):
        evaluate(lambda obs: np.zeros(len(obs), np.int64), "deepq-test/Boom-v0", 20, seed=100, processes=2)
    returns = evaluate(lambda obs: np.zeros(len(obs), np.int64), "deepq-test/Boom-v0", 10, seed=100,
                       processes=2)  # seeds 100-109 only: no failure
    assert (returns == 8).all()


def test_forked_blocks_never_run_this_process_cleanup(tmp_path):
    """The forked processes leave with os._exit: an atexit handler (the way a trainer saves on
    the way out) runs once, in this process only."""
    marks = tmp_path / "exits.txt"
    script = (
        "import atexit, numpy as np\n"
        "from deepq.evaluation import evaluate\n"
        f"atexit.register(lambda: open({str(marks)!r}, 'a').write('exit\\n'))\n"
        "r = evaluate(lambda o: np.zeros(len(o), np.int64), 'LunarLander-v3', 32, processes=4)\n"
        "assert len(r) == 32\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert marks.read_text() == "exit\n"
