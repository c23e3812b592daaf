"""One role WebSocket (``/ws/<role>``, docs/protocol.md#the-shape-of-it–5): frames in, replies and pushed events out.

The session holds only the socket: which match and seat it occupies, its rate bucket and its event
cursor. Requests are handled one at a time, in order; a per-connection send lock makes each reply go
out before any event the same request caused. A listener task waits for this seat's events on the
backend's event path (they come back with the answers to moves made through this replica, or through
its one long-poll per match actor: docs/operations.md), so clients never
poll, whichever replica holds the socket.

A ``queue`` request (docs/protocol.md#matchmaking-queue) is answered at once with ``queued``; a waiter task
then long-polls the
backend's matchmaker, repeats ``queued`` every ``queue_notify_s`` and, once the matchmaker has created the
match, seats the connection exactly as a ``join`` with its seat token would. Any other request, ``close``
or a disconnect leaves the queue first.

Pushed ``event`` frames are on by default. With ``open_seats`` (the trusted mode for clients of the first
public version, which read exactly one frame per request) a connection gets events only when it opts in
with the query parameter ``?events=1``; ``?events=0`` turns them off in either mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from fraudarena.serve import frames
from fraudarena.serve.ratelimit import TokenBucket
from fraudarena.served import tokens
from fraudarena.served.backend import Backend
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)
_STOP = object()


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def error_frame(exc: ProtocolError, frame_id: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "error", "data": exc.payload()}
    if frame_id is not None:
        out["id"] = frame_id
    return out


async def receive_raw(ws: WebSocket) -> str | bytes | None:
    """The next frame's text (or bytes, for a binary frame); None when the client disconnected."""
    msg = await ws.receive()
    if msg["type"] == "websocket.disconnect":
        return None
    raw = msg.get("text")
    return raw if raw is not None else (msg.get("bytes") or b"")


