"""``DirectoryActor``: live matches → match actors, the pool of pre-started actors, and the live-match cap.

One named detached actor per arena instance. It creates every match (so ``max_live_matches`` is
counted in one place), places it on a packed actor with room or on an idle pooled actor, answers
"which actor holds match X" and "list live matches" from summaries that match actors push on each
public change (no fan-out call per request), and recycles actors whose matches have all ended. Match
actors are owned by the directory, so killing it releases them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import ray

from fraudarena.cluster.match_actor import MatchActor
from fraudarena.served import tokens
from fraudarena.served.errors import ErrorCode, ProtocolError, is_wire_error
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)
REFILL_PARALLEL = 4  # pool actors started concurrently
POOL_READY = 4  # pooled actors a replica waits for before it serves (the rest start in the background)


@dataclass
class _ActorSlot:
    key: str
    handle: Any
    matches: set[str] = field(default_factory=set)


@ray.remote(num_cpus=0)
class DirectoryActor:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = ArenaSettings(**settings)
        self.live: dict[str, dict[str, Any]] = {}  # match_id -> {"actor": key, "summary": {...}}
        self.actors: dict[str, _ActorSlot] = {}  # actors holding >= 1 match
        self.pool: list[_ActorSlot] = []  # idle, pre-started
        self._starting = 0
        self._counter = itertools.count(1)
        self._refill: asyncio.Task | None = None
        self._self_handle = None

    def fingerprint(self) -> str:
        return self.settings.model_dump_json()

    # ----- pool --------------------------------------------------------------------------------------
    def _me(self):
        if self._self_handle is None:
            self._self_handle = ray.get_runtime_context().current_actor
        return self._self_handle

    async def _start_actor(self) -> _ActorSlot:
        key = f"a{next(self._counter)}"
        handle = MatchActor.options(num_cpus=0, max_concurrency=self.settings.actor_max_concurrency).remote(
            self.settings.model_dump(), key, self.settings.matches_per_actor, self._me())
        await handle.ready.remote()
        return _ActorSlot(key, handle)

    async def _refill_loop(self) -> None:
        # A few starts in flight at once: one at a time leaves the raylet's worker-start slots (one per CPU) idle.
        while (missing := self.settings.pool_size - len(self.pool) - self._starting) > 0:
            batch = min(REFILL_PARALLEL, missing)
            self._starting += batch
            try:
                started = await asyncio.gather(*(self._start_actor() for _ in range(batch)), return_exceptions=True)
            finally:
                self._starting -= batch
            self.pool.extend(s for s in started if isinstance(s, _ActorSlot))
            failed = [s for s in started if not isinstance(s, _ActorSlot)]
            if failed:
                raise failed[0]

    def _kick_refill(self) -> None:
        if (self._refill is None or self._refill.done()) and len(self.pool) < self.settings.pool_size:
            self._refill = asyncio.get_running_loop().create_task(self._refill_loop())

    async def ensure_pool(self, wait_for: int = POOL_READY) -> int:
        """Start filling the pool (if needed); wait until it holds ``wait_for`` actors (or the fill ended).

        Replicas call this before serving, so the first ``reset`` finds a started actor; the rest of a
        large pool (hundreds of ~1 s process starts on a small node) fills in the background instead of
        holding the deployment back.
        """
        self._kick_refill()
        want = min(wait_for, self.settings.pool_size)
        while len(self.pool) < want and self._refill is not None and not self._refill.done():
            await asyncio.wait([self._refill], timeout=0.05)
        if self._refill is not None and self._refill.done():
            with contextlib.suppress(Exception):
                self._refill.result()
        return len(self.pool)

    async def _place(self) -> _ActorSlot:
        k = self.settings.matches_per_actor
        if k > 1:
            fits = [s for s in self.actors.values() if len(s.matches) < k]
            if fits:
                return max(fits, key=lambda s: len(s.matches))
        if self.pool:
            slot = self.pool.pop()
        else:
            slot = await self._start_actor()
        self.actors[slot.key] = slot
        self._kick_refill()
        return slot

    # ----- matches -----------------------------------------------------------------------------------
    async def create_match(self, role: str | None, conn: str | None, params: dict[str, Any],
                           house_bots: dict[str, str]) -> dict[str, Any]:
        if len(self.live) >= self.settings.max_live_matches:
            return ProtocolError(ErrorCode.CAPACITY,
                                 f"{self.settings.max_live_matches} matches are live; try again later",
                                 retry_after_ms=5000).to_wire()
        match_id = tokens.new_match_id()
        self.live[match_id] = {"actor": None, "summary": None}  # reserve the capacity now
        try:
            slot = await self._place()
        except Exception as exc:
            del self.live[match_id]
            return ProtocolError(ErrorCode.RESET_ERROR, f"no match actor available: {exc}").to_wire()
        slot.matches.add(match_id)
        self.live[match_id]["actor"] = slot.key
        out = await slot.handle.create.remote(match_id, role, conn, params, house_bots)
        if is_wire_error(out):
            del self.live[match_id]
            await self._drop(slot, match_id)
            return out
        if self.live.get(match_id, {}).get("summary") is None and match_id in self.live:
            self.live[match_id]["summary"] = out.get("summary")
        out["actor"] = slot.handle
        return out

    def update(self, summaries: list[dict[str, Any]]) -> None:
        """Public summaries pushed by match actors (batched, on phase/round/seat changes)."""
        for summary in summaries:
            entry = self.live.get(summary["match_id"])
            if entry is not None:
                entry["summary"] = summary

    def lookup(self, match_id: str):
        entry = self.live.get(match_id)
        if entry is None or entry["actor"] is None:
            return None
        slot = self.actors.get(entry["actor"])
        return None if slot is None else slot.handle

    async def released(self, key: str, match_ids: list[str]) -> None:
        slot = self.actors.get(key)
        for mid in match_ids:
            self.live.pop(mid, None)
            if slot is not None:
                await self._drop(slot, mid)

    async def _drop(self, slot: _ActorSlot, match_id: str) -> None:
        slot.matches.discard(match_id)
        if slot.matches or self.actors.get(slot.key) is not slot:
            return
        del self.actors[slot.key]
        if len(self.pool) < self.settings.pool_size:
            try:
                await slot.handle.recycle.remote()
            except Exception:  # a dead actor is simply not pooled again
                return
            self.pool.append(slot)
        else:
            ray.kill(slot.handle)

    def list_live(self) -> list[dict[str, Any]]:
        return [e["summary"] for e in self.live.values() if e["summary"] is not None]

    def live_summary(self, match_id: str) -> dict[str, Any] | None:
        entry = self.live.get(match_id)
        return None if entry is None else entry["summary"]

    def count(self) -> int:
        return len(self.live)

    def stats(self) -> dict[str, Any]:
        return {"live": len(self.live), "busy_actors": len(self.actors), "pool": len(self.pool),
                "matches_per_actor": self.settings.matches_per_actor,
                "actor_keys": sorted(self.actors), "pool_keys": [s.key for s in self.pool]}

    async def shutdown(self) -> None:
        """Kill every match actor (called before this actor is replaced or the arena stops)."""
        for slot in [*self.actors.values(), *self.pool]:
            with contextlib.suppress(Exception):
                ray.kill(slot.handle)
        self.actors.clear()
        self.pool.clear()
        self.live.clear()
