"""Ports of its own for the embedded cluster's HAProxy ingress, and reaping the HAProxy processes that a killed
server left behind.

Ray Serve's HAProxy ingress (``RAY_SERVE_ENABLE_HA_PROXY=1``) scopes its files per node, but its listeners use
fixed ports unless told otherwise: stats 8404, metrics 9101, and the Python fallback proxy on 8500, which
HAProxy uses as a backup server while its replica is not marked up. That proxy binds with ``SO_REUSEPORT``,
so every Ray cluster on a machine shares port 8500 and the kernel spreads connections across the clusters:
one cluster's ingress can hand a request to another cluster's arena
(docs/operations.md#hostile-input-at-scale-and-a-soak). HAProxy is also started without a parent-death
signal: when the server's process tree is killed, HAProxy lives on and keeps its port.

* :func:`isolate` gives this server's HAProxy listeners free ports of their own, through the environment that
  the local Ray's workers inherit (settings already in the environment are kept).
* :func:`reap_orphans` kills HAProxy processes of Ray Serve (a ``-f <config>`` under a ``haproxy-serve``
  directory, or under ``RAY_SERVE_HAPROXY_CONFIG_FILE_LOC``'s) whose parent process is gone: Ray's HAProxy
  manager, which starts and stops them, died with its cluster. The embedded server runs it at start-up and
  after it stops. A live cluster's HAProxy always has its manager as parent, so it is never touched.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from fraudarena.serve.baseline import free_port

PORT_SETTINGS = ("RAY_SERVE_HAPROXY_STATS_PORT", "RAY_SERVE_HAPROXY_METRICS_PORT",
                 "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT")  # fixed 8404 / 9101 / 8500 by default
CONFIG_DIR_NAME = "haproxy-serve"  # Ray's default: /tmp/haproxy-serve/<node id>/haproxy.cfg


def isolate(env: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Free ports for this server's HAProxy stats, metrics and fallback-proxy listeners; returns them."""
    env = os.environ if env is None else env
    for key in PORT_SETTINGS:
        env.setdefault(key, str(free_port()))
    return {key: env[key] for key in PORT_SETTINGS}


def _ray_config_dirs() -> tuple[Path, ...]:
    configured = os.environ.get("RAY_SERVE_HAPROXY_CONFIG_FILE_LOC")
    return (Path(configured).parent,) if configured else ()


def _is_ray_config(config: Path) -> bool:
    return CONFIG_DIR_NAME in config.parts or any(d in config.parents for d in _ray_config_dirs())


def haproxy_processes() -> Iterator[tuple[int, int, Path]]:
    """``(pid, parent pid, config file)`` of every HAProxy process this user can read (Linux ``/proc``)."""
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if not argv or not os.path.basename(argv[0].decode(errors="replace")).startswith("haproxy"):
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state, past the command name
        for flag, value in itertools.pairwise(argv):
            if flag == b"-f":
                yield int(entry.name), parent, Path(value.decode(errors="replace"))
                break


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphans() -> list[int]:
    """Kill Ray Serve's HAProxy processes whose parent is gone (adopted by PID 1); returns their pids."""
    killed = []
    for pid, parent, config in haproxy_processes():
        if not _is_ray_config(config) or (parent != 1 and _alive(parent)):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        killed.append(pid)
    return killed
