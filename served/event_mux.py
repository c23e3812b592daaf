"""A replica's way to its match hosts: coalesced request batches and one shared event long-poll per host.

Both backends use it (docs/operations.md): ``RayBackend`` with a link
whose calls are Ray actor calls, ``LocalBackend`` with one that calls the in-process ``MatchHost``.
Per (replica, host) a ``HostChannel``

* **coalesces requests**: while a ``handle_batch`` call to the host is in flight, the requests of every
  socket bound for that host queue up and leave together in the next call, answered one by one (a
  rejected request as its own error). Requests leave in arrival order and the host answers a batch in
  order, so per-match ordering and the per-seat ``seq`` idempotency are those of single calls;
* **delivers events**: each seated socket subscribes with its (match, role, connection, cursor); the
  events of these seats come back inside the batch answers of the matches they touched (a move's events
  for the seats on this replica cost no call of their own) and otherwise through one ``poll`` kept open
  on the host for all of them (deadlines, moves made through other replicas). Rows are placed by
  cursor: a row that would skip events is dropped and the next poll (from the socket's own cursor)
  brings the missing ones;
* **keeps the observation that came with an event**: a row whose events tell the client to look
  (``your_turn``, ``turn_timeout``, ``match_done``) carries the seat's observation, and the seat's next
  ``obs`` request is answered from it without a call. It is dropped by the seat's own ``step``,
  ``join`` or ``leave`` and replaced by any later row; it is never older than an answer already seen
  for that match (each answer carries the match's change counter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, OrderedDict
from collections.abc import Hashable
from typing import Any, Protocol

log = logging.getLogger(__name__)
Key = tuple[str, str, str]  # (match_id, role, conn)
SEEN_MAX = 20_000  # matches whose latest change counter a channel remembers
POLL_FAILURES = 3  # failed polls in a row after which the seats are told their match is gone
HOST_FAILED = "failed"  # ``gone`` when the host stopped answering (its match may be rebuilt elsewhere, or lost)
_DROPS_OBS = frozenset({"step", "join", "leave"})


def running(task: asyncio.Task | None) -> bool:
    """Whether ``task`` is still running on the current event loop (a loop's tasks die with it)."""
    return task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop()


class HostLink(Protocol):
    """How a replica calls one match host (a Ray actor handle, or the in-process host)."""

    key: Hashable

    async def batch(self, requests: list[list[Any]], replica: str) -> dict[str, Any]: ...
    async def poll(self, subs: list[tuple[str, str, str, int]], wait_s: float, replica: str) -> list[list[Any]]: ...


class _Sub:
    __slots__ = ("cursor", "obs", "obs_version", "queue")

    def __init__(self, cursor: int) -> None:
        self.cursor = cursor
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.obs: dict[str, Any] | None = None  # the observation that came with the last event, if still current
        self.obs_version = -1


class HostChannel:
    """One replica's coalesced requests and event subscriptions on one match host."""

    def __init__(self, link: HostLink, replica: str, wait_s: float, counts: Counter[str],
                 max_batch: int = 512) -> None:
        self.link = link
        self.replica = replica
        self.wait_s = wait_s
        self.max_batch = max_batch
        self.counts = counts
        self.subs: dict[Key, _Sub] = {}
        self._by_match: dict[str, set[Key]] = {}  # match id -> its subscribed seats
        self._queue: list[tuple[list[Any], asyncio.Future]] = []
        self._sender: asyncio.Task | None = None
        self._dirty = asyncio.Event()
        self._poller: asyncio.Task | None = None
        self._seen: OrderedDict[str, int] = OrderedDict()  # match id -> newest change counter answered

    # ----- requests ----------------------------------------------------------------------------------
    async def call(self, request: list[Any]) -> Any:
        """The host's answer to ``[op, match_id, *args]`` (a wire error for a rejected request).

        Raises whatever the link raises when the host cannot be reached (the caller maps it).
        """
        op = request[0]
        if op == "observe":
            sub = self.subs.get((request[1], request[2], request[3]))
            if sub is not None and sub.obs is not None:
                obs, sub.obs = sub.obs, None
                self.counts["obs_from_events"] += 1
                return obs
        elif op in _DROPS_OBS:
            sub = self.subs.get((request[1], request[2], request[3]))
            if sub is not None:
                sub.obs = None
        fut = asyncio.get_running_loop().create_future()
        self._queue.append((request, fut))
        if not running(self._sender):
            self._sender = asyncio.get_running_loop().create_task(self._send())
        return await fut

    async def _send(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            self.counts["batches"] += 1
            self.counts["requests"] += len(batch)
            try:
                out = await self.link.batch([r for r, _ in batch], self.replica)
            except asyncio.CancelledError:
                for _, fut in batch:
                    fut.cancel()
                raise
            except Exception as exc:  # the host is unreachable: every request of this batch fails with it
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for match_id, version in out["versions"].items():
                self._saw(match_id, version)
            self._deliver(out["events"])
            for (_, fut), result in zip(batch, out["results"], strict=True):
                if not fut.done():
                    fut.set_result(result)

    # ----- events ------------------------------------------------------------------------------------
    def subscribe(self, key: Key, cursor: int) -> asyncio.Queue:
        sub = self.subs.get(key)
        if sub is None:
            sub = self.subs[key] = _Sub(cursor)
            self._by_match.setdefault(key[0], set()).add(key)
            self._dirty.set()
            if not running(self._poller):
                self._poller = asyncio.get_running_loop().create_task(self._poll())
        return sub.queue

    def unsubscribe(self, key: Key) -> None:
        self.subs.pop(key, None)
        keys = self._by_match.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_match[key[0]]

    def idle(self) -> bool:
        return not self.subs and not self._queue and (self._poller is None or self._poller.done()) and (
            self._sender is None or self._sender.done())

    async def _poll(self) -> None:
        """Keep one poll open that watches every subscription at its current cursor.

        A new subscription (or a gap) issues a new poll at once; the host then ends this replica's
        older one. When the newest poll answers, the next is issued from the updated cursors.
        """
        pending: set[asyncio.Future] = set()
        latest: asyncio.Future | None = None
        failures = 0
        try:
            while self.subs:
                if self._dirty.is_set() or latest is None:
                    self._dirty.clear()
                    snapshot = [(m, r, c, s.cursor) for (m, r, c), s in self.subs.items()]
                    self.counts["polls"] += 1
                    latest = asyncio.ensure_future(self.link.poll(snapshot, self.wait_s, self.replica))
                    pending.add(latest)
                dirty = asyncio.ensure_future(self._dirty.wait())
                done, _ = await asyncio.wait({*pending, dirty}, return_when=asyncio.FIRST_COMPLETED)
                if not dirty.done():
                    dirty.cancel()
                for fut in done & pending:
                    pending.discard(fut)
                    if fut is latest:
                        latest = None
                    try:
                        self._deliver(fut.result())
                        failures = 0
                    except Exception:  # the host died or restarted: retry a little, then tell every socket
                        failures += 1
                        if failures > POLL_FAILURES:
                            self._fail_all()
                            return
                        await asyncio.sleep(0.1 * failures)
        finally:
            for fut in pending:
                fut.cancel()

    def _saw(self, match_id: str, version: int) -> None:
        if version > self._seen.get(match_id, -1):
            self._seen[match_id] = version
            self._seen.move_to_end(match_id)
            while len(self._seen) > SEEN_MAX:
                self._seen.popitem(last=False)
            for key in self._by_match.get(match_id, ()):  # an older observation is no longer current
                sub = self.subs[key]
                if sub.obs is not None and sub.obs_version < version:
                    sub.obs = None

    def _deliver(self, rows: list[list[Any]]) -> None:
        for match_id, role, conn, events, cursor, gone, obs, version in rows:
            self._saw(match_id, version)
            key = (match_id, role, conn)
            sub = self.subs.get(key)
            if sub is None:
                continue
            start = cursor - len(events)
            if start > sub.cursor:  # an earlier answer is still on its way: the next poll fills the gap
                self._dirty.set()
                continue
            fresh = events[sub.cursor - start:] if cursor > sub.cursor else []
            if fresh:
                current = obs is not None and version >= self._seen.get(match_id, -1)
                sub.obs, sub.obs_version = (obs, version) if current else (None, -1)
            if fresh or gone:
                sub.cursor = max(sub.cursor, cursor)
                sub.queue.put_nowait({"events": fresh, "cursor": sub.cursor, "gone": gone})
            if gone:
                sub.obs = None
                self.unsubscribe(key)

    def _fail_all(self) -> None:
        for sub in self.subs.values():
            sub.queue.put_nowait({"events": [], "cursor": sub.cursor, "gone": HOST_FAILED})
        self.subs.clear()
        self._by_match.clear()


class EventMux:
    """All host channels of one replica, keyed by the host's link key."""

    def __init__(self, wait_s: float, replica: str, max_batch: int = 512) -> None:
        self.wait_s = wait_s
        self.replica = replica
        self.max_batch = max_batch  # ArenaSettings.coalesce_max
        self.counts: Counter[str] = Counter()  # this replica's host calls by kind (benchmarks)
        self._channels: dict[Hashable, HostChannel] = {}
        self._keys: dict[Key, HostChannel] = {}

    def channel(self, link: HostLink) -> HostChannel:
        chan = self._channels.get(link.key)
        if chan is None:
            chan = self._channels[link.key] = HostChannel(link, self.replica, self.wait_s, self.counts,
                                                          self.max_batch)
        return chan

    async def call(self, link: HostLink, request: list[Any]) -> Any:
        """``request`` answered by ``link``'s host, batched with the other requests bound for it."""
        return await self.channel(link).call(request)

    async def next_events(self, link: HostLink, key: Key, cursor: int) -> dict[str, Any]:
        chan = self._keys.get(key)
        if chan is None:
            chan = self._keys[key] = self.channel(link)
        out = await chan.subscribe(key, cursor).get()
        if out["gone"]:
            self._keys.pop(key, None)
        return out

    def unsubscribe(self, key: Key) -> None:
        chan = self._keys.pop(key, None)
        if chan is not None:
            chan.unsubscribe(key)
        with contextlib.suppress(Exception):
            self._gc()

    def call_counts(self) -> dict[str, int]:
        return dict(self.counts)

    def table_sizes(self) -> dict[str, int]:
        """Host channels held and seats subscribed to events (diagnostics)."""
        return {"channels": len(self._channels), "subscriptions": len(self._keys)}

    def _gc(self) -> None:
        for link_key, chan in list(self._channels.items()):
            if chan.idle():
                del self._channels[link_key]
