"""The Ray Serve deployment of the arena: ``create_app`` + ``RayBackend`` behind ``@serve.ingress``.

``build_app(args)`` is the application builder named by ``ray_config.yaml``
(``import_path: fraudarena.serve.deployment:build_app``); ``args`` are the ``ArenaSettings`` fields.
Each replica only holds sockets; match state lives in the cluster's actors. Every open WebSocket is
one ongoing request, so the per-replica limit is raised far above Serve's default.
"""

from __future__ import annotations

from typing import Any

import ray
from ray import serve

from fraudarena.cluster.heap import freeze_startup_heap
from fraudarena.cluster.ray_backend import RayBackend
from fraudarena.serve.app import create_app
from fraudarena.served import tokens
from fraudarena.served.settings import ArenaSettings

MAX_ONGOING_REQUESTS = 20_000


@serve.deployment(max_ongoing_requests=MAX_ONGOING_REQUESTS, ray_actor_options={"num_cpus": 0},
                  health_check_period_s=10)
@serve.ingress()
class ArenaIngress:
    async def __init__(self, arena: dict[str, Any]) -> None:
        self.settings = ArenaSettings(**arena)
        # Connection ids name this replica, so match actors can free its seats if it dies.
        tokens.set_conn_owner(ray.get_runtime_context().get_actor_id())
        self.backend = RayBackend(self.settings)
        await self.backend.start()

    def __serve_build_asgi_app__(self):
        app = create_app(self.settings, self.backend)
        freeze_startup_heap()  # the replica's start-up objects stay out of its collections (cluster/heap.py)
        return app


def build_app(args: dict[str, Any]) -> serve.Application:
    """Serve application builder: validates the arena settings once, at deploy time."""
    settings = ArenaSettings(**(args or {}))
    return ArenaIngress.bind(settings.model_dump())
