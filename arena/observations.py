"""Per-role observations (docs/rules.md §9): the only place where hidden information is filtered.

Each role's view is one function. Before ``done`` nothing hidden from a role is put into its dict:
labels, fraud types, severities, ring data, proposal markers (for the Investigator), unpulled
Findings, the seed, other roles' rationales and global action indices. At ``done`` every role's
view adds the full ``record`` and ``rewards``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import (
    CATEGORY_BY_ID,
    MATCH_LEVEL_FLAGS,
    MAX_AUDIT_FLAGS,
    MAX_PULLS_PER_AD,
    TARGET_INDEX,
    TARGETS,
    TRACK_A_FLAGS,
    TRACK_B_FLAGS,
    Phase,
    Role,
)

if TYPE_CHECKING:
    from .ads import Ad
    from .referee import RefereeEnvironment


def ad_view(ad: Ad) -> dict[str, Any]:
    """The public surface of a published ad (§4.3).

    The dict is cached on the ad until its public state changes and shared between observations:
    consumers must treat observations as read-only.
    """
    view = ad.view
    if view is not None:
        return view
    pulled = ad.pulled
    if len(pulled) > 1:
        targets = sorted(pulled, key=TARGET_INDEX.__getitem__)
    else:
        targets = list(pulled)
    view = ad.view = {
        "ad_id": ad.ad_id,
        "category": ad.category,
        "category_display": CATEGORY_BY_ID[ad.category].display,
        "country": ad.country,
        "ad_copy": ad.ad_copy,
        "targeting_summary": ad.targeting_summary,
        "copy_markers": list(ad.copy_markers),
        "copy_revision": ad.copy_revision,
        "arrived_round": ad.arrived_round,
        "status": ad.status,
        "confidence": ad.confidence,
        "pulled_targets": targets,
    }
    return view


def _header(env: RefereeEnvironment, role: str) -> dict[str, Any]:
    my_turn = env.current_role == role
    if not my_turn:
        left = 0
    elif role == "investigator":
        left = min(env.turn_cap - env.turn_count, env.budget_remaining)
    elif role == "fraudster":
        left = env.turn_cap - env.turn_count
    else:
        left = MAX_AUDIT_FLAGS - len(env.flags)
    ended = env.phase in ("audit_phase", "done")
    if ended:
        rounds_remaining = 0
    elif env.committed:
        rounds_remaining = 1
    else:
        rounds_remaining = env.max_rounds - env.round_number + 1
    done = env.phase == "done"
    return {
        "role": role,
        "task_id": env.task_id,
        "phase": env.phase,
        "round_number": env.round_number,
        "max_rounds": env.max_rounds,
        "rounds_remaining": rounds_remaining,
        "actions_left_this_turn": left,
        "budget_remaining": env.budget_remaining,
        "action_budget": env.action_budget,
        "proposals_used": len(env.proposals),
        "max_proposals": env.max_proposals,
        "arrivals_remaining": env.unpublished_organic,
        "queue_may_grow": not env.nothing_can_arrive,
        "fraudster_committed": env.committed,
        "end_reason": env.end_reason if ended else None,
        "done": done,
        "reward": env.rewards[role] if done and env.rewards else 0.0,  # type: ignore[index]
        "feedback": env.feedback[role],
    }


def observe(env: RefereeEnvironment, role: str, text: bool = True) -> dict[str, Any]:
    """Build ``role``'s observation of ``env``."""
    obs = _header(env, role)
    if role == "investigator":
        _investigator(env, obs, text)
    elif role == "fraudster":
        _fraudster(env, obs, text)
    else:
        _auditor(env, obs)
    if env.phase == "done":
        obs["record"] = env.record()
        obs["rewards"] = dict(env.rewards)  # type: ignore[arg-type]
    return obs


# -------------------------------------------------------------------------------------------------------------
# Investigator


