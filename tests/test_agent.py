import copy

import numpy as np
import pytest
import torch

from deepq.agent import DQNAgent, next_state_value, q_taken, td_loss, td_loss_grad, td_target
from deepq.config import DQNConfig
from deepq.replay import ReplayBuffer


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
    batch = filled_buffer().sample(32)
    losses = [float(agent.learn(batch)["loss"]) for _ in range(50)]
    assert losses[-1] < losses[0] * 0.5


def test_hard_and_soft_target_updates():
    agent = make_agent(tau=1.0)
    agent.learn(filled_buffer().sample(32))
    online = [p.detach().clone() for p in agent.q_net.parameters()]
    before = [p.detach().clone() for p in agent.target_net.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(online, before))
    agent.update_target()
    assert all(torch.equal(a, b) for a, b in zip(online, agent.target_net.parameters()))

    soft = make_agent(tau=0.1)
    soft.learn(filled_buffer().sample(32))
    before = [p.detach().clone() for p in soft.target_net.parameters()]
    online = [p.detach().clone() for p in soft.q_net.parameters()]
    soft.update_target()
    for old, new, live in zip(before, soft.target_net.parameters(), online):
        assert torch.allclose(new, 0.9 * old + 0.1 * live, atol=1e-6)


def test_no_target_network_when_interval_is_zero():
    assert make_agent(target_update_interval=0).target_net is None


def test_gradient_clipping_by_value_and_norm():
    agent = make_agent(learning_rate=0.0, grad_clip_value=1e-3, max_grad_norm=0)
    agent.learn(filled_buffer().sample(32))
    assert max(p.grad.abs().max().item() for p in agent.q_net.parameters()) <= 1e-3 + 1e-9
    agent = make_agent(learning_rate=0.0, max_grad_norm=1e-2)
    agent.learn(filled_buffer().sample(32))
    norm = torch.sqrt(sum((p.grad ** 2).sum() for p in agent.q_net.parameters()))
    assert norm.item() <= 1e-2 + 1e-6


@pytest.mark.parametrize("max_norm", [1e-3, 1e3])  # over the limit, and within it
def test_clip_grad_norm_is_torchs(max_norm):
    agent = make_agent()
    g = torch.Generator().manual_seed(0)
    for p in agent.q_net.parameters():
        p.grad = torch.randn(p.shape, generator=g)
    expected = [p.grad.clone() for p in agent.q_net.parameters()]
    reference = [torch.nn.Parameter(p.detach().clone()) for p in agent.q_net.parameters()]
    for r, e in zip(reference, expected):
        r.grad = e
    torch.nn.utils.clip_grad_norm_(reference, max_norm)
    agent.clip_grad_norm(max_norm)
    for p, r in zip(agent.q_net.parameters(), reference):
        assert torch.equal(p.grad, r.grad)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_the_direct_adam_step_is_torchs(weight_decay):
    """optimizer_step calls fused Adam's kernel itself; it must take torch's step exactly,
    across a learning-rate change and a state reloaded from a checkpoint."""
    agent, reference = make_agent(), make_agent()
    for a in (agent, reference):
        for group in a.optimizer.param_groups:
            group["weight_decay"] = weight_decay
    assert agent._direct_adam
    g = torch.Generator().manual_seed(0)
    for step in range(40):
        grads = [torch.randn(p.shape, generator=g) for p in agent.q_net.parameters()]
        for a in (agent, reference):
            for p, grad in zip(a.q_net.parameters(), grads):
                p.grad = grad.clone()
        if step == 10:
            agent.set_learning_rate(3e-4), reference.set_learning_rate(3e-4)
        if step == 20:
            agent.load_state_dict(copy.deepcopy(agent.state_dict()))
        agent.optimizer_step()
        reference.optimizer.step()
        for p, r in zip(agent.q_net.parameters(), reference.q_net.parameters()):
            assert torch.equal(p, r), step
    assert not torch.equal(next(agent.q_net.parameters()), next(make_agent().q_net.parameters()))
    assert not make_agent(optimizer="rmsprop")._direct_adam


