"""Diagnostics of one replica, each off unless its setting is on (then the route answers 404).

``GET /api/v1/debug/calls`` (``debug_calls``, for benchmarks/bench_serve.py): counters since the replica
started (docs/operations.md): ``batches`` (coalesced ``handle_batch`` calls), ``requests`` (the requests
inside them), ``polls`` (event long-polls) and ``obs_from_events`` (``obs`` requests answered from the
observation that came with an event, no call).

``GET /api/v1/debug/memory`` (``debug_memory``, for benchmarks/soak.py): the replica traces its Python
allocations from start (``tracemalloc``); ``?baseline=true`` takes the snapshot later answers compare with,
and every answer gives the traced total, the allocation sites that grew most since the baseline, the fill
of the game's memo caches, and the sizes of the backend's per-match and per-actor tables (``caches``).
Under Ray, the directory and every match actor trace their own heaps too, and their reports come along
(``processes``; ``served/memtrace.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from fraudarena.served.memtrace import HeapTrace

router = APIRouter()


@router.get("/debug/calls", include_in_schema=False)
async def debug_calls(request: Request) -> dict[str, Any]:
    """Counters of the calls this replica made to match hosts (404 unless ``debug_calls`` is set)."""
    state = request.app.state
    counts = getattr(state.backend, "call_counts", None)
    if not state.settings.debug_calls or counts is None:
        raise HTTPException(status_code=404, detail="not found")
    return {"calls": counts()}


def start_memory_tracing(enabled: bool) -> HeapTrace:
    """This replica's allocation tracing (on only with ``debug_memory``)."""
    return HeapTrace(enabled)


@router.get("/debug/memory", include_in_schema=False)
async def debug_memory(request: Request, baseline: bool = False, top: int = 15) -> dict[str, Any]:
    """Traced Python memory and the sites that grew most since the baseline (404 unless ``debug_memory``).

    Under Ray the directory's and every match actor's reports come with it (``processes``).
    """
    state = request.app.state
    trace: HeapTrace | None = getattr(state, "heap_trace", None)
    out = trace.report(baseline, top) if trace is not None and state.settings.debug_memory else None
    if out is None:
        raise HTTPException(status_code=404, detail="not found")
    sizes = getattr(state.backend, "cache_sizes", None)
    if sizes is not None:  # what the backend keeps per match or per actor: each should follow the live matches
        out["caches"] = sizes()
    others = getattr(state.backend, "debug_memory", None)
    if others is not None:
        out["processes"] = await others(baseline, top)
    return out
