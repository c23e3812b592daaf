"""docs/rules.md §6: proposal slots, staging, impact, camouflage allowance, modify, organic edits."""

from __future__ import annotations

import pytest
from test_rules_helpers import (
    CATS,
    expect_error,
    finish,
    new_env,
    propose,
    rec_ads,
    to_investigator,
    verdict,
)

from fraudarena.arena.rng import stream


def _props(env_or_rec) -> list[dict]:  # type: ignore[no-untyped-def]
    ads = rec_ads(env_or_rec).values()
    return sorted((a for a in ads if a["is_fraudster_proposal"]), key=lambda a: a["slot_index"])


def test_slots_in_order_and_category_rows() -> None:
    env = new_env("task_3", 2)
    for cat in ("miracle_cure", "ecommerce", "network_fintech"):
        propose(env, cat)
    obs = env.observe("fraudster")
    assert [p["slot_index"] for p in obs["my_proposals"]] == [0, 1, 2]
    assert obs["proposals_used"] == 3 and obs["proposals_remaining"] == 4
    for p in _props(env):
        assert p["label"] == "fraud" and p["ring_id"] is None
        assert (p["fraud_type"], p["severity"]) == CATS[p["category"]][1:3]


def test_staged_visible_to_fraudster_only_then_published() -> None:
    env = new_env("task_2", 4)
    propose(env, "saas")
    staged = _props(env)[0]["ad_id"]
    fq = env.observe("fraudster")["current_queue"]
    own = [a for a in fq if a["ad_id"] == staged]
    assert own and own[0]["status"] == "staged" and own[0]["is_my_proposal"] is True and own[0]["slot_index"] == 0
    assert staged not in str(env.observe("investigator"))
    assert staged not in str(env.observe("auditor"))
    to_investigator(env)
    q = {a["ad_id"]: a for a in env.observe("investigator")["queue"]}
    assert q[staged]["arrived_round"] == 1 and q[staged]["status"] == "pending"
    assert {a["ad_id"] for a in env.observe("auditor")["public_queue"]} == set(q)


@pytest.mark.parametrize("camo", [[], ["landing_page"], ["landing_page", "policy_classifier"]])
def test_impact_and_allowance(camo: list[str]) -> None:
    env = new_env("task_1", 1)
    propose(env, "miracle_cure", camouflage=camo)
    p = _props(env)[0]
    assert p["camouflage"] == camo or sorted(p["camouflage"]) == sorted(camo)
    assert p["impact"] == pytest.approx(0.95 * (1 - 0.2 * len(camo)))
    mine = env.observe("fraudster")["my_proposals"][0]
    assert mine["impact"] == pytest.approx(p["impact"])
    assert env.observe("fraudster")["camouflage_remaining"] == 2 - len(camo)


def test_camouflage_allowance_is_per_match() -> None:
    env = new_env("task_1", 1)
    propose(env, "ecommerce", camouflage=["landing_page"])
    expect_error(env, "fraudster", {"action_type": "propose_ad", "category": "saas", "ad_copy": "x y z",
                                    "camouflage": ["landing_page", "payment_method"]}, "illegal_action")
    propose(env, "saas", camouflage=["payment_method"])
    expect_error(env, "fraudster", {"action_type": "propose_ad", "category": "saas", "ad_copy": "x y z",
                                    "camouflage": ["landing_page"]}, "illegal_action")
    propose(env, "saas", camouflage=[])  # zero camouflage is still allowed
    assert env.observe("fraudster")["camouflage_remaining"] == 0


def test_texts_stripped_and_defaults() -> None:
    env = new_env("task_1", 3)
    propose(env, "ecommerce", copy="   Shop our store for great kitchen deals today.  \n",
            targeting_summary="  Adults 30-50 who cook at home  ", landing_page_blurb="  A tidy shop page. ")
    propose(env, "saas")
    p0, p1 = _props(env)
    assert p0["ad_copy"] == "Shop our store for great kitchen deals today."
    assert p0["targeting_summary"] == "Adults 30-50 who cook at home"
    assert p0["content_summary"] == "A tidy shop page."
    assert p1["targeting_summary"] and p1["content_summary"]  # composed


def test_modify_staged_changes_at_once_without_revision() -> None:
    env = new_env("task_1", 3)
    propose(env, "ecommerce")
    env.step("fraudster", {"action_type": "modify_pending_ad", "slot_index": 0,
                           "new_ad_copy": "  Fresh copy: order from our shop with free shipping.  ",
                           "new_landing_page_blurb": "New blurb"})
    p = _props(env)[0]
    assert p["ad_copy"] == "Fresh copy: order from our shop with free shipping."
    assert p["content_summary"] == "New blurb"
    to_investigator(env)
    view = next(a for a in env.observe("investigator")["queue"] if a["ad_id"] == p["ad_id"])
    assert view["ad_copy"] == p["ad_copy"] and view["copy_revision"] == 0


