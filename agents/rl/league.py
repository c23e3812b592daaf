"""The league: frozen snapshots of each learned role that rollout workers sample as opponents.

Snapshots are taken every ``snapshot_every`` iterations (RLlib/AlphaStar style); each match draws the
non-focus learned seat from {live policy, a uniformly chosen snapshot, the scripted bot} with the
configured ``opponent_weights`` (sampling happens in :class:`~fraudarena.agents.rl.runner.SelfPlayRunner`).
At most ``max_snapshots`` per role are kept (oldest dropped). Snapshot ids are ``"snap:<role>:<iter>"``.
"""

from __future__ import annotations

from pathlib import Path

import torch


class League:
    """Snapshot pool per role (state dicts kept in memory, persisted in checkpoints)."""

    def __init__(self, roles: tuple[str, ...], max_snapshots: int = 8) -> None:
        self.roles = tuple(roles)
        self.max_snapshots = max_snapshots
        self.snapshots: dict[str, dict[str, dict[str, torch.Tensor]]] = {r: {} for r in self.roles}

    def add(self, role: str, state_dict: dict[str, torch.Tensor], iteration: int) -> str:
        """Freeze ``state_dict`` as a snapshot of ``role``; returns its id."""
        pid = f"snap:{role}:{iteration}"
        self.snapshots[role][pid] = {k: v.detach().clone() for k, v in state_dict.items()}
        while len(self.snapshots[role]) > self.max_snapshots:
            oldest = min(self.snapshots[role], key=lambda p: int(p.rsplit(":", 1)[1]))
            del self.snapshots[role][oldest]
        return pid

    def ids(self, role: str) -> list[str]:
        return sorted(self.snapshots.get(role, {}), key=lambda p: int(p.rsplit(":", 1)[1]))

    def worker_weights(self, live: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, dict]]:
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
