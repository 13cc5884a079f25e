"""Ape-X (deepq train --actors N): the actor's block and priorities in this process, then real
runs on a local Ray: CartPole learned with 2 actors, an actor killed and replaced, resume, and
the errors."""

import json
import sys

import numpy as np
import pytest
import torch

from deepq.agent import DQNAgent
from deepq.apex import Actor, actor_epsilons, actor_seed
from deepq.cli import main
from deepq.cluster import require_ray
from deepq.config import build_config
from deepq.errors import ConfigError, RunError, UserError
from deepq.replay import MemberReplays, PrioritizedReplay, ReplayBuffer
from deepq.replay.members import with_member_dim
from deepq.train import Trainer

ray = pytest.importorskip("ray")

APEX = {"actors": "2", "prioritized": "true", "eval_episodes": "20", "checkpoint_interval": "4000"}


def apex_config(**more: str):
    return build_config("CartPole-v1", "cartpole", {**APEX, **more})[0]


def test_actor_epsilons_follow_the_paper():
    assert [list(e) for e in actor_epsilons(1)] == [[0.4]]
    eps = np.concatenate(actor_epsilons(4))  # one rate per actor
    assert eps[0] == pytest.approx(0.4) and eps[-1] == pytest.approx(0.4**8)
    assert eps[1] == pytest.approx(0.4 ** (1 + 7 / 3)) and list(eps) == sorted(eps, reverse=True)
    # One rate per environment: 2 actors x 8 environments play the paper's 16 actors.
    spread = actor_epsilons(2, 0.4, 7.0, envs_each=8)
    assert [e.shape for e in spread] == [(8,), (8,)]
    flat = np.concatenate(spread)
    assert flat[0] == pytest.approx(0.4) and flat[-1] == pytest.approx(0.4**8)
    assert flat[8] == pytest.approx(0.4 ** (1 + 7 * 8 / 15)) and list(flat) == sorted(flat, reverse=True)
    assert actor_epsilons(2, 0.5, 0.0)[1][0] == 0.5  # alpha 0: every actor at epsilon
    assert len({actor_seed(0, i, g) for i in range(4) for g in range(3)}) == 12  # every actor, every replacement


def test_an_actor_block_carries_the_learners_priorities():
    config = apex_config(n_step="3")
    actor = Actor("CartPole-v1", config.to_dict(), {}, seed=5, epsilon=np.full(config.num_envs, 0.3))
    learner = DQNAgent((4,), 2, config, torch.device("cpu"), seeds=[0])
    actor.load_weights({"q": learner.q_net.flat.detach().numpy(), "target": learner.target_net.flat.detach().numpy()})
    actor.version = 0
    block = actor.collect([None], 0)
    obs, actions, rewards, next_obs, terminated, discounts = block["transitions"]
    assert block["steps"] == config.actor_block_steps * config.num_envs
    # The n-step windows hold back at most n - 1 steps of each environment.
    assert block["steps"] - 2 * config.num_envs <= len(actions) <= block["steps"]
    assert np.isclose(discounts[:, None], [0.99, 0.99**2, 0.99**3]).any(axis=1).all()
    # The learner, given the same rows, computes the same priorities.
    memory = ReplayBuffer(len(actions), (4,))
    memory.add(obs, actions, rewards, next_obs, terminated, discounts)
    expected = learner.priorities(with_member_dim(memory.gather(np.arange(len(actions)))))[0].numpy()
    np.testing.assert_allclose(block["priorities"], expected, rtol=1e-5, atol=1e-6)
    # And those are the priorities the learn step gives the rows before it learns from them.
    replay = PrioritizedReplay(ReplayBuffer(1000, (4,)), alpha=0.6)
    replay.add_with_errors(block["priorities"], *block["transitions"])
    rows = np.arange(len(actions))
    np.testing.assert_allclose(replay.tree.get(rows), (np.abs(block["priorities"]) + replay.eps) ** 0.6, rtol=1e-6)
    batch = MemberReplays([replay]).sample(64)
    np.testing.assert_allclose(learner.learn(batch)["priority"][0].numpy(),
                               expected[batch.indices[0]], rtol=1e-4, atol=1e-5)


def test_actors_act_at_random_until_the_learner_has_learned():
    config = apex_config(n_step="1")  # each row is the step it was taken in
    actor = Actor("CartPole-v1", config.to_dict(), {}, seed=5, epsilon=np.zeros(config.num_envs))
    learner = DQNAgent((4,), 2, config, torch.device("cpu"), seeds=[0])
    actor.load_weights({"q": learner.q_net.flat.detach().numpy(), "target": learner.target_net.flat.detach().numpy()})
    actor.version = 0
    initial = actor.collect([None], 0, learned=False)  # the initial weights: uniform actions
    actions = initial["transitions"][1]
    assert initial["epsilon"] == 1.0 and 0.35 < actions.mean() < 0.65
    trained = actor.collect([None], 0)  # epsilon 0: the network's greedy actions, all alike here
    obs, actions = trained["transitions"][:2]
    assert trained["epsilon"] == 0.0
    np.testing.assert_array_equal(actions, learner.greedy(obs[None])[0])