def test_modify_published_waits_for_publish_step() -> None:
    env = new_env("task_1", 3)
    propose(env, "ecommerce")
    to_investigator(env)
    pid = _props(env)[0]["ad_id"]
    old = next(a for a in env.observe("investigator")["queue"] if a["ad_id"] == pid)
    env.step("investigator", {"action_type": "end_turn"})
    env.step("fraudster", {"action_type": "modify_pending_ad", "slot_index": 0,
                           "new_ad_copy": "Changed copy for our shop: order now with tracked shipping."})
    now = next(a for a in env.observe("investigator")["queue"] if a["ad_id"] == pid)
    assert now == old
    assert next(a for a in env.observe("auditor")["public_queue"] if a["ad_id"] == pid) == old
    to_investigator(env)
    now = next(a for a in env.observe("investigator")["queue"] if a["ad_id"] == pid)
    assert now["ad_copy"].startswith("Changed copy") and now["copy_revision"] == 1
    assert now["arrived_round"] == 1
    # same copy again: no bump
    env.step("investigator", {"action_type": "end_turn"})
    env.step("fraudster", {"action_type": "modify_pending_ad", "slot_index": 0, "new_ad_copy": now["ad_copy"]})
    to_investigator(env)
    assert next(a for a in env.observe("investigator")["queue"] if a["ad_id"] == pid)["copy_revision"] == 1


def test_modify_blurb_only_and_verdict_blocks_modify() -> None:
    env = new_env("task_1", 3)
    propose(env, "ecommerce")
    to_investigator(env)
    pid = _props(env)[0]["ad_id"]
    env.step("investigator", {"action_type": "end_turn"})
    env.step("fraudster", {"action_type": "modify_pending_ad", "slot_index": 0, "new_landing_page_blurb": "B2"})
    to_investigator(env)
    assert _props(env)[0]["content_summary"] == "B2"
    assert next(a for a in env.observe("investigator")["queue"] if a["ad_id"] == pid)["copy_revision"] == 0
    verdict(env, pid, "reject")
    env.step("investigator", {"action_type": "end_turn"})
    expect_error(env, "fraudster", {"action_type": "modify_pending_ad", "slot_index": 0, "new_ad_copy": "zz top"},
                 "illegal_action")
    assert env.observe("fraudster")["legal_actions"]["modify_pending_ad"] == []


def test_copy_revision_only_bumps_on_public_change() -> None:
    env = new_env("task_1", 8)
    propose(env, "ecommerce")
    propose(env, "saas")
    to_investigator(env)
    rec = finish(env)
    for p in _props(rec):
        assert p["copy_revision"] == 0


def _edit_draws(task_id: str, seed: int, r: int, pending_base: list[str]) -> set[str]:
    rng = stream(task_id, seed, f"edits/{r}")
    out = set()
    for ad_id in pending_base:
        if rng.random() < 0.15:
            rng.random()
            out.add(ad_id)
    return out


def test_organic_edits_follow_the_edits_stream() -> None:
    """§6.4: each pending base ad (queue order) draws from edits/<r> at every publish step r ≥ 2."""
    expected_total = got_total = 0
    for seed in range(20):
        env = new_env("task_3", seed)
        propose(env, "ecommerce")
        to_investigator(env)
        prop = _props(env)[0]["ad_id"]
        # decide one base ad so that it is skipped
        q = [a for a in env.observe("investigator")["queue"] if a["ad_id"] != prop]
        decided = q[0]["ad_id"]
        verdict(env, decided, "approve")
        env.step("investigator", {"action_type": "end_turn"})
        for r in range(2, 6):
            before = {a["ad_id"]: a for a in env.observe("investigator")["queue"]}
            pending_base = [i for i, a in before.items() if a["status"] == "pending" and i != prop]
            expect = _edit_draws("task_3", seed, r, pending_base)
            to_investigator(env)
            after = {a["ad_id"]: a for a in env.observe("investigator")["queue"]}
            bumped = {i for i in before if after[i]["copy_revision"] != before[i]["copy_revision"]}
            assert bumped <= expect, (seed, r)
            for i in bumped:
                assert after[i]["copy_revision"] == before[i]["copy_revision"] + 1
                assert after[i]["targeting_summary"] == before[i]["targeting_summary"]
            assert prop not in bumped and decided not in bumped
            expected_total += len(expect)
            got_total += len(bumped)
            if env.phase == "investigator_turn":
                env.step("investigator", {"action_type": "end_turn"})
    assert expected_total > 20 and got_total >= 0.9 * expected_total


def test_no_organic_edits_in_round_one_and_new_ads_revision_zero() -> None:
    env = new_env("task_3", 5)
    to_investigator(env)
    assert all(a["copy_revision"] == 0 for a in env.observe("investigator")["queue"])
