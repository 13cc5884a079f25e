import os
import subprocess
import sys

import pytest
import torch

from deepq.config import build_config
from deepq.cpu import (
    ThreadGovernor,
    cores,
    default_threads,
    ensemble_processes,
    flushing_here,
    flushing_subnormals,
    threads_spin,
    torch_threads,
)
from deepq.train import Trainer


def test_threads_follow_the_network_width_and_the_members():
    small, _ = build_config("CartPole-v1", "cartpole")  # 128-128
    wide, _ = build_config("LunarLander-v3", "lunarlander-fast")  # 256-256
    assert default_threads(small) == 1
    assert default_threads(wide) == min(2, cores())
    assert default_threads(small, members=8) == min(8, cores())


def test_seeds_get_one_process_per_core_unless_threads_are_chosen(monkeypatch):
    monkeypatch.setattr("deepq.cpu.cores", lambda: 4)
    assert ensemble_processes(8, None, "cpu") == 4
    assert ensemble_processes(3, None, "cpu") == 3  # never more processes than seeds
    assert ensemble_processes(1, None, "cpu") == 1
    assert ensemble_processes(8, 2, "cpu") == 1  # --threads 2: one process with two threads
    assert ensemble_processes(8, None, "cuda") == 1
    assert ensemble_processes(8, None, "auto") == (1 if torch.cuda.is_available() else 4)
    monkeypatch.setattr("deepq.cpu.cores", lambda: 16)
    assert ensemble_processes(16, None, "cpu") == 8


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


# --- how idle OpenMP threads wait ---
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def clean_env(**chosen: str) -> dict[str, str]:
    """This environment without the wait variables (the test process's `import deepq` set one),
    plus ``chosen``."""
    return {**{k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}, **chosen}


def python(code: str, env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True).stdout.strip()


REPORT = "import os; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"


@pytest.mark.parametrize("chosen, expected", [({}, "PASSIVE None"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE None"),
                                              ({"GOMP_SPINCOUNT": "10000"}, "None 10000")])
def test_importing_deepq_lets_idle_threads_sleep_without_loading_torch_unless_told_otherwise(chosen, expected):
    """Spinning OpenMP threads made a 2-thread --seeds run 3x slower beside any busy process; the
    policy is read when torch loads, so `import deepq` must not load it."""
    out = python(f"import sys, deepq; print('torch' in sys.modules); {REPORT}", clean_env(**chosen))
    assert out.splitlines() == ["False", expected]


def test_the_training_commands_spin_while_idle_and_the_others_leave_threads_asleep(tmp_path):
    """`deepq train` and `deepq resume` choose the watched spin before torch loads; a user's own
    choice, or torch already loaded, wins; `deepq presets` keeps the library's default."""
    train = ("from deepq.cli import main\n"
             f"main(['train', 'CartPole-v1', '--steps', '64', '--set', 'eval_interval=0', '--run-dir', "
             f"r'{tmp_path / 'run'}', '--no-progress'])\n{REPORT}")
    assert python(train, clean_env()).splitlines()[-1] == "ACTIVE 3000000"
    assert python(train, clean_env(OMP_WAIT_POLICY="PASSIVE")).splitlines()[-1] == "PASSIVE None"
    assert python("import torch\n" + train, clean_env()).splitlines()[-1] == "PASSIVE None"
    presets = f"import contextlib, io\nfrom deepq.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    main(['presets'])\n{REPORT}"
    assert python(presets, clean_env()) == "PASSIVE None"


@pytest.mark.parametrize("env, spins", [
    ({}, False), ({"OMP_WAIT_POLICY": "PASSIVE"}, False), ({"OMP_WAIT_POLICY": "active"}, True),
    ({"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "10000"}, False),  # libgomp reads the count first
    ({"GOMP_SPINCOUNT": "3000000"}, True), ({"GOMP_SPINCOUNT": "300k"}, True), ({"GOMP_SPINCOUNT": "2M"}, True),
    ({"GOMP_SPINCOUNT": "infinite"}, True), ({"GOMP_SPINCOUNT": "lots"}, False),
])
def test_threads_spin_reads_the_wait_policy_as_libgomp_does(monkeypatch, env, spins):
    for name in WAIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert threads_spin() is spins


def test_the_governor_sees_another_busy_process():
    """A busy loop in another process shows as (nearly) a core of someone else's work."""
    governor = ThreadGovernor()
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 3\nwhile time.time() < end: pass"])
    try:
        import time

        time.sleep(0.7)
        governor.others_busy()  # the window from here on holds the busy loop only
        time.sleep(1.0)
        others = governor.others_busy()
    finally:
        busy.kill()
        busy.wait()
    assert others is not None and others > ThreadGovernor.BUSY


def test_the_governor_drops_to_one_thread_while_others_are_busy_and_restores_after_two_quiet_checks(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        governor = ThreadGovernor()
        assert governor.active
        loads = iter([0.1, 0.9, 0.8, 0.1, 0.6, 0.1, 0.1, None, 0.9])
        monkeypatch.setattr(governor, "others_busy", lambda: next(loads))
        threads = []
        for _ in range(9):
            governor.check()
            threads.append(torch.get_num_threads())
        # quiet: 2; busy: 1; still busy: 1; quiet once: 1; busy again restarts the count: 1;
        # two quiet checks in a row: 2; too soon to tell: unchanged; busy: 1
        assert threads == [2, 1, 1, 1, 1, 1, 2, 2, 1]
        governor.close()  # the run's count comes back when the loop ends
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_governor_leaves_sleeping_or_single_threads_alone(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
        torch.set_num_threads(2)
        assert not ThreadGovernor().active
        monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
        assert ThreadGovernor().active
        torch.set_num_threads(1)
        assert not ThreadGovernor().active
    finally:
        torch.set_num_threads(before)
