"""The learn step: pure functions for the DQN target and loss, and the agent that owns the nets.

Read top to bottom, ``DQNAgent.learn`` is the whole algorithm:

    q(s, a)  = Q_online(s).gather(a)                                   # what we predicted
    y        = r + gamma**k * (1 - terminated) * max_a' Q_target(s', a')   # what we now believe
    loss     = huber(q(s, a), y), weighted by importance weights
    optimizer step, with gradient clipping
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepq.config import DQNConfig
from deepq.networks import MLP, build_q_network
from deepq.replay import Batch, PrioritizedReplay


def q_taken(q_values: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Q(s, a) for the action each row took: ``(B, A), (B,) -> (B,)`` (or, for an ensemble,
    ``(K, B, A), (K, B) -> (K, B)``)."""
    return q_values.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def next_state_value(
    next_q_target: torch.Tensor, next_q_online: torch.Tensor | None = None
) -> torch.Tensor:
    """max_a' Q_target(s', a'); with ``next_q_online`` given, Double DQN's
    Q_target(s', argmax_a' Q_online(s', a')) (van Hasselt et al., 2016)."""
    if next_q_online is None:
        return next_q_target.max(dim=-1).values
    best_actions = next_q_online.argmax(dim=-1)
    return q_taken(next_q_target, best_actions)


def td_target(
    rewards: torch.Tensor, terminated: torch.Tensor, next_value: torch.Tensor,
    gamma: float | torch.Tensor,
) -> torch.Tensor:
    """``r + gamma * (1 - terminated) * V(s')``. A truncation is not a termination: it bootstraps."""
    return rewards + gamma * (1.0 - terminated) * next_value