def test_a_block_shorter_than_its_n_step_windows_adds_nothing():
    config = apex_config(n_step="3", actor_block_steps="1")
    actor = Actor("CartPole-v1", config.to_dict(), {}, seed=5, epsilon=np.full(config.num_envs, 0.3))
    learner = DQNAgent((4,), 2, config, torch.device("cpu"), seeds=[0])
    actor.load_weights({"q": learner.q_net.flat.detach().numpy(), "target": learner.target_net.flat.detach().numpy()})
    actor.version = 0
    replay = PrioritizedReplay(ReplayBuffer(1000, (4,)), alpha=0.6)
    first = actor.collect([None], 0)  # one step: every window still holds it back
    assert first["steps"] == config.num_envs and len(first["priorities"]) == 0
    assert len(replay.add_with_errors(first["priorities"], *first["transitions"])) == 0 and len(replay) == 0
    for _ in range(2):  # the third step completes the first windows
        block = actor.collect([None], 0)
        replay.add_with_errors(block["priorities"], *block["transitions"])
    assert len(replay) >= config.num_envs


def test_two_actors_learn_cartpole_and_a_killed_actor_is_replaced(tmp_path):
    messages = []

    class Display:  # the run's messages, to see the restart reported
        def message(self, text):
            messages.append(text)

        def status(self, *args):
            pass

    trainer = Trainer("CartPole-v1", apex_config(eval_interval="2000"), seed=0, run_dir=tmp_path / "run",
                      total_steps=30_000, progress=False, display=Display())
    killed = []

    def kill_once(t: Trainer) -> None:
        if t.clock.step >= 6_000 and not killed:
            killed.append(t.clock.step)
            ray.kill(t.fleet.handles[0])

    summary = trainer.run(callback=kill_once)
    assert summary["steps"] >= 30_000 and not summary["interrupted"]
    assert summary["best_eval_mean"] >= 200, summary
    assert killed and trainer.fleet.restarts == [1, 0]
    assert any(text.startswith("actor 0 died") for text in messages)
    run = tmp_path / "run"
    for name in ("model.pt", "checkpoint.pt", "metrics.csv", "evaluations.csv", "summary.json"):
        assert (run / name).exists(), name
    assert list(run.glob("events.out.tfevents.*"))
    assert not ray.is_initialized()  # the local Ray it started is stopped

    # deepq resume continues the learner: its counters go on from the checkpoint.
    saved = json.loads((run / "summary.json").read_text())
    assert main(["resume", str(run), "--steps", "34000", "--no-progress"]) == 0
    resumed = json.loads((run / "summary.json").read_text())
    assert resumed["steps"] >= 34_000 and resumed["gradient_steps"] > saved["gradient_steps"]
    assert resumed["episodes"] > saved["episodes"]


def test_apex_errors_are_one_line(tmp_path, capsys, monkeypatch):
    with pytest.raises(ConfigError, match="prioritized replay; set prioritized=true"):
        build_config("CartPole-v1", None, {"actors": "2"})
    assert main(["train", "CartPole-v1", "--actors", "2", "--seeds", "0-1", "--run-dir", str(tmp_path / "a")]) == 2
    assert "trains one seed" in capsys.readouterr().err
    assert main(["train", "CartPole-v1", "--address", "auto", "--run-dir", str(tmp_path / "b")]) == 2
    assert "add --actors" in capsys.readouterr().err
    assert main(["train", "CartPole-v1", "--actors", "0", "--run-dir", str(tmp_path / "c")]) == 2
    assert "--actors must be at least 1" in capsys.readouterr().err
    assert main(["train", "CartPole-v1", "--actors", "2", "--address", "127.0.0.1:1",
                 "--run-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "no Ray cluster at --address 127.0.0.1:1" in err and "Traceback" not in err
    # A cluster with fewer CPUs than actors is refused before any actor starts.
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with pytest.raises(RunError, match="--actors 2 needs 2 CPUs but the Ray cluster has 1"):
            Trainer("CartPole-v1", apex_config(), run_dir=tmp_path / "e", total_steps=4_000, progress=False).run()
    finally:
        ray.shutdown()
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed
    with pytest.raises(UserError, match=r"deepq train --actors needs Ray: pip install 'deepq\[ray\]'"):
        require_ray("deepq train --actors")
