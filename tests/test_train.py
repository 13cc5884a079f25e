import csv
import json
import os
import signal

import numpy as np
import pytest
import torch

from deepq.checkpoint import load_file
from deepq.config import build_config
from deepq.train import RunError, Trainer

FAST = {"learning_starts": 200, "eval_interval": 1000, "eval_episodes": 5, "checkpoint_interval": 500,
        "buffer_size": 5000, "hidden_sizes": "32,32"}


def small_run(tmp_path, name, steps=1500, seed=0, save_replay=False, **extra):
    config, _ = build_config("CartPole-v1", "cartpole-1env", {**FAST, **extra})
    trainer = Trainer("CartPole-v1", config, seed=seed, run_dir=tmp_path / name, total_steps=steps,
                      progress=False, device="cpu", save_replay=save_replay)
    return trainer, trainer.run()


def read_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_a_run_writes_every_output(tmp_path):
    _, summary = small_run(tmp_path, "a")
    run_dir = tmp_path / "a"
    for name in ("config.json", "metrics.csv", "evaluations.csv", "summary.json", "model.pt",
                 "checkpoint.pt", "learning_curve.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert list(run_dir.glob("events.out.tfevents.*"))
    on_disk = json.loads((run_dir / "summary.json").read_text())
    for key in ("env_id", "seed", "steps", "wall_seconds", "sps", "solved", "solved_at_step",
                "solved_at_seconds", "final_eval_mean", "final_eval_std"):
        assert key in on_disk
    assert on_disk["steps"] == 1500 and summary["final_eval_step"] == 1500
    rows = read_rows(run_dir / "metrics.csv")
    assert list(rows[0]) == ["global_step", "episode", "return", "length", "epsilon", "wall_seconds"]
    assert sum(int(r["length"]) for r in rows) <= 1500
    assert [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))


def test_tensorboard_tags_are_grouped(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    small_run(tmp_path, "tb", steps=2000)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"charts/episodic_return", "charts/epsilon", "losses/td_loss", "charts/SPS",
            "eval/mean_return"} <= tags
    assert "hyperparameters/text_summary" in events.Tags()["tensors"]


def test_same_seed_gives_identical_metrics_and_weights(tmp_path):
    first, _ = small_run(tmp_path, "one", seed=3)
    second, _ = small_run(tmp_path, "two", seed=3)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]  # noqa: E731
    assert strip(read_rows(tmp_path / "one/metrics.csv")) == strip(read_rows(tmp_path / "two/metrics.csv"))
    for a, b in zip(first.agent.q_net.parameters(), second.agent.q_net.parameters()):
        assert torch.equal(a, b)
    third, _ = small_run(tmp_path, "three", seed=4)
    assert not all(torch.equal(a, b) for a, b in zip(first.agent.q_net.parameters(),
                                                      third.agent.q_net.parameters()))


def test_resume_continues_counters_and_weights(tmp_path):
    trainer, summary = small_run(tmp_path, "r", steps=1000)
    resumed = Trainer.resume(tmp_path / "r", device="cpu", progress=False, total_steps=1600)
    assert resumed.clock.step == 1000 and resumed.members[0].record.episodes == summary["episodes"]
    for a, b in zip(trainer.agent.q_net.parameters(), resumed.agent.q_net.parameters()):
        assert torch.equal(a, b)
    final = resumed.run()
    assert final["steps"] == 1600 and final["episodes"] > summary["episodes"]
    steps = [int(r["global_step"]) for r in read_rows(tmp_path / "r/metrics.csv")]
    assert steps == sorted(steps) and steps[-1] > 1000
    with pytest.raises(RunError, match="already at step 1600 of 1600; to train further pass --steps"):
        Trainer.resume(tmp_path / "r", device="cpu", progress=False)


def test_a_run_stopped_between_its_last_checkpoint_and_its_summary_resumes_to_write_it(tmp_path):
    _, summary = small_run(tmp_path, "r", steps=1000)
    (tmp_path / "r/summary.json").unlink()  # as if killed right after the last checkpoint
    resumed = Trainer.resume(tmp_path / "r", device="cpu", progress=False)
    assert resumed.clock.step == 1000
    final = resumed.run()
    assert final["steps"] == 1000 and final["episodes"] == summary["episodes"] and not final["interrupted"]
    assert json.loads((tmp_path / "r/summary.json").read_text())["steps"] == 1000
    with pytest.raises(RunError, match="already at step 1000 of 1000"):
        Trainer.resume(tmp_path / "r", device="cpu", progress=False)


def test_learning_starts_beyond_the_run_is_refused(tmp_path):
    config, _ = build_config("CartPole-v1", None, {"learning_starts": 5000})
    with pytest.raises(RunError, match="learning_starts"):
        Trainer("CartPole-v1", config, run_dir=tmp_path, total_steps=1000)


def test_unwritable_run_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    config, _ = build_config("CartPole-v1", None, FAST)
    trainer = Trainer("CartPole-v1", config, run_dir=blocker / "sub", total_steps=1000, progress=False)
    with pytest.raises(RunError, match="cannot write to run directory"):
        trainer.run()


def test_cartpole_learns_to_an_average_of_200(tmp_path):
    """A broken learner fails here: the default preset and seed, stopped once a greedy mean
    over 20 episodes reaches 200 (about 10 s; the bound is 30k of the preset's 50k steps)."""
    config, _ = build_config("CartPole-v1", "cartpole", {"eval_interval": 2000, "eval_episodes": 20,
                                                         "solved_threshold": 200})
    trainer = Trainer("CartPole-v1", config, seed=0, run_dir=tmp_path / "learn", progress=False,
                      device="cpu", stop_when_solved=True)
    summary = trainer.run()
    assert summary["solved_at_step"] is not None and summary["solved_at_step"] <= 30_000, summary
    assert summary["best_eval_mean"] >= 200, summary
    returns = np.array([float(r["return"]) for r in read_rows(tmp_path / "learn/metrics.csv")])
    assert returns[-20:].mean() > 3 * returns[:20].mean()


def interrupt_at(step):
    """A callback that sends this process a real SIGINT once the run reaches ``step``."""
    def callback(trainer):
        if trainer.clock.step == step:
            os.kill(os.getpid(), signal.SIGINT)
    return callback


def strip_wall(rows):
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]


@pytest.mark.parametrize("save_replay", [True, False])
def test_interrupted_and_resumed_run_equals_one_run(tmp_path, save_replay):
    """N steps in one go vs N/2, Ctrl-C, resume: with --save-replay, bitwise-equal weights and
    equal logs. Without it the memory is refilled first, so the logs agree up to the interrupt
    and the learner differs after it."""
    extra = {"num_envs": 2, "checkpoint_interval": 700}
    whole, _ = small_run(tmp_path, "whole", steps=3000, save_replay=save_replay, **extra)
    config, _ = build_config("CartPole-v1", "cartpole-1env", {**FAST, **extra})
    half = Trainer("CartPole-v1", config, seed=0, run_dir=tmp_path / "half", total_steps=3000,
                   progress=False, device="cpu", save_replay=save_replay)
    summary = half.run(callback=interrupt_at(1500))
    assert summary["interrupted"] and summary["steps"] == 1500
    resumed = Trainer.resume(tmp_path / "half", device="cpu", progress=False)
    assert resumed.replay_restored == save_replay
    assert resumed.run()["steps"] == 3000

    whole_rows = strip_wall(read_rows(tmp_path / "whole/metrics.csv"))
    resumed_rows = strip_wall(read_rows(tmp_path / "half/metrics.csv"))
    same_weights = all(torch.equal(a, b) for a, b in zip(whole.agent.q_net.parameters(),
                                                          resumed.agent.q_net.parameters()))
    if save_replay:
        assert same_weights
        assert resumed_rows == whole_rows
        assert (strip_wall(read_rows(tmp_path / "whole/evaluations.csv"))
                == strip_wall(read_rows(tmp_path / "half/evaluations.csv")))
    else:
        before = [r for r in whole_rows if int(r["global_step"]) <= 1500]
        assert resumed_rows[:len(before)] == before
        assert not same_weights


