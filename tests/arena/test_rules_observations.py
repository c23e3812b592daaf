"""docs/rules.md §9: headers, rounds_remaining, actions_left_this_turn, legal_actions, role views, done disclosure."""

from __future__ import annotations

import json

import pytest
from test_rules_helpers import (
    ROLES,
    TARGETS,
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

HEADER = {"role", "task_id", "phase", "round_number", "max_rounds", "rounds_remaining", "actions_left_this_turn",
          "budget_remaining", "action_budget", "proposals_used", "max_proposals", "arrivals_remaining",
          "queue_may_grow", "fraudster_committed", "end_reason", "done", "reward", "feedback", "legal_actions"}
INV = {"queue", "available_ads", "evidence_ledger", "decided_ads", "links", "links_remaining", "queue_status",
       "queue_summary", "current_ad_info", "investigation_findings", "verdict_history_summary"}
FR = {"allowed_categories", "proposals_remaining", "camouflage_remaining", "current_queue", "prior_verdicts",
      "investigation_targets_used", "my_proposals", "my_proposal_signals", "queue_summary"}
AUD_LATE = {"full_episode_record", "investigator_actions", "fraudster_proposals", "investigation_data_seen",
            "pending_flags", "flags_remaining"}
ADVIEW = {"ad_id", "category", "category_display", "country", "ad_copy", "targeting_summary", "copy_markers",
          "copy_revision", "arrived_round", "status", "confidence", "pulled_targets"}


def _all_obs(env):  # type: ignore[no-untyped-def]
    return {r: env.observe(r) for r in ROLES}


def test_header_and_view_keys_through_a_match() -> None:
    env = new_env("task_3", 4)
    propose(env, "ecommerce")
    seen_phases = set()
    while not env.done:
        for role, obs in _all_obs(env).items():
            json.dumps(obs)  # JSON-serialisable
            assert set(obs) >= HEADER
            assert obs["role"] == role and obs["task_id"] == "task_3" and obs["phase"] == env.phase
            assert obs["reward"] == 0.0 and obs["done"] is False
            if role == "investigator":
                assert set(obs) >= INV
                for a in obs["queue"]:
                    assert set(a) == ADVIEW
            elif role == "fraudster":
                assert set(obs) >= FR
            elif env.phase in ("fraudster_turn", "investigator_turn"):
                assert set(obs) == HEADER | {"public_queue"}
                for a in obs["public_queue"]:
                    assert set(a) == ADVIEW
            else:
                assert set(obs) >= AUD_LATE
                rec = obs["full_episode_record"]
                assert rec["plausibility"] is None and rec["rewards"] is None
                assert rec["audit"] is None or rec["audit"]["ground_truth_flags"] is None
            if role != env.current_role:
                assert obs["legal_actions"]["action_types"] == []
                assert obs["actions_left_this_turn"] == 0
        seen_phases.add(env.phase)
        role = env.current_role
        if role == "investigator" and pending_ids(env):
            verdict(env, pending_ids(env)[0], "approve")
            env.step("investigator", {"action_type": "end_turn"})
        else:
            env.step(role, env.default_action(role))  # type: ignore[arg-type]
    assert seen_phases == {"fraudster_turn", "investigator_turn", "audit_phase"}
    rewards = env.record()["rewards"]
    for role, obs in _all_obs(env).items():
        assert obs["done"] is True and obs["phase"] == "done"
        assert obs["record"] == env.record() and obs["rewards"] == rewards
        assert obs["reward"] == rewards[role]
        assert obs["rounds_remaining"] == 0 and obs["actions_left_this_turn"] == 0


def test_rounds_remaining_rules() -> None:
    env = new_env("task_1", 0)
    assert env.observe("fraudster")["rounds_remaining"] == 4
    to_investigator(env)
    assert env.observe("investigator")["rounds_remaining"] == 4
    env.step("investigator", {"action_type": "end_turn"})
    assert env.observe("auditor")["rounds_remaining"] == 3
    env.step("fraudster", {"action_type": "commit_final"})
    assert all(o["rounds_remaining"] == 1 for o in _all_obs(env).values())
    env.step("investigator", {"action_type": "end_turn"})
    assert all(o["rounds_remaining"] == 0 for o in _all_obs(env).values())


def test_actions_left_this_turn() -> None:
    env = new_env("task_1", 0, max_investigator_actions_per_turn=30)
    assert env.observe("fraudster")["actions_left_this_turn"] == 3
    propose(env, "saas")
    assert env.observe("fraudster")["actions_left_this_turn"] == 2
    to_investigator(env)
    assert env.observe("investigator")["actions_left_this_turn"] == 25  # min(cap 30, budget 25)
    investigate(env, queue_ids(env)[0], "landing_page")
    assert env.observe("investigator")["actions_left_this_turn"] == 24
    to_audit(env)
    assert env.observe("auditor")["actions_left_this_turn"] == 200
    env.step("auditor", {"action_type": "flag_investigator", "flag_type": "bias"})
    obs = env.observe("auditor")
    assert obs["actions_left_this_turn"] == 199 and obs["flags_remaining"] == 199


def test_investigator_legal_actions_and_status() -> None:
    env = new_env("task_3", 1)
    to_investigator(env)
    obs = env.observe("investigator")
    legal = obs["legal_actions"]
    assert set(legal["action_types"]) == {"investigate", "verdict", "link_accounts", "end_turn"}
    assert set(legal["investigate"]) == set(queue_ids(env))
    assert all(list(v) == list(TARGETS) for v in legal["investigate"].values())
    assert sorted(legal["verdict"]) == sorted(queue_ids(env))
    assert legal["link_accounts"]["links_remaining"] == 12 and legal["end_turn"] is True
    ad = queue_ids(env)[0]
    investigate(env, ad, "payment_method")
    verdict(env, ad, "reject", 0.8)
    obs = env.observe("investigator")
    assert obs["legal_actions"]["investigate"][ad] == [t for t in TARGETS if t != "payment_method"]
    assert ad not in obs["legal_actions"]["verdict"] and ad not in obs["available_ads"]
    assert obs["decided_ads"] == [{"ad_id": ad, "verdict": "reject", "confidence": 0.8, "round": 1}]
    qs = obs["queue_status"]
    assert qs["total_ads"] == len(obs["queue"]) and qs["reviewed"] == 1 and qs["pending"] == len(obs["queue"]) - 1
    assert qs["budget_remaining"] == 48 and qs["steps_used"] == 2 and qs["task_id"] == "task_3"
    view = next(a for a in obs["queue"] if a["ad_id"] == ad)
    assert view["status"] == "reject" and view["confidence"] == 0.8


def test_fraudster_legal_actions_and_views() -> None:
    env = new_env("task_1", 0, allowed_categories=["saas", "ecommerce"])
    legal = env.observe("fraudster")["legal_actions"]
    assert set(legal["propose_ad"]["categories"]) == {"saas", "ecommerce"}
    assert set(legal["propose_ad"]["camouflage_targets"]) == set(TARGETS)
    assert legal["propose_ad"]["camouflage_remaining"] == 2
    assert legal["modify_pending_ad"] == [] and legal["end_turn"] and legal["commit_final"]
    propose(env, "saas")
    assert env.observe("fraudster")["legal_actions"]["modify_pending_ad"] == [0]
    to_investigator(env)
    ad = queue_ids(env)[0]
    investigate(env, ad, "landing_page")
    verdict(env, ad, "approve", 0.7, rationale="SECRET-RATIONALE-TEXT looks fine")
    env.step("investigator", {"action_type": "end_turn"})
    obs = env.observe("fraudster")
    assert obs["investigation_targets_used"].get(ad) == ["landing_page"]
    pv = obs["prior_verdicts"][0]
    assert {k: pv[k] for k in ("ad_id", "verdict", "confidence", "round")} == {
        "ad_id": ad, "verdict": "approve", "confidence": 0.7, "round": 1}
    assert "was_my_proposal" in pv
    assert "SECRET-RATIONALE-TEXT" not in json.dumps(obs)
    mine = obs["my_proposals"][0]
    assert {"slot_index", "ad_id", "category", "fraud_type", "severity", "camouflage", "impact", "status",
            "published", "copy_revision"} <= set(mine)
    assert mine["published"] is True
    assert set(obs["my_proposal_signals"][mine["ad_id"]]) == set(TARGETS)


def test_auditor_legal_actions_in_audit() -> None:
    env = new_env("task_1", 0)
    to_investigator(env)
    to_audit(env)
    legal = env.observe("auditor")["legal_actions"]
    assert set(legal["action_types"]) == {"flag_investigator", "flag_fraudster", "submit_audit_report"}
    assert set(legal["flag_types"]["A"]) == {"miscalibration", "missing_citation", "incoherent_rationale",
                                             "inconsistency", "bias"}
    assert set(legal["flag_types"]["B"]) == {"gibberish", "parameter_mismatch", "template_repetition",
                                             "branding_anomaly"}
    assert legal["flags_remaining"] == 200
    assert sorted(legal["target_ad_ids"]) == sorted(queue_ids(env))


def test_auditor_views_of_the_other_roles_are_built_once_and_stay_exact() -> None:
    """The audit-phase views of the Investigator's and Fraudster's actions and of the evidence are built at the
    Auditor's first look and reused while it flags; they equal a fresh build at every step, done included."""
    env = new_env("task_3", 4)
    propose(env, env.allowed_categories[0])
    to_investigator(env)
    pid = pending_ids(env)[0]
    investigate(env, pid, TARGETS[0])
    verdict(env, pid, "reject", 0.8)
    to_audit(env)
    keys = ("investigator_actions", "fraudster_proposals", "investigation_data_seen")
    first = env.observe("auditor")
    assert first["investigator_actions"] and first["fraudster_proposals"] and first["investigation_data_seen"]
    for flag in ({"action_type": "flag_investigator", "flag_type": "miscalibration", "severity": 0.5},
                 {"action_type": "flag_fraudster", "flag_type": "gibberish", "target_ad_id": pid, "severity": 0.5},
                 {"action_type": "submit_audit_report"}):
        env.step("auditor", flag)
        cached = env.observe("auditor")
        env.auditor_seen = None  # force a fresh build
        fresh = env.observe("auditor")
        assert json.dumps([cached[k] for k in keys], sort_keys=True) == json.dumps([fresh[k] for k in keys],
                                                                                  sort_keys=True)
        assert [cached[k] for k in keys] == [first[k] for k in keys]


def test_counts_always_current() -> None:
    env = new_env("task_2", 3)
    propose(env, "saas")
    obs = env.observe("investigator")
    assert obs["proposals_used"] == 1 and obs["arrivals_remaining"] == 12 and obs["queue_may_grow"] is True
    to_investigator(env)
    obs = env.observe("investigator")
    assert obs["arrivals_remaining"] == 4 and obs["queue_status"]["total_ads"] == 9


@pytest.mark.parametrize("task_id", ["task_1", "task_3"])
def test_end_reason_null_until_match_end(task_id: str) -> None:
    env = new_env(task_id, 0)
    while env.phase not in ("audit_phase", "done"):
        assert all(o["end_reason"] is None for o in _all_obs(env).values())
        env.step(env.current_role, {"action_type": "end_turn"})  # type: ignore[arg-type]
    finish(env)


def test_current_ad_info_focus() -> None:
    env = new_env("task_2", 2)
    to_investigator(env)
    ids = pending_ids(env)
    investigate(env, ids[3], "landing_page")
    assert ids[3] in env.observe("investigator")["current_ad_info"]
    verdict(env, ids[3], "approve")
    info = env.observe("investigator")["current_ad_info"]
    assert ids[0] in info and ids[3] not in info  # focus ad decided: the first pending ad


def test_prior_verdicts_are_manual_only_before_done() -> None:
    env = new_env("task_1", 2)
    propose(env, "saas")
    to_investigator(env)
    ad = pending_ids(env)[0]
    verdict(env, ad, "escalate", 0.3)
    while env.phase != "audit_phase":
        env.step(env.current_role, {"action_type": "end_turn"})  # type: ignore[arg-type]
    pv = env.observe("fraudster")["prior_verdicts"]
    assert [p["ad_id"] for p in pv] == [ad]
