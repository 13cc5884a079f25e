"""Steps per second of the training loop on Atari Pong (the `pong` preset), CPU or GPU.

    .venv/bin/python benchmarks/atari_throughput.py [--device auto] [--steps 20000] [--num-envs 1]
        [--backend auto|gymnasium] [--set KEY=VALUE ...]

Three rows, each measured in this process:
- the environments alone (random actions through the full preprocessing: no-op starts,
  frame skip 4 with max-pooling, 84x84 grayscale, episodic life, fire reset, 4-frame stacks);
- the training loop before learning starts (act, step, store in the frame memory);
- the training loop while learning (the preset's gradient steps, the Nature CNN, the target
  update), timed from the first gradient step to the end.
The preset is used as is, except for the run length, a memory of `--buffer` transitions (1M
needs ~7 GB), no periodic evaluation or checkpoint inside the timed window, and `--set`.
`--backend gymnasium` steps the games through Gymnasium's wrappers, `auto` through ALE's C++
vector environment. Run it with PYTHONPATH=<clone>/src to measure another commit (one without
`env_backend` needs `--backend gymnasium`, which it then leaves out of the config).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from deepq.config import DQNConfig, build_config
from deepq.envs.resumable import ResumableVectorEnv
from deepq.train import Trainer


def env_steps_per_second(env_id: str, num_envs: int, steps: int, backend: str) -> float:
    if "env_backend" in DQNConfig.__dataclass_fields__:
        envs = ResumableVectorEnv(env_id, num_envs, seed=0, backend=backend)
    else:  # a commit from before env_backend
        envs = ResumableVectorEnv(env_id, num_envs, seed=0)
    envs.reset()
    rng = np.random.default_rng(0)
    n_actions = int(envs.envs.single_action_space.n)
    start = time.perf_counter()
    for _ in range(steps // num_envs):
        _, _, terminated, truncated = envs.step(rng.integers(0, n_actions, num_envs))
        envs.reset_done(terminated | truncated)
    elapsed = time.perf_counter() - start
    envs.close()
    return steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ALE/Pong-v5")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20_000, help="steps after learning starts")
    parser.add_argument("--learning-starts", type=int, default=5_000)
    parser.add_argument("--buffer", type=int, default=100_000)
    parser.add_argument("--num-envs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    parser.add_argument("--preset", default="pong", help="an Atari preset (pong, rainbow-pong, ...)")
    parser.add_argument("--backend", default="auto", choices=("auto", "gymnasium"))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", dest="overrides")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    total = args.learning_starts + args.steps
    overrides = {
        "buffer_size": args.buffer, "learning_starts": args.learning_starts, "num_envs": args.num_envs,
        "eval_interval": 0, "checkpoint_interval": 0, "eval_episodes": 1,
        **dict(pair.split("=", 1) for pair in args.overrides),
    }
    if args.backend != "gymnasium" or "env_backend" in DQNConfig.__dataclass_fields__:
        overrides["env_backend"] = args.backend
    config, _ = build_config(args.env, args.preset, overrides)
    env_sps = env_steps_per_second(args.env, config.num_envs, 5_000, args.backend)
    trainer = Trainer(args.env, config, seed=0, run_dir=tempfile.mkdtemp(prefix="deepq-atari-"),
                      total_steps=total, device=args.device, progress=False,
                      env_kwargs={"max_episode_steps": 27_000})
    marks: dict[str, tuple[int, float]] = {}

    def mark(t: Trainer) -> None:
        if "learning" not in marks and t.clock.gradient_steps > 0:
            marks["learning"] = (t.clock.step, time.perf_counter())
        if t.clock.step >= total and "end" not in marks:
            if trainer.agent.device.type == "cuda":
                torch.cuda.synchronize()
            marks["end"] = (t.clock.step, time.perf_counter())

    marks["start"] = (0, time.perf_counter())
    summary = trainer.run(callback=mark)
    if "end" not in marks:
        raise SystemExit(f"the run ended at step {summary['steps']} of {total}: {summary}")
    (s0, t0), (s1, t1), (s2, t2) = marks["start"], marks["learning"], marks["end"]
    collect_sps = (s1 - s0) / (t1 - t0)
    learn_sps = (s2 - s1) / (t2 - t1)
    device = trainer.agent.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    ratio = (getattr(config, "update_epochs", 1) if getattr(config, "algorithm", "dqn") == "pqn"
             else config.batch_size * max(config.gradient_steps, 1) / (config.num_envs * config.train_freq))
    print(f"\n{args.env}, {args.preset} preset, {args.backend} path, num_envs {config.num_envs}, batch "
          f"{config.batch_size}, {ratio:g} samples per env step, device {device} ({name})")
    print("| phase | steps | steps/s |")
    print("| --- | --- | --- |")
    print(f"| environments alone (random actions) | 5000 | {env_sps:.0f} |")
    print(f"| loop before learning starts | {s1 - s0} | {collect_sps:.0f} |")
    print(f"| loop while learning | {s2 - s1} | {learn_sps:.0f} |")
    print(f"gradient steps: {summary['gradient_steps']}; "
          f"10M steps at this rate: {1e7 / learn_sps / 3600:.1f} h")
    print(f"steps_per_second_learning: {learn_sps:.0f}")


if __name__ == "__main__":
    main()
