import imageio.v2 as imageio
import numpy as np
import pytest

from deepq import DQN
from deepq.recording import RecordError, record_episode


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_records_a_greedy_cartpole_episode(tmp_path, suffix):
    model = DQN("CartPole-v1", run_dir=tmp_path / "run", hidden_sizes="8")
    result = record_episode(model.agent.greedy, "CartPole-v1", tmp_path / f"episode{suffix}", seed=1)
    assert result["complete"] and result["frames"] == result["return"] + 1  # reward 1 per step
    frames = imageio.mimread(tmp_path / f"episode{suffix}", memtest=False)
    assert len(frames) == result["frames"] and frames[0].shape[:2] == (400, 600)


def test_records_atari_from_the_unprocessed_screen(tmp_path):
    model = DQN("ALE/Pong-v5", run_dir=tmp_path / "run", buffer_size=1000, learning_starts=100,
                env_kwargs={"max_episode_steps": 120})
    result = record_episode(model.agent.greedy, "ALE/Pong-v5", tmp_path / "pong.mp4",
                            env_kwargs={"max_episode_steps": 120})
    frames = imageio.mimread(tmp_path / "pong.mp4", memtest=False)
    assert len(frames) == result["frames"] and frames[0].shape == (210, 160, 3)
    assert np.ptp(np.asarray(frames[-1])) > 0


def test_unknown_format_is_a_clear_error(tmp_path):
    with pytest.raises(RecordError, match=r"\.mp4 or \.gif"):
        record_episode(lambda obs: np.zeros(len(obs), int), "CartPole-v1", tmp_path / "x.avi")
