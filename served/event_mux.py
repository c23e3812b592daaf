"""One event long-poll per (replica, match actor), shared by every socket that replica holds on that actor.

Each seated socket subscribes with its (match, role, connection, cursor); the poller keeps a single
``poll`` call open on the actor for all of them and hands each socket its own events through a queue.
Compared with one long-poll per socket this cuts the actor messages of a phase change from
2 × (seated sockets) to 2. A new subscription re-issues the poll at once; late answers of superseded
polls are de-duplicated by cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)
Key = tuple[str, str, str]  # (match_id, role, conn)


class _Sub:
    __slots__ = ("cursor", "queue")

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()


class ActorPoller:
    """The subscriptions of one replica on one match actor."""

    def __init__(self, handle: Any, wait_s: float) -> None:
        self.handle = handle
        self.wait_s = wait_s
        self.subs: dict[Key, _Sub] = {}
        self._dirty = asyncio.Event()
        self._task: asyncio.Task | None = None

    def subscribe(self, key: Key, cursor: int) -> asyncio.Queue:
        sub = self.subs.get(key)
        if sub is None:
            sub = self.subs[key] = _Sub(cursor)
            self._dirty.set()
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._run())
        return sub.queue

    def unsubscribe(self, key: Key) -> None:
        self.subs.pop(key, None)

    async def _run(self) -> None:
        pending: set[asyncio.Future] = set()
        failures = 0
        try:
            while self.subs:
                if self._dirty.is_set() or not pending:
                    self._dirty.clear()
                    snapshot = [(m, r, c, s.cursor) for (m, r, c), s in self.subs.items()]
                    pending.add(asyncio.ensure_future(self.handle.poll.remote(snapshot, self.wait_s)))
                dirty = asyncio.ensure_future(self._dirty.wait())
                done, _ = await asyncio.wait({*pending, dirty}, return_when=asyncio.FIRST_COMPLETED)
                if not dirty.done():
                    dirty.cancel()
                for fut in done & pending:
                    pending.discard(fut)
                    try:
                        self._deliver(fut.result())
                        failures = 0
                    except Exception:  # the actor died or restarted: tell every socket, stop
                        failures += 1
                        if failures > 3:
                            self._fail_all()
                            return
                        await asyncio.sleep(0.1 * failures)
        finally:
            for fut in pending:
                fut.cancel()

    def _deliver(self, ready: list) -> None:
        for match_id, role, conn, events, cursor, gone in ready:
            sub = self.subs.get((match_id, role, conn))
            if sub is None:
                continue
            fresh = events[max(0, len(events) - (cursor - sub.cursor)):] if cursor > sub.cursor else []
            if fresh or gone:
                sub.cursor = max(sub.cursor, cursor)
                sub.queue.put_nowait({"events": fresh, "cursor": sub.cursor, "gone": gone})
            if gone:
                self.subs.pop((match_id, role, conn), None)

    def _fail_all(self) -> None:
        for sub in self.subs.values():
            sub.queue.put_nowait({"events": [], "cursor": sub.cursor, "gone": "archived"})
        self.subs.clear()


class EventMux:
    """All pollers of one replica, keyed by match actor."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._pollers: dict[Any, ActorPoller] = {}
        self._keys: dict[Key, ActorPoller] = {}

    async def next_events(self, handle: Any, key: Key, cursor: int) -> dict[str, Any]:
        poller = self._keys.get(key)
        if poller is None:
            actor_key = handle._actor_id if hasattr(handle, "_actor_id") else id(handle)
            poller = self._pollers.get(actor_key)
            if poller is None:
                poller = self._pollers[actor_key] = ActorPoller(handle, self.wait_s)
            self._keys[key] = poller
        queue = poller.subscribe(key, cursor)
        out = await queue.get()
        if out["gone"]:
            self._keys.pop(key, None)
        return out

    def unsubscribe(self, key: Key) -> None:
        poller = self._keys.pop(key, None)
        if poller is not None:
            poller.unsubscribe(key)
        with contextlib.suppress(Exception):
            self._gc()

    def _gc(self) -> None:
        for actor_key, poller in list(self._pollers.items()):
            if not poller.subs and (poller._task is None or poller._task.done()):
                del self._pollers[actor_key]
