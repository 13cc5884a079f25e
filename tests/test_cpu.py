import torch

from deepq.config import build_config
from deepq.cpu import cores, default_threads, torch_threads


def test_threads_follow_the_network_width_and_the_members():
    small, _ = build_config("CartPole-v1", "cartpole")  # 128-128
    wide, _ = build_config("LunarLander-v3", "lunarlander-fast")  # 256-256
    assert default_threads(small) == 1
    assert default_threads(wide) == min(2, cores())
    assert default_threads(small, members=8) == min(8, cores())


def test_torch_threads_lowers_the_count_for_a_block_and_restores_it():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(before + 5):  # never raises the count
        assert torch.get_num_threads() == before
