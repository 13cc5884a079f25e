import copy
import csv
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from deepq.agent import DQNAgent
from deepq.config import build_config
from deepq.cpu import cores
from deepq.ensemble import EnsembleAgent, EnsembleProcesses, EnsembleTrainer
from deepq.networks import MLP, EnsembleMLP
from deepq.replay import Batch
from deepq.train import RunError, Trainer

SHORT = {"learning_starts": 300, "eval_interval": 0, "eval_episodes": 5, "buffer_size": 5000,
         "hidden_sizes": "32,32", "num_envs": 2}


def members(count, dueling=False, seed=0):
    torch.manual_seed(seed)
    return [MLP(4, 3, (16, 8), dueling) for _ in range(count)]


@pytest.mark.parametrize("dueling", [False, True])
def test_each_member_computes_what_its_own_mlp_computes(dueling):
    nets = members(3, dueling)
    ensemble = EnsembleMLP(nets)
    obs = torch.randn(3, 5, 4)
    out = ensemble(obs)
    assert out.shape == (3, 5, 3)
    for k, net in enumerate(nets):
        torch.testing.assert_close(out[k], net(obs[k]))
        copy = MLP(4, 3, (16, 8), dueling)
        copy.load_state_dict(ensemble.member_state_dict(k))  # a member saves as a plain MLP
        torch.testing.assert_close(copy(obs[k]), net(obs[k]))


def test_gradient_clipping_is_per_member():
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "16,8"})
    torch.manual_seed(0)
    solo = [DQNAgent((4,), 2, config) for _ in range(2)]
    agent = EnsembleAgent(solo, config, torch.device("cpu"))
    obs = torch.randn(2, 6, 4)
    scale = torch.tensor([1000.0, 0.001]).view(2, 1, 1)  # member 0 clipped, member 1 not
    (agent.q_net(obs) * scale).sum().backward()
    agent.clip_grad_norm(1.0)
    for k, member in enumerate(solo):
        (member.q_net(obs[k]) * scale[k]).sum().backward()
        nn.utils.clip_grad_norm_(member.q_net.parameters(), 1.0)
        expected = [p.grad for p in member.q_net.parameters()]  # weight, bias, weight, bias, ...
        got = []
        for weight, bias in zip(agent.q_net.weights, agent.q_net.biases, strict=True):
            got += [weight.grad[k], bias.grad[k, 0]]
        assert len(got) == len(expected)
        for mine, reference in zip(got, expected, strict=True):
            torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-6)
    norms = [torch.sqrt(sum(g[k].pow(2).sum() for g in (p.grad for p in agent.q_net.parameters())))
             for k in range(2)]
    assert norms[0] == pytest.approx(1.0, rel=1e-4) and norms[1] < 1.0


@pytest.mark.parametrize("overrides", [
    {},  # double DQN, a target network, Huber, clipping by norm
    {"double": False, "target_update_interval": 0, "loss": "mse", "max_grad_norm": 0.0},
    {"n_step": 3, "max_grad_norm": 0.5},  # every member clipped, by its own norm
])
def test_the_batched_learn_step_by_hand_matches_autograd(overrides):
    """The ensemble learns through the hand-written backward pass, batched; 20 steps on random
    batches take the members where autograd's batched step takes them (float32 rounding)."""
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "16,8", **overrides})
    torch.manual_seed(0)
    by_hand = EnsembleAgent([DQNAgent((4,), 2, config) for _ in range(3)], config, torch.device("cpu"))
    by_autograd = copy.deepcopy(by_hand)
    by_autograd.by_hand = False
    assert by_hand.by_hand and not EnsembleAgent([DQNAgent((4,), 2, build_config(
        "CartPole-v1", overrides={"dueling": True})[0])], config, torch.device("cpu")).by_hand
    start = [p.detach().clone() for p in by_hand.q_net.parameters()]
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        batch = Batch(obs=torch.randn(3, 32, 4, generator=g), actions=torch.randint(0, 2, (3, 32), generator=g),
                      rewards=3 * torch.randn(3, 32, generator=g), next_obs=torch.randn(3, 32, 4, generator=g),
                      terminated=(torch.rand(3, 32, generator=g) < 0.1).float(),
                      discounts=torch.full((3, 32), 0.99), weights=None, indices=None)
        a, b = by_autograd.learn(batch), by_hand.learn(batch)
        torch.testing.assert_close(b["td_error"], a["td_error"], rtol=1e-5, atol=1e-6)
    for p_autograd, p_hand, p_start in zip(by_autograd.q_net.parameters(), by_hand.q_net.parameters(), start,
                                           strict=True):
        torch.testing.assert_close(p_hand, p_autograd, rtol=1e-5, atol=1e-6)
        assert not torch.equal(p_hand, p_start)  # and they did learn


