"""Flushing subnormal floats to zero or keeping them: `deepq train` both ways, interleaved.

    .venv/bin/python benchmarks/denormals.py CartPole-v1 --repeats 3
    .venv/bin/python benchmarks/denormals.py CartPole-v1 --seeds 0-7 --steps 20000

`deepq train` flushes subnormals while it trains (`torch.set_flush_denormal(True)`) unless
DEEPQ_FLUSH_DENORMAL=0. Each repeat runs the same `deepq train` command once with the flush and
once without, each in its own process, one after the other, so both see the same load. The
table gives each run's training-loop seconds (summary.json, evaluations included), the process's
wall seconds and its CPU seconds (user + system: the steal of a shared host does not count in
them), then the medians and the ratio flush / keep.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = {"flush": "1", "keep": "0"}


def run(setting: str, train_args: list[str]) -> tuple[float, float, float, bool]:
    """One `deepq train` with DEEPQ_FLUSH_DENORMAL set; (loop s, process s, CPU s, all solved)."""
    run_dir = Path(tempfile.mkdtemp(prefix="deepq-denormals-"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "deepq.cli", "train", *train_args, "--run-dir", str(run_dir),
                             "--no-progress"], capture_output=True, text=True,
                            env={**os.environ, "DEEPQ_FLUSH_DENORMAL": SETTINGS[setting]})
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"deepq train failed: {result.stderr.strip()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    summaries = [json.loads(p.read_text()) for p in sorted(run_dir.glob("**/summary.json"))]
    return summaries[0]["wall_seconds"], wall, cpu, all(s["solved"] for s in summaries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_id")
    parser.add_argument("--repeats", type=int, default=3)
    args, train_args = parser.parse_known_args()
    rows: dict[str, list[tuple[float, float, float, bool]]] = {name: [] for name in SETTINGS}
    print(f"{'repeat':<8} {'setting':<8} {'loop s':>7} {'process s':>10} {'CPU s':>7} {'solved':>7}")
    for repeat in range(args.repeats):
        for name in SETTINGS:
            rows[name].append(run(name, [args.env_id, *train_args]))
            loop, wall, cpu, solved = rows[name][-1]
            print(f"{repeat + 1:<8} {name:<8} {loop:>7.1f} {wall:>10.1f} {cpu:>7.1f} {str(solved):>7}", flush=True)
    medians = {name: [statistics.median(r[i] for r in runs) for i in range(3)] for name, runs in rows.items()}
    for name, (loop, wall, cpu) in medians.items():
        print(f"median   {name:<8} {loop:>7.1f} {wall:>10.1f} {cpu:>7.1f}")
    ratios = [f / k for f, k in zip(medians["flush"], medians["keep"], strict=True)]
    print(f"flush / keep: loop {ratios[0]:.2f}, process {ratios[1]:.2f}, CPU {ratios[2]:.2f}")


if __name__ == "__main__":
    main()
