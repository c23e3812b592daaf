"""The asyncio face of a ``MatchHost``: wall clock, deadline timer, event long-polls and change hooks.

It runs inside one event loop (a Ray async actor, or the single-process server) and serialises all
requests to its matches, since the host's code never awaits. Sockets wait for their events with
``next_events`` (a long-poll woken by the match's changes); finished matches are handed to the
``on_archive`` hook and every change of a match's public summary to ``on_summary``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fraudarena.served.match_host import MatchHost, default_bot_factory
from fraudarena.served.settings import ArenaSettings

ArchiveHook = Callable[[list[dict[str, Any]]], Awaitable[None]]
SummaryHook = Callable[[list[dict[str, Any]]], None]
MAX_TICK_SLEEP_S = 5.0
SUMMARY_FLUSH_S = 0.5  # public summaries are pushed in batches, at most this often


class _PollWaiter:
    """One pending multiplexed ``poll``: woken with the ids of the matches that changed meanwhile."""

    __slots__ = ("dirty", "event")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.dirty: set[str] = set()


class AsyncMatchHost:
    """A ``MatchHost`` plus the timer task and the wakeups that the host itself cannot own."""

    def __init__(self, settings: ArenaSettings, capacity: int, on_archive: ArchiveHook,
                 on_summary: SummaryHook | None = None, bot_factory=default_bot_factory) -> None:
        self.host = MatchHost(settings, capacity, bot_factory)
        self.settings = settings
        self._on_archive = on_archive
        self._on_summary = on_summary
        self._wake: dict[str, asyncio.Event] = {}
        self._summary_keys: dict[str, tuple] = {}
        self._pending_summaries: dict[str, dict[str, Any]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()
        self._wake_at = float("inf")  # when the timer loop will next look at deadlines
        self._watchers: dict[str, set[_PollWaiter]] = {}  # match id -> multiplexed polls watching it
        self._timer: asyncio.Task | None = None

    # ----- plumbing ----------------------------------------------------------------------------------
    def _ensure_timer(self) -> None:
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._timer_loop())

    async def _timer_loop(self) -> None:
        while True:
            due = self.host.next_due()
            timeout = MAX_TICK_SLEEP_S if due is None else max(0.0, min(due - time.time(), MAX_TICK_SLEEP_S))
            if due is None and not self.host.matches and not self.host.recent:
                timeout = None
            self._wake_at = float("inf") if timeout is None else time.time() + timeout
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            await self.tick()

    async def tick(self) -> None:
        before = {mid: m.changed for mid, m in self.host.matches.items()}
        entries = self.host.tick(time.time())
        for mid, m in self.host.matches.items():
            if m.changed != before.get(mid):
                self._notify(mid)
        for entry in entries:
            self._notify(entry["match_id"])
            self._summary_keys.pop(entry["match_id"], None)
        if entries:
            await self._on_archive(entries)

    def _notify(self, match_id: str) -> None:
        ev = self._wake.pop(match_id, None)
        if ev is not None:
            ev.set()
        for waiter in self._watchers.get(match_id, ()):
            waiter.dirty.add(match_id)
            waiter.event.set()
        match = self.host.matches.get(match_id)
        if match is not None:  # wake the timer only when this match needs it sooner than planned
            due = match.due()
            if due is not None and due < self._wake_at:
                self._changed.set()
        if match is not None and self._on_summary is not None:
            key = (match.env.phase, match.env.round_number, tuple(match.seat_statuses().values()))
            if self._summary_keys.get(match_id) != key:
                self._summary_keys[match_id] = key
                self._pending_summaries[match_id] = match.summary()
                if self._flush_handle is None:
                    self._flush_handle = asyncio.get_running_loop().call_later(SUMMARY_FLUSH_S,
                                                                               self._flush_summaries)

    def _flush_summaries(self) -> None:
        self._flush_handle = None
        batch = [s for mid, s in self._pending_summaries.items() if mid in self.host.matches]
        self._pending_summaries.clear()
        if batch and self._on_summary is not None:
            self._on_summary(batch)

    def _after(self, match_id: str) -> None:
        self._ensure_timer()
        self._notify(match_id)

    # ----- requests (raise ProtocolError) ----------------------------------------------------------
    async def create(self, match_id: str, role: str | None, conn: str | None, params: dict[str, Any],
                     house_bots: dict[str, str]) -> dict[str, Any]:
        out = self.host.create(match_id, role, conn, params, house_bots, time.time())
        self._after(match_id)
        return out

    async def join(self, match_id: str, role: str, conn: str, token: str | None,
                   takeover: bool) -> dict[str, Any]:
        out = self.host.join(match_id, role, conn, token, takeover, time.time())
        self._after(match_id)
        return out

    async def leave(self, match_id: str, role: str, conn: str) -> bool:
        out = self.host.leave(match_id, role, conn, time.time())
        self._after(match_id)
        return out

    async def step(self, match_id: str, role: str, conn: str, action: Any, seq: int | None) -> dict[str, Any]:
        out = self.host.step(match_id, role, conn, action, seq, time.time())
        self._after(match_id)
        return out

    async def observe(self, match_id: str, role: str, conn: str) -> dict[str, Any]:
        return self.host.observe(match_id, role, conn)

    async def state(self, match_id: str, role: str, conn: str) -> dict[str, Any]:
        return self.host.state(match_id, role, conn, time.time())

    async def delete(self, match_id: str, admin_token: str | None) -> dict[str, Any]:
        entry = self.host.delete(match_id, admin_token, time.time())
        self._notify(match_id)
        self._summary_keys.pop(match_id, None)
        await self._on_archive([entry])
        return entry["summary"]

    async def next_events(self, match_id: str, role: str, conn: str, cursor: int,
                          wait_s: float | None = None) -> dict[str, Any]:
        """Long-poll: return as soon as ``conn``'s seat has events past ``cursor`` (or after ``wait_s``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.settings.long_poll_s if wait_s is None else wait_s)
        while True:
            out = self.host.events(match_id, role, conn, cursor)
            remaining = deadline - loop.time()
            if out["events"] or out["gone"] or remaining <= 0:
                return out
            ev = self._wake.setdefault(match_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), remaining)

    async def poll(self, subs: list[tuple[str, str, str, int]], wait_s: float | None = None) -> list[list[Any]]:
        """Multiplexed long-poll: [match_id, role, conn, events, cursor, gone] for every ready subscription.

        After the first pass only the subscriptions of matches that changed meanwhile are looked at
        again, so a step in one of K packed matches costs this poll its three seats, not all of them.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.settings.long_poll_s if wait_s is None else wait_s)
        by_match: dict[str, list[tuple[str, str, str, int]]] = {}
        for sub in subs:
            by_match.setdefault(sub[0], []).append(sub)
        waiter = _PollWaiter()
        for match_id in by_match:
            self._watchers.setdefault(match_id, set()).add(waiter)
        try:
            check: Any = by_match
            while True:
                ready = []
                for match_id in check:
                    for _, role, conn, cursor in by_match.get(match_id, ()):
                        out = self.host.events(match_id, role, conn, cursor)
                        if out["events"] or out["gone"]:
                            ready.append([match_id, role, conn, out["events"], out["cursor"], out["gone"]])
                remaining = deadline - loop.time()
                if ready or remaining <= 0:
                    return ready
                waiter.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.event.wait(), remaining)
                check, waiter.dirty = waiter.dirty, set()
        finally:
            for match_id in by_match:
                watching = self._watchers.get(match_id)
                if watching is not None:
                    watching.discard(waiter)
                    if not watching:
                        del self._watchers[match_id]

    async def summary(self, match_id: str) -> dict[str, Any]:
        return self.host.summary(match_id)

    async def report(self, match_id: str) -> dict[str, Any]:
        return self.host.report(match_id)

    async def public_events(self, match_id: str, token: str | None) -> list[dict[str, Any]]:
        return self.host.public_events(match_id, token)

    def clear(self) -> None:
        for mid in {*self._wake, *self._watchers}:
            self._notify(mid)
        self.host.clear()
        self._summary_keys.clear()

    def debug_info(self) -> dict[str, Any]:
        info = self.host.debug_info()
        info["waiters"] = len(self._wake)
        return info
