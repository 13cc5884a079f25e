"""The frame replay memory, with exact tables of which rows are valid and what stacks they give.

Frames are 1x1 images whose single pixel is a label, so a stack reads as a list of labels."""

import numpy as np
import pytest

from deepq.replay.frames import FrameReplay


def stack_of(labels):
    return np.asarray(labels, dtype=np.uint8).reshape(len(labels), 1, 1)


class Episode:
    """Feeds a FrameReplay like FrameStackObservation(padding_type="reset") feeds an agent."""

    def __init__(self, memory, env=0, num_envs=1, stack=3):
        self.memory, self.env, self.num_envs, self.stack = memory, env, num_envs, stack

    def run(self, labels, end="terminated"):
        history = [labels[0]] * self.stack
        for i, label in enumerate(labels[1:], start=1):
            next_history = (history + [label])[-self.stack:]
            last = i == len(labels) - 1
            self.step(history, next_history, reward=float(label), terminated=last and end == "terminated",
                      truncated=last and end == "truncated")
            history = next_history

    def step(self, history, next_history, reward, terminated, truncated):
        n = self.num_envs
        obs = np.zeros((n, self.stack, 1, 1), np.uint8)
        nxt = np.zeros((n, self.stack, 1, 1), np.uint8)
        obs[self.env], nxt[self.env] = stack_of(history), stack_of(next_history)
        self.memory.add(obs, np.full(n, 1), np.full(n, reward), nxt, np.full(n, terminated),
                        np.full(n, truncated))


def labels(stacks):
    return stacks[..., 0, 0].tolist()


def test_stacks_pad_with_the_first_frame_and_never_mix_episodes():
    memory = FrameReplay(20, (1, 1), stack=3)
    Episode(memory).run([1, 2, 3, 4], end="terminated")
    Episode(memory).run([11, 12, 13], end="truncated")
    # slots: 0:1 1:2 2:3 3:4(final) 4:11 5:12 6:13(final)
    valid = memory.is_valid(np.arange(memory.capacity)).tolist()
    assert valid == [True, True, True, False, True, True, False] + [False] * 13
    obs, nxt = memory.stacks(np.array([0, 1, 2, 4, 5]))
    assert labels(obs) == [[1, 1, 1], [1, 1, 2], [1, 2, 3], [11, 11, 11], [11, 11, 12]]
    assert labels(nxt) == [[1, 1, 2], [1, 2, 3], [2, 3, 4], [11, 11, 12], [11, 12, 13]]
    assert memory.terminated[0, [2, 5]].tolist() == [1.0, 0.0]  # truncation bootstraps from [11,12,13]


def test_a_terminal_inside_a_stack_is_not_crossed():
    memory = FrameReplay(20, (1, 1), stack=4)
    Episode(memory, stack=4).run([1, 2], end="terminated")  # slots 0:1 1:2(final)
    Episode(memory, stack=4).run([5, 6, 7], end="terminated")  # slots 2:5 3:6 4:7(final)
    obs, nxt = memory.stacks(np.array([0, 2, 3]))
    assert labels(obs) == [[1, 1, 1, 1], [5, 5, 5, 5], [5, 5, 5, 6]]
    assert labels(nxt) == [[1, 1, 1, 2], [5, 5, 5, 6], [5, 5, 6, 7]]


def test_nothing_is_read_past_the_write_cursor():
    memory = FrameReplay(8, (1, 1), stack=3)
    Episode(memory).run(list(range(1, 11)), end="terminated")  # 10 frames into 8 slots
    # slots now hold: 0:9 1:10(final) 2:3 3:4 4:5 5:6 6:7 7:8; cursor at 2 (oldest frame 3)
    assert memory.cursor[0] == 2
    valid = memory.is_valid(np.arange(8)).tolist()
    # slot 2 (frame 3) and 3 (frame 4) would need frames 1-2, already overwritten;
    # slot 1 is the final frame; slot 0 (frame 9) has its next frame 10.
    assert valid == [True, False, False, False, True, True, True, True]
    obs, nxt = memory.stacks(np.array([4, 7, 0]))
    assert labels(obs) == [[3, 4, 5], [6, 7, 8], [7, 8, 9]]
    assert labels(nxt) == [[4, 5, 6], [7, 8, 9], [8, 9, 10]]


def test_the_newest_transition_waits_for_its_next_frame():
    memory = FrameReplay(10, (1, 1), stack=2)
    memory.add(stack_of([1, 1])[None], np.array([0]), np.array([0.0]), stack_of([1, 2])[None],
               np.array([False]), np.array([False]))
    assert memory.is_valid(np.arange(10)).tolist() == [True] + [False] * 9
    assert len(memory) == 1


