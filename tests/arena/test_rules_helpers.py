"""Shared helpers for the docs/rules.md rule tests (no tests here; imported by the ``test_rules_*`` modules).

Everything is written from the rules text (docs/rules.md), not from the implementation: the reference draws
below re-derive ids, evidence and grades from the named streams of §11.2 and the tables of §4–§10.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from fraudarena.arena import ArenaError, RefereeEnvironment, record_json

ROLES = ("fraudster", "investigator", "auditor")
TASK_IDS = ("task_1", "task_2", "task_3", "task_3_unseen")
TARGETS = ("advertiser_history", "landing_page", "payment_method", "targeting_overlap", "campaign_structure",
           "policy_classifier")
KINDS = ("payment_id", "domain", "targeting_fingerprint", "config_fingerprint")
B32 = "abcdefghijklmnopqrstuvwxyz234567"
END_REASONS = ("commit_final", "max_rounds", "budget_exhausted", "all_decided")

# §2 knobs: (legit, fraud, gray, L, schedule rounds 2.., budget, max_rounds, max_proposals, f_cap, i_cap, camo,
# n_rings, max_links)
KNOBS: dict[str, dict[str, Any]] = {
    "task_1": {"base": (2, 3, 0), "L": 3, "sched": (1, 1, 1), "budget": 25, "max_rounds": 4, "max_proposals": 3,
               "f_cap": 3, "i_cap": 8, "camo": 2, "n_rings": 0, "max_links": 0, "largest": 8},
    "task_2": {"base": (5, 5, 2), "L": 4, "sched": (2, 1, 1), "budget": 36, "max_rounds": 4, "max_proposals": 6,
               "f_cap": 3, "i_cap": 10, "camo": 4, "n_rings": 0, "max_links": 0, "largest": 18},
    "task_3": {"base": (6, 10, 4), "L": 6, "sched": (2, 2, 1, 1), "budget": 50, "max_rounds": 5, "max_proposals": 7,
               "f_cap": 3, "i_cap": 12, "camo": 6, "n_rings": 3, "max_links": 12, "largest": 27},
    "task_3_unseen": {"base": (8, 12, 5), "L": 8, "sched": (2, 2, 2, 2), "budget": 55, "max_rounds": 5,
                      "max_proposals": 8, "f_cap": 3, "i_cap": 12, "camo": 6, "n_rings": 4, "max_links": 16,
                      "largest": 33},
}

GROUP_M = ("ecommerce", "saas", "local_service", "education", "fitness")
P1 = (*GROUP_M, "fake_giveaway", "miracle_cure")
P2 = (*P1, "counterfeit_goods", "advance_fee", "fake_crypto", "celebrity_endorsement_fraud", "clone_brand",
      "gray_area_supplements")
# §3 table: id -> (group, fraud_type, severity, adult_only)
CATS: dict[str, tuple[str, str, float, bool]] = {
    "ecommerce": ("M", "non_delivery", 0.55, False),
    "saas": ("M", "subscription_trap", 0.50, False),
    "local_service": ("M", "deposit_scam", 0.55, False),
    "education": ("M", "credential_mill", 0.45, False),
    "fitness": ("M", "fake_weight_loss", 0.60, False),
    "fake_giveaway": ("H", "fake_giveaway", 0.90, True),
    "counterfeit_goods": ("H", "counterfeit", 0.80, False),
    "miracle_cure": ("H", "miracle_cure", 0.95, True),
    "advance_fee": ("H", "advance_fee_scam", 0.85, True),
    "fake_crypto": ("H", "fake_crypto", 0.70, True),
    "celebrity_endorsement_fraud": ("H", "fake_endorsement", 0.65, True),
    "clone_brand": ("H", "brand_impersonation", 0.75, False),
    "gray_area_supplements": ("SUP", "supplement_fraud", 0.65, True),
    "network_crypto": ("H", "fake_crypto", 0.70, True),
    "network_ecommerce": ("H", "non_delivery", 0.55, False),
    "network_fintech": ("H", "advance_fee_scam", 0.85, True),
    "network_health": ("H", "miracle_cure", 0.95, False),
}
ALL_CATS = tuple(CATS)
POOLS = {"task_1": P1, "task_2": P2, "task_3": ALL_CATS, "task_3_unseen": ALL_CATS}
CORE = ("US", "GB", "CA", "AU", "DE")
OTHER = ("NL", "SG", "HK", "AE", "EE", "IN", "BR", "NG")

PLAIN_COPY = {
    "ecommerce": "Visit our shop for everyday kitchen basics with tracked shipping on every order.",
    "saas": "Try our scheduling app for small teams with a simple monthly subscription.",
    "fitness": "Join our gym for a friendly workout plan built around your weekly training goals.",
    "education": "Take a beginner course in bookkeeping and earn a certificate at your own pace.",
    "local_service": "Book a local repair service near you with clear prices and friendly staff.",
}


# ------------------------------------------------------------------------------------------------------------
# Draw conventions (§11.2) and ids (§4.5), re-implemented from the rules text.


def pick(u: float, probs: tuple[float, ...]) -> int:
    acc = 0.0
    for i, p in enumerate(probs):
        acc += p
        if u < acc:
            return i
    return len(probs) - 1


def int_range(u: float, a: int, b: int) -> int:
    return a + int(u * (b - a + 1))


def b32(v: int, n: int) -> str:
    out = []
    for _ in range(n):
        out.append(B32[v % 32])
        v //= 32
    return "".join(reversed(out))


def ref_id(prefix: str, u: float) -> str:
    if prefix == "pm_":
        return prefix + b32(int(u * 2**40), 8)
    return prefix + b32(int(u * 2**30), 6)


# ------------------------------------------------------------------------------------------------------------
# Driving matches


def new_env(task_id: str = "task_1", seed: int = 0, **overrides: Any) -> RefereeEnvironment:
    return RefereeEnvironment(task_id=task_id, seed=seed, **overrides)


def end_turn(env: RefereeEnvironment) -> None:
    """The current role passes (the Auditor submits)."""
    role = env.current_role
    assert role is not None
    env.step(role, {"action_type": "submit_audit_report" if role == "auditor" else "end_turn"})


def finish(env: RefereeEnvironment, limit: int = 500) -> dict[str, Any]:
    """Pass with every role until ``done``; return the record."""
    for _ in range(limit):
        if env.done:
            return env.record()
        end_turn(env)
    raise AssertionError("match did not finish")


def to_audit(env: RefereeEnvironment, limit: int = 500) -> None:
    for _ in range(limit):
        if env.phase in ("audit_phase", "done"):
            return
        end_turn(env)
    raise AssertionError("match did not reach the audit")


def to_investigator(env: RefereeEnvironment) -> None:
    assert env.phase == "fraudster_turn"
    env.step("fraudster", {"action_type": "end_turn"})


def propose(env: RefereeEnvironment, category: str = "ecommerce", copy: str | None = None,
            camouflage: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    act: dict[str, Any] = {"action_type": "propose_ad", "category": category,
                           "ad_copy": copy if copy is not None else PLAIN_COPY.get(category, PLAIN_COPY["ecommerce"])}
    if camouflage is not None:
        act["camouflage"] = camouflage
    act.update(extra)
    return env.step("fraudster", act)


def investigate(env: RefereeEnvironment, ad_id: str, target: str, **extra: Any) -> dict[str, Any]:
    return env.step("investigator", {"action_type": "investigate", "ad_id": ad_id, "investigation_target": target,
                                     **extra})


def verdict(env: RefereeEnvironment, ad_id: str, v: str, confidence: float | None = None,
            **extra: Any) -> dict[str, Any]:
    act: dict[str, Any] = {"action_type": "verdict", "ad_id": ad_id, "verdict": v, **extra}
    if confidence is not None:
        act["confidence"] = confidence
    return env.step("investigator", act)


def pending_ids(env: RefereeEnvironment) -> list[str]:
    return [a["ad_id"] for a in env.observe("investigator")["queue"] if a["status"] == "pending"]


def queue_ids(env: RefereeEnvironment) -> list[str]:
    return [a["ad_id"] for a in env.observe("investigator")["queue"]]


def rec_ads(env_or_record: RefereeEnvironment | dict[str, Any]) -> dict[str, dict[str, Any]]:
    rec = env_or_record.record() if isinstance(env_or_record, RefereeEnvironment) else env_or_record
    return {a["ad_id"]: a for a in rec["ads"]}


def snapshot(env: RefereeEnvironment) -> tuple[str, ...]:
    """Canonical text of the record and of every role's observation."""
    return (record_json(env.record()),
            *(json.dumps(env.observe(r), sort_keys=True, default=str) for r in ROLES))


