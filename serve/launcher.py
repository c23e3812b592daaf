"""``fraudarena serve``: deploy the arena from ``ray_config.yaml``, embedded or onto a running cluster.

* ``serve_command()`` with no ``address``: starts a local Ray (HAProxy ingress by default, the fastest
  stable option measured here), deploys the app, prints the URLs, and on Ctrl-C / SIGTERM shuts down
  Serve, the arena's actors and Ray.
* ``serve_command(address="auto")``: deploys onto a cluster started with ``ray start --head`` and returns
  (Serve apps outlive the driver).
* ``deploy_config()``: the ``serve deploy`` path, with the two traps handled: ``code_version`` is set
  to a digest of the installed code (an unchanged config would keep the old code) and ``RAY_AUTH_MODE``
  follows ``~/.ray/auth_token`` (a token left by a local ``ray.init`` turns on token auth).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

import fraudarena
from fraudarena.serve import haproxy_files
from fraudarena.served.settings import ArenaSettings

PACKAGE_DIR = Path(fraudarena.__file__).resolve().parent
DEFAULT_CONFIG = PACKAGE_DIR / "ray_config.yaml"
HAPROXY_ENV = "RAY_SERVE_ENABLE_HA_PROXY"
# Serve's bundle of request-path settings (no separate user-code thread and router loop, buffered request logs,
# a frozen start-up heap): a sixth less replica CPU per served match here (docs/operations.md, "Ray
# settings for the request path").
THROUGHPUT_ENV = "RAY_SERVE_THROUGHPUT_OPTIMIZED"
NICENESS_ENV = "RAY_worker_niceness"


def code_version() -> str:
    """Package version + digest of every source file the served app runs."""
    h = hashlib.blake2b(digest_size=6)
    for sub in ("arena", "agents", "cluster", "serve"):
        for path in sorted((PACKAGE_DIR / sub).rglob("*.py")):
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
            h.update(path.read_bytes())
    return f"{fraudarena.__version__}+{h.hexdigest()}"


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Serve config with the arena args validated and ``code_version`` filled in."""
    cfg = yaml.safe_load(Path(path or DEFAULT_CONFIG).read_text())
    app = cfg["applications"][0]
    args = dict(app.get("args") or {})
    args.update(overrides or {})
    args["code_version"] = code_version()
    app["args"] = ArenaSettings(**args).model_dump()
    return cfg


def _deployment_options(app_cfg: dict[str, Any]) -> dict[str, Any]:
    for dep in app_cfg.get("deployments") or []:
        if dep.get("name") == "ArenaIngress":
            return {k: v for k, v in dep.items() if k != "name"}
    return {}


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def resolve_http(cfg: dict[str, Any], host: str | None = None, port: int | None = None) -> tuple[str, int]:
    """The address to bind: ``host``/``port`` if given, else the config's ``http_options``, else 127.0.0.1:8000.

    Loopback is the default everywhere: exposing the arena (``--host 0.0.0.0``) is an explicit choice.
    """
    http = dict(cfg.get("http_options") or {})
    return host or http.get("host") or "127.0.0.1", int(port if port is not None else http.get("port", 8000))


def exposure_notice(host: str) -> str | None:
    """A warning line when ``host`` is reachable from other machines (None on loopback)."""
    if host in LOOPBACK_HOSTS or host.startswith("127."):
        return None
    return (f"NOTE: listening on {host}: any machine that can reach this one can create matches and play; "
            "use --host 127.0.0.1 (the default) to keep the arena local")


def _print_urls(host: str, port: int, prefix: str) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"{shown}:{port}{prefix.rstrip('/')}"
    print(f"FraudArena is serving on http://{base}")
    print(f"  spectator    http://{base}/")
    print(f"  REST         http://{base}/api/v1  (health: /api/v1/health)")
    for role in ("fraudster", "investigator", "auditor"):
        print(f"  {role:<13}ws://{base}/ws/{role}")
    print(f"  OpenEnv      ws://{base}/ws")
    sys.stdout.flush()


