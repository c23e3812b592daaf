"""``LocalBackend``: matches and archive held in the server's own process (no Ray).

The single-process baseline of the benchmark and the fast ``TestClient`` tests use it; it shares all
match logic with the Ray path through ``AsyncMatchHost``.
"""

from __future__ import annotations

from typing import Any

from fraudarena.served import tokens
from fraudarena.served.archive_store import ArchiveStore, remove_with_token
from fraudarena.served.async_host import AsyncMatchHost
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.matchmaking import Matchmaker
from fraudarena.served.settings import ArenaSettings
from fraudarena.served.views import archived_events


class LocalBackend:
    def __init__(self, settings: ArenaSettings, bot_factory=None) -> None:
        self.settings = settings
        self.store = ArchiveStore(settings.archive_file(), settings.archive_capacity)
        kwargs = {} if bot_factory is None else {"bot_factory": bot_factory}
        self.ahost = AsyncMatchHost(settings, settings.max_live_matches, self._archive, **kwargs)
        self.matchmaker = Matchmaker(settings, self._create_queued)

    async def start(self) -> None:
        return None

    async def _archive(self, entries: list[dict[str, Any]]) -> None:
        for e in entries:
            self.store.append(e["match_id"], e["summary"], e["record"], e.get("secret"))

    async def create(self, role, conn, params, house_bots):
        if len(self.ahost.host.matches) >= self.settings.max_live_matches:
            raise ProtocolError(ErrorCode.CAPACITY, f"{self.settings.max_live_matches} matches are live",
                                retry_after_ms=5000)
        return await self.ahost.create(tokens.new_match_id(), role, conn, params, house_bots)

    async def join(self, match_id, role, conn, token, takeover):
        return await self.ahost.join(match_id, role, conn, token, takeover)

    async def leave(self, match_id, role, conn):
        await self.ahost.leave(match_id, role, conn)

    async def step(self, match_id, role, conn, action, seq):
        return await self.ahost.step(match_id, role, conn, action, seq)

    async def observe(self, match_id, role, conn):
        return await self.ahost.observe(match_id, role, conn)

    async def state(self, match_id, role, conn):
        return await self.ahost.state(match_id, role, conn)

    async def next_events(self, match_id, role, conn, cursor):
        return await self.ahost.next_events(match_id, role, conn, cursor)

    def unsubscribe(self, match_id, role, conn):
        return None

    async def delete(self, match_id, admin_token):
        if match_id in self.ahost.host.matches:
            await self.ahost.delete(match_id, admin_token)
            return
        _archive_removal(remove_with_token(self.store, match_id, admin_token), match_id)

    async def list_live(self):
        return self.ahost.host.summaries()

    async def get_match(self, match_id):
        if match_id in self.ahost.host.matches:
            return await self.ahost.summary(match_id)
        summary = self.store.summary(match_id)
        if summary is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        return summary

    async def report(self, match_id):
        if match_id in self.ahost.host.matches:
            return await self.ahost.report(match_id)
        return _archived_report(self.store.get(match_id), match_id)

    async def events(self, match_id, token):
        if match_id in self.ahost.host.matches:
            return await self.ahost.public_events(match_id, token)
        entry = self.store.get(match_id)
        if entry is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        return archived_events(entry["record"]) if entry["summary"]["status"] == "done" else []

    async def archive(self, limit):
        return self.store.recent(limit)

    async def counts(self):
        return {"live_matches": len(self.ahost.host.matches), "archived_matches": len(self.store)}

    # ----- matchmaking queue (docs/protocol.md#matchmaking-queue) ---------------------------------------
    async def _create_queued(self, params, house_bots):
        return await self.create(None, None, params, house_bots)

    async def queue_enter(self, task_id, role):
        return await self.matchmaker.enter(task_id, role)

    async def queue_wait(self, ticket, wait_s):
        return await self.matchmaker.wait(ticket, wait_s)

    async def queue_leave(self, ticket):
        self.matchmaker.leave(ticket)


def _archived_report(entry: dict[str, Any] | None, match_id: str) -> dict[str, Any]:
    if entry is None:
        raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
    if entry["summary"].get("status") != "done":
        raise ProtocolError(ErrorCode.PHASE_VIOLATION, "an abandoned match has no report")
    return {"summary": entry["summary"], "record": entry["record"]}


def _archive_removal(outcome: str, match_id: str) -> None:
    if outcome == "unknown":
        raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
    if outcome == "unauthorized":
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "DELETE needs this match's admin token")
