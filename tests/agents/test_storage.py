"""``DecisionStore``: Investigator ad rows stored once per change still give every decision exactly its rows."""

from __future__ import annotations

import numpy as np

from fraudarena.agents.rl.batch import RoleBatch
from fraudarena.agents.rl.storage import DecisionStore

M, A, F, G = 5, 7, 4, 3


def _decision_cols(n: int, uid: np.ndarray) -> dict[str, np.ndarray]:
    zeros = np.zeros(n, np.int64)
    return dict(action=zeros, logp=np.zeros(n, np.float32), value=np.zeros(n, np.float32), uid=uid, kind=zeros,
                key=zeros, slot=zeros, slot2=zeros, target=zeros, link_k=zeros)


def test_shared_rows_pack_to_the_same_tensors_as_plain_copies() -> None:
    rng = np.random.default_rng(3)
    store = DecisionStore("investigator", G, F, capacity=4)  # tiny: every buffer grows along the way
    ads = rng.normal(size=(M, A, F)).astype(np.float32)
    slots = np.tile(np.arange(A), (M, 1))
    n_ads = rng.integers(1, A + 1, M)
    uid = np.arange(M, dtype=np.int64)
    next_uid = M
    want: dict[int, list[np.ndarray]] = {u: [] for u in uid.tolist()}  # uid -> the ad rows of each decision
    packed: list[tuple[RoleBatch, np.ndarray]] = []
    for step in range(60):
        ms = np.flatnonzero(rng.random(M) < 0.7)
        if len(ms):
            glob = rng.normal(size=(M, G)).astype(np.float32)
            mask = np.ones((M, 1 + 10 * A), bool)
            store.append(ms, glob, mask, n_ads=n_ads[ms], ads_src=ads, slots_src=slots,
                         **_decision_cols(len(ms), uid[ms]))
            for m in ms.tolist():
                want[int(uid[m])].append(ads[m, :n_ads[m]].copy())
        # between decisions: a few ads change, queues grow and reorder (a new ad lands in the middle)
        for m in range(M):
            ads[m, rng.integers(0, A)] = rng.normal(size=F)
            n = int(n_ads[m])
            if n < A and rng.random() < 0.3:  # a new ad (slot n) published at queue position j
                j = int(rng.integers(0, n + 1))
                ads[m, j + 1:n + 1] = ads[m, j:n].copy()
                slots[m, j + 1:n + 1] = slots[m, j:n].copy()
                ads[m, j] = rng.normal(size=F)
                slots[m, j] = n
                n_ads[m] = n + 1
        if step % 9 == 8:  # some matches end; their batch rows start new matches
            ended = np.flatnonzero(rng.random(M) < 0.5)
            batch, _starts, uids = store.pack({int(u) for u in uid[ended]})
            if batch is not None:  # checked at once: a batch's rows live in buffers the next-but-one pack reuses
                _check(batch, [r for u in uids.tolist() for r in want[u]])
                packed.append((batch, uids))
            for m in ended.tolist():
                uid[m] = next_uid
                want[next_uid] = []
                next_uid += 1
                ads[m] = rng.normal(size=(A, F))
                slots[m] = np.arange(A)
                n_ads[m] = rng.integers(1, A + 1)
    assert len(packed) >= 2
    shared = sum(int(b.n_ads.sum()) - len(b.ads) for b, _ in packed)  # type: ignore[union-attr, arg-type]
    assert shared > 0  # unchanged ads were stored once
    # the last two batches are still valid: concatenated, every decision keeps its rows
    both = RoleBatch.concat([b for b, _ in packed[-2:]])
    _check(both, [r for _b, uids in packed[-2:] for u in uids.tolist() for r in want[u]])


def _check(batch: RoleBatch, rows: list[np.ndarray]) -> None:
    assert batch.ads is not None and batch.n_ads is not None and batch.ad_rows is not None
    assert len(rows) == len(batch)
    tensors = batch.tensors(np.arange(len(batch)))
    for t, r in enumerate(rows):
        np.testing.assert_array_equal(tensors["ads"][t, :len(r)].numpy(), r)
        assert not tensors["ads"][t, len(r):].any()


def test_concat_mixes_shared_and_plain_batches() -> None:
    rng = np.random.default_rng(0)

    def batch(n: int, ad_rows: np.ndarray | None, n_rows: int) -> RoleBatch:
        z = np.zeros(n, np.float32)
        return RoleBatch("investigator", glob=np.zeros((n, G), np.float32), actions=np.zeros(n, np.int64), logp=z,
                         values=z, rewards=z, dones=np.ones(n, bool), masks=np.ones(n * 11, bool),
                         ads=rng.normal(size=(n_rows, F)).astype(np.float32), n_ads=np.ones(n, np.int64),
                         ad_rows=ad_rows)

    plain = batch(3, None, 3)
    shared = batch(3, np.array([1, 1, 0], np.int32), 2)
    both = RoleBatch.concat([plain, shared])
    got = both.tensors(np.arange(6))["ads"][:, 0].numpy()
    want = np.concatenate([plain.ads, shared.ads[[1, 1, 0]]])
    np.testing.assert_array_equal(got, want)
