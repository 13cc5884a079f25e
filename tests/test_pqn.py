"""PQN: the Q(lambda) returns against hand numbers, the rollout memory, the config's rules, and
a run that learns CartPole."""

import signal

import numpy as np
import pytest
import torch

from deepq.agent import q_lambda_returns
from deepq.config import ConfigError, build_config
from deepq.networks import MLP, NatureCNN, SmallCNN, build_q_network
from deepq.replay import RolloutMemory
from deepq.train import Trainer


def test_q_lambda_returns_by_hand():
    # one environment, three steps; V_t = max_a Q(s_{t+1}, a)
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[10.0], [20.0], [30.0]])
    zeros = torch.zeros(3, 1)
    gamma, lam = 0.5, 0.8
    g2 = 3 + 0.5 * 30  # the last step bootstraps from V alone: 18
    g1 = 2 + 0.5 * (20 + 0.8 * (g2 - 20))  # 2 + 0.5 * 18.4 = 11.2
    g0 = 1 + 0.5 * (10 + 0.8 * (g1 - 10))  # 1 + 0.5 * 10.96 = 6.48
    got = q_lambda_returns(rewards, zeros, zeros, values, gamma, lam)
    assert got[:, 0].tolist() == pytest.approx([g0, g1, g2])
    # lambda 0: one-step targets; lambda 1: the discounted rewards to the end plus V at the end
    assert q_lambda_returns(rewards, zeros, zeros, values, gamma, 0.0)[:, 0].tolist() == pytest.approx(
        [1 + 5, 2 + 10, 3 + 15])
    assert q_lambda_returns(rewards, zeros, zeros, values, gamma, 1.0)[0, 0].item() == pytest.approx(
        1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 30)


def test_q_lambda_returns_stop_at_episode_ends():
    rewards = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    values = torch.full((3, 2), 10.0)
    # env 0 terminates at step 1 (no bootstrap); env 1 is truncated there (bootstraps from V_1)
    terminated = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    done = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    got = q_lambda_returns(rewards, terminated, done, values, 0.9, 0.5)
    assert got[1].tolist() == pytest.approx([2.0, 2 + 0.9 * 10])
    # step 0 blends with step 1's return, which never looks past the episode's end
    assert got[0, 0].item() == pytest.approx(1 + 0.9 * (10 + 0.5 * (2.0 - 10)))
    assert got[2].tolist() == pytest.approx([3 + 9.0, 3 + 9.0])  # the next episode's own step


def test_rollout_memory_fills_then_deals_every_row_once_per_pass():
    memory = RolloutMemory(3, 2, (1,), seed=0)
    for t in range(3):
        assert len(memory) == 0
        memory.add(np.full((2, 1), t, np.float32), np.array([t, t]), np.ones(2), np.zeros((2, 1), np.float32),
                   np.zeros(2, bool), np.zeros(2, bool))
    assert len(memory) == 6
    with pytest.raises(ValueError, match="set_targets"):
        memory.sample(2)
    memory.set_targets(torch.arange(6, dtype=torch.float32).view(3, 2))
    for _ in range(2):  # two passes: each deals all six rows, targets matching their rows
        seen = []
        for _ in range(3):
            batch = memory.sample(2)
            assert batch.next_obs is None
            assert batch.rewards.tolist() == batch.indices.astype(float).tolist()
            assert batch.obs[:, 0].tolist() == (batch.indices // 2).astype(float).tolist()
            seen += batch.indices.tolist()
        assert sorted(seen) == list(range(6))
    memory.add(np.zeros((2, 1), np.float32), np.zeros(2), np.zeros(2), np.zeros((2, 1), np.float32),
               np.zeros(2, bool), np.zeros(2, bool))
    assert len(memory) == 0 and memory.t == 1  # a new rollout begins


def test_pqn_config_rules():
    with pytest.raises(ConfigError, match="target_update_interval=0"):
        build_config("CartPole-v1", "pqn-cartpole", {"target_update_interval": 100})
    with pytest.raises(ConfigError, match="multiple of batch_size"):
        build_config("CartPole-v1", "pqn-cartpole", {"batch_size": 100})
    with pytest.raises(ConfigError, match="prioritized=false"):
        build_config("CartPole-v1", "pqn-cartpole", {"prioritized": True})


def test_layer_norm_networks():
    mlp = build_q_network((4,), 2, (8, 8), False, layer_norm=True)
    assert isinstance(mlp, MLP) and not mlp.plain
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in mlp.modules()) == 2
    cnn = build_q_network((4, 84, 84), 6, (), False, layer_norm=True)
    assert isinstance(cnn, NatureCNN) and sum(isinstance(m, torch.nn.LayerNorm) for m in cnn.modules()) == 4
    assert cnn(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)
    small = build_q_network((7, 10, 10), 3, (), True, layer_norm=True)
    assert isinstance(small, SmallCNN) and small(torch.zeros(5, 7, 10, 10)).shape == (5, 3)


def test_pqn_learns_cartpole(tmp_path):
    trainer = Trainer("CartPole-v1", build_config("CartPole-v1", "pqn-cartpole")[0], seed=0, run_dir=tmp_path / "run",
                      total_steps=120_000, progress=False, stop_when_solved=False)
    trainer.config.eval_interval = 40_000
    trainer.config.eval_episodes = 20
    summary = trainer.run()
    # 20 fixed-seed greedy episodes after 120k steps: well above a random policy's ~22
    assert summary["final_eval_mean"] >= 200, summary
    assert summary["gradient_steps"] == 120_000 // (32 * 64) * 4 * 16


def pqn_trainer(tmp_path, name, **kwargs):
    config = build_config("Acrobot-v1", "pqn-cartpole", {
        "num_envs": 4, "rollout_steps": 16, "batch_size": 16, "eval_interval": 0, "eval_episodes": 2,
        "checkpoint_interval": 256})[0]
    return Trainer("Acrobot-v1", config, run_dir=tmp_path / name, total_steps=1_024, progress=False,
                   threads=1, seeds=(0, 1), **kwargs)


def test_an_interrupted_pqn_run_resumes_bitwise(tmp_path):
    whole = pqn_trainer(tmp_path, "whole").run()
    part = pqn_trainer(tmp_path, "part", save_replay=True)

    def stop_mid_rollout(t):  # 600 is not a multiple of the 64-step rollouts: the saved one is half full
        if t.clock.step >= 600:
            t.stop.signal = signal.SIGINT

    part.run(callback=stop_mid_rollout)
    resumed = Trainer.resume(tmp_path / "part", device="cpu", progress=False, threads=1).run()
    for seed, a, b in zip((0, 1), whole, resumed, strict=True):
        assert a["gradient_steps"] == b["gradient_steps"] == 1_024 // 64 * 4 * 4
        assert a["episodes"] == b["episodes"] and a["final_eval_mean"] == b["final_eval_mean"]
        saved = [torch.load(tmp_path / run / f"seed-{seed}" / "model.pt", weights_only=True)["q_net"]
                 for run in ("whole", "part")]
        assert all(torch.equal(saved[0][key], saved[1][key]) for key in saved[0])
