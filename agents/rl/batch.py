"""Packed per-role decision batches: what rollout workers send to the learner.

A batch holds complete trajectories only, concatenated in order; ``dones[t]`` is True on the last
decision of a role in a match (so GAE never bootstraps across matches). Investigator observations have
a variable number of ads, so their ad rows and masks are stored flat with per-step counts and padded only
when turned into tensors (:meth:`RoleBatch.tensors`). A row that several decisions share (an ad the actions
between them did not change) may be stored once: ``ad_rows`` then gives each (decision, ad) its row.
Everything is plain numpy, cheap to pickle through Ray's object store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from fraudarena.agents.rl.codecs import PER_AD


@dataclass
class StepRecord:
    """One decision of a learned role (before packing)."""

    glob: np.ndarray
    mask: np.ndarray
    action: int
    logp: float
    value: float
    ads: np.ndarray | None = None  # investigator only
    reward: float = 0.0
    key: str | int | None = None  # ad_id (investigator verdict/link) or slot (fraudster proposal)
    kind: str = ""
    done: bool = False


@dataclass
class RoleBatch:
    """Concatenated complete trajectories of one role."""

    role: str
    glob: np.ndarray
    actions: np.ndarray
    logp: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    masks: np.ndarray  # fraudster: [T, A]; investigator: flat concatenation of per-step masks
    ads: np.ndarray | None = None  # investigator: [rows, F]
    n_ads: np.ndarray | None = None  # investigator: [T]
    ad_rows: np.ndarray | None = None  # investigator: [sum n_ads] row of ``ads`` per (decision, ad); None = in order
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    @staticmethod
    def from_steps(role: str, steps: list[StepRecord]) -> RoleBatch:
        """Pack a list of complete trajectories (already in order, rewards and dones set)."""
        t = len(steps)
        dones = np.asarray([s.done for s in steps], dtype=bool).reshape(t)
        glob = np.stack([s.glob for s in steps]) if steps else np.zeros((0, 0), np.float32)
        common = dict(
            role=role,
            glob=glob.astype(np.float32, copy=False),
            actions=np.asarray([s.action for s in steps], dtype=np.int64),
            logp=np.asarray([s.logp for s in steps], dtype=np.float32),
            values=np.asarray([s.value for s in steps], dtype=np.float32),
            rewards=np.asarray([s.reward for s in steps], dtype=np.float32),
            dones=dones,
        )
        if role == "investigator":
            n_ads = np.asarray([0 if s.ads is None else s.ads.shape[0] for s in steps], dtype=np.int64)
            ads = (np.concatenate([s.ads for s in steps if s.ads is not None])
                   if steps else np.zeros((0, 0), np.float32))
            masks = np.concatenate([s.mask for s in steps]) if steps else np.zeros(0, bool)
            return RoleBatch(masks=masks, ads=ads.astype(np.float32, copy=False), n_ads=n_ads, **common)
        masks = np.stack([s.mask for s in steps]) if steps else np.zeros((0, 0), bool)
        return RoleBatch(masks=masks, **common)

    @staticmethod
    def concat(batches: list[RoleBatch]) -> RoleBatch:
        """Concatenate batches of the same role (trajectory boundaries are kept by ``dones``)."""
        batches = [b for b in batches if len(b)]
        if not batches:
            raise ValueError("nothing to concatenate")
        first = batches[0]
        cat = {k: np.concatenate([getattr(b, k) for b in batches])
               for k in ("glob", "actions", "logp", "values", "rewards", "dones", "masks")}
        if first.role == "investigator":
            cat["ads"] = np.concatenate([b.ads for b in batches])  # type: ignore[misc]
            cat["n_ads"] = np.concatenate([b.n_ads for b in batches])  # type: ignore[misc]
            if any(b.ad_rows is not None for b in batches):
                base = np.cumsum([0] + [len(b.ads) for b in batches[:-1]])  # type: ignore[arg-type]
                cat["ad_rows"] = np.concatenate([b.row_index() + k for b, k in zip(batches, base, strict=True)])
        return RoleBatch(role=first.role, **cat)

    def row_index(self) -> np.ndarray:
        """The row of ``ads`` of every (decision, ad), concatenated per decision (``ad_rows`` or 0, 1, 2, ...)."""
        assert self.ads is not None
        return self.ad_rows if self.ad_rows is not None else np.arange(len(self.ads), dtype=np.int64)

    def tensors(self, idx: np.ndarray) -> dict[str, torch.Tensor]:
        """Model inputs for the steps ``idx`` (investigator rows padded to the largest queue)."""
        out: dict[str, torch.Tensor] = {"glob": torch.from_numpy(self.glob[idx])}
        if self.role != "investigator":
            out["action_mask"] = torch.from_numpy(self.masks[idx])
            return out
        assert self.n_ads is not None and self.ads is not None
        ad_off = np.concatenate([[0], np.cumsum(self.n_ads)])
        m_sizes = 1 + PER_AD * self.n_ads
        m_off = np.concatenate([[0], np.cumsum(m_sizes)])
        n_max = int(self.n_ads[idx].max()) if len(idx) else 0
        b = len(idx)
        ads = np.zeros((b, n_max, self.ads.shape[1]), dtype=np.float32)
        ad_mask = np.zeros((b, n_max), dtype=bool)
        amask = np.zeros((b, 1 + PER_AD * n_max), dtype=bool)
        rows = self.ad_rows
        for row, i in enumerate(idx):
            n = int(self.n_ads[i])
            sl = slice(ad_off[i], ad_off[i + 1])
            ads[row, :n] = self.ads[sl] if rows is None else self.ads[rows[sl]]
            ad_mask[row, :n] = True
            amask[row, : 1 + PER_AD * n] = self.masks[m_off[i]: m_off[i + 1]]
        out.update(ads=torch.from_numpy(ads), ad_mask=torch.from_numpy(ad_mask),
                   action_mask=torch.from_numpy(amask))
        return out


def pad_investigator(encs_ads: list[np.ndarray], globs: list[np.ndarray], masks: list[np.ndarray]
                     ) -> dict[str, torch.Tensor]:
    """Batch live investigator observations (for the rollout forward pass)."""
    b = len(encs_ads)
    n_max = max((a.shape[0] for a in encs_ads), default=0)
    f = encs_ads[0].shape[1] if b else 0
    ads = np.zeros((b, n_max, f), dtype=np.float32)
    ad_mask = np.zeros((b, n_max), dtype=bool)
    amask = np.zeros((b, 1 + PER_AD * n_max), dtype=bool)
    for i, (a, m) in enumerate(zip(encs_ads, masks, strict=True)):
        n = a.shape[0]
        ads[i, :n] = a
        ad_mask[i, :n] = True
        amask[i, : m.shape[0]] = m
    return {"ads": torch.from_numpy(ads), "ad_mask": torch.from_numpy(ad_mask),
            "glob": torch.from_numpy(np.stack(globs)), "action_mask": torch.from_numpy(amask)}