def td_loss(
    predicted: torch.Tensor, target: torch.Tensor, kind: str = "huber",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean Huber (smooth L1) or squared error over the batch, each row scaled by ``weights``
    when given. For an ensemble's ``(K, B)`` rows, the K members' means are summed, so each
    member's gradient is the one it would get alone."""
    if kind == "mse":
        per_row = F.mse_loss(predicted, target, reduction="none")
    else:
        per_row = F.smooth_l1_loss(predicted, target, reduction="none")
    if weights is not None:
        per_row = per_row * weights
    if per_row.dim() == 1:
        return per_row.mean()
    return per_row.mean(dim=-1).sum()


def td_loss_grad(
    predicted: torch.Tensor, target: torch.Tensor, kind: str = "huber",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """d td_loss / d predicted for ``(B,)`` rows (or an ensemble's ``(K, B)``: each member's own
    mean): the Huber loss's slope is the TD error clamped to [-1, 1], the squared error's is
    twice the TD error; each row's share of the mean is 1/B, times its weight. Written in the
    order autograd multiplies, so the numbers are the same."""
    row_share = torch.full_like(predicted, 1.0 / predicted.shape[-1])
    if weights is not None:
        row_share = row_share * weights
    error = predicted - target
    slope = 2.0 * error if kind == "mse" else error.clamp(-1.0, 1.0)
    return slope * row_share


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "sgd": torch.optim.SGD,
}
FUSED_OPTIMIZERS = ("adam", "adagrad", "sgd")


class DQNAgent:
    """Online and target Q-networks, the optimizer, acting and learning."""

    def __init__(
        self, obs_shape: tuple[int, ...], n_actions: int, config: DQNConfig,
        device: torch.device | str = "cpu", q_net: nn.Module | None = None,
    ) -> None:
        self.config = config
        self.obs_shape = tuple(obs_shape)
        self.n_actions = int(n_actions)
        self.device = torch.device(device)
        if q_net is None:
            q_net = build_q_network(self.obs_shape, self.n_actions, config.hidden_sizes, config.dueling)
        self.q_net: nn.Module = q_net.to(self.device)
        # target_update_interval = 0: no target network, the online net bootstraps itself
        # (as the LunarLander and sand-car tutorials do).
        self.target_net: nn.Module | None = None
        if config.target_update_interval > 0:
            self.target_net = copy.deepcopy(self.q_net)
            self.target_net.requires_grad_(False)
        # Fused kernels update all parameters in one call: ~35% faster steps on small nets.
        fused = {"fused": True} if config.optimizer in FUSED_OPTIMIZERS else {}
        self.optimizer = OPTIMIZERS[config.optimizer](
            self.q_net.parameters(), lr=config.learning_rate, **fused
        )
        group = self.optimizer.param_groups[0]
        self._direct_adam = (  # see optimizer_step
            type(self.optimizer) is torch.optim.Adam and len(self.optimizer.param_groups) == 1
            and group["fused"] and not (group["amsgrad"] or group["maximize"] or group["capturable"]
                                        or group["differentiable"] or group["decoupled_weight_decay"])
            and hasattr(torch, "_fused_adam_"))
        # A plain MLP learns through the hand-written backward pass (``learn_by_hand``): the
        # same numbers as ``learn``, without autograd's bookkeeping (~0.7x the time of a
        # small network's step). Set it to False to learn through autograd.
        self.by_hand = isinstance(self.q_net, MLP) and not self.q_net.head.dueling and len(self.obs_shape) == 1

    # --- acting ---
    @torch.no_grad()
    def q_values(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Q-values for a batch of observations."""
        tensor = torch.as_tensor(obs, device=self.device)
        return self.q_net(tensor)

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """argmax_a Q(s, a) for a batch of observations."""
        return self.q_values(obs).argmax(dim=-1).cpu().numpy()

    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """Actions for a batch: epsilon-greedy, or softmax(Q * temperature) sampling."""
        n = len(obs)
        if self.config.exploration == "boltzmann":
            logits = self.q_values(obs) * self.config.temperature
            probs = torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)
            cumulative = probs.cumsum(axis=1)
            draws = rng.random((n, 1)) * cumulative[:, -1:]
            return np.minimum((draws > cumulative).sum(axis=1), self.n_actions - 1)
        if epsilon <= 0.0:  # exploration is over (schedules never rise again): no draws, no Python per env
            return self.greedy(obs)
        explore = rng.random(n) < epsilon
        actions = rng.integers(0, self.n_actions, size=n)
        if not explore.all():  # skip the forward pass while every env explores
            actions = np.where(explore, actions, self.greedy(obs))
        return actions

    # --- learning ---
    def set_learning_rate(self, learning_rate: float) -> None:
        """Set the optimizer's step size (the learning-rate schedule calls this)."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def learn(self, batch: Batch) -> dict[str, Any]:
        """One gradient step on a batch; returns the loss, Q(s, a) and the TD errors (detached)."""
        if self.by_hand:
            return self.learn_by_hand(batch)
        config = self.config
        with torch.no_grad():
            bootstrap_net = self.target_net if self.target_net is not None else self.q_net
            next_q_target = bootstrap_net(batch.next_obs)
            next_q_online = self.q_net(batch.next_obs) if config.double else None
            next_value = next_state_value(next_q_target, next_q_online)
            target = td_target(batch.rewards, batch.terminated, next_value, batch.discounts)

        predicted = q_taken(self.q_net(batch.obs), batch.actions)
        loss = td_loss(predicted, target, config.loss, batch.weights)

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.clip_and_step()
        return {
            "loss": loss.detach(),
            "q_taken": predicted.detach(),
            "td_error": (target - predicted).detach(),  # new priorities for prioritized replay
        }

    @torch.no_grad()
    def learn_by_hand(self, batch: Batch) -> dict[str, Any]:
        """``learn`` for a plain MLP (or an ensemble of them), with the backward pass written out
        (``MLP.backward_by_hand``, ``EnsembleMLP.backward_by_hand``).
        One forward pass runs s and s' together; the loss's slope comes from ``td_loss_grad``."""
        config = self.config
        n = batch.obs.shape[-2]  # rows are the second-last dimension: (B, obs), or (K, B, obs) for an ensemble
        q_both, inputs = self.q_net.forward_keeping_inputs(torch.cat([batch.obs, batch.next_obs], dim=-2))
        q_values, next_q_online = q_both[..., :n, :], q_both[..., n:, :]
        next_q_target = self.target_net(batch.next_obs) if self.target_net is not None else next_q_online
        next_value = next_state_value(next_q_target, next_q_online if config.double else None)
        target = td_target(batch.rewards, batch.terminated, next_value, batch.discounts)

        predicted = q_taken(q_values, batch.actions)
        slope = td_loss_grad(predicted, target, config.loss, batch.weights)
        grad_q = torch.zeros_like(q_values).scatter_(-1, batch.actions.long().unsqueeze(-1), slope.unsqueeze(-1))
        self.q_net.backward_by_hand([x[..., :n, :] for x in inputs], grad_q)
        self.clip_and_step()
        return {
            "loss": td_loss(predicted, target, config.loss, batch.weights),
            "q_taken": predicted,
            "td_error": target - predicted,
        }

    def clip_and_step(self) -> None:
        """Clip the gradients as configured, then take the optimizer's step."""
        config = self.config
        if config.grad_clip_value > 0:
            nn.utils.clip_grad_value_(self.q_net.parameters(), config.grad_clip_value)
        if config.max_grad_norm > 0:
            self.clip_grad_norm(config.max_grad_norm)
        self.optimizer_step()

    def optimizer_step(self) -> None:
        """``self.optimizer.step()``. For fused Adam, once its state exists, this calls the fused
        kernel itself on that state, with the group's current settings: the same update as
        ``step()`` (tested bit for bit) without ~20 µs of Python per call."""
        optimizer = self.optimizer
        group = optimizer.param_groups[0]
        params = group["params"]
        if not (self._direct_adam and params[0] in optimizer.state):  # the first step sets up the state
            optimizer.step()
            return
        grads = [p.grad for p in params]
        if any(grad is None for grad in grads):
            optimizer.step()
            return
        states = [optimizer.state[p] for p in params]
        steps = [state["step"] for state in states]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params, grads, [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states], [], steps, lr=group["lr"],
            beta1=group["betas"][0], beta2=group["betas"][1], weight_decay=group["weight_decay"],
            eps=group["eps"], amsgrad=False, maximize=False,
        )

    def learn_from(self, replay: Any, batch_size: int) -> dict[str, Any]:
        """One gradient step on a batch sampled from ``replay``; a prioritized replay gets the
        batch's TD errors back as its new priorities."""
        batch = replay.sample(batch_size)
        info = self.learn(batch)
        if isinstance(replay, PrioritizedReplay):
            replay.update_priorities(batch.indices, info["td_error"])
        return info

    def clip_grad_norm(self, max_norm: float) -> None:
        """Scale the gradients down to a global L2 norm of at most ``max_norm``: the arithmetic
        of ``nn.utils.clip_grad_norm_`` (the same numbers) at half its per-call cost, and no
        scaling pass when the norm is within the limit (scaling by 1 changes nothing). The
        parameters come from the optimizer (the online network's, in order), which lists them
        without ``nn.Module.parameters()``'s walk over the modules (~35 µs a step)."""
        grads = [p.grad for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        if scale < 1.0:
            torch._foreach_mul_(grads, scale)

    def update_target(self) -> None:
        """Hard copy (tau = 1) or Polyak average (tau < 1) of the online weights into the target."""
        if self.target_net is None:
            return
        tau = self.config.tau
        with torch.no_grad():
            for target, online in zip(
                self.target_net.parameters(), self.q_net.parameters(), strict=True
            ):
                if tau >= 1.0:
                    target.copy_(online)
                else:
                    target.lerp_(online, tau)

    # --- persistence ---
    def state_dict(self) -> dict[str, Any]:
        """Networks and optimizer."""
        return {
            "q_net": self.q_net.state_dict(),
            "target_net": None if self.target_net is None else self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` saved."""
        self.q_net.load_state_dict(state["q_net"])
        if self.target_net is not None and state.get("target_net") is not None:
            self.target_net.load_state_dict(state["target_net"])
        self.optimizer.load_state_dict(state["optimizer"])
