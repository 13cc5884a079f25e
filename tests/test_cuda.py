"""The GPU path: every value head's learn step on CUDA against the CPU's, training on CUDA and
loading its model on the CPU. Skipped without a CUDA device; ``benchmarks/gpu_check.sh`` runs it
when a machine with one is at hand."""

import numpy as np
import pytest
import torch

from deepq.agent import DQNAgent
from deepq.config import build_config
from deepq.replay import Batch
from deepq.train import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

HEADS = [{}, {"distribution": "c51", "v_min": -5, "v_max": 5, "num_atoms": 11}, {"distribution": "qr", "num_quantiles": 8},
         {"munchausen": True, "double": False}, {"dueling": True, "prioritized": True}]


def batch(members, device):
    g = torch.Generator().manual_seed(0)
    shape = (members, 32)
    fields = (torch.randn(*shape, 4, generator=g), torch.randint(0, 2, shape, generator=g), torch.randn(*shape, generator=g),
              torch.randn(*shape, 4, generator=g), torch.zeros(shape), torch.full(shape, 0.99), torch.ones(shape))
    return Batch(*(t.to(device) for t in fields), indices=np.zeros(shape, dtype=np.int64))


@pytest.mark.parametrize("members", [1, 2])
@pytest.mark.parametrize("overrides", HEADS)
def test_the_learn_step_on_cuda_is_the_cpus(members, overrides):
    config, _ = build_config("CartPole-v1", overrides={"hidden_sizes": "32", **overrides})
    cpu = DQNAgent((4,), 2, config, seeds=range(members))
    gpu = DQNAgent((4,), 2, config, device="cuda", seeds=range(members))
    for _ in range(3):
        a, b = cpu.learn(batch(members, "cpu")), gpu.learn(batch(members, "cuda"))
        torch.testing.assert_close(a["loss"], b["loss"].cpu(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(cpu.q_net.flat, gpu.q_net.flat.cpu(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("overrides", [{"noisy": True, "distribution": "iqn"}, {"distribution": "c51", "noisy": True}])
def test_a_run_on_cuda_trains_and_its_model_loads_on_the_cpu(tmp_path, overrides):
    from deepq import DQN

    config, _ = build_config("CartPole-v1", overrides={"learning_starts": 300, "eval_episodes": 3, "eval_interval": 0,
                                                       **overrides})
    summary = Trainer("CartPole-v1", config, seeds=[0, 1], run_dir=tmp_path / "gpu", total_steps=1500,
                      device="cuda", progress=False).run()
    assert all(s["gradient_steps"] > 0 and np.isfinite(s["final_eval_mean"]) for s in summary)
    model = DQN.load(tmp_path / "gpu" / "seed-0" / "model.pt", device="cpu")
    assert model.predict(np.zeros(4, dtype=np.float32)) in (0, 1)
