"""Encoders and action codecs against the real engine: shapes, masks = legal actions, round trips."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from fraudarena.agents import make_bot
from fraudarena.agents.rl.codecs import (
    CAMO_SETS,
    FRAUD_COMMIT,
    FRAUD_END,
    INV_END,
    N_CAMO,
    N_FRAUD_ACTIONS,
    PER_AD,
    fraudster_decode,
    fraudster_encode,
    fraudster_mask,
    investigator_decode,
    investigator_encode,
    investigator_mask,
)
from fraudarena.agents.rl.encoders import (
    AD_FEATURES,
    FRAUD_GLOBAL_FEATURES,
    INV_GLOBAL_FEATURES,
    encode_fraudster,
    encode_investigator,
)
from fraudarena.arena import RefereeEnvironment
from fraudarena.arena.rng import bot_seed

torch.set_num_threads(1)  # a 2-core box shared with other suites: no intra-op threads


def _random_legal(mask: np.ndarray, rng: random.Random) -> int:
    return rng.choice(np.flatnonzero(mask).tolist())


@pytest.mark.parametrize("task_id", ["task_1", "task_3", "task_3_unseen"])
def test_random_masked_play_is_always_legal(task_id):
    """Uniform play over the codecs' masks never produces an action the referee rejects."""
    rng = random.Random(0)
    for seed in range(3):
        env = RefereeEnvironment(task_id=task_id, seed=seed)
        auditor = make_bot("scripted", "auditor", 0)
        cache: dict = {}
        while not env.done:
            role = env.current_role
            obs = env.observe(role, text=False)
            if role == "investigator":
                enc = encode_investigator(obs, cache)
                assert enc.ads.shape == (len(obs["queue"]), AD_FEATURES)
                assert enc.glob.shape == (INV_GLOBAL_FEATURES,)
                assert np.isfinite(enc.ads).all()
                np.testing.assert_allclose(enc.posterior.sum(1), 1.0, atol=1e-4)
                # the cache never changes the encoding
                fresh = encode_investigator(obs)
                np.testing.assert_array_equal(fresh.ads, enc.ads)
                mask = investigator_mask(obs, enc)
                assert mask.shape == (1 + PER_AD * len(enc.ad_ids),) and mask.any()
                action = investigator_decode(_random_legal(mask, rng), obs, enc)
            elif role == "fraudster":
                vec = encode_fraudster(obs)
                assert vec.shape == (FRAUD_GLOBAL_FEATURES,) and np.isfinite(vec).all()
                mask = fraudster_mask(obs)
                assert mask.shape == (N_FRAUD_ACTIONS,) and mask.any()
                action = fraudster_decode(_random_legal(mask, rng), obs, rng)
            else:
                action = auditor.act(obs)
            env.apply(role, action)  # raises ArenaError if illegal
        assert env.record()["rewards"] is not None


def test_investigator_mask_matches_legal_actions():
    env = RefereeEnvironment(task_id="task_3", seed=11)
    env.apply("fraudster", {"action_type": "end_turn"})
    obs = env.observe("investigator", text=False)
    enc = encode_investigator(obs)
    mask = investigator_mask(obs, enc)
    legal = obs["legal_actions"]
    assert mask[INV_END] == legal["end_turn"]
    n_inv = sum(len(v) for v in legal["investigate"].values())
    n_ver = 3 * len(legal["verdict"])
    assert mask.sum() == 1 + n_inv + n_ver  # no link is possible before any pull
    # off-turn: nothing is legal
    assert not investigator_mask(env.observe("investigator", text=False) | {"legal_actions": {}}, enc).any()


def test_scripted_teachers_round_trip_through_codecs():
    """Almost every scripted action has an index, and decoding it gives the same action type/ad/target."""
    env = RefereeEnvironment(task_id="task_3", seed=5)
    bots = {r: make_bot("scripted", r, bot_seed("task_3", 5, r)) for r in ("fraudster", "investigator", "auditor")}
    mapped = total = 0
    while not env.done:
        role = env.current_role
        obs = env.observe(role, text=False)
        action = bots[role].act(obs)
        if role == "investigator":
            enc = encode_investigator(obs)
            idx = investigator_encode(action, enc)
            total += 1
            if idx is not None:
                mapped += 1
                assert investigator_mask(obs, enc)[idx]
                back = investigator_decode(idx, obs, enc)
                for key in ("action_type", "ad_id", "investigation_target", "verdict", "linked_ad_id"):
                    assert back.get(key) == action.get(key), (key, back, action)
        elif role == "fraudster":
            idx = fraudster_encode(action)
            assert idx is not None and fraudster_mask(obs)[idx]
            if idx not in (FRAUD_END, FRAUD_COMMIT):
                s = (idx - 2) % N_CAMO
                assert sorted(CAMO_SETS[s]) == sorted(action.get("camouflage") or [])
        env.apply(role, action)
    assert total > 20 and mapped == total


