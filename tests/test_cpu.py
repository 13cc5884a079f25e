import os
import subprocess
import sys

import pytest
import torch

from deepq.config import build_config
from deepq.cpu import cores, default_threads, flushing_here, flushing_subnormals, torch_threads
from deepq.train import Trainer


def test_threads_follow_the_network_width_and_the_members():
    small, _ = build_config("CartPole-v1", "cartpole")  # 128-128
    wide, _ = build_config("LunarLander-v3", "lunarlander-fast")  # 256-256
    assert default_threads(small) == 1
    assert default_threads(wide) == min(2, cores())
    assert default_threads(small, members=8) == min(8, cores())


def test_torch_threads_lowers_the_count_for_a_block_and_restores_it():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(before + 5):  # never raises the count
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
