import torch

from deepq.networks import MLP, MemberNets, NatureCNN, build_q_network


def test_mlp_layer_sizes_follow_hidden_sizes():
    net = MLP(5, 3, (60, 40, 25))
    shapes = [tuple(p.shape) for p in net.parameters() if p.dim() == 2]
    assert shapes == [(60, 5), (40, 60), (25, 40), (3, 25)]
    assert net(torch.zeros(7, 5)).shape == (7, 3)


def test_dueling_head_against_hand_numbers():
    """A(s) = [1, 2, 3] (mean 2) and V(s) = 2.5 give Q = V + A - mean A = [1.5, 2.5, 3.5], for
    one network and for two members stacked."""
    net = MLP(2, 3, (), dueling=True)
    with torch.no_grad():
        net.head.advantage.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        net.head.advantage.bias.zero_()
        net.head.value.weight.copy_(torch.tensor([[0.5, 0.5]]))
        net.head.value.bias.fill_(1.0)
    obs = torch.tensor([[1.0, 2.0]])
    assert net(obs).tolist() == [[1.5, 2.5, 3.5]]
    other = MLP(2, 3, (), dueling=True)
    other.load_state_dict(net.state_dict())
    with torch.no_grad():
        other.head.value.bias.fill_(0.0)  # V = 1.5: Q one lower
    both = MemberNets([net, other])
    assert both(obs.expand(2, 1, 2)).tolist() == [[[1.5, 2.5, 3.5]], [[0.5, 1.5, 2.5]]]


def test_nature_cnn_takes_uint8_frames():
    net = NatureCNN(4, 6)
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert net(frames).shape == (2, 6)
    assert isinstance(build_q_network((4, 84, 84), 6, (), False), NatureCNN)
    assert isinstance(build_q_network((8,), 4, (16,), True), MLP)


def test_dueling_cnn_shapes_and_identifiability():
    torch.manual_seed(0)
    net = build_q_network((4, 84, 84), 6, (), dueling=True)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    q = net(frames)
    assert q.shape == (3, 6)
    value = net.head.value(net.body(frames.float() / 255.0))
    assert value.shape == (3, 1)
    assert torch.allclose((q - value).mean(dim=1), torch.zeros(3), atol=1e-5)