def oversize(raw: str | bytes, limit: int) -> bool:
    """True when the frame's UTF-8 size exceeds ``limit`` (cheap for short frames)."""
    if isinstance(raw, bytes):
        return len(raw) > limit
    return len(raw) > limit or (len(raw) * 4 > limit and len(raw.encode("utf-8", "surrogatepass")) > limit)


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def wants_events(ws: WebSocket, settings: ArenaSettings) -> bool:
    """Whether this connection gets pushed ``event`` frames: ``?events=1``/``0``, else on unless ``open_seats``."""
    value = (ws.query_params.get("events") or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return not settings.open_seats


class RoleSession:
    """One role socket: parses frames, forwards requests to the backend, pushes the seat's events."""

    def __init__(self, ws: WebSocket, role: str, backend: Backend, settings: ArenaSettings) -> None:
        self.ws = ws
        self.role = role
        self.backend = backend
        self.settings = settings
        self.conn = tokens.new_conn_id()  # names this replica: docs/protocol.md#reconnecting
        self.match_id: str | None = None
        self.send_lock = asyncio.Lock()
        self.listener: asyncio.Task | None = None
        self.queue_task: asyncio.Task | None = None  # the waiter of a pending ``queue`` request
        self.queue_ticket: str | None = None
        self._queue_seating = False  # the waiter is seating the connection: let it finish
        self.bucket = TokenBucket(settings.rate_per_s, settings.rate_burst, settings.rate_close_rejections)
        self.events = wants_events(ws, settings)

    # ----- socket loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.ws.accept()
        try:
            while True:
                raw = await receive_raw(self.ws)
                if raw is None:
                    break
                if await self.handle_raw(raw) is _STOP:
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await self._unseat()

    async def handle_raw(self, raw: str | bytes) -> object:
        if oversize(raw, self.settings.close_frame_bytes):
            await self._close(1009, "frame too large")
            return _STOP
        if oversize(raw, self.settings.max_frame_bytes):
            await self._send_error(ProtocolError(ErrorCode.MESSAGE_TOO_LARGE,
                                                 f"frame over {self.settings.max_frame_bytes} bytes discarded"))
            return None
        wait_ms = self.bucket.admit()
        if wait_ms is not None:
            if self.bucket.abusive():
                await self._close(1008, "rate limit abuse")
                return _STOP
            await self._send_error(ProtocolError(ErrorCode.RATE_LIMITED, "too many frames on this connection",
                                                 retry_after_ms=wait_ms))
            return None
        if isinstance(raw, bytes):
            await self._send_error(ProtocolError(ErrorCode.INVALID_JSON, "binary frames are not accepted"))
            return None
        frame_id = None
        try:
            obj = frames.decode_object(raw, self.settings.max_json_depth)
            frame_id = frames.echo_id(obj)
            frame = frames.parse_frame(obj)
        except ProtocolError as exc:
            await self._send_error(exc, frame_id)
            return None
        return await self.dispatch(frame)

    async def dispatch(self, frame: Any) -> object:
        if self.queue_task is not None:  # any other request (a new queue too) or close leaves the queue
            await self._leave_queue()
        if frame.type == "close":
            await self._unseat()
            await self._close(1000, "bye")
            return _STOP
        async with self.send_lock:
            try:
                reply = await getattr(self, f"on_{frame.type}")(frame)
            except ProtocolError as exc:
                reply = error_frame(exc)
            except Exception:  # an unexpected fault ends this connection only
                log.exception("fatal error on %s socket", self.role)
                await self._send_unlocked(error_frame(ProtocolError(ErrorCode.FATAL_ERROR, "server fault"),
                                                      frame.id))
                await self._close(1011, "server fault")
                return _STOP
            if frame.id is not None:
                reply["id"] = frame.id
            await self._send_unlocked(reply)
        return None

    # ----- requests ----------------------------------------------------------------------------------
    async def on_reset(self, frame: frames.ResetFrame) -> dict[str, Any]:
        data = frame.data
        params = data.params()
        bots = dict(data.house_bots or {})
        if self.role in bots:
            raise ProtocolError(ErrorCode.VALIDATION_ERROR, f"house_bots cannot include your own role ({self.role})",
                                [{"loc": ["data", "house_bots", self.role], "msg": "the caller's own seat"}])
        bots = frames.resolve_house_bots(bots, self.settings.policies, llm_bots=self.settings.llm_bots)
        out = await self.backend.create(self.role, self.conn, params, bots)
        await self._leave_current()
        self._seat(out["match_id"], out["cursor"])
        obs = dict(out["observation"])
        obs["seat_tokens"] = out["seat_tokens"]
        obs["admin_token"] = out["admin_token"]
        return {"type": "observation", "data": obs}

    async def on_join(self, frame: frames.JoinFrame) -> dict[str, Any]:
        data = frame.data
        if not data.match_id:
            raise ProtocolError(ErrorCode.MISSING_MATCH_ID, "join needs data.match_id")
        if data.token is None and not self.settings.open_seats:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "join needs data.token (the seat token of this role)")
        out = await self.backend.join(data.match_id, self.role, self.conn, data.token, data.takeover)
        if self.match_id != data.match_id:
            await self._leave_current()
        self._seat(data.match_id, out["cursor"])
        return {"type": "observation", "data": out["observation"]}

    async def on_step(self, frame: frames.StepFrame) -> dict[str, Any]:
        obs = await self.backend.step(self._need_match(), self.role, self.conn, frame.data, frame.seq)
        return {"type": "observation", "data": obs}

    async def on_obs(self, frame: frames.ObsFrame) -> dict[str, Any]:
        return {"type": "observation", "data": await self.backend.observe(self._need_match(), self.role, self.conn)}

    async def on_state(self, frame: frames.StateFrame) -> dict[str, Any]:
        return {"type": "state", "data": await self.backend.state(self._need_match(), self.role, self.conn)}

    async def on_queue(self, frame: frames.QueueFrame) -> dict[str, Any]:
        if not self.settings.queue_enabled:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE,
                                "the matchmaking queue extension is not enabled on this server "
                                "(docs/protocol.md#matchmaking-queue)")
        data = frame.data
        if data.role != self.role:
            raise ProtocolError(ErrorCode.VALIDATION_ERROR,
                                f"queue role {data.role!r} does not match this endpoint's role {self.role!r}",
                                [{"loc": ["data", "role"], "msg": f"must be {self.role!r} on /ws/{self.role}"}])
        status = await self.backend.queue_enter(data.task_id or "task_1", self.role)
        ticket = status.pop("ticket")
        self.queue_ticket = ticket
        self.queue_task = asyncio.get_running_loop().create_task(self._queue_wait(ticket, frame.id))
        return {"type": "queued", "data": status}

    # ----- matchmaking queue -------------------------------------------------------------------------
    async def _queue_wait(self, ticket: str, frame_id: Any) -> None:
        """Long-poll the matchmaker for ``ticket``: ``queued`` frames while waiting, then the seat."""
        failures = 0
        try:
            while True:
                try:
                    out = await self.backend.queue_wait(ticket, self.settings.queue_notify_s)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except ProtocolError as exc:
                    out = {"status": "failed", "error": exc.payload()}
                except Exception:  # transient failure: back off and retry, then give up
                    failures += 1
                    if failures <= 5:
                        await asyncio.sleep(0.2 * failures)
                        continue
                    log.exception("queue wait failed on %s socket", self.role)
                    out = {"status": "failed",
                           "error": ProtocolError(ErrorCode.EXECUTION_ERROR, "matchmaking failed").payload()}
                status = out.pop("status")
                if status == "queued":
                    await self._send_with_id({"type": "queued", "data": out}, frame_id)
                    continue
                if status == "failed":
                    await self._send_with_id({"type": "error", "data": out["error"]}, frame_id)
                    return
                self._queue_seating = True
                await self._seat_from_queue(out, frame_id)
                return
        finally:
            if self.queue_ticket == ticket:
                self.queue_task = self.queue_ticket = None
                self._queue_seating = False

    async def _seat_from_queue(self, out: dict[str, Any], frame_id: Any) -> None:
        """Seat the connection in the match the matchmaker made, exactly as ``join`` with its token."""
        match_id, token = out["match_id"], out["token"]
        async with self.send_lock:
            try:
                joined = await self.backend.join(match_id, self.role, self.conn, token, False)
            except ProtocolError as exc:
                reply = error_frame(exc)
            else:
                if self.match_id != match_id:
                    await self._leave_current()
                self._seat(match_id, joined["cursor"])
                obs = dict(joined["observation"])
                obs["seat_token"] = token
                reply = {"type": "observation", "data": obs}
            if frame_id is not None:
                reply["id"] = frame_id
            await self._send_unlocked(reply)

    async def _leave_queue(self) -> None:
        task, ticket = self.queue_task, self.queue_ticket
        if task is None:
            return
        if self._queue_seating:  # already matched: the seat is being taken; let the observation go out
            await asyncio.wait([task])
            return
        self.queue_task = self.queue_ticket = None
        task.cancel()
        await asyncio.wait([task])
        if ticket is not None:
            with contextlib.suppress(Exception):
                await self.backend.queue_leave(ticket)

    async def _send_with_id(self, frame: dict[str, Any], frame_id: Any) -> None:
        if frame_id is not None:
            frame["id"] = frame_id
        async with self.send_lock:
            await self._send_unlocked(frame)

    # ----- seat & events -----------------------------------------------------------------------------
    def _need_match(self) -> str:
        if self.match_id is None:
            raise ProtocolError(ErrorCode.NO_MATCH, "this connection holds no seat (reset or join first)")
        return self.match_id

    def _seat(self, match_id: str, cursor: int) -> None:
        if self.listener is not None:
            self.listener.cancel()
        if self.match_id is not None:
            self.backend.unsubscribe(self.match_id, self.role, self.conn)
        self.match_id = match_id
        self.listener = asyncio.get_running_loop().create_task(self._listen(match_id, cursor))

    async def _leave_current(self) -> None:
        if self.match_id is not None:
            match_id, self.match_id = self.match_id, None
            if self.listener is not None:
                self.listener.cancel()
                self.listener = None
            self.backend.unsubscribe(match_id, self.role, self.conn)
            with contextlib.suppress(Exception):
                await self.backend.leave(match_id, self.role, self.conn)

    async def _unseat(self) -> None:
        await self._leave_queue()
        await self._leave_current()

    async def _listen(self, match_id: str, cursor: int) -> None:
        failures = 0
        while self.match_id == match_id:
            try:
                out = await self.backend.next_events(match_id, self.role, self.conn, cursor)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:  # transient actor failure: back off and retry
                failures += 1
                if failures > 5:
                    return
                await asyncio.sleep(0.2 * failures)
                continue
            async with self.send_lock:
                if self.match_id != match_id:
                    return
                if self.events:
                    for event in out["events"]:
                        await self._send_unlocked({"type": "event", "data": event})
                cursor = out["cursor"]
                gone = out.get("gone")
                if gone == "taken_over":
                    self.match_id = None
                    await self._send_unlocked(error_frame(ProtocolError(
                        ErrorCode.SEAT_TAKEN, "taken over: another connection joined this seat with its token")))
                    await self._close(4409, "seat taken over")
                    return
                if gone:
                    if gone == "archived":
                        self.match_id = None
                    return

    # ----- sending -----------------------------------------------------------------------------------
    async def _send_unlocked(self, frame: dict[str, Any]) -> None:
        if self.ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.send_text(dumps(frame))

    async def _send_error(self, exc: ProtocolError, frame_id: Any = None) -> None:
        async with self.send_lock:
            await self._send_unlocked(error_frame(exc, frame_id))

    async def _close(self, code: int, reason: str) -> None:
        if self.ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.close(code, reason)