def _investigator(env: RefereeEnvironment, obs: dict[str, Any], text: bool) -> None:
    queue = env.queue
    views = [ad_view(a) for a in queue]
    pending = [a.ad_id for a in queue if a.status == "pending"]
    ledger = {a.ad_id: dict(a.pulled) for a in queue if a.pulled}
    decided = [{"ad_id": a.ad_id, "verdict": a.status, "confidence": a.confidence, "round": a.verdict_round}
               for a in env.verdict_order]
    has_links = env.task.n_rings > 0
    links_remaining = env.task.max_links - len(env.links) if has_links else 0
    obs["queue"] = views
    obs["available_ads"] = pending
    obs["evidence_ledger"] = ledger
    obs["decided_ads"] = decided
    obs["links"] = [{"ad_id": a, "linked_ad_id": b} for a, b in env.links]
    obs["links_remaining"] = links_remaining
    obs["queue_status"] = {
        "total_ads": len(queue),
        "reviewed": len(queue) - len(pending),
        "pending": len(pending),
        "budget_remaining": env.budget_remaining,
        "steps_used": env.budget_used,
        "task_id": env.task_id,
    }
    if env.current_role == "investigator":
        investigate = {a.ad_id: _unpulled(a) for a in queue if len(a.pulled) < MAX_PULLS_PER_AD}
        link = ({"ad_ids": [a.ad_id for a in queue], "links_remaining": links_remaining}
                if has_links and links_remaining > 0 and len(queue) >= 2 else None)
        types = []
        if investigate:
            types.append("investigate")
        if pending:
            types.append("verdict")
        if link is not None:
            types.append("link_accounts")
        types.append("end_turn")
        obs["legal_actions"] = {"action_types": types, "investigate": investigate, "verdict": list(pending),
                                "link_accounts": link, "end_turn": True}
    else:
        obs["legal_actions"] = {"action_types": [], "investigate": {}, "verdict": [], "link_accounts": None,
                                "end_turn": False}
    if text:
        obs["queue_summary"] = "\n".join(
            f"{a.ad_id} | {CATEGORY_BY_ID[a.category].display} | {a.country} | {a.status} | "
            f"pulls {len(a.pulled)} | round {a.arrived_round}" for a in queue)
        focus = env.ads.get(env.focus_ad) if env.focus_ad else None
        if focus is None or focus.status != "pending":
            focus = next((a for a in queue if a.status == "pending"), None)
        obs["current_ad_info"] = _ad_info(focus) if focus is not None else "No pending ad."
        obs["investigation_findings"] = "\n".join(
            f"[{a.ad_id} / {t}] {f['text']}" for a in queue for t, f in a.pulled.items())
        obs["verdict_history_summary"] = "\n".join(
            f"round {d['round']}: {d['ad_id']} -> {d['verdict']} (confidence {d['confidence']})" for d in decided)
    else:
        obs["queue_summary"] = obs["current_ad_info"] = obs["investigation_findings"] = ""
        obs["verdict_history_summary"] = ""


def _unpulled(ad: Ad) -> list[str]:
    """Targets not yet pulled on ``ad``, canonical order (cached until the next pull; read-only)."""
    targets = ad.unpulled
    if targets is None:
        targets = ad.unpulled = [t for t in TARGETS if t not in ad.pulled]
    return targets


def _ad_info(ad: Ad) -> str:
    markers = ", ".join(ad.copy_markers) or "none"
    pulled = ", ".join(ad.pulled) or "none"
    return (f"{ad.ad_id} ({CATEGORY_BY_ID[ad.category].display}, {ad.country}, arrived round "
            f"{ad.arrived_round}, revision {ad.copy_revision}): \"{ad.ad_copy}\" | targeting: "
            f"\"{ad.targeting_summary}\" | markers: {markers} | pulled: {pulled}")


# -------------------------------------------------------------------------------------------------------------
# Fraudster


