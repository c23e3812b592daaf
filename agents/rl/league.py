"""The league: frozen snapshots of each learned role that rollout workers sample as opponents, and how.

Snapshots are ids ``"snap:<role>:<iter>"``; at most ``max_snapshots`` per role are kept (oldest dropped).
When a role's live policy is frozen and how a match's non-focus learned seat is drawn are
``TrainConfig`` options (docs/training.md "League"):

* ``snapshot_rule="timer"``: a snapshot every ``snapshot_every`` PPO iterations (RLlib style);
  ``"win"``: when the Elo ratings give the live policy at least ``snapshot_win_threshold`` expected
  score over the role's strongest snapshot (at least ``snapshot_every`` and at most ``snapshot_max_gap``
  iterations after the previous one), AlphaStar style.
* ``opponent_sampling="weights"``: the kind from ``opponent_weights``, a snapshot uniformly (the runners'
  own draw); ``"pfsp"``: every opponent (the live policy, each snapshot, the house bot) with probability
  ∝ max(floor, (1 − w) ** p), w the live policy's recent score against it (:meth:`League.record`);
  ``"elo"``: the same with w the score the Elo ratings expect. :meth:`League.opponent_table` builds that
  table; :func:`draw_opponent` draws from it inside the runners.
"""

from __future__ import annotations

import random
from collections import deque
from pathlib import Path
from typing import Any

import torch

from fraudarena.agents.rl.ratings import Elo

BOT = "house"
"""The house bots as one opponent: every ``bot:<kind>`` seat of match results (``TrainConfig.house_bots``) counts
as it; the table's choice for it is ``"scripted"`` (a house bot of the seat's kinds, drawn by the runner)."""


def other(role: str) -> str:
    """The opposite learned role."""
    return "fraudster" if role == "investigator" else "investigator"


def draw_opponent(rng: random.Random, table: list[tuple[str, float]]) -> str:
    """One choice (``"live"``, ``"scripted"`` or a snapshot id) from a :meth:`League.opponent_table` list."""
    u = rng.random() * sum(p for _, p in table)
    for choice, p in table:
        u -= p
        if u < 0:
            return choice
    return table[-1][0]


def _rating(elo: Elo, role: str, opponent: str) -> float:
    """``opponent``'s Elo rating; for the house bots, the mean over the role's ``bot:<kind>`` entries."""
    if opponent != BOT:
        return elo.rating(role, opponent)
    bots = [v for k, v in elo.ratings.items() if k.startswith(f"{role}/bot:")]
    return sum(bots) / len(bots) if bots else elo.initial


