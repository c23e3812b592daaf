"""Property tests (docs/rules.md §11): random legal and illegal actions never crash the referee, keep every invariant.

Each example picks a task, a seed and overrides, then applies a list of moves: an action of a random role (mostly
the current one) that is either built from the role's ``legal_actions``, a legal-looking action with one field
mutated, or arbitrary JSON-ish garbage. Only ``ArenaError`` may be raised; a rejected action must leave the record
and every observation byte-identical. After the moves the match is played to ``done`` with default actions and the
end-state invariants, rewards, termination bound and replay are checked.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudarena.arena import ArenaError, RefereeEnvironment, record_json, replay

ROLES = ("fraudster", "investigator", "auditor")
TASK_IDS = ("task_1", "task_2", "task_3", "task_3_unseen")
TARGETS = ("advertiser_history", "landing_page", "payment_method", "targeting_overlap", "campaign_structure",
           "policy_classifier")
ACTION_TYPES = {
    "investigator": ("investigate", "verdict", "link_accounts", "end_turn"),
    "fraudster": ("propose_ad", "modify_pending_ad", "end_turn", "commit_final"),
    "auditor": ("flag_investigator", "flag_fraudster", "submit_audit_report"),
}
FLAGS = ("miscalibration", "missing_citation", "incoherent_rationale", "inconsistency", "bias", "gibberish",
         "parameter_mismatch", "template_repetition", "branding_anomaly")
FIELDS = ("ad_id", "investigation_target", "verdict", "confidence", "rationale", "linked_ad_id", "link_reason",
          "ad_copy", "category", "landing_page_blurb", "targeting_summary", "camouflage", "slot_index", "new_ad_copy",
          "new_landing_page_blurb", "flag_type", "target_ad_id", "severity", "note", "audit_report", "metadata")
CONTENT = ("ad_copy", "copy_markers", "copy_revision", "targeting_summary", "arrived_round")
COSTING = ("investigate", "verdict", "link_accounts")
CATS = ("ecommerce", "saas", "fitness", "miracle_cure", "fake_giveaway", "network_crypto", "clone_brand", "bogus")
EPS = 1e-12

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**40), st.floats(allow_nan=True, width=32),
                      st.text(max_size=12), st.sampled_from(["", " ", "ad_aaaaaa", *TARGETS, *FLAGS, *CATS]))
garbage = st.recursive(json_leaf, lambda c: st.one_of(st.lists(c, max_size=3),
                                                      st.dictionaries(st.sampled_from(FIELDS), c, max_size=3)),
                       max_leaves=6)
# a move = (seed of the choices of this step, garbage value); the role (current one 85 %) and the kind of
# action (legal 75 %, mutated 15 %, garbage 10 %) are drawn from the step's seed so every example is dense
move = st.tuples(st.integers(0, 2**32 - 1), garbage)
overrides = st.one_of(
    st.just({}),
    st.fixed_dictionaries({}, optional={"max_rounds": st.integers(1, 6), "max_proposals": st.integers(0, 8),
                                        "max_fraudster_actions_per_turn": st.integers(1, 4),
                                        "max_investigator_actions_per_turn": st.integers(1, 30)}),
)


def _build(env: RefereeEnvironment, role: str, kind: str, rng: random.Random, junk: Any) -> Any:
    if kind == "garbage":
        if isinstance(junk, dict) and rng.random() < 0.7:
            junk = {**junk, "action_type": rng.choice([t for ts in ACTION_TYPES.values() for t in ts])}
        return junk
    obs = env.observe(role)
    legal = obs["legal_actions"]
    types = list(legal["action_types"]) or list(ACTION_TYPES[role])
    atype = rng.choice(types if rng.random() < 0.85 else list(ACTION_TYPES[role]))
    for _ in range(2):  # play on: control-flow actions are re-drawn most of the time
        if atype in ("commit_final", "end_turn", "submit_audit_report") and rng.random() < 0.75:
            atype = rng.choice(types)
    ids = [a["ad_id"] for a in obs.get("queue", obs.get("current_queue", obs.get("public_queue", [])))]
    ids = ids or ["ad_aaaaaa"]
    act: dict[str, Any] = {"action_type": atype}
    if atype == "investigate":
        inv = legal.get("investigate") or {}
        if inv and rng.random() < 0.9:
            ad = rng.choice(sorted(inv))
            act.update(ad_id=ad, investigation_target=rng.choice(inv[ad]))
        else:
            act.update(ad_id=rng.choice(ids), investigation_target=rng.choice(TARGETS))
        if rng.random() < 0.3:
            act["rationale"] = "pulled " + act["investigation_target"]
    elif atype == "verdict":
        pool = legal.get("verdict") or ids
        act.update(ad_id=rng.choice(pool), verdict=rng.choice(("approve", "reject", "escalate")),
                   confidence=round(rng.random(), 2), rationale=rng.choice(("ok", "verified legitimate shop",
                                                                            "fraud scam suspicious")))
    elif atype == "link_accounts":
        a, b = rng.choice(ids), rng.choice(ids)
        act.update(ad_id=a, linked_ad_id=b)
    elif atype == "propose_ad":
        prop = legal.get("propose_ad") or {}
        cats = list(prop.get("categories") or CATS)
        k = rng.randint(0, 2)
        act.update(category=rng.choice(cats), ad_copy=rng.choice((
            "Shop our store for a great sale with free shipping.", "Hurry, act now! You won a prize!",
            "xkcdqrst zzzzz bbbbb", "Official brand outlet, genuine discount designer goods.")),
            camouflage=rng.sample(TARGETS, k))
        if rng.random() < 0.3:
            act["landing_page_blurb"] = "A simple landing page."
    elif atype == "modify_pending_ad":
        slots = legal.get("modify_pending_ad") or [0, 1, 5]
        act.update(slot_index=rng.choice(slots), new_ad_copy=rng.choice(("New copy for our shop.", "Act now!")))
    elif atype in ("flag_investigator", "flag_fraudster"):
        act.update(flag_type=rng.choice(FLAGS), target_ad_id=rng.choice(ids))
    if kind == "mutated":
        field = rng.choice((*FIELDS, "action_type", "unknown_field"))
        act[field] = junk
    return act


def _snapshot(env: RefereeEnvironment) -> tuple[str, ...]:
    return (record_json(env.record()), *(json.dumps(env.observe(r), sort_keys=True) for r in ROLES))


def _check_invariants(env: RefereeEnvironment, before: dict[str, Any] | None) -> dict[str, Any]:
    rec = env.record()
    obs = {r: env.observe(r) for r in ROLES}
    eff = rec["config"]["effective"]
    acts = rec["actions"]
    h = obs["investigator"]
    costing = sum(e["action"]["action_type"] in COSTING for e in acts)
    # 13.1 budget
    assert h["budget_remaining"] == eff["action_budget"] - costing >= 0
    assert rec["budget_used"] == costing
    # 13.2 caps and counts
    committed_round = next((e["round"] for e in acts if e["action"]["action_type"] == "commit_final"), None)
    per_turn: Counter[tuple[int, str]] = Counter()
    for e in acts:
        a = e["action"]["action_type"]
        if a in COSTING or a in ("propose_ad", "modify_pending_ad"):
            per_turn[e["round"], e["role"]] += 1
    for (rnd, role), n in per_turn.items():
        if role == "fraudster":
            assert n <= eff["max_fraudster_actions_per_turn"]
        else:
            cap = eff["max_investigator_actions_per_turn"]
            if committed_round == rnd:
                cap *= eff["max_rounds"] - rnd + 1
            assert n <= cap
    props = [a for a in rec["ads"] if a["is_fraudster_proposal"]]
    assert len(props) == h["proposals_used"] <= eff["max_proposals"]
    assert sum(len(p["camouflage"]) for p in props) <= eff["camouflage_allowance"]
    assert len(rec["links"]) <= eff["max_links"]
    pulls = Counter((e["action"]["ad_id"], e["action"]["investigation_target"]) for e in acts
                    if e["action"]["action_type"] == "investigate")
    assert all(v == 1 for v in pulls.values())
    per_ad = Counter(ad for ad, _ in pulls)
    assert all(v <= 3 for v in per_ad.values())
    verdicts = Counter(e["action"]["ad_id"] for e in acts if e["action"]["action_type"] == "verdict")
    assert all(v == 1 for v in verdicts.values())
    assert sum(e["action"]["action_type"].startswith("flag_") for e in acts) <= 200
    # 13.4 queue
    ids = [a["ad_id"] for a in h["queue"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [a["ad_id"] for a in obs["auditor"]["public_queue"]] == ids
    content = {a["ad_id"]: tuple(a[k] for k in CONTENT) for a in h["queue"]}
    if before is not None:
        published_step = before["phase"] == "fraudster_turn" and (
            env.phase != "fraudster_turn" or env.round_number != before["round"])
        if not published_step:
            assert content == before["content"]
        else:
            assert set(before["content"]) <= set(content)
    if env.round_number == 1 and env.phase == "fraudster_turn":
        assert ids == []  # nothing is published before the round-1 publish step
    # 13.6 termination bound
    bound = eff["max_rounds"] * (eff["max_fraudster_actions_per_turn"] + 1) + eff["action_budget"] + \
        eff["max_rounds"] + 201
    assert len(acts) <= bound
    # 13.7 rewards before done
    for o in obs.values():
        if not env.done:
            assert o["reward"] == 0.0 and o["done"] is False
        if env.phase in ("fraudster_turn", "investigator_turn"):
            assert o["end_reason"] is None
    return {"phase": env.phase, "round": env.round_number, "content": content}


def _check_end(env: RefereeEnvironment) -> None:
    rec = env.record()
    assert env.done and rec["end_reason"] in ("commit_final", "max_rounds", "budget_exhausted", "all_decided")
    manual = {e["action"]["ad_id"] for e in rec["actions"] if e["action"]["action_type"] == "verdict"}
    for a in rec["ads"]:
        if not a["is_fraudster_proposal"]:
            assert a["arrived_round"] is not None
        if a["arrived_round"] is not None:
            assert a["final_verdict"] in ("approve", "reject", "escalate")
            assert a["auto_approved"] == (a["ad_id"] not in manual)
    g = rec["grader"]
    assert 0.0 <= g["score"] <= 1.0 and g["raw"] <= g["best"] + 1e-9 and g["best"] - g["baseline"] >= 0.2 - 1e-9
    r = rec["rewards"]
    assert -0.1 - EPS <= r["fraudster"] <= 0.95 + EPS
    assert -0.2 - EPS <= r["investigator"] <= 1.0 + EPS
    assert 0.0 <= r["auditor"] <= 1.0
    for role in ROLES:
        o = env.observe(role)
        assert o["reward"] == r[role] and o["record"] == rec
    assert record_json(replay(json.loads(record_json(rec))).record()) == record_json(rec)


@settings(max_examples=70, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(task_id=st.sampled_from(TASK_IDS), seed=st.integers(0, 2**63 - 1), ov=overrides,
       moves=st.lists(move, min_size=20, max_size=120))
def test_random_actions_keep_invariants(task_id: str, seed: int, ov: dict[str, int],
                                        moves: list[tuple[int, Any]]) -> None:
    env = RefereeEnvironment(task_id, seed=seed, **ov)
    state = _check_invariants(env, None)
    for r, junk in moves:
        if env.done:
            break
        rng = random.Random(r)
        role = env.current_role if rng.random() < 0.85 else rng.choice(ROLES)
        assert role is not None
        u = rng.random()
        kind = "legal" if u < 0.75 else "mutated" if u < 0.9 else "garbage"
        action = _build(env, role, kind, rng, junk)
        before = _snapshot(env)
        try:
            env.step(role, action)
        except ArenaError as exc:
            assert exc.code in ("validation_error", "phase_violation", "illegal_action")
            assert _snapshot(env) == before
            continue
        state = _check_invariants(env, state)
    for _ in range(400):
        if env.done:
            break
        env.step(env.current_role, env.default_action(env.current_role))  # type: ignore[arg-type]
        state = _check_invariants(env, state)
    _check_end(env)
    # nothing can act after done
    for role in ROLES:
        try:
            env.step(role, env.default_action(role))
        except ArenaError as exc:
            assert exc.code == "phase_violation"
        else:
            raise AssertionError("an action was accepted after done")
