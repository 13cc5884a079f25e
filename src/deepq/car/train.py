"""Training the car without a window: the course's loop, as fast as the machine allows."""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from deepq.car.brain import Dqn
from deepq.cpu import torch_threads
from deepq.envs.sandcar import SandCarEnv
from deepq.errors import RunError

WINDOW = 10_000  # frames over which goals and sand are counted


def train_car(
    map_name: str = "empty", frames: int = 100_000, seed: int = 0, run_dir: str | Path = "runs/car",
    brain: str = "route", width: int = 800, height: int = 600, progress: bool = True,
    overrides: dict[str, Any] | None = None, env: gym.Env | None = None, overwrite: bool = False,
) -> dict[str, Any]:
    """Run the course's loop for ``frames`` frames; write the brain, a score plot and a summary.

    ``env`` replaces the ``SandCarEnv(width, height, map=map_name)`` built by default, e.g. one
    wrapped to change its reward (``benchmarks/car_goals.py --reward``); it must report
    ``goal_reached`` and ``on_sand`` in ``info`` as ``SandCarEnv`` does. A run directory that
    already holds a car run is refused unless ``overwrite``.
    """
    run_dir = Path(run_dir)
    if (run_dir / "summary.json").exists() and not overwrite:
        raise RunError(f"{run_dir} already holds a car run; pass --overwrite (overwrite=True) or another --run-dir")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"cannot write to run directory {run_dir} ({error.strerror}); choose another with "
                       "--run-dir") from None
    with torch_threads(1):  # networks of 30 or 64 units: threads only add overhead
        return _train(map_name, frames, seed, run_dir, brain, width, height, progress, overrides, env)


def _train(map_name: str, frames: int, seed: int, run_dir: Path, brain: str, width: int, height: int,
           progress: bool, overrides: dict[str, Any] | None, env: gym.Env | None) -> dict[str, Any]:
    if env is None:
        env = SandCarEnv(width, height, map=map_name)
    agent = Dqn(5, 3, brain=brain, seed=seed, width=env.unwrapped.width, height=env.unwrapped.height,
                total_steps=frames, **(overrides or {}))
    obs, _ = env.reset(seed=seed)
    reward = 0.0
    goal_frames: deque[int] = deque()
    sand_window: deque[bool] = deque(maxlen=WINDOW)
    goals = 0
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for frame in range(1, frames + 1):
        action = agent.update(reward, obs)
        obs, reward, _, _, info = env.step(action)
        sand_window.append(info["on_sand"])
        if info["goal_reached"]:
            goals += 1
            goal_frames.append(frame)
        while goal_frames and goal_frames[0] <= frame - WINDOW:
            goal_frames.popleft()
        if frame % WINDOW == 0:
            history.append({"frame": frame, "goals_per_10k": len(goal_frames),
                            "sand_fraction": float(np.mean(sand_window)), "score": agent.score()})
            if progress:
                elapsed = time.perf_counter() - start
                print(f"frame {frame}/{frames}: goals in last 10k {len(goal_frames)}, "
                      f"on sand {np.mean(sand_window):.1%}, score {agent.score():.3f}, "
                      f"{frame / elapsed:.0f} frames/s", flush=True)
    elapsed = time.perf_counter() - start
    agent.save(run_dir / "last_brain.pth")
    summary = {
        "map": str(map_name), "brain": brain, "overrides": dict(overrides or {}), "seed": seed,
        "frames": frames, "goals": goals,
        "goals_per_10k_last": len(goal_frames),
        "sand_fraction_last": float(np.mean(sand_window)) if sand_window else 0.0,
        "fps": round(frames / elapsed, 1), "wall_seconds": round(elapsed, 2), "history": history,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    _plot_scores(history, run_dir / "scores.png")
    return summary


def _plot_scores(history: list[dict[str, float]], out: Path) -> None:
    from matplotlib.figure import Figure  # drawn to a file only: pyplot's backend is left alone

    fig = Figure(figsize=(8, 4))
    ax = fig.add_subplot()
    frames = [h["frame"] for h in history]
    ax.plot(frames, [h["goals_per_10k"] for h in history], "o-", label="goals per 10k frames")
    ax.set_xlabel("frame")
    ax.set_ylabel("goals per 10k frames")
    ax2 = ax.twinx()
    ax2.plot(frames, [h["score"] for h in history], color="tab:orange", label="score")
    ax2.set_ylabel("score (mean reward, last 1000 frames)")
    fig.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
