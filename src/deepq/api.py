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
from deepq.checkpoint import MODEL_FORMAT, CheckpointError, atomic_save, check_compatible, load_file
from deepq.config import DQNConfig, build_config
from deepq.envs import env_spaces
from deepq.evaluation import evaluate
from deepq.train import FORMAT_VERSION, Trainer


class DQN:
    """A DQN agent for one Gymnasium environment with a Discrete action space.

    ``run_dir`` is where ``learn`` writes its run (a new temporary directory when not given); a
    directory that already holds a run is refused unless ``overwrite=True``.
    """

    def __init__(
        self, env_id: str, preset: str | None = None, seed: int = 0, run_dir: str | Path | None = None,
        device: str = "auto", progress: bool | None = False, env_kwargs: dict[str, Any] | None = None,
        overwrite: bool = False, **overrides: Any,
    ) -> None:
        config, found = build_config(env_id, preset, overrides)
        self.env_id = env_id
        self.seed = seed
        self.env_kwargs = dict(env_kwargs or {})
        self.run_dir = Path(run_dir) if run_dir is not None else Path(tempfile.mkdtemp(prefix="deepq-"))
        self.trainer: Trainer | None = Trainer(
            env_id, config, seed=seed, run_dir=self.run_dir, device=device, progress=progress,
            env_kwargs=self.env_kwargs, preset=found.name if found else None, overwrite=overwrite)
        self._config = config
        self._agent = self.trainer.agent
        self.summary: dict[str, Any] | None = None

    @property
    def config(self) -> DQNConfig:
        """The hyperparameters in use."""
        return self._config

    @property
    def agent(self) -> DQNAgent:
        """The networks (and, for a model that trains, the optimizer)."""
        return self._agent

    def learn(self, total_steps: int | None = None, stop_when_solved: bool = False) -> DQN:
        """Train for ``total_steps`` env steps (the preset's count when not given)."""
        if self.trainer is None:
            raise CheckpointError("a model made by DQN.load acts only; to train further, resume its run "
                                  "directory with `deepq resume RUN_DIR` (or Trainer.resume)")
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
            with self.agent.evaluating():
                actions = self.agent.greedy(batch)
        else:
            if not hasattr(self, "_rng"):
                self._rng = np.random.default_rng(self.seed)
            actions = self.agent.act(batch[None], epsilon, [self._rng])[0]
        return int(actions[0]) if single else actions

    def evaluate(self, episodes: int = 100, seed: int = 0) -> tuple[float, float]:
        """Mean and standard deviation of the greedy return over ``episodes`` episodes."""
        with self.agent.evaluating():
            returns = evaluate(self.agent.greedy, self.env_id, episodes, seed=seed, env_kwargs=self.env_kwargs)
        return float(returns.mean()), float(returns.std())

    def save(self, path: str | Path) -> Path:
        """Write the model file (weights and the metadata to rebuild them)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.trainer is not None:
            return self.trainer.save_model(path)
        data = {"version": FORMAT_VERSION, "format": MODEL_FORMAT, "env_id": self.env_id,
                "env_kwargs": self.env_kwargs, "obs_shape": list(self.agent.obs_shape),
                "n_actions": self.agent.n_actions, "config": self.config.to_dict(), "seed": self.seed,
                "preset": None, "q_net": self.agent.q_net.member_state_dict(0)}
        atomic_save(data, path)
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", env_id: str | None = None) -> DQN:
        """A DQN rebuilt from a model file, a checkpoint, or a run directory, for acting: it builds
        the network only (no replay memory, no optimizer).

        ``env_id`` names the environment it is meant for; a file made for another environment,
        observation shape or action count is refused with a message naming both sides.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "model.pt"
        data = load_file(path)
        weights = data["q_net"] if data["format"] == MODEL_FORMAT else data["agent"]["q_net"]
        config = DQNConfig.from_dict(data["config"])
        model = cls.__new__(cls)
        model.env_id = env_id or data["env_id"]
        model.seed = int(data.get("seed", 0))
        model.env_kwargs = dict(data.get("env_kwargs") or {})
        model.run_dir = path.parent
        model.trainer, model._config, model.summary = None, config, None
        obs_shape, _, n_actions = env_spaces(model.env_id, **model.env_kwargs)
        check_compatible(data, model.env_id, obs_shape, n_actions)
        model._agent = DQNAgent(obs_shape, n_actions, config, device, seeds=[model.seed], learner=False)
        expected = {name: tuple(t.shape) for name, t in model._agent.q_net.member_state_dict(0).items()}
        saved = {name: tuple(t.shape) for name, t in weights.items()}
        if saved != expected:
            raise CheckpointError(
                f"cannot use {path}: its network does not match its config (the file has "
                f"{_shapes(saved)}; the config builds {_shapes(expected)})"
            )
        model._agent.q_net.load_member_state_dict(0, weights)
        model._agent.q_net.eval()
        return model


def _shapes(shapes: dict[str, tuple[int, ...]]) -> str:
    """Weight shapes in a line, e.g. ``layers.0.weight 8x4, layers.0.bias 8``."""
    return ", ".join(f"{name} {'x'.join(map(str, shape))}" for name, shape in shapes.items()
                     if name.endswith("weight"))


__all__ = ["DQN"]
