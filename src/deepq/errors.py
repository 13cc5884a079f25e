"""The one base class of deepq's errors: bad input or a run that cannot go on.

The ``deepq`` command prints any ``DeepQError`` as one line and exits 2; the library raises
the subclasses below (each module re-exports its own), so callers can catch them all at once.
"""

from __future__ import annotations


class DeepQError(Exception):
    """A problem the user can fix; the message names it and the fix."""


class UserError(DeepQError):
    """Bad command-line input."""


class ConfigError(DeepQError, ValueError):
    """An unknown hyperparameter key, a bad value, or an unknown preset."""


class EnvError(DeepQError, ValueError):
    """An environment id that cannot be made, or one deepq cannot train on."""


class CheckpointError(DeepQError, ValueError):
    """A checkpoint or model file that cannot be read or does not fit."""


class RecordError(DeepQError, ValueError):
    """A recording that cannot be written."""


class RunError(DeepQError, RuntimeError):
    """A run cannot go on (bad run directory, divergence); the message says why."""
