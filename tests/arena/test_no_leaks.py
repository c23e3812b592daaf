"""docs/rules.md §9 "Hidden before done" and §13.9: no role's pre-done observation leaks what is hidden from it.

Matches are played by the shipped bots (scripted and random); the Investigator's rationales are tagged with a
unique token so that their text can be searched for in the Fraudster's view. Every role's observation is taken
after every accepted action; the hidden values are read from the final record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from fraudarena.agents import make_bot
from fraudarena.arena import RefereeEnvironment

ROLES = ("fraudster", "investigator", "auditor")
INV_HIDDEN_KEYS = {"label", "fraud_type", "ring_id", "is_fraudster_proposal", "severity", "impact", "camouflage",
                   "seed", "n", "is_my_proposal", "slot_index", "was_my_proposal", "plausibility", "correct",
                   "credited", "topology", "rings"}
FR_HIDDEN_KEYS = {"label", "ring_id", "seed", "n", "rings", "topology", "plausibility", "correct", "credited"}
AUDITOR_EARLY = {"role", "task_id", "phase", "round_number", "max_rounds", "rounds_remaining",
                 "actions_left_this_turn", "budget_remaining", "action_budget", "proposals_used", "max_proposals",
                 "arrivals_remaining", "queue_may_grow", "fraudster_committed", "end_reason", "done", "reward",
                 "feedback", "legal_actions", "public_queue"}
TOKEN = "ZQXRAT"
ID_KIND_TARGET = {"advertiser_id": "advertiser_history", "payment_id": "payment_method",
                  "domain_stem": "landing_page", "targeting_fingerprint": "targeting_overlap",
                  "config_fingerprint": "campaign_structure"}


def _keys(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from _keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _keys(v)


A_WORDS = ["bright", "nova", "prime", "urban", "green", "swift", "true", "clear", "blue", "peak", "smart", "fresh",
           "gold", "north", "pure", "zen"]
B_WORDS = ["cart", "mart", "hub", "lane", "works", "labs", "point", "deals", "box", "shop", "wave", "nest", "path",
           "base", "field", "spot"]
# every identifier shape of §4.5 (opaque ids and domain stems), as whole tokens
ID_RE = re.compile(rf"(?<![A-Za-z0-9_])((?:adv|pm|tf|cfg)_[a-z2-7]{{6,8}}|(?:{'|'.join(A_WORDS)})"
                   rf"(?:{'|'.join(B_WORDS)})\d*)(?![A-Za-z0-9_])")


def _dicts(obj: Any) -> Iterator[dict[str, Any]]:
    if isinstance(obj, dict):
        yield obj
        for v in obj.values():
            yield from _dicts(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _dicts(v)


def _ids(text: str) -> set[str]:
    return set(ID_RE.findall(text))


def _play(task_id: str, seed: int, kind: str) -> tuple[list[tuple[str, str, int, dict[str, Any]]], dict[str, Any]]:
    env = RefereeEnvironment(task_id, seed=seed)
    bots = {r: make_bot(kind, r, 1000 + i) for i, r in enumerate(ROLES)}
    seen: list[tuple[str, str, int, dict[str, Any]]] = []
    k = 0
    for _ in range(3000):
        if env.done:
            break
        for r in ROLES:
            seen.append((r, env.phase, env.round_number, env.observe(r)))
        role = env.current_role
        assert role is not None
        act = dict(bots[role].act(env.observe(role)))
        if role == "investigator" and act["action_type"] in ("investigate", "verdict", "link_accounts"):
            act["rationale"] = (str(act.get("rationale") or "") + f" {TOKEN}{k}")[-1900:]
            k += 1
        env.step(role, act)
    assert env.done
    return seen, env.record()


CASES = [(t, s, kind) for t in ("task_1", "task_2", "task_3", "task_3_unseen") for kind in ("scripted", "random")
         for s in (7_000_000_000_101, 7_000_000_000_202, 7_000_000_000_303, 7_000_000_000_404)]


@pytest.mark.parametrize(("task_id", "seed", "kind"), CASES)
def test_no_hidden_values_before_done(task_id: str, seed: int, kind: str) -> None:
    seen, rec = _play(task_id, seed, kind)
    ads = rec["ads"]
    proposals = {a["ad_id"]: a for a in ads if a["is_fraudster_proposal"]}
    base_values = [(kind_, a["identifiers"][kind_]) for a in ads if not a["is_fraudster_proposal"]
                   for kind_ in ID_KIND_TARGET]
    all_values = [(kind_, a["identifiers"][kind_]) for a in ads for kind_ in ID_KIND_TARGET]
    values = {v for _, v in all_values}
    base_set = {v for _, v in base_values}
    for role, phase, rnd, obs in seen:
        assert obs["done"] is False and obs["reward"] == 0.0
        if role == "auditor" and phase == "audit_phase":
            continue  # checked in test_auditor_audit_phase_view (the full record is the Auditor's by design)
        text = json.dumps(obs, sort_keys=True)
        keys = set(_keys(obs))
        assert "seed" not in keys and str(seed) not in text, (role, phase)
        assert "n" not in keys
        assert "record" not in obs and "rewards" not in obs
        if role == "investigator":
            assert not keys & INV_HIDDEN_KEYS, (keys & INV_HIDDEN_KEYS)
            assert '"staged"' not in text
            revealed = _ids(json.dumps(obs["evidence_ledger"]))
            leaked = (_ids(text) & values) - revealed
            assert not leaked, f"unpulled identifiers {leaked} in the investigator's view"
            for pid, p in proposals.items():
                published = p["arrived_round"] is not None and (
                    rnd > p["arrived_round"] or (rnd == p["arrived_round"] and phase != "fraudster_turn"))
                if not published:
                    assert pid not in text, "staged proposal visible to the investigator"
            # only own pulls: every ledger entry is listed as pulled on the ad's view
            views = {a["ad_id"]: a for a in obs["queue"]}
            for ad_id, findings in obs["evidence_ledger"].items():
                assert set(findings) == set(views[ad_id]["pulled_targets"])
        elif role == "fraudster":
            assert not keys & FR_HIDDEN_KEYS, (keys & FR_HIDDEN_KEYS)
            assert TOKEN not in text, "investigator rationale in the fraudster's view"
            leaked = _ids(text) & base_set
            assert not leaked, f"base-ad identifiers {leaked} in the fraudster's view"
            for d in _dicts(obj=obs):
                if "ad_id" in d and {"fraud_type", "severity", "impact", "camouflage"} & set(d):
                    assert d["ad_id"] in proposals, "base-ad label data in the fraudster's view"
        else:
            assert set(obs) == AUDITOR_EARLY
            assert TOKEN not in text
            assert not keys & (INV_HIDDEN_KEYS - {"n"})


def test_rationale_and_labels_disclosed_at_done() -> None:
    env = RefereeEnvironment("task_1", seed=3)
    env.step("fraudster", {"action_type": "end_turn"})
    ad = env.observe("investigator")["queue"][0]["ad_id"]
    env.step("investigator", {"action_type": "verdict", "ad_id": ad, "verdict": "approve",
                              "rationale": f"{TOKEN} visible only at done"})
    while not env.done:
        assert TOKEN not in json.dumps(env.observe("fraudster"))
        env.step(env.current_role, env.default_action(env.current_role))  # type: ignore[arg-type]
    obs = env.observe("fraudster")
    assert TOKEN in json.dumps(obs["record"])
    assert any("label" in a for a in obs["record"]["ads"])


def _audit_phase_env() -> RefereeEnvironment:
    env = RefereeEnvironment("task_1", seed=7_000_000_000_303)
    while env.phase != "audit_phase":
        env.step(env.current_role, env.default_action(env.current_role))  # type: ignore[arg-type]
    return env


def test_auditor_audit_phase_view() -> None:
    env = _audit_phase_env()
    obs = env.observe("auditor")
    rec = obs["full_episode_record"]
    assert rec["plausibility"] is None and rec["rewards"] is None
    assert rec["audit"] is None or rec["audit"]["ground_truth_flags"] is None
    assert "record" not in obs and "rewards" not in obs and obs["reward"] == 0.0


def test_auditor_audit_phase_view_hides_seed() -> None:
    env = _audit_phase_env()
    obs = env.observe("auditor")
    assert "seed" not in set(_keys(obs))
    assert str(env.seed) not in json.dumps(obs)


def test_auditor_audit_phase_view_hides_global_index() -> None:
    obs = _audit_phase_env().observe("auditor")
    assert "n" not in set(_keys(obs))
