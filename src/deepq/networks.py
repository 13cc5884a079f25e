"""Q-networks: an MLP for vector observations, the Nature CNN for stacked frames, a dueling head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class QHead(nn.Module):
    """Features -> one Q-value per action; dueling splits it into V(s) + A(s, a) - mean_a A."""

    def __init__(self, in_features: int, n_actions: int, dueling: bool) -> None:
        super().__init__()
        self.dueling = dueling
        self.advantage = nn.Linear(in_features, n_actions)
        self.value = nn.Linear(in_features, 1) if dueling else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        advantage = self.advantage(features)
        if self.value is None:
            return advantage
        # Subtracting the mean advantage makes V and A identifiable (Wang et al., 2016).
        return self.value(features) + advantage - advantage.mean(dim=-1, keepdim=True)


class MLP(nn.Module):
    """obs -> hidden layers with ReLU -> Q-values. ``hidden_sizes=(60, 40, 25)`` builds 5-60-40-25-3."""

    def __init__(
        self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (256, 256),
        dueling: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = QHead(width, n_actions, dueling)
        # The linear layers in order, the Q-value layer last (a plain list: not registered twice).
        self.linears = [layer for layer in self.body if isinstance(layer, nn.Linear)] + [self.head.advantage]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self._q(self._hidden(obs.float()))

    def _q(self, features: torch.Tensor) -> torch.Tensor:
        """``self.head(features)``; a plain head's layer is called directly (two module
        dispatches fewer, ~5 µs of a greedy action)."""
        if self.head.dueling:
            return self.head(features)
        layer = self.linears[-1]
        return F.linear(features, layer.weight, layer.bias)

    def _hidden(self, x: torch.Tensor, inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``self.body(x)`` with the layers called directly: the same arithmetic, without
        nn.Module's per-call dispatch (~7 µs of a 128-128 net's ~50 µs forward). Each hidden
        layer's input is appended to ``inputs`` when given."""
        for layer in self.linears[:-1]:
            if inputs is not None:
                inputs.append(x)
            x = F.linear(x, layer.weight, layer.bias).relu_()
        return x

    # --- backpropagation by hand (DQNAgent's fast learn step; no dueling head) ---
    @torch.no_grad()
    def forward_keeping_inputs(self, obs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``forward``, also returning each linear layer's input, which is all
        ``backward_by_hand`` needs."""
        inputs: list[torch.Tensor] = []
        x = self._hidden(obs.float(), inputs)
        inputs.append(x)
        return self._q(x), inputs

    @torch.no_grad()
    def backward_by_hand(self, inputs: list[torch.Tensor], grad_q: torch.Tensor) -> None:
        """Set every parameter's ``.grad`` to d(loss)/d(parameter), given d(loss)/d(Q) for the rows
        whose layer inputs are ``inputs``. Layer by layer, last first, for ``y = x W^T + b``:
        dW = dy^T x, db = sum of dy over rows, dx = dy W; a ReLU passes dx where its output
        (the next layer's input) is above zero. The products are the ones autograd makes."""
        grad = grad_q
        for i in reversed(range(len(inputs))):
            layer, x = self.linears[i], inputs[i]
            layer.weight.grad = torch.mm(grad.t(), x)
            layer.bias.grad = grad.sum(0)
            if i > 0:
                grad = torch.ops.aten.threshold_backward(torch.mm(grad, layer.weight), x, 0.0)


# x <- max(0, x + bias) in one pass (an ATen kernel PyTorch keeps for its own fusions).
_add_relu_ = torch.ops.aten._add_relu_


class EnsembleMLP(nn.Module):
    """K MLPs of one shape run as one: each layer's weights stacked along a leading member
    dimension and applied with batched matrix products, ``(K, B, obs) -> (K, B, A)``.

    Built from K ordinary ``MLP`` s (each initialised from its own seed), and taken apart
    again with ``member_state_dict``, so a member saves and loads as a plain MLP.
    """

    def __init__(self, members: Sequence[MLP]) -> None:
        super().__init__()
        params = [dict(m.named_parameters()) for m in members]
        # "body.0", "body.2", ..., "head.advantage" (and "head.value" when dueling), in order.
        self.layers = [name[: -len(".weight")] for name in params[0] if name.endswith(".weight")]
        self.dueling = members[0].head.dueling
        # Weights (K, out, in) as nn.Linear keeps them; biases (K, 1, out).
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.stack([p[f"{layer}.weight"].detach() for p in params])) for layer in self.layers])
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([p[f"{layer}.bias"].detach() for p in params]).unsqueeze(1))
             for layer in self.layers])
        # (weight, bias) per layer as a plain list for forward: indexing a ParameterList costs
        # microseconds a call. The same Parameter objects, so they follow .to() and the optimizer.
        self._pairs = list(zip(self.weights, self.biases, strict=True))

    def _apply(self, fn: Any, recurse: bool = True) -> EnsembleMLP:
        super()._apply(fn, recurse)
        self._pairs = list(zip(self.weights, self.biases, strict=True))  # .to() may swap the Parameters
        return self

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        pairs = self._pairs
        hidden = len(pairs) - (2 if self.dueling else 1)
        x = self._hidden(obs.float(), hidden)
        advantage = self._layer(hidden, x)
        if not self.dueling:
            return advantage
        value = self._layer(hidden + 1, x)
        return value + advantage - advantage.mean(dim=-1, keepdim=True)

    def _layer(self, i: int, x: torch.Tensor, relu: bool = False) -> torch.Tensor:
        """Layer ``i`` for every member: x W^T + b as one batched product, ``(K, B, in) -> (K, B, out)``,
        then max(0, .) when ``relu``.

        Outside autograd the bias is added to the product afterwards, in the same pass as the
        ReLU for a hidden layer (``aten._add_relu_``): ``baddbmm`` first copies the bias into
        every row of its output, one more pass over (K, B, out) floats, which costs more than
        the arithmetic for K members' small layers (a hidden 128-128 layer of 8 members, batch
        128, two threads: ~270 µs against ~330 µs; ``benchmarks/ensemble.py``)."""
        weight, bias = self._pairs[i]
        if torch.is_grad_enabled() and weight.requires_grad:  # autograd (dueling heads): no fused op there
            out = torch.baddbmm(bias, x, weight.transpose(1, 2))
            return out.relu_() if relu else out
        out = torch.bmm(x, weight.transpose(1, 2))
        return _add_relu_(out, bias) if relu else out.add_(bias)

    def _hidden(self, x: torch.Tensor, hidden: int, inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The first ``hidden`` layers with ReLU; each one's input is appended to ``inputs`` when given."""
        for i in range(hidden):
            if inputs is not None:
                inputs.append(x)
            x = self._layer(i, x, relu=True)
        return x

    # --- backpropagation by hand, as ``MLP`` does it, one batched product per layer (no dueling head) ---
    @torch.no_grad()
    def forward_keeping_inputs(self, obs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``forward``, also returning each layer's input ``(K, B, in)``."""
        inputs: list[torch.Tensor] = []
        last = len(self._pairs) - 1
        x = self._hidden(obs.float(), last, inputs)
        inputs.append(x)
        return self._layer(last, x), inputs

    @torch.no_grad()
    def backward_by_hand(self, inputs: list[torch.Tensor], grad_q: torch.Tensor) -> None:
        """``MLP.backward_by_hand`` for every member at once: dW = dy^T x and dx = dy W as
        batched products, db = the sum of dy over each member's rows."""
        grad = grad_q
        for i in reversed(range(len(inputs))):
            (weight, bias), x = self._pairs[i], inputs[i]
            weight.grad = torch.bmm(grad.transpose(1, 2), x)
            bias.grad = grad.sum(1, keepdim=True)
            if i > 0:
                grad = torch.ops.aten.threshold_backward(torch.bmm(grad, weight), x, 0.0)

    def layer_parameters(self) -> list[tuple[nn.Parameter, nn.Parameter]]:
        """(weight, bias) of each layer, in order."""
        return self._pairs

    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s weights as the state dict of a plain ``MLP``."""
        state: dict[str, torch.Tensor] = {}
        for layer, weight, bias in zip(self.layers, self.weights, self.biases, strict=True):
            state[f"{layer}.weight"] = weight[k].detach().clone()
            state[f"{layer}.bias"] = bias[k, 0].detach().clone()
        return state


class NatureCNN(nn.Module):
    """The Nature DQN (Mnih et al., 2015): uint8 frames (N, C, 84, 84) scaled to [0, 1] inside."""

    def __init__(self, in_channels: int, n_actions: int, dueling: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 512), nn.ReLU(),
        )
        self.head = QHead(512, n_actions, dueling)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(obs.float() / 255.0))


def build_q_network(
    obs_shape: tuple[int, ...], n_actions: int, hidden_sizes: Sequence[int], dueling: bool
) -> nn.Module:
    """The Q-network an observation shape calls for: CNN for (C, 84, 84) frames, else an MLP."""
    if len(obs_shape) == 3:
        return NatureCNN(obs_shape[0], n_actions, dueling)
    obs_dim = 1
    for size in obs_shape:
        obs_dim *= size
    return MLP(obs_dim, n_actions, hidden_sizes, dueling)
