"""Record one greedy episode of any environment with rgb_array rendering as an MP4 or a GIF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepq.envs import make_env
from deepq.errors import RecordError  # noqa: F401 - raised here, importable from here
from deepq.evaluation import Policy

FORMATS = (".mp4", ".gif")


def record_episode(
    policy: Policy, env_id: str, path: str | Path, seed: int = 0, fps: int = 30,
    env_kwargs: dict[str, Any] | None = None, max_frames: int = 30_000,
) -> dict[str, Any]:
    """Play one episode with ``policy`` and write its rendered frames to ``path``."""
    import imageio.v2 as imageio

    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise RecordError(f"cannot record to {path}: use a file ending in .mp4 or .gif")
    env = make_env(env_id, render_mode="rgb_array", **(env_kwargs or {}))
    obs, _ = env.reset(seed=seed)
    first = env.render()
    if not isinstance(first, np.ndarray):
        env.close()
        raise RecordError(f"{env_id} does not render rgb_array frames, so it cannot be recorded")
    frames, total, done = [first], 0.0, False
    while not done and len(frames) < max_frames:
        action = int(policy(np.asarray(obs)[None])[0])
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
        frames.append(env.render())
    env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    else:
        with imageio.get_writer(path, fps=fps, macro_block_size=1) as writer:
            for frame in frames:
                writer.append_data(frame)
    return {"path": str(path), "frames": len(frames), "return": total, "complete": done}
