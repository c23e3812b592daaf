"""``RayBackend``: the Serve replica's way to its arena instance's directory, match and history actors.

It keeps a cache of match id → match actor handle (misses ask the directory), turns wire errors
back into ``ProtocolError`` and maps a dead actor to ``unknown_match``/``no_match``. It holds no
game state: any replica can serve any socket of any match.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from typing import Any

import ray
from ray.exceptions import RayActorError

from fraudarena.cluster import naming
from fraudarena.served.errors import ErrorCode, ProtocolError, is_wire_error
from fraudarena.served.event_mux import EventMux
from fraudarena.served.settings import ArenaSettings
from fraudarena.served.views import archived_events

HANDLE_CACHE = 20_000


def _unwrap(value: Any) -> Any:
    if is_wire_error(value):
        raise ProtocolError.from_wire(value)
    return value


class RayBackend:
    def __init__(self, settings: ArenaSettings) -> None:
        self.settings = settings
        self.directory = None
        self.history = None
        self.matchmaker = None  # looked up on the first ``queue`` (docs/protocol.md#matchmaking-queue)
        self._handles: OrderedDict[str, Any] = OrderedDict()
        self.mux = EventMux(settings.long_poll_s)

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

    async def _actor(self, match_id: str, missing: ErrorCode = ErrorCode.UNKNOWN_MATCH):
        handle = self._handles.get(match_id)
        if handle is None:
            handle = await self.directory.lookup.remote(match_id)
            if handle is None:
                raise ProtocolError(missing, f"no live match with id {match_id!r}")
            self._remember(match_id, handle)
        return handle

    def _remember(self, match_id: str, handle: Any) -> None:
        self._handles[match_id] = handle
        while len(self._handles) > HANDLE_CACHE:
            self._handles.popitem(last=False)

    async def _call(self, match_id: str, method: str, *args, missing: ErrorCode = ErrorCode.UNKNOWN_MATCH):
        handle = await self._actor(match_id, missing)
        try:
            return _unwrap(await getattr(handle, method).remote(match_id, *args))
        except RayActorError:
            self._handles.pop(match_id, None)
            raise ProtocolError(missing, f"match {match_id!r} is no longer live") from None

    # ----- seats -------------------------------------------------------------------------------------
    async def create(self, role, conn, params, house_bots):
        out = _unwrap(await self.directory.create_match.remote(role, conn, params, house_bots))
        self._remember(out["match_id"], out.pop("actor"))
        return out

    async def join(self, match_id, role, conn, token, takeover):
        return await self._call(match_id, "join", role, conn, token, takeover)

    async def leave(self, match_id, role, conn):
        with contextlib.suppress(ProtocolError):
            await self._call(match_id, "leave", role, conn)

    async def step(self, match_id, role, conn, action, seq):
        return await self._call(match_id, "step", role, conn, action, seq, missing=ErrorCode.NO_MATCH)

    async def observe(self, match_id, role, conn):
        return await self._call(match_id, "observe", role, conn, missing=ErrorCode.NO_MATCH)

    async def state(self, match_id, role, conn):
        return await self._call(match_id, "state", role, conn, missing=ErrorCode.NO_MATCH)

    async def next_events(self, match_id, role, conn, cursor):
        try:
            handle = await self._actor(match_id)
        except ProtocolError:
            return {"events": [], "cursor": cursor, "gone": "archived"}
        return await self.mux.next_events(handle, (match_id, role, conn), cursor)

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
        handle = self._handles.get(match_id) or await self.directory.lookup.remote(match_id)
        if handle is not None:
            try:
                return _unwrap(await handle.summary.remote(match_id))
            except (ProtocolError, RayActorError):
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
