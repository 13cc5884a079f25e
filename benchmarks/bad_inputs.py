"""Try every kind of bad input on the ``deepq`` command and print what a user sees.

    python benchmarks/bad_inputs.py        # a markdown table: input, exit code, message

Each case runs the real command in a subprocess, in a scratch directory.
"""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import torch


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def prepare(tmp: Path) -> None:
    (tmp / "garbage.pt").write_bytes(os.urandom(300))
    run = tmp / "run"
    subprocess.run([sys.executable, "-m", "deepq.cli", "train", "CartPole-v1", "--steps", "300",
                    "--run-dir", str(run), "--no-progress", "--set", "learning_starts=100",
                    "eval_interval=0", "eval_episodes=2"], capture_output=True, check=True)
    good = (run / "checkpoint.pt").read_bytes()
    (tmp / "truncated.pt").write_bytes(good[: len(good) // 2])
    buffer = io.BytesIO()
    pickle.dump({"format": "deepq-model", "payload": RunsCode()}, buffer)
    (tmp / "evil.pt").write_bytes(buffer.getvalue())
    torch.save({"format": "deepq-model", "w": RunsCode()}, tmp / "evil_torch.pt")
    acrobot = tmp / "acrobot"
    subprocess.run([sys.executable, "-m", "deepq.cli", "train", "Acrobot-v1", "--steps", "300",
                    "--run-dir", str(acrobot), "--no-progress", "--set", "learning_starts=100",
                    "eval_interval=0", "eval_episodes=2"], capture_output=True, check=True)


CASES = [
    ("unknown environment", "train CartPole-v2"),
    ("continuous action space", "train Pendulum-v1"),
    ("unknown --set key", "train CartPole-v1 --set learning_rat=1e-3"),
    ("bad value type", "train CartPole-v1 --set batch_size=abc"),
    ("value out of range", "train CartPole-v1 --set gamma=1.5"),
    ("batch larger than buffer", "train CartPole-v1 --set batch_size=512 buffer_size=100"),
    ("learning starts after the end", "train CartPole-v1 --steps 500"),
    ("malformed --set", "train CartPole-v1 --set gamma"),
    ("unknown preset", "train CartPole-v1 --preset cartpol"),
    ("replay memory larger than RAM", "train CartPole-v1 --set buffer_size=100000000000 --run-dir r2"),
    ("run directory that cannot be created", "train CartPole-v1 --run-dir garbage.pt/run"),
    ("existing run directory", "train CartPole-v1 --run-dir run"),
    ("missing run directory", "resume nowhere"),
    ("resume a finished run without more steps", "resume run"),
    ("missing model file", "eval nowhere.pt"),
    ("random bytes as a model", "eval garbage.pt"),
    ("truncated checkpoint", "eval truncated.pt"),
    ("pickle that runs code", "eval evil.pt"),
    ("torch file that runs code", "eval evil_torch.pt"),
    ("checkpoint of another environment", "eval acrobot/model.pt --env CartPole-v1"),
    ("CUDA asked for, none present", "train CartPole-v1 --device cuda --run-dir r3"),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        prepare(tmp)
        print("| bad input | command | exit | what the user sees |")
        print("| --- | --- | --- | --- |")
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        for what, command in CASES:
            result = subprocess.run([sys.executable, "-m", "deepq.cli", *command.split()],
                                    capture_output=True, text=True, cwd=tmp, env=env, timeout=300)
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            shown = lines[-1] if lines else "(nothing)"
            if "Traceback" in result.stderr:
                shown = "TRACEBACK: " + shown
            print(f"| {what} | `deepq {command}` | {result.returncode} | {shown.replace('|', '/')} |")
        assert not (tmp / "pwned.txt").exists(), "a crafted file ran code"


if __name__ == "__main__":
    main()
