"""Columnar rollout storage for the batched runner: decisions appended per vector step, packed per trajectory.

Each learned role has one ``DecisionStore``: per-decision scalars and the global vector in growing arrays,
and for the Investigator the variable-length masks in a flat array with per-decision offsets.
``append`` writes a whole group of matches at once (numba gathers straight from the feature buffers);
``pack`` cuts out the decisions of finished matches, ordered trajectory by trajectory (``RoleBatch``'s
layout), and keeps the unfinished ones for the next call. Buffers grow by doubling and are reused.

Investigator ad rows are stored once per change, not once per decision: an action changes a few ads, so
about 7 in 8 rows of a decision equal the same ad's row at the match's previous decision (measured on the
30-minute checkpoint, task_3). ``append`` compares each ad's new row with the last one stored for that ad
slot of the match and appends only rows that differ; a decision holds row indices (``RoleBatch.ad_rows``).
That cuts the rows copied at append, at pack and by Ray's serialisation of a worker's result (122 MB per
collect of 256 matches × 60 steps before) about eightfold.

The packed ad rows and masks are written into two output buffers used in turn: fresh memory costs a page
fault per 4 KiB, which on these VMs is slower than the copy itself. So a returned batch's ``ads`` and
``masks`` stay valid until the next-but-one ``pack`` (Ray pickles a worker's result when ``collect``
returns; the trainer uses a batch within its iteration).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fraudarena.agents.rl.batch import RoleBatch


@njit(cache=True)
def _gather_rows(src, ms, counts, dst, start) -> None:
    """dst[start:] ← src[m, :counts[i]] for each ms[i] (the leading entries of rows of a [M, W] buffer)."""
    p = start
    for i in range(ms.shape[0]):
        m = ms[i]
        for j in range(counts[i]):
            dst[p] = src[m, j]
            p += 1


@njit(cache=True)
def _append_ad_rows(src, ms, counts, slots, uids, rows, n_rows, refs, start, last, last_uid) -> int:
    """Ad rows of one decision per match ``ms[i]`` (``src[m, :counts[i]]``, queue position j holding ad slot
    ``slots[m, j]``) as indices into ``rows``: the row last stored for that slot of that match (``last[m, slot]``,
    valid while ``last_uid[m] == uids[i]``) when equal, else a new row at ``n_rows``. ``refs[start:]`` ← the
    indices; returns the new row count. The caller sizes ``rows`` for every row being new."""
    p = start
    r = n_rows
    width = src.shape[2]
    for i in range(ms.shape[0]):
        m = ms[i]
        if last_uid[m] != uids[i]:  # a new match in this batch row: nothing of the old one is reused
            last[m, :] = -1
            last_uid[m] = uids[i]
        for j in range(counts[i]):
            s = slots[m, j]
            k = last[m, s]
            same = k >= 0
            if same:
                for c in range(width):
                    if rows[k, c] != src[m, j, c]:
                        same = False
                        break
            if not same:
                for c in range(width):
                    rows[r, c] = src[m, j, c]
                k = r
                last[m, s] = r
                r += 1
            refs[p] = k
            p += 1
    return r


@njit(cache=True)
def _take_rows(src, idx, dst) -> None:
    width = src.shape[1]
    for i in range(idx.shape[0]):
        k = idx[i]
        for c in range(width):
            dst[i, c] = src[k, c]


@njit(cache=True)
def _ragged_take_2d(src, off, idx, dst) -> None:
    p = 0
    width = src.shape[1]
    for i in idx:
        for r in range(off[i], off[i + 1]):
            for c in range(width):  # element loop: row-slice assignment is ~20x slower in numba
                dst[p, c] = src[r, c]
            p += 1


@njit(cache=True)
def _ragged_take_1d(src, off, idx, dst) -> None:
    p = 0
    for i in idx:
        for r in range(off[i], off[i + 1]):
            dst[p] = src[r]
            p += 1


def _ragged_take(src: np.ndarray, off: np.ndarray, idx: np.ndarray, dst: np.ndarray) -> None:
    """dst ← concatenation of src[off[i]:off[i+1]] for i in idx (in order)."""
    (_ragged_take_2d if src.ndim == 2 else _ragged_take_1d)(src, off, idx, dst)


def _grow(a: np.ndarray, need: int) -> np.ndarray:
    if need <= a.shape[0]:
        return a
    out = np.empty((max(need, 2 * a.shape[0]), *a.shape[1:]), a.dtype)
    out[:a.shape[0]] = a
    return out


class DecisionStore:
    """The decisions of one role (see the module docstring)."""

    SCALARS = ("action", "logp", "value", "uid", "kind", "slot", "slot2", "target", "link_k", "key")

    def __init__(self, role: str, glob_width: int, ad_width: int = 0, mask_width: int = 0, capacity: int = 4096
                 ) -> None:
        self.role = role
        self.ragged = role == "investigator"
        self.n = 0
        self.glob = np.zeros((capacity, glob_width), np.float32)
        self.cols = {k: np.zeros(capacity, np.float32 if k in ("logp", "value") else np.int64) for k in self.SCALARS}
        self._out: list[tuple[np.ndarray, np.ndarray]] = []  # packed (ads, masks) buffers, used in turn
        self._turn = 0
        if self.ragged:
            self.ads = np.zeros((capacity * 8, ad_width), np.float32)  # distinct rows, in append order
            self.n_rows = 0
            self.ad_refs = np.zeros(capacity * 8, np.int64)  # per decision and ad: its row in ``ads``
            self.mask = np.zeros(capacity * 80, bool)
            self.ad_off = np.zeros(capacity + 1, np.int64)
            self.mask_off = np.zeros(capacity + 1, np.int64)
            self.last = np.full((0, 0), -1, np.int64)  # [match, ad slot] → row last stored for it
            self.last_uid = np.zeros(0, np.int64)
        else:
            self.mask = np.zeros((capacity, mask_width), bool)

    def append(self, ms: np.ndarray, glob_src: np.ndarray, mask_src: np.ndarray, n_ads: np.ndarray | None = None,
               ads_src: np.ndarray | None = None, slots_src: np.ndarray | None = None, **scalars: np.ndarray
               ) -> None:
        """Append one decision per match ``ms``: features gathered from the runner's buffers.

        Investigator: ``ads_src`` [M, A, F] ad rows in queue order, ``slots_src`` [M, A] the ad slot at each
        queue position (the key under which a row is reused), ``scalars["uid"]`` tells matches apart."""
        b = len(ms)
        n0, n1 = self.n, self.n + b
        self.glob = _grow(self.glob, n1)
        self.glob[n0:n1] = glob_src[ms]
        for k, v in scalars.items():
            self.cols[k] = _grow(self.cols[k], n1)
            self.cols[k][n0:n1] = v
        if self.ragged:
            assert n_ads is not None and ads_src is not None and slots_src is not None
            self.ad_off = _grow(self.ad_off, n1 + 1)
            self.mask_off = _grow(self.mask_off, n1 + 1)
            a0, m0 = int(self.ad_off[n0]), int(self.mask_off[n0])
            widths = 1 + 10 * n_ads
            self.ad_off[n0 + 1:n1 + 1] = a0 + np.cumsum(n_ads)
            self.mask_off[n0 + 1:n1 + 1] = m0 + np.cumsum(widths)
            self.ad_refs = _grow(self.ad_refs, int(self.ad_off[n1]))
            self.ads = _grow(self.ads, self.n_rows + int(n_ads.sum()))
            self.mask = _grow(self.mask, int(self.mask_off[n1]))
            if self.last.shape[0] < ads_src.shape[0] or self.last.shape[1] < slots_src.shape[1]:
                self.last = np.full((ads_src.shape[0], slots_src.shape[1]), -1, np.int64)
                self.last_uid = np.full(ads_src.shape[0], -1, np.int64)
            self.n_rows = _append_ad_rows(ads_src, ms, n_ads, slots_src, np.asarray(scalars["uid"], np.int64),
                                          self.ads, self.n_rows, self.ad_refs, a0, self.last, self.last_uid)
            _gather_rows(mask_src, ms, widths, self.mask, m0)
        else:
            self.mask = _grow(self.mask, n1)
            self.mask[n0:n1] = mask_src[ms]
        self.n = n1

    def pack(self, finished: set[int]) -> tuple[RoleBatch | None, np.ndarray, np.ndarray]:
        """(batch of finished trajectories, their trajectory start offsets, the uid of each trajectory).

        Decisions of unfinished matches stay in the store (moved to its front), in order.
        """
        n = self.n
        uid = self.cols["uid"][:n]
        done = np.fromiter((int(u) in finished for u in uid), bool, n) if n else np.zeros(0, bool)
        take = np.flatnonzero(done)
        keep = np.flatnonzero(~done)
        order = take[np.argsort(uid[take], kind="stable")]
        batch = None
        starts = np.zeros(0, np.int64)
        uids = np.zeros(0, np.int64)
        if len(order):
            batch = self._build(order)
            u = uid[order]
            starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
            uids = u[starts]
        self._compact(keep)
        return batch, starts, uids

    def _build(self, order: np.ndarray) -> RoleBatch:
        t = len(order)
        self.last_cols = {k: v[order] for k, v in self.cols.items()}
        common = dict(role=self.role, glob=self.glob[order], actions=self.last_cols["action"],
                      logp=self.last_cols["logp"], values=self.last_cols["value"],
                      rewards=np.zeros(t, np.float32), dones=np.zeros(t, bool))
        if not self.ragged:
            return RoleBatch(masks=self.mask[order], **common)
        n_ads = self.ad_off[order + 1] - self.ad_off[order]
        widths = self.mask_off[order + 1] - self.mask_off[order]
        refs = np.empty(int(n_ads.sum()), np.int64)
        _ragged_take(self.ad_refs, self.ad_off, order, refs)
        used, ad_rows = np.unique(refs, return_inverse=True)  # the rows these decisions use, renumbered
        ads, mask = self._output(len(used), int(widths.sum()))
        _take_rows(self.ads, used, ads)
        _ragged_take(self.mask, self.mask_off, order, mask)
        return RoleBatch(masks=mask, ads=ads, n_ads=n_ads, ad_rows=ad_rows.astype(np.int32), **common)

    def _output(self, n_rows: int, n_mask: int) -> tuple[np.ndarray, np.ndarray]:
        """Views of the next output buffer pair, grown (with headroom) when too small."""
        while len(self._out) < 2:
            self._out.append((np.zeros((0, self.ads.shape[1]), np.float32), np.zeros(0, bool)))
        k = self._turn
        self._turn = 1 - k
        ads, mask = self._out[k]
        if ads.shape[0] < n_rows:
            ads = np.empty((n_rows + n_rows // 4, ads.shape[1]), np.float32)
        if mask.shape[0] < n_mask:
            mask = np.empty(n_mask + n_mask // 4, bool)
        self._out[k] = (ads, mask)
        return ads[:n_rows], mask[:n_mask]

    def _compact(self, keep: np.ndarray) -> None:
        k = len(keep)
        if k == self.n:
            return
        self.glob[:k] = self.glob[keep]
        for v in self.cols.values():
            v[:k] = v[keep]
        if self.ragged:
            n_ads = self.ad_off[keep + 1] - self.ad_off[keep]
            widths = self.mask_off[keep + 1] - self.mask_off[keep]
            refs = np.empty(int(n_ads.sum()), np.int64)
            _ragged_take(self.ad_refs, self.ad_off, keep, refs)
            used, new_refs = np.unique(refs, return_inverse=True)
            ads = np.empty((len(used), self.ads.shape[1]), np.float32)
            _take_rows(self.ads, used, ads)
            self.ads[:len(ads)] = ads
            self.n_rows = len(used)
            self.ad_refs[:len(refs)] = new_refs
            # rows of dropped decisions are gone: renumber the per-slot pointers, forget the others
            if len(used):
                pos = np.minimum(np.searchsorted(used, self.last), len(used) - 1)
                self.last[:] = np.where((self.last >= 0) & (used[pos] == self.last), pos, -1)
            else:
                self.last[:] = -1
            mask = np.empty(int(widths.sum()), bool)
            _ragged_take(self.mask, self.mask_off, keep, mask)
            self.mask[:len(mask)] = mask
            self.ad_off[1:k + 1] = np.cumsum(n_ads)
            self.mask_off[1:k + 1] = np.cumsum(widths)
            self.ad_off[0] = self.mask_off[0] = 0
        else:
            self.mask[:k] = self.mask[keep]
        self.n = k
