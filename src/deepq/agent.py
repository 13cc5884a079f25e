"""The learn step: pure functions for the DQN target and loss, and the agent that owns the nets.

Read top to bottom, ``DQNAgent.learn`` is the whole algorithm:

    q(s, a)  = Q_online(s).gather(a)                                   # what we predicted
    y        = r + gamma**k * (1 - terminated) * max_a' Q_target(s', a')   # what we now believe
    loss     = huber(q(s, a), y), weighted by importance weights
    optimizer step, with gradient clipping

Other value heads (C51, QR-DQN, IQN: ``config.distribution``) change what the network outputs,
the target (``_target``) and the loss; their pure functions are in ``deepq.distributional``.
Noisy nets draw new noise before each acting and learn step; Munchausen DQN changes the target.

An agent holds K >= 1 members (one per seed): every tensor carries a leading member dimension,
``(K, B, ...)``, and each member learns from its own batch as it would alone.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.adam import adam

from deepq.config import DQNConfig
from deepq.distributional import (
    c51_support,
    categorical_loss,
    categorical_projection,
    munchausen_target,
    quantile_huber_loss,
    quantile_midpoints,
)
from deepq.fastpath import forward_keeping_inputs, mlp_gradients, td_loss_grad
from deepq.networks import MemberNets, build_q_network, scaled_noise
from deepq.replay import Batch, MemberReplays
from deepq.schedules import learning_rate_at, priority_beta_at


def q_taken(q_values: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Q(s, a) for the action each row took: ``(..., B, A), (..., B) -> (..., B)``."""
    return q_values.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def taken(outputs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The taken action's outputs: Q(s, a) ``(..., B)`` from Q-values ``(..., B, A)``, or its
    distribution ``(..., B, M)`` from ``(..., B, A, M)``."""
    if outputs.dim() == actions.dim() + 1:
        return q_taken(outputs, actions)
    index = actions.long()[..., None, None].expand(*actions.shape, 1, outputs.shape[-1])
    return outputs.gather(-2, index).squeeze(-2)


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


def q_lambda_returns(
    rewards: torch.Tensor, terminated: torch.Tensor, done: torch.Tensor, next_values: torch.Tensor,
    gamma: float, lam: float,
) -> torch.Tensor:
    """PQN's Q(lambda) returns over a rollout, ``(T, N)`` each, backwards from its last step:
    ``G_t = r_t + gamma (1 - term_t) [V_t + lam (1 - done_t) (G_{t+1} - V_t)]`` with
    ``V_t = max_a Q(s_{t+1}, a)``; the last step and an episode's end bootstrap from V alone
    (a truncation from its true last observation, a termination not at all)."""
    returns = torch.empty_like(next_values)
    following = next_values[-1]
    for t in range(len(rewards) - 1, -1, -1):
        blend = next_values[t] + lam * (1.0 - done[t]) * (following - next_values[t])
        following = rewards[t] + gamma * (1.0 - terminated[t]) * blend
        returns[t] = following
    return returns


def td_loss(
    predicted: torch.Tensor, target: torch.Tensor, kind: str = "huber",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean Huber (smooth L1) or squared error over the batch (the last dimension), each row
    scaled by ``weights`` when given: a scalar for ``(B,)`` rows, one loss per member for ``(K, B)``."""
    if kind == "mse":
        per_row = F.mse_loss(predicted, target, reduction="none")
    else:
        per_row = F.smooth_l1_loss(predicted, target, reduction="none")
    if weights is not None:
        per_row = per_row * weights
    return per_row.mean(dim=-1)


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "radam": torch.optim.RAdam,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "sgd": torch.optim.SGD,
}
FUSED_OPTIMIZERS = ("adam", "adagrad", "sgd")
BY_HAND_WIDTH = 256  # units: up to here the hand-written path measured >= 1.2x faster (512: 1.13x)


def head_outputs(config: DQNConfig) -> int:
    """Values the network gives each action: C51's atoms, QR-DQN's quantiles, else one (IQN's
    quantiles come one per sampled fraction)."""
    return {"c51": config.num_atoms, "qr": config.num_quantiles}.get(config.distribution, 1)


