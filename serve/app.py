"""``create_app(settings, backend)``: the plain FastAPI app of the served arena (no Serve, no Ray).

It mounts the three role sockets, the OpenEnv ``/ws``, the REST API, the root metadata routes, the
read-only MCP endpoint (``POST /mcp``) and the spectator page (``/``).
Serve wraps it in ``serve.deployment``; the single-process baseline runs it under uvicorn with a
``LocalBackend``; tests drive it with ``TestClient``.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

import fraudarena
from fraudarena.arena.spec import ROLES
from fraudarena.serve import debug, mcp, rest, spectator
from fraudarena.serve.openenv_ws import OpenEnvSession
from fraudarena.serve.ws_session import RoleSession
from fraudarena.served.backend import Backend
from fraudarena.served.errors import ProtocolError
from fraudarena.served.settings import ArenaSettings


def create_app(settings: ArenaSettings, backend: Backend) -> FastAPI:
    """The arena's ASGI app over ``backend`` (Ray actors under Serve, in-process for the baseline)."""
    trace = debug.start_memory_tracing(settings.debug_memory)
    app = FastAPI(title="FraudArena", version=fraudarena.__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.heap_trace = trace
    app.state.backend = backend
    app.state.started_at = time.time()
    app.include_router(rest.api, prefix="/api/v1")
    app.include_router(debug.router, prefix="/api/v1")
    app.include_router(rest.root)
    app.include_router(mcp.router)
    app.include_router(spectator.router)

    @app.exception_handler(ProtocolError)
    async def _protocol_error(_request, exc: ProtocolError) -> JSONResponse:
        return rest.error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"error": {"code": "validation_error", "message": "invalid request",
                                       "details": details}}, status_code=400)

    def role_route(role: str):
        async def endpoint(ws: WebSocket) -> None:
            await RoleSession(ws, role, app.state.backend, app.state.settings).run()

        endpoint.__name__ = f"ws_{role}"
        return endpoint

    for role in ROLES:
        app.add_api_websocket_route(f"/ws/{role}", role_route(role))

    @app.websocket("/ws")
    async def ws_openenv(ws: WebSocket) -> None:
        await OpenEnvSession(ws, app.state.backend, app.state.settings).run()

    return app
