"""The two Finding values the core keeps for the RingHunterInvestigator, against ``evidence.draw_fields``.

``accounts_on_instrument`` and ``audience_overlap_pct`` are not rules state (no outcome index carries them), so the
core draws them at reset from the same ``evidence/<ad_id>`` stream values (``arena/core/draws.py::draw_values``);
here every combination of modes, fingerprint sharing and payment holders is checked value for value, and on real
matches the core's columns are checked against the referee's Findings.
"""

from __future__ import annotations

import random

import numpy as np

from fraudarena.arena.core import CoreBatch
from fraudarena.arena.core.draws import N_DRAWS, draw_values, mt_stream_values
from fraudarena.arena.core.layout import AI_AOI, AI_OVERLAP, MI_NSLOTS
from fraudarena.arena.evidence import draw_fields
from fraudarena.arena.referee import RefereeEnvironment
from fraudarena.arena.spec import LABELS, TASK_IDS


def test_values_follow_draw_fields() -> None:
    rng = random.Random(11)
    u = np.zeros(N_DRAWS)
    vals = np.zeros(2, np.int64)
    for k in range(4000):
        seed = rng.getrandbits(64)
        modes = tuple(rng.choice(LABELS) for _ in range(5))
        shares = rng.random() < 0.3
        n_pay = rng.choice((1, 1, 2, 3, 4, 5, 7))
        fields = draw_fields(random.Random(seed).random, modes, n_pay, shares)
        mt_stream_values(np.uint64(seed), N_DRAWS, u)
        draw_values(u, np.array([LABELS.index(m) for m in modes]), shares, n_pay, vals)
        want = [fields["payment_method"]["accounts_on_instrument"], fields["targeting_overlap"]["audience_overlap_pct"]]
        assert vals.tolist() == want, (k, modes, shares, n_pay)


def test_core_columns_are_the_referees_findings() -> None:
    """Every ad of a few matches per task (base ads and proposals): the columns equal the Findings' values."""
    batch = CoreBatch(1, n_slots=45)
    n_ads = n_ring_values = 0
    for task in TASK_IDS:
        for seed in range(5):
            env = RefereeEnvironment(task_id=task, seed=seed)
            batch.reset(0, task, seed)
            env.apply("fraudster", {"action_type": "propose_ad", "category": env.allowed_categories[0],
                                    "ad_copy": "Great prices on everyday goods.", "camouflage": []})
            batch.propose(0, env.allowed_categories[0], (), "Great prices on everyday goods.")
            info = batch.texts[0]
            assert info is not None
            for s in range(int(batch.mi[0, MI_NSLOTS])):
                ad = env.ads[info.ad_ids[s]]
                pay = env.make_finding(ad, "payment_method")
                tgt = env.make_finding(ad, "targeting_overlap")
                assert batch.ai[0, s, AI_AOI] == pay["accounts_on_instrument"], (task, seed, s)
                assert batch.ai[0, s, AI_OVERLAP] == tgt["audience_overlap_pct"], (task, seed, s)
                n_ads += 1
                n_ring_values += pay["accounts_on_instrument"] >= 3 and 85 <= tgt["audience_overlap_pct"] <= 99
    assert n_ads > 300 and n_ring_values > 0