def test_verdict_rationale_cites_pulls_and_is_coherent():
    env = RefereeEnvironment(task_id="task_3", seed=2)
    env.apply("fraudster", {"action_type": "end_turn"})
    obs = env.observe("investigator", text=False)
    ad_id = obs["queue"][0]["ad_id"]
    env.apply("investigator", {"action_type": "investigate", "ad_id": ad_id,
                               "investigation_target": "payment_method"})
    obs = env.observe("investigator", text=False)
    enc = encode_investigator(obs)
    slot = enc.ad_ids.index(ad_id)
    for k, verdict in enumerate(("approve", "reject", "escalate")):
        act = investigator_decode(1 + PER_AD * slot + 6 + k, obs, enc)
        assert act["verdict"] == verdict
        assert "payment_method" in act["rationale"] and len(act["rationale"]) >= 24
        assert 0.0 <= act["confidence"] <= 1.0


# ---------------------------------------------------------------------------------------------------------
# Equivalence with the original (pre-optimisation) encoder and mask, frozen in reference_encoders.py:
# checkpoints trained on the original features must see exactly the same inputs.


def _assert_same_encoding(obs: dict, cache: dict, ref_cache: dict):
    import reference_encoders as ref

    want = ref.encode_investigator(obs, ref_cache)
    want_mask = ref.investigator_mask(obs, want)
    for got in (encode_investigator(obs, cache), encode_investigator(obs)):
        assert got.ad_ids == want.ad_ids
        assert got.ads.dtype == np.float32 and got.ads.shape == want.ads.shape
        np.testing.assert_array_equal(got.ads, want.ads)
        assert got.glob.dtype == np.float32
        np.testing.assert_array_equal(got.glob, want.glob)
        assert got.posterior.dtype == want.posterior.dtype
        np.testing.assert_array_equal(got.posterior, want.posterior)
        assert got.partners == want.partners
        mask = investigator_mask(obs, got)
        assert mask.dtype == bool and mask.shape == want_mask.shape
        np.testing.assert_array_equal(mask, want_mask)
    return want


@pytest.mark.parametrize("task_id", ["task_1", "task_2", "task_3", "task_3_unseen"])
def test_encoder_and_mask_match_reference_implementation(task_id):
    """Mid-match states with pulls, verdicts, rings and links; scripted play mixed with random legal actions."""
    n_obs = n_ring = n_linked = 0
    for seed in range(5):
        env = RefereeEnvironment(task_id=task_id, seed=100 + seed)
        rng = random.Random(seed)
        eps = (0.0, 0.15, 0.4, 0.7, 1.0)[seed]
        bots = {r: make_bot("scripted", r, bot_seed(task_id, 100 + seed, r))
                for r in ("fraudster", "investigator", "auditor")}
        cache: dict = {}
        ref_cache: dict = {}
        while not env.done:
            role = env.current_role
            obs = env.observe(role, text=False)
            if role == "investigator":
                enc = _assert_same_encoding(obs, cache, ref_cache)
                n_obs += 1
                n_ring += int(enc.ads[:, AD_FEATURES - 18].any())
                n_linked += bool(obs["links"])
                if rng.random() < eps:
                    mask = investigator_mask(obs, enc)
                    action = investigator_decode(_random_legal(mask, rng), obs, enc)
                else:
                    action = bots[role].act(obs)
            else:
                if rng.random() < 0.3:  # the off-turn view (nothing legal)
                    _assert_same_encoding(env.observe("investigator", text=False), cache, ref_cache)
                action = bots[role].act(obs)
            env.apply(role, action)
    assert n_obs > 50
    if task_id.startswith("task_3"):
        assert n_ring > 0 and n_linked > 0


def test_encoder_matches_reference_on_edge_cases():
    env = RefereeEnvironment(task_id="task_3", seed=7)
    bots = {r: make_bot("scripted", r, bot_seed("task_3", 7, r)) for r in ("fraudster", "investigator", "auditor")}
    seen = 0
    while not env.done and seen < 40:
        role = env.current_role
        obs = env.observe(role, text=False)
        if role == "investigator" and obs["evidence_ledger"]:
            seen += 1
            # the ledger names an ad that is not in the queue; an empty queue; an empty ledger entry
            pulled = next(iter(obs["evidence_ledger"]))
            _assert_same_encoding(obs | {"queue": [a for a in obs["queue"] if a["ad_id"] != pulled]}, {}, {})
            _assert_same_encoding(obs | {"queue": []}, {}, {})
            extra = obs["queue"][-1]["ad_id"]
            _assert_same_encoding(obs | {"evidence_ledger": {**obs["evidence_ledger"], extra: {}}}, {}, {})
            mask = investigator_mask(obs, encode_investigator(obs))
            mask[0] = not mask[0]  # masks are writable
        env.apply(role, bots[role].act(obs))
    assert seen > 10
