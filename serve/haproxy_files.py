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
* :func:`owned_by` lists the HAProxy processes in one process tree (the embedded server's), and
  :func:`stop_owned` kills those that are still running after Ray shut down and waits until they are gone.
  Reaping orphans alone races the shutdown: HAProxy's parent may still be exiting when the server looks.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
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
    return _kill([pid for pid, parent, config in haproxy_processes()
                  if _is_ray_config(config) and (parent == 1 or not _alive(parent))])


def _kill(pids: list[int]) -> list[int]:
    """SIGKILL each of ``pids``; returns those the signal reached."""
    killed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        killed.append(pid)
    return killed


def _parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def in_tree(pid: int, root: int) -> bool:
    """Whether ``pid`` is ``root`` or one of its descendants (walking parents in ``/proc``)."""
    while pid is not None and pid > 1:
        if pid == root:
            return True
        pid = _parent_of(pid)
    return False


def owned_by(root: int) -> list[tuple[int, Path]]:
    """``(pid, config file)`` of Ray Serve's HAProxy processes that descend from process ``root``."""
    return [(pid, config) for pid, parent, config in haproxy_processes()
            if _is_ray_config(config) and in_tree(parent, root)]


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a killed child that its new parent has not reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def stop_owned(owned: list[tuple[int, Path]], timeout_s: float = 5.0) -> list[int]:
    """Kill those of ``owned`` still running as the same HAProxy (pid and config); wait until they are gone.

    Returns the pids it killed. A pid that now belongs to another process is left alone.
    """
    current = {pid: config for pid, _parent, config in haproxy_processes()}
    killed = _kill([pid for pid, config in owned if current.get(pid) == config and is_running(pid)])
    deadline = time.monotonic() + timeout_s
    while any(is_running(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed
