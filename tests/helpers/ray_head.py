"""A throwaway ``ray start --head`` cluster for the slow operator-path tests (``serve deploy``, ``ray job submit``).

The cluster runs in its own temp dir, on free ports, with token auth off; teardown kills exactly the
processes started under that temp dir (``ray stop`` would stop every Ray cluster on the machine).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pids_under(marker: str) -> list[int]:
    """PIDs whose command line mentions ``marker`` (this process excluded)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(int(pid))
            except OSError:
                continue
    return pids


@dataclass
class RayHead:
    gcs_port: int
    dashboard_port: int
    temp_dir: str
    env: dict[str, str]

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def ray(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the ``ray`` CLI of this interpreter's environment against the cluster."""
        ray_bin = str(Path(sys.executable).with_name("ray"))
        return subprocess.run([ray_bin, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)


@contextlib.contextmanager
def ray_head(num_cpus: int = 2, extra_env: dict[str, str] | None = None) -> Iterator[RayHead]:
    """Start ``ray start --head`` (dashboard on), yield it, then kill everything it started."""
    temp_dir = f"/tmp/fa-head-{os.getpid()}-{free_port()}"
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, RAY_AUTH_MODE="disabled", PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
               **(extra_env or {}))
    head = RayHead(free_port(), free_port(), temp_dir, env)
    # Every per-node port gets a free one: the defaults (e.g. the dashboard agent's 52365) are taken when
    # another Ray runs on this machine (the test session's own local Ray), and then the job agent never
    # registers ("No available agent to submit job").
    node_ports = [f"--{flag}={free_port()}" for flag in (
        "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "metrics-export-port", "runtime-env-agent-port",
        "node-manager-port", "object-manager-port", "ray-client-server-port")]
    started = head.ray("start", "--head", f"--port={head.gcs_port}", f"--dashboard-port={head.dashboard_port}",
                       "--dashboard-host=127.0.0.1", "--include-dashboard=true", f"--num-cpus={num_cpus}",
                       f"--temp-dir={temp_dir}", "--disable-usage-stats", *node_ports, timeout=180)
    try:
        if started.returncode != 0:
            errors = [ln for ln in (started.stdout + started.stderr).splitlines() if "rror" in ln or "ailed" in ln]
            raise RuntimeError("ray start failed:\n" + "\n".join(errors[-20:]))
        yield head
    finally:
        for pid in pids_under(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pids_under(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(temp_dir, ignore_errors=True)
