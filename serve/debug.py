"""Diagnostics of one replica, each off unless its setting is on (then the route answers 404).

``GET /api/v1/debug/calls`` (``debug_calls``, for benchmarks/bench_serve.py): counters since the replica
started (docs/operations.md): ``batches`` (coalesced ``handle_batch`` calls), ``requests`` (the requests
inside them), ``polls`` (event long-polls) and ``obs_from_events`` (``obs`` requests answered from the
observation that came with an event, no call).

``GET /api/v1/debug/memory`` (``debug_memory``, for benchmarks/soak.py): the replica traces its Python
allocations from start (``tracemalloc``); ``?baseline=true`` takes the snapshot later answers compare with,
and every answer gives the traced total, the allocation sites that grew most since the baseline, and the
sizes of the backend's per-match and per-actor tables (``caches``).
"""

from __future__ import annotations

import gc
import tracemalloc
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


def start_memory_tracing(enabled: bool) -> None:
    """Start ``tracemalloc`` (10 frames) in this process if ``enabled`` and it is not running yet."""
    if enabled and not tracemalloc.is_tracing():
        tracemalloc.start(10)


@router.get("/debug/memory", include_in_schema=False)
async def debug_memory(request: Request, baseline: bool = False, top: int = 15) -> dict[str, Any]:
    """Traced Python memory and the sites that grew most since the baseline (404 unless ``debug_memory``)."""
    state = request.app.state
    if not state.settings.debug_memory or not tracemalloc.is_tracing():
        raise HTTPException(status_code=404, detail="not found")
    gc.collect()
    snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    current, peak = tracemalloc.get_traced_memory()
    out: dict[str, Any] = {"traced_kib": round(current / 1024, 1), "peak_kib": round(peak / 1024, 1)}
    sizes = getattr(state.backend, "cache_sizes", None)
    if sizes is not None:  # what the backend keeps per match or per actor: each should follow the live matches
        out["caches"] = sizes()
    if baseline or getattr(state, "memory_baseline", None) is None:
        state.memory_baseline = snap
        out["baseline"] = "taken"
        return out
    stats = snap.compare_to(state.memory_baseline, "traceback")
    out["growth_kib"] = round(sum(s.size_diff for s in stats) / 1024, 1)
    out["sites"] = [{"kib": round(s.size_diff / 1024, 1), "blocks": s.count_diff,
                     "traceback": [f"{f.filename}:{f.lineno}" for f in s.traceback]}  # no source lines: linecache
                    for s in stats[:max(1, min(top, 100))]]                            # would grow the heap
    return out
