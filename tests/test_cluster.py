"""deepq.cluster: without --address a command starts a Ray of its own."""

import pytest

from deepq.cluster import start_ray

ray = pytest.importorskip("ray")


def test_without_an_address_a_local_ray_is_started_even_when_another_cluster_is_named(monkeypatch):
    # RAY_ADDRESS (or a cluster left running on this machine) must not be joined, nor break the start.
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    assert start_ray(ray, None, num_cpus=1) is True
    try:
        assert ray.cluster_resources().get("CPU") == 1
        assert start_ray(ray, None, num_cpus=1) is False  # already running: nothing to start or stop
    finally:
        ray.shutdown()
