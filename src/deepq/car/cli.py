"""``deepq car``: the sand-car app and its headless trainer."""

from __future__ import annotations

import argparse
from typing import Any


def add_car_parser(commands: Any) -> None:
    """Register ``deepq car`` under the main parser's subcommands."""
    car = commands.add_parser("car", help="the self-driving car: draw sand, watch it learn")
    car.set_defaults(handler=run_car)


def run_car(args: argparse.Namespace) -> int:
    raise NotImplementedError
