"""Many seeds in one loop: members batched (``MemberNets``), independent, resumable, over processes."""

import csv
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from deepq.agent import DQNAgent
from deepq.config import build_config
from deepq.cpu import cores
from deepq.errors import RunError
from deepq.networks import MLP, MemberNets, NatureCNN
from deepq.processes import train_in_processes
from deepq.replay import Batch
from deepq.train import Trainer

SHORT = {"learning_starts": 300, "eval_interval": 0, "eval_episodes": 5, "buffer_size": 5000,
         "hidden_sizes": "32,32", "num_envs": 2}


def nets(count, make):
    torch.manual_seed(0)
    return [make() for _ in range(count)]


@pytest.mark.parametrize("make, obs_shape", [
    (lambda: MLP(4, 3, (16, 8)), (4,)),
    (lambda: MLP(4, 3, (16, 8), dueling=True), (4,)),
    (lambda: NatureCNN(4, 3, dueling=True), (4, 84, 84)),
])
def test_each_member_computes_what_its_own_network_computes(make, obs_shape):
    members = nets(3, make)
    stacked = MemberNets(members)
    obs = torch.rand(3, 5, *obs_shape) * (255 if len(obs_shape) == 3 else 1)
    out = stacked(obs)
    assert out.shape == (3, 5, 3)
    for k, net in enumerate(members):
        torch.testing.assert_close(out[k], net(obs[k]), rtol=1e-5, atol=1e-5)
        for name, value in net.state_dict().items():
            assert torch.equal(stacked.member_state_dict(k)[name], value)


def batch_for(k_members, batch_size=16, weights=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (k_members, batch_size)
    return Batch(
        obs=torch.randn(*shape, 4, generator=g), actions=torch.randint(0, 3, shape, generator=g),
        rewards=torch.randn(*shape, generator=g), next_obs=torch.randn(*shape, 4, generator=g),
        terminated=(torch.rand(*shape, generator=g) < 0.2).float(), discounts=torch.full(shape, 0.99),
        weights=torch.rand(*shape, generator=g) if weights else None, indices=np.zeros(shape, dtype=np.int64))


@pytest.mark.parametrize("overrides", [
    {"max_grad_norm": 0.05},  # clipping active, per member
    {"dueling": True, "double": True, "loss": "mse", "max_grad_norm": 0.0},
    {"optimizer": "rmsprop", "grad_clip_value": 0.01},
])
@pytest.mark.parametrize("weights", [False, True])
def test_the_batched_learn_step_is_each_members_own_learn_step(overrides, weights):
    """Three members learning together take, step for step, the gradient steps each takes
    alone (its own clipping, its own optimizer state), to float rounding."""
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "16,8", **overrides})
    together = DQNAgent((4,), 3, config, seeds=[0, 1, 2])
    alone = [DQNAgent((4,), 3, config, seeds=[k]) for k in range(3)]
    for step in range(5):
        batch = batch_for(3, weights=weights, seed=step)
        info = together.learn(batch)
        for k, agent in enumerate(alone):
            own = Batch(*(None if t is None else t[k:k + 1] for t in batch[:-1]), indices=batch.indices[k:k + 1])
            solo = agent.learn(own)
            torch.testing.assert_close(info["loss"][k], solo["loss"][0], rtol=1e-5, atol=1e-6)
    for k, agent in enumerate(alone):
        for name, value in agent.q_net.member_state_dict(0).items():
            torch.testing.assert_close(together.q_net.member_state_dict(k)[name], value, rtol=1e-4, atol=1e-6)


def test_a_member_saves_and_loads_as_a_one_member_agent():
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "16,8"})
    agent = DQNAgent((4,), 3, config, seeds=[0, 1])
    agent.learn(batch_for(2))
    solo = DQNAgent((4,), 3, config, seeds=[9])
    solo.load_member_state_dicts([agent.member_state_dict(1)])
    batch = batch_for(2, seed=5)
    info = agent.learn(batch)
    own = solo.learn(Batch(*(None if t is None else t[1:] for t in batch[:-1]), indices=batch.indices[1:]))
    torch.testing.assert_close(info["loss"][1], own["loss"][0], rtol=1e-5, atol=1e-6)


def run_seeds(tmp_path, name, seeds, steps=1200, **overrides):
    config, _ = build_config("CartPole-v1", overrides={**SHORT, **overrides})
    return Trainer("CartPole-v1", config, seeds=seeds, run_dir=tmp_path / name, total_steps=steps,
                   device="cpu", progress=False, threads=1).run()


def episodes(run_dir):
    with (run_dir / "metrics.csv").open() as handle:
        return [(row["global_step"], row["return"]) for row in csv.DictReader(handle)]


def weights(run_dir):
    return torch.load(run_dir / "model.pt", weights_only=True)["q_net"]


def test_a_member_does_not_depend_on_the_others(tmp_path):
    """Seed 3 beside seed 1 and seed 3 beside seed 5: the same episodes and weights."""
    run_seeds(tmp_path, "a", [1, 3])
    run_seeds(tmp_path, "b", [3, 5])
    a, b = tmp_path / "a" / "seed-3", tmp_path / "b" / "seed-3"
    assert episodes(a) == episodes(b)
    for key, value in weights(a).items():
        torch.testing.assert_close(weights(b)[key], value, rtol=1e-5, atol=1e-6)
    assert episodes(tmp_path / "a" / "seed-1") != episodes(a)


def test_a_member_trains_as_its_seed_would_alone(tmp_path):
    """A member matches a one-seed run of its seed (environments, exploration, replay samples,
    initial weights), up to floating-point rounding. Both take the hand-written gradients (a
    one-seed run's default): autograd's batched backward rounds differently, and 1,200 steps
    amplify it past these bounds."""
    config, _ = build_config("CartPole-v1", overrides=SHORT)
    many = Trainer("CartPole-v1", config, seeds=[0, 7], run_dir=tmp_path / "many", total_steps=1200,
                   device="cpu", progress=False, threads=1)
    many.agent.by_hand = True
    summaries = many.run()
    solo = Trainer("CartPole-v1", config, seed=7, run_dir=tmp_path / "solo", total_steps=1200,
                   device="cpu", progress=False, threads=1).run()
    member = tmp_path / "many" / "seed-7"
    assert episodes(member) == episodes(tmp_path / "solo")
    for key, value in weights(tmp_path / "solo").items():
        torch.testing.assert_close(weights(member)[key], value, rtol=1e-4, atol=1e-5)
    summary = json.loads((member / "summary.json").read_text())
    assert summary == summaries[1] and summary["seed"] == 7 and summary["ensemble_seeds"] == [0, 7]
    assert summary["gradient_steps"] == solo["gradient_steps"] and summary["episodes"] == solo["episodes"]


@pytest.mark.parametrize("overrides", [
    {"prioritized": True}, {"exploration": "boltzmann"}, {"n_step": 3, "dueling": True},
])
def test_everything_one_seed_takes_trains_with_seeds(tmp_path, overrides):
    summaries = run_seeds(tmp_path, "x", [0, 1], steps=900, **overrides)
    assert [s["seed"] for s in summaries] == [0, 1]
    assert all(s["gradient_steps"] > 0 and s["episodes"] > 0 and not s["interrupted"] for s in summaries)
    assert episodes(tmp_path / "x" / "seed-0") != episodes(tmp_path / "x" / "seed-1")


def test_stop_when_solved_stops_each_member_at_its_own_solved_evaluation(tmp_path):
    config, _ = build_config("CartPole-v1", overrides={**SHORT, "eval_interval": 300, "solved_threshold": 15.0})
    summaries = Trainer("CartPole-v1", config, seeds=[0, 1], run_dir=tmp_path / "s", total_steps=3000,
                        device="cpu", progress=False, threads=1, stop_when_solved=True).run()
    for summary in summaries:
        assert summary["solved"] and summary["steps"] == summary["solved_at_step"] < 3000


