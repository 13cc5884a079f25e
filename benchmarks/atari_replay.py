"""Bytes per stored Atari transition and sample() speed: the frame memory vs plain stacks.

    .venv/bin/python benchmarks/atari_replay.py [--transitions 20000] [--env ALE/Pong-v5]

Plays ``--transitions`` steps of a real ALE game (random actions, the standard preprocessing,
4 stacked 84x84 frames) and stores every transition in (1) deepq's FrameReplay, which keeps each
frame once, and (2) a plain memory of stacked observations with separate next observations
(deepq's ReplayBuffer with (4, 84, 84) uint8 observations, the layout most libraries use).
Bytes per transition are measured as the growth of this process's resident memory while each
memory fills (numpy touches pages only when written), divided by the transitions stored.
sample() is timed for batches of 32, median of 7 blocks.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from deepq.envs import make_env
from deepq.replay import FrameReplay, ReplayBuffer


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def play(env_id: str, steps: int, seed: int = 0):
    env = make_env(env_id, training=True)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = int(rng.integers(env.action_space.n))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        yield obs, action, reward, next_obs, terminated, truncated
        obs = env.reset()[0] if terminated or truncated else next_obs


def fill(memory, transitions) -> float:
    before = resident_bytes()
    for obs, action, reward, next_obs, terminated, truncated in transitions:
        if isinstance(memory, FrameReplay):
            memory.add(obs[None], np.array([action]), np.array([reward]), next_obs[None],
                       np.array([terminated]), np.array([truncated]))
        else:
            memory.add(obs[None], np.array([action]), np.array([reward]), next_obs[None],
                       np.array([terminated]))
    return (resident_bytes() - before) / len(transitions)


def sample_rate(memory, batch: int = 32) -> float:
    rates = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(100):
            memory.sample(batch)
        rates.append(100 * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=20_000)
    parser.add_argument("--env", default="ALE/Pong-v5")
    args = parser.parse_args()
    torch.set_num_threads(1)
    transitions = list(play(args.env, args.transitions))
    n = len(transitions)
    frames = FrameReplay(n + n // 10, (84, 84), 4, seed=0)  # room for each episode's first frame
    frame_bytes = fill(frames, transitions)
    plain = ReplayBuffer(n, (4, 84, 84), np.uint8, seed=0)
    plain_bytes = fill(plain, transitions)
    frame_rate, plain_rate = sample_rate(frames), sample_rate(plain)
    print(f"\n{args.env}: {n:,} transitions of 4 stacked 84x84 frames (random play)")
    print("| memory | bytes per transition (measured) | 1M transitions | sample() transitions/s (batch 32) |")
    print("| --- | --- | --- | --- |")
    print(f"| deepq FrameReplay (each frame once) | {frame_bytes:,.0f} | {frame_bytes * 1e6 / 2**30:.1f} GiB | "
          f"{frame_rate:,.0f} |")
    print(f"| plain stacked obs + next obs | {plain_bytes:,.0f} | {plain_bytes * 1e6 / 2**30:.1f} GiB | "
          f"{plain_rate:,.0f} |")
    print(f"ratio plain / frames: memory {plain_bytes / frame_bytes:.1f}x; "
          f"sample speed frames / plain: {frame_rate / plain_rate:.2f}; "
          f"frame memory: {frame_rate / 32:,.0f} batches/s")
    print(f"bytes_per_transition: {frame_bytes:.0f}")


if __name__ == "__main__":
    main()
