"""MinAtar's ids through deepq: channels-first maps, the small CNN, the default preset, DQN and PQN runs."""

import numpy as np
import pytest

from deepq.config import build_config
from deepq.envs import env_spaces, make_env
from deepq.envs.minatar import GAMES
from deepq.networks import SmallCNN
from deepq.train import Trainer

pytest.importorskip("minatar")


@pytest.mark.parametrize("game", GAMES)
def test_every_game_gives_channels_first_maps(game):
    shape, dtype, n_actions = env_spaces(f"MinAtar/{game}-v1")
    assert len(shape) == 3 and shape[1:] == (10, 10) and dtype == np.uint8 and n_actions >= 3
    env = make_env(f"MinAtar/{game}-v1")
    first, _ = env.reset(seed=4)
    again, _ = env.reset(seed=4)
    np.testing.assert_array_equal(first, again)  # seeded: exact resume can replay it
    assert first.shape == shape and set(np.unique(first)) <= {0, 1}
    env.close()


def test_minatar_ids_take_the_minatar_preset():
    config, preset = build_config("MinAtar/Seaquest-v1")
    assert preset is not None and preset.name == "minatar" and config.target_update_interval == 1_000


@pytest.mark.parametrize("preset", ["minatar", "pqn-minatar"])
def test_short_runs_train_the_small_cnn_and_resume(tmp_path, preset):
    overrides = {"eval_episodes": 2, "eval_interval": 0, "checkpoint_interval": 1_024}
    if preset == "minatar":
        overrides |= {"learning_starts": 500, "buffer_size": 5_000}
    else:
        overrides |= {"num_envs": 16, "rollout_steps": 16, "batch_size": 64}
    config, _ = build_config("MinAtar/Breakout-v1", preset, overrides)
    trainer = Trainer("MinAtar/Breakout-v1", config, seed=1, run_dir=tmp_path, total_steps=2_048,
                      progress=False, preset=preset, threads=1)
    assert isinstance(trainer.agent.q_net.single, SmallCNN)
    summary = trainer.run()
    assert summary["steps"] == 2_048 and summary["gradient_steps"] > 0
    resumed = Trainer.resume(tmp_path, total_steps=3_072, progress=False, threads=1)
    assert resumed.clock.step == 2_048
    assert resumed.run()["steps"] == 3_072
