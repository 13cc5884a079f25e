import pytest

from deepq.config import DQNConfig
from deepq.schedules import (
    decrement_schedule,
    epsilon_at,
    exponential_schedule,
    linear_schedule,
    priority_beta_at,
)


def test_linear_schedule_hits_both_ends_and_holds():
    assert linear_schedule(1.0, 0.1, 100, 0) == 1.0
    assert linear_schedule(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 100, 100) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.1, 100, 10_000) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.1, 0, 5) == 0.1


def test_decrement_schedule_floors_at_end():
    assert decrement_schedule(1.0, 0.01, 0.001, 100) == pytest.approx(0.9)
    assert decrement_schedule(1.0, 0.01, 0.001, 5000) == 0.01


def test_exponential_schedule():
    assert exponential_schedule(0.9, 0.05, 1000, 0) == pytest.approx(0.9)
    assert exponential_schedule(0.9, 0.05, 1000, 1000) == pytest.approx(0.05 + 0.85 / 2.718281828459045)
    assert exponential_schedule(0.9, 0.05, 1000, 10**6) == pytest.approx(0.05)


def test_epsilon_at_follows_the_config():
    linear = DQNConfig(exploration_fraction=0.5, exploration_final_eps=0.0)
    assert epsilon_at(linear, 250, 1000) == pytest.approx(0.5)
    decrement = DQNConfig(exploration_schedule="decrement", exploration_decrement=0.01)
    assert epsilon_at(decrement, 10, 1000) == pytest.approx(0.9)
    exponential = DQNConfig(exploration_schedule="exponential", exploration_decay=10.0,
                            exploration_final_eps=0.0)
    assert epsilon_at(exponential, 10, 1000) == pytest.approx(1 / 2.718281828459045)


def test_priority_beta_is_annealed_to_one_over_the_run():
    config = DQNConfig(priority_beta=0.4)
    assert priority_beta_at(config, 0, 1000) == pytest.approx(0.4)
    assert priority_beta_at(config, 500, 1000) == pytest.approx(0.7)
    assert priority_beta_at(config, 2000, 1000) == pytest.approx(1.0)
