"""One Ray + Serve for all Serve tests: the main arena at ``/`` and a short-limits arena at ``/limits``.

Startup takes ~20-35 s on two cores, so it is session-scoped; both apps get their own actor instance
and archive file, and everything is shut down at the end of the session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest


@dataclass
class Arena:
    port: int
    prefix: str = ""

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.prefix}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"


MAIN = {"instance": "t-main", "done_linger_s": 3.0, "pool_size": 2}
LIMITS = {"instance": "t-limits", "turn_timeout_s": 1.5, "idle_ttl_s": 3.0, "done_linger_s": 0.5,
          "max_live_matches": 3, "open_seats": True, "pool_size": 1, "matches_per_actor": 4, "archive_capacity": 3}


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    ray = pytest.importorskip("ray")
    import httpx
    from ray import serve

    from fraudarena.cluster import local_ray, naming
    from fraudarena.serve.baseline import free_port
    from fraudarena.serve.deployment import build_app
    from fraudarena.served.settings import ArenaSettings

    started = local_ray.start(num_cpus=2)
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    configs = {"": dict(MAIN, archive_path=str(tmp / "main.sqlite3")),
               "/limits": dict(LIMITS, archive_path=str(tmp / "limits.sqlite3"))}
    try:
        for prefix, cfg in configs.items():
            serve.run(build_app(cfg), name=cfg["instance"], route_prefix=prefix or "/")
        for prefix in configs:
            deadline = time.monotonic() + 60
            while httpx.get(f"http://127.0.0.1:{port}{prefix}/api/v1/health").status_code != 200:
                assert time.monotonic() < deadline, "arena did not become healthy"
                time.sleep(0.1)
        yield {"main": Arena(port), "limits": Arena(port, "/limits"),
               "settings": {k or "main": ArenaSettings(**v) for k, v in configs.items()}}
    finally:
        serve.shutdown()
        for cfg in configs.values():
            naming.kill_instance(ArenaSettings(**cfg))
        if started:
            ray.shutdown()


@pytest.fixture(scope="session")
def main_arena(served) -> Arena:
    return served["main"]


@pytest.fixture(scope="session")
def limits_arena(served) -> Arena:
    return served["limits"]
