"""The learn step's cost for each value head of the DQN family, on fixed batches (by hand).

    .venv/bin/python benchmarks/heads.py                              # this checkout
    .venv/bin/python benchmarks/heads.py --against /tmp/old/src       # and another, side by side
    .venv/bin/python benchmarks/heads.py --sb3-qrdqn --threads 1      # deepq against sb3-contrib's QR-DQN

One LunarLander-v3 learner per preset (``lunarlander-fast`` for DQN, then ``c51``, ``qrdqn``,
``iqn``, ``mdqn``, ``rainbow``), one member, a fixed random batch of the preset's size, the torch
threads given. Each side runs in its own process; blocks of steps alternate between the sides and
the table gives each preset's median µs per learn step over the blocks.

``--sb3-qrdqn`` measures one gradient step of QR-DQN with the RL Zoo's LunarLander network
(256-256, 170 quantiles, batch 128) in deepq (the ``qrdqn`` preset with ``num_quantiles=170``)
and in sb3-contrib (``QRDQN.train``, after 1,000 random steps fill its buffer), alternating.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

PRESETS = ("lunarlander-fast", "c51", "qrdqn", "iqn", "mdqn", "rainbow")
SRC = str(Path(__file__).resolve().parent.parent / "src")

BLOCK = """
import json, sys, time
import numpy as np, torch
from deepq.agent import DQNAgent
from deepq.config import build_config
from deepq.replay.uniform import Batch

torch.set_num_threads({threads})
config, _ = build_config("LunarLander-v3", "{preset}", {overrides})
agent = DQNAgent((8,), 4, config, "cpu", seeds=[0])
rows, g = config.batch_size, torch.Generator().manual_seed(0)
batch = Batch(torch.randn(1, rows, 8, generator=g), torch.randint(0, 4, (1, rows), generator=g),
              torch.randn(1, rows, generator=g), torch.randn(1, rows, 8, generator=g), torch.zeros(1, rows),
              torch.full((1, rows), 0.97), torch.ones(1, rows) if config.prioritized else None, np.arange(rows))
for _ in range(10):
    agent.learn(batch)
start = time.perf_counter()
for _ in range({steps}):
    agent.learn(batch)
print(json.dumps((time.perf_counter() - start) / {steps} * 1e6))
"""
SB3_BLOCK = """
import json, time
import gymnasium as gym, torch
from sb3_contrib import QRDQN

torch.set_num_threads({threads})
model = QRDQN("MlpPolicy", gym.make("LunarLander-v3"), learning_starts=1_000, batch_size=128, train_freq=1_000,
              gradient_steps=1, policy_kwargs={{"net_arch": [256, 256], "n_quantiles": 170}}, device="cpu", seed=0)
model.learn(1_000)
model.train(gradient_steps=10, batch_size=128)
start = time.perf_counter()
model.train(gradient_steps={steps}, batch_size=128)
print(json.dumps((time.perf_counter() - start) / {steps} * 1e6))
"""
# The RL Zoo's QR-DQN network for LunarLander, in deepq's keys: what --sb3-qrdqn measures deepq with.
SB3_SHAPE = {"num_quantiles": 170, "batch_size": 128, "hidden_sizes": (256, 256)}


def block(src: str, preset: str, steps: int, threads: int) -> float:
    """µs per learn step of ``preset`` in ``src``; ``qrdqn-170`` is deepq's QR-DQN in
    the RL Zoo's shape, ``sb3-qrdqn`` sb3-contrib's (installed, whatever ``src`` is)."""
    if preset == "sb3-qrdqn":
        code = SB3_BLOCK.format(steps=steps, threads=threads)
    else:
        name, overrides = ("qrdqn", SB3_SHAPE) if preset == "qrdqn-170" else (preset, {})
        code = BLOCK.format(preset=name, overrides=overrides, steps=steps, threads=threads)
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="another checkout's src/ folder, measured side by side")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100, help="learn steps per block")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sb3-qrdqn", action="store_true",
                        help="only QR-DQN in the RL Zoo's shape: deepq's (qrdqn-170) and sb3-contrib's (sb3-qrdqn)")
    args = parser.parse_args()
    if args.sb3_qrdqn:
        args.presets = "qrdqn-170,sb3-qrdqn"
    sides = {"this checkout": SRC, **({"--against": args.against} if args.against else {})}
    times: dict[tuple[str, str], list[float]] = {}
    for preset in args.presets.split(","):
        for i in range(args.blocks):
            order = list(sides.items()) if i % 2 == 0 else list(sides.items())[::-1]
            for name, src in order:
                times.setdefault((preset, name), []).append(block(src, preset, args.steps, args.threads))
    names = list(sides)
    head = "| preset | " + " | ".join(f"{n}, µs" for n in names) + (" | ratio |" if len(names) == 2 else " |")
    print(head + "\n" + "| --- " * (len(names) + 1 + (len(names) == 2)) + "|")
    for preset in args.presets.split(","):
        medians = [statistics.median(times[(preset, n)]) for n in names]
        ratio = f" | {medians[1] / medians[0]:.2f}x" if len(names) == 2 else ""
        print(f"| {preset} | " + " | ".join(f"{m:.0f}" for m in medians) + ratio + " |")


if __name__ == "__main__":
    main()
