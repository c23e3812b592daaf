"""Elo ratings per role for live policies, snapshots and bots, from rating matches.

The game is asymmetric, so ratings form a bipartite pool: Fraudster entries are only ever compared
with Investigator entries, and a rating is meaningful within its role. A match's outcome for the
Investigator is :func:`investigator_score`; the Fraudster gets one minus that.
"""

from __future__ import annotations

import math


def investigator_score(rewards: dict[str, float]) -> float:
    """Match outcome in [0, 1] for the Investigator seat.

    1 if the Fraudster lost reward (its proposals were net rejected), 0 if it gained, 0.5 for a
    Fraudster reward of exactly 0 (abstained or fully escalated); the Investigator's own grader score
    breaks near-ties by ±0.25·(grader − 0.5).
    """
    f = float(rewards.get("fraudster", 0.0))
    base = 1.0 if f < 0 else (0.0 if f > 0 else 0.5)
    g = float(rewards.get("investigator", 0.0))
    return min(1.0, max(0.0, 0.75 * base + 0.25 * g))


class Elo:
    """Plain Elo with a fixed K; ratings start at 1000."""

    def __init__(self, k: float = 16.0, initial: float = 1000.0) -> None:
        self.k = k
        self.initial = initial
        self.ratings: dict[str, float] = {}
        self.games: dict[str, int] = {}

    @staticmethod
    def key(role: str, name: str) -> str:
        return f"{role}/{name}"

    def rating(self, role: str, name: str) -> float:
        return self.ratings.get(self.key(role, name), self.initial)

    def expected(self, ra: float, rb: float) -> float:
        return 1.0 / (1.0 + math.pow(10.0, (rb - ra) / 400.0))

    def update(self, fraudster: str, investigator: str, inv_score: float) -> None:
        """One match between ``fraudster`` and ``investigator`` entries with the Investigator's score."""
        kf, ki = self.key("fraudster", fraudster), self.key("investigator", investigator)
        rf, ri = self.ratings.get(kf, self.initial), self.ratings.get(ki, self.initial)
        e_i = self.expected(ri, rf)
        delta = self.k * (inv_score - e_i)
        self.ratings[ki] = ri + delta
        self.ratings[kf] = rf - delta
        for k in (kf, ki):
            self.games[k] = self.games.get(k, 0) + 1

    def clone(self, role: str, source: str, name: str) -> None:
        """Start entry ``name`` at ``source``'s rating (a snapshot frozen from the live policy)."""
        self.ratings[self.key(role, name)] = self.rating(role, source)

    def table(self) -> list[tuple[str, float, int]]:
        """(entry, rating, games), best first within each role."""
        return sorted(((k, v, self.games.get(k, 0)) for k, v in self.ratings.items()),
                      key=lambda t: (t[0].split("/")[0], -t[1]))

    def to_dict(self) -> dict:
        return {"k": self.k, "ratings": self.ratings, "games": self.games}

    @classmethod
    def from_dict(cls, d: dict) -> Elo:
        e = cls(k=float(d.get("k", 16.0)))
        e.ratings = {k: float(v) for k, v in d.get("ratings", {}).items()}
        e.games = {k: int(v) for k, v in d.get("games", {}).items()}
        return e
