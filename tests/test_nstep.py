import numpy as np
import pytest

from deepq.replay import NStepCollector


def random_run(num_envs, steps, seed):
    """Vector-env steps with episode ends at random: (obs, actions, rewards, next_obs, term, trunc)."""
    rng = np.random.default_rng(seed)
    counter = np.arange(num_envs, dtype=np.float32) * 1000  # unique observations per env
    rows = []
    for _ in range(steps):
        obs = counter[:, None].copy()
        counter += 1
        next_obs = counter[:, None].copy()
        ends = rng.random(num_envs)
        terminated, truncated = ends < 0.08, (ends >= 0.08) & (ends < 0.14)
        rows.append((obs, rng.integers(0, 3, num_envs), rng.normal(size=num_envs).astype(np.float32),
                     next_obs, terminated, truncated))
        counter[terminated | truncated] += 100  # the next episode starts elsewhere
    return rows


def reference(rows, n, gamma):
    """A plain loop over each environment's own list of steps."""
    out = []
    for e in range(len(rows[0][0])):
        steps = [(r[0][e, 0], r[1][e], r[2][e], r[3][e, 0], r[4][e], r[5][e]) for r in rows]
        for t in range(len(steps)):
            ret, k = 0.0, 0
            while k < n and t + k < len(steps):
                ret += gamma**k * steps[t + k][2]
                k += 1
                if steps[t + k - 1][4] or steps[t + k - 1][5]:
                    break
            last = steps[t + k - 1]
            complete = k == n or last[4] or last[5]
            if complete:
                out.append((float(steps[t][0]), int(steps[t][1]), float(last[3]), float(last[4]),
                            round(gamma**k, 6), ret))
    return sorted(out)


@pytest.mark.parametrize("num_envs", [3, 64])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_nstep_returns_match_a_plain_loop_across_vector_envs(n, num_envs):
    gamma = 0.9
    rows = random_run(num_envs=num_envs, steps=200, seed=n)
    collector = NStepCollector(n, gamma, num_envs=num_envs)
    got = []
    for obs, actions, rewards, next_obs, terminated, truncated in rows:
        o, a, r, nxt, term, disc = collector.push(obs, actions, rewards, next_obs, terminated, truncated)
        if n == 1:
            term = term.astype(np.float32)
        for i in range(len(a)):
            got.append((float(o[i, 0]), int(a[i]), float(nxt[i, 0]), float(term[i]),
                        round(float(disc[i]), 6), float(r[i])))
    got, expected = sorted(got), reference(rows, n, gamma)
    assert [g[:5] for g in got] == [e[:5] for e in expected]  # which transitions, cut where
    assert np.allclose([g[5] for g in got], [e[5] for e in expected], atol=1e-5)  # their returns


def test_termination_cuts_and_truncation_bootstraps():
    collector = NStepCollector(3, 0.5, num_envs=2)
    obs = np.array([[0.0], [10.0]], dtype=np.float32)
    step = lambda o, term, trunc: collector.push(o, np.array([0, 1]), np.array([1.0, 2.0]), o + 1,  # noqa: E731
                                                 np.array(term), np.array(trunc))
    assert len(step(obs, [False, False], [False, False])[1]) == 0
    o, a, r, nxt, term, disc = step(obs + 1, [True, False], [False, True])
    # env 0 terminated after 2 steps: returns 1 + 0.5 and 1, no bootstrap;
    # env 1 truncated after 2 steps: returns 2 + 1 and 2, bootstrapping with 0.5^2 and 0.5
    table = sorted(zip(o[:, 0].tolist(), r.tolist(), nxt[:, 0].tolist(), term.tolist(), disc.tolist()))
    assert table == [(0.0, 1.5, 2.0, 1.0, 0.25), (1.0, 1.0, 2.0, 1.0, 0.5),
                     (10.0, 3.0, 12.0, 0.0, 0.25), (11.0, 2.0, 12.0, 0.0, 0.5)]


@pytest.mark.parametrize("cut", [1, 2, 37])
def test_state_dict_round_trip_keeps_pending_steps(cut):
    """A collector restored from ``state_dict`` mid-run (windows of every length pending, some
    just emptied by an episode's end) gives the same rows as the original from then on."""
    steps = random_run(num_envs=5, steps=80, seed=cut)
    collector = NStepCollector(4, 0.9, num_envs=5)
    for step in steps[:cut]:
        collector.push(*step)
    copy = NStepCollector(4, 0.9, num_envs=5)
    copy.load_state_dict(collector.state_dict())
    for step in steps[cut:]:
        for a, b in zip(collector.push(*step), copy.push(*step), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(collector.last_envs, copy.last_envs)


@pytest.mark.parametrize("n", [1, 3])
def test_one_collector_over_groups_of_envs_gives_each_group_its_own_rows(n):
    """What the --seeds ensemble relies on: one collector over 2 x 3 environments returns, at
    every step, group 0's rows then group 1's, each exactly what a collector over that group's
    3 environments alone returns, and ``last_envs`` names each row's environment."""
    whole = NStepCollector(n, 0.9, 6)
    groups = [NStepCollector(n, 0.9, 3) for _ in range(2)]
    for step in random_run(6, 60, seed=4):
        rows = whole.push(*step)
        assert list(whole.last_envs) == sorted(whole.last_envs) and len(whole.last_envs) == len(rows[1])
        group_of_row = whole.last_envs // 3
        for g, collector in enumerate(groups):
            expected = collector.push(*(part[3 * g: 3 * g + 3] for part in step))
            assert list(whole.last_envs[group_of_row == g] - 3 * g) == list(collector.last_envs)
            for got, want in zip(rows, expected, strict=True):
                np.testing.assert_array_equal(got[group_of_row == g] if got.ndim else got, want)