def ensemble_run(tmp_path, name, seeds, steps=1200, **extra):
    config, _ = build_config("CartPole-v1", overrides={**SHORT, **extra})
    trainer = EnsembleTrainer("CartPole-v1", config, seeds, tmp_path / name, total_steps=steps,
                              device="cpu", progress=False)
    return trainer.run()


def episodes(run_dir):
    with open(run_dir / "metrics.csv") as handle:
        return [(r["global_step"], r["return"]) for r in csv.DictReader(handle)]


def weights(run_dir):
    return torch.load(run_dir / "model.pt", weights_only=True)["q_net"]


def test_a_member_does_not_depend_on_the_others(tmp_path):
    """Seed 3 alone and seed 3 beside seed 1: the same episodes and the same weights."""
    ensemble_run(tmp_path, "alone", [3])
    ensemble_run(tmp_path, "pair", [1, 3])
    alone, pair = tmp_path / "alone" / "seed-3", tmp_path / "pair" / "seed-3"
    assert episodes(alone) == episodes(pair)
    for key, value in weights(alone).items():
        torch.testing.assert_close(weights(pair)[key], value, rtol=1e-5, atol=1e-6)
    assert episodes(tmp_path / "pair" / "seed-1") != episodes(pair)


@pytest.mark.parametrize("extra", [{"n_step": 1}, {"n_step": 3, "double": False}])
def test_a_member_trains_as_its_seed_would_alone(tmp_path, extra):
    """The ensemble's member matches a plain Trainer run of its seed (the same environments,
    exploration, n-step returns, replay samples and initial weights), up to floating-point
    rounding. (With 3-step returns and Double DQN, a rounding-level difference flips one
    argmax near a tie after ~1,100 steps here, so that case runs plain DQN's max.)"""
    summaries = ensemble_run(tmp_path, "ens", [0, 7], **extra)
    config, _ = build_config("CartPole-v1", overrides={**SHORT, **extra})
    solo = Trainer("CartPole-v1", config, seed=7, run_dir=tmp_path / "solo", total_steps=1200,
                   device="cpu", progress=False).run()
    member = tmp_path / "ens" / "seed-7"
    assert episodes(member) == episodes(tmp_path / "solo")
    for key, value in weights(tmp_path / "solo").items():
        torch.testing.assert_close(weights(member)[key], value, rtol=1e-4, atol=1e-5)
    summary = json.loads((member / "summary.json").read_text())
    assert summary == summaries[1] and summary["seed"] == 7 and summary["ensemble_seeds"] == [0, 7]
    assert summary["gradient_steps"] == solo["gradient_steps"] and summary["episodes"] == solo["episodes"]
    assert summary["final_eval_mean"] == pytest.approx(solo["final_eval_mean"])


@pytest.mark.parametrize("override, message", [
    ("prioritized=true", "prioritized=true is not batched.* or add --set prioritized=false"),
    ("exploration=boltzmann", "exploration=boltzmann is not batched.* or add --set exploration=epsilon"),
])
def test_what_is_not_batched_is_refused_with_the_way_out(tmp_path, override, message):
    config, _ = build_config("CartPole-v1", overrides=dict([override.split("=")]))
    with pytest.raises(RunError, match=message):
        EnsembleTrainer("CartPole-v1", config, [0, 1], tmp_path / "x", progress=False)


def deepq(*args):
    return subprocess.run([sys.executable, "-m", "deepq.cli", *args], capture_output=True, text=True, timeout=300)


