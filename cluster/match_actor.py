"""``MatchActor``: the Ray actor that hosts one match (or K packed matches) for any Serve replica.

A thin async wrapper over ``AsyncMatchHost``: every method takes the ``match_id`` so one class serves
both the actor-per-match and the packed layouts. Errors cross the actor boundary as plain dicts
(``ProtocolError.to_wire``). Finished matches go to the ``HistoryActor`` and are then released to the
directory, which recycles an emptied actor into its pool.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import ray

from fraudarena.cluster import naming
from fraudarena.served.async_host import AsyncMatchHost
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)


def _wire(method):
    """Return ProtocolErrors as data instead of raising them through Ray."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except ProtocolError as exc:
            return exc.to_wire()
        except Exception as exc:  # reported to the client as execution_error
            log.exception("match actor fault")
            return ProtocolError(ErrorCode.EXECUTION_ERROR, f"server fault: {type(exc).__name__}").to_wire()

    return wrapper


@ray.remote(num_cpus=0)
class MatchActor:
    def __init__(self, settings: dict[str, Any], key: str, capacity: int, directory=None) -> None:
        self.settings = ArenaSettings(**settings)
        self.key = key
        self.directory = directory
        self._history = None
        self.ahost = AsyncMatchHost(self.settings, capacity, self._archive, self._summary)

    async def ready(self) -> str:
        return self.key

    # ----- hooks -------------------------------------------------------------------------------------
    async def _archive(self, entries: list[dict[str, Any]]) -> None:
        for attempt in range(3):
            try:
                if self._history is None:
                    self._history = naming.history_handle(self.settings)
                await self._history.append.remote(entries)
                break
            except Exception:  # the history actor restarts; re-resolve it by name
                log.exception("archiving failed (attempt %d)", attempt + 1)
                self._history = None
        if self.directory is not None:
            self.directory.released.remote(self.key, [e["match_id"] for e in entries])

    def _summary(self, summaries: list[dict[str, Any]]) -> None:
        if self.directory is not None:
            self.directory.update.remote(summaries)

    # ----- requests ----------------------------------------------------------------------------------
    @_wire
    async def create(self, match_id, role, conn, params, house_bots):
        return await self.ahost.create(match_id, role, conn, params, house_bots)

    @_wire
    async def join(self, match_id, role, conn, token, takeover):
        return await self.ahost.join(match_id, role, conn, token, takeover)

    @_wire
    async def leave(self, match_id, role, conn):
        return await self.ahost.leave(match_id, role, conn)

    @_wire
    async def step(self, match_id, role, conn, action, seq):
        return await self.ahost.step(match_id, role, conn, action, seq)

    @_wire
    async def observe(self, match_id, role, conn):
        return await self.ahost.observe(match_id, role, conn)

    @_wire
    async def state(self, match_id, role, conn):
        return await self.ahost.state(match_id, role, conn)

    @_wire
    async def next_events(self, match_id, role, conn, cursor, wait_s=None):
        return await self.ahost.next_events(match_id, role, conn, cursor, wait_s)

    async def poll(self, subs, wait_s=None):
        return await self.ahost.poll(subs, wait_s)

    @_wire
    async def delete(self, match_id, admin_token):
        return await self.ahost.delete(match_id, admin_token)

    @_wire
    async def summary(self, match_id):
        return await self.ahost.summary(match_id)

    @_wire
    async def report(self, match_id):
        return await self.ahost.report(match_id)

    @_wire
    async def public_events(self, match_id, token):
        return await self.ahost.public_events(match_id, token)

    async def recycle(self) -> dict[str, Any]:
        """Drop everything from earlier matches; the actor goes back to the pool."""
        self.ahost.clear()
        return self.ahost.debug_info()

    async def debug_info(self) -> dict[str, Any]:
        info = self.ahost.debug_info()
        info["key"] = self.key
        info["actor_id"] = ray.get_runtime_context().get_actor_id()
        return info
