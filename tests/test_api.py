import numpy as np
import pytest
import torch

from deepq import DQN
from deepq.checkpoint import CheckpointError


def test_save_load_gives_same_parameters_and_greedy_actions(tmp_path):
    model = DQN("CartPole-v1", seed=1, run_dir=tmp_path / "run", device="cpu",
                learning_starts=100, eval_episodes=3, eval_interval=0, hidden_sizes="16,16")
    model.learn(600)
    path = model.save(tmp_path / "cartpole.pt")
    loaded = DQN.load(path)
    for a, b in zip(model.agent.q_net.parameters(), loaded.agent.q_net.parameters()):
        assert torch.equal(a, b)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert np.array_equal(model.predict(obs), loaded.predict(obs))
    assert isinstance(loaded.predict(obs[0]), int)
    assert DQN.load(tmp_path / "run").config == model.config  # a run directory works too
    mean, std = loaded.evaluate(episodes=4)
    assert mean > 0 and std >= 0


def test_load_refuses_a_network_that_does_not_fit(tmp_path):
    model = DQN("CartPole-v1", run_dir=tmp_path / "run", hidden_sizes="8")
    path = model.save(tmp_path / "m.pt")
    data = torch.load(path, weights_only=True)
    data["config"]["hidden_sizes"] = [9]
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="does not match"):
        DQN.load(path)


def test_load_for_another_environment_names_both_sides(tmp_path):
    path = DQN("CartPole-v1", run_dir=tmp_path / "run", hidden_sizes="8").save(tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="made for environment CartPole-v1, but this run has "
                                              "environment Acrobot-v1"):
        DQN.load(path, env_id="Acrobot-v1")
    assert DQN.load(path, env_id="CartPole-v1").env_id == "CartPole-v1"
