"""The Python API in the shape users know from Stable-Baselines3.

    from deepq import DQN
    model = DQN("CartPole-v1", seed=0)
    model.learn(60_000)
    mean, std = model.evaluate(100)
    model.save("cartpole.pt")
    model = DQN.load("cartpole.pt")
    action = model.predict(obs)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deepq.agent import DQNAgent
from deepq.checkpoint import MODEL_FORMAT, CheckpointError, check_compatible, load_file
from deepq.config import DQNConfig, build_config
from deepq.evaluation import evaluate
from deepq.train import Trainer


class DQN:
    """A DQN agent for one Gymnasium environment with a Discrete action space."""

    def __init__(
        self, env_id: str, preset: str | None = None, seed: int = 0, run_dir: str | Path | None = None,
        device: str = "auto", progress: bool | None = False, env_kwargs: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        config, found = build_config(env_id, preset, overrides)
        self.env_id = env_id
        self.seed = seed
        self.run_dir = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="deepq-"))
        self.trainer = Trainer(env_id, config, seed=seed, run_dir=self.run_dir, device=device,
                               progress=progress, env_kwargs=env_kwargs,
                               preset=found.name if found else None)
        self.summary: dict[str, Any] | None = None

    @property
    def config(self) -> DQNConfig:
        """The hyperparameters in use."""
        return self.trainer.config

    @property
    def agent(self) -> DQNAgent:
        """The networks and optimizer."""
        return self.trainer.agent

    def learn(self, total_steps: int | None = None, stop_when_solved: bool = False) -> DQN:
        """Train for ``total_steps`` env steps (the preset's count when not given)."""
        if total_steps is not None:
            self.trainer.total_steps = int(total_steps)
        self.trainer.stop_when_solved = stop_when_solved
        self.summary = self.trainer.run()
        return self

    def predict(self, obs: Any, deterministic: bool = True, epsilon: float = 0.05) -> Any:
        """The greedy action for one observation (an int) or a batch (an array)."""
        array = np.asarray(obs)
        single = array.shape == self.agent.obs_shape
        batch = array[None] if single else array
        if deterministic:
            actions = self.agent.greedy(batch)
        else:
            actions = self.agent.act(batch, epsilon, self.trainer.rng)
        return int(actions[0]) if single else actions

    def evaluate(self, episodes: int = 100, seed: int = 0) -> tuple[float, float]:
        """Mean and standard deviation of the greedy return over ``episodes`` episodes."""
        returns = evaluate(self.agent.greedy, self.env_id, episodes, seed=seed,
                           env_kwargs=self.trainer.env_kwargs)
        return float(returns.mean()), float(returns.std())

    def save(self, path: str | Path) -> Path:
        """Write the model file (weights and the metadata to rebuild them)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return self.trainer.save_model(path)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", env_id: str | None = None) -> DQN:
        """A DQN rebuilt from a model file, a checkpoint, or a run directory.

        ``env_id`` names the environment it is meant for; a file made for another environment,
        observation shape or action count is refused with a message naming both sides.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "model.pt"
        data = load_file(path)
        weights = data["q_net"] if data["format"] == MODEL_FORMAT else data["agent"]["q_net"]
        model = cls(env_id or data["env_id"], seed=int(data.get("seed", 0)), device=device,
                    env_kwargs=data.get("env_kwargs") or {}, **_config_overrides(data["config"]))
        check_compatible(data, model.env_id, model.agent.obs_shape, model.agent.n_actions)
        expected = {name: tuple(t.shape) for name, t in model.agent.q_net.state_dict().items()}
        saved = {name: tuple(t.shape) for name, t in weights.items()}
        if saved != expected:
            raise CheckpointError(
                f"cannot use {path}: its network does not match its config (the file has "
                f"{_shapes(saved)}; the config builds {_shapes(expected)})"
            )
        model.agent.q_net.load_state_dict(weights)
        model.agent.q_net.eval()
        return model


def _shapes(shapes: dict[str, tuple[int, ...]]) -> str:
    """Weight shapes in a line, e.g. ``layers.0.weight 8x4, layers.0.bias 8``."""
    return ", ".join(f"{name} {'x'.join(map(str, shape))}" for name, shape in shapes.items()
                     if name.endswith("weight"))


def _config_overrides(data: dict[str, Any]) -> dict[str, Any]:
    DQNConfig.from_dict(data)  # checks keys and values
    return dict(data)


__all__ = ["DQN"]
