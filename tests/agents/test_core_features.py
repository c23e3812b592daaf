"""The batched core's feature kernels against the encoders: every feature, posterior, partner and mask.

Matches are played on the referee and the core side by side (``tests/arena/core_play.py``); before every
decision of a learned role the kernels' output is compared with ``encode_investigator`` /
``encode_fraudster`` and the codecs' masks computed from the referee's observation.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from core_play import play_both

from fraudarena.agents.rl import codecs
from fraudarena.agents.rl.encoders import encode_fraudster, encode_investigator
from fraudarena.agents.rl.features import CoreFeatures
from fraudarena.arena.core import CoreBatch
from fraudarena.arena.referee import RefereeEnvironment
from fraudarena.arena.spec import TASK_IDS


class FeatureCheck:
    """Compares the kernels' features with the encoders' at every state of a match."""

    def __init__(self, batch: CoreBatch) -> None:
        self.batch = batch
        self.features = CoreFeatures(batch)
        self.decisions = 0

    def __call__(self, env: RefereeEnvironment, m: int) -> None:
        b, f = self.batch, self.features
        if env.round_number == 1 and env.phase == "fraudster_turn" and env.turn_count == 0:
            f.on_reset(m)
        if env.phase not in ("fraudster_turn", "investigator_turn"):
            return
        f.update()
        inv_mask, fraud_mask = b.masks()
        role = env.current_role
        obs = env.observe(role, text=False)
        self.decisions += 1
        if role == "investigator":
            enc = encode_investigator(obs, {})
            n = len(enc.ad_ids)
            assert b.queue_ids(m) == enc.ad_ids
            np.testing.assert_array_equal(f.ads[m, :n], enc.ads)
            np.testing.assert_array_equal(f.glob[m], enc.glob)
            np.testing.assert_array_equal(f.post[m, :n], enc.posterior)
            for q in range(n):
                want = enc.partners[q][0] if enc.partners[q] else None
                got = b.ad_id(m, int(f.partners[m, q])) if f.partners[m, q] >= 0 else None
                assert got == want
            mask = codecs.investigator_mask(obs, enc)
            np.testing.assert_array_equal(inv_mask[m, :len(mask)], mask)
            assert not inv_mask[m, len(mask):].any()
        else:
            np.testing.assert_array_equal(f.fglob[m], encode_fraudster(obs))
            np.testing.assert_array_equal(fraud_mask[m], codecs.fraudster_mask(obs))


@pytest.mark.parametrize("part", range(4))
def test_features_match_the_encoders_in_random_play(part: int) -> None:
    batch = CoreBatch(2, n_slots=45, max_rounds=8)
    check = FeatureCheck(batch)
    rng = random.Random(f"core-features:{part}")
    overrides = ({}, {"max_rounds": 8, "max_proposals": 20}, {"max_investigator_actions_per_turn": 30},
                 {"max_rounds": 2})
    for i in range(60):
        task = TASK_IDS[i % len(TASK_IDS)]
        play_both(task, part * 1000 + i, dict(overrides[(i + part) % len(overrides)]), rng, batch, m=i % 2,
                  end_bias=(0.05, 0.2)[i % 2], on_state=check)
    assert check.decisions > 1500


def _bot_code(role: str, action: dict, obs: dict, batch: CoreBatch, m: int) -> int | None:
    if role == "investigator":
        enc = encode_investigator(obs, {})
        return codecs.investigator_encode(action, enc)
    return codecs.fraudster_encode(action)


@pytest.mark.parametrize("investigator", ["scripted", "ringhunter"])
def test_features_match_the_encoders_under_house_bots(investigator: str) -> None:
    """House bots drive the referee (pulls that reveal rings, links, commits); the core follows."""
    from fraudarena.agents import make_bot
    from fraudarena.arena.rng import bot_seed

    batch = CoreBatch(1, n_slots=33)
    check = FeatureCheck(batch)
    actions = np.full(1, -1, np.int64)
    conf = np.zeros(1)
    links = 0
    for i in range(16):
        links_before = links
        task = ("task_3", "task_3_unseen")[i % 2]
        env = RefereeEnvironment(task, seed=500 + i)
        batch.reset(0, task, 500 + i)
        bots = {r: make_bot(k, r, bot_seed(task, 500 + i, r))
                for r, k in (("fraudster", "reactive"), ("investigator", investigator))}
        check(env, 0)
        while env.phase in ("fraudster_turn", "investigator_turn"):
            role = env.current_role
            obs = env.observe(role, text=False)
            action = bots[role].act(obs)
            code = _bot_code(role, action, obs, batch, 0)
            if role == "fraudster" and action["action_type"] in ("propose_ad", "modify_pending_ad"):
                act = env.apply(role, action)
                if act["action_type"] == "propose_ad":
                    batch.propose(0, act["category"], tuple(act["camouflage"]), act["ad_copy"],
                                  act.get("targeting_summary"), act.get("landing_page_blurb"))
                else:
                    batch.modify(0, act["slot_index"], act.get("new_ad_copy"), act.get("new_landing_page_blurb"))
            else:
                if code is None:  # outside the flat space (a link to a non-partner): end the turn instead
                    action, code = {"action_type": "end_turn"}, 0
                act = env.apply(role, action)
                actions[0] = code
                conf[0] = act.get("confidence") or 0.0
                batch.step(actions, conf)
            check(env, 0)
        links = links_before + len(env.links)
    assert check.decisions > 500
    assert links > 10  # the ring features and partners were exercised
