"""docs/rules.md §8: caps, budget, end_turn, skipped turns, commit, the four end reasons, auto-approve."""

from __future__ import annotations

from typing import Any

import pytest
from test_rules_helpers import (
    END_REASONS,
    KNOBS,
    finish,
    investigate,
    new_env,
    pending_ids,
    propose,
    queue_ids,
    to_audit,
    to_investigator,
    verdict,
)

from fraudarena.arena import RefereeEnvironment


def _check_end_state(env: RefereeEnvironment, reason: str) -> dict[str, Any]:
    assert env.phase == "audit_phase"
    rec = env.record()
    assert rec["end_reason"] == reason and rec["end_reason"] in END_REASONS
    manual = {e["action"]["ad_id"] for e in rec["actions"] if e["action"]["action_type"] == "verdict"}
    for a in rec["ads"]:
        if not a["is_fraudster_proposal"]:
            assert a["arrived_round"] is not None  # every base ad is published
        if a["arrived_round"] is None:
            continue
        assert a["final_verdict"] in ("approve", "reject", "escalate")
        assert a["auto_approved"] == (a["ad_id"] not in manual)
        if a["auto_approved"]:
            assert a["final_verdict"] == "approve" and a["confidence"] == 0.0
    for role in ("fraudster", "investigator", "auditor"):
        assert env.observe(role)["end_reason"] == reason
    env.step("auditor", {"action_type": "submit_audit_report"})
    assert env.record()["end_reason"] == reason
    return rec


def test_fraudster_cap_ends_turn() -> None:
    env = new_env("task_2", 0)
    propose(env, "saas")
    assert env.observe("fraudster")["actions_left_this_turn"] == 2
    env.step("fraudster", {"action_type": "modify_pending_ad", "slot_index": 0, "new_ad_copy": "Our app for teams."})
    assert env.phase == "fraudster_turn"
    propose(env, "ecommerce")
    assert env.phase == "investigator_turn"


def test_investigator_cap_and_free_end_turn() -> None:
    env = new_env("task_1", 0)
    to_investigator(env)
    ids = queue_ids(env)
    n = 0
    for ad in ids:
        for t in ("landing_page", "payment_method", "advertiser_history"):
            if env.phase != "investigator_turn":
                break
            obs = investigate(env, ad, t)
            n += 1
            assert obs["budget_remaining"] == 25 - n
    assert n == 6 or env.phase == "fraudster_turn"
    env2 = new_env("task_1", 0, max_proposals=10, max_fraudster_actions_per_turn=10)
    for _ in range(6):
        propose(env2, "saas")
    to_investigator(env2)
    for i, ad in enumerate(queue_ids(env2)[:8]):
        assert env2.observe("investigator")["actions_left_this_turn"] == 8 - i
        verdict(env2, ad, "approve")
    assert env2.phase == "fraudster_turn" and env2.round_number == 2
    env2.step("fraudster", {"action_type": "end_turn"})
    before = env2.observe("investigator")["budget_remaining"]
    env2.step("investigator", {"action_type": "end_turn"})
    assert env2.observe("investigator")["budget_remaining"] == before == 17


def _exhaust_round_one(task: str = "task_1", seed: int = 0, **kw: Any) -> RefereeEnvironment:
    """Spend the whole budget in round 1 (enough proposals to pull 3 targets on)."""
    env = new_env(task, seed, max_proposals=10, max_fraudster_actions_per_turn=10,
                  max_investigator_actions_per_turn=30, **kw)
    for _ in range(10):
        propose(env, "saas")
    assert env.phase == "investigator_turn"
    budget = KNOBS[task]["budget"]
    spent = 0
    for ad in queue_ids(env):
        for t in ("landing_page", "payment_method", "advertiser_history"):
            if spent < budget:
                investigate(env, ad, t)
                spent += 1
    return env


def test_budget_exhausted_keeps_fraudster_rounds_and_skips_investigator() -> None:
    env = _exhaust_round_one()
    assert env.phase == "fraudster_turn" and env.round_number == 2
    obs = env.observe("fraudster")
    assert obs["budget_remaining"] == 0 and obs["end_reason"] is None
    env.step("fraudster", {"action_type": "end_turn"})  # investigator turn skipped
    assert env.phase == "fraudster_turn" and env.round_number == 3
    env.step("fraudster", {"action_type": "end_turn"})
    env.step("fraudster", {"action_type": "end_turn"})
    rec = _check_end_state(env, "budget_exhausted")
    assert rec["final_round"] == 4
    assert rec["budget_used"] == 25


def test_budget_exhausted_then_nothing_can_arrive_ends_match() -> None:
    env = new_env("task_2", 0, max_rounds=10, max_proposals=0, max_investigator_actions_per_turn=30)
    for _ in range(2):
        env.step("fraudster", {"action_type": "end_turn"})
        env.step("investigator", {"action_type": "end_turn"})
    # with max_rounds = 10 the 4 arrivals come in rounds 2, 3, 4, 5 (2 + k mod 9)
    for r in (3, 4, 5):
        env.step("fraudster", {"action_type": "end_turn"})
        assert env.round_number == r
        while env.phase == "investigator_turn":
            legal = env.observe("investigator")["legal_actions"]["investigate"]
            if not legal:
                env.step("investigator", {"action_type": "end_turn"})
                break
            ad = sorted(legal)[0]
            investigate(env, ad, legal[ad][0])
    assert env.phase == "audit_phase" and env.round_number == 5
    assert pending_ids(env) == []  # auto-approved
    rec = _check_end_state(env, "budget_exhausted")
    assert rec["final_round"] == 5 and rec["budget_used"] == 36


