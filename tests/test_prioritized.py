import numpy as np
import pytest
import torch

from deepq.replay import PrioritizedReplay, ReplayBuffer, SumTree


@pytest.mark.parametrize(("capacity", "branching", "top_size"), [
    (1, 16, 4096), (2, 16, 4096), (5, 16, 4096), (64, 16, 4096), (1000, 16, 4096),
    (5000, 16, 4096), (70_000, 16, 4096),  # one and two levels below the top
    (500, 3, 4), (97, 2, 1),  # deep trees: many descents, uneven padding
])
def test_sum_tree_against_brute_force(capacity, branching, top_size):
    rng = np.random.default_rng(capacity)
    tree = SumTree(capacity, branching, top_size)
    priorities = np.zeros(capacity)
    for _ in range(20):  # batch updates, with repeated indices
        indices = rng.integers(0, capacity, size=rng.integers(1, 10))
        values = rng.uniform(0.0, 5.0, size=len(indices))
        tree.set(indices, values)
        for i, v in zip(indices, values):
            priorities[i] = v
        assert tree.total == pytest.approx(priorities.sum())
        assert np.allclose(tree.get(np.arange(capacity)), priorities)
        # prefix-sum search: the leaf whose interval [cumsum_before, cumsum_after) holds v
        queries = rng.uniform(0.0, priorities.sum(), size=50)
        expected = np.searchsorted(np.cumsum(priorities), queries, side="right")
        assert np.array_equal(tree.find(queries), expected)


def test_search_never_returns_an_empty_leaf():
    tree = SumTree(8)
    tree.set(np.array([0, 1, 2]), np.array([0.1, 0.2, 0.3]))
    top = np.nextafter(tree.total, 0.0)
    assert tree.find(np.array([tree.total, top, 0.0])).tolist() == [2, 2, 0]


def filled(priorities, alpha=1.0, beta=0.5):
    storage = ReplayBuffer(len(priorities), (1,), seed=0)
    replay = PrioritizedReplay(storage, alpha=alpha, beta=beta, eps=0.0, seed=1)
    n = len(priorities)
    replay.add(np.arange(n, dtype=np.float32)[:, None], np.zeros(n, np.int64), np.zeros(n),
               np.zeros((n, 1), np.float32), np.zeros(n))
    replay.update_priorities(np.arange(n), np.asarray(priorities, dtype=np.float64))
    return replay


def test_sampling_frequencies_match_priorities():
    priorities = np.array([1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 5.0, 4.0])
    replay = filled(priorities, alpha=0.7)
    counts = np.zeros(len(priorities))
    draws = 4000
    for _ in range(draws):
        indices, _ = replay.sample_indices(8)
        np.add.at(counts, indices, 1)
    expected = priorities**0.7 / (priorities**0.7).sum() * draws * 8
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 24.3  # chi-square, 7 degrees of freedom, p = 0.001


def test_importance_weights_by_hand():
    replay = filled([1.0, 3.0, 0.0, 0.0], alpha=1.0, beta=0.5)  # rows 2 and 3 are never drawn
    indices, weights = replay.sample_indices(4)  # stratified: one draw from each quarter of [0, 4)
    assert indices.tolist() == [0, 1, 1, 1]
    # N = 4, P = [1/4, 3/4]: w = (N P)^-0.5 = [1, 1/sqrt(3)], divided by the batch max (1)
    assert weights.tolist() == pytest.approx([1.0, 3**-0.5, 3**-0.5, 3**-0.5], rel=1e-6)
    batch = replay.sample(4)
    assert isinstance(batch.weights, torch.Tensor) and batch.weights.max() == pytest.approx(1.0)


def test_new_transitions_enter_at_the_max_priority_and_updates_use_abs_td_error():
    storage = ReplayBuffer(10, (1,), seed=0)
    replay = PrioritizedReplay(storage, alpha=0.5, eps=0.01, seed=0)
    replay.add(np.zeros((3, 1)), np.zeros(3, np.int64), np.zeros(3), np.zeros((3, 1)), np.zeros(3))
    assert np.allclose(replay.tree.get(np.arange(3)), 1.0)
    replay.update_priorities(np.array([0, 1]), torch.tensor([-3.99, 0.5]))
    assert replay.tree.get(np.array([0, 1])) == pytest.approx([2.0, np.sqrt(0.51)])
    rows = replay.add(np.zeros((1, 1)), np.zeros(1, np.int64), np.zeros(1), np.zeros((1, 1)), np.zeros(1))
    assert replay.tree.get(rows) == pytest.approx([2.0])


def test_prioritized_state_dict_round_trip():
    replay = filled([1.0, 2.0, 3.0])
    copy = PrioritizedReplay(ReplayBuffer(3, (1,)), seed=5)
    copy.load_state_dict(replay.state_dict())
    assert copy.tree.total == replay.tree.total
    assert np.array_equal(copy.sample_indices(3)[0], replay.sample_indices(3)[0])