def test_td_loss_grad_is_autograds_slope():
    predicted = torch.tensor([0.0, 0.2, -1.0, 4.0], requires_grad=True)
    target = torch.tensor([0.5, 3.0, -1.5, 1.0])
    weights = torch.tensor([2.0, 0.5, 1.0, 0.0])
    for kind in ("huber", "mse"):
        for w in (None, weights):
            (autograd_slope,) = torch.autograd.grad(td_loss(predicted, target, kind, w), predicted)
            assert torch.equal(td_loss_grad(predicted.detach(), target, kind, w), autograd_slope)
    # Huber by hand: the TD error clamped to [-1, 1], a quarter each
    assert td_loss_grad(predicted.detach(), target).tolist() == [-0.125, -0.25, 0.125, 0.25]


@pytest.mark.parametrize("overrides", [
    dict(hidden_sizes=(32, 32), double=True),
    dict(hidden_sizes=(16,), double=False, target_update_interval=0),
    dict(hidden_sizes=(12, 10, 8), loss="mse", max_grad_norm=0.0, grad_clip_value=0.05),
    dict(hidden_sizes=(16, 16), optimizer="rmsprop", double=True),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_learning_by_hand_matches_autograd(overrides, weighted):
    """The hand-written backward pass takes the same steps as autograd: after 30 steps on
    random batches the weights, losses and TD errors agree (bit for bit on the machines we
    measured; the test allows float32 rounding)."""
    torch.manual_seed(0)
    by_autograd = DQNAgent((5,), 3, DQNConfig(batch_size=24, **overrides))
    by_hand, start = copy.deepcopy(by_autograd), copy.deepcopy(by_autograd.q_net)
    by_autograd.by_hand = False
    assert by_hand.by_hand  # a plain MLP learns by hand by default
    g = torch.Generator().manual_seed(3)
    for _ in range(30):
        batch = filled_buffer().sample(24)._replace(
            obs=torch.randn(24, 5, generator=g), next_obs=torch.randn(24, 5, generator=g),
            actions=torch.randint(0, 3, (24,), generator=g), rewards=3 * torch.randn(24, generator=g),
            weights=torch.rand(24, generator=g) if weighted else None)
        a, b = by_autograd.learn(batch), by_hand.learn(batch)
        assert torch.allclose(a["loss"], b["loss"], rtol=1e-5, atol=1e-7)
        assert torch.allclose(a["td_error"], b["td_error"], rtol=1e-5, atol=1e-6)
    for p_autograd, p_hand, p_start in zip(by_autograd.q_net.parameters(), by_hand.q_net.parameters(),
                                           start.parameters()):
        assert torch.allclose(p_autograd, p_hand, rtol=1e-5, atol=1e-6)
        assert not torch.equal(p_hand, p_start)  # and they did learn


def test_dueling_and_frame_networks_learn_through_autograd():
    assert not make_agent(dueling=True).by_hand
    assert not DQNAgent((4, 84, 84), 4, DQNConfig()).by_hand


def test_epsilon_greedy_extremes():
    agent = make_agent()
    obs = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    rng = np.random.default_rng(0)
    assert np.array_equal(agent.act(obs, 0.0, rng), agent.greedy(obs))
    # with exploration over, nothing is drawn: the generator is where it started
    assert rng.bit_generator.state == np.random.default_rng(0).bit_generator.state
    random_actions = agent.act(obs, 1.0, rng)
    assert 60 < (random_actions == 0).sum() < 140


def test_boltzmann_follows_the_softmax():
    agent = make_agent(exploration="boltzmann", temperature=1.0)
    with torch.no_grad():
        for p in agent.q_net.parameters():
            p.zero_()
        agent.q_net.head.advantage.bias.copy_(torch.tensor([0.0, np.log(3.0)]))
    obs = np.zeros((20_000, 4), np.float32)
    actions = agent.act(obs, 0.0, np.random.default_rng(0))
    assert (actions == 1).mean() == pytest.approx(0.75, abs=0.015)