def test_commit_final_extended_cap_publishes_later_arrivals() -> None:
    env = new_env("task_1", 0)
    to_investigator(env)
    env.step("investigator", {"action_type": "end_turn"})
    env.step("fraudster", {"action_type": "commit_final"})
    obs = env.observe("investigator")
    assert obs["fraudster_committed"] is True and obs["rounds_remaining"] == 1
    assert obs["arrivals_remaining"] == 0 and obs["queue_may_grow"] is False
    assert obs["actions_left_this_turn"] == min(8 * (4 - 2 + 1), 25)
    assert len(obs["queue"]) == 5
    assert {a["arrived_round"] for a in obs["queue"]} == {1, 2}
    env.step("investigator", {"action_type": "end_turn"})
    rec = _check_end_state(env, "commit_final")
    assert rec["final_round"] == 2


def test_commit_extended_cap_binds() -> None:
    env = new_env("task_2", 1, max_rounds=4, max_investigator_actions_per_turn=3, max_proposals=6,
                  max_fraudster_actions_per_turn=6)
    for _ in range(6):
        propose(env, "saas")
    env.step("investigator", {"action_type": "end_turn"})
    env.step("fraudster", {"action_type": "commit_final"})
    assert env.round_number == 2
    cap = 3 * (4 - 2 + 1)
    assert env.observe("investigator")["actions_left_this_turn"] == cap
    for i, ad in enumerate(queue_ids(env)[:cap]):
        assert env.phase == "investigator_turn", i
        investigate(env, ad, "landing_page")
    assert env.phase == "audit_phase"


def test_max_rounds_end_reason() -> None:
    env = new_env("task_3", 2)
    to_audit(env)
    rec = _check_end_state(env, "max_rounds")
    assert rec["final_round"] == 5


def test_all_decided_reachable_with_default_knobs() -> None:
    env = new_env("task_1", 0)
    for _ in range(3):
        propose(env, "saas")
    for r in range(1, 5):
        assert env.round_number == r and env.phase == "investigator_turn"
        for ad in pending_ids(env):
            verdict(env, ad, "reject")
        if r < 4:
            # deciding every queued ad never ends the match while an arrival can still come
            assert env.phase == "investigator_turn"
            env.step("investigator", {"action_type": "end_turn"})
            env.step("fraudster", {"action_type": "end_turn"})
    _check_end_state(env, "all_decided")


def test_all_decided_does_not_fire_while_a_proposal_can_come() -> None:
    env = new_env("task_1", 0, max_rounds=1)  # L = 0, but proposals remain
    to_investigator(env)
    for ad in pending_ids(env):
        verdict(env, ad, "approve")
    assert env.phase == "investigator_turn"
    env.step("investigator", {"action_type": "end_turn"})
    _check_end_state(env, "max_rounds")
    env = new_env("task_1", 0, max_rounds=1, max_proposals=0)
    to_investigator(env)
    for ad in pending_ids(env):
        verdict(env, ad, "approve")
    _check_end_state(env, "all_decided")


def test_end_reason_set_once_budget_then_commit() -> None:
    env = _exhaust_round_one()
    env.step("fraudster", {"action_type": "commit_final"})
    _check_end_state(env, "budget_exhausted")


def test_commit_then_budget_exhausted_keeps_commit() -> None:
    env = new_env("task_1", 0, max_proposals=10, max_fraudster_actions_per_turn=10)
    for _ in range(9):
        propose(env, "saas")
    env.step("fraudster", {"action_type": "commit_final"})
    cap = 8 * 4
    assert env.observe("investigator")["actions_left_this_turn"] == min(cap, 25)
    spent = 0
    for ad in queue_ids(env):
        for t in ("landing_page", "payment_method", "advertiser_history"):
            if env.phase == "investigator_turn":
                investigate(env, ad, t)
                spent += 1
    assert spent == 25
    _check_end_state(env, "commit_final")


def test_fraudster_gets_turns_with_no_proposals_left() -> None:
    env = new_env("task_1", 0, max_proposals=0)
    for r in range(1, 5):
        assert env.phase == "fraudster_turn" and env.round_number == r
        legal = env.observe("fraudster")["legal_actions"]
        assert set(legal["action_types"]) >= {"end_turn", "commit_final"}
        env.step("fraudster", {"action_type": "end_turn"})
        env.step("investigator", {"action_type": "end_turn"})
    assert env.phase == "audit_phase"


@pytest.mark.parametrize("task_id", list(KNOBS))
def test_do_nothing_auto_approves_everything(task_id: str) -> None:
    rec = finish(new_env(task_id, 3))
    assert rec["end_reason"] == "max_rounds"
    assert all(a["auto_approved"] and a["final_verdict"] == "approve" for a in rec["ads"])
    assert rec["grader"]["score"] == pytest.approx(0.0, abs=1e-9)
