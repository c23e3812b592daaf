"""docs/rules.md §5: surface markers, Findings per target, the evidence/classifier streams, camouflage, immutability."""

from __future__ import annotations

from typing import Any

import pytest
from test_rules_helpers import (
    TARGETS,
    finish,
    int_range,
    investigate,
    new_env,
    pick,
    propose,
    queue_ids,
    rec_ads,
    to_investigator,
)

from fraudarena.arena import RefereeEnvironment
from fraudarena.arena.rng import stream

FIELDS = {
    "advertiser_history": {"advertiser_id", "country", "account_age_days", "verified_business", "prior_violations"},
    "landing_page": {"registrar", "domain_stem", "domain", "tld", "domain_age_days", "claims_flagged", "ssl_valid",
                     "redirect_hops", "content_summary"},
    "payment_method": {"payment_id", "payment_type", "chargebacks_90d", "accounts_on_instrument"},
    "targeting_overlap": {"targeting_fingerprint", "targeting_summary", "audience_overlap_pct", "geo_count"},
    "campaign_structure": {"config_fingerprint", "objective", "ad_set_count", "bid_strategy", "daily_budget_usd"},
    "policy_classifier": {"decision", "confidence", "codes", "markers"},
}
COL = {"legit": 0, "fraud": 1, "gray": 2}


def _num(r: Any, mode: str, buckets: list[tuple[int, int]], probs: tuple[tuple[float, ...], ...]) -> int:
    a, b = buckets[pick(r(), probs[COL[mode]] if len(probs) == 3 else probs[0])]
    return int_range(r(), a, b)


def _cls(r: Any, mode: str, probs: tuple[tuple[float, ...], ...],
         members: list[tuple[tuple[str, ...], tuple[float, ...] | None]]) -> str:
    names, weights = members[pick(r(), probs[COL[mode]])]
    u = r()
    if weights is None:
        return names[int(u * len(names))]
    return names[pick(u, weights)]


def ref_fields(r: Any, modes: dict[str, str], n_on_payment: int, shares_tf: bool) -> dict[str, dict[str, Any]]:
    """The 27 draws of ``evidence/<ad_id>`` (§5.2 table, first five targets, row order).

    The fraud columns are those of docs/rules-changes.md (docs/rules.md's sharpened away from legit).
    """
    out: dict[str, dict[str, Any]] = {}
    m = modes["advertiser_history"]
    out["advertiser_history"] = {
        "account_age_days": _num(r, m, [(1, 29), (30, 179), (180, 729), (730, 3650)],
                                 ((.08, .17, .35, .40), (.49, .33, .12, .06), (.10, .25, .35, .30))),
        "verified_business": r() < {"legit": .70, "fraud": .29, "gray": .65}[m],
        "prior_violations": pick(r(), ((.78, .15, .05, .02), (.37, .29, .21, .13), (.65, .22, .09, .04))[COL[m]]),
    }
    m = modes["landing_page"]
    out["landing_page"] = {
        "domain_age_days": _num(r, m, [(1, 89), (90, 364), (365, 1824), (1825, 7300)],
                                ((.07, .18, .40, .35), (.53, .28, .14, .05), (.15, .25, .35, .25))),
        "tld": _cls(r, m, ((.80, .14, .06), (.53, .27, .20), (.70, .20, .10)),
                    [(("com", "net", "org", "io", "co"), (.5, .15, .1, .1, .15)), (("shop", "store"), None),
                     (("xyz", "site", "click"), (.4, .3, .3))]),
        "claims_flagged": pick(r(), ((.75, .17, .06, .02), (.21, .36, .22, .21), (.25, .35, .25, .15))[COL[m]]),
        "ssl_valid": r() < .92,
        "redirect_hops": pick(r(), (.70, .20, .07, .03)),
    }
    m = modes["payment_method"]
    ptype = _cls(r, m, ((.65, .25, .10), (.25, .07, .68), (.60, .25, .15)),
                 [(("credit_card", "corporate_card"), (.7, .3)), (("bank_account",), None),
                  (("prepaid_card", "virtual_card", "crypto", "wire_transfer"), (.35, .35, .15, .15))])
    cb = _num(r, m, [(0, 0), (1, 1), (2, 5)], ((.85, .11, .04), (.30, .35, .35), (.75, .17, .08)))
    acc = _num(r, m, [(1, 1), (2, 2), (3, 6)], ((.70, .20, .10),))
    out["payment_method"] = {"payment_type": ptype, "chargebacks_90d": cb,
                             "accounts_on_instrument": max(acc, n_on_payment)}
    m = modes["targeting_overlap"]
    bucket = pick(r(), ((.50, .35, .15), (.13, .36, .51), (.35, .40, .25))[COL[m]])
    u = r()
    overlap = int_range(u, 85, 99) if shares_tf else int_range(u, *[(0, 29), (30, 59), (60, 100)][bucket])
    out["targeting_overlap"] = {
        "audience_overlap_pct": overlap,
        "geo_count": _num(r, m, [(1, 2), (3, 5), (6, 12)], ((.60, .30, .10), (.14, .28, .58), (.45, .35, .20))),
    }
    m = modes["campaign_structure"]
    out["campaign_structure"] = {
        "objective": _cls(r, m, ((.75, .25), (.20, .80), (.60, .40)),
                          [(("conversions", "leads", "sales", "app_installs"), None),
                           (("traffic", "awareness", "reach", "engagement"), None)]),
        "ad_set_count": _num(r, m, [(1, 5), (6, 15), (16, 50)], ((.62, .28, .10), (.19, .32, .49), (.55, .30, .15))),
        "bid_strategy": ("lowest_cost", "cost_cap", "bid_cap", "target_cost")[pick(r(), (.4, .3, .15, .15))],
        "daily_budget_usd": round(10 ** (1.3 + 2.4 * r())),
    }
    return out


