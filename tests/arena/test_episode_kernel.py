"""The compiled episode generation (``arena/core/episode.py``) equals the plain-Python reading of §4.5.

``tests/helpers/reference_generation.py`` is the engine's generation as it was before the kernel; every
attribute of every generated ad, the late order, the rings and the used-identifier sets must match, over all
tasks, the round overrides that change late arrivals, and thousands of seeds (collision redraws included:
some seeds redraw identifiers, and the test checks that some do).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from reference_generation import reference_episode

from fraudarena.arena.ads import Ad
from fraudarena.arena.core.episode import _random, _stem_pair_ids, _unique, stream_state
from fraudarena.arena.generation import generate_episode
from fraudarena.arena.rng import B32_ALPHABET, SEED_LIMIT, b32
from fraudarena.arena.spec import OVERRIDE_RANGES, STEM_A, STEM_B, TASK_IDS, TASKS

_AD_FIELDS = [name for name in Ad.__slots__ if name not in ("view", "view_fraudster")]


def _ad(ad: Ad) -> dict[str, Any]:
    return {name: getattr(ad, name) for name in _AD_FIELDS}


def _same_episode(task_id: str, seed: int, max_rounds: int) -> None:
    task = TASKS[task_id]
    got = generate_episode(task, task_id, seed, max_rounds)
    want = reference_episode(task, task_id, seed, max_rounds)
    assert [_ad(a) for a in got.base_ads] == [_ad(a) for a in want.base_ads], (task_id, seed, max_rounds)
    assert [a.ad_id for a in got.late] == [a.ad_id for a in want.late]
    assert [(r.ring_id, r.members, r.shared_kinds, r.topology) for r in got.rings] == [
        (r.ring_id, r.members, r.shared_kinds, r.topology) for r in want.rings]
    assert got.used == want.used


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
