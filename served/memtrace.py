"""Where a process's Python heap grew: ``tracemalloc`` snapshots, and the fill of the game's memo caches.

Used by the ``debug_memory`` setting (docs/operations.md#memory): the Serve replica, the directory and every
match actor each keep a :class:`HeapTrace`; ``GET /api/v1/debug/memory`` gathers their reports, and
``benchmarks/soak.py --debug-memory`` prints them. A report is the traced total, the allocation sites that
grew most since the baseline snapshot, and the fill of the bounded memo caches of the rules and the house
bots (``arena/memo.py``: their entries grow with the texts seen until the bound, then stay there).
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from fraudarena.arena.memo import memo_caches

FRAMES = 10  # traceback depth of each traced allocation


class HeapTrace:
    """Allocation tracing of this process (started once; allocation-heavy code runs several times slower)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._baseline: tracemalloc.Snapshot | None = None
        if enabled and not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)

    @property
    def active(self) -> bool:
        return self.enabled and tracemalloc.is_tracing()

    def report(self, baseline: bool = False, top: int = 15) -> dict[str, Any] | None:
        """The traced heap; with ``baseline`` (or on the first call) the snapshot later reports compare with.

        None when tracing is off. Sites carry file:line frames only: reading source lines would fill
        ``linecache`` and grow the heap being measured.
        """
        if not self.active:
            return None
        gc.collect()
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
        current, peak = tracemalloc.get_traced_memory()
        out: dict[str, Any] = {"traced_kib": round(current / 1024, 1), "peak_kib": round(peak / 1024, 1),
                               "memo_caches": memo_caches()}
        if baseline or self._baseline is None:
            self._baseline = snap
            out["baseline"] = "taken"
            return out
        stats = snap.compare_to(self._baseline, "traceback")
        out["growth_kib"] = round(sum(s.size_diff for s in stats) / 1024, 1)
        out["sites"] = [{"kib": round(s.size_diff / 1024, 1), "blocks": s.count_diff,
                         "traceback": [f"{f.filename}:{f.lineno}" for f in s.traceback]}
                        for s in stats[:max(1, min(top, 100))]]
        return out