class League:
    """Snapshot pool per role (state dicts kept in memory, persisted in checkpoints)."""

    def __init__(self, roles: tuple[str, ...], max_snapshots: int = 8, window: int = 400) -> None:
        self.roles = tuple(roles)
        self.max_snapshots = max_snapshots
        self.window = window
        self.snapshots: dict[str, dict[str, dict[str, torch.Tensor]]] = {r: {} for r in self.roles}
        self.scores: dict[str, dict[str, deque[float]]] = {r: {} for r in self.roles}
        """Per live role, per opponent seat name: the live policy's recent match scores in [0, 1]."""
        self.last_frozen: dict[str, int] = {r: 0 for r in self.roles}

    def add(self, role: str, state_dict: dict[str, torch.Tensor], iteration: int) -> str:
        """Freeze ``state_dict`` as a snapshot of ``role``; returns its id."""
        pid = f"snap:{role}:{iteration}"
        self.snapshots[role][pid] = {k: v.detach().clone() for k, v in state_dict.items()}
        self.last_frozen[role] = iteration
        while len(self.snapshots[role]) > self.max_snapshots:
            oldest = min(self.snapshots[role], key=lambda p: int(p.rsplit(":", 1)[1]))
            del self.snapshots[role][oldest]
        return pid

    def ids(self, role: str) -> list[str]:
        """The role's snapshot ids, oldest first."""
        return sorted(self.snapshots.get(role, {}), key=lambda p: int(p.rsplit(":", 1)[1]))

    def pool(self) -> dict[str, list[str]]:
        """The current snapshot ids per role (what the runners may draw; older ones they still hold are not)."""
        return {r: self.ids(r) for r in self.roles}

    # --- results, PFSP, freezing ---------------------------------------------------------------------
    def record(self, seats: dict[str, str], inv_score: float) -> None:
        """One finished PPO match (seat names as in ``MatchResult.seats``, the Investigator's score)."""
        for role in self.roles:
            if seats.get(role) != "live":
                continue
            score = inv_score if role == "investigator" else 1.0 - inv_score
            opp = seats.get(other(role), BOT)
            opp = BOT if opp.startswith("bot:") else opp
            self.scores[role].setdefault(opp, deque(maxlen=self.window)).append(score)

    def win_rate(self, role: str, opponent: str) -> float | None:
        """The live ``role``'s mean recent score against ``opponent`` (None before any match)."""
        d = self.scores.get(role, {}).get(opponent)
        return float(sum(d) / len(d)) if d else None

    def opponents(self, seat_role: str) -> list[str]:
        """Seat names that may sit in ``seat_role``'s seat against the other role's live policy."""
        return ["live", BOT, *self.ids(seat_role)] if seat_role in self.roles else [BOT]

    def opponent_table(self, seat_role: str, sampling: str, elo: Elo | None = None, power: float = 2.0,
                       floor: float = 0.05) -> list[tuple[str, float]]:
        """(choice, probability) for ``seat_role``'s seat when the other role plays live (PFSP).

        ``sampling="pfsp"``: w = the live policy's recent score against the opponent (0.5 before any match);
        ``"elo"``: w = the score ``elo`` expects; weight max(floor, (1 − w) ** power), normalised. Choices
        are ``"live"``, ``"scripted"`` (the house bot) and snapshot ids."""
        live_role = other(seat_role)
        weights = []
        for opp in self.opponents(seat_role):
            if sampling == "elo" and elo is not None:
                w = elo.expected(elo.rating(live_role, "live"), _rating(elo, seat_role, opp))
            elif sampling in ("pfsp", "elo"):
                rate = self.win_rate(live_role, opp)
                w = 0.5 if rate is None else rate
            else:
                raise ValueError(f"unknown opponent_sampling {sampling!r}: expected weights, pfsp or elo")
            weights.append(("scripted" if opp == BOT else opp, max(floor, (1.0 - w) ** power)))
        total = sum(p for _, p in weights)
        return [(c, p / total) for c, p in weights]

    def should_freeze(self, role: str, iteration: int, elo: Elo, min_gap: int, max_gap: int,
                      threshold: float) -> bool:
        """``snapshot_rule="win"``: freeze ``role`` when the Elo ratings give its live policy an expected score
        ≥ ``threshold`` over its strongest snapshot (any, the first time), ``min_gap`` ≤ iterations since
        the last freeze; or after ``max_gap`` iterations regardless."""
        since = iteration - self.last_frozen.get(role, 0)
        if since < max(1, min_gap):
            return False
        if since >= max_gap or not self.snapshots.get(role):
            return True
        best = max(elo.rating(role, pid) for pid in self.snapshots[role])
        return elo.expected(elo.rating(role, "live"), best) >= threshold

    def worker_weights(self, live: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, dict[str, Any]]]:
        """``{policy_id: {role: state_dict}}`` for the rollout workers: "live" plus every snapshot."""
        out: dict[str, dict[str, dict]] = {"live": dict(live)}
        for role, snaps in self.snapshots.items():
            for pid, sd in snaps.items():
                out.setdefault(pid, {})[role] = sd
        return out

    def save(self, directory: str | Path) -> list[str]:
        d = Path(directory)
        saved = []
        for role, snaps in self.snapshots.items():
            for pid, sd in snaps.items():
                sub = d / pid.replace(":", "_")
                sub.mkdir(parents=True, exist_ok=True)
                torch.save(sd, sub / f"{role}.pt")
                saved.append(pid)
        return saved

    def load(self, directory: str | Path, ids: list[str]) -> None:
        d = Path(directory)
        for pid in ids:
            role = pid.split(":")[1]
            f = d / pid.replace(":", "_") / f"{role}.pt"
            if role in self.snapshots and f.exists():
                self.snapshots[role][pid] = torch.load(f, weights_only=True)
                self.last_frozen[role] = max(self.last_frozen[role], int(pid.rsplit(":", 1)[1]))
