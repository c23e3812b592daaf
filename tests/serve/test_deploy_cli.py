"""``ray start --head`` + ``serve deploy ray_config.yaml`` (through ``deploy_config``) serves a match.

Slow (a second Ray cluster, ~1-2 min on two cores), so it is marked ``slow``; the cluster comes from
``tests/helpers/ray_head.py`` (own temp dir, free ports, exact teardown).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import yaml
from ray_head import ray_head
from serve_helpers import three_socket_match, until

from fraudarena.serve.baseline import free_port
from fraudarena.serve.launcher import DEFAULT_CONFIG, deploy_config

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.serve]


def test_ray_start_and_serve_deploy(tmp_path, monkeypatch):
    http_port = free_port()
    with ray_head() as head:
        cfg = yaml.safe_load(DEFAULT_CONFIG.read_text())
        cfg["http_options"] = {"host": "127.0.0.1", "port": http_port}
        cfg["applications"][0]["args"].update(archive_path=str(tmp_path / "archive.sqlite3"), pool_size=1,
                                              instance="deploy-test")
        path = tmp_path / "ray_config.yaml"
        path.write_text(yaml.safe_dump(cfg))
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
        assert deploy_config(str(path), dashboard_address=head.dashboard) == 0

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{http_port}/api/v1/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        until(healthy, timeout=180, what="deployed app", interval=0.5)
        finals, _ = asyncio.run(three_socket_match(f"ws://127.0.0.1:{http_port}", "task_1", 8))
        assert finals["auditor"]["record"]["end_reason"] is not None