def _fraudster(env: RefereeEnvironment, obs: dict[str, Any], text: bool) -> None:
    current = [_fraudster_view(a) for a in env.queue]
    for a in env.staged:
        v = dict(ad_view(a))
        v["status"] = "staged"
        v["is_my_proposal"] = True
        v["slot_index"] = a.slot_index
        current.append(v)
    camo_left = env.camouflage_allowance - env.camouflage_used
    proposals_left = env.max_proposals - len(env.proposals)
    obs["allowed_categories"] = list(env.allowed_categories)
    obs["proposals_remaining"] = proposals_left
    obs["camouflage_remaining"] = camo_left
    obs["current_queue"] = current
    obs["prior_verdicts"] = [{"ad_id": a.ad_id, "verdict": a.status, "confidence": a.confidence,
                              "round": a.verdict_round, "was_my_proposal": a.is_proposal}
                             for a in env.verdict_order]
    obs["investigation_targets_used"] = {a.ad_id: sorted(a.pulled, key=TARGET_INDEX.__getitem__)
                                         for a in env.queue if a.pulled}
    obs["my_proposals"] = [{
        "slot_index": a.slot_index, "ad_id": a.ad_id, "category": a.category, "fraud_type": a.fraud_type,
        "severity": a.severity, "camouflage": list(a.camouflage), "impact": a.impact,
        "status": a.status if a.arrived_round is not None else "staged",
        "published": a.arrived_round is not None, "copy_revision": a.copy_revision,
    } for a in env.proposals]
    obs["my_proposal_signals"] = {a.ad_id: _signals(env, a) for a in env.proposals}
    if env.current_role == "fraudster":
        can_propose = proposals_left > 0
        modifiable = [a.slot_index for a in env.proposals if a.status == "pending"]
        types = []
        if can_propose:
            types.append("propose_ad")
        if modifiable:
            types.append("modify_pending_ad")
        types += ["end_turn", "commit_final"]
        obs["legal_actions"] = {
            "action_types": types,
            "propose_ad": ({"categories": list(env.allowed_categories), "camouflage_targets": list(TARGETS),
                            "camouflage_remaining": camo_left} if can_propose else None),
            "modify_pending_ad": modifiable,
            "end_turn": True,
            "commit_final": True,
        }
    else:
        obs["legal_actions"] = {"action_types": [], "propose_ad": None, "modify_pending_ad": [],
                                "end_turn": False, "commit_final": False}
    if text:
        lines = []
        for v in current:
            mine = f" [my slot {v['slot_index']}]" if v["is_my_proposal"] else ""
            lines.append(f"{v['ad_id']} | {v['category_display']} | {v['country']} | {v['status']} | "
                         f"pulled {', '.join(v['pulled_targets']) or 'none'}{mine}")
        obs["queue_summary"] = "\n".join(lines)
    else:
        obs["queue_summary"] = ""


def _fraudster_view(ad: Ad) -> dict[str, Any]:
    """A published ad as the Fraudster sees it: AdView + ``is_my_proposal`` (+ ``slot_index`` if its own)."""
    view = ad.view_fraudster
    if view is None:
        view = dict(ad_view(ad))
        view["is_my_proposal"] = ad.is_proposal
        if ad.is_proposal:
            view["slot_index"] = ad.slot_index
        ad.view_fraudster = view
    return view


def _signals(env: RefereeEnvironment, ad: Ad) -> dict[str, Any]:
    """All six Findings a proposal would show now (classifier on its latest copy), cached until it changes."""
    key = (ad.ad_copy, ad.pending_copy, ad.content_summary)
    cached = ad.signals
    if cached is not None and cached[0] == key:
        return cached[1]
    signals = {t: env.make_finding(ad, t, ad.pending_copy) for t in TARGETS}
    ad.signals = (key, signals)
    return signals


# -------------------------------------------------------------------------------------------------------------
# Auditor


