"""The core's compiled draws against Python: the Mersenne Twister stream values and the evidence outcomes."""

from __future__ import annotations

import random

import numpy as np

from fraudarena.arena.core.draws import N_DRAWS, draw_outcomes, mt_stream_values, mt_streams_values
from fraudarena.arena.core.tables import FIELDS, N_FIELDS
from fraudarena.arena.evidence import draw_fields, field_outcome
from fraudarena.arena.rng import stream_seed
from fraudarena.arena.spec import LABELS, TARGETS


def test_stream_values_are_pythons_random() -> None:
    rng = random.Random(3)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1] + [rng.getrandbits(64) for _ in range(300)]
    seeds += [stream_seed("task_3", s, f"evidence/ad_{s}") for s in range(100)]
    out = np.zeros(700)
    for seed in seeds:
        mt_stream_values(np.uint64(seed), 700, out)  # past one 624-word twist
        ref = random.Random(seed)
        assert out.tolist() == [ref.random() for _ in range(700)], seed
        for n in (1, 2, 27, 113, 114):  # short streams twist only the words they read (up to 227 words)
            mt_stream_values(np.uint64(seed), n, out)
            ref = random.Random(seed)
            assert out[:n].tolist() == [ref.random() for _ in range(n)], (seed, n)


def test_many_streams_at_once_are_pythons_random() -> None:
    """The side-by-side seeding (one-word keys and long streams fall back to the one-seed path)."""
    rng = random.Random(4)
    seeds = [0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1] + [rng.getrandbits(64) for _ in range(200)]
    rng.shuffle(seeds)
    for n in (1, 2, 27, 113, 114, 700):
        out = np.zeros((len(seeds), n))
        mt_streams_values(np.array(seeds, np.uint64), n, out)
        for seed, row in zip(seeds, out, strict=True):
            ref = random.Random(seed)
            assert row.tolist() == [ref.random() for _ in range(n)], (seed, n)


def test_outcomes_follow_draw_fields() -> None:
    rng = random.Random(5)
    u = np.zeros(N_DRAWS)
    outc = np.zeros(N_FIELDS, np.int64)
    for k in range(3000):
        seed = rng.getrandbits(64)
        modes = tuple(rng.choice(LABELS) for _ in range(5))
        shares = rng.random() < 0.3
        fields = draw_fields(random.Random(seed).random, modes, rng.randint(1, 5), shares)
        mt_stream_values(np.uint64(seed), N_DRAWS, u)
        draw_outcomes(u, np.array([LABELS.index(m) for m in modes]), shares, outc)
        want = [field_outcome(f, fields[TARGETS[t]][f.name]) for t, f in FIELDS]
        assert outc.tolist() == want, k


def test_draw_fields_consumes_the_plan() -> None:
    calls = 0

    def counting() -> float:
        nonlocal calls
        calls += 1
        return 0.5

    draw_fields(counting, ("legit",) * 5, 1, False)
    assert calls == N_DRAWS
