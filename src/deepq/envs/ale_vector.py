"""ALE's own C++ vector environment (``ale_py.AtariVectorEnv``), presenting what the
Gymnasium-wrapper path of ``deepq.envs.atari`` presents.

The C++ side steps every game in its own thread and does the preprocessing there (no-op starts,
frame skip 4 with a max over the last two frames, 84x84 grayscale, 4-frame stacks, FIRE after a
reset); rewards come unclipped (the trainer clips them for learning and logs the raw score).
What this class adds, so the trainer and the frame memory see the same stacks as on the
wrapper path:

- episodic life: a lost life ends the learning episode (``terminated``) and the game goes on
  (``game_over`` says which environments need a real reset);
- a new episode's stack repeats its first frame (FrameStackObservation's ``reset`` padding),
  where ALE pads with black frames; a learning episode that starts after a lost life is
  padded the same way from the frame the life was lost at.

Three differences with the wrapper path remain (docs/guides/atari.md): the number of no-op
steps at a reset is drawn by ALE's generator, seeded by the episode seed; ALE's FIRE reset
takes other frames than ``FireReset``'s two steps; after a lost life the wrapper path takes one
no-op step, this one does not. With no-op starts and FIRE reset off both give the same frames
for the same seed and actions (tests/test_ale_vector.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepq.envs.atari import FRAME_STACK

# Keyword arguments of the Gymnasium ids that have an ALE-vector counterpart.
SUPPORTED_KWARGS = ("repeat_action_probability", "max_episode_steps", "full_action_space")


def rom_name(env_id: str) -> str:
    """'ALE/MsPacman-v5' or 'MsPacmanNoFrameskip-v4' -> 'ms_pacman'."""
    name = env_id.removeprefix("ALE/").split("-")[0].removesuffix("NoFrameskip")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def ale_options(env_id: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """``AtariVectorEnv`` arguments equal to ``gym.make(env_id, **kwargs)`` under deepq's
    preprocessing, or None when ``kwargs`` ask for something it does not do."""
    if any(key not in SUPPORTED_KWARGS for key in kwargs):
        return None
    v5 = env_id.startswith("ALE/")
    options = {
        # v5 ids act with sticky actions (probability 0.25); v4 NoFrameskip ids do not
        "repeat_action_probability": float(kwargs.get("repeat_action_probability", 0.25 if v5 else 0.0)),
        "full_action_space": bool(kwargs.get("full_action_space", False)),
        # frames of emulation per episode: v5's 108,000, or the TimeLimit the caller asked for
        "max_num_frames_per_episode": int(kwargs.get("max_episode_steps", 108_000)),
    }
    return options


class AleVectorEnv:
    """``num_envs`` Atari games of ``env_id`` stepped by ALE in C++ threads (``threads``, default
    one per game up to the CPU count). ``noop_max`` and ``fire_reset`` are the preprocessing's
    own (tests turn them off to compare frames with the wrapper path)."""

    def __init__(
        self, env_id: str, num_envs: int, threads: int = 0, noop_max: int = 30, fire_reset: bool = True,
        episodic_life: bool = True, **kwargs: Any,
    ) -> None:
        import ale_py

        options = ale_options(env_id, kwargs)
        if options is None:
            raise ValueError(f"ALE's vector environment cannot take {sorted(kwargs)}")
        self.num_envs = num_envs
        self.env = ale_py.AtariVectorEnv(
            rom_name(env_id), num_envs, num_threads=threads or min(num_envs, os.cpu_count() or 1),
            stack_num=FRAME_STACK, img_height=84, img_width=84, grayscale=True, frameskip=4, maxpool=True,
            noop_max=noop_max, use_fire_reset=fire_reset, reward_clipping=False, episodic_life=False,
            life_loss_info=False, **options,
        )
        self.single_action_space = self.env.single_action_space
        self.single_observation_space = self.env.single_observation_space
        self.episodic_life = episodic_life
        self.game_over = np.ones(num_envs, dtype=bool)
        self.life_lost = np.zeros(num_envs, dtype=bool)  # the last step lost a life, the game goes on
        self.lives = np.zeros(num_envs, dtype=np.int64)
        self.since_start = np.zeros(num_envs, dtype=np.int64)  # steps into the learning episode
        self.obs = np.zeros((num_envs, *self.single_observation_space.shape), dtype=np.uint8)

    def _pad(self, obs: np.ndarray) -> np.ndarray:
        """Repeat each young episode's first frame over the frames before it."""
        for i in np.flatnonzero(self.since_start < FRAME_STACK - 1):
            first = FRAME_STACK - 1 - int(self.since_start[i])
            obs[i, :first] = obs[i, first]
        return obs

    def reset(self, seed: Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the games where ``options["reset_mask"]`` (all by default), each with its seed;
        a masked-out game keeps its place. Returns every environment's observation."""
        mask = np.ones(self.num_envs, dtype=bool) if options is None else np.asarray(options["reset_mask"], bool)
        seeds = np.asarray([seed[i] for i in np.flatnonzero(mask)] if seed is not None else [], dtype=np.int64)
        obs, info = self.env.reset(seed=seeds if len(seeds) else None, options={"reset_mask": mask})
        self.game_over[mask] = self.life_lost[mask] = False
        self.lives[mask] = info["lives"][mask]
        self.since_start[mask] = 0
        self.obs[mask] = obs[mask]
        return self._pad(self.obs.copy()), info

    def go_on(self, mask: np.ndarray) -> np.ndarray:
        """Start new learning episodes where a life was lost (``mask``), in the same games."""
        self.since_start[mask] = 0
        self.life_lost[mask] = False
        return self._pad(self.obs.copy())

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One step of every game: (stacks, raw rewards, terminated (life lost or game over),
        truncated, info)."""
        obs, rewards, game_over, truncated, info = self.env.step(np.asarray(actions, dtype=np.int64))
        self.obs = obs
        self.since_start += 1
        self.game_over = game_over | truncated
        lives = info["lives"].astype(np.int64)
        # as EpisodicLife: a life counts as lost when the count falls and some are left
        lost = (lives > 0) & (lives < self.lives)
        self.lives = lives
        self.life_lost = lost & self.episodic_life & ~self.game_over
        terminated = game_over | self.life_lost
        return self._pad(obs.copy()), rewards.astype(np.float64), terminated, truncated, info

    def close(self) -> None:
        self.env.close()
