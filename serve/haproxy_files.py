"""Files and ports of our own for the embedded cluster's HAProxy ingress, and reaping what a killed server left.

Ray Serve's HAProxy ingress keeps its config, admin socket and server-state files at fixed paths under
``/tmp/haproxy-serve`` and its fallback proxy on port 8500 unless told otherwise. Two Ray clusters on one
machine then rewrite each other's config, so one cluster's ingress can forward to another cluster's replicas
(docs/operations.md#hostile-input-at-scale-and-a-soak). HAProxy is also started without a parent-death
signal: when the server's process tree is killed, HAProxy lives on and keeps its port.

* :func:`isolate` points this server's HAProxy at a directory and ports of its own
  (``<tmp>/fraudarena-haproxy/<server pid>/``), through the environment the local Ray's workers inherit.
* :func:`reap_orphans` kills HAProxy processes whose directory names a server process that no longer exists
  (run at every embedded start); :func:`stop_own` kills this server's own after a clean stop.

Only processes configured from our directory are touched: another program's HAProxy never matches.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from fraudarena.serve.baseline import free_port

ROOT = Path(tempfile.gettempdir()) / "fraudarena-haproxy"


def instance_dir(pid: int | None = None, root: Path = ROOT) -> Path:
    """The HAProxy directory of the server process ``pid`` (default: this process)."""
    return root / str(os.getpid() if pid is None else pid)


def isolate(env: MutableMapping[str, str] | None = None, root: Path = ROOT) -> Path:
    """Give this server's HAProxy its own files and ports (settings already in ``env`` are kept)."""
    env = os.environ if env is None else env
    here = instance_dir(root=root)
    here.mkdir(parents=True, exist_ok=True)
    files = {"RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": "haproxy.cfg", "RAY_SERVE_HAPROXY_SOCKET_PATH": "admin.sock",
             "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": "server-state",
             "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": "metrics.sock"}
    for key, name in files.items():
        env.setdefault(key, str(here / name))
    env.setdefault("RAY_SERVE_HAPROXY_SERVER_STATE_BASE", str(here))
    for key in ("RAY_SERVE_HAPROXY_STATS_PORT", "RAY_SERVE_HAPROXY_METRICS_PORT",
                "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"):  # fixed 8404 / 9101 / 8500 by default
        env.setdefault(key, str(free_port()))
    return here


def haproxy_processes() -> Iterator[tuple[int, Path]]:
    """``(pid, config file)`` of every HAProxy process this user can read (Linux ``/proc``)."""
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not os.path.basename(argv[0].decode(errors="replace")).startswith("haproxy"):
            continue
        for flag, value in itertools.pairwise(argv):
            if flag == b"-f":
                yield int(entry.name), Path(value.decode(errors="replace"))
                break


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def reap_orphans(root: Path = ROOT) -> list[int]:
    """Kill HAProxy processes configured from ``root/<pid>/`` whose server ``pid`` is gone; remove those
    directories. Returns the killed HAProxy pids."""
    killed = []
    for pid, config in haproxy_processes():
        owner = config.parent
        if owner.parent != root or not owner.name.isdigit() or _alive(int(owner.name)):
            continue
        if _kill(pid):
            killed.append(pid)
    if root.is_dir():
        for owner in root.iterdir():
            if owner.name.isdigit() and not _alive(int(owner.name)):
                shutil.rmtree(owner, ignore_errors=True)
    return killed


def stop_own(root: Path = ROOT) -> list[int]:
    """Kill the HAProxy processes of this server (after ``ray.shutdown``) and remove its directory."""
    here = instance_dir(root=root)
    killed = [pid for pid, config in haproxy_processes() if config.parent == here and _kill(pid)]
    with contextlib.suppress(OSError):
        shutil.rmtree(here)
    return killed