def test_keep_last_k_checkpoints(tmp_path):
    small_run(tmp_path, "k", steps=2000, checkpoint_interval=300, keep_checkpoints=3)
    kept = sorted(p.name for p in (tmp_path / "k/checkpoints").iterdir())
    assert kept == ["checkpoint_000000001500.pt", "checkpoint_000000001800.pt",
                    "checkpoint_000000002000.pt"]
    assert kept[-1] == "checkpoint_000000002000.pt"
    assert os.path.samefile(tmp_path / "k/checkpoints" / kept[-1], tmp_path / "k/checkpoint.pt")


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    config, _ = build_config("CartPole-v1", "cartpole-1env", {**FAST, "learning_rate": 1e30, "max_grad_norm": 0,
                                                         "learning_starts": 600, "optimizer": "sgd"})
    trainer = Trainer("CartPole-v1", config, run_dir=tmp_path / "nan", total_steps=5000,
                      progress=False, device="cpu")
    with pytest.raises(RunError, match="diverged"):
        trainer.run()
    good = load_file(tmp_path / "nan/checkpoint.pt")
    assert good["progress"]["step"] == 500
    assert all(torch.isfinite(t).all() for t in good["agent"]["q_net"].values())
    assert not (tmp_path / "nan/model.pt").exists()


def test_a_replay_memory_larger_than_ram_is_refused(tmp_path):
    config, _ = build_config("CartPole-v1", "cartpole", {"buffer_size": 10**12})
    with pytest.raises(RunError, match=r"replay memory needs .* GiB but only .* GiB"):
        Trainer("CartPole-v1", config, run_dir=tmp_path, total_steps=5000)


def test_a_second_ctrl_c_aborts_at_once_and_keeps_the_last_checkpoint(tmp_path):
    def twice(trainer):
        if trainer.clock.step == 650:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)

    config, _ = build_config("CartPole-v1", "cartpole-1env", FAST)
    trainer = Trainer("CartPole-v1", config, run_dir=tmp_path / "abort", total_steps=3000,
                      progress=False, device="cpu")
    with pytest.raises(KeyboardInterrupt):
        trainer.run(callback=twice)
    assert load_file(tmp_path / "abort/checkpoint.pt")["progress"]["step"] == 500
    assert Trainer.resume(tmp_path / "abort", device="cpu", progress=False).run()["steps"] == 3000


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("prioritized", [False, True])
@pytest.mark.parametrize("n_step", [1, 3])
def test_every_combination_of_the_extensions_trains(tmp_path, double, dueling, prioritized, n_step):
    trainer, summary = small_run(tmp_path, "combo", steps=600, num_envs=2, learning_starts=300,
                                 double=double, dueling=dueling, prioritized=prioritized, n_step=n_step)
    assert summary["gradient_steps"] > 0 and np.isfinite(summary["final_eval_mean"])
    if prioritized:  # learned priorities replaced the initial ones
        priorities = trainer.replay.tree.get(np.arange(len(trainer.replay)))
        assert len(np.unique(priorities)) > 10
    if n_step > 1:
        discounts = trainer.replay.storage.discounts if prioritized else trainer.replay.discounts
        assert np.isclose(discounts[: len(trainer.replay)], 0.99**3).mean() > 0.5


def test_rainbow_lite_resumes_exactly(tmp_path):
    extra = {"dueling": True, "prioritized": True, "n_step": 3, "num_envs": 2, "checkpoint_interval": 700}
    whole, _ = small_run(tmp_path, "whole", steps=2000, save_replay=True, **extra)
    config, _ = build_config("CartPole-v1", "cartpole-1env", {**FAST, **extra})
    half = Trainer("CartPole-v1", config, seed=0, run_dir=tmp_path / "half", total_steps=2000,
                   progress=False, device="cpu", save_replay=True)
    half.run(callback=interrupt_at(1000))
    resumed = Trainer.resume(tmp_path / "half", device="cpu", progress=False)
    resumed.run()
    assert all(torch.equal(a, b) for a, b in zip(whole.agent.q_net.parameters(),
                                                  resumed.agent.q_net.parameters()))
