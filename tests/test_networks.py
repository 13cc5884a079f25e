import torch

from deepq.networks import MLP, NatureCNN, build_q_network


def test_mlp_layer_sizes_follow_hidden_sizes():
    net = MLP(5, 3, (60, 40, 25))
    shapes = [tuple(p.shape) for p in net.parameters() if p.dim() == 2]
    assert shapes == [(60, 5), (40, 60), (25, 40), (3, 25)]
    assert net(torch.zeros(7, 5)).shape == (7, 3)


def test_dueling_head_advantages_have_zero_mean():
    torch.manual_seed(0)
    net = MLP(4, 6, (32,), dueling=True)
    obs = torch.randn(10, 4)
    q = net(obs)
    features = net.body(obs)
    advantage_part = q - net.head.value(features)
    assert torch.allclose(advantage_part.mean(dim=1), torch.zeros(10), atol=1e-6)


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
