"""Hyperparameters: one documented field each, presets, and parsing of ``key=value`` overrides.

Names follow Stable-Baselines3 where a name exists (``learning_rate``, ``batch_size``, ...),
so a user coming from there can read a deepq config at a glance.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from typing import Any

from deepq.errors import ConfigError  # noqa: F401 - raised here, importable from here


@dataclass
class DQNConfig:
    """Every hyperparameter of a deepq run. Each field's comment is its documentation."""

    # --- the algorithm ---
    algorithm: str = "dqn"  # dqn (a replay memory) | pqn (no replay, no target net: Q(lambda) over rollouts)
    rollout_steps: int = 64  # pqn: vector steps in each rollout, learned from once it is full
    q_lambda: float = 0.65  # pqn: lambda of the Q(lambda) returns (0: one-step targets, 1: Monte Carlo)
    update_epochs: int = 4  # pqn: passes over each rollout, in minibatches of batch_size

    # --- optimisation ---
    learning_rate: float = 1e-3  # step size of the optimizer
    optimizer: str = "adam"  # adam | radam | rmsprop | adagrad | sgd
    loss: str = "huber"  # huber (smooth L1) | mse
    max_grad_norm: float = 10.0  # clip gradients to this global L2 norm; 0 turns it off
    grad_clip_value: float = 0.0  # clamp each gradient to [-v, v] (Atari tutorial: 1); 0 = off
    batch_size: int = 64  # transitions per gradient step
    gradient_steps: int = 1  # gradient steps each time we train; -1 = one per env step collected
    train_freq: int = 1  # train every this many env steps (per environment)
    learning_starts: int = 1000  # env steps collected before the first gradient step
    lr_final_fraction: float = 1.0  # learning rate decays linearly to lr * this by the end

    # --- the Q-learning target ---
    gamma: float = 0.99  # discount factor
    clip_rewards: bool = False  # learn from sign(reward) (Atari); logs keep the raw score
    double: bool = False  # Double DQN: online net picks a', target net evaluates it
    target_update_interval: int = 500  # env steps between target updates; 0 = no target net
    tau: float = 1.0  # 1 = hard copy at each update; < 1 = Polyak (soft) update

    # --- network ---
    hidden_sizes: tuple[int, ...] = (256, 256)  # hidden layer widths of the MLP
    dueling: bool = False  # dueling head V(s) + A(s, a) - mean A
    layer_norm: bool = False  # LayerNorm before each hidden ReLU (PQN's network)
    noisy: bool = False  # noisy nets: factorised Gaussian noise in the head's layers; epsilon then defaults to 0
    noisy_sigma: float = 0.5  # noisy: sigma_0; each noisy layer starts with sigma = sigma_0 / sqrt(its inputs)

    # --- distributional heads and Munchausen DQN ---
    distribution: str = "none"  # none | c51 (categorical) | qr (QR-DQN) | iqn (implicit quantiles)
    num_atoms: int = 51  # c51: atoms of the fixed support
    v_min: float = -10.0  # c51: the support's lowest return
    v_max: float = 10.0  # c51: the support's highest return
    num_quantiles: int = 200  # qr: quantiles the network outputs, at fractions (2i + 1) / 2N
    num_tau_samples: int = 64  # iqn: fractions sampled for the online net's quantiles (N)
    num_tau_prime_samples: int = 64  # iqn: fractions sampled for the target's quantiles (N')
    num_quantile_samples: int = 32  # iqn: evenly spaced fractions whose mean is Q when acting (K)
    quantile_embedding_dim: int = 64  # iqn: cosine features of each fraction
    kappa: float = 1.0  # qr, iqn: the quantile Huber loss's threshold
    munchausen: bool = False  # Munchausen DQN: log-policy bonus and soft bootstrap (needs double=false)
    munchausen_alpha: float = 0.9  # munchausen: weight of the bonus alpha * clip(tau log pi(a|s), l0, 0)
    munchausen_tau: float = 0.03  # munchausen: entropy temperature of pi = softmax(Q / tau)
    munchausen_clip: float = -1.0  # munchausen: l0, the lower clip of tau log pi

    # --- replay memory ---
    buffer_size: int = 100_000  # transitions kept
    prioritized: bool = False  # proportional prioritized replay
    priority_alpha: float = 0.6  # how strongly priorities shape sampling (0 = uniform)
    priority_beta: float = 0.4  # initial importance-sampling exponent, annealed to 1
    n_step: int = 1  # n-step returns

    # --- exploration ---
    exploration: str = "epsilon"  # epsilon (epsilon-greedy) | boltzmann (softmax sampling)
    exploration_schedule: str = "linear"  # linear | decrement | exponential
    exploration_initial_eps: float = 1.0  # epsilon at step 0
    exploration_final_eps: float = 0.05  # epsilon never goes below this
    exploration_fraction: float = 0.1  # linear: share of the run over which epsilon falls
    exploration_decrement: float = 1e-4  # decrement: epsilon lost per env step
    exploration_decay: float = 1000.0  # exponential: eps = final + (init - final) * exp(-t/decay)
    temperature: float = 1.0  # boltzmann: actions sampled from softmax(Q * temperature)

    # --- Ape-X: distributed actors on Ray (deepq train --actors N) ---
    actors: int = 0  # Ray actors collecting experience for one prioritized learner; 0 = this process acts
    actor_block_steps: int = 50  # vector steps an actor takes per block of transitions it sends
    publish_interval: int = 100  # gradient steps between the learner's publications of its weights
    actor_epsilon: float = 0.4  # Ape-X's epsilon: actor i of N explores with eps^(1 + alpha i / (N - 1))
    actor_alpha: float = 7.0  # Ape-X's alpha: how far the actors' epsilons spread below actor_epsilon
    actor_epsilons: str = "actors"  # "actors": one rate per actor (the paper); "envs": one per environment of every actor

    # --- environments, evaluation, bookkeeping ---
    num_envs: int = 1  # environments stepped together (Gymnasium vector API)
    env_backend: str = "auto"  # auto: Atari ids on ALE's C++ vector env, others on Gymnasium's | gymnasium
    total_steps: int = 50_000  # env steps in a run when --steps is not given
    eval_interval: int = 5_000  # env steps between greedy evaluations; 0 = only at the end
    eval_episodes: int = 100  # episodes per evaluation
    solved_threshold: float | None = None  # greedy mean return that counts as solved
    checkpoint_interval: int = 10_000  # env steps between checkpoints; 0 = only at the end
    keep_checkpoints: int = 1  # K > 1 also keeps the newest K in RUN_DIR/checkpoints/

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data."""
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DQNConfig:
        """Rebuild a config, checking every key and value."""
        config = cls()
        for key, value in data.items():
            set_field(config, key, value)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise ConfigError naming the first value out of range."""
        checks: list[tuple[bool, str]] = [
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.buffer_size >= 1, "buffer_size must be >= 1"),
            (self.batch_size <= self.buffer_size, "batch_size must be <= buffer_size"),
            (self.gradient_steps >= 1 or self.gradient_steps == -1, "gradient_steps must be >= 1 or -1"),
            (self.train_freq >= 1, "train_freq must be >= 1"),
            (self.learning_starts >= 0, "learning_starts must be >= 0"),
            (0.0 <= self.gamma <= 1.0, "gamma must be in [0, 1]"),
            (0.0 < self.tau <= 1.0, "tau must be in (0, 1]"),
            (self.target_update_interval >= 0, "target_update_interval must be >= 0"),
            (self.max_grad_norm >= 0, "max_grad_norm must be >= 0"),
            (self.grad_clip_value >= 0, "grad_clip_value must be >= 0"),
            (0.0 <= self.lr_final_fraction <= 1.0, "lr_final_fraction must be in [0, 1]"),
            (all(h >= 1 for h in self.hidden_sizes), "hidden_sizes must be positive integers"),
            (0.0 <= self.exploration_final_eps <= 1.0, "exploration_final_eps must be in [0, 1]"),
            (0.0 <= self.exploration_initial_eps <= 1.0, "exploration_initial_eps must be in [0, 1]"),
            (0.0 < self.exploration_fraction <= 1.0, "exploration_fraction must be in (0, 1]"),
            (self.exploration_decrement >= 0, "exploration_decrement must be >= 0"),
            (self.exploration_decay > 0, "exploration_decay must be > 0"),
            (self.temperature > 0, "temperature must be > 0"),
            (self.priority_alpha >= 0, "priority_alpha must be >= 0"),
            (0.0 <= self.priority_beta <= 1.0, "priority_beta must be in [0, 1]"),
            (self.n_step >= 1, "n_step must be >= 1"),
            (self.num_envs >= 1, "num_envs must be >= 1"),
            (self.total_steps >= 1, "total_steps must be >= 1"),
            (self.eval_interval >= 0, "eval_interval must be >= 0"),
            (self.eval_episodes >= 1, "eval_episodes must be >= 1"),
            (self.checkpoint_interval >= 0, "checkpoint_interval must be >= 0"),
            (self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
            (self.noisy_sigma > 0, "noisy_sigma must be > 0"),
            (self.num_atoms >= 2, "num_atoms must be >= 2"),
            (self.v_min < self.v_max, "v_min must be < v_max"),
            (self.num_quantiles >= 1, "num_quantiles must be >= 1"),
            (min(self.num_tau_samples, self.num_tau_prime_samples, self.num_quantile_samples) >= 1,
             "num_tau_samples, num_tau_prime_samples and num_quantile_samples must be >= 1"),
            (self.quantile_embedding_dim >= 1, "quantile_embedding_dim must be >= 1"),
            (self.kappa > 0, "kappa must be > 0"),
            (self.munchausen_alpha >= 0, "munchausen_alpha must be >= 0"),
            (self.munchausen_tau > 0, "munchausen_tau must be > 0"),
            (self.munchausen_clip < 0, "munchausen_clip must be < 0"),
            (not (self.munchausen and self.distribution != "none"),
             "munchausen=true works with distribution=none only"),
            (not (self.munchausen and self.double),
             "munchausen=true replaces the max over a' that double DQN picks; set double=false"),
            (self.rollout_steps >= 1, "rollout_steps must be >= 1"),
            (0.0 <= self.q_lambda <= 1.0, "q_lambda must be in [0, 1]"),
            (self.update_epochs >= 1, "update_epochs must be >= 1"),
        ]
        checks += [
            (self.actors >= 0, "actors must be >= 0"),
            (self.actor_block_steps >= 1, "actor_block_steps must be >= 1"),
            (self.publish_interval >= 1, "publish_interval must be >= 1"),
            (0.0 <= self.actor_epsilon <= 1.0, "actor_epsilon must be in [0, 1]"),
            (self.actor_alpha >= 0, "actor_alpha must be >= 0"),
            (self.actor_epsilons in ("envs", "actors"), "actor_epsilons must be envs or actors"),
            (not self.actors or self.prioritized,
             "actors > 0 (Ape-X) learns from a prioritized replay; set prioritized=true"),
            (not self.actors or self.algorithm == "dqn", "actors > 0 (Ape-X) takes algorithm=dqn"),
        ]
        if self.algorithm == "pqn":  # what PQN does without
            checks += [
                (self.target_update_interval == 0, "algorithm=pqn has no target network; set target_update_interval=0"),
                (not self.prioritized and self.n_step == 1,
                 "algorithm=pqn learns from its rollout, not a replay memory; set prioritized=false n_step=1"),
                (self.distribution == "none" and not self.munchausen and not self.double,
                 "algorithm=pqn takes distribution=none, munchausen=false and double=false"),
                ((self.num_envs * self.rollout_steps) % self.batch_size == 0,
                 "algorithm=pqn: num_envs * rollout_steps must be a multiple of batch_size (the minibatch)"),
            ]
        choices = {
            "algorithm": ("dqn", "pqn"),
            "optimizer": ("adam", "radam", "rmsprop", "adagrad", "sgd"),
            "loss": ("huber", "mse"),
            "exploration": ("epsilon", "boltzmann"),
            "exploration_schedule": ("linear", "decrement", "exponential"),
            "distribution": ("none", "c51", "qr", "iqn"),
            "env_backend": ("auto", "gymnasium"),
        }
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"bad config value: {message}")
        for key, allowed in choices.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ConfigError(
                    f"bad config value: {key}={value!r}; choose one of {', '.join(allowed)}"
                )


