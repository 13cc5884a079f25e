import numpy as np
import pytest

from deepq.replay import ReplayBuffer


def fill(buffer, start, count, n_envs=1):
    for i in range(start, start + count, n_envs):
        ids = np.arange(i, i + n_envs)
        buffer.add(ids[:, None].astype(np.float32), ids % 2, ids.astype(np.float32),
                   ids[:, None] + 0.5, (ids % 5 == 0).astype(np.float32))


def test_wraparound_overwrites_the_oldest_rows():
    buffer = ReplayBuffer(5, (1,))
    fill(buffer, 0, 7)
    assert len(buffer) == 5 and buffer.cursor == 2
    assert sorted(buffer.obs[:, 0].tolist()) == [2, 3, 4, 5, 6]
    assert buffer.obs[0, 0] == 5 and buffer.obs[1, 0] == 6


def test_vector_add_writes_one_row_per_env_and_wraps():
    buffer = ReplayBuffer(6, (1,))
    fill(buffer, 0, 8, n_envs=4)
    assert buffer.cursor == 2 and len(buffer) == 6
    assert buffer.obs[:, 0].tolist() == [6, 7, 2, 3, 4, 5]


def test_rows_stay_aligned_across_arrays():
    buffer = ReplayBuffer(50, (1,), seed=0)
    fill(buffer, 0, 50)
    batch = buffer.sample(20)
    ids = batch.obs[:, 0]
    assert np.allclose(batch.rewards.numpy(), ids.numpy())
    assert np.allclose(batch.next_obs[:, 0].numpy(), ids.numpy() + 0.5)
    assert np.array_equal(batch.actions.numpy(), ids.numpy().astype(int) % 2)
    assert np.array_equal(batch.terminated.numpy(), (ids.numpy() % 5 == 0).astype(np.float32))
    assert batch.weights is None  # uniform replay: every row counts the same


def test_sampling_is_without_replacement_and_only_from_filled_rows():
    buffer = ReplayBuffer(100, (1,), seed=1)
    fill(buffer, 0, 30)
    for _ in range(50):
        indices = buffer.sample(30).indices
        assert len(set(indices.tolist())) == 30
        assert indices.max() < 30
    with pytest.raises(ValueError, match="cannot sample"):
        buffer.sample(31)


def test_sampling_is_uniform():
    buffer = ReplayBuffer(10, (1,), seed=2)
    fill(buffer, 0, 10)
    counts = np.bincount(np.concatenate([buffer.sample_indices(3) for _ in range(20_000)]), minlength=10)
    assert np.allclose(counts / counts.sum(), 0.1, atol=0.01)


def test_state_dict_round_trip():
    buffer = ReplayBuffer(8, (1,), seed=3)
    fill(buffer, 0, 11)
    other = ReplayBuffer(8, (1,), seed=99)
    other.load_state_dict(buffer.state_dict())
    assert other.cursor == buffer.cursor and len(other) == len(buffer)
    assert np.array_equal(other.obs, buffer.obs)
    assert np.array_equal(other.sample_indices(4), buffer.sample_indices(4))
