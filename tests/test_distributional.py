"""C51, QR-DQN, IQN, noisy nets and Munchausen DQN: their pure functions against hand-computed
numbers, the layers' noise, and each head trained, resumed and saved through the one loop."""

import math
import signal

import numpy as np
import pytest
import torch

from deepq.agent import DQNAgent
from deepq.config import ConfigError, build_config
from deepq.distributional import (
    categorical_loss,
    categorical_projection,
    cosine_features,
    munchausen_target,
    quantile_huber_loss,
    quantile_midpoints,
)
from deepq.networks import MLP, NatureCNN, NoisyLinear, scaled_noise
from deepq.train import Trainer

SUPPORT = torch.tensor([-1.0, 0.0, 1.0])  # three atoms one apart


def project(probs, reward, terminated=0.0, discount=1.0):
    def row(value):
        return torch.tensor([value], dtype=torch.float32)

    return categorical_projection(row(probs), row(reward), row(terminated), row(discount), SUPPORT)[0]


@pytest.mark.parametrize("probs, reward, terminated, discount, expected", [
    ([0, 1, 0], 0.5, 0, 1.0, [0, 0.5, 0.5]),  # z = 0 moves to 0.5: half to 0, half to 1
    ([1, 0, 0], 1.0, 0, 1.0, [0, 1, 0]),  # -1 lands exactly on 0: all of it there
    ([0.2, 0.3, 0.5], 2.0, 0, 1.0, [0, 0, 1]),  # every atom past v_max: clipped to it
    ([0.2, 0.3, 0.5], -3.0, 0, 1.0, [1, 0, 0]),  # below v_min
    ([0.2, 0.3, 0.5], 0.25, 1, 1.0, [0, 0.75, 0.25]),  # terminal: the reward alone, whatever s' held
    ([0.2, 0.3, 0.5], 0.0, 0, 0.5, [0.1, 0.65, 0.25]),  # gamma^n = 0.5 shrinks the atoms to -0.5, 0, 0.5
])
def test_the_c51_projection_matches_hand_tables(probs, reward, terminated, discount, expected):
    out = project(probs, reward, terminated, discount)
    torch.testing.assert_close(out, torch.tensor(expected, dtype=torch.float32))
    assert math.isclose(float(out.sum()), 1.0, rel_tol=1e-6)


def test_the_c51_loss_is_the_cross_entropy():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))
    target = torch.tensor([[0.0, 1.0, 0.0]])
    torch.testing.assert_close(categorical_loss(logits, target), torch.tensor([math.log(4.0)]))


@pytest.mark.parametrize("predicted, taus, target, expected", [
    ([0.0], [0.5], [2.0], 0.75),  # u = 2: Huber 1.5, weight 0.5
    ([0.0, 1.0], [0.25, 0.75], [0.5], 0.0625),  # u = 0.5 and -0.5: 0.125 each, weights 0.25 and 0.25
    ([0.0, 1.0], [0.25, 0.75], [0.5, 3.0], 0.90625),  # mean over the targets, sum over the quantiles
])
def test_the_quantile_huber_loss_matches_hand_numbers(predicted, taus, target, expected):
    loss = quantile_huber_loss(torch.tensor([predicted]), torch.tensor([target]), torch.tensor(taus))
    assert math.isclose(float(loss[0]), expected, rel_tol=1e-6)


def test_the_quantile_huber_loss_with_kappa_and_its_gradient_match_hand_numbers():
    predicted = torch.tensor([[0.0, 0.5]], requires_grad=True)
    # u = 3 - 0 = 3 > kappa = 2: Huber 2 (3 - 1) = 4, weight |0.25 - 0| = 0.25, over kappa: 0.5.
    # u = 3 - 0.5 = 2.5: Huber 2 (2.5 - 1) = 3, weight 0.75: 1.125. Sum over the quantiles: 1.625.
    loss = quantile_huber_loss(predicted, torch.tensor([[3.0]]), torch.tensor([0.25, 0.75]), kappa=2.0)
    assert math.isclose(float(loss[0].detach()), 1.625, rel_tol=1e-6)
    (grad,) = torch.autograd.grad(loss.sum(), predicted)  # d/dp = -kappa * weight / kappa = -weight
    torch.testing.assert_close(grad, torch.tensor([[-0.25, -0.75]]))


def pairwise_quantile_huber(predicted, target, taus, kappa):
    """The loss straight from its definition, over every (quantile, target) pair."""
    u = target.unsqueeze(-2) - predicted.unsqueeze(-1)
    huber = torch.where(u.abs() <= kappa, 0.5 * u ** 2, kappa * (u.abs() - 0.5 * kappa))
    weight = (taus.unsqueeze(-1) - (u < 0).to(u.dtype)).abs()
    return (weight * huber / kappa).mean(dim=-1).sum(dim=-1)


