"""``GET /api/v1/debug/calls``: this replica's calls to its match hosts, for benchmarks/bench_serve.py.

Off unless the arena's ``debug_calls`` setting is true (then it answers 404). The figures are counters
since the replica started (docs/operations.md): ``batches`` (coalesced
``handle_batch`` calls), ``requests`` (the requests inside them), ``polls`` (event long-polls) and
``obs_from_events`` (``obs`` requests answered from the observation that came with an event, no call).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

router = APIRouter()


@router.get("/debug/calls", include_in_schema=False)
async def debug_calls(request: Request) -> dict[str, Any]:
    """Counters of the calls this replica made to match hosts (404 unless ``debug_calls`` is set)."""
    state = request.app.state
    counts = getattr(state.backend, "call_counts", None)
    if not state.settings.debug_calls or counts is None:
        raise HTTPException(status_code=404, detail="not found")
    return {"calls": counts()}
