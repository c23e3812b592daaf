"""Matchmaking (docs/protocol.md#matchmaking-queue): per-task waiting pools that turn queued agents into matches.

``QueuePool`` is plain Python with explicit ``now`` arguments (like ``LiveMatch``), so tests drive time
by hand. Per task it keeps one FIFO of tickets per role. A group forms as soon as every role of a task
has a waiting ticket (the oldest of each role), or when the oldest waiting ticket of a task has waited
``timeout_s``: then the head of each non-empty role queue is seated and the empty roles get house bots.

``Matchmaker`` is the asyncio driver around the pool: it creates the grouped matches (through an
injected ``create`` coroutine: the local backend's, or the directory actor's when it runs inside the
Ray ``MatchmakerActor``), wakes the long-polling waiters, and runs the timeout timer. Both backends
use it, so the single-process server and the cluster seat agents the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fraudarena.arena.spec import ROLES
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.settings import ArenaSettings

SEED_LIMIT = 2**63
HOUSE_BOT = "scripted"
MAX_TIMER_SLEEP_S = 5.0

CreateMatch = Callable[[dict[str, Any], dict[str, str]], Awaitable[dict[str, Any]]]
"""``create(params, house_bots)`` → the backend's create answer (``match_id``, ``seat_tokens`` …); raises
``ProtocolError`` (``capacity``, ``reset_error``) when no match could be created."""


@dataclass
class Ticket:
    """One queued connection. ``state``: waiting → forming (its match is being created) → seated | failed."""

    ticket_id: str
    task_id: str
    role: str
    enqueued_at: float
    last_seen: float
    state: str = "waiting"
    result: dict[str, Any] | None = None
    polls: int = 0  # long-polls in flight for this ticket


@dataclass
class Group:
    """The tickets seated together in one match, and the roles played by house bots."""

    task_id: str
    seats: dict[str, str]  # role -> ticket id
    bots: tuple[str, ...] = field(default_factory=tuple)

    def house_bots(self, kind: str = HOUSE_BOT) -> dict[str, str]:
        return {role: kind for role in self.bots}


class QueuePool:
    """The waiting pools of every task (no I/O, no clock of its own)."""

    def __init__(self, timeout_s: float, stale_s: float = 60.0, roles: tuple[str, ...] = ROLES) -> None:
        self.timeout_s = timeout_s
        self.stale_s = stale_s
        self.roles = roles
        self.tickets: dict[str, Ticket] = {}
        self.queues: dict[str, dict[str, list[str]]] = {}  # task -> role -> waiting ticket ids, oldest first

    # ----- tickets -----------------------------------------------------------------------------------
    def enter(self, task_id: str, role: str, now: float, ticket_id: str | None = None) -> Ticket:
        if role not in self.roles:
            raise ProtocolError(ErrorCode.VALIDATION_ERROR, f"unknown role {role!r}",
                                [{"loc": ["data", "role"], "msg": "unknown role"}])
        ticket = Ticket(ticket_id or secrets.token_hex(12), task_id, role, now, now)
        self.tickets[ticket.ticket_id] = ticket
        self.queues.setdefault(task_id, {r: [] for r in self.roles})[role].append(ticket.ticket_id)
        return ticket

    def leave(self, ticket_id: str) -> bool:
        """Forget a ticket (the connection left the queue); False when it was not known."""
        ticket = self.tickets.pop(ticket_id, None)
        if ticket is None:
            return False
        if ticket.state == "waiting":
            self._unqueue(ticket)
        return True

    def _unqueue(self, ticket: Ticket) -> None:
        queues = self.queues.get(ticket.task_id)
        if queues is None:
            return
        with contextlib.suppress(ValueError):
            queues[ticket.role].remove(ticket.ticket_id)
        if not any(queues.values()):
            del self.queues[ticket.task_id]

    def position(self, ticket_id: str) -> int | None:
        """1-based place among the waiting tickets of the same task and role (1 = seated next)."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.state not in ("waiting", "forming"):
            return None
        if ticket.state == "forming":
            return 1
        return self.queues[ticket.task_id][ticket.role].index(ticket_id) + 1

    def status(self, ticket_id: str, now: float) -> dict[str, Any] | None:
        """The ``queued`` frame's data for a ticket still waiting (None otherwise)."""
        ticket = self.tickets.get(ticket_id)
        pos = self.position(ticket_id)
        if ticket is None or pos is None:
            return None
        return {"task_id": ticket.task_id, "role": ticket.role, "position": pos,
                "waited_s": round(max(0.0, now - ticket.enqueued_at), 3)}

    def touch(self, ticket_id: str, now: float, polls: int = 0) -> None:
        ticket = self.tickets.get(ticket_id)
        if ticket is not None:
            ticket.last_seen = now
            ticket.polls += polls

    def waiting(self, task_id: str | None = None) -> int:
        tasks = [task_id] if task_id is not None else list(self.queues)
        return sum(len(q) for t in tasks for q in self.queues.get(t, {}).values())

    # ----- seating -----------------------------------------------------------------------------------
    def take_groups(self, now: float) -> list[Group]:
        """Groups to seat now: full ones first, then timed-out ones with house bots in the empty seats."""
        out = []
        for task_id in list(self.queues):
            queues = self.queues[task_id]
            while all(queues[r] for r in self.roles):
                out.append(self._form(task_id, self.roles, ()))
            while any(queues[r] for r in self.roles):
                oldest = min(self.tickets[queues[r][0]].enqueued_at for r in self.roles if queues[r])
                if now < oldest + self.timeout_s:
                    break
                humans = tuple(r for r in self.roles if queues[r])
                out.append(self._form(task_id, humans, tuple(r for r in self.roles if r not in humans)))
            if not any(queues.values()):
                del self.queues[task_id]
        return out

    def _form(self, task_id: str, humans: tuple[str, ...], bots: tuple[str, ...]) -> Group:
        seats = {}
        for role in humans:
            ticket = self.tickets[self.queues[task_id][role].pop(0)]
            ticket.state = "forming"
            seats[role] = ticket.ticket_id
        return Group(task_id, seats, bots)

    def seated(self, group: Group, match_id: str, seat_tokens: dict[str, str]) -> list[str]:
        """Record the created match for every ticket of ``group``; returns the tickets still known."""
        done = []
        for role, tid in group.seats.items():
            ticket = self.tickets.get(tid)
            if ticket is not None:
                ticket.state = "seated"
                ticket.result = {"status": "seated", "match_id": match_id, "token": seat_tokens[role],
                                 "task_id": group.task_id, "role": role}
                done.append(tid)
        return done

    def failed(self, group: Group, error: dict[str, Any]) -> list[str]:
        """The group's match could not be created: its tickets leave the queue with ``error``."""
        done = []
        for tid in group.seats.values():
            ticket = self.tickets.get(tid)
            if ticket is not None:
                ticket.state = "failed"
                ticket.result = {"status": "failed", "error": error}
                done.append(tid)
        return done

    def collect(self, ticket_id: str) -> dict[str, Any] | None:
        """A seated/failed ticket's outcome, once (the ticket is forgotten); None while it waits."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.result is None:
            return None
        del self.tickets[ticket_id]
        return ticket.result

    # ----- time --------------------------------------------------------------------------------------
    def next_due(self) -> float | None:
        """When the oldest waiting ticket of some task times out (None when nobody waits)."""
        heads = [self.tickets[q[0]].enqueued_at for queues in self.queues.values() for q in queues.values() if q]
        return min(heads) + self.timeout_s if heads else None

    def expire(self, now: float) -> list[str]:
        """Drop tickets nobody polled for ``stale_s`` (their socket's server went away)."""
        gone = [t.ticket_id for t in self.tickets.values()
                if t.polls <= 0 and t.state != "forming" and now - t.last_seen > self.stale_s]
        for tid in gone:
            self.leave(tid)
        return gone


class Matchmaker:
    """The asyncio driver of a ``QueuePool``: match creation, waiter wakeups and the timeout timer."""

    def __init__(self, settings: ArenaSettings, create: CreateMatch,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self.pool = QueuePool(settings.queue_timeout_s, stale_s=max(30.0, 3 * settings.queue_notify_s))
        self._create = create
        self._wake: dict[str, asyncio.Event] = {}
        self._kick = asyncio.Event()
        self._timer: asyncio.Task | None = None
        self._launches: set[asyncio.Task] = set()
        self.matches_created = 0

    # ----- requests ----------------------------------------------------------------------------------
    async def enter(self, task_id: str, role: str) -> dict[str, Any]:
        """Queue a connection; returns its ``ticket`` and the first ``queued`` data."""
        now = self.clock()
        ticket = self.pool.enter(task_id, role, now)
        status = self.pool.status(ticket.ticket_id, now) or {}
        self._run_due()
        self._ensure_timer()
        return {"ticket": ticket.ticket_id, **status}

    async def wait(self, ticket_id: str, wait_s: float) -> dict[str, Any]:
        """Long-poll: ``{"status": "seated", match_id, token, …}``, ``{"status": "failed", error}``, or after
        ``wait_s`` ``{"status": "queued", task_id, role, position, waited_s}``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        self.pool.touch(ticket_id, self.clock(), polls=1)
        try:
            while True:
                result = self.pool.collect(ticket_id)
                if result is not None:
                    self._wake.pop(ticket_id, None)
                    return result
                status = self.pool.status(ticket_id, self.clock())
                if status is None:  # left, expired, or forgotten by a restarted matchmaker
                    self._wake.pop(ticket_id, None)
                    return {"status": "failed", "error": ProtocolError(
                        ErrorCode.RESET_ERROR, "this connection is no longer queued; queue again").payload()}
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return {"status": "queued", **status}
                event = self._wake.setdefault(ticket_id, asyncio.Event())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
                event.clear()
        finally:
            self.pool.touch(ticket_id, self.clock(), polls=-1)

    def leave(self, ticket_id: str) -> bool:
        known = self.pool.leave(ticket_id)
        self._notify([ticket_id])
        return known

    def stats(self) -> dict[str, Any]:
        return {"waiting": self.pool.waiting(), "tickets": len(self.pool.tickets),
                "by_task": {t: {r: len(q) for r, q in qs.items()} for t, qs in self.pool.queues.items()},
                "matches_created": self.matches_created}

    # ----- seating -----------------------------------------------------------------------------------
    def _notify(self, ticket_ids: list[str]) -> None:
        for tid in ticket_ids:
            event = self._wake.get(tid)
            if event is not None:
                event.set()

    def _run_due(self) -> None:
        now = self.clock()
        for group in self.pool.take_groups(now):
            task = asyncio.get_running_loop().create_task(self._launch(group))
            self._launches.add(task)
            task.add_done_callback(self._launches.discard)
        for tid in self.pool.expire(now):
            self._wake.pop(tid, None)

    async def _launch(self, group: Group) -> None:
        params = {"task_id": group.task_id, "seed": secrets.randbelow(SEED_LIMIT)}  # hidden until done
        try:
            out = await self._create(params, group.house_bots())
        except ProtocolError as exc:
            self._notify(self.pool.failed(group, exc.payload()))
            return
        except Exception as exc:  # reported to the waiting agents
            err = ProtocolError(ErrorCode.RESET_ERROR, f"the match could not be created: {type(exc).__name__}")
            self._notify(self.pool.failed(group, err.payload()))
            return
        self.matches_created += 1
        self._notify(self.pool.seated(group, out["match_id"], out["seat_tokens"]))

    def _ensure_timer(self) -> None:
        self._kick.set()
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._timer_loop())

    async def _timer_loop(self) -> None:
        while self.pool.tickets:
            self._kick.clear()
            self._run_due()
            due = self.pool.next_due()
            sleep = MAX_TIMER_SLEEP_S if due is None else min(MAX_TIMER_SLEEP_S, max(0.0, due - self.clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), sleep)
        self._timer = None