@pytest.mark.parametrize("kappa", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("taus_per_row", [False, True])
def test_the_quantile_huber_loss_and_its_gradient_match_the_pairwise_definition(kappa, taus_per_row):
    g = torch.Generator().manual_seed(int(kappa * 10) + taus_per_row)
    predicted = (torch.randn(3, 16, 12, generator=g, dtype=torch.float64) * 40).requires_grad_()
    target = torch.randn(3, 16, 30, generator=g, dtype=torch.float64) * 40 + 100
    target[..., :4] = predicted.detach()[..., :4]  # ties: u = 0
    target[..., 4] = predicted.detach()[..., 5] + kappa  # on the boundary of the quadratic range
    target[..., 5] = predicted.detach()[..., 6] - kappa
    taus = torch.rand(3, 16, 12, generator=g, dtype=torch.float64) if taus_per_row else quantile_midpoints(12).double()
    loss = quantile_huber_loss(predicted, target, taus, kappa)
    expected = pairwise_quantile_huber(predicted, target, taus, kappa)
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(*(torch.autograd.grad(x.sum(), predicted)[0] for x in (loss, expected)))


def test_iqn_fractions_shared_by_every_row_give_what_per_row_fractions_give():
    for members in (1, 3):
        config, _ = build_config("CartPole-v1", overrides={"distribution": "iqn", "num_quantile_samples": 5,
                                                           "quantile_embedding_dim": 8, "hidden_sizes": "16,16"})
        agent = DQNAgent((4,), 2, config, "cpu", seeds=list(range(members)))
        obs = torch.randn(members, 7, 4)
        per_row = quantile_midpoints(5).expand(members, 7, 5)
        shared = agent.outputs(agent.q_net, obs)  # (K, 1, 5) fractions, broadcast over the 7 rows
        assert shared.shape == (members, 7, 2, 5)
        torch.testing.assert_close(shared, agent.q_net(obs, per_row))


def test_quantile_fractions_and_the_cosine_embedding():
    torch.testing.assert_close(quantile_midpoints(4), torch.tensor([0.125, 0.375, 0.625, 0.875]))
    features = cosine_features(torch.tensor([[0.5, 1.0]]), 3)  # cos(0), cos(pi tau), cos(2 pi tau)
    torch.testing.assert_close(features, torch.tensor([[[1.0, 0.0, -1.0], [1.0, -1.0, 1.0]]]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("action, terminated, expected", [
    (1, 0.0, 1.0 - 0.5 + 0.9 * math.log(2.0)),  # tau log pi(1|s) = -log(1 + e) = -1.31, clipped to -1
    (0, 0.0, 1.0 + 0.5 * (1.0 - math.log(1.0 + math.e)) + 0.9 * math.log(2.0)),  # -0.31, unclipped
    (1, 1.0, 1.0 - 0.5),  # terminal: no soft bootstrap
])
def test_the_munchausen_target_matches_a_hand_computation(action, terminated, expected):
    target = munchausen_target(torch.tensor([1.0]), torch.tensor([terminated]), 0.9,
                               torch.tensor([[1.0, 0.0]]), torch.tensor([action]), torch.tensor([[0.0, 0.0]]),
                               alpha=0.5, tau=1.0, clip_min=-1.0)
    assert math.isclose(float(target[0]), expected, rel_tol=1e-6)


def noisy_agent(members=1, **overrides):
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "16", "noisy": True, **overrides})
    return DQNAgent((4,), 2, config, seeds=range(members)), config


def test_noise_has_the_factorised_statistics_and_follows_the_seed():
    draws = scaled_noise(torch.randn(200_000, generator=torch.Generator().manual_seed(0)))
    assert abs(float(draws.mean())) < 0.01
    assert abs(float(draws.square().mean()) - math.sqrt(2.0 / math.pi)) < 0.01  # E f(x)^2 = E|x|
    layer = NoisyLinear(16, 2, sigma0=0.5)
    torch.testing.assert_close(layer.weight_sigma, torch.full((2, 16), 0.5 / 4.0))
    first, second = noisy_agent()[0], noisy_agent()[0]
    first.sample_noise(first.q_net)
    second.sample_noise(second.q_net)
    for a, b in zip(first.q_net.noise_tensors(), second.q_net.noise_tensors(), strict=True):
        assert torch.equal(a, b) and bool(a.abs().sum() > 0)


def test_greedy_evaluation_has_no_noise_and_each_step_draws_new_noise():
    agent, _ = noisy_agent()
    obs = np.random.default_rng(0).normal(size=(1, 5, 4)).astype(np.float32)
    agent.sample_noise(agent.q_net)
    noisy = agent.q_values(obs)
    agent.q_net.eval()
    clean = agent.q_values(obs)
    agent.sample_noise(agent.q_net)
    assert torch.equal(agent.q_values(obs), clean)  # eval mode: the means alone
    head = agent.q_net.single.head.advantage
    torch.testing.assert_close(clean[0], torch.nn.functional.linear(
        torch.relu(agent.q_net.single.body(torch.as_tensor(obs[0]))), head.weight, head.bias))
    agent.q_net.train()
    assert not torch.equal(noisy, clean)
    before = [t.clone() for t in agent.q_net.noise_tensors()]
    agent.act(obs, 0.0, [np.random.default_rng(0)])
    assert all(not torch.equal(a, b) for a, b in zip(before, agent.q_net.noise_tensors(), strict=True))


def test_noisy_nets_default_to_no_epsilon_unless_it_is_set():
    _, config = noisy_agent()
    assert config.exploration_initial_eps == config.exploration_final_eps == 0.0
    config, _ = build_config("CartPole-v1", overrides={"noisy": True, "exploration_final_eps": 0.05})
    assert config.exploration_final_eps == 0.05 and config.exploration_initial_eps == 1.0


@pytest.mark.parametrize("overrides, message", [
    ({"distribution": "c52"}, "choose one of none, c51, qr, iqn"),
    ({"distribution": "c51", "v_min": 5, "v_max": 5}, "v_min must be < v_max"),
    ({"munchausen": True, "double": True}, "set double=false"),
    ({"munchausen": True, "double": False, "distribution": "qr"}, "distribution=none only"),
])
def test_bad_head_settings_are_refused_clearly(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config("CartPole-v1", overrides=overrides)


@pytest.mark.parametrize("make, obs_shape", [
    (lambda **head: MLP(4, 3, (16,), dueling=True, **head), (2, 4)),
    (lambda **head: NatureCNN(4, 3, dueling=True, **head), (2, 4, 84, 84)),
])
@pytest.mark.parametrize("head, shape", [
    ({"outputs": 5}, (2, 3, 5)), ({"embedding_dim": 8}, (2, 3, 6)), ({"noisy_sigma": 0.5}, (2, 3)),
])
def test_every_head_on_the_mlp_and_the_cnn(make, obs_shape, head, shape):
    net = make(**head)
    obs = torch.zeros(obs_shape, dtype=torch.uint8 if len(obs_shape) == 4 else torch.float32)
    taus = torch.rand(2, 6) if "embedding_dim" in head else None
    assert net(obs, taus).shape == shape


SHORT = {"learning_starts": 300, "eval_interval": 0, "eval_episodes": 3, "buffer_size": 5000,
         "hidden_sizes": "32,32", "num_envs": 2, "batch_size": 32}
HEADS = {
    "c51": {"distribution": "c51", "v_min": -20, "v_max": 100, "num_atoms": 21},
    "qr": {"distribution": "qr", "num_quantiles": 16},
    "iqn": {"distribution": "iqn", "num_tau_samples": 8, "num_tau_prime_samples": 8, "num_quantile_samples": 8,
            "quantile_embedding_dim": 16},
    "noisy": {"noisy": True},
    "munchausen": {"munchausen": True, "double": False},
    "rainbow": {"distribution": "c51", "v_min": -20, "v_max": 100, "num_atoms": 21, "noisy": True,
                "dueling": True, "double": True, "prioritized": True, "n_step": 3},
}


def trainer(tmp_path, name, overrides, seeds=(0,), steps=2000, **kwargs):
    config, _ = build_config("CartPole-v1", overrides={**SHORT, **overrides})
    return Trainer("CartPole-v1", config, seeds=list(seeds), run_dir=tmp_path / name, total_steps=steps,
                   device="cpu", progress=False, threads=1, **kwargs)


@pytest.mark.parametrize("head", list(HEADS))
def test_each_head_trains_and_its_saved_model_loads(tmp_path, head):
    from deepq import DQN

    summary = trainer(tmp_path, head, {**HEADS[head], "prioritized": True, "n_step": 3}, seeds=(0, 1),
                      steps=1200).run()
    assert all(s["gradient_steps"] > 400 and not s["interrupted"] and np.isfinite(s["final_eval_mean"])
               for s in summary)
    model = DQN.load(tmp_path / head / "seed-1" / "model.pt")
    assert model.predict(np.zeros(4, dtype=np.float32)) in (0, 1)


@pytest.mark.parametrize("head", ["rainbow", "iqn"])
def test_an_interrupted_run_of_each_head_resumes_bitwise(tmp_path, head):
    whole = trainer(tmp_path, "whole", HEADS[head], seeds=(0, 1), steps=1200).run()
    part = trainer(tmp_path, "part", HEADS[head], seeds=(0, 1), steps=1200, save_replay=True)

    def stop_at_600(t):
        if t.clock.step >= 600:
            t.stop.signal = signal.SIGINT

    part.run(callback=stop_at_600)
    resumed = Trainer.resume(tmp_path / "part", device="cpu", progress=False, threads=1).run()
    for seed, a, b in zip((0, 1), whole, resumed, strict=True):
        assert a["episodes"] == b["episodes"] and a["final_eval_mean"] == b["final_eval_mean"]
        saved = [torch.load(tmp_path / run / f"seed-{seed}" / "model.pt", weights_only=True)["q_net"]
                 for run in ("whole", "part")]
        assert all(torch.equal(saved[0][key], saved[1][key]) for key in saved[0])


def test_a_member_with_a_head_does_not_depend_on_the_others(tmp_path):
    a = trainer(tmp_path, "a", HEADS["rainbow"], seeds=(1, 3), steps=900).run()
    b = trainer(tmp_path, "b", HEADS["rainbow"], seeds=(3, 5), steps=900).run()
    assert a[1]["episodes"] == b[0]["episodes"] and a[1]["final_eval_mean"] == b[0]["final_eval_mean"]