def expect_error(env: RefereeEnvironment, role: str, action: Any, code: str) -> ArenaError:
    """The action is rejected with ``code`` and changes nothing (§7, §13.3)."""
    before = snapshot(env)
    with pytest.raises(ArenaError) as info:
        env.step(role, action)
    assert info.value.code == code, (info.value.code, info.value.message)
    assert snapshot(env) == before
    return info.value


def play_with(env: RefereeEnvironment, choose: Callable[[RefereeEnvironment, str, dict[str, Any]], dict[str, Any]],
              limit: int = 2000) -> dict[str, Any]:
    """Play to ``done`` with ``choose(env, role, obs) -> action``."""
    for _ in range(limit):
        if env.done:
            return env.record()
        role = env.current_role
        assert role is not None
        env.step(role, choose(env, role, env.observe(role)))
    raise AssertionError("match did not finish")


# ------------------------------------------------------------------------------------------------------------
# Reference grader (§10.1) computed from a finished record.

MATRIX = {
    ("reject", "legit"): -0.50, ("reject", "gray"): -0.10,
    ("approve", "fraud"): -0.50, ("approve", "legit"): 0.10, ("approve", "gray"): -0.15,
    ("escalate", "fraud"): -0.05, ("escalate", "legit"): -0.05, ("escalate", "gray"): 0.15,
}
CORRECT = {"legit": "approve", "fraud": "reject", "gray": "escalate"}


