"""The fault test: a training process killed with SIGKILL at random moments, 30 times in a row,
some kills landing in the middle of a checkpoint write. Every time, the last checkpoint loads
and the run resumes from it; the counters never go backwards; the run finally completes."""

import json
import os
import random
import subprocess
import sys
import time

from deepq.checkpoint import CHECKPOINT_FORMAT, load_file

KILLS = 30
TRAIN = ["--no-progress", "--save-replay", "--set", "checkpoint_interval=100", "learning_starts=100",
         "eval_interval=0", "eval_episodes=2", "hidden_sizes=16,16", "buffer_size=50000"]


def start(*args):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "deepq.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)


def writing(run):
    return any(name.startswith(".checkpoint.pt.") for name in os.listdir(run))


def wait_for(condition, timeout=60.0, poll=0.0005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)
    return False


def test_sigkill_at_random_moments_never_loses_the_run(tmp_path):
    run = tmp_path / "run"
    rng = random.Random(7)
    last_step, killed_mid_write = 0, 0
    for attempt in range(KILLS):
        if attempt == 0:
            process = start("train", "CartPole-v1", "--steps", "10000000", "--run-dir", str(run), *TRAIN)
        else:
            process = start("resume", str(run), "--no-progress")
        # Wait until this process has written a checkpoint of its own, then kill it: every
        # third time as soon as a checkpoint write is under way, otherwise at a random moment.
        assert wait_for(lambda since=last_step: load_step(run) > since)
        if attempt % 3 == 2:
            wait_for(lambda: writing(run), timeout=10)
        else:
            time.sleep(rng.uniform(0.0, 0.4))
        process.kill()
        process.communicate(timeout=30)
        killed_mid_write += writing(run)
        data = load_file(run / "checkpoint.pt", CHECKPOINT_FORMAT)  # raises if it were damaged
        step = data["progress"]["step"]
        assert step >= last_step
        last_step = step

    finish = last_step + 304  # a whole number of vector steps (the preset's 8 environments)
    process = start("resume", str(run), "--no-progress", "--steps", str(finish))
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    assert f"resumed at step {last_step}" in output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == finish and not summary["interrupted"]
    assert not writing(run)  # the leftovers of killed writes were cleaned up
    print(f"{KILLS} kills, {killed_mid_write} during a checkpoint write")
    assert killed_mid_write >= 3, killed_mid_write


def load_step(run):
    if not (run / "checkpoint.pt").exists():
        return -1
    try:
        return load_file(run / "checkpoint.pt", CHECKPOINT_FORMAT)["progress"]["step"]
    except Exception:  # being replaced right now; look again
        return -1
