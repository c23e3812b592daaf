"""The compiled episode generation (``arena/core/episode.py``) equals §4.5 as the rules text reads.

``test_rules_generation.ref_episode`` is that reading: every draw of the ``episode`` stream in order. Every
drawn attribute of every generated ad, the late order, the rings, and what follows from them (the used
identifiers, who shares a payment instrument or a targeting fingerprint) must match, over all tasks, the
round overrides that change late arrivals, and thousands of seeds; the collision redraws are checked on
a small value space where they are certain.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from test_rules_generation import ref_episode

from fraudarena.arena.core.episode import _random, _stem_pair_ids, _unique, stream_state
from fraudarena.arena.generation import generate_episode
from fraudarena.arena.rng import B32_ALPHABET, SEED_LIMIT, b32
from fraudarena.arena.spec import OVERRIDE_RANGES, STEM_A, STEM_B, TASK_IDS, TASKS

_IDS = ("advertiser_id", "payment_id", "registrar", "domain_stem", "targeting_fingerprint", "config_fingerprint")


def _same_episode(task_id: str, seed: int, max_rounds: int) -> None:
    got = generate_episode(TASKS[task_id], task_id, seed, max_rounds)
    want = ref_episode(task_id, seed, max_rounds)
    assert [a.ad_id for a in got.base_ads] == list(want["ads"]), (task_id, seed, max_rounds)
    for ad in got.base_ads:
        w = want["ads"][ad.ad_id]
        assert (ad.label, ad.category, ad.style, ad.text_seed, ad.country, ad.ring_id) == (
            w["label"], w["category"], w["style"], w["text_seed"], w["country"], w["ring_id"]), (task_id, seed)
        assert (ad.late_round or 1) == w["arrived_round"]
        assert {k: getattr(ad, k) for k in _IDS} == w["ids"]
    assert [a.ad_id for a in got.late] == want["late"]
    assert [(r.ring_id, sorted(r.members), set(r.shared_kinds)) for r in got.rings] == [
        (r["ring_id"], r["members"], r["shared"]) for r in want["rings"]]
    # what follows from the draws
    ring_of = {m: r for r in got.rings for m in r.members}
    for ad in got.base_ads:
        ring = ring_of.get(ad.ad_id)
        shared = ring.shared_kinds if ring else ()
        assert ad.n_on_payment == (len(ring.members) if "payment_id" in shared else 1)  # type: ignore[union-attr]
        assert ad.shares_fingerprint == ("targeting_fingerprint" in shared)
    for field in ("ad_id", "advertiser_id", "payment_id", "domain_stem", "targeting_fingerprint",
                  "config_fingerprint"):
        assert getattr(got.used, field) == {getattr(a, field) for a in got.base_ads}


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_kernel_matches_the_reference_over_many_seeds(task_id: str) -> None:
    task = TASKS[task_id]
    lo, hi = OVERRIDE_RANGES["max_rounds"]
    for seed in range(400):
        _same_episode(task_id, seed, task.max_rounds)
    for seed, rounds in zip(range(400, 460), [lo, lo + 1, 2, 3, hi] * 12, strict=True):  # late arrivals vary
        _same_episode(task_id, seed, rounds)
    rng = np.random.default_rng(7)
    for seed in rng.integers(0, SEED_LIMIT, size=60, dtype=np.uint64).tolist():  # two-word MT keys
        _same_episode(task_id, int(seed), task.max_rounds)


def test_late_ads_are_the_base_ads_themselves() -> None:
    ep = generate_episode(TASKS["task_3"], "task_3", 11, TASKS["task_3"].max_rounds)
    assert ep.late and all(any(a is b for b in ep.base_ads) for a in ep.late)
    assert all(a.late_round for a in ep.late) and sum(1 for a in ep.base_ads if a.late_round) == len(ep.late)


def test_collision_redraws_follow_the_stream() -> None:
    """A value already used is redrawn from the same stream until a new one comes (§4.5), exactly as Python's
    loop does; a space of 4 values forces redraws that real identifier spaces (2**30) make rare."""
    for seed in (1, 2, 3, 12345678901234):
        rng = random.Random(seed)
        want: list[int] = []
        while len(want) < 4:
            v = int(rng.random() * 4)
            if v not in want:
                want.append(v)
        state = stream_state(np.uint64(seed))
        used = np.zeros(4, np.int64)
        n_used = np.zeros(1, np.int64)
        assert [_unique(state, used, n_used, 4.0) for _ in range(4)] == want
        assert _random(state) == rng.random()  # and the stream goes on where Python's does


def test_stem_pairs_are_canonical_per_text() -> None:
    ids = _stem_pair_ids()
    texts: dict[int, str] = {}
    for i, a in enumerate(STEM_A):
        for j, b in enumerate(STEM_B):
            assert texts.setdefault(int(ids[i, j]), a + b) == a + b
    assert len(set(texts.values())) == len(texts)


def test_identifier_texts_write_every_base32_digit() -> None:
    """``rng.b32``'s 6- and 8-character fast paths equal the digit-by-digit writing (the identifiers' text)."""
    rng = random.Random(5)
    for n in (2, 6, 8):
        for v in [0, 1, 31, 32, (1 << 5 * n) - 1] + [rng.randrange(1 << 5 * n) for _ in range(500)]:
            digits = []
            x = v
            for _ in range(n):
                digits.append(B32_ALPHABET[x % 32])
                x //= 32
            assert b32(v, n) == "".join(reversed(digits))
