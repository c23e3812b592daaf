"""``POST /mcp``: a read-only MCP (JSON-RPC 2.0) endpoint, the one OpenEnv's runtime validator checks.

OpenEnv servers answer MCP's JSON-RPC at ``/mcp`` (``openenv validate --url`` requires a 200 with a
``"jsonrpc": "2.0"`` body, even for an empty request). Play stays on the WebSockets; here an agent or
tool can look the arena up: ``initialize``, ``ping``, ``tools/list`` and ``tools/call`` of five read-only
tools (``arena_info``, ``list_tasks``, ``list_live_matches``, ``get_match``, ``match_report``).

Every JSON-RPC outcome is HTTP 200 with a JSON-RPC response (a bad request is a JSON-RPC error, as in the
stock OpenEnv server); a notification (no ``id``) gets 202 and no body. The request goes through the REST
rate limit and ``read_body`` (413 past ``max_frame_bytes``); too deeply nested JSON is a parse error.
A failing tool (unknown match, say) is a result with ``isError: true``, per MCP.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

import fraudarena
from fraudarena.arena import spec
from fraudarena.serve import frames, rest, schemas
from fraudarena.served.errors import ProtocolError

log = logging.getLogger(__name__)
MCP_PROTOCOL_VERSION = "2025-06-18"
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700, -32600, -32601, -32602, -32603)


class JsonRpcError(Exception):
    """A JSON-RPC error answer (the one error type of this boundary)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.data = data

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


RequestId = Annotated[str, StringConstraints(max_length=128)] | int


class JsonRpcRequest(BaseModel):
    """One JSON-RPC 2.0 request or notification."""

    model_config = ConfigDict(extra="forbid")

    jsonrpc: Literal["2.0"]
    method: Annotated[str, StringConstraints(max_length=128)]
    params: dict[str, Any] | None = None
    id: RequestId | None = None


class ToolCall(BaseModel):
    """``tools/call`` params."""

    model_config = ConfigDict(extra="ignore")

    name: Annotated[str, StringConstraints(max_length=64)]
    arguments: dict[str, Any] = Field(default_factory=dict)


class NoArgs(BaseModel):
    """Arguments of a tool that takes none."""

    model_config = ConfigDict(extra="forbid")


class MatchArgs(BaseModel):
    """Arguments of a tool about one match."""

    model_config = ConfigDict(extra="forbid")

    match_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


_MATCH_SCHEMA = {"type": "object", "properties": {"match_id": {"type": "string", "maxLength": 64}},
                 "required": ["match_id"], "additionalProperties": False}
_NO_ARGS_SCHEMA = {"type": "object", "properties": {}, "additionalProperties": False}
TOOLS: dict[str, tuple[str, type[BaseModel], dict[str, Any]]] = {
    "arena_info": ("Server name, versions, roles, task ids and endpoints.", NoArgs, _NO_ARGS_SCHEMA),
    "list_tasks": ("The tasks and their rule knobs (caps, budgets, category pools).", NoArgs, _NO_ARGS_SCHEMA),
    "list_live_matches": ("Summaries of the live matches (phase, round, seats).", NoArgs, _NO_ARGS_SCHEMA),
    "get_match": ("Summary of one live or archived match.", MatchArgs, _MATCH_SCHEMA),
    "match_report": ("The full record of a finished match (after done).", MatchArgs, _MATCH_SCHEMA),
}


def tool_list() -> list[dict[str, Any]]:
    """The ``tools/list`` result entries."""
    return [{"name": name, "description": desc, "inputSchema": schema,
             "annotations": {"readOnlyHint": True}} for name, (desc, _, schema) in TOOLS.items()]


async def run_tool(request: Request, name: str, args: BaseModel) -> Any:
    """Run one tool; raises ``ProtocolError`` from the backend."""
    backend = request.app.state.backend
    if name == "arena_info":
        return await rest.info(request)
    if name == "list_tasks":
        return {task_id: {k: v for k, v in knobs.items() if k != "schemas"}
                for task_id, knobs in schemas.task_table().items()}
    if name == "list_live_matches":
        return {"matches": await backend.list_live()}
    assert isinstance(args, MatchArgs)
    if name == "get_match":  # bounded like REST: a stalled archive answers unavailable, it does not hang
        return await rest.bounded(request, backend.get_match(args.match_id))
    return await rest.bounded(request, backend.report(args.match_id))