def unsafe_p(mode: str, m: int) -> float:
    return {"legit": .10 + .05 * m, "fraud": .50 + .10 * m, "gray": .45 + .10 * m}[mode]


def _pull_everything(env: RefereeEnvironment, plan: list[tuple[str, ...]] | None = None) -> None:
    """Round-robin: pull 3 targets on every published ad each investigator turn while budget/cap allow."""
    i = 0
    while not env.done and env.phase != "audit_phase":
        if env.phase != "investigator_turn":
            env.step(env.current_role, {"action_type": "end_turn"})  # type: ignore[arg-type]
            continue
        obs = env.observe("investigator")
        legal = obs["legal_actions"]["investigate"]
        if not legal or obs["actions_left_this_turn"] == 0:
            env.step("investigator", {"action_type": "end_turn"})
            continue
        ad_id = sorted(legal)[0]
        targets = legal[ad_id]
        target = targets[i % len(targets)]
        i += 1
        investigate(env, ad_id, target)


def _modes(ad: dict[str, Any]) -> dict[str, str]:
    if ad["is_fraudster_proposal"]:
        return {t: "legit" if t in ad["camouflage"] else "fraud" for t in TARGETS}
    return dict.fromkeys(TARGETS, ad["label"])


def _check_findings(rec: dict[str, Any]) -> int:
    ads = rec["ads"]
    n = 0
    for ad in ads:
        if not ad["pulled"]:
            continue
        ids = ad["identifiers"]
        n_pay = sum(a["identifiers"]["payment_id"] == ids["payment_id"] for a in ads)
        shares_tf = sum(a["identifiers"]["targeting_fingerprint"] == ids["targeting_fingerprint"] for a in ads) > 1
        modes = _modes(ad)
        ref = ref_fields(stream(rec["config"]["task_id"], rec["config"]["seed"], f"evidence/{ad['ad_id']}").random,
                         modes, n_pay, shares_tf)
        for target, f in ad["pulled"].items():
            n += 1
            assert f["target"] == target
            assert set(f) == FIELDS[target] | {"target", "text"}, target
            assert isinstance(f["text"], str) and f["text"]
            if target == "policy_classifier":
                r = stream(rec["config"]["task_id"], rec["config"]["seed"], f"classifier/{ad['ad_id']}")
                u1, u2 = r.random(), r.random()
                m = min(3, len(f["markers"]))
                unsafe = u1 < unsafe_p(modes[target], m)
                assert f["decision"] == ("unsafe" if unsafe else "safe")
                assert f["confidence"] == round((.60 if unsafe else .55) + .35 * u2, 2)
                assert (f["codes"] == []) == (not unsafe)
                if unsafe:
                    assert "S2" in f["codes"]
                continue
            for k, v in ref[target].items():
                assert f[k] == v, (ad["ad_id"], target, k, f[k], v)
            if target == "advertiser_history":
                assert (f["advertiser_id"], f["country"]) == (ids["advertiser_id"], ad["country"])
                assert ids["advertiser_id"] in f["text"]
            elif target == "landing_page":
                assert f["registrar"] == ids["registrar"] and f["domain_stem"] == ids["domain_stem"]
                assert f["domain"] == f"{ids['domain_stem']}.{f['tld']}"
                assert f["content_summary"] == ad["content_summary"]
                assert f["domain"] in f["text"]
            elif target == "payment_method":
                assert f["payment_id"] == ids["payment_id"] and ids["payment_id"] in f["text"]
            elif target == "targeting_overlap":
                assert f["targeting_fingerprint"] == ids["targeting_fingerprint"]
                assert f["targeting_summary"] == ad["targeting_summary"]
            else:
                assert f["config_fingerprint"] == ids["config_fingerprint"]
    return n


