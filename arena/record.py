"""The match record (docs/rules.md §11) and its canonical JSON form."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .spec import RECORD_FORMAT
from .texts import compose

if TYPE_CHECKING:
    from .ads import Ad
    from .referee import RefereeEnvironment


def record_json(record: dict[str, Any]) -> str:
    """Canonical JSON of a record: sorted keys, compact separators, UTF-8 text."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def effective_knobs(env: RefereeEnvironment) -> dict[str, Any]:
    t = env.task
    return {
        "action_budget": env.action_budget,
        "max_rounds": env.max_rounds,
        "max_proposals": env.max_proposals,
        "max_fraudster_actions_per_turn": env.f_cap,
        "max_investigator_actions_per_turn": env.i_cap,
        "camouflage_allowance": env.camouflage_allowance,
        "n_rings": t.n_rings,
        "max_links": t.max_links,
        "late_arrivals": t.late_arrivals if env.max_rounds > 1 else 0,
        "allowed_categories": list(env.allowed_categories),
        "base_ads": {"legit": t.n_legit, "fraud": t.n_fraud, "gray": t.n_gray},
    }


def _ad_entry(ad: Ad) -> dict[str, Any]:
    copy = ad.ad_copy or compose("copy", ad.category, ad.style, ad.text_seed)
    targeting = ad.targeting_summary or compose("targeting", ad.category, ad.style, ad.text_seed)
    if not ad.content_summary:
        ad.content_summary = compose("landing", ad.category, ad.style, ad.text_seed)
    landing = ad.content_summary
    return {
        "ad_id": ad.ad_id,
        "label": ad.label,
        "fraud_type": ad.fraud_type,
        "severity": ad.severity,
        "category": ad.category,
        "country": ad.country,
        "arrived_round": ad.arrived_round,
        "is_fraudster_proposal": ad.is_proposal,
        "slot_index": ad.slot_index,
        "camouflage": list(ad.camouflage),
        "impact": ad.impact,
        "ad_copy": copy,
        "targeting_summary": targeting,
        "content_summary": landing,
        "copy_revision": ad.copy_revision,
        "ring_id": ad.ring_id,
        "identifiers": {
            "advertiser_id": ad.advertiser_id,
            "payment_id": ad.payment_id,
            "registrar": ad.registrar,
            "domain_stem": ad.domain_stem,
            "targeting_fingerprint": ad.targeting_fingerprint,
            "config_fingerprint": ad.config_fingerprint,
        },
        "final_verdict": None if ad.status == "pending" else ad.status,
        "confidence": ad.confidence,
        "auto_approved": ad.auto_approved,
        "pulled": dict(ad.pulled),
    }


def build_record(env: RefereeEnvironment) -> dict[str, Any]:
    """Assemble the record of a match in any phase (an unfinished match has no grades or rewards)."""
    entries = env.ad_entries
    if entries is None:
        entries = [_ad_entry(a) for a in sorted(env.ads.values(), key=lambda a: a.ad_id)]
        if env.grader is not None:  # ads no longer change after match end
            env.ad_entries = entries
    submitted = [[f["track"], f["flag_type"], f["target_ad_id"]] for f in env.flags]
    audit: dict[str, Any] | None = None
    if env.grader is not None:
        audit = {"submitted_flags": submitted, "ground_truth_flags": env.ground_truth,
                 "report": env.audit_report}
    return {
        "format": RECORD_FORMAT,
        "config": {"task_id": env.task_id, "seed": env.seed, "overrides": dict(env.overrides),
                   "effective": effective_knobs(env)},
        "actions": [dict(a) for a in env.actions],
        "ads": entries,
        "rings": [{"ring_id": r.ring_id, "topology": r.topology, "members": sorted(r.members),
                   "shared_kinds": list(r.shared_kinds)} for r in env.rings],
        "links": env.link_rows if env.grader is not None else [
            {"ad_id": a, "linked_ad_id": b, "correct": None, "credited": None} for a, b in env.links],
        "end_reason": env.end_reason if env.grader is not None else None,
        "final_round": env.final_round,
        "budget_used": env.budget_used,
        "grader": env.grader,
        "audit": audit,
        "plausibility": env.plausibility,
        "rewards": env.rewards,
    }
