"""WebSocket clients for the served arena (docs/protocol.md): an asyncio client per role and a sync wrapper.

``RoleClient`` speaks ``fraudarena-ws/1`` over the ``websockets`` library: it numbers every request
(``id``), matches replies to requests, queues pushed ``event`` frames, and raises ``ServerError``
carrying the server's error code. ``play_seat`` drives one seat with a bot until the match is done.
No Ray or FastAPI here.

Reconnecting (docs/protocol.md#reconnecting): when a seated client's socket drops without a close of its
own (the server's replica died, the network blinked), the next ``step``/``obs``/``state`` reopens the
socket with backoff, rejoins the seat with its token (no ``takeover``: the server frees a seat whose
socket died), and resends the request with the same ``seq``, which the server applies at most once. A
``match_restarted`` answer (the match was rebuilt after its actor died) is resent the same way. While
waiting for events, a dropped socket shows up as a ``connection_lost`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import socket
import threading
from collections import deque
from typing import Any

import websockets

ROLES = ("fraudster", "investigator", "auditor")
# Close codes after which a seated client reconnects by itself (the others mean "do not come back":
# 1000 a close of ours, 1008 abuse, 1009 too large, 4409 taken over by another connection).
RECONNECT_CLOSE_CODES = frozenset({None, 1001, 1006, 1011, 1012, 1013, 1014})
RESUMABLE = frozenset({"step", "obs", "state"})


class ServerError(Exception):
    """An ``error`` frame: ``code`` is the docs/protocol.md#errors code."""

    def __init__(self, code: str, message: str, details: Any = None, retry_after_ms: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_ms = retry_after_ms


class ConnectionClosed(ServerError):
    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__("connection_closed", f"socket closed ({code}) {reason}".strip())
        self.close_code = code


class CannotConnect(ConnectionError):
    """The WebSocket could not be opened; ``reason`` says why in a few words.

    Nothing listening (``refused``), an unknown host, no answer within ``open_timeout``, a URL that is not
    ``ws://``/``wss://``, or an HTTP answer other than the upgrade (not a FraudArena server, or a wrong path).
    A ``ConnectionError``, so ``except OSError`` handlers still catch it.
    """

    def __init__(self, url: str, reason: str, refused: bool = False) -> None:
        super().__init__(f"cannot connect to {url}: {reason}")
        self.url = url
        self.base_url = _base(url)
        self.reason = reason
        self.refused = refused


def _connect_failure(url: str, exc: BaseException, open_timeout: float) -> CannotConnect:
    """The :class:`CannotConnect` for an exception raised by ``websockets.connect``."""
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in str(exc):
        return CannotConnect(url, "connection refused", refused=True)
    if isinstance(exc, socket.gaierror):
        return CannotConnect(url, f"unknown host ({exc.strerror})")
    if isinstance(exc, TimeoutError):
        return CannotConnect(url, f"no answer within {open_timeout:g} s")
    if isinstance(exc, websockets.InvalidURI):
        return CannotConnect(url, "not a ws:// or wss:// URL")
    if isinstance(exc, websockets.InvalidStatus):
        return CannotConnect(url, f"HTTP {exc.response.status_code} instead of a WebSocket (wrong URL, or not a "
                                  "FraudArena server?)")
    return CannotConnect(url, str(exc) or type(exc).__name__)


def _base(url: str) -> str:
    url = url.rstrip("/")
    for suffix in ("/ws/fraudster", "/ws/investigator", "/ws/auditor", "/ws"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


class RoleClient:
    """One connection to ``/ws/<role>``. Use ``async with RoleClient(url, role) as c: ...``."""

    def __init__(self, url: str, role: str, *, open_timeout: float = 30.0, reply_timeout: float = 120.0,
                 transcript: bool = False, compression: str | None = None, reconnect: bool = True,
                 reconnect_for_s: float = 120.0) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.url = f"{_base(url)}/ws/{role}"
        self.role = role
        self.open_timeout = open_timeout
        self.reply_timeout = reply_timeout
        self.ws: Any = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.notices: list[dict[str, Any]] = []  # unsolicited errors (e.g. the seat was taken over)
        self.match_id: str | None = None
        self.seat_token: str | None = None
        self.last_observation: dict[str, Any] | None = None
        self.queued: list[dict[str, Any]] = []  # ``queued`` frames received while waiting in the queue
        self._pending: deque[tuple[Any, asyncio.Future]] = deque()
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._reader: asyncio.Task | None = None
        self.closed: asyncio.Future | None = None
        self.transcript: list[str] | None = [] if transcript else None  # every received frame, raw
        # permessage-deflate costs CPU on both ends for every frame; worth it only on slow links.
        self.compression = compression
        self.reconnect = reconnect
        self.reconnect_for_s = reconnect_for_s
        self.reconnects = 0  # successful reconnections (with the seat back)
        self._closing = False

    async def __aenter__(self) -> RoleClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the socket; raises :class:`CannotConnect` (with the reason) if it cannot be opened."""
        try:
            self.ws = await websockets.connect(self.url, open_timeout=self.open_timeout, max_size=4 * 1024 * 1024,
                                               ping_interval=20, ping_timeout=20, compression=self.compression)
        except (OSError, websockets.InvalidURI, websockets.InvalidHandshake) as exc:  # TimeoutError is an OSError
            raise _connect_failure(self.url, exc, self.open_timeout) from exc
        self.closed = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def close(self) -> None:
        self._closing = True
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    async def _read(self) -> None:
        code, reason = None, ""
        try:
            async for raw in self.ws:
                if self.transcript is not None:
                    self.transcript.append(raw)
                frame = json.loads(raw)
                if frame.get("type") == "event":
                    self.events.put_nowait(frame["data"])
                    continue
                if frame.get("type") == "queued":  # progress of a pending ``queue`` request, not its reply
                    self.queued.append(frame["data"])
                    continue
                if self._is_notice(frame):
                    self.notices.append(frame["data"])
                    continue
                if self._pending:
                    _, fut = self._pending.popleft()
                    if not fut.done():
                        fut.set_result(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.ws is not None:
                code, reason = self.ws.close_code, self.ws.close_reason or ""
            exc = ConnectionClosed(code, reason)
            while self._pending:
                _, fut = self._pending.popleft()
                if not fut.done():
                    fut.set_exception(exc)
            if self.closed is not None and not self.closed.done():
                self.closed.set_result(code)
            if self._may_resume(code):
                self.events.put_nowait({"kind": "connection_lost", "match_id": self.match_id, "close_code": code})

    def _may_resume(self, code: int | None) -> bool:
        return (self.reconnect and not self._closing and self.match_id is not None and self.seat_token is not None
                and code in RECONNECT_CLOSE_CODES)

    async def resume(self) -> dict[str, Any]:
        """Reopen the socket and rejoin this client's seat with its token, with backoff; returns the observation.

        ``seat_taken`` (the server does not yet know the old socket is dead), a refused connection or a
        closed socket are retried for ``reconnect_for_s``; any other error is raised.
        """
        if self.match_id is None or self.seat_token is None:
            raise ServerError("no_match", "this client holds no seat to resume")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.reconnect_for_s
        delay = 0.2
        while True:
            with contextlib.suppress(Exception):
                if self.ws is not None:
                    await self.ws.close()
            if self._reader is not None:
                self._reader.cancel()
                with contextlib.suppress(BaseException):
                    await self._reader
            try:
                await self.connect()
                obs = await self._request_once("join", {"match_id": self.match_id, "token": self.seat_token},
                                               None, None)
                self.reconnects += 1
                return obs
            except (CannotConnect, ConnectionClosed, TimeoutError) as exc:
                last: Exception = exc
            except ServerError as exc:
                if exc.code not in ("seat_taken", "rate_limited", "unavailable", "capacity"):
                    raise
                last = exc
            if loop.time() + delay > deadline:
                raise last
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    def _is_notice(self, frame: dict[str, Any]) -> bool:
        if frame.get("type") != "error" or "id" in frame:
            return False
        pending_id = self._pending[0][0] if self._pending else None
        return not self._pending or (pending_id is not None and frame["data"].get("code") == "seat_taken")

    async def request(self, type_: str, data: dict[str, Any] | None = None, *, seq: int | None = None,
                      raw: str | None = None, retry_rate_limited: int = 50) -> dict[str, Any]:
        """Send one frame and return its reply's ``data`` (raises ``ServerError`` on an error reply).

        A ``rate_limited`` reply is retried after the server's ``retry_after_ms`` (up to
        ``retry_rate_limited`` times): the frame was dropped unread, so resending is safe.
        """
        resumed = 0
        for _ in range(retry_rate_limited):
            try:
                return await self._request_once(type_, data, seq, raw)
            except ConnectionClosed as exc:
                # the socket died under a seated request: reconnect, rejoin, resend (same seq: applied once)
                if type_ not in RESUMABLE or resumed >= 3 or not self._may_resume(exc.close_code):
                    raise
                resumed += 1
                await self.resume()
            except ServerError as exc:
                if exc.code == "match_restarted" and type_ in RESUMABLE and (seq is not None or type_ != "step"):
                    resumed += 1
                    if resumed > 3:
                        raise
                    continue
                if exc.code != "rate_limited":
                    raise
                await asyncio.sleep((exc.retry_after_ms or 100) / 1000)
        return await self._request_once(type_, data, seq, raw)

    async def _request_once(self, type_: str, data: dict[str, Any] | None, seq: int | None,
                            raw: str | None, timeout: float | None = None) -> dict[str, Any]:
        frame_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((frame_id, fut))
        if raw is None:
            frame: dict[str, Any] = {"type": type_, "data": data or {}, "id": frame_id}
            if seq is not None:
                frame["seq"] = seq
            raw = json.dumps(frame)
        try:
            await self.ws.send(raw)
        except websockets.ConnectionClosed as exc:
            self._pending.remove((frame_id, fut))
            raise ConnectionClosed(exc.rcvd.code if exc.rcvd else None) from None
        if self.closed is not None and self.closed.done() and not fut.done():
            # the reader ended before this frame was queued: nothing will answer it
            with contextlib.suppress(ValueError):
                self._pending.remove((frame_id, fut))
            raise ConnectionClosed(self.ws.close_code, self.ws.close_reason or "")
        reply = await asyncio.wait_for(fut, timeout or self.reply_timeout)
        if reply.get("type") == "error":
            d = reply["data"]
            raise ServerError(d.get("code", "?"), d.get("message", ""), d.get("details"), d.get("retry_after_ms"))
        if reply.get("type") == "observation":
            self.last_observation = reply["data"]
        return reply["data"]

    # ----- protocol verbs ----------------------------------------------------------------------------
    async def reset(self, **params: Any) -> dict[str, Any]:
        obs = await self.request("reset", params)
        self.match_id = obs["match_id"]
        self.seat_token = obs["seat_tokens"].get(self.role)
        return obs

    async def join(self, match_id: str, token: str | None = None, takeover: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"match_id": match_id}
        if token is not None:
            data["token"] = token
        if takeover:
            data["takeover"] = True
        obs = await self.request("join", data)
        self.match_id, self.seat_token = match_id, token
        self._follow_seq(obs)
        return obs

    def _follow_seq(self, obs: dict[str, Any]) -> None:
        """Number the next steps past the seat's ``last_seq`` (a new client on a seat someone played)."""
        last = obs.get("last_seq")
        if isinstance(last, int):
            nxt = next(self._seq)
            self._seq = itertools.count(max(nxt, last + 1))

    async def queue(self, task_id: str = "task_1", timeout: float | None = None) -> dict[str, Any]:
        """Wait in the matchmaking queue (docs/protocol.md#matchmaking-queue) until seated; returns the observation.

        ``queued`` progress frames are recorded in ``self.queued``; the observation carries this seat's
        ``seat_token`` (kept in ``self.seat_token`` for a later ``join``).
        """
        # The server seats every queued agent within its queue_timeout_s (house bots fill the rest) and keeps
        # sending ``queued`` meanwhile, so by default wait at least 10 minutes rather than reply_timeout.
        wait = timeout if timeout is not None else max(self.reply_timeout, 600.0)
        obs = await self._request_once("queue", {"role": self.role, "task_id": task_id}, None, None, wait)
        self.match_id, self.seat_token = obs["match_id"], obs.get("seat_token")
        return obs

    async def step(self, action: dict[str, Any], seq: int | bool | None = True) -> dict[str, Any]:
        """Apply an action; ``seq=True`` numbers it automatically (safe to resend after a reconnect)."""
        if seq is True:
            seq = next(self._seq)
        elif seq is False:
            seq = None
        return await self.request("step", action, seq=seq)  # type: ignore[arg-type]

    async def obs(self) -> dict[str, Any]:
        return await self.request("obs")

    async def state(self) -> dict[str, Any]:
        return await self.request("state")

    async def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def wait_event(self, kind: str, timeout: float | None = None) -> dict[str, Any]:
        """Skip events until one of ``kind`` arrives."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            event = await self.next_event(remaining)
            if event["kind"] == kind:
                return event


def my_turn(obs: dict[str, Any]) -> bool:
    return not obs.get("done") and bool((obs.get("legal_actions") or {}).get("action_types"))


async def play_seat(client: RoleClient, bot: Any, obs: dict[str, Any], *,
                    event_timeout: float = 600.0) -> dict[str, Any]:
    """Play ``client``'s seat with ``bot`` until ``done``; return the final observation (with ``record``)."""
    while not obs.get("done"):
        if my_turn(obs):
            obs = await client.step(bot.act(obs))
            continue
        event = await client.next_event(event_timeout)
        if event["kind"] == "match_done" and event.get("status") in ("abandoned", "lost"):
            raise ServerError(event["status"], f"match {event['match_id']} was {event['status']}")
        if event["kind"] in ("connection_lost", "match_restarted"):
            obs = await client.obs()  # reconnects (and rejoins) when the socket died
            continue
        if event["kind"] in ("your_turn", "match_done", "turn_timeout"):
            try:
                obs = await client.obs()
            except ServerError as exc:
                if event["kind"] != "match_done" or exc.code not in ("no_match", "unknown_match"):
                    raise
                # Archived already (after done_linger_s): the event carries the outcome; the record is
                # at GET /api/v1/matches/{id}/report.
                return {**event, "done": True}
    return obs


class SyncRoleClient:
    """A blocking wrapper: the async client runs on a private event loop thread."""

    def __init__(self, url: str, role: str, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = self._run(self._make(url, role, kwargs))
        self._run(self._client.connect())

    async def _make(self, url: str, role: str, kwargs: dict[str, Any]) -> RoleClient:
        return RoleClient(url, role, **kwargs)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> SyncRoleClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def match_id(self) -> str | None:
        return self._client.match_id

    def reset(self, **params: Any) -> dict[str, Any]:
        return self._run(self._client.reset(**params))

    def join(self, match_id: str, token: str | None = None, takeover: bool = False) -> dict[str, Any]:
        return self._run(self._client.join(match_id, token, takeover))

    def queue(self, task_id: str = "task_1", timeout: float | None = None) -> dict[str, Any]:
        return self._run(self._client.queue(task_id, timeout))

    def step(self, action: dict[str, Any], seq: int | bool | None = True) -> dict[str, Any]:
        return self._run(self._client.step(action, seq))

    def obs(self) -> dict[str, Any]:
        return self._run(self._client.obs())

    def state(self) -> dict[str, Any]:
        return self._run(self._client.state())

    def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        return self._run(self._client.next_event(timeout))

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self._client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
