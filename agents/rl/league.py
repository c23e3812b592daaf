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

Main exploiters (``TrainConfig.main_exploiters``, AlphaStar style): per learned role a second learning policy,
id :data:`EXPLOITER`, that plays only against the other role's live policy (a share ``exploiter_share`` of the
matches). When it beats the live policy (recent score ≥ ``exploiter_win_threshold``, or with
``exploiter_win_margin`` that much above the live same-role policy's own score against it) or has trained
``exploiter_max_gap`` iterations, it is frozen into the pool as ``"exp:<role>:<iter>"``, where the live
policies then meet it like any snapshot, and it restarts from its role's live policy
(:meth:`League.exploiter_should_freeze`, ``Trainer``).
"""

from __future__ import annotations

import random
from collections import deque
from pathlib import Path
from typing import Any

import torch

from fraudarena.agents.rl.ratings import Elo

EXPLOITER = "exploiter"
"""Policy id of the main exploiters (``weights[EXPLOITER][role]``): learning, like ``"live"``."""
LEARNING = ("live", EXPLOITER)
"""Policy ids whose weights change every iteration (sent to the runners every time; never a pool entry)."""

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


def snapshot_iteration(pid: str) -> int:
    """The PPO iteration a pool entry (``"snap:<role>:<iter>"`` or ``"exp:<role>:<iter>"``) was frozen at."""
    return int(pid.rsplit(":", 1)[1])


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
        self.exploiter_since: dict[str, int] = {r: 0 for r in self.roles}
        """Per role, the iteration its main exploiter (re)started from the live policy."""

    def add(self, role: str, state_dict: dict[str, torch.Tensor], iteration: int, exploiter: bool = False) -> str:
        """Freeze ``state_dict`` as a pool entry of ``role`` (the live policy's snapshot, or with ``exploiter``
        the main exploiter's); returns its id. The oldest entries beyond ``max_snapshots`` are dropped."""
        pid = f"{'exp' if exploiter else 'snap'}:{role}:{iteration}"
        self.snapshots[role][pid] = {k: v.detach().clone() for k, v in state_dict.items()}
        if not exploiter:
            self.last_frozen[role] = iteration
        while len(self.snapshots[role]) > self.max_snapshots:
            del self.snapshots[role][self.ids(role)[0]]
        return pid

    def ids(self, role: str) -> list[str]:
        """The role's pool ids, oldest first (a live snapshot before an exploiter's of the same iteration)."""
        return sorted(self.snapshots.get(role, {}), key=lambda p: (snapshot_iteration(p), p.startswith("exp")))

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
                       floor: float = 0.05, house_share: float | None = None) -> list[tuple[str, float]]:
        """(choice, probability) for ``seat_role``'s seat when the other role plays live (PFSP).

        ``sampling="pfsp"``: w = the live policy's recent score against the opponent (0.5 before any match);
        ``"elo"``: w = the score ``elo`` expects; weight max(floor, (1 − w) ** power), normalised. Choices
        are ``"live"``, ``"scripted"`` (the house bot) and snapshot ids. With ``house_share`` the house bot
        gets exactly that probability and the weights of the others are normalised to the rest."""
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
        if house_share is not None and len(weights) > 1:
            if not 0.0 <= house_share <= 1.0:
                raise ValueError(f"pfsp_house_share {house_share} is not a probability")
            rest = sum(p for c, p in weights if c != "scripted")
            return [(c, house_share if c == "scripted" else (1.0 - house_share) * p / rest) for c, p in weights]
        total = sum(p for _, p in weights)
        return [(c, p / total) for c, p in weights]

    def should_freeze(self, role: str, iteration: int, elo: Elo, min_gap: int, max_gap: int,
                      threshold: float) -> bool:
        """``snapshot_rule="win"``: freeze ``role`` when the Elo ratings give its live policy an expected score
        ≥ ``threshold`` over its strongest own snapshot (exploiters' not counted; any, the first time),
        ``min_gap`` ≤ iterations since the last freeze; or after ``max_gap`` iterations regardless."""
        since = iteration - self.last_frozen.get(role, 0)
        if since < max(1, min_gap):
            return False
        own = [pid for pid in self.snapshots.get(role, {}) if pid.startswith("snap:")]
        if since >= max_gap or not own:
            return True
        best = max(elo.rating(role, pid) for pid in own)
        return elo.expected(elo.rating(role, "live"), best) >= threshold

    def exploiter_score(self, role: str) -> float | None:
        """``role``'s main exploiter's recent mean score against the other role's live policy (None before any
        match since it last restarted)."""
        rate = self.win_rate(other(role), EXPLOITER)
        return None if rate is None else 1.0 - rate

    def exploiter_should_freeze(self, role: str, iteration: int, min_gap: int, max_gap: int,
                                threshold: float, margin: float | None = None) -> bool:
        """Freeze ``role``'s main exploiter when its recent score against the live policy is ≥ ``threshold``
        (after at least ``min_gap`` iterations of training), or after ``max_gap`` iterations regardless.

        With ``margin`` the rule is relative: the exploiter's score must beat the live ``role``'s own recent
        score against the same live opponent (live-vs-live matches) by ``margin``; ``threshold`` is unused."""
        since = iteration - self.exploiter_since.get(role, 0)
        if since < max(1, min_gap):
            return False
        if since >= max_gap:
            return True
        score = self.exploiter_score(role)
        if score is None:
            return False
        if margin is None:
            return score >= threshold
        live = self.win_rate(role, "live")
        return live is not None and score - live >= margin

    def restart_exploiter(self, role: str, iteration: int) -> None:
        """``role``'s main exploiter starts over (from the live policy): its clock and its results reset."""
        self.exploiter_since[role] = iteration
        self.scores.get(other(role), {}).pop(EXPLOITER, None)

    def worker_weights(self, live: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, dict[str, Any]]]:
        """``{policy_id: {role: state_dict}}`` for the rollout workers: "live" plus every snapshot."""
        out: dict[str, dict[str, dict]] = {"live": dict(live)}
        for role, snaps in self.snapshots.items():
            for pid, sd in snaps.items():
                out.setdefault(pid, {})[role] = sd
        return out

    def save(self, directory: str | Path) -> list[str]:
        """Write every pool entry as ``<id with _ for :>/<role>.pt``; returns the ids written."""
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
        """Read back the pool entries ``ids`` written by :meth:`save`."""
        d = Path(directory)
        for pid in ids:
            role = pid.split(":")[1]
            f = d / pid.replace(":", "_") / f"{role}.pt"
            if role in self.snapshots and f.exists():
                self.snapshots[role][pid] = torch.load(f, weights_only=True)
                if pid.startswith("snap:"):
                    self.last_frozen[role] = max(self.last_frozen[role], snapshot_iteration(pid))
