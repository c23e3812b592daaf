"""``ray start --head`` + ``serve deploy ray_config.yaml`` (through ``deploy_config``) serves a match.

Slow (a second Ray cluster, ~1-2 min on two cores), so it is marked ``slow``. The cluster runs in its
own temp dir and on free ports; teardown kills exactly the processes started under that temp dir
(``ray stop`` would stop every Ray cluster of the machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from serve_helpers import three_socket_match, until

from fraudarena.serve.baseline import free_port
from fraudarena.serve.launcher import DEFAULT_CONFIG, deploy_config

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.serve]


def _pids_under(marker: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(int(pid))
            except OSError:
                continue
    return pids


def test_ray_start_and_serve_deploy(tmp_path):
    temp_dir = f"/tmp/fa-deploy-{os.getpid()}"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    gcs, dash, http_port = free_port(), free_port(), free_port()
    ray_bin = str(Path(sys.executable).with_name("ray"))
    start = [ray_bin, "start", "--head", f"--port={gcs}", f"--dashboard-port={dash}", "--dashboard-host=127.0.0.1",
             "--include-dashboard=true", "--num-cpus=2", f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    subprocess.run(start, env=env, check=True, capture_output=True, timeout=180, start_new_session=True)
    try:
        cfg = yaml.safe_load(DEFAULT_CONFIG.read_text())
        cfg["http_options"] = {"host": "127.0.0.1", "port": http_port}
        cfg["applications"][0]["args"].update(archive_path=str(tmp_path / "archive.sqlite3"), pool_size=1,
                                              instance="deploy-test")
        path = tmp_path / "ray_config.yaml"
        path.write_text(yaml.safe_dump(cfg))
        os.environ["RAY_AUTH_MODE"] = "disabled"
        assert deploy_config(str(path), dashboard_address=f"http://127.0.0.1:{dash}") == 0

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{http_port}/api/v1/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        until(healthy, timeout=180, what="deployed app", interval=0.5)
        finals, _ = asyncio.run(three_socket_match(f"ws://127.0.0.1:{http_port}", "task_1", 8))
        assert finals["auditor"]["record"]["end_reason"] is not None
    finally:
        for pid in _pids_under(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _pids_under(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(temp_dir, ignore_errors=True)
