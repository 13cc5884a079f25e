"""Atari through the real ALE: preprocessing, the frame memory in the loop, recording."""

import signal

import numpy as np
import pytest
import torch

from deepq.config import build_config
from deepq.envs import make_env
from deepq.envs.atari import EpisodicLife, FireReset
from deepq.replay import FrameReplay, PrioritizedReplay
from deepq.train import Trainer

SHORT = {"buffer_size": 3000, "learning_starts": 200, "eval_interval": 0, "eval_episodes": 1,
         "checkpoint_interval": 0, "batch_size": 8}


def test_preprocessing_gives_stacked_84x84_uint8_frames():
    env = make_env("ALE/Breakout-v5", training=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert all(np.array_equal(obs[0], frame) for frame in obs)  # a new episode pads with its first frame
    names = []
    wrapper = env
    while hasattr(wrapper, "env"):
        names.append(type(wrapper).__name__)
        wrapper = wrapper.env
    assert {"AtariPreprocessing", "FrameStackObservation"} <= set(names)
    assert any(isinstance(w, FireReset) for w in _chain(env)) and any(isinstance(w, EpisodicLife) for w in _chain(env))
    evaluation = make_env("ALE/Breakout-v5")  # evaluation plays whole games: no episodic life
    assert not any(isinstance(w, EpisodicLife) for w in _chain(evaluation))


def _chain(env):
    while hasattr(env, "env"):
        yield env
        env = env.env


def test_frames_in_memory_match_what_the_agent_saw():
    config, _ = build_config("ALE/Pong-v5", "pong", {**SHORT, "learning_starts": 250})
    trainer = Trainer("ALE/Pong-v5", config, run_dir="/tmp/unused", total_steps=300, device="cpu")
    assert isinstance(trainer.replay, FrameReplay)
    env = make_env("ALE/Pong-v5", training=True, max_episode_steps=240)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    seen = []
    for _ in range(120):
        action = int(rng.integers(0, 6))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        trainer.replay.add(obs[None], np.array([action]), np.array([reward]), next_obs[None],
                           np.array([terminated]), np.array([truncated]))
        seen.append((obs, next_obs))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    rows = np.flatnonzero(trainer.replay.has_next[0])  # in order: the memory has not wrapped
    assert len(rows) == len(seen)
    stacked, next_stacked = trainer.replay.stacks(rows)
    for (o, n), so, sn in zip(seen, stacked, next_stacked):
        assert np.array_equal(o, so) and np.array_equal(n, sn)




def test_a_short_pong_run_exercises_the_whole_path(tmp_path):
    """Wrappers, frame memory, Nature CNN, learning, checkpoint, evaluation and resume: 2000 steps."""
    config, _ = build_config("ALE/Pong-v5", "pong", {**SHORT, "batch_size": 32, "checkpoint_interval": 1000})
    trainer = Trainer("ALE/Pong-v5", config, run_dir=tmp_path / "pong", total_steps=2000, device="cpu", threads=1,
                      progress=False, env_kwargs={"max_episode_steps": 2000})
    start = [p.detach().clone() for p in trainer.agent.q_net.parameters()]
    summary = trainer.run()
    assert summary["gradient_steps"] == (2000 - 200) // 4 + 1 and np.isfinite(summary["final_eval_mean"])
    assert -21 <= summary["final_eval_mean"] <= 21 and summary["episodes"] >= 1
    assert any(not torch.equal(a, b) for a, b in zip(start, trainer.agent.q_net.parameters()))
    resumed = Trainer.resume(tmp_path / "pong", device="cpu", progress=False, total_steps=2300, threads=1)
    assert resumed.run()["steps"] == 2300


@pytest.mark.parametrize("n_step", [1, 3])
def test_prioritized_replay_and_n_step_over_the_frame_memory(tmp_path, n_step):
    config, _ = build_config("ALE/Pong-v5", "pong", {**SHORT, "prioritized": True, "n_step": n_step,
                                                     "num_envs": 2})
    trainer = Trainer("ALE/Pong-v5", config, run_dir=tmp_path / "pong", total_steps=800, device="cpu", threads=1,
                      progress=False, env_kwargs={"max_episode_steps": 150})
    summary = trainer.run()
    assert summary["gradient_steps"] == (800 - 200) // 2 // 4 + 1 and isinstance(trainer.replay, PrioritizedReplay)
    assert summary["episodes"] >= 4  # episode ends (truncations) inside the memory
    memory = trainer.replay.storage
    rows = np.flatnonzero(trainer.replay.tree.get(np.arange(trainer.replay.capacity)))
    assert memory.is_valid(rows).all() and len(rows) == len(memory)
    batch = memory.gather(rows)
    # discounts gamma^k: k = n inside an episode, shorter only where its episode ended
    k = np.round(np.log(batch.discounts.numpy()) / np.log(config.gamma)).astype(int)
    assert set(k.tolist()) <= set(range(1, n_step + 1)) and (k == n_step).mean() > 0.9


def test_rainbow_trains_on_the_frame_memory_with_seeds_and_resumes(tmp_path):
    """The rainbow-pong preset (C51 + noisy + dueling + double + prioritized + 3-step) on the
    Nature CNN, two seeds batched, stopped and resumed."""
    config, _ = build_config("ALE/Pong-v5", "rainbow-pong", {**SHORT, "target_update_interval": 100,
                                                             "checkpoint_interval": 300})
    trainer = Trainer("ALE/Pong-v5", config, seeds=[0, 1], run_dir=tmp_path / "rainbow", total_steps=320,
                      device="cpu", progress=False, env_kwargs={"max_episode_steps": 80}, save_replay=True,
                      threads=1)
    assert trainer.agent.q_net.noise_tensors() and trainer.agent.support.numel() == 51

    def stop_at_260(t):
        if t.clock.step >= 260:
            t.stop.signal = signal.SIGINT

    assert all(s["interrupted"] and s["gradient_steps"] > 0 for s in trainer.run(callback=stop_at_260))
    resumed = Trainer.resume(tmp_path / "rainbow", device="cpu", progress=False, threads=1).run()
    assert all(s["steps"] == 320 and not s["interrupted"] and np.isfinite(s["final_eval_mean"]) for s in resumed)
