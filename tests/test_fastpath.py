"""The hand-written MLP gradients against autograd's."""

import copy

import pytest
import torch

from deepq.agent import DQNAgent, td_loss
from deepq.config import build_config
from deepq.fastpath import td_loss_grad
from deepq.replay import Batch


def test_td_loss_grad_is_autograds_slope():
    predicted = torch.tensor([[0.0, 0.0, 2.0, -3.0]], requires_grad=True)
    target = torch.tensor([[0.5, 3.0, 0.0, 0.0]])
    weights = torch.tensor([[1.0, 2.0, 0.5, 0.0]])
    for kind in ("huber", "mse"):
        for w in (None, weights):
            (grad,) = torch.autograd.grad(td_loss(predicted, target, kind, w).sum(), predicted)
            assert torch.allclose(td_loss_grad(predicted.detach(), target, kind, w), grad)
    # Huber: the TD error clamped to [-1, 1], over B = 4
    assert td_loss_grad(predicted.detach(), target).tolist() == [[-0.125, -0.25, 0.25, -0.25]]


def random_batch(k, seed, weights):
    g = torch.Generator().manual_seed(seed)
    shape = (k, 32)
    return Batch(torch.randn(*shape, 4, generator=g), torch.randint(0, 3, shape, generator=g),
                 torch.randn(*shape, generator=g), torch.randn(*shape, 4, generator=g),
                 (torch.rand(*shape, generator=g) < 0.2).float(), torch.full(shape, 0.99),
                 torch.rand(*shape, generator=g) if weights else None, None)


@pytest.mark.parametrize("members", [1, 3])
@pytest.mark.parametrize("overrides", [{"loss": "huber", "max_grad_norm": 0.1}, {"loss": "mse", "double": False}])
@pytest.mark.parametrize("weights", [False, True])
def test_learning_by_hand_takes_autograds_steps(members, overrides, weights):
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "16,8", **overrides})
    by_hand = DQNAgent((4,), 3, config, seeds=range(members))
    assert by_hand.by_hand == (members == 1)  # by default: one plain MLP up to 256 units
    by_hand.by_hand = True
    by_autograd = copy.deepcopy(by_hand)
    by_autograd.by_hand = False
    for step in range(5):
        batch = random_batch(members, step, weights)
        a, b = by_autograd.learn(batch), by_hand.learn(batch)
        torch.testing.assert_close(a["loss"], b["loss"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a["priority"], b["priority"], rtol=1e-5, atol=1e-5)
    for p, q in zip(by_autograd.q_net.parameters(), by_hand.q_net.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_dueling_frame_and_wide_networks_learn_through_autograd():
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "256,256"})
    assert DQNAgent((4,), 2, config).by_hand  # LunarLander's width still learns by hand
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "512"})
    assert not DQNAgent((4,), 2, config).by_hand
    config, _ = build_config("CartPole-v1", overrides={"dueling": True})
    assert not DQNAgent((4,), 2, config).by_hand
    config, _ = build_config("CartPole-v1")
    assert not DQNAgent((4, 84, 84), 4, config).by_hand