def test_an_interrupted_seeds_run_resumes_bitwise(tmp_path):
    """Four seeds stopped at step 600 and resumed (their replay memories saved) end with bitwise
    the weights and logs of four seeds trained without a stop."""
    config, _ = build_config("CartPole-v1", overrides={**SHORT, "eval_interval": 400})
    whole = Trainer("CartPole-v1", config, seeds=[0, 1, 2, 3], run_dir=tmp_path / "whole", total_steps=1200,
                    device="cpu", progress=False, threads=1).run()
    part = Trainer("CartPole-v1", config, seeds=[0, 1, 2, 3], run_dir=tmp_path / "part", total_steps=1200,
                   device="cpu", progress=False, threads=1, save_replay=True)

    def stop_at_600(trainer):
        if trainer.clock.step >= 600:
            trainer.stop.signal = signal.SIGINT

    assert all(s["interrupted"] and s["steps"] == 600 for s in part.run(callback=stop_at_600))
    resumed = Trainer.resume(tmp_path / "part", device="cpu", progress=False, threads=1).run()
    for seed, a, b in zip(range(4), whole, resumed, strict=True):
        assert a["episodes"] == b["episodes"] and a["final_eval_mean"] == b["final_eval_mean"]
        for key, value in weights(tmp_path / "whole" / f"seed-{seed}").items():
            assert torch.equal(weights(tmp_path / "part" / f"seed-{seed}")[key], value), (seed, key)
        assert episodes(tmp_path / "whole" / f"seed-{seed}") == episodes(tmp_path / "part" / f"seed-{seed}")


def make_trainer(tmp_path, name, steps=1200):
    config, _ = build_config("CartPole-v1", overrides=SHORT)

    def make(group, display=None):
        return Trainer("CartPole-v1", config, seeds=group, run_dir=tmp_path / name, total_steps=steps,
                       device="cpu", progress=False, threads=1, display=display, all_seeds=[1, 3, 5])
    return make


def test_seeds_over_processes_train_as_in_one_process(tmp_path):
    summaries, stop = train_in_processes(make_trainer(tmp_path, "split"), [1, 3, 5], 2, progress=False)
    one = make_trainer(tmp_path, "one")([1, 3, 5]).run()
    assert stop is None and [s["seed"] for s in summaries] == [1, 3, 5]
    for seed, summary, other in zip([1, 3, 5], summaries, one, strict=True):
        split, whole = tmp_path / "split" / f"seed-{seed}", tmp_path / "one" / f"seed-{seed}"
        assert episodes(split) == episodes(whole)
        for key, value in weights(whole).items():
            torch.testing.assert_close(weights(split)[key], value, rtol=1e-5, atol=1e-6)
        assert summary == json.loads((split / "summary.json").read_text())
        assert summary["ensemble_seeds"] == [1, 3, 5] and summary["episodes"] == other["episodes"]


def test_a_process_that_fails_stops_the_run_with_its_error(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "seed-5").write_text("a file in the way of seed 5's run directory")
    with pytest.raises(RunError, match="seeds 5: cannot write to run directory"):
        train_in_processes(make_trainer(tmp_path, "run", steps=50_000), [1, 5], 2, progress=False)
    path = tmp_path / "run" / "seed-1" / "summary.json"  # absent if stopped before it began to train
    if path.exists():  # else stopped long before the end, and saved
        summary = json.loads(path.read_text())
        assert summary["interrupted"] and summary["steps"] < 50_000


def deepq(*args):
    return subprocess.run([sys.executable, "-m", "deepq.cli", *args], capture_output=True, text=True, timeout=300)


