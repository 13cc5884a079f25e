import json
import os
import subprocess
import sys

import pytest
import torch

from deepq.config import build_config
from deepq.cpu import (
    cores,
    default_threads,
    flushing_here,
    flushing_subnormals,
    member_processes,
    torch_threads,
)
from deepq.networks import MemberNets, build_q_network
from deepq.train import Trainer


def test_threads_follow_the_network_width_and_the_members():
    small, _ = build_config("CartPole-v1", "cartpole")  # 128-128
    wide, _ = build_config("LunarLander-v3", "lunarlander-fast")  # 256-256
    assert default_threads(small) == 1
    assert default_threads(wide) == min(2, cores())
    assert default_threads(small, members=8) == min(8, cores())


def test_threads_follow_the_network_built_not_the_unused_mlp_widths():
    # The minatar and Atari presets keep the default 256-256 hidden_sizes, which their CNNs ignore.
    minatar, _ = build_config("MinAtar/Breakout-v1", "minatar")
    pong, _ = build_config("ALE/Pong-v5", "pong")
    small_cnn = MemberNets([build_q_network((4, 10, 10), 3, minatar.hidden_sizes, False)])
    nature_cnn = MemberNets([build_q_network((4, 84, 84), 6, pong.hidden_sizes, False)])
    assert (small_cnn.hidden_width, nature_cnn.hidden_width) == (128, 512)
    assert default_threads(minatar, width=small_cnn.hidden_width) == 1
    assert default_threads(pong, width=nature_cnn.hidden_width) == min(2, cores())


def test_a_minatar_run_learns_on_one_thread_and_puts_the_count_back(tmp_path):
    config, _ = build_config("MinAtar/Breakout-v1", "minatar", {
        "learning_starts": 32, "buffer_size": 1_000, "eval_interval": 0, "checkpoint_interval": 0})
    seen: set[int] = set()
    before = torch.get_num_threads()
    trainer = Trainer("MinAtar/Breakout-v1", config, run_dir=tmp_path, total_steps=64, device="cpu", progress=False)
    assert trainer.run_threads == 1
    trainer.run(lambda _: seen.add(torch.get_num_threads()))
    assert seen == {1}
    assert torch.get_num_threads() == before


def test_seeds_get_one_process_per_core_unless_threads_are_chosen(monkeypatch):
    monkeypatch.setattr("deepq.cpu.cores", lambda: 4)
    assert member_processes(8, None, "cpu") == 4
    assert member_processes(3, None, "cpu") == 3  # never more processes than seeds
    assert member_processes(1, None, "cpu") == 1
    assert member_processes(8, 2, "cpu") == 1  # --threads 2: one process with two threads
    assert member_processes(8, None, "cuda") == 1
    assert member_processes(8, None, "auto") == (1 if torch.cuda.is_available() else 4)
    monkeypatch.setattr("deepq.cpu.cores", lambda: 16)
    assert member_processes(16, None, "cpu") == 8


def test_torch_threads_lowers_the_count_for_a_block_and_restores_it():
    before = torch.get_num_threads()
    with torch_threads(1, at_most=True):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(before + 5, at_most=True):  # never raises the count
        assert torch.get_num_threads() == before



def test_flushing_subnormals_holds_for_the_block_then_restores_and_can_be_turned_off(monkeypatch):
    assert not flushing_here()
    tiny = torch.full((4,), 1e-39)  # subnormal
    with flushing_subnormals():
        assert flushing_here()
        assert tiny.mul(1.0).count_nonzero() == 0
        with flushing_subnormals():  # nested: leaves the outer block's setting in place
            pass
        assert flushing_here()
    assert not flushing_here()
    assert tiny.mul(1.0).count_nonzero() == 4
    monkeypatch.setenv("DEEPQ_FLUSH_DENORMAL", "0")
    with flushing_subnormals():
        assert not flushing_here()


