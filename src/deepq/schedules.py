"""Exploration and learning-rate schedules: pure functions of the step, so a resumed run picks up exactly."""

from __future__ import annotations

import math

from deepq.config import DQNConfig


def linear_schedule(start: float, end: float, duration: float, t: float) -> float:
    """Go from ``start`` to ``end`` in a straight line over ``duration`` steps, then hold."""
    if duration <= 0:
        return end
    return start + (end - start) * min(t / duration, 1.0)


def decrement_schedule(start: float, end: float, decrement: float, t: float) -> float:
    """Subtract ``decrement`` per step (the LunarLander tutorial's eps_dec), floored at ``end``."""
    return max(end, start - decrement * t)


def exponential_schedule(start: float, end: float, decay: float, t: float) -> float:
    """``end + (start - end) * exp(-t / decay)`` (the CartPole lab's EPS_DECAY)."""
    return end + (start - end) * math.exp(-t / decay)


def epsilon_at(config: DQNConfig, step: int, total_steps: int) -> float:
    """Epsilon after ``step`` env steps of a run of ``total_steps``, as the config asks."""
    start, end = config.exploration_initial_eps, config.exploration_final_eps
    if config.exploration_schedule == "decrement":
        return decrement_schedule(start, end, config.exploration_decrement, step)
    if config.exploration_schedule == "exponential":
        return exponential_schedule(start, end, config.exploration_decay, step)
    return linear_schedule(start, end, config.exploration_fraction * total_steps, step)


def learning_rate_at(config: DQNConfig, step: int, total_steps: int) -> float:
    """The learning rate after ``step`` steps: linear from ``learning_rate`` to
    ``learning_rate * lr_final_fraction`` over the run."""
    return linear_schedule(config.learning_rate, config.learning_rate * config.lr_final_fraction,
                           total_steps, step)


def priority_beta_at(config: DQNConfig, step: int, total_steps: int) -> float:
    """The prioritized-replay importance-sampling exponent: ``priority_beta`` annealed to 1."""
    return linear_schedule(config.priority_beta, 1.0, total_steps, step)
