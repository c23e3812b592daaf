"""Session-wide local Ray for the cluster tests (shared with the Serve tests when both run)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    ray = pytest.importorskip("ray")
    from fraudarena.cluster import local_ray

    started = local_ray.start(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()
