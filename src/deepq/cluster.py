"""Ray for the commands that run beyond this process (the ``deepq[ray]`` extra): finding it,
and joining a cluster or starting a local one. Nothing in the core imports this module."""

from __future__ import annotations

import os
import socket
from typing import Any

from deepq.errors import UserError


def require_ray(command: str, tune: bool = False) -> Any:
    """The ``ray`` module (with Tune, if asked), or one line naming the extra."""
    try:
        import ray

        if tune:
            from ray import tune as _  # noqa: F401
    except ImportError:
        needs = "Ray Tune" if tune else "Ray"
        raise UserError(f"{command} needs {needs}: pip install 'deepq[ray]'") from None
    return ray


def start_ray(ray: Any, address: str | None, num_cpus: int | None = None) -> bool:
    """Join the cluster at ``address``, or start a local Ray with ``num_cpus`` (default: the
    cores here); returns whether this process started it, and so must stop it."""
    if ray.is_initialized():
        return False
    if address is None:  # "local": a Ray of our own, never a cluster left running here or named by RAY_ADDRESS
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
        return True
    hint = "start one with `ray start --head`, or leave --address out for a local Ray"
    host, _, port = address.rpartition("://")[2].rpartition(":")
    if host and port.isdigit():  # Ray retries an unreachable address for minutes: ask once first
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as error:
            raise UserError(f"no Ray cluster at --address {address} ({error.strerror or error}); {hint}") from None
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"no Ray cluster at --address {address} ({reason}); {hint}") from None
    return False
