"""One live match as the server sees it: the referee, its seats and tokens, deadlines, bots and events.

Everything here is plain Python with an injected clock (``now`` arguments), so the same class backs
the Ray match actor and the single-process baseline, and tests drive time by hand. Every method
either applies a whole request or raises ``ProtocolError`` having changed nothing.

With a ``MatchJournal`` every accepted action (and every change of seat holder) is written to the
match's journal before the request is answered, and ``LiveMatch.from_journal`` rebuilds the match
on another process with the same token digests, seat holders and ``seq`` marks
(docs/operations.md#faults-and-recovery). A connection id may name the process that holds the socket
(``<owner>/<random>``, see ``served.tokens.new_conn_id``); the host installs a probe with
``set_conn_probe`` so that a seat held by a connection of a dead process is free for a plain rejoin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fraudarena.arena import ArenaError, RefereeEnvironment
from fraudarena.arena.rng import bot_seed
from fraudarena.arena.spec import PHASE_ROLE, ROLES
from fraudarena.served import tokens
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.journal import MatchJournal, journal_file, read_journal
from fraudarena.served.settings import ArenaSettings

log = logging.getLogger(__name__)

HEADER_KEYS: tuple[str, ...] = (
    "role", "task_id", "phase", "round_number", "max_rounds", "rounds_remaining", "actions_left_this_turn",
    "budget_remaining", "action_budget", "proposals_used", "max_proposals", "arrivals_remaining",
    "queue_may_grow", "fraudster_committed", "end_reason", "done", "reward", "feedback", "legal_actions",
)
BotFactory = Callable[[str, str, int], Any]
ConnProbe = Callable[[str], bool]


def _always_alive(conn: str) -> bool:
    return True


_conn_alive: ConnProbe = _always_alive


def set_conn_probe(probe: ConnProbe | None) -> None:
    """Install the process-wide check "is the socket behind this connection id still alive?".

    The Ray match actor installs one that asks Ray whether the replica named in the id has died;
    without one every connection counts as alive (a seat is then freed only by ``leave``).
    """
    global _conn_alive
    _conn_alive = probe or _always_alive


def conn_alive(conn: str) -> bool:
    """False when the installed probe knows ``conn``'s process is gone."""
    try:
        return bool(_conn_alive(conn))
    except Exception:  # a failing probe must never take a seat away
        return True


@dataclass
class Seat:
    """One role's seat: a house bot, or a human reachable through at most one connection."""

    role: str
    bot_kind: str | None = None
    bot: Any = None
    token_digest: bytes | None = None
    conn: str | None = None
    ever_seated: bool = False
    last_seq: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_bot(self) -> bool:
        return self.bot_kind is not None

    def status(self) -> str:
        if self.is_bot:
            return "bot"
        if self.conn is not None:
            return "connected"
        return "disconnected" if self.ever_seated else "empty"


LOST = "lost"  # status and end reason of a match that could not be rebuilt after a fault


def lost_event(summary: dict[str, Any]) -> dict[str, Any]:
    """The ``match_done`` event a seated socket gets when its match could not be rebuilt after a fault and was
    archived ``lost`` (docs/protocol.md#reconnecting): status and end reason ``lost``, no reward."""
    return {"kind": "match_done", "match_id": summary.get("match_id"), "phase": summary.get("phase"),
            "round_number": summary.get("round_number"), "status": LOST, "end_reason": LOST, "reward": None}


