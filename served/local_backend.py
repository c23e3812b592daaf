"""``LocalBackend``: matches and archive held in the server's own process (no Ray).

The single-process baseline of the benchmark and the fast ``TestClient`` tests use it. It shares all
match logic with the Ray path through ``MatchHost``, and the event path too: requests and event
subscriptions go through the same ``EventMux`` (coalesced batches, one shared long-poll, events and
observations riding along with the answers), with a link that calls the host in-process.
"""

from __future__ import annotations

from typing import Any

from fraudarena.served import tokens
from fraudarena.served.admission import check_admission, is_unjoined
from fraudarena.served.archive_store import ArchiveStore, remove_with_token
from fraudarena.served.errors import ErrorCode, ProtocolError, is_wire_error
from fraudarena.served.event_mux import EventMux
from fraudarena.served.journal import remove_journal
from fraudarena.served.match_host import MatchHost
from fraudarena.served.matchmaking import Matchmaker
from fraudarena.served.settings import ArenaSettings
from fraudarena.served.views import archived_events


class LocalLink:
    """A ``HostLink`` that calls a ``MatchHost`` of this process directly."""

    key = "local"

    def __init__(self, host: MatchHost) -> None:
        self.host = host

    async def batch(self, requests: list[list[Any]], replica: str) -> dict[str, Any]:
        return await self.host.handle_batch(requests, replica)

    async def poll(self, subs: list[tuple[str, str, str, int]], wait_s: float, replica: str) -> list[list[Any]]:
        return await self.host.poll(subs, wait_s, replica)


def _unwrap(value: Any) -> Any:
    if is_wire_error(value):
        raise ProtocolError.from_wire(value)
    return value


class LocalBackend:
    def __init__(self, settings: ArenaSettings, bot_factory=None) -> None:
        self.settings = settings
        self.store = ArchiveStore(settings.archive_file(), settings.archive_capacity)
        kwargs = {} if bot_factory is None else {"bot_factory": bot_factory}
        self.host = MatchHost(settings, settings.max_live_matches, on_archive=self._archive, **kwargs)
        self.link = LocalLink(self.host)
        self.mux = EventMux(settings.long_poll_s, "local", settings.coalesce_max)
        self.matchmaker = Matchmaker(settings, self._create_queued)

    async def start(self) -> None:
        return None

    async def _archive(self, entries: list[dict[str, Any]]) -> None:
        for e in entries:  # as HistoryActor.append (docs/operations.md#faults-and-recovery)
            if not e.get("already_archived"):
                self.store.append(e["match_id"], e["summary"], e["record"], e.get("secret"))
            if not e.get("keep_live"):
                remove_journal(self.settings.journal_path(), e["match_id"])

    async def _call(self, op: str, match_id: str, *args: Any) -> Any:
        return _unwrap(await self.mux.call(self.link, [op, match_id, *args]))

    async def create(self, role, conn, params, house_bots):
        if len(self.host.matches) >= self.settings.max_live_matches:
            raise ProtocolError(ErrorCode.CAPACITY, f"{self.settings.max_live_matches} matches are live",
                                retry_after_ms=5000)
        check_admission(self.settings, role is None,
                        sum(1 for m in self.host.matches.values() if is_unjoined(m.seat_statuses())))
        return await self._call("create", tokens.new_match_id(), role, conn, params, house_bots)

    async def join(self, match_id, role, conn, token, takeover):
        return await self._call("join", match_id, role, conn, token, takeover)

    async def leave(self, match_id, role, conn):
        await self._call("leave", match_id, role, conn)

    async def step(self, match_id, role, conn, action, seq):
        return await self._call("step", match_id, role, conn, action, seq)

    async def observe(self, match_id, role, conn):
        return await self._call("observe", match_id, role, conn)

    async def state(self, match_id, role, conn):
        return await self._call("state", match_id, role, conn)

    async def next_events(self, match_id, role, conn, cursor):
        return await self.mux.next_events(self.link, (match_id, role, conn), cursor)

    def unsubscribe(self, match_id, role, conn):
        self.mux.unsubscribe((match_id, role, conn))

    def call_counts(self) -> dict[str, int]:
        """Calls made to the in-process host by kind (``batches``, ``requests``, ``polls``, …)."""
        return self.mux.call_counts()

    async def delete(self, match_id, admin_token):
        if match_id in self.host.matches:
            await self._call("delete", match_id, admin_token)
            return
        _archive_removal(remove_with_token(self.store, match_id, admin_token), match_id)

    async def list_live(self):
        return self.host.summaries()

    async def get_match(self, match_id):
        if match_id in self.host.matches:
            return self.host.summary(match_id)
        summary = self.store.summary(match_id)
        if summary is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        return summary

    async def report(self, match_id):
        if match_id in self.host.matches:
            return self.host.report(match_id)
        return _archived_report(self.store.get(match_id), match_id)

    async def events(self, match_id, token):
        if match_id in self.host.matches:
            return self.host.public_events(match_id, token)
        entry = self.store.get(match_id)
        if entry is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        return archived_events(entry["record"]) if entry["summary"]["status"] == "done" else []

    async def archive(self, limit):
        return self.store.recent(limit)

    async def counts(self):
        return {"live_matches": len(self.host.matches), "archived_matches": len(self.store)}

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
