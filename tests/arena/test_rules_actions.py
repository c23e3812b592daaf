"""docs/rules.md §7: every illegal_action, validation_error and phase_violation; rejections change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from test_rules_helpers import (
    expect_error,
    finish,
    investigate,
    new_env,
    propose,
    queue_ids,
    rec_ads,
    to_audit,
    to_investigator,
    verdict,
)

from fraudarena.arena import RefereeEnvironment


def _inv_env(task_id: str = "task_1", seed: int = 0, **kw: Any) -> RefereeEnvironment:
    env = new_env(task_id, seed, **kw)
    to_investigator(env)
    return env


def _late_id(env: RefereeEnvironment) -> str:
    return next(a["ad_id"] for a in env.record()["ads"] if a["arrived_round"] is None)


# ---------------------------------------------------------------------------------------------- illegal_action

def test_investigate_illegal() -> None:
    env = _inv_env(max_investigator_actions_per_turn=30)
    ad = queue_ids(env)[0]
    expect_error(env, "investigator", {"action_type": "investigate", "ad_id": _late_id(env),
                                       "investigation_target": "landing_page"}, "illegal_action")
    expect_error(env, "investigator", {"action_type": "investigate", "ad_id": "ad_zzzzzz",
                                       "investigation_target": "landing_page"}, "illegal_action")
    investigate(env, ad, "landing_page")
    expect_error(env, "investigator", {"action_type": "investigate", "ad_id": ad,
                                       "investigation_target": "landing_page"}, "illegal_action")
    investigate(env, ad, "payment_method")
    investigate(env, ad, "policy_classifier")
    expect_error(env, "investigator", {"action_type": "investigate", "ad_id": ad,
                                       "investigation_target": "campaign_structure"}, "illegal_action")
    assert ad not in env.observe("investigator")["legal_actions"]["investigate"]


def test_investigating_a_decided_ad_is_allowed() -> None:
    env = _inv_env()
    ad = queue_ids(env)[0]
    verdict(env, ad, "approve")
    investigate(env, ad, "landing_page")
    assert "landing_page" in env.observe("investigator")["evidence_ledger"][ad]


def test_verdict_illegal() -> None:
    env = _inv_env()
    ad = queue_ids(env)[0]
    expect_error(env, "investigator", {"action_type": "verdict", "ad_id": _late_id(env), "verdict": "approve"},
                 "illegal_action")
    verdict(env, ad, "reject", 0.9)
    expect_error(env, "investigator", {"action_type": "verdict", "ad_id": ad, "verdict": "approve"},
                 "illegal_action")


def test_link_illegal_without_rings() -> None:
    env = _inv_env("task_1")
    a, b = queue_ids(env)[:2]
    expect_error(env, "investigator", {"action_type": "link_accounts", "ad_id": a, "linked_ad_id": b},
                 "illegal_action")
    assert env.observe("investigator")["legal_actions"]["link_accounts"] is None
    env2 = _inv_env("task_2")
    a, b = queue_ids(env2)[:2]
    expect_error(env2, "investigator", {"action_type": "link_accounts", "ad_id": a, "linked_ad_id": b},
                 "illegal_action")


def test_link_illegal_cases_and_max_links() -> None:
    env = _inv_env("task_3", 1, max_investigator_actions_per_turn=30)
    ids = queue_ids(env)
    link = {"action_type": "link_accounts"}
    expect_error(env, "investigator", {**link, "ad_id": ids[0], "linked_ad_id": ids[0]}, "illegal_action")
    expect_error(env, "investigator", {**link, "ad_id": ids[0], "linked_ad_id": _late_id(env)}, "illegal_action")
    expect_error(env, "investigator", {**link, "ad_id": _late_id(env), "linked_ad_id": ids[0]}, "illegal_action")
    env.step("investigator", {**link, "ad_id": ids[0], "linked_ad_id": ids[1]})
    expect_error(env, "investigator", {**link, "ad_id": ids[0], "linked_ad_id": ids[1]}, "illegal_action")
    expect_error(env, "investigator", {**link, "ad_id": ids[1], "linked_ad_id": ids[0]}, "illegal_action")
    for j in range(2, 13):
        env.step("investigator", {**link, "ad_id": ids[0], "linked_ad_id": ids[j]})
    obs = env.observe("investigator")
    assert obs["links_remaining"] == 0 and len(obs["links"]) == 12
    expect_error(env, "investigator", {**link, "ad_id": ids[1], "linked_ad_id": ids[2]}, "illegal_action")


def test_propose_illegal() -> None:
    env = new_env("task_1", 0, max_proposals=0)
    expect_error(env, "fraudster", {"action_type": "propose_ad", "category": "saas", "ad_copy": "an app"},
                 "illegal_action")
    assert env.observe("fraudster")["legal_actions"]["propose_ad"] is None
    env = new_env("task_1", 0, allowed_categories=["saas"])
    expect_error(env, "fraudster", {"action_type": "propose_ad", "category": "ecommerce", "ad_copy": "a shop"},
                 "illegal_action")
    expect_error(env, "fraudster", {"action_type": "propose_ad", "category": "network_crypto",
                                    "ad_copy": "a shop"}, "illegal_action")  # outside the pool
    expect_error(env, "fraudster", {"action_type": "propose_ad", "category": "not_a_category",
                                    "ad_copy": "a shop"}, "illegal_action")
    env = new_env("task_1", 0, max_proposals=1)
    propose(env, "saas")
    expect_error(env, "fraudster", {"action_type": "propose_ad", "category": "saas", "ad_copy": "an app"},
                 "illegal_action")


def test_modify_illegal_slot() -> None:
    env = new_env("task_1", 0)
    expect_error(env, "fraudster", {"action_type": "modify_pending_ad", "slot_index": 0, "new_ad_copy": "x"},
                 "illegal_action")
    propose(env, "saas")
    expect_error(env, "fraudster", {"action_type": "modify_pending_ad", "slot_index": 1, "new_ad_copy": "x"},
                 "illegal_action")


def _audit_env() -> RefereeEnvironment:
    env = new_env("task_1", 0)
    to_investigator(env)
    to_audit(env)
    assert env.phase == "audit_phase"
    return env


def test_flag_illegal() -> None:
    env = _audit_env()
    ad = env.observe("auditor")["full_episode_record"]["ads"][0]["ad_id"]
    expect_error(env, "auditor", {"action_type": "flag_investigator", "flag_type": "gibberish",
                                  "target_ad_id": ad}, "illegal_action")
    expect_error(env, "auditor", {"action_type": "flag_fraudster", "flag_type": "missing_citation",
                                  "target_ad_id": ad}, "illegal_action")
    expect_error(env, "auditor", {"action_type": "flag_investigator", "flag_type": "missing_citation"},
                 "illegal_action")
    expect_error(env, "auditor", {"action_type": "flag_investigator", "flag_type": "missing_citation",
                                  "target_ad_id": "ad_zzzzzz"}, "illegal_action")
    env.step("auditor", {"action_type": "flag_investigator", "flag_type": "bias", "target_ad_id": ad})
    env.step("auditor", {"action_type": "flag_investigator", "flag_type": "miscalibration"})
    acts = [a["action"] for a in env.record()["actions"] if a["role"] == "auditor"]
    assert acts[0].get("target_ad_id") is None  # match-level flags normalise the target to null


def test_flag_limit_200() -> None:
    env = _audit_env()
    ad = env.observe("auditor")["full_episode_record"]["ads"][0]["ad_id"]
    for _ in range(200):
        env.step("auditor", {"action_type": "flag_fraudster", "flag_type": "gibberish", "target_ad_id": ad})
    assert env.observe("auditor")["flags_remaining"] == 0
    expect_error(env, "auditor", {"action_type": "flag_fraudster", "flag_type": "gibberish", "target_ad_id": ad},
                 "illegal_action")
    env.step("auditor", {"action_type": "submit_audit_report"})
    assert env.done


# --------------------------------------------------------------------------------------------- validation_error

INV_BAD: list[dict[str, Any]] = [
    {"action_type": "investigate", "ad_id": "AD", "investigation_target": "landing_page", "bogus": 1},
    {"action_type": "investigate", "ad_id": 5, "investigation_target": "landing_page"},
    {"action_type": "investigate", "ad_id": "AD", "investigation_target": "dns_records"},
    {"action_type": "investigate", "ad_id": "AD", "investigation_target": "landing_page", "verdict": "approve"},
    {"action_type": "investigate", "ad_id": "AD"},
    {"action_type": "investigate", "investigation_target": "landing_page"},
    {"action_type": "investigate", "ad_id": "a" * 65, "investigation_target": "landing_page"},
    {"action_type": "investigate", "ad_id": "AD", "investigation_target": "landing_page", "rationale": "r" * 2001},
    {"action_type": "verdict", "ad_id": "AD", "verdict": "maybe"},
    {"action_type": "verdict", "ad_id": "AD", "verdict": "approve", "investigation_target": "landing_page"},
    {"action_type": "verdict", "ad_id": "AD", "verdict": "approve", "confidence": 1.5},
    {"action_type": "verdict", "ad_id": "AD", "verdict": "approve", "confidence": -0.1},
    {"action_type": "verdict", "ad_id": "AD", "verdict": "approve", "confidence": "high"},
    {"action_type": "verdict", "ad_id": "AD", "verdict": "approve", "confidence": True},
    {"action_type": "verdict", "ad_id": "AD"},
    {"action_type": "verdict", "ad_id": "AD", "verdict": None},
    {"action_type": "link_accounts", "ad_id": "AD"},
    {"action_type": "link_accounts", "ad_id": "AD", "linked_ad_id": "AD", "link_reason": "x" * 2001},
    {"action_type": "propose_ad", "ad_copy": "hi", "category": "saas"},  # other role's action type
    {"action_type": "fly"},
    {"action_type": None},
    {},
    {"action_type": "end_turn", "metadata": "not an object"},
    {"action_type": "end_turn", "extra_field": True},
]

FR_BAD: list[dict[str, Any]] = [
    {"action_type": "propose_ad", "ad_copy": "   ", "category": "saas"},
    {"action_type": "propose_ad", "ad_copy": "", "category": "saas"},
    {"action_type": "propose_ad", "category": "saas"},
    {"action_type": "propose_ad", "ad_copy": "an app for teams"},
    {"action_type": "propose_ad", "ad_copy": "x" * 2001, "category": "saas"},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "s" * 65},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas", "targeting_summary": "t" * 513},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas", "landing_page_blurb": "b" * 2001},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas", "rationale": "r" * 2001},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas",
     "camouflage": ["landing_page", "landing_page"]},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas", "camouflage": ["dns"]},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas",
     "camouflage": ["landing_page", "payment_method", "policy_classifier"]},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas", "camouflage": "landing_page"},
    {"action_type": "propose_ad", "ad_copy": 42, "category": "saas"},
    {"action_type": "propose_ad", "ad_copy": "an app", "category": "saas", "unknown": "x"},
    {"action_type": "modify_pending_ad", "slot_index": 0},
    {"action_type": "modify_pending_ad", "slot_index": 0, "new_ad_copy": "  "},
    {"action_type": "modify_pending_ad", "slot_index": 0, "new_ad_copy": " ", "new_landing_page_blurb": ""},
    {"action_type": "modify_pending_ad", "slot_index": True, "new_ad_copy": "new"},
    {"action_type": "modify_pending_ad", "slot_index": -1, "new_ad_copy": "new"},
    {"action_type": "modify_pending_ad", "slot_index": "0", "new_ad_copy": "new"},
    {"action_type": "modify_pending_ad", "slot_index": 0.0, "new_ad_copy": "new"},
    {"action_type": "modify_pending_ad", "new_ad_copy": "new"},
    {"action_type": "modify_pending_ad", "slot_index": 0, "new_ad_copy": "n" * 2001},
    {"action_type": "modify_pending_ad", "slot_index": 0, "new_landing_page_blurb": "n" * 2001},
    {"action_type": "commit_final", "rationale": 7},
    {"action_type": "verdict", "ad_id": "x", "verdict": "approve"},
]

AUD_BAD: list[dict[str, Any]] = [
    {"action_type": "flag_investigator", "flag_type": "market_implausible", "target_ad_id": "AD"},
    {"action_type": "flag_fraudster", "flag_type": "coordinated_network", "target_ad_id": "AD"},
    {"action_type": "flag_investigator"},
    {"action_type": "flag_investigator", "flag_type": "missing_citation", "target_ad_id": "AD", "severity": 2},
    {"action_type": "flag_investigator", "flag_type": "missing_citation", "target_ad_id": "AD", "note": "n" * 2001},
    {"action_type": "flag_investigator", "flag_type": "m" * 65, "target_ad_id": "AD"},
    {"action_type": "flag_investigator", "flag_type": "missing_citation", "target_ad_id": 3},
    {"action_type": "submit_audit_report", "audit_report": {"notes": "n" * 4001}},
    {"action_type": "submit_audit_report", "audit_report": {"investigator_audit_score": 1.5}},
    {"action_type": "submit_audit_report", "audit_report": {"surprise": 1}},
    {"action_type": "submit_audit_report", "audit_report": "text"},
    {"action_type": "submit_audit_report", "spare": 1},
]


def _sub(action: dict[str, Any], ad: str) -> dict[str, Any]:
    return {k: (ad if v == "AD" else v) for k, v in action.items()}


@pytest.mark.parametrize("action", INV_BAD)
def test_investigator_validation_errors(action: dict[str, Any]) -> None:
    env = _inv_env()
    expect_error(env, "investigator", _sub(action, queue_ids(env)[0]), "validation_error")


@pytest.mark.parametrize("action", FR_BAD)
def test_fraudster_validation_errors(action: dict[str, Any]) -> None:
    env = new_env("task_1", 0)
    propose(env, "saas")
    expect_error(env, "fraudster", action, "validation_error")


@pytest.mark.parametrize("action", AUD_BAD)
def test_auditor_validation_errors(action: dict[str, Any]) -> None:
    env = _audit_env()
    ad = env.observe("auditor")["full_episode_record"]["ads"][0]["ad_id"]
    expect_error(env, "auditor", _sub(action, ad), "validation_error")


@pytest.mark.parametrize("action", [None, "end_turn", ["end_turn"], 3])
def test_non_object_actions(action: Any) -> None:
    env = new_env("task_1", 0)
    expect_error(env, "fraudster", action, "validation_error")


def test_accepted_shapes_metadata_unused_fields_and_defaults() -> None:
    env = new_env("task_1", 0)
    env.step("fraudster", {"action_type": "propose_ad", "ad_copy": "Shop our store today.", "category": "ecommerce",
                           "metadata": {"k": [1, 2]}, "ad_id": "ignored", "slot_index": 4, "camouflage": None})
    env.step("fraudster", {"action_type": "end_turn", "ad_id": "ignored", "metadata": {}})
    ad = queue_ids(env)[0]
    env.step("investigator", {"action_type": "verdict", "ad_id": ad, "verdict": "escalate", "confidence": 1,
                              "rationale": "ok", "metadata": {}, "link_reason": "dropped"})
    env.step("investigator", {"action_type": "investigate", "ad_id": ad, "investigation_target": "landing_page",
                              "verdict": None, "confidence": 0.3})
    ad2 = queue_ids(env)[1]
    env.step("investigator", {"action_type": "verdict", "ad_id": ad2, "verdict": "approve",
                              "investigation_target": None})
    acts = [a["action"] for a in env.record()["actions"]]
    assert "ad_id" not in acts[0] and "slot_index" not in acts[0] and "metadata" not in acts[0]
    assert acts[1] == {"action_type": "end_turn"}
    assert "link_reason" not in acts[2]
    assert "confidence" not in acts[3] and "verdict" not in acts[3]
    for a in acts:
        assert None not in a.values()
    assert rec_ads(env)[ad2]["confidence"] == 0.5  # default confidence


def test_audit_report_object_accepted() -> None:
    env = _audit_env()
    env.step("auditor", {"action_type": "submit_audit_report", "note": "done",
                         "audit_report": {"investigator_audit_score": 0.5, "fraudster_plausibility_score": 1.0,
                                          "notes": "fine", "track_a_flags": [1], "track_b_flags": []}})
    assert env.done


# ---------------------------------------------------------------------------------------------- phase_violation

def test_phase_violations_every_phase() -> None:
    env = new_env("task_1", 0)
    for role in ("investigator", "auditor"):
        expect_error(env, role, env.default_action(role), "phase_violation")
    expect_error(env, "investigator", {"action_type": "end_turn"}, "phase_violation")
    to_investigator(env)
    for role, act in (("fraudster", {"action_type": "end_turn"}),
                      ("fraudster", {"action_type": "commit_final"}),
                      ("auditor", {"action_type": "submit_audit_report"})):
        expect_error(env, role, act, "phase_violation")
    to_audit(env)
    for role in ("fraudster", "investigator"):
        expect_error(env, role, {"action_type": "end_turn"}, "phase_violation")
    env.step("auditor", {"action_type": "submit_audit_report"})
    assert env.done
    for role, act in (("fraudster", {"action_type": "end_turn"}), ("investigator", {"action_type": "end_turn"}),
                      ("auditor", {"action_type": "submit_audit_report"}),
                      ("auditor", {"action_type": "flag_investigator", "flag_type": "bias"})):
        expect_error(env, role, act, "phase_violation")


def test_rejections_cost_nothing_and_count_toward_no_cap() -> None:
    env = _inv_env("task_1", 0, max_investigator_actions_per_turn=2)
    ad = queue_ids(env)[0]
    for _ in range(5):
        expect_error(env, "investigator", {"action_type": "verdict", "ad_id": _late_id(env), "verdict": "reject"},
                     "illegal_action")
    obs = env.observe("investigator")
    assert obs["budget_remaining"] == 25 and obs["actions_left_this_turn"] == 2
    verdict(env, ad, "reject")
    assert env.phase == "investigator_turn"
    finish(env)
