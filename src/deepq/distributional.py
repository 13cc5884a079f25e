"""Targets and losses of the DQN family's other value heads, as pure functions.

- C51 (Bellemare et al., 2017): a categorical distribution over ``num_atoms`` fixed returns; the
  target distribution is r + gamma^k z projected back onto the support; cross-entropy loss.
- QR-DQN (Dabney et al., 2018a): ``num_quantiles`` quantiles at fixed fractions; the quantile
  Huber loss against every target quantile.
- IQN (Dabney et al., 2018b): quantiles at sampled fractions tau, fed to the network through a
  cosine embedding; the same loss with those taus.
- Munchausen DQN (Vieillard et al., 2020): a scaled, clipped log-policy bonus added to the
  reward and a soft (log-sum-exp) bootstrap.

Every function takes any leading dimensions (``(K, B)`` rows of K members) and works per row.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def c51_support(v_min: float, v_max: float, atoms: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The ``atoms`` returns, evenly spaced from ``v_min`` to ``v_max``."""
    return torch.linspace(v_min, v_max, atoms, device=device)


def categorical_projection(next_probs: torch.Tensor, rewards: torch.Tensor, terminated: torch.Tensor,
                           discounts: float | torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Project the distribution of r + gamma^k (1 - terminated) Z onto ``support``.

    ``next_probs (..., M)`` is the target net's distribution at s' for the chosen action; each
    shifted atom is clipped to [v_min, v_max] and its mass split between the two atoms beside
    it, in proportion to how near it lies (all of it to one atom it lands on exactly).
    """
    v_min, v_max = float(support[0]), float(support[-1])
    gap = (v_max - v_min) / (support.numel() - 1)
    scale = (torch.as_tensor(discounts, dtype=next_probs.dtype, device=next_probs.device)
             * (1.0 - terminated)).unsqueeze(-1)
    shifted = (rewards.unsqueeze(-1) + scale * support).clamp(v_min, v_max)
    position = (shifted - v_min) / gap  # in atoms, 0 .. M - 1
    lower = position.floor().clamp(0, support.numel() - 1)
    upper_share = position - lower
    upper = (lower + (upper_share > 0).to(lower.dtype)).clamp(max=support.numel() - 1)
    projected = torch.zeros_like(next_probs)
    projected.scatter_add_(-1, lower.long(), next_probs * (1.0 - upper_share))
    projected.scatter_add_(-1, upper.long(), next_probs * upper_share)
    return projected


def categorical_loss(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the predicted distribution (``logits (..., M)``) against the target's:
    one loss per row, ``(...)``."""
    return -(target_probs * F.log_softmax(logits, dim=-1)).sum(dim=-1)


def quantile_midpoints(count: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """QR-DQN's fractions (2i + 1) / (2N), i = 0 .. N - 1: each quantile's interval's middle."""
    return (torch.arange(count, device=device, dtype=torch.float32) + 0.5) / count


def quantile_huber_loss(predicted: torch.Tensor, target: torch.Tensor, taus: torch.Tensor,
                        kappa: float = 1.0) -> torch.Tensor:
    """The quantile Huber loss of ``predicted (..., N)`` quantiles at fractions ``taus`` (``(N,)``
    or ``(..., N)``) against ``target (..., N')`` samples: for each pair, the Huber loss of
    u = target - predicted weighted by |tau - 1{u < 0}| / kappa; averaged over the target samples
    and summed over the predicted quantiles, one loss per row.

    Computed without the N x N' pairs: for each quantile theta, the targets split into four
    ranges (u < -kappa, -kappa <= u < 0, 0 <= u <= kappa, u > kappa) in which the Huber loss is
    linear or quadratic in t, so each range's sum follows from the sorted targets' prefix sums
    of t and t^2, in float64 so that the quadratic ranges do not cancel.
    """
    sorted_target = target.double().sort(dim=-1).values
    zero = sorted_target.new_zeros((*sorted_target.shape[:-1], 1))
    sums = torch.cat([zero, sorted_target.cumsum(-1)], -1)  # sums[..., k]: the k smallest targets'
    squares = torch.cat([zero, sorted_target.square().cumsum(-1)], -1)
    theta = predicted.double()

    def below(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """How many targets lie below each x, and the sums of them and of their squares."""
        count = torch.searchsorted(sorted_target, x)
        return count.to(theta.dtype), sums.gather(-1, count), squares.gather(-1, count)

    def squared(n: torch.Tensor, t: torch.Tensor, t2: torch.Tensor) -> torch.Tensor:
        """sum of (t - theta)^2 / 2 over targets whose count, sum and sum of squares are given."""
        return 0.5 * (t2 - 2.0 * theta * t + n * theta.square())

    n_far, t_far, t2_far = below(theta - kappa)
    n_under, t_under, t2_under = below(theta)
    n_near, t_near, t2_near = below(theta + kappa)
    total = sorted_target.shape[-1]
    under = (kappa * (n_far * theta - t_far) - 0.5 * kappa ** 2 * n_far  # u < -kappa: kappa (|u| - kappa / 2)
             + squared(n_under - n_far, t_under - t_far, t2_under - t2_far))
    over = (squared(n_near - n_under, t_near - t_under, t2_near - t2_under)
            + kappa * (sums[..., -1:] - t_near - (total - n_near) * theta) - 0.5 * kappa ** 2 * (total - n_near))
    taus = taus.to(theta.dtype)
    per_quantile = (1.0 - taus) * under + taus * over
    return (per_quantile.sum(dim=-1) / (total * kappa)).to(predicted.dtype)


def cosine_features(taus: torch.Tensor, dim: int) -> torch.Tensor:
    """IQN's embedding input: cos(pi i tau) for i = 0 .. dim - 1, ``(..., T) -> (..., T, dim)``."""
    i = torch.arange(dim, device=taus.device, dtype=taus.dtype)
    return torch.cos(math.pi * i * taus.unsqueeze(-1))


def munchausen_target(rewards: torch.Tensor, terminated: torch.Tensor, discounts: float | torch.Tensor,
                      q_target_s: torch.Tensor, actions: torch.Tensor, q_target_next: torch.Tensor,
                      alpha: float, tau: float, clip_min: float) -> torch.Tensor:
    """Munchausen DQN's target from the target net's Q-values at s and s' (``(..., A)``):

        r + alpha * clip(tau log pi(a|s), clip_min, 0)
          + gamma^k (1 - terminated) * sum_a' pi(a'|s') (Q(s', a') - tau log pi(a'|s'))

    with pi = softmax(Q / tau); tau log pi is computed as Q - tau logsumexp(Q / tau)."""
    log_pi_s = F.log_softmax(q_target_s / tau, dim=-1)
    taken = log_pi_s.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    bonus = alpha * (tau * taken).clamp(clip_min, 0.0)
    log_pi_next = F.log_softmax(q_target_next / tau, dim=-1)
    soft_value = (log_pi_next.exp() * (q_target_next - tau * log_pi_next)).sum(dim=-1)
    return rewards + bonus + discounts * (1.0 - terminated) * soft_value