def _auditor(env: RefereeEnvironment, obs: dict[str, Any]) -> None:
    obs["public_queue"] = [ad_view(a) for a in env.queue]
    if env.phase not in ("audit_phase", "done"):
        obs["legal_actions"] = {"action_types": [], "flag_types": {"A": [], "B": []}, "target_ad_ids": [],
                                "flags_remaining": 0}
        return
    rec = env.record()
    if env.phase == "done":
        obs["full_episode_record"] = rec
    else:  # the seed and global action indices stay hidden until done (§9)
        obs["full_episode_record"] = {
            **rec,
            "config": {k: v for k, v in rec["config"].items() if k != "seed"},
            "actions": [{k: v for k, v in e.items() if k != "n"} for e in rec["actions"]],
        }
    seen = env.auditor_seen
    if seen is None:  # the other roles' actions and the evidence no longer change once the audit phase begins
        seen = env.auditor_seen = (
            [{"round": e["round"], "phase": e["phase"], "action": e["action"]}
             for e in env.actions if e["role"] == "investigator"],
            _fraudster_actions(env),
            {a.ad_id: dict(a.pulled) for a in env.queue if a.pulled},
        )
    obs["investigator_actions"], obs["fraudster_proposals"], obs["investigation_data_seen"] = seen
    obs["pending_flags"] = [dict(f) for f in env.flags]
    flags_left = MAX_AUDIT_FLAGS - len(env.flags)
    obs["flags_remaining"] = flags_left
    if env.phase == "audit_phase":
        types = ["flag_investigator", "flag_fraudster", "submit_audit_report"] if flags_left else [
            "submit_audit_report"]
        obs["legal_actions"] = {"action_types": types,
                                "flag_types": {"A": list(TRACK_A_FLAGS), "B": list(TRACK_B_FLAGS)},
                                "target_ad_ids": [a.ad_id for a in env.queue], "flags_remaining": flags_left,
                                "match_level_flag_types": sorted(MATCH_LEVEL_FLAGS)}
    else:
        obs["legal_actions"] = {"action_types": [], "flag_types": {"A": [], "B": []}, "target_ad_ids": [],
                                "flags_remaining": 0}


def _fraudster_actions(env: RefereeEnvironment) -> list[dict[str, Any]]:
    """Accepted Fraudster actions with round, and the slot and ad id each refers to."""
    out = []
    next_slot = 0
    for e in env.actions:
        if e["role"] != "fraudster":
            continue
        act = e["action"]
        entry: dict[str, Any] = {"round": e["round"], "action": act}
        slot = None
        if act["action_type"] == "propose_ad":
            slot, next_slot = next_slot, next_slot + 1
        elif act["action_type"] == "modify_pending_ad":
            slot = act["slot_index"]
        if slot is not None:
            entry["slot_index"] = slot
            entry["ad_id"] = env.proposals[slot].ad_id
        out.append(entry)
    return out


# What the Fraudster's observation shows of Investigator actions: targets pulled, verdicts with confidence.
_INVESTIGATOR_ACTION_SEEN = {"investigate": ("action_type", "ad_id", "investigation_target"),
                             "verdict": ("action_type", "ad_id", "verdict", "confidence")}


def visible_action(viewer: str | None, actor: str, action: dict[str, Any], phase_now: str) -> dict[str, Any] | None:
    """What ``viewer`` (a role, or None for a spectator) may see of one accepted action of a live match.

    The action-log face of the per-role views above (docs/protocol.md#what-you-can-see): a seat sees its
    own actions in full and other roles' actions only as far as its observation shows them; the Auditor sees
    everything from ``audit_phase`` on. A spectator sees what every seat's view shows: the Investigator's
    pulls and verdicts as ``ad_view`` shows them (no rationale, no Finding) and the Auditor's flags (the
    Auditor acts only once no other seat can act); never a Fraudster action. None means hidden.
    """
    if viewer == actor:
        return dict(action)
    if actor == Role.INVESTIGATOR and viewer in (None, Role.FRAUDSTER):
        keys = _INVESTIGATOR_ACTION_SEEN.get(str(action.get("action_type")))
        return {k: action[k] for k in keys if k in action} if keys else None
    if viewer is None and actor == Role.AUDITOR:
        return dict(action)
    if viewer == Role.AUDITOR and phase_now in (Phase.AUDIT_PHASE, Phase.DONE):
        return dict(action)
    return None
