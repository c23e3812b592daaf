"""``DirectoryActor``: live matches → match actors, the pool of pre-started actors, and the live-match cap.

One named detached actor per arena instance. It creates every match (so ``max_live_matches`` is
counted in one place), places it on a packed actor with room or on an idle pooled actor, answers
"which actor holds match X" and "list live matches" from summaries that match actors push on each
public change (no fan-out call per request), and recycles actors whose matches have all ended. Match
actors are owned by the directory, so killing it releases them all.

A recycled actor goes back to the pool even when the pool already holds ``pool_size`` idle actors; the
extras are stopped only when the pool held more than ``pool_size`` actors for a whole ``pool_idle_s`` (its
low-water mark over that window, so load that swings the pool around ``pool_size`` stops and starts
nothing). Before, an ended match's actor was killed whenever
the pool was full while every new match started a fresh actor to refill it, so under steady load each
match meant a new actor, and each new actor a replica calls leaves state in Ray's core worker that Ray
never frees (about 15 KB per actor; ray-project/ray#9342): the replica grew with every match.

Faults (docs/operations.md#faults-and-recovery): every busy actor is watched by one pending ``watch``
call; when the actor dies (or a replica's call finds it dead and asks ``recover``), each of its matches
is rebuilt from its journal on another actor and the route is switched, so the seats play on with their
tokens. A match that cannot be rebuilt is archived as ``lost`` with its record so far and frees its
slot. Journals left by an earlier run (a stop or a crash of everything) are picked up at start: finished
matches are archived, unfinished ones are live again with their seats waiting for a rejoin.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorDiedError, RayActorError

from fraudarena.cluster import naming
from fraudarena.cluster.heap import freeze_startup_heap
from fraudarena.cluster.match_actor import MatchActor
from fraudarena.served import tokens
from fraudarena.served.admission import check_admission, is_unjoined
from fraudarena.served.errors import ErrorCode, ProtocolError, is_wire_error
from fraudarena.served.journal import journal_file, pending_journals, read_journal
from fraudarena.served.live_match import LOST, LiveMatch
from fraudarena.served.memtrace import HeapTrace
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)
REFILL_PARALLEL = 4  # pool actors started concurrently
POOL_READY = 4  # pooled actors a replica waits for before it serves (the rest start in the background)
WATCH_S = 600.0  # length of one ``watch`` call on a busy actor (it is renewed; it fails at once on death)


@dataclass
class _ActorSlot:
    key: str
    handle: Any
    matches: set[str] = field(default_factory=set)


@ray.remote(num_cpus=0)
class DirectoryActor:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = ArenaSettings(**settings)
        self.journal_dir = self.settings.journal_path(ray_default=True)
        # Match actors get the journal directory spelled out (their hosts journal only when it is set).
        self.actor_settings = self.settings.model_copy(
            update={"journal_dir": str(self.journal_dir) if self.journal_dir is not None else "off"}).model_dump()
        self._watches: dict[str, asyncio.Task] = {}  # actor key -> its death watch
        self._recovering: dict[str, asyncio.Task] = {}  # actor key -> the rebuild of its matches
        self._leftovers: asyncio.Task | None = None
        self._rebuilding: dict[str, asyncio.Event] = {}  # match id -> set when its rebuild has ended
        self.rebuilt = 0  # matches rebuilt from their journal (stats)
        self.lost = 0  # matches archived as lost
        self.live: dict[str, dict[str, Any]] = {}  # match_id -> {"actor": key, "summary": {...}}
        self.actors: dict[str, _ActorSlot] = {}  # actors holding >= 1 match
        self.pool: list[_ActorSlot] = []  # idle, pre-started
        self._starting = 0
        self._counter = itertools.count(1)
        self._refill: asyncio.Task | None = None
        self._trim: asyncio.Task | None = None
        self._pool_low = 0  # the pool's smallest size since the trim window began
        self.started_actors = 0  # match actors started / stopped by the pool (stats)
        self.stopped_actors = 0
        self._self_handle = None
        self._heap = HeapTrace(self.settings.debug_memory)
        freeze_startup_heap()

    def fingerprint(self) -> str:
        return self.settings.model_dump_json()

    # ----- pool --------------------------------------------------------------------------------------
    def _me(self):
        if self._self_handle is None:
            self._self_handle = ray.get_runtime_context().current_actor
        return self._self_handle

    async def _start_actor(self) -> _ActorSlot:
        key = f"a{next(self._counter)}"
        handle = MatchActor.options(num_cpus=0, max_concurrency=self.settings.actor_max_concurrency,
                                    resources=dict(self.settings.match_actor_resources)).remote(
            self.actor_settings, key, self.settings.matches_per_actor, self._me())
        await handle.ready.remote()
        self.started_actors += 1
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
        self._boot()
        want = min(wait_for, self.settings.pool_size)
        while len(self.pool) < want and self._refill is not None and not self._refill.done():
            await asyncio.wait([self._refill], timeout=0.05)
        if self._refill is not None and self._refill.done():
            with contextlib.suppress(Exception):
                self._refill.result()
        return len(self.pool)

    def _boot(self) -> None:
        """Once per directory process (a first start, or Ray's restart of a killed directory): make every
        match with a journal on disk live again. Their ids are reserved at once, so lookups wait for them."""
        if self._leftovers is not None or self.journal_dir is None:
            return
        leftovers = [m for m in pending_journals(self.journal_dir) if m not in self.live]
        for match_id in leftovers[: max(0, self.settings.max_live_matches - len(self.live))]:
            self.live[match_id] = {"actor": None, "summary": None}
            self._rebuilding[match_id] = asyncio.Event()
        self._leftovers = asyncio.get_running_loop().create_task(
            self._recover_leftovers([m for m in leftovers if m in self._rebuilding]))

    async def _place(self) -> _ActorSlot:
        k = self.settings.matches_per_actor
        if k > 1:
            fits = [s for s in self.actors.values() if len(s.matches) < k]
            if fits:
                return max(fits, key=lambda s: len(s.matches))
        if self.pool:
            slot = self.pool.pop()
            self._pool_low = min(self._pool_low, len(self.pool))
        else:
            slot = await self._start_actor()
        self.actors[slot.key] = slot
        self._watch(slot)
        self._kick_refill()
        return slot

    # ----- matches -----------------------------------------------------------------------------------
    async def create_match(self, role: str | None, conn: str | None, params: dict[str, Any],
                           house_bots: dict[str, str]) -> dict[str, Any]:
        self._boot()
        if len(self.live) >= self.settings.max_live_matches:
            return ProtocolError(ErrorCode.CAPACITY,
                                 f"{self.settings.max_live_matches} matches are live; try again later",
                                 retry_after_ms=5000).to_wire()
        anonymous = role is None
        try:
            check_admission(self.settings, anonymous, self._unjoined_anonymous())
        except ProtocolError as exc:
            return exc.to_wire()
        match_id = tokens.new_match_id()
        self.live[match_id] = {"actor": None, "summary": None, "anonymous": anonymous}  # reserve the capacity now
        try:
            slot = await self._place()
        except Exception as exc:
            del self.live[match_id]
            return ProtocolError(ErrorCode.RESET_ERROR, f"no match actor available: {exc}").to_wire()
        slot.matches.add(match_id)
        self.live[match_id]["actor"] = slot.key
        try:
            out = await slot.handle.create.remote(match_id, role, conn, params, house_bots)
        except RayActorError:  # the actor died before the match existed: nothing to rebuild
            del self.live[match_id]
            await self._drop(slot, match_id)
            return ProtocolError(ErrorCode.RESET_ERROR, "the match actor died; try again").to_wire()
        if is_wire_error(out):
            del self.live[match_id]
            await self._drop(slot, match_id)
            return out
        if self.live.get(match_id, {}).get("summary") is None and match_id in self.live:
            self.live[match_id]["summary"] = out.get("summary")
        out["actor"] = slot.handle
        return out

    def _unjoined_anonymous(self) -> int:
        """Live matches created without a creator seat that nobody has joined yet."""
        return sum(1 for e in self.live.values() if e.get("anonymous")
                   and (e["summary"] is None or is_unjoined(e["summary"].get("seats", {}))))

    @ray.method(enable_task_events=False)  # several per match, like the match actors' hot path
    def update(self, summaries: list[dict[str, Any]]) -> None:
        """Public summaries pushed by match actors (batched, on phase/round/seat changes)."""
        for summary in summaries:
            entry = self.live.get(summary["match_id"])
            if entry is not None:
                entry["summary"] = summary

    async def lookup(self, match_id: str):
        """The actor handle of a live match (None: not live); waits for a rebuild under way."""
        self._boot()
        rebuilding = self._rebuilding.get(match_id)
        if rebuilding is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rebuilding.wait(), 60.0)
        return self._handle_of(match_id)

    def _handle_of(self, match_id: str):
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
        watch = self._watches.pop(slot.key, None)
        if watch is not None:
            watch.cancel()
        try:
            await slot.handle.recycle.remote()
        except Exception:  # a dead actor is simply not pooled again
            return
        self.pool.append(slot)  # ``_place`` takes from the end: the longest idle are at the front
        if len(self.pool) > self.settings.pool_size and (self._trim is None or self._trim.done()):
            self._pool_low = len(self.pool)
            self._trim = asyncio.get_running_loop().create_task(self._trim_loop())

    async def _trim_loop(self) -> None:
        """Every ``pool_idle_s`` while the pool is over ``pool_size``: stop as many actors as it held beyond
        ``pool_size`` the whole window (its low-water mark), longest idle first."""
        while len(self.pool) > self.settings.pool_size:
            await asyncio.sleep(self.settings.pool_idle_s)
            unused = min(self._pool_low, len(self.pool)) - self.settings.pool_size
            for _ in range(max(0, unused)):
                slot = self.pool.pop(0)
                self.stopped_actors += 1
                with contextlib.suppress(Exception):
                    ray.kill(slot.handle)
            self._pool_low = len(self.pool)

    async def list_live(self) -> list[dict[str, Any]]:
        self._boot()
        return [e["summary"] for e in self.live.values() if e["summary"] is not None]

    def live_summary(self, match_id: str) -> dict[str, Any] | None:
        entry = self.live.get(match_id)
        return None if entry is None else entry["summary"]

    async def count(self) -> int:
        self._boot()
        return len(self.live)

    def stats(self) -> dict[str, Any]:
        return {"live": len(self.live), "busy_actors": len(self.actors), "pool": len(self.pool),
                "rebuilt": self.rebuilt, "lost": self.lost, "started_actors": self.started_actors,
                "stopped_actors": self.stopped_actors,
                "matches_per_actor": self.settings.matches_per_actor,
                "actor_keys": sorted(self.actors), "pool_keys": [s.key for s in self.pool]}

    def tables(self) -> dict[str, int]:
        """Entries of the directory's tables (each follows the live matches or the actors, never the total)."""
        return {"live": len(self.live), "actors": len(self.actors), "pool": len(self.pool),
                "watches": len(self._watches), "recovering": len(self._recovering),
                "rebuilding": len(self._rebuilding)}

    async def debug_memory(self, baseline: bool = False, top: int = 15) -> dict[str, Any]:
        """Heap reports of this directory and of every match actor (``debug_memory``; docs/operations.md#memory)."""
        slots = [*self.actors.values(), *self.pool]
        reports = await asyncio.gather(*(s.handle.debug_memory.remote(baseline, top) for s in slots),
                                       return_exceptions=True)
        return {"directory": self._heap.report(baseline, top), "directory_tables": self.tables(),
                "match_actors": [r for r in reports if isinstance(r, dict)]}

    async def shutdown(self) -> None:
        """Kill every match actor (called before this actor is replaced or the arena stops).

        Finished matches are already archived; unfinished ones keep their journals and are live again
        when the arena next starts (docs/operations.md#faults-and-recovery).
        """
        for task in [*self._watches.values(), *self._recovering.values(), *([self._trim] if self._trim else [])]:
            task.cancel()
        self._watches.clear()
        for slot in [*self.actors.values(), *self.pool]:
            with contextlib.suppress(Exception):
                ray.kill(slot.handle)
        self.actors.clear()
        self.pool.clear()
        self.live.clear()

    # ----- faults (docs/operations.md#faults-and-recovery) ---------------------------------------------
    def _watch(self, slot: _ActorSlot) -> None:
        """Keep one pending ``watch`` call on a busy actor: it fails with ``ActorDiedError`` when the actor dies."""
        if slot.key in self._watches and not self._watches[slot.key].done():
            return
        self._watches[slot.key] = asyncio.get_running_loop().create_task(self._watch_loop(slot))

    async def _watch_loop(self, slot: _ActorSlot) -> None:
        failures = 0
        while self.actors.get(slot.key) is slot:
            try:
                await slot.handle.watch.remote(WATCH_S)
                failures = 0
            except ActorDiedError:
                break
            except RayActorError:  # unreachable for a moment (e.g. its node is busy): look again
                failures += 1
                await asyncio.sleep(min(2.0, 0.2 * failures))
                continue
            except Exception:  # not a death (e.g. an older actor without ``watch``): stop watching
                log.exception("watching match actor %s failed", slot.key)
                return
        else:
            return
        self._watches.pop(slot.key, None)
        await self._recover_slot(slot)

    async def recover(self, match_id: str, dead_actor_id: str | None = None):
        """The actor that holds ``match_id`` now, after rebuilding it if its actor died (None: not live).

        Replicas call this when a call to the match's actor raised ``RayActorError``; concurrent callers
        (and the watch) share one rebuild.
        """
        self._boot()
        rebuilding = self._rebuilding.get(match_id)
        if rebuilding is not None:  # already being rebuilt (a restarted directory's start, another caller)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rebuilding.wait(), 60.0)
        entry = self.live.get(match_id)
        if entry is None:
            return None
        slot = self.actors.get(entry["actor"]) if entry["actor"] is not None else None
        if slot is not None and dead_actor_id is not None and slot.handle._actor_id.hex() == dead_actor_id:
            if slot.key in self._recovering or await _is_dead(slot.handle):
                await self._recover_slot(slot)
        elif slot is None and self._recovering:  # a rebuild (started by the watch) is under way
            await asyncio.gather(*(asyncio.shield(t) for t in list(self._recovering.values())),
                                 return_exceptions=True)
        return self._handle_of(match_id)

    async def _recover_slot(self, slot: _ActorSlot) -> None:
        task = self._recovering.get(slot.key)
        if task is None:
            task = self._recovering[slot.key] = asyncio.get_running_loop().create_task(self._rebuild_all(slot))
        await asyncio.shield(task)

    async def _rebuild_all(self, slot: _ActorSlot) -> None:
        if self.actors.get(slot.key) is slot:
            del self.actors[slot.key]
        watch = self._watches.pop(slot.key, None)
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        log.warning("match actor %s died; rebuilding %d match(es) from their journals", slot.key, len(slot.matches))
        await asyncio.gather(*(self._rebuild(mid) for mid in sorted(slot.matches)), return_exceptions=True)
        slot.matches.clear()

    async def _rebuild(self, match_id: str, keep_conns: bool = True) -> bool:
        """Rebuild one match from its journal on a live actor; archive it as lost when that fails."""
        done = self._rebuilding.setdefault(match_id, asyncio.Event())
        try:
            return await self._rebuild_once(match_id, keep_conns)
        finally:
            done.set()
            if self._rebuilding.get(match_id) is done:
                del self._rebuilding[match_id]

    async def _rebuild_once(self, match_id: str, keep_conns: bool) -> bool:
        entry = self.live.get(match_id)
        if entry is None:
            return False
        entry["actor"] = None  # lookups wait until the match is back
        if self.journal_dir is None:
            await self._archive_lost(match_id, "matches are not journaled (journal_dir: off)")
            return False
        # Pooled actors may have died with the same node: each dead one tried is dropped, so allow one attempt
        # per pooled actor plus two fresh starts.
        for _attempt in range(len(self.pool) + 2):
            try:
                slot = await self._place()
            except Exception as exc:
                await self._archive_lost(match_id, f"no match actor available: {exc}")
                return False
            slot.matches.add(match_id)
            try:
                out = await slot.handle.restore.remote(match_id, keep_conns)
            except RayActorError:
                await self._drop(slot, match_id)
                continue
            if is_wire_error(out):
                await self._drop(slot, match_id)
                await self._archive_lost(match_id, out["__error__"].get("message", "restore failed"))
                return False
            if match_id not in self.live:  # deleted meanwhile
                await self._drop(slot, match_id)
                return False
            self.live[match_id] = {"actor": slot.key, "summary": out.get("summary")}
            self.rebuilt += 1
            return True
        await self._archive_lost(match_id, "every actor tried died")
        return False

    async def _archive_lost(self, match_id: str, why: str) -> None:
        """Archive a match that cannot go on: its record so far (replayed from the journal when one is
        readable), status and end reason ``lost``, or ``done`` when the journal shows it had finished
        (``LiveMatch.salvage_entry``); its live slot is freed."""
        now = time.time()
        entry: dict[str, Any] | None = None
        if self.journal_dir is not None:
            try:
                lines = read_journal(journal_file(self.journal_dir, match_id))
                match = LiveMatch.from_journal(lines, self.settings, now, _no_bots, resume=False)
                entry = match.salvage_entry(now, why)
            except Exception:  # nothing readable: archive what the directory knows
                log.exception("journal of %s could not be replayed", match_id)
        if entry is None:
            summary = dict((self.live.get(match_id) or {}).get("summary") or {"match_id": match_id})
            entry = {"match_id": match_id, "summary": summary, "record": {}, "secret": None}
            entry["summary"].update(status=LOST, end_reason=LOST, finished_at=now, lost_reason=why)
        finished = entry["summary"].get("status") == "done"
        if finished:
            log.warning("match %s could not be rebuilt (%s); it had finished: archived done", match_id, why)
        else:
            log.error("match %s is lost: %s", match_id, why)
        try:
            await naming.history_handle(self.settings).append.remote([entry])
        except Exception:
            log.exception("archiving lost match %s failed", match_id)
        self.live.pop(match_id, None)
        if not finished:
            self.lost += 1

    async def _recover_leftovers(self, match_ids: list[str]) -> None:
        """Journals left by an earlier directory (reserved by ``_boot``): every such match is live again (or
        archived at once when it had finished); seats whose connections died are disconnected."""
        for match_id in match_ids:
            try:  # seat holders whose replica died are dropped by the connection probe
                await self._rebuild(match_id)
            except Exception:
                log.exception("recovering match %s failed", match_id)
                self.live.pop(match_id, None)
                self._rebuilding.pop(match_id, None)


UNREACHABLE_WAIT_S = 60.0
"""How long ``recover`` waits on an unreachable actor: when its whole node is lost, Ray reports the actor dead
only once the node's health checks have failed (about 15-30 s with Ray's defaults)."""


async def _is_dead(handle: Any, wait_s: float = UNREACHABLE_WAIT_S) -> bool:
    """True when Ray reports the actor dead; False as soon as it answers (a slow actor is alive). While it is
    unreachable (its node may be dying) this asks again, for up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            await asyncio.wait_for(handle.ready.remote(), 10.0)
        except ActorDiedError:
            return True
        except Exception:
            if time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                continue
        return False


def _no_bots(kind: str, role: str, seed: int) -> None:
    """Bot factory of a replay that only reads the record (no bot moves)."""
    return None