def serve_command(config: str | None = None, host: str | None = None, port: int | None = None,
                  address: str | None = None, proxy: str = "haproxy", num_cpus: int | None = None,
                  arena_args: dict[str, Any] | None = None, block: bool = True,
                  ready: threading.Event | None = None, stop: threading.Event | None = None) -> int:
    """Run ``fraudarena serve``; returns the port. ``proxy``: ``haproxy`` or ``default`` (embedded only)."""
    import ray
    from ray import serve

    from fraudarena.cluster import local_ray
    from fraudarena.serve.deployment import ArenaIngress

    cfg = load_config(config, arena_args)
    app_cfg = cfg["applications"][0]
    host, port = resolve_http(cfg, host, port)
    settings = ArenaSettings(**app_cfg["args"])
    embedded = address is None
    if embedded:
        if proxy not in ("haproxy", "default"):
            raise ValueError("proxy must be 'haproxy' or 'default'")
        os.environ[HAPROXY_ENV] = "1" if proxy == "haproxy" else "0"
        # Ray runs workers at nice 15; here the workers *are* the server (proxy, replica, match actors), and
        # on a shared machine they would lose every time slice to ordinary processes.
        os.environ.setdefault(NICENESS_ENV, "0")
        os.environ.setdefault(THROUGHPUT_ENV, "1")  # read by every Serve process the local Ray starts
        if proxy == "haproxy":  # ports of its own; HAProxy processes of killed servers are reaped
            reaped = haproxy_files.reap_orphans()
            if reaped:
                print(f"stopped {len(reaped)} HAProxy process(es) left by a server that was killed", flush=True)
            haproxy_files.isolate()
        local_ray.start(num_cpus=num_cpus, auth_mode=os.environ.get("RAY_AUTH_MODE"))
    else:
        local_ray.export_pythonpath()
        ray.init(address=address, log_to_driver=False)
    stop = stop or threading.Event()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    keep_running = False
    try:
        serve.start(http_options={"host": host, "port": port},
                    proxy_location=cfg.get("proxy_location", "HeadOnly"))
        app = ArenaIngress.options(**_deployment_options(app_cfg)).bind(settings.model_dump())
        serve.run(app, name=app_cfg.get("name", "fraudarena"), route_prefix=app_cfg.get("route_prefix", "/"))
        _print_urls(host, port, app_cfg.get("route_prefix", "/"))
        notice = exposure_notice(host)
        if notice:
            print(notice, flush=True)
        print(f"  archive      {settings.archive_file()}  (finished matches; --archive PATH or archive_path)",
              flush=True)
        journal = settings.journal_path(ray_default=True)
        if journal is not None:
            print(f"  journals     {journal}  (live matches, rebuilt after a crash or restart; journal_dir)",
                  flush=True)
        if ready is not None:
            ready.set()
        if not embedded or not block:
            keep_running = True
            return port
        if threading.current_thread() is threading.main_thread():
            for s in previous:
                signal.signal(s, lambda *_: stop.set())
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:  # Ctrl-C during start-up
        pass
    finally:
        if embedded and not keep_running:
            _stop_embedded(settings, previous)
    return port


def _stop_embedded(settings: ArenaSettings, previous: dict) -> None:
    """Kill the arena's actors, then the local cluster (Serve's controller, proxy and replicas with it).

    Nothing finished is lost: a match is archived the moment it ends; unfinished matches keep their journals and
    are live again at the next start (docs/operations.md#faults-and-recovery).

    ``serve.shutdown()`` is skipped: with the HAProxy ingress it waits up to 30 s for the controller.
    """
    import ray

    from fraudarena.cluster.ray_backend import shutdown_instance

    print("stopping FraudArena ...", flush=True)
    ours = haproxy_files.owned_by(os.getpid())  # started by Serve without a parent-death signal
    with contextlib.suppress(Exception):
        shutdown_instance(settings)
    ray.shutdown()
    haproxy_files.stop_owned(ours)  # its parent may still be exiting, so it is not an orphan yet
    haproxy_files.reap_orphans()
    if threading.current_thread() is threading.main_thread():
        for s, h in previous.items():
            signal.signal(s, h)


def deploy_config(config: str | None = None, dashboard_address: str | None = None,
                  arena_args: dict[str, Any] | None = None) -> int:
    """``serve deploy`` the config onto a running ``ray start --head`` cluster; returns the CLI's exit code."""
    cfg = load_config(config, arena_args)
    env = dict(os.environ)
    if "RAY_AUTH_MODE" not in env and (Path.home() / ".ray" / "auth_token").exists():
        env["RAY_AUTH_MODE"] = "token"
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(cfg, fh)
        path = fh.name
    try:
        cmd = [str(Path(sys.executable).with_name("serve")), "deploy", path]
        if dashboard_address:
            cmd += ["--address", dashboard_address]
        return subprocess.run(cmd, env=env, check=False).returncode
    finally:
        os.unlink(path)


def stop_arena(address: str = "auto", instance: str = "default", namespace: str = "fraudarena") -> None:
    """Kill an instance's detached actors (they survive ``serve shutdown``); the archive stays on disk."""
    import ray

    from fraudarena.cluster.naming import kill_instance

    ray.init(address=address, log_to_driver=False)
    try:
        kill_instance(ArenaSettings(instance=instance, namespace=namespace))
    finally:
        ray.shutdown()