@pytest.mark.parametrize("task_id", ["task_1", "task_2", "task_3", "task_3_unseen"])
def test_findings_follow_the_table_and_the_streams(task_id: str) -> None:
    total = 0
    for seed in range(4):
        env = new_env(task_id, seed, max_investigator_actions_per_turn=30)
        propose(env, "ecommerce", camouflage=["landing_page"])
        propose(env, "saas", camouflage=["policy_classifier"])
        propose(env, "fitness", copy="Hurry, act now: guaranteed results at our gym! You won a free gift workout.")
        _pull_everything(env)
        total += _check_findings(finish(env))
    assert total > 50


def test_classifier_uses_markers_at_pull_time() -> None:
    """§5.2/§6.3: m is the copy's marker count when the pull happens; the Finding keeps it afterwards."""
    checked = 0
    for seed in range(6):
        env = new_env("task_1", seed, max_proposals=2)
        propose(env, "ecommerce")
        to_investigator(env)
        prop = next(a for a in env.record()["ads"] if a["is_fraudster_proposal"])["ad_id"]
        first = investigate(env, prop, "policy_classifier")["evidence_ledger"][prop]["policy_classifier"]
        assert first["markers"] == []
        env.step("investigator", {"action_type": "end_turn"})
        env.step("fraudster", {"action_type": "modify_pending_ad", "slot_index": 0,
                               "new_ad_copy": "Hurry, act now! Guaranteed, risk-free. You won a prize, shop today."})
        # the staged change is not public yet; Findings never change
        assert env.observe("investigator")["evidence_ledger"][prop]["policy_classifier"] == first
        to_investigator(env)
        view = next(a for a in env.observe("investigator")["queue"] if a["ad_id"] == prop)
        assert view["copy_markers"] == ["guarantee", "urgency", "windfall"] and view["copy_revision"] == 1
        assert env.observe("investigator")["evidence_ledger"][prop]["policy_classifier"] == first
        assert rec_ads(env)[prop]["pulled"]["policy_classifier"] == first
        checked += 1
        # the classifier formula with m at pull time (0 markers, fraud column)
        r = stream("task_1", seed, f"classifier/{prop}")
        u1 = r.random()
        assert first["decision"] == ("unsafe" if u1 < .50 else "safe")
    assert checked == 6


def test_classifier_after_modify_uses_new_copy() -> None:
    for seed in range(8):
        env = new_env("task_1", seed, max_proposals=2)
        propose(env, "ecommerce")
        to_investigator(env)
        env.step("investigator", {"action_type": "end_turn"})
        env.step("fraudster", {"action_type": "modify_pending_ad", "slot_index": 0,
                               "new_ad_copy": "Hurry, act now! Guaranteed, risk-free. You won a prize, shop today."})
        to_investigator(env)
        prop = next(a for a in env.record()["ads"] if a["is_fraudster_proposal"])["ad_id"]
        f = investigate(env, prop, "policy_classifier")["evidence_ledger"][prop]["policy_classifier"]
        assert f["markers"] == ["guarantee", "urgency", "windfall"]
        u1 = stream("task_1", seed, f"classifier/{prop}").random()
        assert f["decision"] == ("unsafe" if u1 < .80 else "safe")


