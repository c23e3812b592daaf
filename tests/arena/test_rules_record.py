"""docs/rules.md §11: record keys, canonical JSON, replay exactness."""

from __future__ import annotations

import json

import pytest
from test_rules_helpers import TASK_IDS, finish, investigate, new_env, pending_ids, propose, to_investigator, verdict

from fraudarena.agents import make_bot
from fraudarena.arena import RefereeEnvironment, record_json, replay

TOP = {"format", "config", "actions", "ads", "rings", "links", "end_reason", "final_round", "budget_used", "grader",
       "audit", "plausibility", "rewards"}
AD = {"ad_id", "label", "fraud_type", "severity", "category", "country", "arrived_round", "is_fraudster_proposal",
      "slot_index", "camouflage", "impact", "ad_copy", "targeting_summary", "content_summary", "copy_revision",
      "ring_id", "identifiers", "final_verdict", "confidence", "auto_approved", "pulled"}
IDS = {"advertiser_id", "payment_id", "registrar", "domain_stem", "targeting_fingerprint", "config_fingerprint"}


def _played(task_id: str, seed: int) -> RefereeEnvironment:
    env = RefereeEnvironment(task_id, seed=seed)
    bots = {r: make_bot("random", r, seed * 3 + i) for i, r in enumerate(("fraudster", "investigator", "auditor"))}
    while not env.done:
        role = env.current_role
        env.step(role, bots[role].act(env.observe(role)))  # type: ignore[index, arg-type]
    return env


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_record_shape(task_id: str) -> None:
    rec = _played(task_id, 3).record()
    assert set(rec) == TOP
    assert rec["format"] == "fraudarena.record/1"
    assert set(rec["config"]) == {"task_id", "seed", "overrides", "effective"}
    assert rec["config"]["task_id"] == task_id and rec["config"]["seed"] == 3
    for i, e in enumerate(rec["actions"]):
        assert set(e) == {"n", "role", "round", "phase", "action"} and e["n"] == i
        assert None not in e["action"].values()
    ids = [a["ad_id"] for a in rec["ads"]]
    assert ids == sorted(ids)
    for a in rec["ads"]:
        assert set(a) == AD and set(a["identifiers"]) == IDS
    for r in rec["rings"]:
        assert set(r) == {"ring_id", "topology", "members", "shared_kinds"}
    for link in rec["links"]:
        assert set(link) == {"ad_id", "linked_ad_id", "correct", "credited"}
    assert rec["end_reason"] in ("commit_final", "max_rounds", "budget_exhausted", "all_decided")
    assert set(rec["grader"]) >= {"score", "raw", "best", "baseline", "terms"}
    assert set(rec["audit"]) == {"submitted_flags", "ground_truth_flags", "report"}
    assert set(rec["rewards"]) == {"fraudster", "investigator", "auditor"}
    assert rec["budget_used"] == sum(e["action"]["action_type"] in ("investigate", "verdict", "link_accounts")
                                     for e in rec["actions"])


def test_record_json_is_canonical() -> None:
    rec = _played("task_3", 1).record()
    text = record_json(rec)
    assert json.loads(text) == rec
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for word in ("timestamp", "created_at", "wall", "elapsed"):
        assert f'"{word}"' not in text


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_replay_is_exact(task_id: str) -> None:
    for seed in range(3):
        env = _played(task_id, seed)
        text = record_json(env.record())
        again = replay(json.loads(text))
        assert record_json(again.record()) == text
        assert again.done


def test_replay_with_overrides_and_unfinished_match() -> None:
    env = new_env("task_2", 6, max_rounds=3, max_proposals=2, allowed_categories=["saas"])
    propose(env, "saas", camouflage=["landing_page"])
    to_investigator(env)
    investigate(env, pending_ids(env)[0], "landing_page", rationale="looking")
    verdict(env, pending_ids(env)[0], "escalate", 0.4)
    rec = env.record()
    assert rec["end_reason"] is None and rec["grader"] is None and rec["rewards"] is None
    assert record_json(replay(rec).record()) == record_json(rec)
    finish(env)
    assert record_json(replay(env.record()).record()) == record_json(env.record())
    assert env.record()["config"]["overrides"] == {"max_rounds": 3, "max_proposals": 2,
                                                   "allowed_categories": ["saas"]}