def test_the_command_trains_seeds_into_their_own_run_directories(tmp_path):
    run = tmp_path / "many"
    result = deepq("train", "CartPole-v1", "--seeds", "0-2", "--steps", "900", "--run-dir", str(run),
                   "--no-progress", "--set", "learning_starts=300", "eval_episodes=5", "hidden_sizes=16,16")
    assert result.returncode == 0, result.stderr
    assert "3 seeds in" in result.stdout
    for seed in range(3):
        member = run / f"seed-{seed}"
        for name in ("config.json", "metrics.csv", "evaluations.csv", "summary.json", "model.pt",
                     "learning_curve.png"):
            assert (member / name).stat().st_size > 0, (seed, name)
        assert json.loads((member / "summary.json").read_text())["seed"] == seed
        assert f"seed {seed}: " in result.stdout
    result = deepq("eval", str(run / "seed-2"), "--episodes", "3", "--json")  # a plain model file
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["episodes"] == 3

    for args, message in [(["--seeds", "0,0"], "lists a seed twice"),
                          (["--seeds", "0-1", "--seed", "3"], "does not combine with --seed"),
                          (["--seeds", "0-1", "--set", "prioritized=true"], "not batched")]:
        result = deepq("train", "CartPole-v1", *args, "--run-dir", str(tmp_path / "bad"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert np.all([not (tmp_path / "bad" / f"seed-{s}" / "summary.json").exists() for s in (0, 1)])


def process_run(tmp_path, name, seeds, processes, steps=1200):
    config, _ = build_config("CartPole-v1", overrides=SHORT)
    return EnsembleProcesses("CartPole-v1", config, seeds, tmp_path / name, processes, total_steps=steps,
                             device="cpu", progress=False).run()


def test_seeds_over_processes_train_as_in_one_process(tmp_path):
    """Seeds 1, 3 and 5 over two processes ([1, 3] here, [5] in a forked copy) train as they do
    in one: the same episodes and weights, each summary listing the run's seeds, and every
    member's learning curve drawn."""
    summaries = process_run(tmp_path, "split", [1, 3, 5], processes=2)
    ensemble_run(tmp_path, "one", [1, 3, 5])
    assert [summary["seed"] for summary in summaries] == [1, 3, 5]
    for seed, summary in zip([1, 3, 5], summaries, strict=True):
        split, one = tmp_path / "split" / f"seed-{seed}", tmp_path / "one" / f"seed-{seed}"
        assert episodes(split) == episodes(one)
        for key, value in weights(one).items():
            torch.testing.assert_close(weights(split)[key], value, rtol=1e-5, atol=1e-6)
        assert summary == json.loads((split / "summary.json").read_text())
        assert summary["ensemble_seeds"] == [1, 3, 5] and not summary["interrupted"]
        assert summary["episodes"] == json.loads((one / "summary.json").read_text())["episodes"]
        assert (split / "learning_curve.png").stat().st_size > 0


def test_a_process_that_fails_stops_the_run_with_its_error(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "seed-5").write_text("a file in the way of seed 5's run directory")
    with pytest.raises(RunError, match="seeds 5: cannot write to run directory"):
        process_run(tmp_path, "run", [1, 5], processes=2, steps=20_000)
    assert not (tmp_path / "run" / "seed-1" / "summary.json").exists()  # stopped long before the end


@pytest.mark.skipif(cores() < 2, reason="--seeds uses one process on a machine with one core")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_reaches_every_process_and_every_member_saves(tmp_path, signum, code):
    """The command with --seeds 0-1 trains the seeds in two processes; a Ctrl-C or SIGTERM sent
    to it (the copy has its own process group: a terminal's Ctrl-C reaches the parent only)
    stops both, and both members save their model and an interrupted summary."""
    run = tmp_path / "stop"
    process = subprocess.Popen(
        [sys.executable, "-m", "deepq.cli", "train", "CartPole-v1", "--seeds", "0-1", "--steps", "500000",
         "--run-dir", str(run), "--no-progress", "--set", "hidden_sizes=16,16", "eval_episodes=5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logs = [run / f"seed-{seed}" / "metrics.csv" for seed in (0, 1)]
    deadline = time.monotonic() + 120
    while not all(log.exists() and len(log.read_text().splitlines()) > 3 for log in logs):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.2)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "interrupted at step" in stderr and "Traceback" not in stderr
    for seed in (0, 1):
        summary = json.loads((run / f"seed-{seed}" / "summary.json").read_text())
        assert summary["interrupted"] and summary["steps"] < 500_000
        assert (run / f"seed-{seed}" / "model.pt").stat().st_size > 0
