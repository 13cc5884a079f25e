"""The learn step's gradients written out for plain MLP members (ReLU layers, no dueling head).

Autograd's per-step bookkeeping (building the graph, running its engine) is most of a small
network's learn step; for the sand car's 5-30-3 brain and CartPole's MLPs the products
themselves are cheap. ``mlp_gradients`` computes the same gradients with public tensor
operations, for one network or K stacked members alike. ``DQNAgent`` uses it only where it
measured at least 1.2x faster (``benchmarks/fastpath.py``, the performance page): one plain MLP
at most ``BY_HAND_WIDTH`` units wide. ``tests/test_fastpath.py`` checks it against autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deepq.networks import linear


def td_loss_grad(predicted: torch.Tensor, target: torch.Tensor, kind: str = "huber",
                 weights: torch.Tensor | None = None) -> torch.Tensor:
    """d(td_loss)/d(predicted) for ``(..., B)`` rows: the Huber loss's slope is the TD error
    clamped to [-1, 1], the squared error's twice the TD error; each row's share of its mean is
    1/B, times its importance weight."""
    error = predicted - target
    slope = 2.0 * error if kind == "mse" else error.clamp(-1.0, 1.0)
    slope = slope / predicted.shape[-1]
    return slope if weights is None else slope * weights


@torch.no_grad()
def forward_keeping_inputs(layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
                           obs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A plain MLP's Q-values and each layer's input (all ``mlp_gradients`` needs)."""
    inputs = [obs.float()]
    for weight, bias in layers[:-1]:
        inputs.append(linear(inputs[-1], weight, bias).relu_())
    return linear(inputs[-1], *layers[-1]), inputs


@torch.no_grad()
def mlp_gradients(layers: Sequence[tuple[torch.Tensor, torch.Tensor]], inputs: Sequence[torch.Tensor],
                  grad_q: torch.Tensor) -> None:
    """Write each weight's and bias's ``.grad`` (into it, where it exists) from d(loss)/d(Q)
    for the rows whose layer inputs are ``inputs``. Layer by layer, last first, for
    y = x W^T + b: dW = dy^T x, db = the sum of dy over the rows, dx = dy W, passed back only
    where the ReLU that made x was on."""
    grad = grad_q
    for i in reversed(range(len(layers))):
        (weight, bias), x = layers[i], inputs[i]
        if weight.grad is None or bias.grad is None:
            weight.grad, bias.grad = torch.zeros_like(weight), torch.zeros_like(bias)
        torch.matmul(grad.transpose(-1, -2), x, out=weight.grad)
        torch.sum(grad, dim=-2, out=bias.grad)
        if i > 0:
            grad = grad.matmul(weight).mul_(x.sign())  # x >= 0 (a ReLU output): its sign is the mask
