"""The embedded server's HAProxy files and the reaping of HAProxy processes that a killed server left.

Real processes stand in for HAProxy: a Python interpreter started with ``argv[0] == "haproxy"`` and a
``-f <config>`` argument, which is all the reaper reads from ``/proc``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fraudarena.serve.haproxy_files import haproxy_processes, instance_dir, isolate, reap_orphans, stop_own

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads Linux /proc")


def _fake_haproxy(config: Path) -> subprocess.Popen:
    return subprocess.Popen(["haproxy", "-c", "import time; time.sleep(60)", "-f", str(config)],
                            executable=sys.executable)


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def _running(proc: subprocess.Popen) -> bool:
    try:
        proc.wait(timeout=0.5)
    except subprocess.TimeoutExpired:
        return True
    return False


def test_isolate_points_every_haproxy_file_and_port_at_this_server(tmp_path):
    env = {"RAY_SERVE_HAPROXY_STATS_PORT": "1234"}
    here = isolate(env, root=tmp_path)
    assert here == instance_dir(root=tmp_path) == tmp_path / str(os.getpid()) and here.is_dir()
    for key in ("CONFIG_FILE_LOC", "SOCKET_PATH", "SERVER_STATE_FILE", "METRICS_SOCKET_PATH"):
        assert Path(env[f"RAY_SERVE_HAPROXY_{key}"]).parent == here
    assert env["RAY_SERVE_HAPROXY_STATS_PORT"] == "1234"  # an operator's choice is kept
    ports = {env["RAY_SERVE_HAPROXY_METRICS_PORT"], env["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"]}
    assert len(ports) == 2 and "8500" not in ports and "9101" not in ports


def test_reap_kills_only_haproxy_whose_server_is_gone(tmp_path):
    orphan_dir = tmp_path / str(_dead_pid())
    live_dir = instance_dir(root=tmp_path)
    foreign = tmp_path.parent / "haproxy-serve-elsewhere"
    for d in (orphan_dir, live_dir, foreign):
        d.mkdir(parents=True, exist_ok=True)
    procs = {name: _fake_haproxy(d / "haproxy.cfg") for name, d in
             (("orphan", orphan_dir), ("live", live_dir), ("foreign", foreign))}
    try:
        seen = {pid for pid, _cfg in haproxy_processes()}
        assert {p.pid for p in procs.values()} <= seen
        assert reap_orphans(root=tmp_path) == [procs["orphan"].pid]
        assert not _running(procs["orphan"]) and not orphan_dir.exists()
        assert _running(procs["live"]) and _running(procs["foreign"]) and live_dir.exists()
        assert stop_own(root=tmp_path) == [procs["live"].pid]
        assert not _running(procs["live"]) and not live_dir.exists() and _running(procs["foreign"])
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
