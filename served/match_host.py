"""Holds one or K live matches and answers every per-match request by match id (no Ray, no socket I/O).

The Ray ``MatchActor`` and the single-process backend both hold one ``MatchHost``. Requests from a
socket name the connection (``conn``) so the host can tell the seat's current holder from a stale one.
Finished or abandoned matches leave through ``tick``/``delete`` as archive entries; their last
events stay readable for a short while so every socket receives its ``match_done``.

Two faces (docs/operations.md):

* the synchronous core (``create``, ``join``, ``step``, … with an explicit ``now``), which tests drive
  with a hand-made clock;
* the asyncio face used by both backends, running inside one event loop and never awaiting between
  requests: ``handle_batch`` answers many matches' requests in one call (each answered on its own, a
  rejected one as a wire error) and hands back, in the same answer, the events of the seats that the
  calling replica is long-polling for on the matches the batch touched (with the observation of each
  seat whose turn came), so a move costs one call; ``poll`` is the replica's one long-poll for the rest
  (deadlines, moves made through other replicas). A timer task applies deadlines; finished matches go to
  the ``on_archive`` hook and public summary changes to ``on_summary``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from fraudarena.arena.core.episode import warm_up
from fraudarena.served import tokens, views
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.event_mux import running
from fraudarena.served.journal import open_journal
from fraudarena.served.live_match import BotFactory, LiveMatch, restore_match
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)
RECENT_KEEP_S = 60.0
RECENT_MAX = 256
MAX_TICK_SLEEP_S = 5.0
SUMMARY_FLUSH_S = 0.5  # public summaries are pushed in batches, at most this often
# Events after which a seat's client asks for its observation: the answer carrying them carries it too.
OBS_EVENT_KINDS = frozenset({"your_turn", "turn_timeout", "match_done"})
# Requests that change a match (wake its long-polls, may move its deadline); the others only read.
MUTATING_OPS = frozenset({"create", "join", "leave", "step", "restore"})
ArchiveHook = Callable[[list[dict[str, Any]]], Awaitable[None]]
SummaryHook = Callable[[list[dict[str, Any]]], None]
Key = tuple[str, str, str]  # (match_id, role, conn)


async def _no_archive(_entries: list[dict[str, Any]]) -> None:
    return None


class _PollWaiter:
    """One pending ``poll`` of a replica: its seats' cursors, woken by the matches that changed."""

    __slots__ = ("by_match", "cursors", "dirty", "event", "replica", "superseded")

    def __init__(self, replica: str | None, subs: list[tuple[str, str, str, int]]) -> None:
        self.event = asyncio.Event()
        self.superseded = False  # a newer poll of the same replica took over
        self.dirty: set[str] = set()
        self.replica = replica
        self.cursors: dict[Key, int] = {}
        self.by_match: dict[str, list[Key]] = {}
        for match_id, role, conn, cursor in subs:
            key = (match_id, role, conn)
            if key not in self.cursors:
                self.by_match.setdefault(match_id, []).append(key)
            self.cursors[key] = max(cursor, self.cursors.get(key, cursor))


def default_bot_factory(kind: str, role: str, seed: int) -> Any:
    from fraudarena.agents import make_bot

    if kind.startswith("policy:"):  # learned policies need torch: load that only when asked for
        from fraudarena.agents.rl import neural_policy

        neural_policy.register()
    return make_bot(kind, role, seed)


