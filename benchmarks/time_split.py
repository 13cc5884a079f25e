"""Where a training run's wall time goes: learn, evaluate, act, sample, step, the rest (by hand).

    .venv/bin/python benchmarks/time_split.py CartPole-v1                 # one seed
    .venv/bin/python benchmarks/time_split.py CartPole-v1 --seeds 0-7     # the --seeds ensemble
    .venv/bin/python benchmarks/time_split.py LunarLander-v3 --preset lunarlander-fast --steps 80000

One run in this process, with a timer wrapped around each part (the wrappers add ~1 µs a
call). Threads, and how idle ones wait, as the `deepq train` command chooses them
(``deepq.cpu.default_threads`` unless ``--threads`` says otherwise; ``spin_while_idle``).
"rest" is the loop's own bookkeeping (episode logging, progress, checkpoints) and the run's
end (model files, learning-curve plots: ~0.5 s). Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections import Counter
from typing import Any

totals: Counter[str] = Counter()
calls: Counter[str] = Counter()


def timed(owner: Any, method: str, part: str) -> None:
    """Wrap ``owner.method`` so the time spent in it is added to ``totals[part]``. ``owner`` is a
    class (every instance is timed) or one object (only that one)."""
    inner = getattr(owner, method)

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[part] += time.perf_counter() - start
            calls[part] += 1

    setattr(owner, method, wrapper)


def main() -> None:
    from deepq.agent import DQNAgent
    from deepq.cli import _seed_list
    from deepq.config import build_config
    from deepq.cpu import flushing_subnormals
    from deepq.envs import ResumableVectorEnv
    from deepq.replay import NStepCollector, ReplayBuffer
    from deepq.train import Trainer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id")
    parser.add_argument("--preset", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=_seed_list, default=None, help="train these seeds as one ensemble")
    parser.add_argument("--steps", type=int, default=None, help="environment steps (default: the preset's)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: as `deepq train`)")
    args = parser.parse_args()

    # As `deepq train` does: flush subnormals before torch starts its worker threads, which copy
    # the setting when they start (a flush entered later reaches the main thread only).
    with flushing_subnormals():
        config, preset = build_config(args.env_id, args.preset)
        ensemble = args.seeds is not None
        timed(DQNAgent, "learn", "learn step")
        timed(ResumableVectorEnv, "step", "environment steps")
        timed(ResumableVectorEnv, "reset_done", "environment resets")
        run_dir = tempfile.mkdtemp(prefix="deepq-split-")
        name = preset.name if preset else None
        timed(DQNAgent, "act", "acting")
        timed(ReplayBuffer, "sample", "replay sampling")
        timed(ReplayBuffer, "add", "storing")
        timed(NStepCollector, "push", "n-step windows")
        timed(Trainer, "_evaluate", "evaluations")
        trainer: Any = Trainer(args.env_id, config, seed=args.seed, seeds=args.seeds, run_dir=run_dir,
                               total_steps=args.steps, device="cpu", progress=False, preset=name,
                               threads=args.threads)
        start = time.perf_counter()
        trainer.run()
        total = time.perf_counter() - start

        who = f"--seeds {args.seeds[0]}-{args.seeds[-1]}" if ensemble else f"seed {args.seed}"
        print(f"\n{args.env_id}, preset {name}, {who}, {trainer.run_threads} thread(s), "
              f"{total:.2f} s")
        print(f"{'part':<22} {'seconds':>8} {'share':>7} {'calls':>8} {'µs a call':>10}")
        for part, seconds in totals.most_common():
            print(f"{part:<22} {seconds:>8.2f} {seconds / total:>7.1%} {calls[part]:>8} "
                  f"{seconds / calls[part] * 1e6:>10.1f}")
        rest = total - sum(totals.values())
        print(f"{'rest':<22} {rest:>8.2f} {rest / total:>7.1%}")


if __name__ == "__main__":
    main()
