"""The embedded server's HAProxy ports, and the reaping of HAProxy processes that a killed server left.

Real processes stand in for HAProxy: a Python interpreter started with ``argv[0] == "haproxy"`` and a
``-f <config>`` argument, which is all the reaper reads from ``/proc`` besides the parent pid. An orphan is
made as a killed server leaves one: its parent exits, so PID 1 adopts it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fraudarena.serve.haproxy_files import (
    PORT_SETTINGS,
    haproxy_processes,
    is_running,
    isolate,
    owned_by,
    reap_orphans,
    stop_owned,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads Linux /proc")

SLEEPER = "import time; time.sleep(60)"


def _haproxy_args(config: Path) -> list[str]:
    return ["haproxy", "-c", SLEEPER, "-f", str(config)]


def _orphan(config: Path) -> int:
    """A fake HAProxy whose parent has exited (PID 1 adopts it); returns its pid."""
    code = (f"import subprocess, sys; p = subprocess.Popen({_haproxy_args(config)!r}, executable=sys.executable, "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print(p.pid)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout)


def _gone(pid: int, timeout_s: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]:
            return True
        time.sleep(0.05)
    return False


def test_isolate_gives_every_fixed_port_listener_a_free_port():
    env = {"RAY_SERVE_HAPROXY_STATS_PORT": "1234"}
    ports = isolate(env)
    assert set(ports) == set(PORT_SETTINGS) and env["RAY_SERVE_HAPROXY_STATS_PORT"] == "1234"  # kept
    others = {env["RAY_SERVE_HAPROXY_METRICS_PORT"], env["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"]}
    assert len(others) == 2 and not others & {"8500", "9101"}


def test_reap_kills_only_orphaned_ray_haproxy(tmp_path):
    ray_cfg = tmp_path / "haproxy-serve" / "node-a" / "haproxy.cfg"
    other_cfg = tmp_path / "elsewhere" / "haproxy.cfg"
    orphan = _orphan(ray_cfg)
    foreign_orphan = _orphan(other_cfg)  # not Ray Serve's: left alone
    live = subprocess.Popen(_haproxy_args(ray_cfg), executable=sys.executable)  # its parent (this test) lives
    try:
        seen = {pid: (parent, cfg) for pid, parent, cfg in haproxy_processes()}
        assert seen[orphan] == (1, ray_cfg) and seen[live.pid][1] == ray_cfg
        killed = reap_orphans()
        assert orphan in killed and foreign_orphan not in killed and live.pid not in killed
        assert _gone(orphan)
        assert live.poll() is None and not _gone(foreign_orphan, 0.2)
    finally:
        live.kill()
        live.wait()
        for pid in (orphan, foreign_orphan):
            subprocess.run(["kill", "-9", str(pid)], check=False)


def test_stop_owned_kills_the_trees_haproxy_even_while_its_parent_still_lives(tmp_path):
    """The embedded server's stop: HAProxy's parent may still be exiting, so it is not an orphan yet."""
    ray_cfg = tmp_path / "haproxy-serve" / "node-b" / "haproxy.cfg"
    parent = subprocess.Popen(  # stands in for Serve's proxy: starts HAProxy, then lingers
        [sys.executable, "-c", f"import subprocess, sys, time; p = subprocess.Popen({_haproxy_args(ray_cfg)!r}, "
         "executable=sys.executable); print(p.pid, flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    outsider = subprocess.Popen(_haproxy_args(tmp_path / "haproxy-serve" / "node-c" / "haproxy.cfg"),
                                executable=sys.executable, start_new_session=True)
    try:
        child = int(parent.stdout.readline())
        mine = owned_by(parent.pid)
        assert mine == [(child, ray_cfg)] and outsider.pid not in dict(owned_by(parent.pid))
        assert child not in reap_orphans()  # its parent lives: not an orphan
        assert stop_owned(mine) == [child] and not is_running(child)
        assert outsider.poll() is None
        assert stop_owned(mine) == []  # already gone: nothing killed twice
    finally:
        for p in (parent, outsider):
            p.kill()
            p.wait()
