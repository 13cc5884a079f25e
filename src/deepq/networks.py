"""Q-networks: an MLP for vector observations, the Nature CNN for stacked frames, a dueling head."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class NoisyLinear(nn.Module):
    """A linear layer with factorised Gaussian noise on its weights (Fortunato et al., 2018):
    W = mu_W + sigma_W * (f(e_out) f(e_in)^T), b = mu_b + sigma_b * f(e_out), f(x) = sign(x) sqrt|x|.

    The noise lives in two buffers that the agent fills (``deepq.agent``, one draw per acting
    step and per learn step, from each member's own generator); in eval mode the layer is its
    mean, so greedy evaluation has no noise. ``weight`` and ``bias`` are the means.
    """

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 * bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 * bound))
        self.register_buffer("noise_in", torch.zeros(in_features), persistent=False)
        self.register_buffer("noise_out", torch.zeros(out_features), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight, self.bias)
        weight = self.weight + self.weight_sigma * torch.outer(self.noise_out, self.noise_in)
        return F.linear(x, weight, self.bias + self.bias_sigma * self.noise_out)


def scaled_noise(noise: torch.Tensor) -> torch.Tensor:
    """f(x) = sign(x) sqrt(|x|), the factorised noise's scaling of standard normal draws."""
    return noise.sign() * noise.abs().sqrt()


class QHead(nn.Module):
    """Features -> one value per action, or ``outputs`` per action (C51's atoms, QR-DQN's
    quantiles: ``(..., A, outputs)``); dueling splits it into V(s) + A(s, a) - mean_a A.

    ``embedding_dim > 0`` makes it IQN's head: ``forward(features, taus)`` multiplies the
    features by an embedding of each tau and returns one quantile per tau, ``(..., A, T)``.
    ``noisy_sigma > 0`` makes its linear layers ``NoisyLinear``.
    """

    def __init__(self, in_features: int, n_actions: int, dueling: bool, outputs: int = 1,
                 noisy_sigma: float = 0.0, embedding_dim: int = 0) -> None:
        super().__init__()
        self.dueling, self.n_actions, self.outputs = dueling, n_actions, outputs
        self.noisy = noisy_sigma > 0
        self.embedding = nn.Linear(embedding_dim, in_features) if embedding_dim else None

        def layer(width: int) -> nn.Module:
            return NoisyLinear(in_features, width, noisy_sigma) if self.noisy else nn.Linear(in_features, width)

        self.advantage = layer(n_actions * outputs)
        self.value = layer(outputs) if dueling else None

    @property
    def plain(self) -> bool:
        """One value per action from plain linear layers (what ``mlp_forward`` runs)."""
        return self.outputs == 1 and not self.noisy and self.embedding is None

    def forward(self, features: torch.Tensor, taus: torch.Tensor | None = None) -> torch.Tensor:
        if self.embedding is not None:  # IQN: (..., d) features times phi(tau) for each tau: (..., T, d)
            from deepq.distributional import cosine_features

            phi = F.relu(self.embedding(cosine_features(taus, self.embedding.in_features)))
            features = features.unsqueeze(-2) * phi
        advantage = self.advantage(features)
        if self.outputs > 1:
            advantage = advantage.unflatten(-1, (self.n_actions, self.outputs))
        if self.value is not None:
            value = self.value(features)
            advantage = (dueling_q(value, advantage) if self.outputs == 1
                         else dueling_q(value.unsqueeze(-2), advantage, dim=-2))
        return advantage.transpose(-1, -2) if self.embedding is not None else advantage


def dueling_q(value: torch.Tensor, advantage: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """V(s) + A(s, a) - mean_a A(s, a), the actions along ``dim``: subtracting the mean advantage
    makes V and A identifiable (Wang et al., 2016)."""
    return value + advantage - advantage.mean(dim=dim, keepdim=True)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x W^T + b for one network (``(B, in)``, ``(out, in)``) or for K members at once
    (``(K, B, in)``, ``(K, out, in)``: one batched product)."""
    if weight.dim() == 2:
        return F.linear(x, weight, bias)
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


def mlp_forward(layers: Sequence[tuple[torch.Tensor, torch.Tensor]], obs: torch.Tensor,
                dueling: bool) -> torch.Tensor:
    """The MLP's Q-values from its (weight, bias) pairs in order (hidden layers, the advantage
    layer, then the value layer when ``dueling``): one network's, or K members' stacked."""
    x = obs.float()
    hidden = len(layers) - (2 if dueling else 1)
    for weight, bias in layers[:hidden]:
        x = linear(x, weight, bias).relu_()
    advantage = linear(x, *layers[hidden])
    if not dueling:
        return advantage
    return dueling_q(linear(x, *layers[hidden + 1]), advantage)


def norm_layer(shape: int | Sequence[int], on: bool) -> list[nn.Module]:
    """``[LayerNorm(shape)]`` when ``on`` (PQN's networks normalise each hidden layer), else ``[]``."""
    return [nn.LayerNorm(shape if isinstance(shape, int) else list(shape))] if on else []


class MLP(nn.Module):
    """obs -> hidden layers with ReLU -> Q-values. ``hidden_sizes=(60, 40, 25)`` builds 5-60-40-25-3.
    ``layer_norm`` puts a LayerNorm before each ReLU (PQN's network). The head's options
    (``outputs``, ``noisy_sigma``, ``embedding_dim``) are ``QHead``'s."""

    def __init__(
        self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (256, 256),
        dueling: bool = False, outputs: int = 1, noisy_sigma: float = 0.0, embedding_dim: int = 0,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), *norm_layer(size, layer_norm), nn.ReLU()]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = QHead(width, n_actions, dueling, outputs, noisy_sigma, embedding_dim)
        # The linear layers in mlp_forward's order (a plain list, not registered twice): reading
        # their weights costs less than walking the modules with parameters() at every call.
        self.linears = [m for m in self.body if isinstance(m, nn.Linear)] + [
            m for m in (self.head.advantage, self.head.value) if m is not None]
        self.plain = self.head.plain and not layer_norm  # linear layers and ReLUs only: mlp_forward runs it

    def forward(self, obs: torch.Tensor, taus: torch.Tensor | None = None) -> torch.Tensor:
        if self.plain:
            return mlp_forward([(m.weight, m.bias) for m in self.linears], obs, self.head.dueling)
        return self.head(self.body(obs.float()), taus)


class MemberNets(nn.Module):
    """K Q-networks of one architecture run as one: observations ``(K, B, ...)`` in, Q-values
    ``(K, B, A)`` out, member k's rows through member k's weights.

    One member is the network itself. Several have their parameters stacked along a leading
    member dimension (``torch.func.stack_module_state``): MLPs run through ``mlp_forward`` with
    batched products; any other ``nn.Module`` through one copy of the architecture with
    ``torch.func.vmap`` and ``functional_call``.
    Autograd, optimizers and gradient clipping see ordinary tensors: an elementwise optimizer
    (Adam, RMSprop, SGD) keeps the members independent. ``flatten_`` puts all the values, and
    the gradients, in one ``(K, P)`` tensor each, member k in row k.
    """

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        super().__init__()
        if not nets:
            raise ValueError("MemberNets needs at least one network")
        self.count = len(nets)
        self.names = [name for name, _ in nets[0].named_parameters()]
        # The MLP's dueling flag when the members are plain MLPs (they run through mlp_forward), else None.
        self.mlp_dueling = nets[0].head.dueling if isinstance(nets[0], MLP) and nets[0].plain else None
        self.buffer_names = [name for name, _ in nets[0].named_buffers()]  # noisy layers' noise
        if self.count == 1:
            self.single = nets[0]
            return
        params, buffers = torch.func.stack_module_state(list(nets))
        self.stacked = nn.ParameterList([nn.Parameter(params[name]) for name in self.names])
        for i, name in enumerate(self.buffer_names):  # (K, ...) each; noise, never saved
            self.register_buffer(f"stacked_buffer_{i}", buffers[name], persistent=False)
        # The architecture, without weights of its own: functional_call supplies each member's.
        self.__dict__["base"] = copy.deepcopy(nets[0]).to("meta")
        if isinstance(self.base, NatureCNN):
            self.base.channels_last = False

    @property
    def hidden_width(self) -> int:
        """Units of a member's widest hidden linear layer (its body's): what the size of the learn
        step's matrix products follows."""
        net = self.single if self.count == 1 else self.base
        return max((m.out_features for m in net.body.modules() if isinstance(m, nn.Linear)), default=0)

    def forward(self, obs: torch.Tensor, taus: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs ``(K, B, A)`` (or ``(K, B, A, M)`` for a distributional head) for observations
        ``(K, B, ...)``; IQN's head also takes each row's fractions, ``taus (K, B, T)``, or
        ``(K, 1, T)`` for fractions shared by every row."""
        if self.mlp_dueling is not None:  # one MLP's 2-D weights take the (1, B, in) rows as they are
            return mlp_forward(self.mlp_layers(), obs, self.mlp_dueling)
        extra = () if taus is None else (taus,)
        if self.count == 1:
            return self.single(obs[0], *(t[0] for t in extra)).unsqueeze(0)
        state = dict(zip(self.names, self.stacked, strict=True))
        state.update(zip(self.buffer_names, self.noise_tensors(), strict=True))
        return torch.func.vmap(self._member_forward)(state, obs, *extra)

    def _member_forward(self, state: dict[str, torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(self.base, state, inputs)

    def train(self, mode: bool = True) -> MemberNets:
        """Train or eval mode, for the weightless architecture that runs stacked members too
        (a noisy layer has no noise in eval mode)."""
        super().train(mode)
        if "base" in self.__dict__:
            self.base.train(mode)
        return self

    def noise_tensors(self) -> list[torch.Tensor]:
        """The noisy layers' noise buffers, each ``(K, ...)``, member k's noise in row k (views of
        the network's own buffers for one member): write into them to draw new noise."""
        if self.count == 1:
            return [b.unsqueeze(0) for b in self.single.buffers()]
        return [getattr(self, f"stacked_buffer_{i}") for i in range(len(self.buffer_names))]

    def mlp_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """MLP members' (weight, bias) pairs in ``mlp_forward`` order: the network's own for one
        member (``(out, in)``), the stacked ones for several (``(K, out, in)``). Listed once: the
        parameter objects stay the same (``flatten_`` and ``.to()`` change their storage only),
        and the walk through the modules costs more than the products of a small network."""
        if "_layers" not in self.__dict__:
            if self.count == 1:
                pairs = [(m.weight, m.bias) for m in self.single.linears]
            else:
                tensors = list(self.stacked)
                pairs = list(zip(tensors[::2], tensors[1::2], strict=True))
            self.__dict__["_layers"] = pairs
        return self.__dict__["_layers"]

    def member_tensors(self) -> list[torch.Tensor]:
        """The parameters in order, each with the member dimension first (a view for one member)."""
        if self.count == 1:
            return [p.unsqueeze(0) for p in self.single.parameters()]
        return list(self.stacked)

    def flatten_(self, grads: bool = True) -> torch.Tensor:
        """Move every parameter into one ``(K, P)`` tensor, ``self.flat``, member k's weights in
        row k (and, with ``grads``, every gradient into ``self.flat.grad``), each parameter a view
        of its columns: an optimizer, a member's clipping or a target copy over ``flat`` is one
        call for the whole network. Call it after any ``.to()``, which gives the parameters new
        storage."""
        flat = torch.cat([t.detach().reshape(self.count, -1) for t in self.member_tensors()], dim=1)
        if grads:
            flat.grad = torch.zeros_like(flat)
        self._view_into(flat)
        return flat

    def _view_into(self, flat: torch.Tensor) -> None:
        """Make each parameter (and gradient) a view of its columns of ``flat``."""
        params = list(self.parameters())
        self.segments: list[tuple[int, torch.Size]] = []  # (first column, one member's shape)
        start = 0
        for p, member in zip(params, self.member_tensors(), strict=True):
            width = member[0].numel()
            p.data = flat[:, start:start + width].view(p.shape)
            if flat.grad is not None:
                p.grad = flat.grad[:, start:start + width].view(p.shape)
            self.segments.append((start, member.shape[1:]))
            start += width
        self.__dict__["flat"] = flat  # not a registered tensor: the parameters are its views
        self.parameters_in_order = params  # a plain list: no walk over the modules at each step

    def __setstate__(self, state: dict) -> None:
        """A deep copy's parameters are copies: view them into its copy of ``flat`` again."""
        super().__setstate__(state)
        if "flat" in state:
            self._view_into(self.flat)

    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s weights as the state dict of its own network."""
        return {name: p[k].detach().clone() for name, p in zip(self.names, self.member_tensors(), strict=True)}

    def load_member_state_dict(self, k: int, state: dict[str, torch.Tensor]) -> None:
        """Set member ``k``'s weights from its own network's state dict (names and shapes checked)."""
        if sorted(state) != sorted(self.names):
            raise ValueError(f"expected weights {self.names}, got {sorted(state)}")
        with torch.no_grad():
            for name, p in zip(self.names, self.member_tensors(), strict=True):
                p[k].copy_(state[name])


class NatureCNN(nn.Module):
    """The Nature DQN (Mnih et al., 2015): uint8 frames (N, C, 84, 84) scaled to [0, 1] inside.
    The head's options (``outputs``, ``noisy_sigma``, ``embedding_dim``) are ``QHead``'s."""

    def __init__(self, in_channels: int, n_actions: int, dueling: bool = False, outputs: int = 1,
                 noisy_sigma: float = 0.0, embedding_dim: int = 0, layer_norm: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 8, stride=4), *norm_layer((32, 20, 20), layer_norm), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), *norm_layer((64, 9, 9), layer_norm), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), *norm_layer((64, 7, 7), layer_norm), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 512), *norm_layer(512, layer_norm), nn.ReLU(),
        )
        self.head = QHead(512, n_actions, dueling, outputs, noisy_sigma, embedding_dim)
        # Channels-last frames make the CPU's convolutions 1.3-1.6x faster (the performance
        # page); vmap over stacked members cannot take them.
        self.channels_last = True

    def forward(self, obs: torch.Tensor, taus: torch.Tensor | None = None) -> torch.Tensor:
        frames = obs.float() / 255.0
        if self.channels_last:
            frames = frames.contiguous(memory_format=torch.channels_last)
        return self.head(self.body(frames), taus)


class SmallCNN(nn.Module):
    """MinAtar's network (Young & Tian, 2019): (C, 10, 10) maps -> 16 3x3 filters -> 128 units.
    The options are ``NatureCNN``'s."""

    def __init__(self, in_channels: int, size: tuple[int, int], n_actions: int, dueling: bool = False,
                 outputs: int = 1, noisy_sigma: float = 0.0, embedding_dim: int = 0,
                 layer_norm: bool = False) -> None:
        super().__init__()
        conv = (16, size[0] - 2, size[1] - 2)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, stride=1), *norm_layer(conv, layer_norm), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(conv[0] * conv[1] * conv[2], 128), *norm_layer(128, layer_norm), nn.ReLU(),
        )
        self.head = QHead(128, n_actions, dueling, outputs, noisy_sigma, embedding_dim)

    def forward(self, obs: torch.Tensor, taus: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.body(obs.float()), taus)


def build_q_network(
    obs_shape: tuple[int, ...], n_actions: int, hidden_sizes: Sequence[int], dueling: bool,
    outputs: int = 1, noisy_sigma: float = 0.0, embedding_dim: int = 0, layer_norm: bool = False,
) -> nn.Module:
    """The Q-network an observation shape calls for: the Nature CNN for (C, 84, 84) frames, the
    small CNN for other (C, H, W) maps (MinAtar), else an MLP; the head's options are ``QHead``'s."""
    head = (outputs, noisy_sigma, embedding_dim)
    if len(obs_shape) == 3 and tuple(obs_shape[1:]) == (84, 84):
        return NatureCNN(obs_shape[0], n_actions, dueling, *head, layer_norm=layer_norm)
    if len(obs_shape) == 3:
        return SmallCNN(obs_shape[0], (obs_shape[1], obs_shape[2]), n_actions, dueling, *head, layer_norm=layer_norm)
    obs_dim = 1
    for size in obs_shape:
        obs_dim *= size
    return MLP(obs_dim, n_actions, hidden_sizes, dueling, *head, layer_norm=layer_norm)
