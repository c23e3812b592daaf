"""``RayBackend``: the Serve replica's way to its arena instance's directory, match and history actors.

It keeps a cache of match id → match actor link (misses ask the directory), sends every per-match
request through the replica's ``EventMux`` (coalesced ``handle_batch`` calls, one shared event
long-poll per actor: docs/operations.md), turns wire errors back into
``ProtocolError`` and maps a dead actor to ``unknown_match``/``no_match``. It holds no game state: any
replica can serve any socket of any match.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import weakref
from collections import Counter, OrderedDict
from typing import Any

import ray
from ray.exceptions import RayActorError

from fraudarena.cluster import naming
from fraudarena.served.errors import ErrorCode, ProtocolError, is_wire_error
from fraudarena.served.event_mux import HOST_FAILED, EventMux
from fraudarena.served.live_match import LOST, lost_event
from fraudarena.served.settings import ArenaSettings
from fraudarena.served.views import archived_events

HANDLE_CACHE = 20_000  # a bound only: links of matches this replica no longer serves are dropped (``_forget``)
_GONE = frozenset({ErrorCode.UNKNOWN_MATCH.value, ErrorCode.NO_MATCH.value})  # answers of a match that is not live
RECOVER_WAIT_S = 30.0  # how long a request waits for a restarting directory (docs/operations.md#faults-and-recovery)


def _unwrap(value: Any) -> Any:
    if is_wire_error(value):
        raise ProtocolError.from_wire(value)
    return value


class ActorLink:
    """A ``HostLink`` over a ``MatchActor`` handle: one Ray call per batch or poll."""

    __slots__ = ("__weakref__", "handle", "key")

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.key = handle._actor_id

    async def batch(self, requests: list[list[Any]], replica: str) -> dict[str, Any]:
        return await self.handle.handle_batch.remote(requests, replica)

    async def poll(self, subs: list[tuple[str, str, str, int]], wait_s: float, replica: str) -> list[list[Any]]:
        return await self.handle.poll.remote(subs, wait_s, replica)


class RayBackend:
    def __init__(self, settings: ArenaSettings) -> None:
        self.settings = settings
        self.directory = None
        self.history = None
        self.matchmaker = None  # looked up on the first ``queue`` (docs/protocol.md#matchmaking-queue)
        self._handles: OrderedDict[str, ActorLink] = OrderedDict()  # match id -> its actor's link
        self._links: weakref.WeakValueDictionary[Any, ActorLink] = weakref.WeakValueDictionary()  # by actor id
        self._seats: Counter[str] = Counter()  # match id -> seats this replica's sockets hold in it
        self.mux = EventMux(settings.long_poll_s, f"r-{secrets.token_hex(6)}", settings.coalesce_max)

    async def start(self) -> None:
        self.directory, self.history = await naming.ensure_singletons(self.settings)

    # ----- plumbing ----------------------------------------------------------------------------------
    async def _history(self):
        if self.history is None:
            self.history = naming.history_handle(self.settings)
        return self.history

    async def _call_history(self, method: str, *args):
        for attempt in range(3):
            try:
                return await getattr(await self._history(), method).remote(*args)
            except RayActorError:
                self.history = None
                if attempt == 2:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        return None

    async def _actor(self, match_id: str, missing: ErrorCode = ErrorCode.UNKNOWN_MATCH) -> ActorLink:
        link = self._handles.get(match_id)
        if link is None:
            handle = await self.directory.lookup.remote(match_id)
            if handle is None:
                raise ProtocolError(missing, f"no live match with id {match_id!r}")
            link = self._remember(match_id, handle)
        return link

    def _remember(self, match_id: str, handle: Any) -> ActorLink:
        # Every lookup deserialises a new handle (~5 KB with its method objects); matches on one actor share
        # one link, so the cache (up to HANDLE_CACHE matches) costs an entry per match, not a handle.
        link = self._links.get(handle._actor_id)
        if link is None:
            link = self._links[handle._actor_id] = ActorLink(handle)
        self._handles[match_id] = link
        while len(self._handles) > HANDLE_CACHE:
            self._handles.popitem(last=False)
        return link

    def _forget(self, match_id: str) -> None:
        """Drop the match's cached link: the replica holds a link (and its actor's handle, ~16 KB) only while it
        serves the match; a later request for it looks the actor up again."""
        self._handles.pop(match_id, None)

    async def _call(self, match_id: str, op: str, *args, missing: ErrorCode = ErrorCode.UNKNOWN_MATCH):
        """``op`` on the match's actor, coalesced with the replica's other requests bound for that actor."""
        link = await self._actor(match_id, missing)
        try:
            return _unwrap(await self.mux.call(link, [op, match_id, *args]))
        except ProtocolError as exc:
            if exc.code in _GONE:  # no longer live there: keep no handle for it
                self._forget(match_id)
            raise
        except RayActorError:
            self._forget(match_id)
        # The actor died: the directory rebuilds the match from its journal (docs/operations.md#faults-and-recovery)
        # and the request goes to the new actor once. A step without seq cannot be resent safely.
        link = await self._recovered(match_id, link)
        if link is None:
            raise ProtocolError(missing, f"match {match_id!r} is no longer live")
        if op == "step" and args[-1] is None:
            raise ProtocolError(ErrorCode.MATCH_RESTARTED, "the match's actor failed and the match was rebuilt from "
                                "its journal; this step may or may not have been applied (send steps with seq)")
        try:
            return _unwrap(await self.mux.call(link, [op, match_id, *args]))
        except RayActorError:
            self._forget(match_id)
            raise ProtocolError(ErrorCode.MATCH_RESTARTED, "the match's actor failed again; resend") from None

    async def _recovered(self, match_id: str, dead: ActorLink) -> ActorLink | None:
        """The match's new actor after the directory rebuilt it (None: it is not live any more).

        The directory itself may be restarting (its match actors died with it): its calls are retried for
        up to ``RECOVER_WAIT_S``.
        """
        deadline = asyncio.get_running_loop().time() + RECOVER_WAIT_S
        delay = 0.1
        while True:
            try:
                handle = await self.directory.recover.remote(match_id, dead.key.hex())
                break
            except RayActorError:
                if asyncio.get_running_loop().time() + delay > deadline:
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        return None if handle is None else self._remember(match_id, handle)

    # ----- seats -------------------------------------------------------------------------------------
    async def create(self, role, conn, params, house_bots):
        out = _unwrap(await self.directory.create_match.remote(role, conn, params, house_bots))
        self._remember(out["match_id"], out.pop("actor"))
        if role is not None:
            self._seats[out["match_id"]] += 1
        return out

    async def join(self, match_id, role, conn, token, takeover):
        out = await self._call(match_id, "join", role, conn, token, takeover)
        self._seats[match_id] += 1
        return out

    async def leave(self, match_id, role, conn):
        try:
            with contextlib.suppress(ProtocolError):
                await self._call(match_id, "leave", role, conn)
        finally:
            # A seat leaves when its match is over or its socket closes. Once no seat of the match is held
            # here, its link goes: before, links stayed cached (up to HANDLE_CACHE matches), and with an actor
            # per match each kept its actor's handle, so the replica grew ~16 KB per match in a soak. In a
            # ``finally``: a socket that drops has its task cancelled while this call waits on the actor.
            self._seats[match_id] -= 1
            if self._seats[match_id] <= 0:
                del self._seats[match_id]
                self._forget(match_id)

    async def step(self, match_id, role, conn, action, seq):
        return await self._call(match_id, "step", role, conn, action, seq, missing=ErrorCode.NO_MATCH)

    async def observe(self, match_id, role, conn):  # answered from the last event's copy when it has one
        return await self._call(match_id, "observe", role, conn, missing=ErrorCode.NO_MATCH)

    async def state(self, match_id, role, conn):
        return await self._call(match_id, "state", role, conn, missing=ErrorCode.NO_MATCH)

    async def next_events(self, match_id, role, conn, cursor):
        try:
            link = await self._actor(match_id)
        except ProtocolError:
            return {"events": [], "cursor": cursor, "gone": "archived"}
        out = await self.mux.next_events(link, (match_id, role, conn), cursor)
        if out.get("gone") in ("archived", HOST_FAILED):  # archived, or its actor died: follow the rebuilt match
            moved = await self._recovered(match_id, link)
            if moved is not None and moved.key != link.key:
                return {"events": out["events"], "cursor": 0, "gone": None}  # its events restart at 0
            # The match is over: a socket told "archived" drops its seat without a leave, so the seat count and
            # link go now (before, they stayed until HANDLE_CACHE matches: ~10 KB of handle per match).
            self._seats.pop(match_id, None)
            self._forget(match_id)
            if out["gone"] == HOST_FAILED:  # not rebuilt: tell the socket when it was archived lost
                out = {**out, "gone": "archived"}
                summary = await self._lost_summary(match_id)
                if summary is not None:
                    out["events"] = [*out["events"], lost_event(summary)]
        return out

    async def _lost_summary(self, match_id: str) -> dict[str, Any] | None:
        """The archived summary of ``match_id`` when it was archived ``lost`` (None otherwise, or unreadable)."""
        try:
            summary = await asyncio.wait_for(self._call_history("summary", match_id), self.settings.history_timeout_s)
        except (TimeoutError, RayActorError):  # the archive is down or slow: no last event
            return None
        return summary if summary is not None and summary.get("status") == LOST else None

    def cache_sizes(self) -> dict[str, int]:
        """Entries of this replica's tables (``GET /api/v1/debug/memory``): links per match and per actor, seats
        held per match, event channels per actor and event subscriptions."""
        return {"match_links": len(self._handles), "actor_links": len(self._links), "seated_matches": len(self._seats),
                **self.mux.table_sizes()}

    async def debug_memory(self, baseline: bool = False, top: int = 15) -> dict[str, Any]:
        """The directory's and every match actor's heap reports (``GET /api/v1/debug/memory``, ``debug_memory``)."""
        return await self.directory.debug_memory.remote(baseline, top)

    def call_counts(self) -> dict[str, int]:
        """This replica's calls to match actors by kind (``batches``, ``requests``, ``polls``, …)."""
        return self.mux.call_counts()

    def unsubscribe(self, match_id, role, conn):
        self.mux.unsubscribe((match_id, role, conn))

    # ----- REST --------------------------------------------------------------------------------------
    async def delete(self, match_id, admin_token):
        try:
            await self._call(match_id, "delete", admin_token)
            return
        except ProtocolError as exc:
            if exc.code != ErrorCode.UNKNOWN_MATCH.value:
                raise
        outcome = await self._call_history("remove", match_id, admin_token)
        if outcome == "unknown":
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        if outcome == "unauthorized":
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "DELETE needs this match's admin token")

    async def list_live(self):
        return await self.directory.list_live.remote()

    async def get_match(self, match_id):
        try:
            return await self._call(match_id, "summary")
        except ProtocolError:
            pass
        summary = await self._call_history("summary", match_id)
        if summary is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        return summary

    async def report(self, match_id):
        try:
            return await self._call(match_id, "report")
        except ProtocolError as exc:
            if exc.code != ErrorCode.UNKNOWN_MATCH.value:
                raise
        entry = await self._call_history("get", match_id)
        if entry is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        if entry["summary"].get("status") != "done":
            raise ProtocolError(ErrorCode.PHASE_VIOLATION, "an abandoned match has no report")
        return entry

    async def events(self, match_id, token):
        try:
            return await self._call(match_id, "public_events", token)
        except ProtocolError as exc:
            if exc.code != ErrorCode.UNKNOWN_MATCH.value:
                raise
        entry = await self._call_history("get", match_id)
        if entry is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no match with id {match_id!r}")
        return archived_events(entry["record"]) if entry["summary"].get("status") == "done" else []

    async def archive(self, limit):
        return await self._call_history("recent", limit)

    async def counts(self):
        live, archived = await asyncio.gather(self.directory.count.remote(), self._call_history("count"))
        return {"live_matches": live, "archived_matches": archived}

    # ----- matchmaking queue (docs/protocol.md#matchmaking-queue) ---------------------------------------------
    # One MatchmakerActor holds every replica's waiting sockets.
    async def _call_matchmaker(self, method: str, *args):
        if self.matchmaker is None:
            self.matchmaker = await naming.ensure_matchmaker(self.settings)
        try:
            return _unwrap(await getattr(self.matchmaker, method).remote(*args))
        except RayActorError:
            self.matchmaker = None
            raise ProtocolError(ErrorCode.RESET_ERROR, "the matchmaker restarted; queue again") from None

    async def queue_enter(self, task_id, role):
        return await self._call_matchmaker("enter", task_id, role)

    async def queue_wait(self, ticket, wait_s):
        return await self._call_matchmaker("wait", ticket, wait_s)

    async def queue_leave(self, ticket):
        with contextlib.suppress(ProtocolError):
            await self._call_matchmaker("leave", ticket)

def shutdown_instance(settings: ArenaSettings) -> None:
    """Kill an instance's actors (the archive stays on disk); for launchers and test teardown."""
    if ray.is_initialized():
        naming.kill_instance(settings)
