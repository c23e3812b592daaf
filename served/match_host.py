"""Holds one or K live matches and answers every per-match request by match id (no Ray, no I/O).

The Ray ``MatchActor`` and the single-process baseline both wrap this class. Requests from a socket
name the connection (``conn``) so the host can tell the seat's current holder from a stale one.
Finished or abandoned matches leave through ``tick``/``delete`` as archive entries; their last
events stay readable for a short while so every socket receives its ``match_done``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fraudarena.served import tokens, views
from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.live_match import BotFactory, LiveMatch
from fraudarena.served.settings import ArenaSettings

RECENT_KEEP_S = 60.0
RECENT_MAX = 256


def default_bot_factory(kind: str, role: str, seed: int) -> Any:
    from fraudarena.agents import make_bot

    if kind.startswith("policy:"):  # learned policies need torch: load that only when asked for
        from fraudarena.agents.rl import neural_policy

        neural_policy.register()
    return make_bot(kind, role, seed)


class MatchHost:
    """Up to ``capacity`` live matches, keyed by match id."""

    def __init__(self, settings: ArenaSettings, capacity: int = 1,
                 bot_factory: BotFactory = default_bot_factory) -> None:
        self.settings = settings
        self.capacity = capacity
        self.bot_factory = bot_factory
        self.matches: dict[str, LiveMatch] = {}
        self.recent: OrderedDict[str, tuple[float, LiveMatch]] = OrderedDict()
        self.generation = 0  # bumped by clear(): a recycled host is a new host

    # ----- lifecycle ---------------------------------------------------------------------------------
    def create(self, match_id: str, role: str | None, conn: str | None, params: dict[str, Any],
               house_bots: dict[str, str], now: float) -> dict[str, Any]:
        if match_id in self.matches:
            raise ProtocolError(ErrorCode.RESET_ERROR, f"match id {match_id} already exists")
        if len(self.matches) >= self.capacity:
            raise ProtocolError(ErrorCode.CAPACITY, "this match host is full")
        match = LiveMatch(match_id, params, house_bots, self.settings, now, self.bot_factory)
        self.matches[match_id] = match
        out: dict[str, Any] = {"match_id": match_id, "seat_tokens": dict(match.tokens),
                               "admin_token": match.admin_token, "summary": match.summary()}
        if role is not None and conn is not None:
            out["cursor"] = match.seat_creator(role, conn, now)
            out["observation"] = match.observation(role)
        return out

    def clear(self) -> None:
        """Forget every match (used when a pooled actor is recycled)."""
        self.matches.clear()
        self.recent.clear()
        self.generation += 1

    def tick(self, now: float) -> list[dict[str, Any]]:
        """Apply deadlines; return the archive entries of matches that leave now."""
        out = []
        for match_id, match in list(self.matches.items()):
            status = match.advance(now)
            if status is not None:
                out.append(self._retire(match_id, status, now))
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
