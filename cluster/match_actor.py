"""``MatchActor``: the Ray actor that hosts one match (or K packed matches) for any Serve replica.

A thin async wrapper over ``MatchHost`` (docs/operations.md): replicas
send it coalesced request batches (``handle_batch``: many matches' requests in one call, each answered
on its own, a rejected one as a wire error) and keep one event long-poll open on it (``poll``).
``create`` is the directory's door for placing a match. Finished matches go to the ``HistoryActor``
and are then released to the directory, which recycles an emptied actor into its pool.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import ray

from fraudarena.arena.memo import scale_for_matches, set_memo_scale
from fraudarena.cluster import naming
from fraudarena.cluster.heap import freeze_startup_heap
from fraudarena.served.live_match import set_conn_probe
from fraudarena.served.match_host import MatchHost
from fraudarena.served.memtrace import HeapTrace
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0)
class MatchActor:
    def __init__(self, settings: dict[str, Any], key: str, capacity: int, directory=None) -> None:
        self.settings = ArenaSettings(**settings)
        self.key = key
        self.directory = directory
        self._history = None
        set_memo_scale(scale_for_matches(capacity))  # memo caches sized for this actor's matches, not training's
        set_conn_probe(naming.conn_alive)  # seats of a dead replica's sockets are free (docs/protocol.md#reconnecting)
        self.host = MatchHost(self.settings, capacity, on_archive=self._archive, on_summary=self._summary)
        self._heap = HeapTrace(self.settings.debug_memory)
        self._released = asyncio.Event()  # set by ``recycle``: ends the watches of the busy period before it
        self._watching = 0  # ``watch`` calls pending here
        freeze_startup_heap()

    async def ready(self) -> str:
        return self.key

    @ray.method(enable_task_events=False)  # per busy period; see handle_batch
    async def watch(self, wait_s: float) -> bool:
        """Answer after ``wait_s`` (True), or at once when the actor is recycled (False): the directory keeps one
        pending on a busy actor to learn at once that it died. Cancelling the directory's await does not end the
        call here, so a recycle must: each match would otherwise leave a call pending in both processes for
        ``wait_s`` (docs/operations.md#memory)."""
        released = self._released
        self._watching += 1
        try:
            await asyncio.wait_for(released.wait(), wait_s)
            return False
        except TimeoutError:
            return True
        finally:
            self._watching -= 1

    # ----- hooks -------------------------------------------------------------------------------------
    async def _archive(self, entries: list[dict[str, Any]]) -> None:
        for attempt in range(3):
            try:
                if self._history is None:
                    self._history = naming.history_handle(self.settings)
                await self._history.append.remote(entries)
                break
            except Exception:  # the history actor restarts; re-resolve it by name
                log.exception("archiving failed (attempt %d)", attempt + 1)
                self._history = None
        released = [e["match_id"] for e in entries if not e.get("keep_live")]  # finished ones linger here
        if self.directory is not None and released:
            self.directory.released.remote(self.key, released)

    def _summary(self, summaries: list[dict[str, Any]]) -> None:
        if self.directory is not None:
            self.directory.update.remote(summaries)

    # ----- requests ----------------------------------------------------------------------------------
    @ray.method(enable_task_events=False)
    async def handle_batch(self, requests: list[list[Any]], replica: str | None = None) -> dict[str, Any]:
        """``MatchHost.handle_batch``: each ``[op, match_id, *args]`` answered in order, errors as data.

        The hot path: no task events are recorded for it (nor for ``poll`` and ``watch``), which saves about a
        seventh of Ray's CPU per call (``benchmarks/bench_actor_call.py``); the dashboard's task list does not
        show these calls (docs/operations.md#capacity-per-node-and-what-to-watch)."""
        return await self.host.handle_batch(requests, replica)

    @ray.method(enable_task_events=False)
    async def poll(self, subs, wait_s=None, replica=None):
        return await self.host.poll(subs, wait_s, replica)

    async def create(self, match_id, role, conn, params, house_bots):
        """Place a new match here (the directory's call); the answer or its wire error."""
        out = await self.host.handle_batch([["create", match_id, role, conn, params, house_bots]])
        return out["results"][0]

    async def restore(self, match_id: str, keep_conns: bool = True) -> dict[str, Any]:
        """Rebuild ``match_id`` here from its journal (the directory's call after its actor died)."""
        out = await self.host.handle_batch([["restore", match_id, keep_conns]])
        return out["results"][0]

    async def recycle(self) -> dict[str, Any]:
        """Drop everything from earlier matches; the actor goes back to the pool."""
        self.host.clear()
        self._released.set()
        self._released = asyncio.Event()
        return self.host.debug_info()

    async def debug_info(self) -> dict[str, Any]:
        info = self.host.debug_info()
        info["key"] = self.key
        info["actor_id"] = ray.get_runtime_context().get_actor_id()
        info["calls"] = self.host.call_counts()
        info["watches"] = self._watching
        info["gc_frozen"] = gc.get_freeze_count()  # start-up objects kept out of collections (cluster/heap.py)
        return info

    async def debug_memory(self, baseline: bool = False, top: int = 15) -> dict[str, Any]:
        """This actor's heap report (``debug_memory``; empty when off) and the sizes of its host's tables."""
        return {"key": self.key, "heap": self._heap.report(baseline, top),
                "host": {**self.host.table_sizes(), "watches": self._watching}}