def test_a_training_run_flushes_subnormals_while_it_runs(tmp_path):
    """Adam's first moment of a dead unit decays into the subnormal range, where each multiply is
    many times slower; the run flushes them, and the caller's setting comes back afterwards."""
    config, _ = build_config("CartPole-v1", overrides={"total_steps": 64, "learning_starts": 32, "eval_interval": 0})
    seen: list[bool] = []
    Trainer("CartPole-v1", config, seed=0, run_dir=tmp_path, progress=False).run(lambda _: seen.append(flushing_here()))
    assert seen and all(seen)
    assert not flushing_here()


CLI_PROBE = """
import sys, torch
from deepq import cli, train
from deepq.cpu import flushing_here
torch.set_num_threads(2)
seen = []
inner = train.Trainer._train
def probed(self, callback):
    # the smallest subnormal, from integer bits (a float fill would be flushed already), in an array
    # large enough that both OpenMP threads take a share of the multiply
    tiny = torch.full((1_000_000,), 1, dtype=torch.int32).view(torch.float32)
    seen.append(int((tiny * 1.0).count_nonzero()))
    return inner(self, callback)
train.Trainer._train = probed
code = cli.main(["train", "CartPole-v1", "--steps", "64", "--set", "learning_starts=32", "eval_interval=0",
                 "--threads", "2", "--run-dir", sys.argv[1], "--no-progress"])
print(code, seen[0], int(flushing_here()))
"""


@pytest.mark.parametrize("setting, nonzero", [(None, 0), ("0", 1_000_000)])
def test_deepq_train_flushes_on_every_thread_unless_told_not_to(tmp_path, setting, nonzero):
    """The command enters the flush before torch starts its OpenMP threads, so the worker thread
    flushes too (a flush set after them reaches only the main thread's half); afterwards the
    calling thread keeps subnormals again."""
    env = {k: v for k, v in os.environ.items() if k != "DEEPQ_FLUSH_DENORMAL"}
    if setting is not None:
        env["DEEPQ_FLUSH_DENORMAL"] = setting
    out = subprocess.run([sys.executable, "-c", CLI_PROBE, str(tmp_path / "run")], capture_output=True, text=True,
                         env=env, check=True)
    assert list(map(int, out.stdout.split()[-3:])) == [0, nonzero, 0]


# --- host hygiene ---
HOST = """
import json, os, random, sys
import numpy as np
before = dict(os.environ), random.getstate(), np.random.get_state()[1].tolist()
import deepq, gymnasium
after = dict(os.environ), random.getstate(), np.random.get_state()[1].tolist()
loaded = {"torch": "torch" in sys.modules, "matplotlib": "matplotlib" in sys.modules}
gymnasium.make("deepq/SandCar-v0").close()
print(json.dumps({"same": before == after, **loaded}))
"""


def test_importing_deepq_changes_nothing_and_registers_the_sand_car():
    """In a fresh process: environment variables and global generators are untouched, torch and
    matplotlib are not loaded, and deepq/SandCar-v0 can be made."""
    out = subprocess.run([sys.executable, "-c", HOST], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {"same": True, "torch": False, "matplotlib": False}


RUN = """
import json, random, sys
import numpy as np, torch, matplotlib
torch.set_num_threads(2); torch.manual_seed(123); random.seed(5); np.random.seed(5)
backend = matplotlib.get_backend()
state = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].tolist()
from deepq.config import build_config
from deepq.train import Trainer
config, _ = build_config("CartPole-v1", overrides={"learning_starts": 100, "eval_interval": 0, "eval_episodes": 2,
                                                    "hidden_sizes": "8"})
Trainer("CartPole-v1", config, run_dir=sys.argv[1], total_steps=300, device="cpu", progress=False, threads=1).run()
print(json.dumps({"threads": torch.get_num_threads(), "backend": matplotlib.get_backend() == backend,
                  "rng": (torch.equal(torch.get_rng_state(), state[0]) and random.getstate() == state[1]
                          and np.random.get_state()[1].tolist() == state[2])}))
"""


def test_a_run_puts_back_the_threads_and_leaves_the_generators_and_backend_alone(tmp_path):
    out = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "run")], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out.splitlines()[-1]) == {"threads": 2, "backend": True, "rng": True}