class LiveMatch:
    """A match between creation and archiving."""

    def __init__(self, match_id: str, params: dict[str, Any], house_bots: dict[str, str],
                 settings: ArenaSettings, now: float, bot_factory: BotFactory,
                 journal: MatchJournal | None = None, restore: dict[str, Any] | None = None) -> None:
        self.match_id = match_id
        self.settings = settings
        self.journal: MatchJournal | None = None
        self.archived_early = False  # the archive already holds this (finished) match
        self._early_entry: dict[str, Any] | None = None  # made when it finished, until the host takes it
        self._early_made = False
        overrides = {k: v for k, v in params.items() if k not in ("task_id", "seed") and v is not None}
        try:
            self.env = RefereeEnvironment(task_id=params.get("task_id") or "task_1", seed=params.get("seed"),
                                          **overrides)
        except ArenaError as exc:
            raise ProtocolError(exc.code, exc.message, exc.details) from None
        except (TypeError, ValueError) as exc:
            raise ProtocolError(ErrorCode.RESET_ERROR, f"match could not be created: {exc}") from None
        self.max_rounds = int(self.env.observe("auditor")["max_rounds"])
        self._final_record: dict[str, Any] | None = None
        self.seats: dict[str, Seat] = {r: Seat(r) for r in ROLES}
        self.tokens: dict[str, str] = {}
        for role, kind in house_bots.items():
            seat = self.seats[role]
            seat.bot_kind = kind
            seat.bot = bot_factory(kind, role, bot_seed(self.env.task_id, self.env.seed, role))
        if restore is None:
            for role, seat in self.seats.items():
                if not seat.is_bot:
                    self.tokens[role] = tokens.new_token()
                    seat.token_digest = tokens.digest(self.tokens[role])
            self.admin_token = tokens.new_token()
            self.admin_digest = tokens.digest(self.admin_token)
        else:  # a rebuilt match accepts the tokens it was created with (only their digests were kept)
            for role, hexdigest in restore["seat_digests"].items():
                self.seats[role].token_digest = bytes.fromhex(hexdigest)
            self.admin_token = ""
            self.admin_digest = bytes.fromhex(restore["admin_digest"])
        self.created_at = now
        self.last_activity_at = now
        self.first_seated_at: float | None = None
        self.turn_started_at = now
        self.unattended_since: float | None = now
        self.done_at: float | None = None
        self.action_log: list[dict[str, Any]] = []  # append-only: every accepted action, in order
        self.phase_log: list[dict[str, Any]] = []  # (position in action_log, phase, round) changes
        self.changed = 0  # bumped on every state change (summary pushes, wakeups)
        self.restarts = 0  # times this match was rebuilt from its journal
        if journal is not None and restore is None:
            self.journal = journal
            self._journal({"t": "create", "match_id": match_id, "at": now, "house_bots": dict(house_bots),
                           "params": {**params, "task_id": self.env.task_id, "seed": self.env.seed},
                           "seat_digests": {r: s.token_digest.hex() for r, s in self.seats.items()
                                            if s.token_digest is not None},
                           "admin_digest": self.admin_digest.hex()})
        if restore is None:
            self._run_bots(now)

    @classmethod
    def from_journal(cls, entries: list[dict[str, Any]], settings: ArenaSettings, now: float,
                     bot_factory: BotFactory, journal: MatchJournal | None = None,
                     keep_conns: bool = True, resume: bool = True) -> LiveMatch:
        """Rebuild a match from its journal (``served.journal.read_journal``): same config, same accepted
        actions in the same order, same token digests, seat holders and ``seq`` marks.

        House bots are made again from their seeds and move on from the replayed state. Deadlines restart
        at ``now`` (the player to move gets a full turn). ``keep_conns=False`` (a whole-arena restart)
        leaves every human seat disconnected, to be rejoined with its token. Every seat still held gets a
        ``match_restarted`` event. ``resume=False`` only rebuilds the state (to read its record): no
        journal line, event or bot move. Raises ``ProtocolError`` when the journal cannot be replayed.
        """
        head = entries[0]
        match = cls(head["match_id"], head["params"], head.get("house_bots") or {}, settings, now, bot_factory,
                    restore=head)
        match.created_at = float(head.get("at", now))
        for entry in entries[1:]:
            kind = entry.get("t")
            if kind == "act":
                seat = match.seats[entry["role"]]
                match._apply(entry["role"], entry["action"], now)
                if entry.get("seq") is not None:
                    seat.last_seq = int(entry["seq"])
            elif kind == "seat":
                seat = match.seats[entry["role"]]
                seat.conn, seat.ever_seated = entry["conn"], True
                if match.first_seated_at is None:
                    match.first_seated_at = now
            elif kind == "left":
                match.seats[entry["role"]].conn = None
            elif kind == "restarted":
                match.restarts = int(entry.get("n", match.restarts))
        dropped = []
        for seat in match.seats.values():
            seat.events.clear()  # replayed phase changes are old news; sockets get ``match_restarted``
            if seat.conn is not None and (not keep_conns or not conn_alive(seat.conn)):
                seat.conn = None
                dropped.append(seat.role)
        if not resume:
            return match
        match.restarts += 1
        match.turn_started_at = now
        match.unattended_since = None if any(s.conn for s in match.seats.values()) else now
        match.last_activity_at = now
        if match.done_at is not None:
            match.done_at = now
        match.journal = journal
        match._journal({"t": "restarted", "n": match.restarts, "at": now})
        for role in dropped:  # so that a later rebuild does not seat them again
            match._journal({"t": "left", "role": role})
        for seat in match.seats.values():
            if not seat.is_bot and seat.conn is not None:
                match._push(seat.role, {"kind": "match_restarted", "restarts": match.restarts,
                                        "last_seq": seat.last_seq})
        match._run_bots(now)
        return match

    # ----- public requests -----------------------------------------------------------------------
    def seat_creator(self, role: str, conn: str, now: float) -> int:
        return self._seat(role, conn, now)

    def join(self, role: str, conn: str, token: str | None, takeover: bool, now: float) -> tuple[int, str | None]:
        """Seat ``conn`` in ``role``; returns (event cursor, connection id that was taken over)."""
        seat = self.seats[role]
        if seat.is_bot:
            raise ProtocolError(ErrorCode.SEAT_TAKEN, f"the {role} seat is played by a house bot")
        if token is None:
            if not self.settings.open_seats:
                raise ProtocolError(ErrorCode.UNAUTHORIZED, "join needs the seat token of this role ('token')")
            if seat.conn is not None and seat.conn != conn:
                raise ProtocolError(ErrorCode.SEAT_TAKEN, f"the {role} seat has a live connection")
            return self._seat(role, conn, now), None
        if not tokens.matches(token, seat.token_digest):
            raise ProtocolError(ErrorCode.UNAUTHORIZED, f"wrong token for the {role} seat of this match")
        old = seat.conn
        if old is not None and old != conn and not takeover and not conn_alive(old):
            old = seat.conn = None  # the socket's process is gone (docs/protocol.md#reconnecting)
        if old is not None and old != conn and not takeover:
            raise ProtocolError(ErrorCode.SEAT_TAKEN,
                                f"the {role} seat has a live connection (send takeover: true to replace it)")
        cursor = self._seat(role, conn, now)
        return cursor, (old if old not in (None, conn) else None)

    def leave(self, role: str, conn: str, now: float) -> bool:
        seat = self.seats[role]
        if seat.conn != conn:
            return False
        seat.conn = None
        self._journal({"t": "left", "role": role})
        self._touch(now)
        if not any(s.conn for s in self.seats.values()):
            self.unattended_since = now
        return True

    def drop_dead_conns(self, now: float) -> list[str]:
        """Free the seats whose connection's process is known dead (an orphaned socket of a dead replica):
        they show ``disconnected`` and the idle rule applies again. Returns the roles freed."""
        freed = [r for r, seat in self.seats.items() if seat.conn is not None and not conn_alive(seat.conn)]
        for role in freed:
            self.leave(role, self.seats[role].conn or "", now)
        return freed

    def holds(self, role: str, conn: str) -> bool:
        return self.seats[role].conn == conn

    def step(self, role: str, action: Any, seq: int | None, now: float) -> dict[str, Any]:
        seat = self.seats[role]
        if seq is not None and seat.last_seq is not None and seq <= seat.last_seq:
            out = self.observation(role)
            out["duplicate"] = True
            return out
        if not isinstance(action, dict):
            raise ProtocolError(ErrorCode.VALIDATION_ERROR, "step data must be an action object",
                                [{"loc": ["data"], "msg": "expected an object"}])
        self._apply(role, action, now, seq)
        if seq is not None:
            seat.last_seq = seq
        self._run_bots(now)
        return self.observation(role)

    def observation(self, role: str) -> dict[str, Any]:
        obs = dict(self.env.observe(role))
        obs["match_id"] = self.match_id
        obs["last_seq"] = self.seats[role].last_seq
        return obs

    def state(self, role: str, now: float) -> dict[str, Any]:
        obs = self.env.observe(role)
        out: dict[str, Any] = {"match_id": self.match_id, "episode_id": self.match_id}
        out["step_count"] = len(self.action_log) if self.env.done else self.env.accepted_actions(role)
        for key in HEADER_KEYS:
            out[key] = obs.get(key)
        out["seats"] = self.seat_statuses()
        deadline = self.deadline()
        out["turn_deadline_ms"] = None if deadline is None else max(0, int((deadline - now) * 1000))
        out["last_seq"] = self.seats[role].last_seq
        if self.env.done:
            out["record"] = self.record()
        return out

    def seat_statuses(self) -> dict[str, str]:
        return {r: s.status() for r, s in self.seats.items()}

    def check_admin(self, token: str | None) -> None:
        if not tokens.matches(token, self.admin_digest):
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "DELETE needs this match's admin token")

    # ----- time ------------------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """When the role to move gets its default action (None when no deadline runs)."""
        if self.env.done or self.first_seated_at is None:
            return None
        role = self.env.current_role
        if role is None or self.seats[role].is_bot:
            return None
        return max(self.turn_started_at, self.first_seated_at) + self.settings.turn_timeout_s

    def due(self) -> float | None:
        """The next instant at which ``advance`` has something to do."""
        times = []
        if self.done_at is not None and not self._early_made:
            times.append(self.done_at)  # archive it now; keep serving its last events for done_linger_s
        elif self.done_at is not None:
            times.append(self.done_at + self.settings.done_linger_s)
        else:
            d = self.deadline()
            if d is not None:
                times.append(d)
            if self.unattended_since is not None:
                times.append(self.unattended_since + self.settings.idle_ttl_s)
            if self.first_seated_at is None:
                times.append(self.created_at + self.settings.unjoined_ttl_s)
        return min(times) if times else None

    def advance(self, now: float) -> str | None:
        """Apply expired deadlines; return ``"done"``/``"abandoned"`` when the match must be archived."""
        if self.done_at is not None:
            if not self._early_made:
                self._early_made = True
                self._early_entry = self.archive_entry("done", now)
                self._early_entry["keep_live"] = True
            return "done" if now >= self.done_at + self.settings.done_linger_s else None
        self.drop_dead_conns(now)
        if self.unattended_since is not None and now >= self.unattended_since + self.settings.idle_ttl_s:
            self._broadcast_done("abandoned")
            return "abandoned"
        if self.first_seated_at is None and now >= self.created_at + self.settings.unjoined_ttl_s:
            self._broadcast_done("abandoned")  # created (e.g. anonymously over REST) and never joined
            return "abandoned"
        deadline = self.deadline()
        if deadline is not None and now >= deadline:
            role = self.env.current_role
            assert role is not None
            self._push(role, {"kind": "turn_timeout"})
            self._apply(role, self.env.default_action(role), now)
            self._run_bots(now)
        if self.done_at is not None and self.settings.done_linger_s <= 0:
            return "done"
        return None

    def abandon(self) -> None:
        self._broadcast_done("abandoned")

    # ----- archive ---------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        env = self.env
        out: dict[str, Any] = {
            "match_id": self.match_id, "task_id": env.task_id, "phase": env.phase,
            "round_number": env.round_number, "max_rounds": self.max_rounds,
            "seats": self.seat_statuses(), "created_at": self.created_at,
            "last_activity_at": self.last_activity_at, "status": "done" if env.done else "live",
        }
        if env.done:
            out.update(self._result_fields(self.record()))
        return out

    def record(self) -> dict[str, Any]:
        """The docs/rules.md §11 record (cached once the match is done: it no longer changes)."""
        if self._final_record is not None:
            return self._final_record
        record = self.env.record()
        if self.env.done:
            self._final_record = record
        return record

    def take_early_archive(self) -> dict[str, Any] | None:
        """The archive entry of a match that has just finished, once (made by ``advance``).

        The host archives it at once while the match stays live for ``done_linger_s``, so a stop or a
        crash during the linger loses nothing (docs/operations.md#faults-and-recovery). The entry
        carries ``keep_live``: the host still holds the match, so it is not released yet.
        """
        entry, self._early_entry = self._early_entry, None
        if entry is not None:
            self.archived_early = True
        return entry

    def archive_entry(self, status: str, now: float) -> dict[str, Any]:
        record = self.record()
        summary = self.summary()
        summary["status"] = status
        summary["finished_at"] = now
        if status == "done":
            summary.update(self._result_fields(record))
        else:
            for key in ("end_reason", "grader_score", "rewards"):
                summary.pop(key, None)
            summary["end_reason"] = None
        out = {"match_id": self.match_id, "summary": summary, "record": record,
               "phase_log": list(self.phase_log), "secret": self.admin_digest}
        if status == "done" and self.archived_early:
            out["already_archived"] = True  # stored when it finished: only the journal is left to remove
        return out

    def salvage_entry(self, now: float, why: str) -> dict[str, Any]:
        """The archive entry of this match (rebuilt from its journal) when it cannot go on: ``done`` with its
        whole record if it had finished (a finished match is never archived ``lost`` over its ``done`` entry),
        else ``lost`` with its record so far and ``why``."""
        if self.env.done:
            return self.archive_entry("done", now)
        entry = self.archive_entry(LOST, now)
        entry["summary"].update(status=LOST, end_reason=LOST, lost_reason=why)
        return entry

    @staticmethod
    def _result_fields(record: dict[str, Any]) -> dict[str, Any]:
        grader = record.get("grader") or {}
        return {"end_reason": record.get("end_reason"), "grader_score": grader.get("score"),
                "rewards": record.get("rewards")}

    # ----- internals -------------------------------------------------------------------------------
    def _seat(self, role: str, conn: str, now: float) -> int:
        seat = self.seats[role]
        seat.conn = conn
        seat.ever_seated = True
        if self.first_seated_at is None:
            self.first_seated_at = now
        self.unattended_since = None
        self._journal({"t": "seat", "role": role, "conn": conn})
        self._touch(now)
        return len(seat.events)

    def _touch(self, now: float) -> None:
        self.last_activity_at = now
        self.changed += 1

    def _journal(self, entry: dict[str, Any]) -> None:
        if self.journal is None:
            return
        try:
            self.journal.write(entry)
        except OSError:  # a full or vanished disk: keep playing, but the match is no longer durable
            log.exception("journal of %s failed; the match goes on without one", self.match_id)
            self.journal.close()
            self.journal = None

    def close_journal(self) -> None:
        """Stop writing the journal (the match left this host)."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def _apply(self, role: str, action: dict[str, Any], now: float, seq: int | None = None) -> None:
        before = (self.env.phase, self.env.round_number)
        try:
            accepted = self.env.apply(role, action)
        except ArenaError as exc:
            raise ProtocolError(exc.code, exc.message, exc.details) from None
        except ProtocolError:
            raise
        except Exception as exc:  # an engine fault: the action was not applied
            raise ProtocolError(ErrorCode.EXECUTION_ERROR, f"the action could not be applied: {exc!r}") from None
        entry: dict[str, Any] = {"t": "act", "role": role, "action": accepted}
        if seq is not None:
            entry["seq"] = seq
        self._journal(entry)  # durable before the request is answered
        self.action_log.append({"role": role, "action": accepted, "round": before[1], "phase": before[0]})
        self._touch(now)
        if (self.env.phase, self.env.round_number) != before:
            self._on_phase_change(now)

    def _on_phase_change(self, now: float) -> None:
        env = self.env
        self.turn_started_at = now
        self.phase_log.append({"after": len(self.action_log), "phase": env.phase, "round": env.round_number})
        if env.done:
            self.done_at = now
            self._broadcast_done("done")
            return
        current = PHASE_ROLE.get(env.phase)
        for role in ROLES:
            self._push(role, {"kind": "your_turn" if role == current else "phase_changed"})

    def _broadcast_done(self, status: str) -> None:
        end_reason = self.record().get("end_reason") if status == "done" else None
        for role in ROLES:
            extra: dict[str, Any] = {"status": status, "end_reason": end_reason, "reward": None}
            if status == "done" and self.seats[role].conn is not None:
                extra["reward"] = self.env.observe(role).get("reward")
            self._push(role, {"kind": "match_done", **extra})

    def _push(self, role: str, data: dict[str, Any]) -> None:
        seat = self.seats[role]
        if seat.conn is None:
            return
        event = {"kind": data["kind"], "match_id": self.match_id, "phase": self.env.phase,
                 "round_number": self.env.round_number}
        event.update({k: v for k, v in data.items() if k != "kind"})
        seat.events.append(event)

    def _run_bots(self, now: float) -> None:
        """Let house bots move while it is a bot's turn (they move as soon as their turn starts)."""
        guard = 0
        while not self.env.done:
            role = self.env.current_role
            if role is None or not self.seats[role].is_bot:
                return
            guard += 1
            if guard > 10_000:
                raise ProtocolError(ErrorCode.EXECUTION_ERROR, "house bot did not finish its turn")
            action = self.seats[role].bot.act(self.env.observe(role, text=False))
            try:
                self._apply(role, action, now)
            except ProtocolError:
                # A bot bug must not stall the match: its role takes the default action instead.
                self._apply(role, self.env.default_action(role), now)


def restore_match(match_id: str, settings: ArenaSettings, now: float, bot_factory: BotFactory,
                  keep_conns: bool = True) -> LiveMatch:
    """Rebuild ``match_id`` from its journal under ``settings.journal_path()`` and keep journaling to it.

    Raises ``ProtocolError`` (``reset_error``) when there is no journal or it cannot be replayed.
    """
    directory = settings.journal_path()
    if directory is None:
        raise ProtocolError(ErrorCode.RESET_ERROR, "matches are not journaled here (journal_dir)")
    path = journal_file(directory, match_id)
    try:
        entries = read_journal(path)
    except (OSError, ValueError) as exc:
        raise ProtocolError(ErrorCode.RESET_ERROR, f"the journal of {match_id} cannot be read: {exc}") from None
    try:
        return LiveMatch.from_journal(entries, settings, now, bot_factory,
                                      journal=MatchJournal(path, settings.journal_fsync), keep_conns=keep_conns)
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.RESET_ERROR, f"the journal of {match_id} does not replay: {exc.message}"
                            ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(ErrorCode.RESET_ERROR, f"the journal of {match_id} is malformed: {exc!r}") from None