async def call_tool(request: Request, params: dict[str, Any]) -> dict[str, Any]:
    try:
        call = ToolCall.model_validate(params)
    except ValidationError as exc:
        raise JsonRpcError(INVALID_PARAMS, "tools/call needs params.name (and optional arguments)",
                           frames.validation_details(exc)) from None
    if call.name not in TOOLS:
        raise JsonRpcError(INVALID_PARAMS, f"unknown tool {call.name!r}; see tools/list")
    try:
        args = TOOLS[call.name][1].model_validate(call.arguments)
    except ValidationError as exc:
        raise JsonRpcError(INVALID_PARAMS, f"invalid arguments for {call.name}",
                           frames.validation_details(exc)) from None
    try:
        result = await run_tool(request, call.name, args)
    except ProtocolError as exc:  # a tool-level failure, reported to the model as a result
        return {"content": [{"type": "text", "text": json.dumps({"error": exc.payload()})}],
                "structuredContent": {"error": exc.payload()}, "isError": True}
    return {"content": [{"type": "text", "text": json.dumps(result, separators=(",", ":"))}],
            "structuredContent": result if isinstance(result, dict) else {"result": result}, "isError": False}


async def dispatch(request: Request, rpc: JsonRpcRequest) -> Any:
    """The result of one method call (raises ``JsonRpcError``)."""
    params = rpc.params or {}
    if rpc.method == "initialize":
        version = params.get("protocolVersion")
        return {"protocolVersion": version if isinstance(version, str) else MCP_PROTOCOL_VERSION,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "fraudarena", "version": fraudarena.__version__},
                "instructions": "Read-only look-ups of the FraudArena server (rules version "
                                f"{spec.RULES_VERSION}); play over the WebSockets /ws/<role> or /ws."}
    if rpc.method == "ping":
        return {}
    if rpc.method == "tools/list":
        return {"tools": tool_list()}
    if rpc.method == "tools/call":
        return await call_tool(request, params)
    raise JsonRpcError(METHOD_NOT_FOUND, f"method {rpc.method!r} is not served here")


class _AsciiJSON(JSONResponse):
    """JSON with ASCII escapes: an echoed id holding a lone surrogate (valid JSON text, not UTF-8) cannot fail."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def _answer(request_id: Any, *, result: Any = None, error: JsonRpcError | None = None) -> JSONResponse:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        body["error"] = error.payload()
    else:
        body["result"] = result
    return _AsciiJSON(body)


router = APIRouter(dependencies=[Depends(rest.rest_rate_limit)])


@router.post("/mcp")
async def mcp_endpoint(request: Request) -> Response:
    """One JSON-RPC request in, one JSON-RPC response out (HTTP 200), or 202 for a notification."""
    raw = await rest.read_body(request)  # 413 past max_frame_bytes, through the app's ProtocolError handler
    try:
        obj = frames.loads(raw, request.app.state.settings.max_json_depth, what="body") if raw.strip() else None
    except ProtocolError as exc:
        return _answer(None, error=JsonRpcError(PARSE_ERROR, exc.message))
    request_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str | int) else None
    try:
        rpc = JsonRpcRequest.model_validate(obj)
    except ValidationError as exc:
        return _answer(request_id, error=JsonRpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 request object",
                                                      frames.validation_details(exc)))
    if rpc.id is None:  # a notification (notifications/initialized, ...): no reply, per JSON-RPC
        return Response(status_code=202)
    try:
        result = await dispatch(request, rpc)
    except JsonRpcError as exc:
        return _answer(rpc.id, error=exc)
    except Exception:  # a fault answers this request only
        log.exception("MCP %s failed", rpc.method)
        return _answer(rpc.id, error=JsonRpcError(INTERNAL_ERROR, "internal error"))
    return _answer(rpc.id, result=result)