def test_several_environments_write_at_once_without_mixing():
    memory = FrameReplay(20, (1, 1), stack=2, num_envs=2)
    obs = np.array([[[1], [1]], [[101], [101]]], np.uint8)[..., None]
    nxt = np.array([[[1], [2]], [[101], [102]]], np.uint8)[..., None]
    rows = memory.add(obs, np.array([0, 1]), np.array([1.0, 2.0]), nxt, np.zeros(2, bool), np.zeros(2, bool))
    obs2 = nxt
    nxt2 = np.array([[[2], [3]], [[102], [103]]], np.uint8)[..., None]
    rows2 = memory.add(obs2, np.array([1, 0]), np.array([3.0, 4.0]), nxt2, np.array([True, False]),
                       np.zeros(2, bool))
    assert rows.tolist() == [0, 10] and rows2.tolist() == [1, 11]
    o, n = memory.stacks(np.array([0, 1, 10, 11]))
    assert labels(o) == [[1, 1], [1, 2], [101, 101], [101, 102]]
    assert labels(n) == [[1, 2], [2, 3], [101, 102], [102, 103]]
    batch = memory.gather(np.array([1, 11]))
    assert batch.actions.tolist() == [1, 0] and batch.rewards.tolist() == [3.0, 4.0]
    assert batch.terminated.tolist() == [1.0, 0.0]


def test_sampling_returns_only_valid_distinct_rows():
    memory = FrameReplay(64, (1, 1), stack=4, seed=0)
    for start in range(0, 200, 10):
        Episode(memory, stack=4).run(list(range(start, start + 7)), end="truncated")
    for _ in range(50):
        rows = memory.sample_indices(16)
        assert len(set(rows.tolist())) == 16 and memory.is_valid(rows).all()


def test_bytes_per_transition_is_about_one_frame():
    assert FrameReplay.bytes_needed(1_000_000) / 1_000_000 <= 7.2 * 1024


def test_state_dict_round_trip():
    memory = FrameReplay(16, (1, 1), stack=2, seed=3)
    Episode(memory, stack=2).run([1, 2, 3, 4, 5])
    copy = FrameReplay(16, (1, 1), stack=2, seed=9)
    copy.load_state_dict(memory.state_dict())
    assert np.array_equal(copy.sample_indices(3), memory.sample_indices(3))
    with pytest.raises(ValueError, match="too small"):
        FrameReplay(4, (1, 1), stack=4)


def _stream(seed, num_envs, steps, stack):
    """Random episodes on ``num_envs`` envs (terminations, truncations, rewards), each frame a
    unique 2-byte label: yields (obs, actions, rewards, next_obs, terminated, truncated)."""
    rng = np.random.default_rng(seed)
    counter = iter(range(1, 60_000))

    def frame():
        label = next(counter)
        return np.array([[label // 256, label % 256]], np.uint8)

    history = [[frame()] * stack for _ in range(num_envs)]
    for _ in range(steps):
        new = [frame() for _ in range(num_envs)]
        nxt = [h[1:] + [f] for h, f in zip(history, new, strict=True)]
        end = rng.random(num_envs)
        terminated, truncated = end < 0.08, (end >= 0.08) & (end < 0.14)
        yield (np.stack([np.stack(h) for h in history]), rng.integers(0, 4, num_envs),
               rng.normal(size=num_envs).round(2), np.stack([np.stack(h) for h in nxt]), terminated, truncated)
        history = [[frame()] * stack if terminated[e] or truncated[e] else nxt[e] for e in range(num_envs)]


@pytest.mark.parametrize("capacity", [4000, 60])
def test_n_step_returns_match_the_plain_collector(capacity):
    """Every row the frame memory can sample, at every step, gives exactly the n-step
    transition the plain NStepCollector builds from full observations (returns cut at
    terminations, bootstrapped at truncations, gamma^k), including after the cursor wraps;
    and ``add`` hands out each row once, when it becomes sampleable (what prioritized replay
    relies on)."""
    from deepq.replay.nstep import NStepCollector

    n, gamma, envs, stack = 3, 0.9, 2, 3
    steps = list(_stream(0, envs, 300, stack))
    collector, reference = NStepCollector(n, gamma, envs), {}
    for step in steps:
        for o, a, r, nx, t, d in zip(*collector.push(*step), strict=True):
            reference[(o.tobytes(), int(a))] = (r, nx, t, d)
    memory = FrameReplay(capacity, (1, 2), stack=stack, num_envs=envs, gamma=gamma, n_step=n)
    handed_out: set[int] = set()
    for step in steps:
        rows = memory.add(*step)
        if capacity > 1000:  # (slots are reused once the cursor wraps)
            assert not handed_out & set(rows.tolist())
        handed_out |= set(rows.tolist())
        valid = np.flatnonzero(memory.is_valid(np.arange(memory.capacity)))
        if capacity > 1000:  # nothing overwritten: sampleable rows are exactly those handed out
            assert set(valid.tolist()) == handed_out and len(memory) == len(valid)
        else:
            assert set(valid.tolist()) <= handed_out
        batch = memory.gather(valid)
        for i in range(len(valid)):
            r, nx, t, d = reference[(batch.obs[i].numpy().tobytes(), int(batch.actions[i]))]
            assert batch.rewards[i].item() == pytest.approx(r, abs=1e-5)
            assert np.array_equal(batch.next_obs[i].numpy(), nx)
            assert batch.terminated[i].item() == t and batch.discounts[i].item() == pytest.approx(d)
    assert len(reference) > 500 and (capacity < 1000 or len(handed_out) == len(reference))
