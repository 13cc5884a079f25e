"""``deepq car``: the sand-car app, and ``deepq car train`` for headless training."""

from __future__ import annotations

import argparse
from typing import Any

from deepq.car.specs import BRAINS


def add_car_parser(commands: Any) -> None:
    """Register ``deepq car`` (the window) and ``deepq car train`` (headless)."""
    from deepq.config import add_set_option

    car = commands.add_parser(
        "car", help="the self-driving car: draw sand, watch it learn (`deepq car train` trains headless)",
        description="Open the sand-car window, or `deepq car train ...` to train without one.",
    )
    car.add_argument("--map", default="empty", help="empty, wall, strokes, or a PNG (non-black = sand)")
    car.add_argument("--brain", default="course", choices=list(BRAINS), help="network and temperature")
    car.add_argument("--load", help="a brain file to start from (last_brain.pth)")
    car.add_argument("--width", type=int, default=800)
    car.add_argument("--height", type=int, default=600)
    car.set_defaults(handler=run_app)
    sub = car.add_subparsers(dest="car_command", metavar="train")
    train = sub.add_parser("train", help="train the car without a window")
    train.add_argument("--map", dest="train_map", default="empty", help="empty, wall, strokes, or a PNG")
    train.add_argument("--frames", type=int, default=100_000, help="frames to run (default 100000)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--brain", dest="train_brain", default="route", choices=list(BRAINS),
                       help="route (default: the pose brain plus the way round the sand it has seen), "
                            "pose (course inputs plus the car's pose), course or tutorial")
    train.add_argument("--run-dir", default=None, help="output directory (default runs/car-MAP-seedN)")
    add_set_option(train, "change the brain's hyperparameters (any `deepq presets` key), "
                          "e.g. --set gamma=0.95 target_update_interval=1000")
    train.add_argument("--overwrite", action="store_true", help="replace an existing car run in --run-dir")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    train.set_defaults(handler=run_train)


def run_app(args: argparse.Namespace) -> int:
    """Open the window."""
    from deepq.car.app import CarApp

    try:
        app = CarApp(map_name=args.map, brain=args.brain, load=args.load, width=args.width,
                     height=args.height)
    except ValueError as error:
        from deepq.errors import UserError

        raise UserError(str(error)) from None
    app.run()
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train headless and print the summary."""
    from pathlib import Path

    from deepq.car.train import train_car
    from deepq.config import parse_overrides
    from deepq.errors import UserError

    if args.frames < 1:
        raise UserError("--frames must be at least 1")
    stem = Path(args.train_map).stem
    run_dir = args.run_dir or f"runs/car-{stem}-seed{args.seed}"
    try:
        summary = train_car(args.train_map, args.frames, args.seed, run_dir, args.train_brain,
                            progress=not args.quiet, overrides=parse_overrides(args.overrides),
                            overwrite=args.overwrite)
    except ValueError as error:
        raise UserError(str(error)) from None
    print(f"{summary['frames']} frames at {summary['fps']:.0f} frames/s: {summary['goals']} goals, "
          f"{summary['goals_per_10k_last']} in the last 10k frames, "
          f"{summary['sand_fraction_last']:.1%} of them on sand; outputs in {run_dir}/")
    return 0
