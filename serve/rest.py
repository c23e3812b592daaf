"""The REST API under ``/api/v1`` (docs/protocol.md#rest-apiv1) and the OpenEnv metadata routes at the root.

Errors are ``{"error": {"code", "message"}}`` with the status of ``served.errors.HTTP_STATUS``;
tokens come only in ``Authorization: Bearer``. Handlers read the backend and settings from
``request.app.state``; nothing here touches Ray.

Request bodies (``POST /matches``, ``POST /mcp``) go through ``read_body``: a declared ``Content-Length``
over ``max_frame_bytes`` is refused (413) before anything is read, and a body without one is counted while
it streams in and refused as soon as it passes the limit. Anonymous match creation has its own, slower
per-client bucket (``create_per_min``, ``create_burst``) on top of the request rate.

Nothing here waits on the archive for long (docs/operations.md#faults-and-recovery): ``/health``
answers ``degraded`` and the archive-backed endpoints answer 503 ``unavailable`` once the backend has
not answered within ``history_timeout_s`` (a stalled or restarting history actor).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

import fraudarena
from fraudarena.arena import spec
from fraudarena.serve import frames, schemas
from fraudarena.serve.ratelimit import TokenBucket
from fraudarena.served.errors import HTTP_STATUS, ErrorCode, ProtocolError

PROTOCOL_VERSION = "fraudarena-ws/1"
ROLE_PATHS = {r: f"/ws/{r}" for r in spec.ROLES}


def error_response(exc: ProtocolError) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message}}
    if exc.details is not None:
        body["error"]["details"] = exc.details
    headers = {}
    if exc.retry_after_ms is not None:
        headers["Retry-After"] = str(max(1, exc.retry_after_ms // 1000))
    return JSONResponse(body, status_code=HTTP_STATUS.get(exc.code, 400), headers=headers)


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    if value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


def ws_urls(request: Request) -> dict[str, str]:
    base = request.app.state.settings.public_url.rstrip("/")
    if not base:
        scheme = "wss" if request.url.scheme == "https" else "ws"
        base = f"{scheme}://{request.url.netloc}"
    return {role: base + path for role, path in ROLE_PATHS.items()}


async def bounded(request: Request, call: Awaitable[Any]) -> Any:
    """Await a backend call that may need the archive; 503 ``unavailable`` after ``history_timeout_s``."""
    timeout = request.app.state.settings.history_timeout_s
    try:
        return await asyncio.wait_for(call, timeout)
    except TimeoutError:
        raise ProtocolError(ErrorCode.UNAVAILABLE, f"the archive did not answer within {timeout:g} s; "
                            "try again later", retry_after_ms=int(timeout * 1000)) from None


async def health_payload(request: Request) -> dict[str, Any]:
    state = request.app.state
    try:
        counts = await asyncio.wait_for(state.backend.counts(), state.settings.history_timeout_s)
        status = "ok"
    except Exception:  # health must answer (quickly) even when an actor is down or stalled
        counts, status = {"live_matches": None, "archived_matches": None}, "degraded"
    return {"status": status, "uptime_s": round(time.time() - state.started_at, 3),
            "max_live_matches": state.settings.max_live_matches, **counts}


MAX_TRACKED_CLIENTS = 10_000


async def rest_rate_limit(request: Request) -> None:
    """Per-client token bucket for the REST API, keyed by client address
    (docs/protocol.md#deadlines-idling-and-limits).

    Over the rate the request is answered 429 ``rate_limited`` with ``Retry-After``; the least recently
    seen clients are forgotten beyond ``MAX_TRACKED_CLIENTS``.
    """
    state = request.app.state
    bucket = _client_bucket(request, "rest_buckets", state.settings.rate_per_s, state.settings.rate_burst)
    wait_ms = bucket.admit()
    if wait_ms is not None:
        raise ProtocolError(ErrorCode.RATE_LIMITED, f"over {state.settings.rate_per_s:g} requests/s; retry later",
                            retry_after_ms=wait_ms)


def _client_bucket(request: Request, attr: str, rate_per_s: float, burst: int) -> TokenBucket:
    """The ``attr`` bucket of this request's client address (least recently seen forgotten first)."""
    state = request.app.state
    buckets: OrderedDict[str, TokenBucket] | None = getattr(state, attr, None)
    if buckets is None:
        buckets = OrderedDict()
        setattr(state, attr, buckets)
    key = request.client.host if request.client else "unknown"
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = TokenBucket(rate_per_s, burst, close_after=1 << 30)
        if len(buckets) > MAX_TRACKED_CLIENTS:
            buckets.popitem(last=False)
    else:
        buckets.move_to_end(key)
    return bucket


def check_create_rate(request: Request) -> None:
    """Anonymous match creation per client address: ``create_burst``, then ``create_per_min`` a minute."""
    settings = request.app.state.settings
    bucket = _client_bucket(request, "create_buckets", settings.create_per_min / 60.0, settings.create_burst)
    wait_ms = bucket.admit()
    if wait_ms is not None:
        raise ProtocolError(ErrorCode.RATE_LIMITED, f"over {settings.create_per_min:g} anonymous match creations "
                            "per minute from this address; retry later", retry_after_ms=wait_ms)


async def read_body(request: Request) -> bytes:
    """The request body, refused with ``message_too_large`` (413) once it exceeds ``max_frame_bytes``.

    A declared ``Content-Length`` over the limit is refused before any byte is read; otherwise the bytes
    are counted while they stream in and reading stops at the first chunk past the limit.
    """
    limit = request.app.state.settings.max_frame_bytes
    too_large = ProtocolError(ErrorCode.MESSAGE_TOO_LARGE, f"request body over {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:  # the body ended early: answer (nobody reads it) rather than log a fault
        raise ProtocolError(ErrorCode.VALIDATION_ERROR, "request body cut off: the client disconnected") from None
    return b"".join(chunks)


async def read_json(request: Request) -> Any:
    """``read_body`` then ``frames.loads`` (``invalid_json`` for bad or too deeply nested JSON); {} if empty."""
    raw = await read_body(request)
    if not raw.strip():
        return {}
    return frames.loads(raw, request.app.state.settings.max_json_depth, what="body")


api = APIRouter(dependencies=[Depends(rest_rate_limit)])


@api.get("/info")
async def info(request: Request) -> dict[str, Any]:
    return {"name": "fraudarena", "version": fraudarena.__version__, "rules_version": spec.RULES_VERSION,
            "protocol_version": PROTOCOL_VERSION, "roles": list(spec.ROLES), "task_ids": list(spec.TASK_IDS),
            "open_seats": request.app.state.settings.open_seats,
            "endpoints": {"ws": {**ROLE_PATHS, "openenv": "/ws"}, "rest": "/api/v1"}}


@api.get("/tasks")
async def tasks() -> dict[str, Any]:
    return {"tasks": schemas.task_table()}


@api.get("/health")
async def health(request: Request) -> dict[str, Any]:
    return await health_payload(request)


@api.post("/matches", status_code=201)
async def create_match(request: Request) -> Any:
    try:
        body = await read_json(request)
        data = frames.validate_reset(body)
        settings = request.app.state.settings
        bots = frames.resolve_house_bots(dict(data.house_bots or {}), settings.policies, llm_bots=settings.llm_bots)
        params = data.params()
        check_create_rate(request)
        out = await request.app.state.backend.create(None, None, params, bots)
    except ProtocolError as exc:
        return error_response(exc)
    summary = out["summary"]
    return JSONResponse({"match_id": out["match_id"], "task_id": summary["task_id"], "phase": summary["phase"],
                         "round_number": summary["round_number"], "seat_tokens": out["seat_tokens"],
                         "admin_token": out["admin_token"], "ws": ws_urls(request)}, status_code=201)


@api.get("/matches")
async def list_matches(request: Request) -> dict[str, Any]:
    return {"matches": await request.app.state.backend.list_live()}


@api.get("/matches/{match_id}")
async def get_match(match_id: str, request: Request) -> Any:
    try:
        return await bounded(request, request.app.state.backend.get_match(match_id))
    except ProtocolError as exc:
        return error_response(exc)


@api.get("/matches/{match_id}/events")
async def match_events(match_id: str, request: Request) -> Any:
    try:
        events = await bounded(request, request.app.state.backend.events(match_id, bearer(request)))
        return {"match_id": match_id, "events": events}
    except ProtocolError as exc:
        return error_response(exc)


@api.get("/matches/{match_id}/report")
async def match_report(match_id: str, request: Request) -> Any:
    try:
        return await bounded(request, request.app.state.backend.report(match_id))
    except ProtocolError as exc:
        return error_response(exc)


@api.delete("/matches/{match_id}")
async def delete_match(match_id: str, request: Request) -> Any:
    try:
        await bounded(request, request.app.state.backend.delete(match_id, bearer(request)))
    except ProtocolError as exc:
        return error_response(exc)
    return Response(status_code=204)


@api.get("/archive")
async def archive(request: Request, limit: str = "50") -> Any:
    try:
        n = int(limit)
    except ValueError:
        n = 0
    if not 1 <= n <= 1000:
        return error_response(ProtocolError(ErrorCode.VALIDATION_ERROR, "limit must be an integer in 1..1000",
                                            [{"loc": ["query", "limit"], "msg": "expected 1..1000"}]))
    try:
        return {"matches": await bounded(request, request.app.state.backend.archive(n))}
    except ProtocolError as exc:
        return error_response(exc)


root = APIRouter()


@root.get("/health")
async def root_health(request: Request) -> dict[str, Any]:
    payload = await health_payload(request)
    payload["status"] = "healthy" if payload["status"] == "ok" else "degraded"
    return payload


@root.get("/metadata")
async def metadata() -> dict[str, Any]:
    return {"name": "fraudarena", "description": "FraudArena: play the Investigator of a three-role ad-fraud "
            "review game against house bots (OpenEnv-compatible /ws).", "version": fraudarena.__version__,
            "author": "FraudArena contributors", "documentation_url": None, "readme_content": None}


@root.get("/schema")
async def schema() -> dict[str, Any]:
    return schemas.openenv_schema()