def build_nets(obs_shape: tuple[int, ...], n_actions: int, config: DQNConfig,
               seeds: Sequence[int | None]) -> list[nn.Module]:
    """One Q-network per seed, each initialised from its own seed as a run of that seed alone;
    the global torch generator is left as it was (a seed of None draws from it instead)."""
    def build() -> nn.Module:
        return build_q_network(obs_shape, n_actions, config.hidden_sizes, config.dueling, head_outputs(config),
                               config.noisy_sigma if config.noisy else 0.0,
                               config.quantile_embedding_dim if config.distribution == "iqn" else 0,
                               layer_norm=config.layer_norm)

    nets = []
    for seed in seeds:
        if seed is None:
            nets.append(build())
            continue
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            nets.append(build())
    return nets


def member_generator(seed: int | None, device: torch.device) -> torch.Generator:
    """A member's own torch generator for its noisy layers' noise and IQN's fractions, seeded
    apart from its weights' initialisation (from the OS when the seed is None)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(np.random.SeedSequence([seed, 36]).generate_state(1)[0]))
    return generator


class DQNAgent:
    """Online and target Q-networks of K members, the optimizer, acting and learning."""

    def __init__(
        self, obs_shape: tuple[int, ...], n_actions: int, config: DQNConfig,
        device: torch.device | str = "cpu", seeds: Sequence[int | None] = (0,),
        q_nets: Sequence[nn.Module] | None = None, learner: bool = True,
    ) -> None:
        self.config = config
        self.obs_shape = tuple(obs_shape)
        self.n_actions = int(n_actions)
        self.device = torch.device(device)
        nets = list(q_nets) if q_nets is not None else build_nets(self.obs_shape, n_actions, config, seeds)
        self.members = len(nets)
        self.q_net = MemberNets(nets).to(self.device)
        self.generators = [member_generator(seed, self.device) for seed in (list(seeds) + [None] * self.members)
                           [:self.members]]
        self.support = (c51_support(config.v_min, config.v_max, config.num_atoms, self.device)
                        if config.distribution == "c51" else None)
        self.target_net: MemberNets | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.last_target_update = 0  # env step of the last target update
        # One plain MLP at most BY_HAND_WIDTH units wide learns through deepq.fastpath (the same
        # gradients without autograd's bookkeeping), where it measured >= 1.2x faster
        # (benchmarks/fastpath.py); anything else, or by_hand = False, learns through autograd.
        self.by_hand = (self.q_net.mlp_dueling is False and self.members == 1
                        and max(config.hidden_sizes, default=0) <= BY_HAND_WIDTH)
        if not learner:  # acting only (deepq eval, DQN.load): no target network, no optimizer
            return
        # target_update_interval = 0: no target network, the online net bootstraps itself
        # (as the LunarLander and sand-car tutorials do).
        if config.target_update_interval > 0:
            self.target_net = copy.deepcopy(self.q_net)
            self.target_net.requires_grad_(False)
            self.target_net.flatten_(grads=False)
        # The optimizer, clipping and target copies work on the one tensor that holds
        # every weight (MemberNets.flatten_): one call each, whatever the network's layer count.
        fused = {"fused": True} if config.optimizer in FUSED_OPTIMIZERS else {}
        self.optimizer = OPTIMIZERS[config.optimizer]([self.q_net.flatten_()], lr=config.learning_rate, **fused)

    # --- the value head: what the network outputs, and the Q-values it means ---
    def outputs(self, net: MemberNets, obs: torch.Tensor, taus: torch.Tensor | None = None) -> torch.Tensor:
        """``net``'s outputs for ``(K, B, ...)`` observations: Q-values ``(K, B, A)``, or a
        distribution per action ``(K, B, A, M)`` (C51 logits, quantiles; IQN's at ``taus``, by
        default evenly spaced ``num_quantile_samples``: the same for every row, so their
        embedding is computed once, ``(K, 1, M)``, and broadcast over the rows)."""
        if self.config.distribution == "iqn" and taus is None:
            count = self.config.num_quantile_samples
            taus = quantile_midpoints(count, self.device).expand(obs.shape[0], 1, count)
        return net(obs, taus)

    def mean_q(self, outputs: torch.Tensor) -> torch.Tensor:
        """Q-values from ``outputs``: the distribution's mean (C51: sum_z p(z) z; quantiles: their
        average); the outputs themselves for a plain head."""
        kind = self.config.distribution
        if kind == "c51":
            return (torch.softmax(outputs, dim=-1) * self.support).sum(dim=-1)
        return outputs if kind == "none" else outputs.mean(dim=-1)

    def sample_noise(self, *nets: MemberNets | None) -> None:
        """New factorised noise in each noisy net, member k's from its own generator."""
        for net in nets:
            if net is None:
                continue
            for k, generator in enumerate(self.generators):
                for noise in net.noise_tensors():
                    draw = torch.randn(noise.shape[1:], generator=generator, device=self.device)
                    noise[k].copy_(scaled_noise(draw))

    def sample_taus(self, rows: int, count: int) -> torch.Tensor:
        """IQN's fractions, uniform on [0, 1): ``(K, rows, count)``, member k's from its generator."""
        return torch.stack([torch.rand(rows, count, generator=g, device=self.device) for g in self.generators])

    # --- acting ---
    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """The online network in eval mode for the block (noisy layers without noise), then as
        it was: greedy evaluation."""
        was_training = self.q_net.training
        self.q_net.eval()
        try:
            yield
        finally:
            self.q_net.train(was_training)

    @torch.inference_mode()
    def q_values(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Q-values ``(K, n, A)`` for observations ``(K, n, ...)``."""
        return self.mean_q(self.outputs(self.q_net, torch.as_tensor(obs, device=self.device)))

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """argmax_a Q(s, a): ``(K, n, ...) -> (K, n)``; a one-member agent also takes ``(n, ...) -> (n,)``."""
        if obs.ndim == len(self.obs_shape) + 1:
            return self.q_values(obs[None]).argmax(dim=-1)[0].cpu().numpy()
        return self.q_values(obs).argmax(dim=-1).cpu().numpy()

    def act(self, obs: np.ndarray, epsilon: float | np.ndarray, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Actions ``(K, n)`` for observations ``(K, n, ...)``: epsilon-greedy (one rate, or one per
        environment ``(n,)``), or softmax(Q *
        temperature) sampling; member k draws from ``rngs[k]`` as it would alone."""
        n = obs.shape[1]
        if self.config.noisy and self.q_net.training:  # new noise for each acting step
            self.sample_noise(self.q_net)
        if self.config.exploration == "boltzmann":
            logits = self.q_values(obs) * self.config.temperature
            probs = torch.softmax(logits, dim=-1).cpu().numpy().astype(np.float64)
            cumulative = probs.cumsum(axis=-1)
            draws = np.stack([rng.random((n, 1)) for rng in rngs]) * cumulative[..., -1:]
            return np.minimum((draws > cumulative).sum(axis=-1), self.n_actions - 1)
        # exploration is over (schedules never rise again): no draws; a float is the hot path
        if (epsilon.max() if isinstance(epsilon, np.ndarray) else epsilon) <= 0.0:
            return self.greedy(obs)
        explore, actions = np.empty((len(rngs), n), dtype=bool), np.empty((len(rngs), n), dtype=np.int64)
        for k, rng in enumerate(rngs):  # filled in place: cheaper than stacking, at every step
            explore[k] = rng.random(n) < epsilon
            actions[k] = rng.integers(0, self.n_actions, size=n)
        if not explore.all():  # skip the forward pass while every env explores
            actions = np.where(explore, actions, self.greedy(obs))
        return actions

    # --- learning ---
    def set_learning_rate(self, learning_rate: float) -> None:
        """Set the optimizer's step size (the learning-rate schedule calls this)."""
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate

    def learn(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step for every member on its ``(K, B)`` rows; returns each member's loss
        ``(K,)``, Q(s, a) and the rows' new priorities ``(K, B)`` (detached)."""
        config, kind = self.config, self.config.distribution
        if config.noisy:  # new noise for each learn step, online and target alike
            self.sample_noise(self.q_net, self.target_net)
        given = batch.next_obs is None  # PQN's rows carry their Q(lambda) targets as rewards
        online_next = not given and (config.double or self.target_net is None)  # does the target need Q_online(s')?
        taus = self.sample_taus(batch.obs.shape[1], config.num_tau_samples) if kind == "iqn" else None
        if self.by_hand:  # one forward pass for s and s' together, keeping each layer's input
            outputs, next_q_online, inputs = self._forward_by_hand(batch, online_next)
        else:
            outputs, next_q_online = self.outputs(self.q_net, batch.obs, taus), None
        target = batch.rewards if given else self._target(batch, online_next, next_q_online)
        predicted = taken(outputs, batch.actions)  # (K, B), or (K, B, M) for a distribution
        losses, priority = self._losses(predicted, target, taus, batch.weights)
        if self.by_hand:
            slope = td_loss_grad(predicted, target, config.loss, batch.weights)
            grad_q = torch.zeros_like(outputs).scatter_(-1, batch.actions.long().unsqueeze(-1), slope.unsqueeze(-1))
            mlp_gradients(self.q_net.mlp_layers(), inputs, grad_q[0] if self.members == 1 else grad_q)
        else:  # the members' losses summed: each member's gradient is its own
            params = self.q_net.parameters_in_order
            for param, grad in zip(params, torch.autograd.grad(losses.sum(), params), strict=True):
                param.grad.copy_(grad)  # into flat.grad (autograd would replace a view it does not own)
        self.clip_and_step()
        q_taken = predicted if kind == "none" else self.mean_q(predicted.unsqueeze(-2)).squeeze(-1)
        return {"loss": losses.detach(), "q_taken": q_taken.detach(), "priority": priority}

    def _losses(self, predicted: torch.Tensor, target: torch.Tensor, taus: torch.Tensor | None,
                weights: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's loss ``(K,)`` and each row's priority ``(K, B)``: the TD error, or for a
        distribution the row's distributional loss (Rainbow's priorities)."""
        config, kind = self.config, self.config.distribution
        if kind == "none":
            return td_loss(predicted, target, config.loss, weights), (target - predicted).detach()
        if kind == "c51":
            per_row = categorical_loss(predicted, target)
        else:
            fractions = taus if kind == "iqn" else quantile_midpoints(predicted.shape[-1], self.device)
            per_row = quantile_huber_loss(predicted, target, fractions, config.kappa)
        return (per_row if weights is None else per_row * weights).mean(dim=-1), per_row.detach()

    @torch.no_grad()
    def priorities(self, batch: Batch) -> torch.Tensor:
        """The rows' priorities ``(K, B)`` as the learn step would compute them, without learning
        (Ape-X's actors give their transitions these before sending them)."""
        config = self.config
        taus = self.sample_taus(batch.obs.shape[1], config.num_tau_samples) if config.distribution == "iqn" else None
        online_next = config.double or self.target_net is None
        predicted = taken(self.outputs(self.q_net, batch.obs, taus), batch.actions)
        return self._losses(predicted, self._target(batch, online_next, None), taus, None)[1]

    @torch.no_grad()
    def _target(self, batch: Batch, online_next: bool, next_q_online: torch.Tensor | None) -> torch.Tensor:
        """What each row should have predicted: ``(K, B)`` TD targets, or ``(K, B, M)`` for a
        distribution (C51's projected probabilities, target quantiles)."""
        config, kind = self.config, self.config.distribution
        target_net = self.target_net if self.target_net is not None else self.q_net
        next_taus = (self.sample_taus(batch.obs.shape[1], config.num_tau_prime_samples)
                     if kind == "iqn" else None)
        if self.target_net is None and next_q_online is not None and kind == "none":
            next_target = next_q_online  # the online net bootstraps itself: its s' values are at hand
        else:
            next_target = self.outputs(target_net, batch.next_obs, next_taus)
        if config.munchausen:  # the soft bootstrap needs the target's Q at s as well
            q_s = self.outputs(target_net, batch.obs)
            return munchausen_target(batch.rewards, batch.terminated, batch.discounts, q_s, batch.actions,
                                     next_target, config.munchausen_alpha, config.munchausen_tau,
                                     config.munchausen_clip)
        if online_next and next_q_online is None:  # without a target net, the one pass above serves
            next_q_online = (self.mean_q(next_target) if self.target_net is None
                             else self.mean_q(self.outputs(self.q_net, batch.next_obs)))
        if kind == "none":
            next_value = next_state_value(next_target, next_q_online if config.double else None)
            return td_target(batch.rewards, batch.terminated, next_value, batch.discounts)
        chooser = next_q_online if config.double else self.mean_q(next_target)
        next_dist = taken(next_target, chooser.argmax(dim=-1))  # (K, B, M) at the chosen a'
        if kind == "c51":
            return categorical_projection(torch.softmax(next_dist, dim=-1), batch.rewards, batch.terminated,
                                          batch.discounts, self.support)
        not_done = batch.discounts * (1.0 - batch.terminated)
        return batch.rewards.unsqueeze(-1) + not_done.unsqueeze(-1) * next_dist  # target quantiles

    def _forward_by_hand(self, batch: Batch, with_next: bool) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                          list[torch.Tensor]]:
        """Q(s) ``(K, B, A)``, Q_online(s') when ``with_next`` (from the same pass), and the layer
        inputs of the s rows, for ``deepq.fastpath.mlp_gradients``."""
        single = self.members == 1  # the network's own (out, in) weights: rows without the member dimension
        obs = batch.obs[0] if single else batch.obs
        rows = obs.shape[-2]
        if with_next:
            obs = torch.cat([obs, batch.next_obs[0] if single else batch.next_obs], dim=-2)
        q_all, inputs = forward_keeping_inputs(self.q_net.mlp_layers(), obs)
        if single:
            q_all = q_all.unsqueeze(0)
        if not with_next:
            return q_all, None, inputs
        return q_all[..., :rows, :], q_all[..., rows:, :], [x[..., :rows, :] for x in inputs]

    def clip_and_step(self) -> None:
        """Clip each member's gradients as configured, then take the optimizer's step."""
        config = self.config
        if config.grad_clip_value > 0:
            self.q_net.flat.grad.clamp_(-config.grad_clip_value, config.grad_clip_value)
        if config.max_grad_norm > 0:
            self.clip_grad_norm(config.max_grad_norm)
        self.optimizer_step()

    def optimizer_step(self) -> None:
        """``self.optimizer.step()``. Adam, once its state exists, runs its public functional
        update (``torch.optim.adam.adam``) on that state with the group's settings: the same
        arithmetic as ``step()``, without the wrapper's per-call hooks and bookkeeping."""
        optimizer, flat = self.optimizer, self.q_net.flat
        state = optimizer.state.get(flat)
        if type(optimizer) is not torch.optim.Adam or not state:
            optimizer.step()
            return
        group = optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        with torch.no_grad():
            adam([flat], [flat.grad], [state["exp_avg"]], [state["exp_avg_sq"]],
                 [state["max_exp_avg_sq"]] if group["amsgrad"] else [], [state["step"]],
                 foreach=group["foreach"], capturable=group["capturable"], differentiable=False,
                 fused=group["fused"], decoupled_weight_decay=group["decoupled_weight_decay"],
                 amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2, lr=group["lr"],
                 weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"])

    def clip_grad_norm(self, max_norm: float) -> None:
        """Scale each member's gradients down to an L2 norm, over all its weights, of at most
        ``max_norm`` (``nn.utils.clip_grad_norm_``'s rule, member by member)."""
        grads = self.q_net.flat.grad  # (K, P): member k's gradients are row k
        total = torch.linalg.vector_norm(grads, dim=1).add_(1e-6)
        if bool((total > max_norm).any()):  # else every scale below would be 1: nothing to do
            grads.mul_(torch.clamp(max_norm / total, max=1.0).unsqueeze(1))

    def learn_from(self, replays: MemberReplays | Any, batch_size: int) -> dict[str, torch.Tensor]:
        """One gradient step on a batch sampled from ``replays`` (one memory per member, or a
        single memory for a one-member agent); a prioritized memory gets the batch's TD errors
        back as its new priorities."""
        if not isinstance(replays, MemberReplays):
            replays = MemberReplays([replays])
        batch = replays.sample(batch_size)
        info = self.learn(batch)
        replays.update_priorities(batch.indices, info["priority"])
        return info

    def learn_round(self, replays: MemberReplays | Any, step: int, total_steps: int,
                    gradient_steps: int = 1) -> dict[str, torch.Tensor]:
        """The learning of one environment step, for the training loop and the car alike: the
        schedules at ``step``, ``gradient_steps`` gradient steps, then the target update when
        ``target_update_interval`` steps have passed since the last one."""
        config = self.config
        if not isinstance(replays, MemberReplays):
            replays = MemberReplays([replays])
        self.set_learning_rate(learning_rate_at(config, step, total_steps))
        if config.algorithm == "pqn":
            self.set_rollout_targets(replays)
        if replays.prioritized:  # importance-sampling exponent annealed to 1
            replays.set_beta(priority_beta_at(config, step, total_steps))
        for _ in range(gradient_steps):
            info = self.learn_from(replays, config.batch_size)
        interval = config.target_update_interval
        if interval and step - self.last_target_update >= interval:
            self.update_target()
            self.last_target_update = step
        return info

    @torch.no_grad()
    def set_rollout_targets(self, rollouts: MemberReplays) -> None:
        """PQN: each member's Q(lambda) returns over its full rollout, bootstrapped from the
        network as it is before this round's gradient steps (one forward pass for all rows)."""
        next_obs = torch.stack([torch.as_tensor(r.flat_next_obs(), device=self.device) for r in rollouts.replays])
        values = self.mean_q(self.outputs(self.q_net, next_obs)).max(dim=-1).values
        for k, rollout in enumerate(rollouts.replays):
            rewards, terminated, done = (torch.as_tensor(a, device=self.device) for a in rollout.signals())
            returns = q_lambda_returns(rewards, terminated, done, values[k].view(rewards.shape),
                                       self.config.gamma, self.config.q_lambda)
            rollout.set_targets(returns)

    def update_target(self) -> None:
        """Hard copy (tau = 1) or Polyak average (tau < 1) of the online weights into the target."""
        if self.target_net is None:
            return
        tau = self.config.tau
        if tau >= 1.0:
            self.target_net.flat.copy_(self.q_net.flat)
        else:
            self.target_net.flat.lerp_(self.q_net.flat, tau)

    # --- persistence: each member's part is what a one-member agent saves ---
    def member_state_dict(self, k: int) -> dict[str, Any]:
        """Member ``k``'s networks and optimizer state, as its run alone would save them."""
        return {
            "q_net": self.q_net.member_state_dict(k),
            "target_net": None if self.target_net is None else self.target_net.member_state_dict(k),
            "optimizer": self.member_optimizer_state(k),
            "last_target_update": self.last_target_update,
            "generator": self.generators[k].get_state(),  # noisy nets' noise, IQN's fractions
        }

    def load_member_state_dicts(self, states: Sequence[dict[str, Any]]) -> None:
        """Restore every member from what ``member_state_dict`` saved (one state per member)."""
        if len(states) != self.members:
            raise ValueError(f"{len(states)} saved members for an agent of {self.members}")
        for k, state in enumerate(states):
            self.q_net.load_member_state_dict(k, state["q_net"])
            if self.target_net is not None and state.get("target_net") is not None:
                self.target_net.load_member_state_dict(k, state["target_net"])
            if state.get("generator") is not None:
                self.generators[k].set_state(state["generator"])
        if self.optimizer is not None:
            self.load_optimizer_states([state["optimizer"] for state in states])
        self.last_target_update = int(states[0].get("last_target_update", self.last_target_update))

    def member_optimizer_state(self, k: int) -> dict[str, Any]:
        """Member ``k``'s optimizer state as an optimizer over its own network's parameters
        saves it: one entry per parameter, its columns of row k of each state tensor."""
        full = self.optimizer.state_dict()
        flat_state = full["state"].get(0, {})
        state = {i: {key: self._member_block(value, i, k) for key, value in flat_state.items()}
                 for i in range(len(self.q_net.segments))} if flat_state else {}
        groups = [{**group, "params": list(range(len(self.q_net.segments)))} for group in full["param_groups"]]
        return {"state": state, "param_groups": groups}

    def _member_block(self, value: Any, i: int, k: int) -> Any:
        """Member ``k``'s values of parameter ``i`` from a ``(K, P)`` per-weight state; anything
        else (a step count) is copied as it is."""
        if not isinstance(value, torch.Tensor) or value.shape != self.q_net.flat.shape:
            return _copy(value)
        start, shape = self.q_net.segments[i]
        return value[k, start:start + shape.numel()].reshape(shape).clone()

    def load_optimizer_states(self, states: Sequence[dict[str, Any]]) -> None:
        """Rebuild the optimizer's state over ``flat`` from each member's per-parameter state."""
        segments = self.q_net.segments
        per_param = [[state["state"][i] for i in sorted(state["state"], key=int)] for state in states]
        merged: dict[str, Any] = {}
        if per_param[0]:
            if any(len(entries) != len(segments) for entries in per_param):
                raise ValueError(f"optimizer state for {len(per_param[0])} weights; the network has {len(segments)}")
            for key, value in per_param[0][0].items():
                if isinstance(value, torch.Tensor) and value.shape == segments[0][1]:
                    merged[key] = torch.stack([torch.cat([entry[key].reshape(-1) for entry in entries])
                                               for entries in per_param])
                else:
                    merged[key] = value
        groups = [{**group, "params": [0]} for group in states[0]["param_groups"]]
        self.optimizer.load_state_dict({"state": {0: merged} if merged else {}, "param_groups": groups})


def _copy(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value