def test_a_process_killed_outright_stops_the_run_and_the_others_save(tmp_path):
    import os

    make = make_trainer(tmp_path, "run", steps=50_000)
    watcher = os.getpid()

    def make_or_die(group, display=None):
        trainer = make(group, display)
        if group == [5] and os.getpid() != watcher:  # seed 5's child dies at once, mid-message or not
            display.message("seed 5 is about to be killed")
            os.kill(os.getpid(), signal.SIGKILL)
        return trainer

    started = time.monotonic()
    with pytest.raises(RunError, match=r"seeds 5 ended unexpectedly \(exit code -9\)"):
        train_in_processes(make_or_die, [1, 5], 2, progress=False)
    assert time.monotonic() - started < 120  # the watcher did not hang on the dead child
    path = tmp_path / "run" / "seed-1" / "summary.json"  # seed 1's child was stopped, and saved
    if path.exists():
        assert json.loads(path.read_text())["interrupted"]


def test_the_command_trains_seeds_into_their_own_run_directories(tmp_path):
    run = tmp_path / "many"
    # 128-unit layers: stacked, the members' tensors are large enough for OpenMP's threads, which
    # must not exist when the processes fork (a forked copy could deadlock)
    result = deepq("train", "CartPole-v1", "--seeds", "0-3", "--steps", "900", "--run-dir", str(run),
                   "--no-progress", "--set", "learning_starts=300", "eval_episodes=5", "hidden_sizes=128,128")
    assert result.returncode == 0, result.stderr
    assert "4 seeds in" in result.stdout
    finals = sorted(json.loads((run / f"seed-{k}" / "summary.json").read_text())["final_eval_mean"] for k in range(4))
    iqm = (finals[1] + finals[2]) / 2  # the middle half of four runs
    assert f"IQM of the final greedy return over 4 seeds: {iqm:.1f} (95% CI " in result.stdout
    for seed in range(4):
        member = run / f"seed-{seed}"
        for name in ("config.json", "metrics.csv", "evaluations.csv", "summary.json", "model.pt",
                     "checkpoint.pt", "learning_curve.png"):
            assert (member / name).stat().st_size > 0, (seed, name)
        assert json.loads((member / "summary.json").read_text())["seed"] == seed
        assert f"seed {seed}: " in result.stdout
    result = deepq("eval", str(run / "seed-2"), "--episodes", "3", "--json")  # a plain model file
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["episodes"] == 3
    result = deepq("train", "CartPole-v1", "--seeds", "0-3", "--run-dir", str(run))
    assert result.returncode == 2 and "already holds a run" in result.stderr

    for args, message in [(["--seeds", "0,0"], "lists a seed twice"),
                          (["--seeds", "0-1", "--seed", "3"], "does not combine with --seed")]:
        result = deepq("train", "CartPole-v1", *args, "--run-dir", str(tmp_path / "bad"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(cores() < 2, reason="--seeds uses one process on a machine with one core")
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_reaches_every_process_every_member_saves_and_the_run_resumes(tmp_path, signum, code):
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
    assert "interrupted at step" in stderr and f"deepq resume {run}" in stderr and "Traceback" not in stderr
    steps = []
    for seed in (0, 1):
        summary = json.loads((run / f"seed-{seed}" / "summary.json").read_text())
        assert summary["interrupted"] and summary["steps"] < 500_000
        assert (run / f"seed-{seed}" / "checkpoint.pt").stat().st_size > 0
        steps.append(summary["steps"])
    if signum == signal.SIGTERM:  # both members go on from where they stopped
        result = deepq("resume", str(run), "--steps", str(max(steps) + 400), "--no-progress")
        assert result.returncode == 0, result.stderr
        for seed, before in zip((0, 1), steps, strict=True):
            summary = json.loads((run / f"seed-{seed}" / "summary.json").read_text())
            assert not summary["interrupted"] and summary["steps"] >= max(steps) + 400 > before