def m_value(v: str, label: str, s: float) -> float:
    if (v, label) == ("reject", "fraud"):
        return 0.3 + 0.1 * s
    return MATRIX[v, label]


def ece(pairs: list[tuple[float, bool]]) -> float:
    bins: list[list[tuple[float, bool]]] = [[], [], []]
    for c, ok in pairs:
        bins[0 if c < 0.4 else 1 if c < 0.7 else 2].append((c, ok))
    total = 0.0
    for b in bins:
        if b:
            total += len(b) / len(pairs) * abs(sum(c for c, _ in b) / len(b) - sum(ok for _, ok in b) / len(b))
    return total


def ref_grade(rec: dict[str, Any]) -> dict[str, Any]:
    task = rec["config"]["task_id"]
    ads = {a["ad_id"]: a for a in rec["ads"]}
    q = [a for a in rec["ads"] if a["arrived_round"] is not None]
    acts = [e["action"] for e in rec["actions"] if e["role"] == "investigator"]
    n_inv = sum(a["action_type"] == "investigate" for a in acts)
    used = sum(a["action_type"] in ("investigate", "verdict", "link_accounts") for a in acts)
    vs = [a for a in acts if a["action_type"] == "verdict"]
    correct = sum(a["verdict"] == CORRECT[ads[a["ad_id"]]["label"]] for a in vs)
    raw = sum(m_value(a["final_verdict"], a["label"], a["severity"]) for a in q) - 0.01 * n_inv \
        + 0.2 * correct / max(1, used)
    best = sum(max(m_value(v, a["label"], a["severity"]) for v in CORRECT.values()) for a in q) + 0.2
    baseline = max(sum(m_value(v, a["label"], a["severity"]) for a in q) for v in CORRECT.values())
    links_out = []
    if task != "task_1":
        pairs = [(a.get("confidence", 0.5), a["verdict"] == CORRECT[ads[a["ad_id"]]["label"]]) for a in vs]
        cal = 0.5 if len(vs) < 3 else max(0.0, 1 - 2 * ece(pairs))
        raw += 0.15 * cal
        best += 0.15
    if task in ("task_3", "task_3_unseen"):
        ring_of = {m: r["ring_id"] for r in rec["rings"] for m in r["members"]}
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.get(x, x) != x:
                x = parent[x]
            return x

        for a in acts:
            if a["action_type"] != "link_accounts":
                continue
            x, y = a["ad_id"], a["linked_ad_id"]
            same = x in ring_of and ring_of.get(x) == ring_of.get(y)
            if same and find(x) != find(y):
                parent[find(x)] = find(y)
                raw += 0.4
                links_out.append((x, y, True, True))
            elif same:
                links_out.append((x, y, True, False))
            else:
                raw -= 0.25
                links_out.append((x, y, False, False))
        best += 0.4 * sum(len(r["members"]) - 1 for r in rec["rings"])
        raw += 0.1 * min(1.0, len(vs) / len(q))
        best += 0.1
    score = min(1.0, max(0.0, (raw - baseline) / (best - baseline)))
    return {"raw": raw, "best": best, "baseline": baseline, "score": score, "links": links_out}
