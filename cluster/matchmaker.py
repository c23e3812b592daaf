"""``MatchmakerActor``: the one place where every Serve replica's queued sockets wait
(docs/protocol.md#matchmaking-queue).

One named detached async actor per arena instance (``<instance>-matchmaker`` in the settings' namespace),
created on the first ``queue`` request and replaced, like the directory, when a redeploy changes the
settings or code. It wraps the plain ``Matchmaker`` (served/matchmaking.py); matches are created
through the instance's ``DirectoryActor``, so ``max_live_matches`` is enforced in the usual place.
Replicas long-poll ``wait`` for their sockets; errors cross the boundary as wire dicts.
"""

from __future__ import annotations

import logging
from typing import Any

import ray
from ray.exceptions import RayActorError

from fraudarena.cluster import naming
from fraudarena.served.errors import ErrorCode, ProtocolError, is_wire_error
from fraudarena.served.matchmaking import Matchmaker
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)
MAX_CONCURRENCY = 10_000  # every queued socket holds one long-poll call


@ray.remote(num_cpus=0)
class MatchmakerActor:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = ArenaSettings(**settings)
        self._directory = None
        self.mm = Matchmaker(self.settings, self._create)

    def fingerprint(self) -> str:
        return self.settings.model_dump_json()

    async def _create(self, params: dict[str, Any], house_bots: dict[str, str]) -> dict[str, Any]:
        for _attempt in range(2):
            if self._directory is None:
                self._directory = naming.directory_handle(self.settings, create=False)
            if self._directory is None:
                break
            try:
                out = await self._directory.create_match.remote(None, None, params, house_bots)
            except RayActorError:  # the directory was replaced: look it up again
                self._directory = None
                continue
            if is_wire_error(out):
                raise ProtocolError.from_wire(out)
            out.pop("actor", None)
            return out
        raise ProtocolError(ErrorCode.RESET_ERROR, "the arena's directory is not available")

    async def enter(self, task_id: str, role: str) -> dict[str, Any]:
        try:
            return await self.mm.enter(task_id, role)
        except ProtocolError as exc:
            return exc.to_wire()

    async def wait(self, ticket: str, wait_s: float) -> dict[str, Any]:
        return await self.mm.wait(ticket, wait_s)

    def leave(self, ticket: str) -> bool:
        return self.mm.leave(ticket)

    def stats(self) -> dict[str, Any]:
        return self.mm.stats()