def test_camouflage_uses_legit_column_statistically() -> None:
    """Over many seeds a camouflaged classifier (m = 0) fires ≈ 10 %, an uncamouflaged one ≈ 50 %."""
    unsafe = {True: 0, False: 0}
    young = {True: 0, False: 0}
    n = 150
    for seed in range(n):
        env = new_env("task_1", seed, max_proposals=2)
        propose(env, "saas", camouflage=["policy_classifier", "advertiser_history"])
        propose(env, "ecommerce")
        to_investigator(env)
        props = {a["slot_index"]: a["ad_id"] for a in env.record()["ads"] if a["is_fraudster_proposal"]}
        for slot, camo in ((0, True), (1, False)):
            investigate(env, props[slot], "policy_classifier")
            obs = investigate(env, props[slot], "advertiser_history")
            led = obs["evidence_ledger"][props[slot]]
            unsafe[camo] += led["policy_classifier"]["decision"] == "unsafe"
            young[camo] += led["advertiser_history"]["account_age_days"] < 180
    assert unsafe[True] / n < 0.2 < 0.35 < unsafe[False] / n < 0.65
    # account_age < 180 days: legit .25, fraud .82 (docs/rules-changes.md)
    assert young[True] / n < 0.4 < 0.45 < young[False] / n


def test_investigator_sees_only_own_pulls_and_surface_markers() -> None:
    env = new_env("task_2", 5)
    propose(env, "ecommerce", copy="Limited time only: shop our store, order today, hurry!")
    to_investigator(env)
    obs = env.observe("investigator")
    assert obs["evidence_ledger"] == {}
    for a in obs["queue"]:
        assert a["copy_markers"] == sorted(a["copy_markers"])
        assert a["confidence"] is None and a["status"] == "pending" and a["pulled_targets"] == []
    ad = queue_ids(env)[0]
    investigate(env, ad, "payment_method")
    obs = investigate(env, ad, "advertiser_history")
    assert list(obs["evidence_ledger"]) == [ad]
    assert set(obs["evidence_ledger"][ad]) == {"payment_method", "advertiser_history"}
    view = next(a for a in obs["queue"] if a["ad_id"] == ad)
    assert view["pulled_targets"] == ["advertiser_history", "payment_method"]  # canonical order
    prop = next(a for a in env.record()["ads"] if a["is_fraudster_proposal"])["ad_id"]
    pv = next(a for a in obs["queue"] if a["ad_id"] == prop)
    assert pv["copy_markers"] == ["urgency"]


def test_marker_count_is_capped_at_three() -> None:
    copy = "Hurry, act now! Guaranteed, risk-free. You won a prize! Doctors hate this shop. Earn $50 today."
    for seed in range(10):
        env = new_env("task_1", seed, max_proposals=1)
        propose(env, "ecommerce", copy=copy)
        to_investigator(env)
        prop = next(a for a in env.record()["ads"] if a["is_fraudster_proposal"])["ad_id"]
        f = investigate(env, prop, "policy_classifier")["evidence_ledger"][prop]["policy_classifier"]
        assert len(f["markers"]) == 5
        u1 = stream("task_1", seed, f"classifier/{prop}").random()
        assert f["decision"] == ("unsafe" if u1 < .80 else "safe")  # m = min(3, 5)


def test_fraudster_signals_match_the_investigators_pulls() -> None:
    """§9: my_proposal_signals shows all six Findings of own proposals (classifier on the current copy)."""
    for seed in range(4):
        env = new_env("task_3", seed, max_investigator_actions_per_turn=30)
        propose(env, "network_health", camouflage=["payment_method"])
        prop = next(a for a in env.record()["ads"] if a["is_fraudster_proposal"])["ad_id"]
        signals = env.observe("fraudster")["my_proposal_signals"][prop]
        assert set(signals) == set(TARGETS)
        to_investigator(env)
        for t in ("payment_method", "landing_page", "policy_classifier"):
            pulled = investigate(env, prop, t)["evidence_ledger"][prop][t]
            assert pulled == signals[t]