FIELD_TYPES: dict[str, Any] = typing.get_type_hints(DQNConfig)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DQNConfig))


def closest(word: str, options: typing.Iterable[str]) -> str:
    """' (did you mean X?)' for the closest option, or '' when nothing is close."""
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.5)
    return f" (did you mean {match[0]}?)" if match else ""


def _convert(key: str, kind: Any, value: Any) -> Any:
    """Turn ``value`` (a string from the command line, or JSON data) into the field's type."""
    origin = typing.get_origin(kind)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if kind is int:
        if isinstance(value, bool):
            raise ValueError("expected an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        text = str(value).replace("_", "")
        try:
            number = float(text)  # accepts 1e5
        except ValueError:
            raise ValueError("expected an integer") from None
        if not number.is_integer():
            raise ValueError("expected an integer")
        return int(number)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError("expected a number")
        try:
            number = float(value)
        except ValueError:
            raise ValueError("expected a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return number
    if kind is str:
        return str(value).strip().lower()
    if origin is tuple:
        if isinstance(value, str):
            parts = [p for p in value.replace("[", "").replace("]", "").replace("-", ",").split(",")]
            value = [p.strip() for p in parts if p.strip()]
        return tuple(_convert(key, int, v) for v in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None or str(value).strip().lower() in ("none", "null", ""):
            return None
        inner = [a for a in typing.get_args(kind) if a is not type(None)][0]
        return _convert(key, inner, value)
    raise ValueError(f"unsupported type {kind}")


def set_field(config: DQNConfig, key: str, value: Any) -> None:
    """Set one field from a string or JSON value, raising ConfigError with a hint when wrong."""
    if key not in FIELD_TYPES:
        raise ConfigError(
            f"unknown config key {key!r}{closest(key, FIELD_NAMES)}; "
            "`deepq presets` lists every key"
        )
    try:
        setattr(config, key, _convert(key, FIELD_TYPES[key], value))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"bad value for {key}: {value!r} ({error})") from None


def parse_overrides(pairs: typing.Sequence[str]) -> dict[str, str]:
    """Split ``["lr=1", "gamma=0.9"]`` into a dict, with a clear error for a malformed item."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        result[key.strip()] = value.strip()
    return result


@dataclass(frozen=True)
class Preset:
    """A named set of hyperparameters for one environment, with the source of its values."""

    name: str
    env_id: str
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def config(self) -> DQNConfig:
        """A fresh, validated config with this preset's values."""
        return DQNConfig.from_dict(self.overrides)


PRESETS: dict[str, Preset] = {}


def _preset(name: str, env_id: str, note: str, **overrides: Any) -> None:
    PRESETS[name] = Preset(name, env_id, overrides, note)


# Tuned on a 2-core CPU; measured results per preset are on the docs' performance page.
_preset(
    "cartpole", "CartPole-v1",
    "128-128 MLP, 8 vector envs, 2 gradient steps per 8 env steps, double DQN, 3-step returns, "
    "target copy every 250 steps, lr 3e-3 and epsilon annealed to ~0",
    hidden_sizes=(128, 128), num_envs=8, total_steps=50_000, eval_interval=2_000, solved_threshold=475.0,
    learning_rate=3e-3, lr_final_fraction=0.005, batch_size=64, train_freq=1, gradient_steps=2,  # optimisation
    buffer_size=50_000, learning_starts=1_000, n_step=3,  # memory
    gamma=0.99, double=True, target_update_interval=250, tau=1.0,  # target
    exploration_fraction=0.15, exploration_final_eps=0.0,
)
_preset(
    "cartpole-fast", "CartPole-v1", "the cartpole preset with a 64-64 MLP: cheaper steps, less reliable",
    **{**PRESETS["cartpole"].overrides, "hidden_sizes": (64, 64), "lr_final_fraction": 0.02,
       "exploration_final_eps": 0.01},
)
_preset(
    "cartpole-1env", "CartPole-v1", "one env, 64-64, double DQN, hard target copy every 500 steps, lr 2e-3 annealed 20x",
    **{**PRESETS["cartpole"].overrides, "learning_rate": 2e-3, "lr_final_fraction": 0.05, "num_envs": 1,
       "n_step": 1, "gradient_steps": 1, "exploration_fraction": 0.1, "target_update_interval": 500,
       "hidden_sizes": (64, 64), "exploration_final_eps": 0.02, "eval_interval": 4_000},
)
_preset(
    "cartpole-lab", "CartPole-v1", "the CartPole lab: 128-128 MLP, soft update tau 0.005, AdamW-like lr 1e-4",
    learning_rate=1e-4, batch_size=128, buffer_size=10_000, learning_starts=128, gamma=0.99,
    target_update_interval=1, tau=0.005, hidden_sizes=(128, 128), exploration_schedule="exponential",
    exploration_initial_eps=0.9, exploration_final_eps=0.05, exploration_decay=1000.0,
    max_grad_norm=100.0, total_steps=100_000, solved_threshold=475.0, eval_interval=10_000,
)
_LUNAR = dict(
    learning_rate=6e-4, lr_final_fraction=0.0, n_step=3, batch_size=128, buffer_size=100_000,
    learning_starts=5_000, gamma=0.99, train_freq=2, gradient_steps=1, num_envs=1,
    target_update_interval=1_000, tau=1.0, double=True, hidden_sizes=(256, 256),
    exploration_fraction=0.1, exploration_final_eps=0.02, total_steps=200_000,
    eval_interval=10_000, solved_threshold=200.0,
)
_preset(
    "lunarlander", "LunarLander-v3",
    "256-256 MLP, double DQN, 3-step returns, batch 256, hard target copy every 1000 steps, lr annealed to 0",
    **{**_LUNAR, "batch_size": 256},
)
_preset(
    "lunarlander-fast", "LunarLander-v3",
    "the lunarlander preset with batch 128: cheaper steps and 200 sooner, less often still there at the end",
    **_LUNAR,
)
_preset(
    "rainbow-lite", "LunarLander-v3", "the lunarlander-fast preset (3-step returns) plus dueling and prioritized replay",
    **{**_LUNAR, "dueling": True, "prioritized": True, "priority_alpha": 0.6, "priority_beta": 0.4},
)
# The DQN family on LunarLander: each the lunarlander-fast values plus its own head.
_C51 = dict(distribution="c51", num_atoms=51, v_min=-100.0, v_max=100.0)
_preset("c51", "LunarLander-v3", "C51: lunarlander-fast with 51 atoms on [-100, 100]", **{**_LUNAR, **_C51})
_preset("qrdqn", "LunarLander-v3", "QR-DQN: lunarlander-fast with 50 quantiles, quantile Huber loss",
        **{**_LUNAR, "distribution": "qr", "num_quantiles": 50})
_preset("iqn", "LunarLander-v3", "IQN: lunarlander-fast with N = N' = 16 sampled fractions, K = 16, 64 cosine features",
        **{**_LUNAR, "distribution": "iqn", "num_tau_samples": 16, "num_tau_prime_samples": 16,
           "num_quantile_samples": 16, "quantile_embedding_dim": 64})
_preset("mdqn", "LunarLander-v3", "Munchausen DQN: lunarlander-fast, alpha 0.9, tau 0.03, l0 -1, no double",
        **{**_LUNAR, "munchausen": True, "double": False})
_preset(
    "rainbow", "LunarLander-v3",
    "Rainbow: C51 + noisy nets + dueling + double + prioritized replay + 3-step returns (lunarlander-fast), "
    "one gradient step per environment step",
    **{**_LUNAR, **_C51, "noisy": True, "dueling": True, "double": True, "prioritized": True,
       "priority_alpha": 0.5, "priority_beta": 0.4, "n_step": 3, "train_freq": 1},
)
_preset(
    "lunarlander-tutorial", "LunarLander-v3", "the LunarLander tutorial: 8-256-256-4, no target net, eps decrement",
    learning_rate=1e-3, batch_size=64, buffer_size=100_000, learning_starts=64, gamma=0.99,
    target_update_interval=0, hidden_sizes=(256, 256), loss="mse", exploration_schedule="decrement",
    exploration_decrement=5e-5, exploration_final_eps=0.01, total_steps=300_000,
    eval_interval=20_000, solved_threshold=200.0,
)
# Nature DQN / RL-Zoo values; 10M steps, as published (a GPU run: `--device auto`).
_ATARI = dict(
    learning_rate=1e-4, optimizer="adam", batch_size=32, buffer_size=1_000_000, learning_starts=80_000,
    gamma=0.99, train_freq=4, gradient_steps=1, num_envs=1, target_update_interval=1_000, tau=1.0,
    double=False, loss="huber", max_grad_norm=10.0, exploration_fraction=0.1, exploration_final_eps=0.01,
    clip_rewards=True, total_steps=10_000_000, eval_interval=250_000, eval_episodes=10,
    checkpoint_interval=250_000,
)
_preset("pong", "ALE/Pong-v5", "the Nature DQN on Pong: Adam 1e-4, batch 32, 1M frame memory", **_ATARI,
        solved_threshold=18.0)
_preset("breakout", "ALE/Breakout-v5", "the Nature DQN on Breakout: Adam 1e-4, batch 32, 1M frame memory",
        **_ATARI, solved_threshold=300.0)
_preset(
    "rainbow-pong", "ALE/Pong-v5",
    "Rainbow on Atari (Hessel et al. 2018): lr 6.25e-5, 3-step, 51 atoms on [-10, 10], noisy sigma 0.5, "
    "prioritized alpha 0.5, target copy every 8k steps, 20k steps before learning",
    **{**_ATARI, "learning_rate": 6.25e-5, "learning_starts": 20_000, "target_update_interval": 8_000,
       "distribution": "c51", "num_atoms": 51, "v_min": -10.0, "v_max": 10.0, "noisy": True, "noisy_sigma": 0.5,
       "dueling": True, "double": True, "prioritized": True, "priority_alpha": 0.5, "priority_beta": 0.4,
       "n_step": 3, "exploration_initial_eps": 0.0, "exploration_final_eps": 0.0},
    solved_threshold=18.0,
)
_preset(
    "acrobot", "Acrobot-v1", "RL-Zoo-like: 256-256, 4 vector envs, double DQN",
    learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=1_000, gamma=0.99,
    train_freq=1, gradient_steps=1, num_envs=4, target_update_interval=4, tau=0.02, double=True,
    hidden_sizes=(256, 256), exploration_fraction=0.12, exploration_final_eps=0.02,
    total_steps=100_000, eval_interval=10_000, solved_threshold=-100.0,
)
_preset(
    "mountaincar", "MountainCar-v0", "RL-Zoo's values plus 3-step returns and lr annealed to 5%, 100k steps",
    learning_rate=4e-3, lr_final_fraction=0.05, batch_size=128, buffer_size=10_000, learning_starts=1_000,
    gamma=0.98, n_step=3, train_freq=16, gradient_steps=8, target_update_interval=600, hidden_sizes=(256, 256),
    exploration_fraction=0.2, exploration_final_eps=0.07, total_steps=100_000,
    eval_interval=10_000, solved_threshold=-110.0,
)


# PQN (Gallici et al., 2024), CleanRL-like values: no replay and no target net, a LayerNorm
# network, Q(lambda = 0.65) returns over rollouts of many environments, MSE loss, RAdam with
# the learning rate annealed to 0.
_PQN = dict(
    algorithm="pqn", target_update_interval=0, layer_norm=True, learning_starts=0, loss="mse",
    optimizer="radam", lr_final_fraction=0.0, max_grad_norm=10.0, gamma=0.99, q_lambda=0.65,
    exploration_initial_eps=1.0, double=False, n_step=1, prioritized=False,
)
_preset(
    "pqn-cartpole", "CartPole-v1", "PQN: 32 envs x 64-step rollouts, 4 epochs of minibatch 128, 120-84 MLP with LayerNorm",
    **_PQN, num_envs=32, rollout_steps=64, batch_size=128, update_epochs=4, learning_rate=2.5e-4,
    hidden_sizes=(120, 84), exploration_final_eps=0.05, exploration_fraction=0.5, total_steps=500_000,
    eval_interval=20_000, solved_threshold=475.0,
)
# pqn-pong runs 4.4M steps, where CleanRL runs 10M: the length of the run measured on the
# 2-core CPU (the Atari guide); the schedules anneal over it.
_preset(
    "pqn-pong", "ALE/Pong-v5",
    "PQN on Atari: 128 envs x 32-step rollouts, 2 epochs of minibatch 128, Nature CNN with LayerNorm, 4.4M steps",
    **_PQN, num_envs=128, rollout_steps=32, batch_size=128, update_epochs=2, learning_rate=2.5e-4,
    exploration_final_eps=0.01, exploration_fraction=0.1, clip_rewards=True, total_steps=4_400_000,
    eval_interval=250_000, eval_episodes=8, checkpoint_interval=250_000, solved_threshold=18.0,
)


# MinAtar (Young & Tian, 2019): the paper's DQN, one CNN layer of 16 3x3 filters then 128 units,
# batch 32, a 100k memory, 5k steps before learning, one update per step, target copy every
# 1000 steps, epsilon 1 -> 0.1 over 100k steps, sticky actions 0.1 (the package's own); Adam
# where the paper used RMSprop. One preset for all five games (the default for MinAtar ids).
_preset(
    "minatar", "MinAtar/Breakout-v1", "the MinAtar paper's DQN: 16-filter CNN, batch 32, target copy every 1000 steps",
    learning_rate=2.5e-4, optimizer="adam", batch_size=32, buffer_size=100_000, learning_starts=5_000,
    gamma=0.99, train_freq=1, gradient_steps=1, target_update_interval=1_000, tau=1.0, loss="huber",
    exploration_initial_eps=1.0, exploration_final_eps=0.1, exploration_fraction=0.1, total_steps=1_000_000,
    eval_interval=50_000, eval_episodes=20, checkpoint_interval=100_000,
)
_preset(
    "pqn-minatar", "MinAtar/Breakout-v1", "PQN on MinAtar: 128 envs x 32-step rollouts, 2 epochs of minibatch 256, the small CNN with LayerNorm",
    **_PQN, num_envs=128, rollout_steps=32, batch_size=256, update_epochs=2, learning_rate=2.5e-4,
    exploration_final_eps=0.01, exploration_fraction=0.1, total_steps=1_000_000, eval_interval=50_000,
    eval_episodes=20, checkpoint_interval=100_000,
)


def default_preset_for(env_id: str) -> Preset | None:
    """The preset made for ``env_id`` (the first one listed; ``minatar`` for every MinAtar id), if any."""
    for preset in PRESETS.values():
        if preset.env_id == env_id:
            return preset
    if env_id.startswith("MinAtar/"):
        return PRESETS["minatar"]
    return None


def build_config(
    env_id: str, preset_name: str | None = None, overrides: dict[str, Any] | None = None
) -> tuple[DQNConfig, Preset | None]:
    """The config for a run: the named preset (or the env's default one), then ``overrides``."""
    if preset_name is not None:
        if preset_name not in PRESETS:
            raise ConfigError(
                f"unknown preset {preset_name!r}{closest(preset_name, PRESETS)}; "
                "`deepq presets` lists them"
            )
        preset: Preset | None = PRESETS[preset_name]
    else:
        preset = default_preset_for(env_id)
    data: dict[str, Any] = dict(preset.overrides) if preset else {}
    if preset and preset.env_id != env_id:  # a preset borrowed for another env: that env's threshold
        own = default_preset_for(env_id)
        data["solved_threshold"] = own.overrides.get("solved_threshold") if own else None
    config = DQNConfig()
    for key, value in data.items():
        set_field(config, key, value)
    for key, value in (overrides or {}).items():
        set_field(config, key, value)
    # Noisy nets explore through their noise: epsilon is 0 unless --set gives it, or a preset
    # that is noisy itself (a preset's epsilon for epsilon-greedy exploration does not count).
    chosen = {*(overrides or {}), *(data if data.get("noisy") else {})}
    if config.noisy and not {"exploration_initial_eps", "exploration_final_eps"} & chosen:
        config.exploration_initial_eps = config.exploration_final_eps = 0.0
    config.validate()
    return config, preset


def add_set_option(parser: Any, help: str) -> None:
    """``--set KEY=VALUE ...`` into ``args.overrides`` (read with ``config.parse_overrides``)."""
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", dest="overrides", help=help)
