"""The OpenEnv-compatible single-agent endpoint ``/ws`` (docs/protocol.md#openenv-endpoint-ws).

The client plays the Investigator; house bots play the Fraudster and the Auditor inside the match
actor. One connection = one match; frames have exactly ``type`` and ``data``; errors use OpenEnv's
upper-case codes. Leaving (``close``, a second ``reset`` or a dropped socket) archives an unfinished
match as ``abandoned``.

There is no per-second rate on this endpoint (a stock client that waits for each answer must never be
throttled, however fast the house bots let it play). Instead a reader task queues the frames and a worker
answers them strictly in order; at most ``openenv_max_pending`` frames may wait for their replies, and a
frame beyond that is answered ``EXECUTION_ERROR`` with ``reason: too_many_pending`` (in its place in the
reply order). Persistent flooding closes the socket (1008). JSON nested deeper than ``max_json_depth``
is ``INVALID_JSON``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from fraudarena.serve.frames import (
    BOT_KINDS,
    NAMED_PREFIXES,
    ResetData,
    loads,
    resolve_house_bots,
    validation_details,
)
from fraudarena.serve.ratelimit import InFlightLimit
from fraudarena.serve.ws_session import dumps, oversize, receive_raw
from fraudarena.served import tokens
from fraudarena.served.backend import Backend
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)
ROLE = "investigator"
_STOP = object()
_RESET_KEYS = ("seed", "task_id", "max_rounds", "max_proposals", "max_fraudster_actions_per_turn",
               "max_investigator_actions_per_turn", "allowed_categories")
_OURS_AS_EXECUTION = {"illegal_action", "phase_violation", "no_match", "unknown_match", "execution_error",
                      "reset_error"}


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "data": {"code": code, "message": message, **extra}}


def _from_protocol(exc: ProtocolError) -> dict[str, Any]:
    if exc.code == "validation_error":
        return _error("VALIDATION_ERROR", exc.message, errors=exc.details or [])
    if exc.code == "capacity":
        return _error("CAPACITY_REACHED", exc.message)
    if exc.code in _OURS_AS_EXECUTION:
        return _error("EXECUTION_ERROR", exc.message, reason=exc.code)
    return _error("EXECUTION_ERROR", exc.message, reason=exc.code)


def openenv_observation(obs: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in obs.items() if k not in ("reward", "done", "last_seq")}
    return {"type": "observation",
            "data": {"observation": inner, "reward": float(obs.get("reward") or 0.0), "done": bool(obs.get("done"))}}


class OpenEnvSession:
    """One ``/ws`` connection: one match in which the client plays the Investigator against house bots."""

    def __init__(self, ws: WebSocket, backend: Backend, settings: ArenaSettings) -> None:
        self.ws = ws
        self.backend = backend
        self.settings = settings
        self.conn = tokens.new_conn_id()  # names this replica: docs/protocol.md#reconnecting
        self.match_id: str | None = None
        self.admin_token: str | None = None
        self.gate = InFlightLimit(settings.openenv_max_pending, settings.rate_close_rejections)
        # Frames to answer (raw text) and ready replies to refusals (dicts), in arrival order.
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        # Beyond this many queued items (refusals included) the client is not reading its replies: close.
        self.inbox_cap = settings.openenv_max_pending + settings.rate_close_rejections

    async def run(self) -> None:
        await self.ws.accept()
        reader = asyncio.ensure_future(self._read())
        worker = asyncio.ensure_future(self._work())
        try:
            done, _ = await asyncio.wait({reader, worker}, return_when=asyncio.FIRST_COMPLETED)
            if worker in done:  # close, capacity or a fault: stop reading
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            else:  # the client left (or was closed): drop unanswered frames, finish the request in progress
                while not self.inbox.empty():
                    self.inbox.get_nowait()
                self.inbox.put_nowait(_STOP)
                await asyncio.gather(worker, return_exceptions=True)
        finally:
            for task in (reader, worker):
                task.cancel()
            await self._abandon()

    async def _read(self) -> None:
        """Receive frames into the inbox; refuse those beyond the in-flight limit."""
        limits = self.settings
        try:
            while True:
                raw = await receive_raw(self.ws)
                if raw is None:
                    return
                if oversize(raw, limits.close_frame_bytes):
                    await self._close(1009)
                    return
                if self.inbox.qsize() >= self.inbox_cap:
                    await self._close(1008)
                    return
                if oversize(raw, limits.max_frame_bytes):
                    self.inbox.put_nowait(_error("VALIDATION_ERROR", "frame too large", reason="message_too_large"))
                    continue
                if not self.gate.admit():
                    if self.gate.abusive():
                        await self._close(1008)
                        return
                    self.inbox.put_nowait(_error(
                        "EXECUTION_ERROR", f"too many requests in flight on this connection (at most "
                        f"{self.gate.max_pending}): wait for each reply before sending the next request",
                        reason="too_many_pending", max_pending=self.gate.max_pending))
                    continue
                self.inbox.put_nowait(raw)
        except (WebSocketDisconnect, RuntimeError):
            return

    async def _work(self) -> None:
        """Answer the inbox in order; returns when the connection must end."""
        while True:
            item = await self.inbox.get()
            if item is _STOP:
                return
            if isinstance(item, dict):  # a refusal, answered in its place in the order
                await self._send(item)
                continue
            try:
                keep = await self.handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:  # an unexpected fault ends this connection only
                log.exception("fatal error on the OpenEnv socket")
                await self._send(_error("EXECUTION_ERROR", "server fault", reason="fatal_error"))
                await self._close(1011)
                return
            finally:
                self.gate.done()
            if not keep:
                return

    async def handle(self, raw: str | bytes) -> bool:
        """Handle one frame; False ends the connection."""
        if not isinstance(raw, str):
            await self._send(_error("INVALID_JSON", "binary frames are not accepted"))
            return True
        try:
            obj = loads(raw, self.settings.max_json_depth)
        except ProtocolError as exc:
            await self._send(_error("INVALID_JSON", exc.message))
            return True
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            await self._send(_error("INVALID_JSON", "frame must be a JSON object with a string 'type'"))
            return True
        kind, data = obj["type"], obj.get("data") or {}
        if kind == "close":
            await self._abandon()
            await self._close(1000)
            return False
        if kind not in ("reset", "step", "state"):
            await self._send(_error("UNKNOWN_TYPE", f"unknown message type {kind[:64]!r}"))
            return True
        if not isinstance(data, dict):
            await self._send(_error("VALIDATION_ERROR", "data must be an object", errors=[]))
            return True
        try:
            reply = await getattr(self, f"on_{kind}")(data)
        except ProtocolError as exc:
            await self._send(_from_protocol(exc))
            if exc.code == "capacity":
                await self._close(1013)
                return False
            return True
        await self._send(reply)
        return True

    async def on_reset(self, data: dict[str, Any]) -> dict[str, Any]:
        known = {k: data[k] for k in _RESET_KEYS if k in data}
        bots = {}
        for role in ("fraudster", "auditor"):
            kind = data.get(role, "scripted")
            if not isinstance(kind, str) or (kind not in BOT_KINDS and not kind.startswith(NAMED_PREFIXES)):
                raise ProtocolError(ErrorCode.VALIDATION_ERROR, f"unknown bot {kind!r} for {role}",
                                    [{"loc": ["data", role],
                                      "msg": f"expected one of {BOT_KINDS}, policy:<name> or llm:<name>"}])
            bots[role] = kind
        bots = resolve_house_bots(bots, self.settings.policies, loc=("data",), llm_bots=self.settings.llm_bots)
        try:
            params = ResetData.model_validate(known).params()
        except ValidationError as exc:
            raise ProtocolError(ErrorCode.VALIDATION_ERROR, "invalid reset data", validation_details(exc)) from None
        await self._abandon()
        out = await self.backend.create(ROLE, self.conn, params, bots)
        self.match_id, self.admin_token = out["match_id"], out["admin_token"]
        return openenv_observation(out["observation"])

    async def on_step(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.match_id is None:
            raise ProtocolError(ErrorCode.NO_MATCH, "reset first")
        return openenv_observation(await self.backend.step(self.match_id, ROLE, self.conn, data, None))

    async def on_state(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.match_id is None:
            raise ProtocolError(ErrorCode.NO_MATCH, "reset first")
        return {"type": "state", "data": await self.backend.state(self.match_id, ROLE, self.conn)}

    async def _abandon(self) -> None:
        if self.match_id is None:
            return
        match_id, token = self.match_id, self.admin_token
        self.match_id = self.admin_token = None
        with contextlib.suppress(ProtocolError):
            summary = await self.backend.get_match(match_id)
            if summary.get("status") == "live":
                await self.backend.delete(match_id, token)
                return
        with contextlib.suppress(Exception):
            await self.backend.leave(match_id, ROLE, self.conn)

    async def _send(self, frame: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send_text(dumps(frame))

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code)
