
import numpy as np
import pytest
import torch

from deepq.agent import DQNAgent, next_state_value, q_taken, td_loss, td_target
from deepq.config import DQNConfig
from deepq.replay import MemberReplays, ReplayBuffer


def test_q_taken_picks_the_action_column():
    q = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert q_taken(q, torch.tensor([2, 0])).tolist() == [3.0, 4.0]


def test_td_target_against_hand_numbers():
    rewards = torch.tensor([1.0, 0.5, -1.0])
    terminated = torch.tensor([0.0, 1.0, 0.0])
    next_q = torch.tensor([[2.0, 3.0], [10.0, 0.0], [-4.0, -2.0]])
    target = td_target(rewards, terminated, next_state_value(next_q), 0.9)
    # 1 + 0.9 * 3 = 3.7; terminal row keeps only its reward; -1 + 0.9 * -2 = -2.8
    assert target.tolist() == pytest.approx([3.7, 0.5, -2.8])


def test_double_dqn_target_uses_online_argmax_and_target_values():
    next_q_target = torch.tensor([[1.0, 5.0, 2.0], [3.0, 0.0, 9.0]])
    next_q_online = torch.tensor([[7.0, 0.0, 1.0], [0.0, 4.0, 1.0]])
    value = next_state_value(next_q_target, next_q_online)
    assert value.tolist() == [1.0, 0.0]  # online picks a=0 and a=1; target scores them
    assert next_state_value(next_q_target).tolist() == [5.0, 9.0]


def test_per_row_discounts_for_n_step_targets():
    target = td_target(torch.tensor([1.0, 1.0]), torch.zeros(2), torch.tensor([10.0, 10.0]),
                       torch.tensor([0.9, 0.81]))
    assert target.tolist() == pytest.approx([10.0, 9.1])


def test_td_loss_huber_mse_and_weights():
    predicted = torch.tensor([0.0, 0.0])
    target = torch.tensor([0.5, 3.0])
    assert td_loss(predicted, target, "huber").item() == pytest.approx((0.125 + 2.5) / 2)
    assert td_loss(predicted, target, "mse").item() == pytest.approx((0.25 + 9.0) / 2)
    weights = torch.tensor([2.0, 0.0])
    assert td_loss(predicted, target, "huber", weights).item() == pytest.approx(0.125)
    # (K, B) rows: one mean per member
    two = td_loss(torch.zeros(2, 2), torch.tensor([[0.5, 3.0], [1.0, 1.0]]), "mse")
    assert two.tolist() == pytest.approx([(0.25 + 9.0) / 2, 1.0])


def make_agent(**overrides):
    torch.manual_seed(0)
    return DQNAgent((4,), 2, DQNConfig(hidden_sizes=(16,), **overrides))


def filled_buffer():
    buffer = ReplayBuffer(64, (4,), seed=0)
    rng = np.random.default_rng(0)
    buffer.add(rng.normal(size=(64, 4)), rng.integers(0, 2, 64), rng.normal(size=64),
               rng.normal(size=(64, 4)), rng.random(64) < 0.1)
    return buffer


def test_learn_reduces_the_loss_on_a_fixed_batch():
    agent = make_agent(learning_rate=1e-2, target_update_interval=10**9)  # a fixed target
    batch = MemberReplays([filled_buffer()]).sample(32)
    losses = [float(agent.learn(batch)["loss"][0]) for _ in range(50)]
    assert losses[-1] < losses[0] * 0.5


def test_hard_and_soft_target_updates():
    agent = make_agent(tau=1.0)
    agent.learn_from(filled_buffer(), 32)
    online = [p.detach().clone() for p in agent.q_net.parameters()]
    before = [p.detach().clone() for p in agent.target_net.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(online, before))
    agent.update_target()
    assert all(torch.equal(a, b) for a, b in zip(online, agent.target_net.parameters()))

    soft = make_agent(tau=0.1)
    soft.learn_from(filled_buffer(), 32)
    before = [p.detach().clone() for p in soft.target_net.parameters()]
    online = [p.detach().clone() for p in soft.q_net.parameters()]
    soft.update_target()
    for old, new, live in zip(before, soft.target_net.parameters(), online):
        assert torch.allclose(new, 0.9 * old + 0.1 * live, atol=1e-6)


def test_no_target_network_when_interval_is_zero():
    assert make_agent(target_update_interval=0).target_net is None


def test_gradient_clipping_by_value_and_norm():
    agent = make_agent(learning_rate=0.0, grad_clip_value=1e-3, max_grad_norm=0)
    agent.learn_from(filled_buffer(), 32)
    assert max(p.grad.abs().max().item() for p in agent.q_net.parameters()) <= 1e-3 + 1e-9
    agent = make_agent(learning_rate=0.0, max_grad_norm=1e-2)
    agent.learn_from(filled_buffer(), 32)
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in agent.q_net.parameters()))
    assert norm.item() <= 1e-2 + 1e-6


@pytest.mark.parametrize("max_norm", [1e-3, 1e3])  # over the limit, and within it
def test_clip_grad_norm_is_torchs(max_norm):
    agent = make_agent()
    g = torch.Generator().manual_seed(0)
    for p in agent.q_net.parameters():
        p.grad.copy_(torch.randn(p.shape, generator=g))  # the gradients are views of one tensor
    expected = [p.grad.clone() for p in agent.q_net.parameters()]
    reference = [torch.nn.Parameter(p.detach().clone()) for p in agent.q_net.parameters()]
    for r, e in zip(reference, expected):
        r.grad = e
    torch.nn.utils.clip_grad_norm_(reference, max_norm)
    agent.clip_grad_norm(max_norm)
    for p, r in zip(agent.q_net.parameters(), reference):  # one norm over all the weights: rounding apart
        torch.testing.assert_close(p.grad, r.grad, rtol=1e-6, atol=0.0)
    if max_norm > 1.0:  # within the limit: untouched
        assert all(torch.equal(p.grad, e) for p, e in zip(agent.q_net.parameters(), expected))


def test_epsilon_greedy_extremes():
    agent = make_agent()
    obs = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    rng = np.random.default_rng(0)
    assert np.array_equal(agent.act(obs[None], 0.0, [rng])[0], agent.greedy(obs))
    # with exploration over, nothing is drawn: the generator is where it started
    assert rng.bit_generator.state == np.random.default_rng(0).bit_generator.state
    random_actions = agent.act(obs[None], 1.0, [rng])[0]
    assert 60 < (random_actions == 0).sum() < 140
    # One rate per environment (Ape-X's actors): the first half greedy, the second random.
    per_env = agent.act(obs[None], np.repeat([0.0, 1.0], 100), [rng])[0]
    greedy = agent.greedy(obs)
    assert np.array_equal(per_env[:100], greedy[:100]) and (per_env[100:] != greedy[100:]).sum() > 30


def test_boltzmann_follows_the_softmax():
    agent = make_agent(exploration="boltzmann", temperature=1.0)
    with torch.no_grad():
        for p in agent.q_net.parameters():
            p.zero_()
        agent.q_net.single.head.advantage.bias.copy_(torch.tensor([0.0, np.log(3.0)]))
    obs = np.zeros((20_000, 4), np.float32)
    actions = agent.act(obs[None], 0.0, [np.random.default_rng(0)])[0]
    assert (actions == 1).mean() == pytest.approx(0.75, abs=0.015)
