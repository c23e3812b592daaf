"""Drive a ``RefereeEnvironment`` and a ``CoreBatch`` slot with the same actions and compare them (test helper).

Used by the differential tests: every accepted action is applied to both, and after each one every field the
core keeps is checked against the referee's (counters, queue order, per-ad public and hidden state, links);
at match end the grader too.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np

from fraudarena.arena.core import kernels as K
from fraudarena.arena.core.actions import CAMO_SETS, FRAUD_PROPOSE0, K_LINK, K_VERDICT, PER_AD, decode_proposal
from fraudarena.arena.core.batch import CoreBatch, marker_bits
from fraudarena.arena.core.layout import (
    AF_CCONF,
    AF_CONF,
    AI_ARRIVED,
    AI_AUTO,
    AI_CUNSAFE,
    AI_MARKERS,
    AI_PULLED,
    AI_REV,
    AI_STATUS,
    END_NAMES,
    MI_BUDGET,
    MI_CAP,
    MI_COMMITTED,
    MI_END,
    MI_NINV,
    MI_NLINKS,
    MI_NPROPS,
    MI_PHASE,
    MI_ROUND,
    MI_TURN,
    MI_UNPUB,
    MI_USED,
    PHASE_NAMES,
    STATUS_NAMES,
)
from fraudarena.arena.core.tables import FIELDS
from fraudarena.arena.evidence import field_outcome
from fraudarena.arena.referee import RefereeEnvironment
from fraudarena.arena.spec import TARGET_INDEX, TARGETS
from fraudarena.arena.texts import compose


def compare(env: RefereeEnvironment, batch: CoreBatch, m: int, where: str) -> None:
    """Assert that slot ``m`` of ``batch`` holds the same match state as ``env``."""
    mi, ai, af = batch.mi[m], batch.ai[m], batch.af[m]
    assert PHASE_NAMES[mi[MI_PHASE]] == env.phase, where
    assert mi[MI_ROUND] == env.round_number, where
    if env.phase in ("fraudster_turn", "investigator_turn"):
        assert (mi[MI_TURN], mi[MI_CAP]) == (env.turn_count, env.turn_cap), where
    assert mi[MI_BUDGET] - mi[MI_USED] == env.budget_remaining, where
    assert bool(mi[MI_COMMITTED]) == env.committed, where
    assert mi[MI_NPROPS] == len(env.proposals), where
    assert mi[MI_UNPUB] == env.unpublished_organic, where
    assert mi[MI_NINV] == env.n_investigate, where
    assert END_NAMES[mi[MI_END]] == env.end_reason, where
    ids = batch.queue_ids(m)
    assert ids == env._queue_ids, where
    for q, ad in enumerate(env.queue):
        s = int(batch.queue[m, q])
        row = ai[s]
        assert STATUS_NAMES[row[AI_STATUS]] == ad.status, (where, ad.ad_id)
        if ad.status != "pending":
            assert af[s, AF_CONF] == ad.confidence, (where, ad.ad_id)
        assert bool(row[AI_AUTO]) == ad.auto_approved, (where, ad.ad_id)
        assert row[AI_PULLED] == sum(1 << TARGET_INDEX[t] for t in ad.pulled), (where, ad.ad_id)
        assert row[AI_MARKERS] == marker_bits(ad.copy_markers), (where, ad.ad_id)
        assert row[AI_REV] == ad.copy_revision, (where, ad.ad_id)
        assert row[AI_ARRIVED] == ad.arrived_round, (where, ad.ad_id)
        for t, finding in ad.pulled.items():
            if t == "policy_classifier":
                assert bool(row[AI_CUNSAFE]) == (finding["decision"] == "unsafe"), (where, ad.ad_id)
                assert af[s, AF_CCONF] == finding["confidence"], (where, ad.ad_id)
                continue
            ti = TARGET_INDEX[t]
            for j, (ft, f) in enumerate(FIELDS):
                if ft == ti:
                    assert batch.outc[m, s, j] == field_outcome(f, finding[f.name]), (where, ad.ad_id, f.name)
    links = [(batch.ad_id(m, int(a)), batch.ad_id(m, int(b))) for a, b in batch.links[m, :mi[MI_NLINKS]]]
    assert links == env.links, where


def compare_grader(env: RefereeEnvironment, batch: CoreBatch, m: int) -> None:
    """Assert the grader (score, raw, best, baseline, terms) and the link credit rows agree."""
    g = env.grader
    assert g is not None
    gr = batch.gr[m]
    assert gr[K.GR_SCORE] == g["score"]
    assert gr[K.GR_RAW] == g["raw"]
    assert gr[K.GR_BEST] == g["best"]
    assert gr[K.GR_BASELINE] == g["baseline"]
    assert gr[K.GR_MATRIX] == g["terms"]["matrix"]
    for k, row in enumerate(env.link_rows):
        code = batch.link_ok[m, k] if "links" in g["terms"] else 0
        assert (code >= 1, code == 2) == (row["correct"], row["credited"])


def _propose_texts(rng: random.Random, category: str) -> tuple[str, str | None, str | None]:
    style = "pushy" if rng.random() < 0.5 else "plain"
    copy = compose("copy", category, style, rng.getrandbits(32))
    targeting = compose("targeting", category, "plain", rng.getrandbits(32)) if rng.random() < 0.5 else None
    blurb = compose("landing", category, "plain", rng.getrandbits(32)) if rng.random() < 0.5 else None
    return copy, targeting, blurb


def play_both(task_id: str, seed: int, overrides: dict[str, Any], rng: random.Random, batch: CoreBatch,
              m: int = 0, end_bias: float = 0.1,
              on_state: Callable[[RefereeEnvironment, int], None] | None = None) -> tuple[RefereeEnvironment, int]:
    """Play one match with random legal actions on both engines, comparing after every action.

    ``on_state(env, m)`` is called at reset and after every action (the feature tests hook in there).
    """
    env = RefereeEnvironment(task_id=task_id, seed=seed, **overrides)
    batch.reset(m, task_id, seed, overrides)
    compare(env, batch, m, "reset")
    if on_state is not None:
        on_state(env, m)
    actions = np.full(batch.n_matches, -1, np.int64)
    conf = np.zeros(batch.n_matches)
    n = 0
    while env.phase in ("fraudster_turn", "investigator_turn"):
        inv_mask, fraud_mask = batch.masks()
        role = env.current_role
        if role == "investigator":
            legal = np.nonzero(inv_mask[m])[0]
            code = int(legal[0]) if rng.random() < end_bias else int(rng.choice(legal[1:].tolist() or [0]))
            ids = batch.queue_ids(m)
            if code == 0:
                act: dict[str, Any] = {"action_type": "end_turn"}
            else:
                q, k = divmod(code - 1, PER_AD)
                ad_id = ids[q]
                if k < K_VERDICT:
                    act = {"action_type": "investigate", "ad_id": ad_id, "investigation_target": TARGETS[k]}
                elif k < K_LINK:
                    c = round(rng.random(), 2)
                    conf[m] = c
                    act = {"action_type": "verdict", "ad_id": ad_id, "verdict": ("approve", "reject", "escalate")[
                        k - K_VERDICT], "confidence": c, "rationale": "r"}
                else:
                    j = K.partner(batch.mi, batch.ai, batch.queue, m, int(batch.queue[m, q]))
                    act = {"action_type": "link_accounts", "ad_id": ad_id, "linked_ad_id": batch.ad_id(m, j)}
            env.apply("investigator", act)
            actions[m] = code
            codes = batch.step(actions, conf)
            assert codes[m] == K.OK, (code, act)
        else:
            legal = np.nonzero(fraud_mask[m])[0]
            props = int(batch.mi[m, MI_NPROPS])
            u = rng.random()
            pending_slots = [a.slot_index for a in env.proposals if a.status == "pending"]
            if u < 0.15 and pending_slots:
                slot = rng.choice(pending_slots)
                new_copy = None
                if rng.random() < 0.7:
                    cat = env.proposals[slot].category
                    new_copy = (env.proposals[slot].ad_copy if rng.random() < 0.2
                                else compose("copy", cat, "pushy" if rng.random() < 0.5 else "plain",
                                             rng.getrandbits(32)))
                new_blurb = "a new landing blurb" if (rng.random() < 0.3 or new_copy is None) else None
                act = {"action_type": "modify_pending_ad", "slot_index": slot}
                if new_copy:
                    act["new_ad_copy"] = new_copy
                if new_blurb:
                    act["new_landing_page_blurb"] = new_blurb
                env.apply("fraudster", act)
                batch.modify(m, slot, new_copy, new_blurb)
            else:
                proposals = [c for c in legal.tolist() if c >= FRAUD_PROPOSE0]
                if proposals and u < 0.75:
                    code = rng.choice(proposals)
                    category, camo = decode_proposal(code)
                    copy, targeting, blurb = _propose_texts(rng, category)
                    act = {"action_type": "propose_ad", "category": category, "camouflage": list(camo),
                           "ad_copy": copy}
                    if targeting:
                        act["targeting_summary"] = targeting
                    if blurb:
                        act["landing_page_blurb"] = blurb
                    env.apply("fraudster", act)
                    batch.propose(m, category, camo, copy, targeting, blurb)
                else:
                    code = 1 if (rng.random() < 0.1 or (props == 0 and rng.random() < 0.05)) else 0
                    env.apply("fraudster", {"action_type": "commit_final" if code else "end_turn"})
                    actions[m] = code
                    codes = batch.step(actions, conf)
                    assert codes[m] == K.OK
        actions[m] = -1
        n += 1
        compare(env, batch, m, f"action {n}")
        if on_state is not None:
            on_state(env, m)
    compare_grader(env, batch, m)
    _ = CAMO_SETS
    return env, n
