import json
import os
import subprocess
import sys

import pytest

FAST = ["--set", "learning_starts=200", "eval_interval=0", "eval_episodes=5", "hidden_sizes=16,16"]


def deepq(*args, cwd=None):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "deepq.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_train_eval_plot_resume(tmp_path):
    run = tmp_path / "run"
    result = deepq("train", "CartPole-v1", "--steps", "800", "--run-dir", str(run), "--no-progress", *FAST)
    assert result.returncode == 0, result.stderr
    assert "not solved in 800 steps" in result.stdout or "solved at step" in result.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 800

    result = deepq("eval", str(run), "--episodes", "5", "--json")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads(result.stdout)
    assert evaluation["episodes"] == 5 and {"mean", "std"} <= set(evaluation)

    out = tmp_path / "curve.png"
    result = deepq("plot", str(run), "--out", str(out))
    assert result.returncode == 0 and out.read_bytes()[:4] == b"\x89PNG"

    result = deepq("resume", str(run), "--steps", "1200", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "summary.json").read_text())["steps"] == 1200

    result = deepq("train", "CartPole-v1", "--steps", "800", "--run-dir", str(run), *FAST)
    assert result.returncode == 2 and "already holds a run" in result.stderr


def test_random_baseline():
    result = deepq("eval", "CartPole-v1", "--random", "--episodes", "100", "--json")
    assert result.returncode == 0, result.stderr
    assert 17 < json.loads(result.stdout)["mean"] < 27


def test_presets_lists_every_preset():
    result = deepq("presets")
    assert result.returncode == 0
    for name in ("cartpole", "lunarlander", "acrobot", "mountaincar"):
        assert f"{name}  (" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["train", "CartPol-v1"], "unknown environment 'CartPol-v1' (did you mean CartPole-v1?)"),
    (["train", "Pendulum-v1"], "DQN needs a Discrete action space"),
    (["train", "CartPole-v1", "--set", "learnin_rate=1"], "did you mean learning_rate?"),
    (["train", "CartPole-v1", "--set", "gamma=2"], "gamma must be in [0, 1]"),
    (["train", "CartPole-v1", "--set", "batch_size=big"], "bad value for batch_size"),
    (["eval", "/nonexistent/run"], "no such run directory or model file"),
    (["resume", "/nonexistent/run"], "no checkpoint.pt in /nonexistent/run"),
    (["plot", "/nonexistent/run"], "no metrics.csv"),
])
def test_bad_input_gets_one_clear_line(args, message):
    result = deepq(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_corrupt_model_file(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"garbage")
    result = deepq("eval", str(path))
    assert result.returncode == 2 and "corrupt or truncated" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("signum,code", [(2, 130), (15, 143)])
def test_interrupt_checkpoints_and_prints_the_resume_command(tmp_path, signum, code):
    import signal as signals
    import time

    run = tmp_path / "run"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    process = subprocess.Popen(
        [sys.executable, "-m", "deepq.cli", "train", "CartPole-v1", "--steps", "200000",
         "--run-dir", str(run), "--no-progress", *FAST, "checkpoint_interval=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.csv").exists():
        time.sleep(0.2)
    time.sleep(2.0)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert f"deepq resume {run}" in stderr and "Traceback" not in stderr
    import torch

    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert 0 < checkpoint["progress"]["step"] < 200_000
    assert signals.Signals(signum)


def test_extensions_through_the_command_line(tmp_path):
    run = tmp_path / "rainbow"
    result = deepq("train", "CartPole-v1", "--preset", "rainbow-lite", "--steps", "600", "--run-dir",
                   str(run), "--no-progress", "--set", "learning_starts=200", "eval_interval=0",
                   "eval_episodes=3", "hidden_sizes=16,16", "n_step=2")
    assert result.returncode == 0, result.stderr
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["dueling"], config["prioritized"], config["n_step"], config["double"]) == (True, True, 2, True)


def test_car_train_from_the_command_line(tmp_path):
    result = deepq("car", "train", "--map", "wall", "--frames", "400", "--seed", "1", "--quiet",
                   "--set", "gamma=0.95", "double=true", "target_update_interval=100",
                   "--run-dir", str(tmp_path / "car"))
    assert result.returncode == 0, result.stderr
    assert "400 frames at" in result.stdout
    summary = json.loads((tmp_path / "car" / "summary.json").read_text())
    assert summary["map"] == "wall" and summary["frames"] == 400
    assert summary["overrides"] == {"gamma": "0.95", "double": "true", "target_update_interval": "100"}
    bad = deepq("car", "train", "--frames", "10", "--set", "gama=1", "--run-dir", str(tmp_path / "bad"))
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "deepq: error: unknown config key 'gama' (did you mean gamma?); `deepq presets` lists every key"]


def test_every_command_help_renders_its_percent_signs_once():
    from deepq.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.choices and "train" in a.choices).choices
    texts = [parser.format_help()] + [sub.format_help() for sub in commands.values()]
    assert "compare" in commands and any("95% stratified" in text for text in texts)
    assert not [text for text in texts if "%%" in text]
