"""Garbage-collector settings of the arena's long-lived Ray processes.

See docs/operations.md#capacity-per-node-and-what-to-watch.

A replica or match actor starts by importing Ray, Serve, FastAPI, pydantic and the arena: hundreds of
thousands of objects that live as long as the process. Python's full collections walk all of them, and the
request path allocates enough (unpickled answers, frames, observations) to trigger those collections
often. ``freeze_startup_heap`` moves everything alive at the end of start-up out of the collector's sight,
as Serve's own ``RAY_SERVE_FREEZE_GC_ON_STARTUP`` does for replicas (on by default in ``fraudarena serve``
through ``RAY_SERVE_THROUGHPUT_OPTIMIZED``; this covers any cluster, and the match actors and the directory).
Measured with ``benchmarks/bench_serve.py``, Serve's flag alone saved the replica about 5 % of its CPU per
match, relative to the clients' CPU in the same runs: small, but free.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect once, then exempt every object alive now from later collections; returns how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
