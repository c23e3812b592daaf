"""One role WebSocket (``/ws/<role>``, PROTOCOL.md §2–5): frames in, replies and pushed events out.

The session holds only the socket: which match and seat it occupies, its rate bucket and its event
cursor. Requests are handled one at a time, in order; a per-connection send lock makes each reply go
out before any event the same request caused. A listener task long-polls the match actor for this
seat's events, so clients never poll, whichever replica holds the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from fraudarena.cluster.backend import Backend
from fraudarena.cluster.errors import ErrorCode, ProtocolError
from fraudarena.cluster.settings import ArenaSettings
from fraudarena.serve import frames
from fraudarena.serve.ratelimit import TokenBucket

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


class RoleSession:
    def __init__(self, ws: WebSocket, role: str, backend: Backend, settings: ArenaSettings) -> None:
        self.ws = ws
        self.role = role
        self.backend = backend
        self.settings = settings
        self.conn = secrets.token_hex(8)
        self.match_id: str | None = None
        self.send_lock = asyncio.Lock()
        self.listener: asyncio.Task | None = None
        self.bucket = TokenBucket(settings.rate_per_s, settings.rate_burst, settings.rate_close_rejections)

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
            obj = frames.decode_object(raw)
            frame_id = frames.echo_id(obj)
            frame = frames.parse_frame(obj)
        except ProtocolError as exc:
            await self._send_error(exc, frame_id)
            return None
        return await self.dispatch(frame)

    async def dispatch(self, frame: Any) -> object:
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
        bots = frames.resolve_house_bots(bots, self.settings.policies)
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
        raise ProtocolError(ErrorCode.UNKNOWN_TYPE,
                            "the matchmaking queue (PROTOCOL.md §7 extension) is not enabled on this server")

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