class MatchHost:
    """Up to ``capacity`` live matches, keyed by match id."""

    def __init__(self, settings: ArenaSettings, capacity: int = 1,
                 bot_factory: BotFactory = default_bot_factory, on_archive: ArchiveHook = _no_archive,
                 on_summary: SummaryHook | None = None) -> None:
        warm_up()  # the compiled episode generation: loaded (or compiled) now, not in the first match's reset
        self.settings = settings
        self.capacity = capacity
        self.bot_factory = bot_factory
        self.matches: dict[str, LiveMatch] = {}
        self.recent: OrderedDict[str, tuple[float, LiveMatch]] = OrderedDict()
        self.generation = 0  # bumped by clear(): a recycled host is a new host
        # The asyncio face (used from one event loop only).
        self._on_archive = on_archive
        self._on_summary = on_summary
        self._summary_keys: dict[str, tuple] = {}
        self._pending_summaries: dict[str, dict[str, Any]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._changed: asyncio.Event | None = None
        self._wake_at = float("inf")  # when the timer loop will next look at deadlines
        self._watchers: dict[str, set[_PollWaiter]] = {}  # match id -> polls watching it
        self._replica_polls: dict[str | None, set[_PollWaiter]] = {}  # replica -> its pending polls
        self._timer: asyncio.Task | None = None
        self.calls: Counter[str] = Counter()  # calls of the asyncio face, by kind (never reset; benchmarks)

    # ----- lifecycle ---------------------------------------------------------------------------------
    def create(self, match_id: str, role: str | None, conn: str | None, params: dict[str, Any],
               house_bots: dict[str, str], now: float) -> dict[str, Any]:
        if match_id in self.matches:
            raise ProtocolError(ErrorCode.RESET_ERROR, f"match id {match_id} already exists")
        if len(self.matches) >= self.capacity:
            raise ProtocolError(ErrorCode.CAPACITY, "this match host is full")
        match = LiveMatch(match_id, params, house_bots, self.settings, now, self.bot_factory,
                          journal=open_journal(self.settings, match_id))  # docs/operations.md#faults-and-recovery
        self.matches[match_id] = match
        out: dict[str, Any] = {"match_id": match_id, "seat_tokens": dict(match.tokens),
                               "admin_token": match.admin_token, "summary": match.summary()}
        if role is not None and conn is not None:
            out["cursor"] = match.seat_creator(role, conn, now)
            out["observation"] = match.observation(role)
        return out

    def restore(self, match_id: str, keep_conns: bool, now: float) -> dict[str, Any]:
        """Rebuild ``match_id`` here from its journal; ``{"summary"}`` (``served.live_match.restore_match``)."""
        if match_id not in self.matches:
            if len(self.matches) >= self.capacity:
                raise ProtocolError(ErrorCode.CAPACITY, "this match host is full")
            self.matches[match_id] = restore_match(match_id, self.settings, now, self.bot_factory, keep_conns)
        return {"summary": self.matches[match_id].summary()}

    def clear(self) -> None:
        """Forget every match (used when a pooled actor is recycled); pending polls answer ``archived``."""
        watched = list(self._watchers)
        self.matches.clear()
        self.recent.clear()
        self.generation += 1
        for match_id in watched:
            self._notify(match_id)
        self._summary_keys.clear()
        self._pending_summaries.clear()

    def tick(self, now: float) -> list[dict[str, Any]]:
        """Apply deadlines; return the archive entries of matches that leave now."""
        out = []
        for match_id, match in list(self.matches.items()):
            status = match.advance(now)
            if status is not None:
                out.append(self._retire(match_id, status, now))
            elif (early := match.take_early_archive()) is not None:  # finished: archived now, lingers on
                out.append(early)
        self._expire_recent(now)
        return out

    def next_due(self) -> float | None:
        times = [t for t in (m.due() for m in self.matches.values()) if t is not None]
        return min(times) if times else None

    def delete(self, match_id: str, admin_token: str | None, now: float) -> dict[str, Any]:
        match = self._get(match_id)
        match.check_admin(admin_token)
        if not match.env.done:
            match.abandon()
            return self._retire(match_id, "abandoned", now)
        return self._retire(match_id, "done", now)

    def _retire(self, match_id: str, status: str, now: float) -> dict[str, Any]:
        match = self.matches.pop(match_id)
        match.close_journal()
        self.recent[match_id] = (now, match)
        while len(self.recent) > RECENT_MAX:
            self.recent.popitem(last=False)
        return match.archive_entry(status, now)

    def _expire_recent(self, now: float) -> None:
        while self.recent:
            mid, (at, _) = next(iter(self.recent.items()))
            if now - at < RECENT_KEEP_S:
                break
            del self.recent[mid]

    # ----- seat requests -----------------------------------------------------------------------------
    def join(self, match_id: str, role: str, conn: str, token: str | None, takeover: bool,
             now: float) -> dict[str, Any]:
        match = self.matches.get(match_id)
        if match is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no live match with id {match_id!r}")
        cursor, kicked = match.join(role, conn, token, takeover, now)
        return {"observation": match.observation(role), "cursor": cursor, "kicked": kicked,
                "summary": match.summary()}

    def leave(self, match_id: str, role: str, conn: str, now: float) -> bool:
        match = self.matches.get(match_id)
        return bool(match and match.leave(role, conn, now))

    def step(self, match_id: str, role: str, conn: str, action: Any, seq: int | None,
             now: float) -> dict[str, Any]:
        return self._seated(match_id, role, conn).step(role, action, seq, now)

    def observe(self, match_id: str, role: str, conn: str) -> dict[str, Any]:
        return self._seated(match_id, role, conn).observation(role)

    def state(self, match_id: str, role: str, conn: str, now: float) -> dict[str, Any]:
        return self._seated(match_id, role, conn).state(role, now)

    def events(self, match_id: str, role: str, conn: str, cursor: int) -> dict[str, Any]:
        """Events for ``conn``'s seat since ``cursor``; ``gone`` says why no more will come."""
        match = self.matches.get(match_id)
        gone = None
        if match is None:
            entry = self.recent.get(match_id)
            if entry is None:
                return {"events": [], "cursor": cursor, "gone": "archived"}
            match = entry[1]
            gone = "archived"
        seat = match.seats[role]
        if seat.conn != conn and gone is None:
            return {"events": [], "cursor": cursor, "gone": "taken_over" if seat.conn else "left"}
        events = seat.events[cursor:]
        return {"events": events, "cursor": cursor + len(events), "gone": gone}

    # ----- public views ------------------------------------------------------------------------------
    def summary(self, match_id: str) -> dict[str, Any]:
        return self._get(match_id).summary()

    def summaries(self) -> list[dict[str, Any]]:
        return [m.summary() for m in self.matches.values()]

    def report(self, match_id: str) -> dict[str, Any]:
        match = self._get(match_id)
        if not match.env.done:
            raise ProtocolError(ErrorCode.PHASE_VIOLATION, "the report exists once the match is done")
        return {"summary": match.summary(), "record": match.record()}

    def public_events(self, match_id: str, token: str | None) -> list[dict[str, Any]]:
        match = self._get(match_id)
        role = None
        if token is not None:
            role = next((r for r, s in match.seats.items() if tokens.matches(token, s.token_digest)), None)
            if role is None:
                raise ProtocolError(ErrorCode.UNAUTHORIZED, "the token is not a seat token of this match")
        return views.match_events(match, role)

    def debug_info(self) -> dict[str, Any]:
        """Sizes of everything the host keeps (the recycling test checks a recycled host is empty)."""
        return {"matches": sorted(self.matches), "recent": sorted(self.recent), "generation": self.generation}

    def table_sizes(self) -> dict[str, int]:
        """Entries of every table the host keeps (``debug_memory``): each follows the live matches, not the total."""
        return {"matches": len(self.matches), "recent": len(self.recent), "summary_keys": len(self._summary_keys),
                "pending_summaries": len(self._pending_summaries), "watchers": len(self._watchers),
                "replica_polls": len(self._replica_polls)}

    def call_counts(self) -> dict[str, int]:
        """Calls of the asyncio face since start: ``batches``, ``requests`` (inside them), ``polls``."""
        return dict(self.calls)

    # ----- the asyncio face: batched requests ---------------------------------------------------------
    async def handle_batch(self, requests: list[list[Any]], replica: str | None = None) -> dict[str, Any]:
        """Answer ``requests`` (each ``[op, match_id, *args]``) in order, each on its own.

        Returns ``{"results": [...], "events": rows, "versions": {match_id: change counter}}``: a result
        is the request's answer or its wire error (``ProtocolError.to_wire``); ``rows`` (the ``poll``
        row format) are the new events of the seats that ``replica``'s pending polls watch on the
        matches these requests touched. Those polls' cursors move past them, so they do not answer the
        same events again. ``versions`` are the touched matches' change counters after the batch.
        """
        self.calls["batches"] += 1
        self.calls["requests"] += len(requests)
        now = time.time()
        results: list[Any] = []
        archived: list[dict[str, Any]] = []
        touched: dict[str, bool] = {}
        for request in requests:
            try:
                op, match_id, *args = request
                results.append(self._answer(op, match_id, args, now, archived))
                if op in MUTATING_OPS:
                    touched[match_id] = True
                else:
                    touched.setdefault(match_id, False)
            except ProtocolError as exc:
                results.append(exc.to_wire())
            except Exception as exc:  # a fault answers this request only
                log.exception("match host fault")
                results.append(ProtocolError(ErrorCode.EXECUTION_ERROR,
                                             f"server fault: {type(exc).__name__}").to_wire())
        if any(touched.values()):
            self._ensure_timer()
        for match_id, changed in touched.items():
            if changed:
                self._notify(match_id)
        for entry in archived:
            self._notify(entry["match_id"])
            self._summary_keys.pop(entry["match_id"], None)
        rows = self._ride_along(replica, touched) if replica is not None else []
        versions = {mid: self._version(mid) for mid in touched}
        if archived:
            await self._on_archive(archived)
        return {"results": results, "events": rows, "versions": versions}

    def _answer(self, op: str, match_id: str, args: list[Any], now: float,
                archived: list[dict[str, Any]]) -> Any:
        if op == "step":
            role, conn, action, seq = args
            return self.step(match_id, role, conn, action, seq, now)
        if op == "observe":
            return self.observe(match_id, *args)
        if op == "join":
            role, conn, token, takeover = args
            return self.join(match_id, role, conn, token, takeover, now)
        if op == "leave":
            return self.leave(match_id, *args, now)
        if op == "state":
            return self.state(match_id, *args, now)
        if op == "restore":  # rebuild from the journal after its actor died (docs/operations.md#faults-and-recovery)
            return self.restore(match_id, *args, now)
        if op == "create":
            role, conn, params, house_bots = args
            return self.create(match_id, role, conn, params, house_bots, now)
        if op == "delete":
            entry = self.delete(match_id, *args, now)
            archived.append(entry)
            return entry["summary"]
        if op == "summary":
            return self.summary(match_id)
        if op == "report":
            return self.report(match_id)
        if op == "public_events":
            return self.public_events(match_id, *args)
        raise ProtocolError(ErrorCode.EXECUTION_ERROR, f"unknown match request {op!r}")

    def _ride_along(self, replica: str, touched: dict[str, Any]) -> list[list[Any]]:
        """The rows of ``replica``'s watched seats on ``touched`` matches that have new events."""
        waiters = self._replica_polls.get(replica)
        if not waiters:
            return []
        rows: dict[Key, list[Any]] = {}
        for match_id in touched:
            keys = {k for w in waiters for k in w.by_match.get(match_id, ())}
            for key in keys:
                cursor = max(w.cursors[key] for w in waiters if key in w.cursors)
                row = self._row(key, cursor)
                if row is not None:
                    rows[key] = row
        for waiter in waiters:
            for key, row in rows.items():
                if key in waiter.cursors:
                    waiter.cursors[key] = max(waiter.cursors[key], row[4])
        return list(rows.values())

    def _version(self, match_id: str) -> int:
        match = self.matches.get(match_id)
        if match is None:
            entry = self.recent.get(match_id)
            match = entry[1] if entry is not None else None
        return -1 if match is None else match.changed

    def _row(self, key: Key, cursor: int) -> list[Any] | None:
        """``[match_id, role, conn, events, cursor, gone, observation, version]`` for a seat with news.

        None when the seat has none. ``observation`` is the seat's current observation when one of the
        events tells its client to look (``OBS_EVENT_KINDS``) and the match is still held, else None;
        ``version`` is the match's change counter.
        """
        match_id, role, conn = key
        out = self.events(match_id, role, conn, cursor)
        if not out["events"] and not out["gone"]:
            return None
        obs = None
        if out["gone"] is None and any(e["kind"] in OBS_EVENT_KINDS for e in out["events"]):
            match = self.matches.get(match_id)
            if match is not None:
                obs = match.observation(role)
        return [match_id, role, conn, out["events"], out["cursor"], out["gone"], obs, self._version(match_id)]

    # ----- the asyncio face: long-poll, deadlines, summaries ------------------------------------------
    async def poll(self, subs: list[tuple[str, str, str, int]], wait_s: float | None = None,
                   replica: str | None = None) -> list[list[Any]]:
        """Long-poll: a row (see ``_row``) for every watched seat with news, as soon as there is one.

        ``subs`` are ``(match_id, role, conn, cursor)``. After the first pass only the seats of
        matches that changed meanwhile are looked at again, so a step in one of K packed matches costs
        this poll its three seats, not all of them. Rows a ``handle_batch`` of the same ``replica``
        already carried are not answered again, and a newer poll of the same ``replica`` (which watches
        all of its seats) ends this one at once.
        """
        self.calls["polls"] += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.settings.long_poll_s if wait_s is None else wait_s)
        waiter = _PollWaiter(replica, subs)
        for match_id in waiter.by_match:
            self._watchers.setdefault(match_id, set()).add(waiter)
        if replica is not None:  # the replica's newest poll replaces its older ones: they answer now
            for older in self._replica_polls.get(replica, ()):
                older.superseded = True
                older.event.set()
        self._replica_polls.setdefault(replica, set()).add(waiter)
        try:
            check: Any = waiter.by_match
            while True:
                ready = []
                for match_id in check:
                    for key in waiter.by_match.get(match_id, ()):
                        row = self._row(key, waiter.cursors[key])
                        if row is not None:
                            ready.append(row)
                remaining = deadline - loop.time()
                if ready or remaining <= 0 or waiter.superseded:
                    return ready
                waiter.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.event.wait(), remaining)
                check, waiter.dirty = waiter.dirty, set()
        finally:
            for match_id in waiter.by_match:
                watching = self._watchers.get(match_id)
                if watching is not None:
                    watching.discard(waiter)
                    if not watching:
                        del self._watchers[match_id]
            polls = self._replica_polls.get(replica)
            if polls is not None:
                polls.discard(waiter)
                if not polls:
                    del self._replica_polls[replica]

    def _ensure_timer(self) -> None:
        if not running(self._timer):
            self._changed = asyncio.Event()
            self._timer = asyncio.get_running_loop().create_task(self._timer_loop())

    async def _timer_loop(self) -> None:
        assert self._changed is not None
        while True:
            due = self.next_due()
            timeout = MAX_TICK_SLEEP_S if due is None else max(0.0, min(due - time.time(), MAX_TICK_SLEEP_S))
            if due is None and not self.matches and not self.recent:
                timeout = None
            self._wake_at = float("inf") if timeout is None else time.time() + timeout
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            await self.apply_deadlines()

    async def apply_deadlines(self) -> None:
        """``tick`` on the wall clock: wake the seats of changed matches, archive the leaving ones."""
        before = {mid: m.changed for mid, m in self.matches.items()}
        entries = self.tick(time.time())
        for mid, m in self.matches.items():
            if m.changed != before.get(mid):
                self._notify(mid)
        for entry in entries:
            self._notify(entry["match_id"])
            self._summary_keys.pop(entry["match_id"], None)
        if entries:
            await self._on_archive(entries)

    def _notify(self, match_id: str) -> None:
        for waiter in self._watchers.get(match_id, ()):
            waiter.dirty.add(match_id)
            waiter.event.set()
        match = self.matches.get(match_id)
        if match is None:
            return
        due = match.due()  # wake the timer only when this match needs it sooner than planned
        if due is not None and due < self._wake_at and self._changed is not None:
            self._changed.set()
        if self._on_summary is not None:
            key = (match.env.phase, match.env.round_number, tuple(match.seat_statuses().values()))
            if self._summary_keys.get(match_id) != key:
                self._summary_keys[match_id] = key
                self._pending_summaries[match_id] = match.summary()
                if self._flush_handle is None:
                    self._flush_handle = asyncio.get_running_loop().call_later(SUMMARY_FLUSH_S,
                                                                               self._flush_summaries)

    def _flush_summaries(self) -> None:
        self._flush_handle = None
        batch = [s for mid, s in self._pending_summaries.items() if mid in self.matches]
        self._pending_summaries.clear()
        if batch and self._on_summary is not None:
            self._on_summary(batch)

    def _get(self, match_id: str) -> LiveMatch:
        match = self.matches.get(match_id)
        if match is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MATCH, f"no live match with id {match_id!r}")
        return match

    def _seated(self, match_id: str, role: str, conn: str) -> LiveMatch:
        match = self.matches.get(match_id)
        if match is None or not match.holds(role, conn):
            raise ProtocolError(ErrorCode.NO_MATCH, "this connection holds no seat (reset or join first)")
        return match
