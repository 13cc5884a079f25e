"""Where a training step's time goes: the loop's own cost, sampling, and the gradient step
against a bare PyTorch step for the same network and batch (run by hand).

    .venv/bin/python benchmarks/loop_cost.py [--preset cartpole-fast] [--num-envs 8] [--steps 40000]

Part 1 trains with the preset (at ``--num-envs`` environments) and times, inside the run,
every ``replay.sample`` and every ``agent.learn``; the loop's own cost is the rest of the wall
time (act, environment step, store, bookkeeping, logging, progress; periodic evaluation
is switched off) per environment step.
Part 2 times, in this process, deepq's ``agent.learn`` on a fixed batch against a bare PyTorch
step written here from scratch (same MLP, Adam, Huber loss, double-DQN target, gradient
clipping): medians over blocks, alternating the two.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time

import numpy as np
import torch
from time_split import timed, totals  # benchmarks/time_split.py: a timer around a method
from torch import nn

from deepq.agent import DQNAgent
from deepq.config import build_config
from deepq.train import Trainer


def loop_cost(env_id: str, preset: str, num_envs: int, steps: int) -> dict[str, float]:
    config, _ = build_config(env_id, preset, {"num_envs": num_envs, "eval_interval": 0,
                                              "checkpoint_interval": 0})
    trainer = Trainer(env_id, config, seed=0, run_dir=tempfile.mkdtemp(prefix="deepq-loop-"),
                      total_steps=steps, device="cpu", progress=False)
    timed(trainer.replay, "sample", "sample")  # this trainer's own replay and agent only
    timed(trainer.agent, "learn", "learn")
    spent = totals
    marks: dict[str, float] = {}

    def last_step(t: Trainer) -> None:
        marks["end"] = time.perf_counter()

    marks["start"] = time.perf_counter()
    summary = trainer.run(callback=last_step)
    wall = marks["end"] - marks["start"]
    n = summary["steps"]
    return {"steps": n, "gradient_steps": summary["gradient_steps"], "wall": wall,
            "loop_us": (wall - spent["sample"] - spent["learn"]) / n * 1e6,
            "sample_us": spent["sample"] / summary["gradient_steps"] * 1e6,
            "learn_us": spent["learn"] / summary["gradient_steps"] * 1e6}


class BareStep:
    """A DQN gradient step in plain PyTorch, as a user would write it (the reference)."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...], lr: float, gamma: float,
                 max_grad_norm: float) -> None:
        layers: list[nn.Module] = []
        width = obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.net = nn.Sequential(*layers, nn.Linear(width, n_actions))
        self.target = copy.deepcopy(self.net)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.gamma, self.max_grad_norm = gamma, max_grad_norm

    def step(self, obs, actions, rewards, next_obs, terminated) -> None:
        with torch.no_grad():
            best = self.net(next_obs).argmax(dim=1, keepdim=True)
            next_q = self.target(next_obs).gather(1, best).squeeze(1)
            target = rewards + self.gamma * (1.0 - terminated) * next_q
        q = self.net(obs).gather(1, actions[:, None]).squeeze(1)
        loss = nn.functional.smooth_l1_loss(q, target)
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), self.max_grad_norm)
        self.opt.step()


def gradient_step_cost(env_id: str, preset: str, blocks: int = 9, calls: int = 300) -> dict[str, float]:
    config, _ = build_config(env_id, preset, {})
    obs_dim, n_actions, batch_size = 4, 2, config.batch_size
    agent = DQNAgent((obs_dim,), n_actions, config, torch.device("cpu"))
    bare = BareStep(obs_dim, n_actions, config.hidden_sizes, config.learning_rate, config.gamma,
                    config.max_grad_norm)
    from deepq.replay import ReplayBuffer

    memory = ReplayBuffer(1000, (obs_dim,), gamma=config.gamma, seed=0)
    rng = np.random.default_rng(0)
    memory.add(rng.normal(size=(1000, obs_dim)).astype(np.float32), rng.integers(0, n_actions, 1000),
               rng.normal(size=1000), rng.normal(size=(1000, obs_dim)).astype(np.float32),
               (rng.random(1000) < 0.05).astype(np.float32))
    batch = memory.sample(batch_size)
    args = (batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.terminated)
    ours, theirs = [], []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(calls):
            agent.learn(batch)
        ours.append((time.perf_counter() - start) / calls * 1e6)
        start = time.perf_counter()
        for _ in range(calls):
            bare.step(*args)
        theirs.append((time.perf_counter() - start) / calls * 1e6)
    return {"deepq_us": statistics.median(ours), "bare_us": statistics.median(theirs),
            "batch": batch_size, "hidden": config.hidden_sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--preset", default="cartpole-fast")
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    grad = gradient_step_cost(args.env, args.preset)
    loop = loop_cost(args.env, args.preset, args.num_envs, args.steps)
    print(f"\n{args.env}, preset {args.preset}, one torch thread")
    print("| what | µs | note |")
    print("| --- | --- | --- |")
    print(f"| loop per env step, num_envs={args.num_envs} | {loop['loop_us']:.1f} | "
          f"act + env step + store + bookkeeping; {loop['steps']} steps in {loop['wall']:.1f} s |")
    print(f"| replay sample per gradient step | {loop['sample_us']:.1f} | batch {grad['batch']} |")
    print(f"| agent.learn per gradient step (in the run) | {loop['learn_us']:.1f} | "
          f"{loop['gradient_steps']} gradient steps |")
    print(f"| agent.learn, fixed batch | {grad['deepq_us']:.1f} | MLP {list(grad['hidden'])} |")
    print(f"| bare PyTorch step, same batch | {grad['bare_us']:.1f} | median of 9 blocks, alternating |")
    print(f"gradient step ratio deepq / bare PyTorch: {grad['deepq_us'] / grad['bare_us']:.2f}")


if __name__ == "__main__":
    main()
