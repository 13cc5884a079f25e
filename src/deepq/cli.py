"""The ``deepq`` command: train, resume, eval, plot, presets (and the sand car's app).

Every user error ends in one line on stderr (``deepq: error: ...``) and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from deepq.config import add_set_option
from deepq.cpu import flushing_subnormals
from deepq.errors import DeepQError, UserError

EXIT_USAGE = 2


def _seed_list(text: str) -> list[int]:
    """``3`` -> [3]; ``0-7`` -> [0..7]; ``1,4,9`` -> [1, 4, 9]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                low, high = part.split("-", 1)
                seeds.extend(range(int(low), int(high) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 0-7 or 1,2,3, got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("no seeds given")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (its help is the command's documentation)."""
    from deepq import __version__

    parser = argparse.ArgumentParser(
        prog="deepq", description="Deep Q-learning that works out of the box.",
        epilog="Run `deepq COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"deepq {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train a DQN on a Gymnasium environment")
    train.add_argument("env_id", nargs="?", help="Gymnasium id, e.g. CartPole-v1 (not with --resume)")
    train.add_argument("--preset", help="named hyperparameters (`deepq presets`); default: the env's own")
    train.add_argument("--seed", type=int, help="random seed (default 0)")
    train.add_argument("--seeds", type=_seed_list, metavar="SEEDS",
                       help="train one agent per seed (0-7 or 1,4,9), batched, one process per core on "
                            "the CPU; each seed writes RUN_DIR/seed-K, and `deepq resume RUN_DIR` continues them")
    train.add_argument("--steps", type=int, help="environment steps to train (default: the preset's)")
    train.add_argument("--run-dir", type=Path, help="output directory (default runs/ENV-seedN)")
    add_set_option(train, "override hyperparameters, e.g. --set learning_rate=5e-4 double=true")
    train.add_argument("--stop-when-solved", action="store_true", help="stop at the first solved evaluation")
    train.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument("--save-replay", action="store_true", help="keep the replay memory in checkpoints")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run in --run-dir")
    train.add_argument("--no-progress", action="store_true", help="plain log lines instead of a live bar")
    train.add_argument("--actors", type=int, metavar="N",
                       help="Ape-X: N Ray actors step their own environments, each at its own epsilon, and feed "
                            "one prioritized learner here (deepq[ray]; sets actors=N prioritized=true)")
    train.add_argument("--address", help="with --actors: join this Ray cluster (auto, or HOST:PORT); "
                                         "default: start a local Ray")
    train.add_argument("--threads", type=int,
                       help="torch CPU threads (default: 1 for networks under 256 units wide, 2 for wider "
                            "ones; with --seeds, one process per core with one thread each, while --threads N "
                            "trains all the seeds in one process with N threads); put back when the run ends")

    resume = commands.add_parser("resume", help="continue a stopped run")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--steps", type=int, help="new total of environment steps")
    resume.add_argument("--device", default="auto")
    resume.add_argument("--no-progress", action="store_true")
    resume.add_argument("--threads", type=int, help="torch CPU threads (default: as `deepq train` chose)")
    resume.add_argument("--address", help="an Ape-X run (--actors): join this Ray cluster; default: a local Ray")

    evaluate = commands.add_parser("eval", help="evaluate a trained model greedily")
    evaluate.add_argument("path", help="a run directory or model file, or an env id with --random")
    evaluate.add_argument("--episodes", type=int, default=100, help="episodes to run (default 100)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--render", action="store_true", help="show the episodes in a window")
    evaluate.add_argument("--random", action="store_true", help="a uniformly random agent (baseline)")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--env", help="the environment id the model must fit (refused otherwise)")
    evaluate.add_argument("--record", type=Path, metavar="FILE",
                          help="record one greedy episode to FILE.mp4 or FILE.gif instead")

    plot = commands.add_parser("plot", help="draw a run's learning curve")
    plot.add_argument("run_dir", type=Path)
    plot.add_argument("--out", type=Path, help="output PNG (default RUN_DIR/learning_curve.png)")

    commands.add_parser("presets", help="list the presets and their hyperparameters")

    compare = commands.add_parser(
        "compare", help="compare groups of runs: IQM, mean, median with 95%% bootstrap CIs (deepq[stats])",
        description="Compare groups of runs with rliable's statistics: for each group the IQM, mean and "
                    "median of a per-run score with 95% stratified bootstrap confidence intervals, the "
                    "probability that a run of one group beats a run of another, and (with --out) "
                    "performance profiles and learning curves with confidence bands.")
    compare.add_argument("groups", nargs="+", metavar="RUN_DIR|GLOB",
                         help="one group each: a --seeds directory, a run directory, or a quoted glob of them")
    compare.add_argument("--label", nargs="+", default=None, help="a name for each group (default: its folder)")
    compare.add_argument("--metric", default="final", choices=["final", "auc", "time"],
                         help="final: final greedy return; auc: mean greedy return over the run's evaluations "
                              "(area under the curve); time: wall seconds to the threshold (lower is better; "
                              "an unsolved run counts its whole wall time)")
    compare.add_argument("--out", type=Path, metavar="FILE.png", help="also draw the comparison here")
    compare.add_argument("--reps", type=int, default=20_000, help="bootstrap resamples (default 20000)")

    sweep = commands.add_parser(
        "sweep", help="a hyperparameter grid (or an Optuna search) over seeds on Ray Tune, each trial a deepq run (deepq[ray])",
        description="One Ray Tune trial per (configuration, seed), each an ordinary deepq run in "
                    "STORAGE/runs/LABEL/seed-K; with --search optuna --trials N, N configurations picked by "
                    "Optuna, each one trial training all the seeds at once. A failed trial, or one whose node "
                    "is lost, restarts from its last deepq checkpoint. Ends with deepq compare's table over "
                    "the configurations.")
    sweep.add_argument("env_id", nargs="?", help="Gymnasium id, e.g. CartPole-v1 (not with --resume)")
    sweep.add_argument("--seeds", type=_seed_list, default=[0], metavar="SEEDS", help="seeds of every configuration (0-9)")
    sweep.add_argument("--grid", nargs="+", default=[], metavar="KEY=V1,V2",
                       help="values to try for a hyperparameter (a tuple's commas as colons: hidden_sizes=64:64,128:128)")
    sweep.add_argument("--preset", help="named hyperparameters the grid starts from (default: the env's own)")
    add_set_option(sweep, "fixed overrides for every trial, e.g. --set eval_interval=5000")
    sweep.add_argument("--steps", type=int, help="environment steps per trial (default: the preset's)")
    sweep.add_argument("--storage", type=Path, help="the sweep's directory (default runs/sweep-ENV); shared on a cluster")
    sweep.add_argument("--address", help="join a Ray cluster (auto, or HOST:PORT); default: start a local Ray")
    sweep.add_argument("--max-failures", type=int, default=3, help="restarts per trial before it counts as lost")
    sweep.add_argument("--resume", type=Path, metavar="STORAGE", help="continue the interrupted sweep in STORAGE")
    sweep.add_argument("--search", choices=["optuna"],
                       help="search the --grid space (values, or ranges LOW..HIGH) with Ray Tune's Optuna searcher")
    sweep.add_argument("--trials", type=int, metavar="N", help="with --search: how many configurations to try")

    from deepq.car.cli import add_car_parser

    add_car_parser(commands)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    """``deepq train``."""
    from deepq.config import build_config, parse_overrides

    progress = False if args.no_progress else None
    _check_threads(args.threads)
    if args.resume is not None:
        if args.env_id:
            raise UserError("give either ENV_ID or --resume RUN_DIR, not both")
        return _resume(args.resume, args.device, progress, args.steps, args.threads, args.address)
    if not args.env_id:
        raise UserError("train needs an environment id, e.g. `deepq train CartPole-v1`")
    overrides = parse_overrides(args.overrides)
    if args.actors is not None:
        if args.actors < 1:
            raise UserError("--actors must be at least 1")
        if args.seeds is not None:
            raise UserError("--actors (Ape-X) trains one seed; drop --seeds or --actors")
        overrides = {"prioritized": "true", **overrides, "actors": str(args.actors)}
    config, preset = build_config(args.env_id, args.preset, overrides)
    if args.address is not None and not config.actors:
        raise UserError("--address joins a Ray cluster for --actors N (Ape-X); add --actors or drop --address")
    options = {"total_steps": args.steps, "device": args.device, "stop_when_solved": args.stop_when_solved,
               "progress": progress, "preset": preset.name if preset else None,
               "save_replay": args.save_replay, "overwrite": args.overwrite}
    stem = args.env_id.replace("/", "_")
    if args.seeds is not None:
        if args.seed is not None:
            raise UserError("--seeds does not combine with --seed; drop one of them")
        label = f"{args.seeds[0]}-{args.seeds[-1]}" if len(args.seeds) > 1 else str(args.seeds[0])
        run_dir = args.run_dir or Path("runs") / f"{stem}-seeds{label}"
        return _train_seeds(args.env_id, config, args.seeds, run_dir, args.threads, options)
    seed = 0 if args.seed is None else args.seed
    run_dir = args.run_dir or Path("runs") / f"{stem}-seed{seed}"
    from deepq.train import Trainer

    trainer = Trainer(args.env_id, config, seed=seed, run_dir=run_dir, threads=args.threads, address=args.address,
                      **options)
    return _report(trainer.run(), trainer.stop_signal, run_dir)


def _train_seeds(env_id: str, config: Any, seeds: list[int], run_dir: Path, threads: int | None,
                 options: dict[str, Any], resume: bool = False) -> int:
    """Many seeds: one process per core on the CPU (``deepq.processes``), else one process."""
    from deepq.cpu import member_processes
    from deepq.train import Trainer, check_distinct

    check_distinct(seeds)

    processes = member_processes(len(seeds), threads, options.get("device", "auto"))
    if resume:
        def make(group: list[int], display: Any = None, threads: int | None = threads) -> Trainer:
            return Trainer.resume(run_dir, seeds=group, display=display, threads=threads, all_seeds=seeds,
                                  **options)
    else:
        def make(group: list[int], display: Any = None, threads: int | None = threads) -> Trainer:
            return Trainer(env_id, config, seeds=group, run_dir=run_dir, display=display, threads=threads,
                           all_seeds=seeds, **options)
    if processes > 1:
        from deepq.plotting import plot_runs
        from deepq.processes import train_in_processes

        summaries, stop_signal = train_in_processes(lambda group, display: make(group, display, 1), seeds,
                                                    processes, options.get("progress"))
        if stop_signal is None:
            plot_runs([run_dir / f"seed-{seed}" for seed in seeds])
    else:
        trainer = make(seeds)
        summaries, stop_signal = trainer.run(), trainer.stop_signal
    return _report_seeds(summaries, stop_signal, run_dir)


def _report_seeds(summaries: list[dict[str, Any]], stop_signal: int | None, run_dir: Path) -> int:
    if any(summary["interrupted"] for summary in summaries):
        steps = sorted({summary["steps"] for summary in summaries})  # processes stop a step or two apart
        at = f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
        print(f"interrupted at step {at}; each seed's checkpoint is saved in {run_dir}/seed-K. Resume with:\n"
              f"  deepq resume {shlex.quote(str(run_dir))}", file=sys.stderr)
        return 130 if stop_signal == signal.SIGINT else 143
    for summary in summaries:
        print(f"seed {summary['seed']}: {_verdict(summary)}")
    solved = sum(s["solved"] for s in summaries)
    still = sum(s["solved_at_end"] for s in summaries)
    wall = max(summary["wall_seconds"] for summary in summaries)
    print(f"{len(summaries)} seeds in {wall:.1f} s: {solved} solved, {still} still "
          f"solved at the end; outputs in {run_dir}/seed-K/")
    from deepq.compare import seeds_line

    line = seeds_line(summaries)
    if line:
        print(line)
    return 0


def _check_threads(threads: int | None) -> None:
    if threads is not None and threads < 1:
        raise UserError("--threads must be at least 1")


def _report(summary: dict[str, Any], stop_signal: int | None, run_dir: Path) -> int:
    """One seed's last lines: its verdict, or how to resume it."""
    if summary["interrupted"]:
        code = 130 if stop_signal == signal.SIGINT else 143
        print(f"interrupted at step {summary['steps']}; checkpoint saved. Resume with:\n"
              f"  deepq resume {shlex.quote(str(run_dir))}", file=sys.stderr)
        return code
    print(_verdict(summary))
    print(f"outputs in {run_dir}/: model.pt, checkpoint.pt, metrics.csv, summary.json, learning_curve.png")
    return 0


def _resume(run_dir: Path, device: str, progress: bool | None, steps: int | None, threads: int | None,
            address: str | None = None) -> int:
    """Continue one seed's run, or every interrupted member of a ``--seeds`` run."""
    from deepq.train import Trainer, member_dirs

    if not (run_dir / "checkpoint.pt").exists() and member_dirs(run_dir):
        seeds = [int(d.name[5:]) for d in member_dirs(run_dir) if (d / "checkpoint.pt").exists()
                 and _interrupted(d)]
        if not seeds:
            raise UserError(f"every seed in {run_dir} has finished; to train further pass --steps N")
        options = {"device": device, "progress": progress, "total_steps": steps}
        return _train_seeds("", None, seeds, run_dir, threads, options, resume=True)
    trainer = Trainer.resume(run_dir, device=device, progress=progress, total_steps=steps, threads=threads,
                             address=address)
    return _report(trainer.run(), trainer.stop_signal, run_dir)


def _interrupted(member_dir: Path) -> bool:
    """Whether a member has no summary yet or an interrupted one."""
    path = member_dir / "summary.json"
    return not path.exists() or bool(json.loads(path.read_text()).get("interrupted", True))


def _verdict(summary: dict[str, Any]) -> str:
    final = summary["final_eval_mean"]
    final_text = "n/a" if final is None else f"{final:.1f} +/- {summary['final_eval_std']:.1f}"
    if summary["solved"]:
        still = "still solved at the end" if summary["solved_at_end"] else "NOT solved at the end"
        return (f"solved at step {summary['solved_at_step']} after {summary['solved_at_seconds']:.1f} s; "
                f"{still} (greedy mean {final_text})")
    threshold = summary["solved_threshold"]
    target = "" if threshold is None else f" (threshold {threshold:g})"
    return f"not solved in {summary['steps']} steps{target}; final greedy mean {final_text}"


def cmd_resume(args: argparse.Namespace) -> int:
    """``deepq resume``."""
    _check_threads(args.threads)
    return _resume(args.run_dir, args.device, False if args.no_progress else None, args.steps, args.threads,
                   args.address)


def cmd_eval(args: argparse.Namespace) -> int:
    """``deepq eval``."""
    import numpy as np

    from deepq.envs import env_spaces
    from deepq.evaluation import evaluate, random_policy

    if args.episodes < 1:
        raise UserError("--episodes must be at least 1")
    if args.random:
        env_id = args.path
        _, _, n_actions = env_spaces(env_id)
        policy = random_policy(n_actions, args.seed)
        env_kwargs: dict[str, Any] = {}
    else:
        from deepq.api import DQN

        path = Path(args.path)
        if not path.exists():
            raise UserError(f"no such run directory or model file: {path}")
        model = DQN.load(path, device=args.device, env_id=args.env)
        env_id, policy, env_kwargs = model.env_id, model.agent.greedy, model.env_kwargs
    if args.record is not None:
        from deepq.recording import record_episode

        result = record_episode(policy, env_id, args.record, seed=args.seed, env_kwargs=env_kwargs)
        ended = "" if result["complete"] else " (stopped at the frame limit)"
        print(f"recorded {result['frames']} frames of {env_id}, return {result['return']:.1f}{ended}, "
              f"to {result['path']}")
        return 0
    if args.render:
        env_kwargs = dict(env_kwargs, render_mode="human")
    returns = evaluate(policy, env_id, args.episodes, seed=args.seed,
                       max_batch=1 if args.render else 100, env_kwargs=env_kwargs)
    result = {"env_id": env_id, "episodes": len(returns), "mean": float(np.mean(returns)),
              "std": float(np.std(returns)), "min": float(np.min(returns)), "max": float(np.max(returns)),
              "agent": "random" if args.random else str(args.path)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{env_id}: mean return {result['mean']:.2f} +/- {result['std']:.2f} over "
              f"{result['episodes']} episodes (min {result['min']:.1f}, max {result['max']:.1f})")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """``deepq plot``."""
    if not (args.run_dir / "metrics.csv").exists():
        raise UserError(f"no metrics.csv in {args.run_dir}; is it a deepq run directory?")
    from deepq.plotting import plot_run

    out = plot_run(args.run_dir, args.out)
    print(f"wrote {out}")
    return 0


def cmd_presets(_: argparse.Namespace) -> int:
    """``deepq presets``."""
    from deepq.config import PRESETS, DQNConfig

    defaults = DQNConfig().to_dict()
    for preset in PRESETS.values():
        print(f"{preset.name}  ({preset.env_id}): {preset.note}")
        for key, value in preset.config().to_dict().items():
            if key in preset.overrides:
                print(f"    {key} = {json.dumps(value)}")
    print("\nDefaults of every other key (set any with --set KEY=VALUE):")
    for key, value in defaults.items():
        print(f"    {key} = {json.dumps(value)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``deepq compare``."""
    from deepq.compare import compare

    if args.reps < 100:
        raise UserError("--reps must be at least 100")
    print(compare(args.groups, args.label, args.metric, args.out, args.reps))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """``deepq sweep``."""
    from deepq.config import parse_overrides
    from deepq.sweep import SweepSpec, parse_grid, sweep

    if args.max_failures < 0:
        raise UserError("--max-failures must be >= 0")
    if args.resume is not None:
        if args.env_id or args.grid or args.search or args.trials is not None:
            raise UserError("--resume continues a sweep as it was asked; give no ENV_ID, --grid, --search or --trials with it")
        text, lost = sweep(None, args.resume, args.address, args.max_failures, resume=True)
    else:
        if not args.env_id:
            raise UserError("sweep needs an environment id, e.g. `deepq sweep CartPole-v1 --grid learning_rate=1e-3,3e-4`")
        spec = SweepSpec(args.env_id, args.seeds, parse_grid(args.grid), args.preset,
                         parse_overrides(args.overrides), args.steps, args.search, args.trials)
        storage = args.storage or Path("runs") / f"sweep-{args.env_id.replace('/', '_')}"
        text, lost = sweep(spec, storage, args.address, args.max_failures)
    print(text)
    return 1 if lost else 0


COMMANDS = {"train": cmd_train, "resume": cmd_resume, "eval": cmd_eval, "plot": cmd_plot,
            "presets": cmd_presets, "compare": cmd_compare, "sweep": cmd_sweep}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``deepq`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = COMMANDS.get(args.command) or args.handler
    # Training flushes subnormal floats; entered before anything runs, so torch's OpenMP threads,
    # which copy the setting of the thread that starts them, flush too.
    flush = flushing_subnormals() if args.command in ("train", "resume") else nullcontext()
    try:
        with flush:
            return int(handler(args))
    except DeepQError as error:
        print(f"deepq: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("deepq: aborted; the last complete checkpoint is kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # `python -m deepq.cli`: run the imported module's main, so that the errors other modules
    # raise (deepq.cli.UserError) are the classes main() catches, not copies in __main__
    from deepq.cli import main as imported_main

    sys.exit(imported_main())
