"""docs/rules.md §10.1 grader (hand-checked and reference-checked) and §10.3 rewards."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from test_rules_helpers import (
    CORRECT,
    finish,
    investigate,
    m_value,
    new_env,
    pending_ids,
    propose,
    rec_ads,
    ref_grade,
    to_audit,
    to_investigator,
    verdict,
)

from fraudarena.agents import make_bot
from fraudarena.arena import RefereeEnvironment


def _assert_grade(rec: dict[str, Any]) -> None:
    ref = ref_grade(rec)
    g = rec["grader"]
    for k in ("raw", "best", "baseline", "score"):
        assert g[k] == pytest.approx(ref[k], abs=1e-9), k
    assert g["raw"] <= g["best"] + 1e-9 and g["best"] - g["baseline"] >= 0.2 - 1e-9
    assert 0.0 <= g["score"] <= 1.0


def test_matrix_values_hand_checked() -> None:
    assert m_value("reject", "fraud", 0.95) == pytest.approx(0.395)
    env = new_env("task_1", 7, max_rounds=1, max_proposals=0)
    to_investigator(env)
    labels = {a["ad_id"]: a for a in env.record()["ads"]}
    ids = pending_ids(env)
    assert len(ids) == 5
    # the right verdict on every ad, no pulls, confidence irrelevant for task_1
    for ad in ids:
        verdict(env, ad, CORRECT[labels[ad]["label"]])
    rec = env.record()
    assert rec["end_reason"] == "all_decided"
    fraud = [a for a in labels.values() if a["label"] == "fraud"]
    legit = [a for a in labels.values() if a["label"] == "legit"]
    raw = sum(0.3 + 0.1 * a["severity"] for a in fraud) + 0.1 * len(legit) + 0.2 * 5 / 5
    best = raw
    baseline = max(sum(-0.5 for _ in fraud) + 0.1 * len(legit),
                   sum(0.3 + 0.1 * a["severity"] for a in fraud) - 0.5 * len(legit),
                   -0.05 * 5)
    assert rec["grader"]["raw"] == pytest.approx(raw)
    assert rec["grader"]["best"] == pytest.approx(best)
    assert rec["grader"]["baseline"] == pytest.approx(baseline)
    assert rec["grader"]["score"] == pytest.approx(1.0)
    _assert_grade(rec)


@pytest.mark.parametrize("constant", ["approve", "reject", "escalate"])
@pytest.mark.parametrize("task_id", ["task_1", "task_2", "task_3", "task_3_unseen"])
def test_blind_constant_policies_score_near_zero(task_id: str, constant: str) -> None:
    for seed in range(3):
        env = new_env(task_id, seed)
        while env.phase not in ("audit_phase", "done"):
            if env.phase == "investigator_turn" and pending_ids(env):
                verdict(env, pending_ids(env)[0], constant, 0.5)
            else:
                env.step(env.current_role, {"action_type": "end_turn"})  # type: ignore[arg-type]
        rec = env.record()
        _assert_grade(rec)
        assert rec["grader"]["score"] <= 0.2 / (rec["grader"]["best"] - rec["grader"]["baseline"]) + 0.16


def test_wrong_verdicts_and_pull_cost() -> None:
    env = new_env("task_1", 2, max_rounds=1, max_proposals=0)
    to_investigator(env)
    labels = rec_ads(env)
    ids = pending_ids(env)
    investigate(env, ids[0], "landing_page")
    investigate(env, ids[0], "payment_method")
    wrong = {"legit": "reject", "fraud": "approve", "gray": "approve"}
    verdict(env, ids[0], wrong[labels[ids[0]]["label"]])
    verdict(env, ids[1], "escalate")
    env.step("investigator", {"action_type": "end_turn"})
    rec = env.record()
    q = [a for a in rec["ads"] if a["arrived_round"] is not None]
    raw = sum(m_value(a["final_verdict"], a["label"], a["severity"]) for a in q) - 0.02 + 0.2 * 0 / 4
    assert rec["grader"]["raw"] == pytest.approx(raw)
    _assert_grade(rec)


def test_calibration_ece_hand_checked() -> None:
    env = new_env("task_2", 5, max_rounds=1, max_proposals=0)
    to_investigator(env)
    labels = rec_ads(env)
    ids = pending_ids(env)[:4]
    # two right at 0.9, one wrong at 0.9 (bin 3: mean .9, acc 2/3), one right at 0.2 (bin 1: mean .2, acc 1)
    plan = [(ids[0], True, 0.9), (ids[1], True, 0.9), (ids[2], False, 0.9), (ids[3], True, 0.2)]
    for ad, right, c in plan:
        lab = labels[ad]["label"]
        v = CORRECT[lab] if right else ("approve" if lab != "legit" else "reject")
        verdict(env, ad, v, c)
    env.step("investigator", {"action_type": "end_turn"})
    rec = env.record()
    ece = 3 / 4 * abs(0.9 - 2 / 3) + 1 / 4 * abs(0.2 - 1.0)
    cal = max(0.0, 1 - 2 * ece)
    assert rec["grader"]["terms"]["calibration"] == pytest.approx(0.15 * cal) or \
        rec["grader"]["terms"]["calibration"] == pytest.approx(cal)
    _assert_grade(rec)


def test_calibration_fewer_than_three_verdicts_is_half() -> None:
    env = new_env("task_2", 5, max_rounds=1, max_proposals=0)
    to_investigator(env)
    verdict(env, pending_ids(env)[0], "approve", 1.0)
    env.step("investigator", {"action_type": "end_turn"})
    rec = env.record()
    assert rec["grader"]["terms"]["calibration"] in (pytest.approx(0.075), pytest.approx(0.5))
    _assert_grade(rec)


def test_links_union_find_redundant_and_wrong() -> None:
    for seed in range(6):
        env = new_env("task_3", seed, max_rounds=2, max_investigator_actions_per_turn=30)
        to_investigator(env)
        env.step("investigator", {"action_type": "end_turn"})
        env.step("fraudster", {"action_type": "end_turn"})
        rec = env.record()
        ring = max(rec["rings"], key=lambda r: len(r["members"]))
        m = ring["members"]
        other = next(a["ad_id"] for a in rec["ads"] if a["ring_id"] is None and a["arrived_round"] is not None)
        link = {"action_type": "link_accounts"}
        env.step("investigator", {**link, "ad_id": m[0], "linked_ad_id": m[1]})  # credited
        env.step("investigator", {**link, "ad_id": m[1], "linked_ad_id": m[2]})  # credited (chain)
        env.step("investigator", {**link, "ad_id": m[2], "linked_ad_id": m[0]})  # redundant (connected)
        env.step("investigator", {**link, "ad_id": m[0], "linked_ad_id": other})  # wrong
        second = next(r for r in rec["rings"] if r is not ring)["members"][0]
        env.step("investigator", {**link, "ad_id": m[0], "linked_ad_id": second})  # different rings: wrong
        env.step("investigator", {"action_type": "end_turn"})
        rec = env.record()
        assert [(x["correct"], x["credited"]) for x in rec["links"]] == [
            (True, True), (True, True), (True, False), (False, False), (False, False)]
        assert rec["grader"]["terms"]["links"] == pytest.approx(0.8 - 0.5)
        best_links = 0.4 * sum(len(r["members"]) - 1 for r in rec["rings"])
        ref = ref_grade(rec)
        assert [(c, k) for _, _, c, k in ref["links"]] == [(x["correct"], x["credited"]) for x in rec["links"]]
        assert best_links > 0
        _assert_grade(rec)


def test_coverage_term() -> None:
    env = new_env("task_3", 1, max_rounds=1, max_proposals=0, max_investigator_actions_per_turn=30)
    to_investigator(env)
    ids = pending_ids(env)
    for ad in ids[:5]:
        verdict(env, ad, "reject", 0.6)
    env.step("investigator", {"action_type": "end_turn"})
    rec = env.record()
    assert rec["grader"]["terms"]["coverage"] == pytest.approx(0.1 * 5 / 20)
    _assert_grade(rec)


def _bot_match(task_id: str, seed: int, kinds: tuple[str, str, str]) -> dict[str, Any]:
    env = RefereeEnvironment(task_id, seed=seed)
    bots = {r: make_bot(k, r, seed + i) for i, (r, k) in enumerate(zip(("fraudster", "investigator", "auditor"),
                                                                        kinds, strict=True))}
    for _ in range(3000):
        if env.done:
            break
        role = env.current_role
        env.step(role, bots[role].act(env.observe(role)))  # type: ignore[index, arg-type]
    return env.record()


@pytest.mark.parametrize("task_id", ["task_1", "task_2", "task_3", "task_3_unseen"])
def test_grader_matches_reference_on_bot_play(task_id: str) -> None:
    for seed in range(4):
        for kinds in (("random", "random", "random"), ("random", "scripted", "random")):
            _assert_grade(_bot_match(task_id, seed, kinds))


# ---------------------------------------------------------------------------------------------------- §10.3


def _check_rewards(rec: dict[str, Any]) -> None:
    r = rec["rewards"]
    mp = rec["config"]["effective"]["max_proposals"]
    total = 0.0
    for a in rec["ads"]:
        if not a["is_fraudster_proposal"]:
            continue
        if a["final_verdict"] == "approve":
            total += a["impact"] * rec["plausibility"][a["ad_id"]]
        elif a["final_verdict"] == "reject":
            total -= 0.1
    assert r["fraudster"] == pytest.approx(total / mp if mp else 0.0)
    sub = {tuple(f) for f in rec["audit"]["submitted_flags"]}
    truth = {tuple(f) for f in rec["audit"]["ground_truth_flags"]}
    a_hits = {f for f in sub & truth if f[0] == "A"}
    assert r["investigator"] == pytest.approx(rec["grader"]["score"] - min(0.2, 0.05 * len(a_hits)))
    f1 = 1.0 if not sub and not truth else 2 * len(sub & truth) / (len(sub) + len(truth))
    assert r["auditor"] == pytest.approx(f1)
    for v in r.values():
        assert math.isfinite(v)
    eps = 1e-12  # the exact bound is checked in test_fraudster_reward_all_rejected_stays_in_range
    assert -0.1 - eps <= r["fraudster"] <= 0.95 and -0.2 <= r["investigator"] <= 1 and 0 <= r["auditor"] <= 1
    for p, v in rec["plausibility"].items():
        assert rec_ads(rec)[p]["is_fraudster_proposal"] and 0.0 <= v <= 1.0


def test_fraudster_reward_formula_and_zero_proposals() -> None:
    env = new_env("task_1", 4)
    propose(env, "miracle_cure", camouflage=["landing_page"])
    propose(env, "saas")
    propose(env, "ecommerce")
    ids = {a["slot_index"]: a["ad_id"] for a in env.record()["ads"] if a["is_fraudster_proposal"]}
    verdict(env, ids[1], "reject")
    verdict(env, ids[2], "escalate")
    rec = finish(env)
    _check_rewards(rec)
    plaus = rec["plausibility"][ids[0]]
    assert rec["rewards"]["fraudster"] == pytest.approx((0.95 * 0.8 * plaus - 0.1) / 3)
    rec0 = finish(new_env("task_1", 4, max_proposals=0))
    assert rec0["rewards"]["fraudster"] == 0.0
    _check_rewards(rec0)


def test_auditor_f1_both_empty_is_one() -> None:
    rec = finish(new_env("task_1", 4, max_proposals=0))
    assert rec["audit"]["ground_truth_flags"] == [] and rec["audit"]["submitted_flags"] == []
    assert rec["rewards"]["auditor"] == 1.0
    env = new_env("task_1", 4, max_proposals=0)
    to_audit(env)
    env.step("auditor", {"action_type": "flag_investigator", "flag_type": "bias"})
    env.step("auditor", {"action_type": "submit_audit_report"})
    assert env.record()["rewards"]["auditor"] == 0.0


def _short_rationale_match(flags: list[list[Any]] | None, dup: bool = False) -> dict[str, Any]:
    env = new_env("task_2", 9, max_rounds=1, max_proposals=0, max_investigator_actions_per_turn=30)
    to_investigator(env)
    for ad in pending_ids(env)[:8]:
        verdict(env, ad, "approve", 0.5, rationale="ok")  # < 24 chars: missing_citation
    env.step("investigator", {"action_type": "end_turn"})
    for f in flags or []:
        for _ in range(2 if dup else 1):
            act = {"action_type": "flag_investigator" if f[0] == "A" else "flag_fraudster", "flag_type": f[1]}
            if f[2] is not None:
                act["target_ad_id"] = f[2]
            env.step("auditor", act)
    env.step("auditor", {"action_type": "submit_audit_report"})
    return env.record()


def test_investigator_penalty_cap_and_duplicates() -> None:
    base = _short_rationale_match(None)
    truth = base["audit"]["ground_truth_flags"]
    a_flags = [f for f in truth if f[0] == "A"]
    assert sum(f[1] == "missing_citation" for f in a_flags) == 8
    _check_rewards(base)
    assert base["rewards"]["auditor"] == 0.0
    full = _short_rationale_match(truth, dup=True)
    assert full["rewards"]["auditor"] == 1.0  # duplicates count once
    assert full["rewards"]["investigator"] == pytest.approx(full["grader"]["score"] - 0.2)  # capped
    _check_rewards(full)
    two = _short_rationale_match(a_flags[:2])
    assert two["rewards"]["investigator"] == pytest.approx(two["grader"]["score"] - 0.1)
    _check_rewards(two)


@pytest.mark.parametrize("task_id", ["task_1", "task_2", "task_3", "task_3_unseen"])
def test_rewards_on_bot_play(task_id: str) -> None:
    rng = random.Random(task_id)
    for _seed in range(3):
        for kinds in (("random", "random", "random"), ("scripted", "scripted", "scripted")):
            try:
                rec = _bot_match(task_id, rng.randrange(10**6), kinds)
            except ValueError:  # a kind that does not play a role
                continue
            _check_rewards(rec)


def test_fraudster_reward_all_rejected_stays_in_range() -> None:
    env = new_env("task_1", 0)
    for cat in ("saas", "ecommerce", "fitness"):
        propose(env, cat)
    for ad in [a["ad_id"] for a in env.record()["ads"] if a["is_fraudster_proposal"]]:
        verdict(env, ad, "reject")
    rec = finish(env)
    assert rec["rewards"]["fraudster"] >= -0.1
