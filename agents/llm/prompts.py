"""Compact chat prompts for the LLM bot: a rules summary per role and the observation's state.

Everything here is written from docs/rules.md (rules version 1) and reads only the structured fields of a
role's observation (``env.observe(role, text=False)`` is enough: the derived text summaries are not used).
The prompt is two messages: a *system* message (the role's rules in a few lines and the answer format) and
a *user* message (the state of the match as this role sees it, the legal actions from
``obs["legal_actions"]`` and one JSON example per legal action type). Each move is asked afresh, without
the earlier moves' conversation, so the prompt stays small (about 1–2k tokens on ``task_1``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fraudarena.arena import spec

MAX_COPY_CHARS = 160
"""Ad copies and other free texts are cut to this many characters in the prompt."""

ANSWER_FORMAT = (
    "Answer with exactly ONE JSON object: the action, with \"action_type\" and that type's fields. "
    "No prose, no markdown, no list, no extra keys."
)

RULES: dict[str, str] = {
    "investigator": """You are the INVESTIGATOR in FraudArena, an ad-review game. Ads in the review queue are secretly \
legit, fraud or gray. Correct verdicts: legit -> approve, fraud -> reject, gray -> escalate.
Scoring per ad: reject fraud +0.3..0.4, approve fraud -0.50, reject legit -0.50, approve legit +0.10, \
escalate gray +0.15, escalate anything else -0.05. Ads still pending when the match ends are APPROVED \
automatically (a fraud ad approved costs -0.50).
Each investigate, verdict and link_accounts costs 1 step of your budget; end_turn is free. Keep at least \
one step per pending ad (and per ad still to arrive) for verdicts.
investigate reveals one Finding about one ad (at most 3 different targets per ad). Fraud signs: young \
account, unverified business, prior violations, young domain, cheap TLD, flagged claims, risky payment \
(prepaid, virtual, crypto, wire), chargebacks, high audience overlap, many countries, reach objective, many \
ad sets, policy classifier UNSAFE. Surface signs of fraud: pushy copy markers, high-risk categories \
(giveaways, miracle cures, crypto, loans ...), countries outside US/GB/CA/AU/DE.
Two ads showing the same payment_id, domain, targeting or config fingerprint are in one fraud ring: both \
fraud; link them with link_accounts (only in tasks with rings).
Verdict rationale: at least 24 characters and name a target you pulled on that ad (e.g. "landing_page") \
or an identifier it revealed. Never write two fraud words (fraud, scam, suspicious, fake ...) in an \
approval or two clean words (legitimate, clean, safe, verified ...) in a rejection. confidence = your \
probability that the verdict is right (0..1).""",
    "fraudster": """You are the FRAUDSTER in FraudArena, an ad-review game. You slip fraudulent ads (proposals) \
into a review queue; an Investigator reviews every ad. Your payoff per proposal: if it is approved, \
severity x (1 - 0.2 x camouflaged targets) x plausibility; if escalated 0; if rejected -0.1.
propose_ad: pick an allowed category, write a believable ad_copy (plain, honest-sounding, 1-2 sentences) \
that contains one of the category's keywords. Camouflage (0-2 targets, from your camouflage allowance) \
makes those investigation targets look legit; spend it on targets the Investigator pulls most.
Plausibility drops (less payoff) when a copy is gibberish or under 20 letters, lacks every category \
keyword, targets minors in an adult-only category, repeats an earlier copy, or contains id-like strings \
(ad_xxxxxx, pm_...), raw IP addresses or .tk/.ml/.ga/.cf/.gq domains.
modify_pending_ad rewrites the copy of one of your undecided proposals (by slot_index). end_turn ends your \
turn; commit_final ends your proposing for the whole match.""",
    "auditor": """You are the AUDITOR in FraudArena, an ad-review game. The match is over; you see the true \
labels. Send flags (one per action), then submit_audit_report. Your reward is the F1 score between your \
flags and the true flags: a wrong flag costs, a missed one too. Never send the same flag twice.
Track A (flag_investigator) about the Investigator's verdicts, per ad (target_ad_id required):
- missing_citation: the verdict's rationale is under 24 characters, or the ad had pulls before the verdict \
and the rationale names none of those targets (landing_page or "landing page") nor an identifier they revealed;
- incoherent_rationale: an approve whose rationale has 2+ distinct fraud words (fraud, scam, suspicious, \
fake, counterfeit, phishing, red flag, malicious, deceptive, impersonation), or a reject with 2+ distinct \
clean words (legitimate, clean, trustworthy, no issues, verified, safe, established, low risk, reputable, \
genuine);
- inconsistency: a WRONG verdict on an ad with the same category and label as an earlier verdict that differs.
Match level (no target_ad_id): miscalibration (3+ verdicts and a confidence bin over-confident by > 0.30), \
bias (error rates differ by > 0.25 between country or category groups).
Track B (flag_fraudster) about the Fraudster's proposals (target_ad_id = the proposal's ad): gibberish \
(copy under 20 letters, few vowels, non-words), parameter_mismatch (no category keyword in copy/targeting, \
or an adult-only category targeting minors), template_repetition (copy nearly equal to an earlier \
proposal's), branding_anomaly (id-like strings such as ad_xxxxxx or pm_..., .tk/.ml/.ga/.cf/.gq domains, \
raw IP URLs). Correct verdicts: legit -> approve, fraud -> reject, gray -> escalate.""",
}


def _cut(text: Any, n: int = MAX_COPY_CHARS) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= n else s[: n - 3] + "..."


def _group(category: str) -> str:
    cat = spec.CATEGORY_BY_ID.get(category)
    return cat.group if cat is not None else "?"


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(", ", ": "), ensure_ascii=False)


def system_prompt(role: str) -> str:
    """The system message for ``role``: the rules summary and the answer format."""
    return f"{RULES[role]}\n\n{ANSWER_FORMAT}"


def _header(obs: Mapping[str, Any]) -> str:
    return (f"Task {obs.get('task_id')}, round {obs.get('round_number')}/{obs.get('max_rounds')}, "
            f"phase {obs.get('phase')}, actions left this turn {obs.get('actions_left_this_turn')}.")


# --------------------------------------------------------------------------------------------------------
# Investigator


def _investigator_state(obs: Mapping[str, Any]) -> list[str]:
    proposals_left = int(obs.get("max_proposals") or 0) - int(obs.get("proposals_used") or 0)
    lines = [_header(obs),
             f"Budget left {obs.get('budget_remaining')}/{obs.get('action_budget')}; ads still to arrive "
             f"{obs.get('arrivals_remaining')} organic + {proposals_left} possible proposals; "
             f"links left {obs.get('links_remaining', 0)}."]
    if obs.get("feedback"):
        lines.append(f"Last action: {obs['feedback']}")
    lines.append("Queue (id | category [group] | country | copy markers | status | copy):")
    for ad in obs.get("queue") or []:
        status = ad.get("status")
        if status != "pending":
            status = f"{status} {ad.get('confidence')}"
        markers = ",".join(ad.get("copy_markers") or []) or "none"
        lines.append(f"- {ad['ad_id']} | {ad.get('category')} [{_group(ad.get('category', ''))}] | "
                     f"{ad.get('country')} | {markers} | {status} | \"{_cut(ad.get('ad_copy'))}\"")
    ledger = obs.get("evidence_ledger") or {}
    if ledger:
        lines.append("Findings so far:")
        for ad_id, findings in ledger.items():
            for target, finding in findings.items():
                lines.append(f"- [{ad_id} / {target}] {_cut(finding.get('text'), 240)}")
    else:
        lines.append("Findings so far: none.")
    if obs.get("links"):
        lines.append("Links made: " + ", ".join(f"{x['ad_id']}-{x['linked_ad_id']}" for x in obs["links"]))
    return lines


def _investigator_legal(legal: Mapping[str, Any]) -> list[str]:
    types = list(legal.get("action_types") or [])
    lines = [f"Legal action types now: {', '.join(types)}."]
    examples: list[dict[str, Any]] = []
    if "investigate" in types:
        options = legal.get("investigate") or {}
        parts = []
        for ad_id, targets in options.items():
            if targets:
                shown = "any target" if len(targets) == len(spec.TARGETS) else ", ".join(targets)
                parts.append(f"{ad_id}: {shown}")
        lines.append("investigate (ad_id: targets left): " + "; ".join(parts))
        lines.append("targets: " + ", ".join(spec.TARGETS))
        first = next(((a, t) for a, t in options.items() if t), None)
        if first:
            examples.append({"action_type": "investigate", "ad_id": first[0], "investigation_target": first[1][0]})
    if "verdict" in types:
        ads = list(legal.get("verdict") or [])
        lines.append("verdict on a pending ad: " + ", ".join(ads))
        if ads:
            examples.append({"action_type": "verdict", "ad_id": ads[0], "verdict": "reject", "confidence": 0.8,
                             "rationale": "landing_page shows a 20-day-old domain with 2 flagged claims"})
    if "link_accounts" in types and legal.get("link_accounts"):
        info = legal["link_accounts"]
        lines.append(f"link_accounts between two of: {', '.join(info.get('ad_ids') or [])}")
        ids = list(info.get("ad_ids") or [])
        if len(ids) >= 2:
            examples.append({"action_type": "link_accounts", "ad_id": ids[0], "linked_ad_id": ids[1],
                             "link_reason": "same payment_id pm_xxxxxxxx"})
    examples.append({"action_type": "end_turn"})
    return lines + ["Examples:"] + [_dump(e) for e in examples]


# --------------------------------------------------------------------------------------------------------
# Fraudster


def _fraudster_state(obs: Mapping[str, Any]) -> list[str]:
    lines = [_header(obs),
             f"Proposals left {obs.get('proposals_remaining')}/{obs.get('max_proposals')}; camouflage left "
             f"{obs.get('camouflage_remaining')}; Investigator budget left {obs.get('budget_remaining')}."]
    if obs.get("feedback"):
        lines.append(f"Last action: {obs['feedback']}")
    lines.append("Allowed categories (severity, adult-only, keywords):")
    for cid in obs.get("allowed_categories") or []:
        cat = spec.CATEGORY_BY_ID.get(cid)
        if cat is not None:
            adult = "adult-only" if cat.adult_only else "all ages"
            lines.append(f"- {cid}: {cat.severity}, {adult}, keywords {', '.join(cat.keywords)}")
    pulls: dict[str, int] = {}
    for targets in (obs.get("investigation_targets_used") or {}).values():
        for t in targets:
            pulls[t] = pulls.get(t, 0) + 1
    if pulls:
        lines.append("Targets the Investigator pulled so far: "
                     + ", ".join(f"{t} {n}x" for t, n in sorted(pulls.items(), key=lambda x: -x[1])))
    mine = obs.get("my_proposals") or []
    if mine:
        lines.append("Your proposals (slot | ad | category | camouflage | status):")
        copies = {a["ad_id"]: a.get("ad_copy") for a in obs.get("current_queue") or []}
        for p in mine:
            lines.append(f"- slot {p['slot_index']} | {p.get('ad_id')} | {p.get('category')} | "
                         f"{','.join(p.get('camouflage') or []) or 'none'} | {p.get('status')} | "
                         f"\"{_cut(copies.get(p.get('ad_id')), 100)}\"")
    verdicts = obs.get("prior_verdicts") or []
    if verdicts:
        lines.append("Verdicts so far: " + "; ".join(
            f"{v['ad_id']} {v['verdict']}" + (" (yours)" if v.get("was_my_proposal") else "") for v in verdicts))
    return lines


def _fraudster_legal(obs: Mapping[str, Any], legal: Mapping[str, Any]) -> list[str]:
    types = list(legal.get("action_types") or [])
    lines = [f"Legal action types now: {', '.join(types)}."]
    examples: list[dict[str, Any]] = []
    propose = legal.get("propose_ad")
    if "propose_ad" in types and propose:
        cats = list(propose.get("categories") or [])
        lines.append(f"propose_ad: category one of {', '.join(cats)}; camouflage: up to "
                     f"{min(2, int(propose.get('camouflage_remaining') or 0))} of "
                     f"{', '.join(propose.get('camouflage_targets') or [])}")
        cat = spec.CATEGORY_BY_ID.get(cats[0]) if cats else None
        if cat is not None:
            examples.append({"action_type": "propose_ad", "category": cat.id,
                             "ad_copy": f"Friendly {cat.keywords[0]} offers from a small family business, "
                                        "with clear prices and easy returns.",
                             "camouflage": []})
    slots = list(legal.get("modify_pending_ad") or [])
    if "modify_pending_ad" in types and slots:
        lines.append(f"modify_pending_ad: slot_index one of {', '.join(str(s) for s in slots)}")
        examples.append({"action_type": "modify_pending_ad", "slot_index": slots[0],
                         "new_ad_copy": "A rewritten, plain ad copy with a category keyword."})
    examples.append({"action_type": "end_turn"})
    if "commit_final" in types:
        examples.append({"action_type": "commit_final"})
    return lines + ["Examples:"] + [_dump(e) for e in examples]


# --------------------------------------------------------------------------------------------------------
# Auditor


def _auditor_state(obs: Mapping[str, Any]) -> list[str]:
    lines = [_header(obs), f"Flags left {obs.get('flags_remaining')}."]
    record = obs.get("full_episode_record") or {}
    ads = {a["ad_id"]: a for a in record.get("ads") or []}
    if ads:
        lines.append("Ads (id | label | category [group] | country | final verdict | proposal slot):")
        for a in ads.values():
            slot = f"slot {a['slot_index']}" if a.get("is_fraudster_proposal") else "-"
            auto = " (auto)" if a.get("auto_approved") else ""
            lines.append(f"- {a['ad_id']} | {a.get('label')} | {a.get('category')} [{_group(a.get('category', ''))}]"
                         f" | {a.get('country')} | {a.get('final_verdict')}{auto} {a.get('confidence')} | {slot}")
    pulled: dict[str, list[str]] = {}
    verdicts = []
    for entry in obs.get("investigator_actions") or []:
        act = entry.get("action") or {}
        if act.get("action_type") == "investigate":
            pulled.setdefault(act.get("ad_id", ""), []).append(act.get("investigation_target", ""))
        elif act.get("action_type") == "verdict":
            verdicts.append((act, list(pulled.get(act.get("ad_id", ""), []))))
    if verdicts:
        lines.append("Investigator verdicts in order (ad | verdict | confidence | pulled before | rationale):")
        for act, before in verdicts:
            lines.append(f"- {act.get('ad_id')} | {act.get('verdict')} | {act.get('confidence')} | "
                         f"{','.join(before) or 'none'} | \"{_cut(act.get('rationale'), 200)}\"")
    else:
        lines.append("The Investigator gave no manual verdict.")
    proposals = [p for p in obs.get("fraudster_proposals") or [] if p.get("ad_id")]
    if proposals:
        lines.append("Fraudster proposals, final state (slot | ad | category | copy | targeting):")
        for p in proposals:
            if (p.get("action") or {}).get("action_type") != "propose_ad":
                continue
            ad = ads.get(p["ad_id"], {})
            lines.append(f"- slot {p.get('slot_index')} | {p['ad_id']} | {ad.get('category')} | "
                         f"\"{_cut(ad.get('ad_copy'), 200)}\" | \"{_cut(ad.get('targeting_summary'), 120)}\"")
    flags = obs.get("pending_flags") or []
    if flags:
        lines.append("Flags you already sent: " + "; ".join(
            f"{f['track']} {f['flag_type']} {f.get('target_ad_id') or '-'}" for f in flags))
    return lines


def _auditor_legal(legal: Mapping[str, Any]) -> list[str]:
    types = list(legal.get("action_types") or [])
    ftypes = legal.get("flag_types") or {}
    lines = [f"Legal action types now: {', '.join(types)}."]
    examples: list[dict[str, Any]] = []
    targets = list(legal.get("target_ad_ids") or [])
    if "flag_investigator" in types:
        lines.append(f"flag_investigator flag_type: {', '.join(ftypes.get('A') or [])}")
        if targets:
            examples.append({"action_type": "flag_investigator", "flag_type": "missing_citation",
                             "target_ad_id": targets[0]})
        examples.append({"action_type": "flag_investigator", "flag_type": "miscalibration"})
    if "flag_fraudster" in types:
        lines.append(f"flag_fraudster flag_type: {', '.join(ftypes.get('B') or [])}")
        if targets:
            examples.append({"action_type": "flag_fraudster", "flag_type": "gibberish", "target_ad_id": targets[0]})
    if targets:
        lines.append(f"target_ad_id one of: {', '.join(targets)}")
    examples.append({"action_type": "submit_audit_report"})
    return lines + ["When no true flag is left, submit_audit_report.", "Examples:"] + [_dump(e) for e in examples]


def user_prompt(role: str, obs: Mapping[str, Any]) -> str:
    """The user message: the match state as ``role`` sees it, its legal actions and examples."""
    legal = obs.get("legal_actions") or {}
    if role == "investigator":
        lines = [*_investigator_state(obs), "", *_investigator_legal(legal)]
    elif role == "fraudster":
        lines = [*_fraudster_state(obs), "", *_fraudster_legal(obs, legal)]
    elif role == "auditor":
        lines = [*_auditor_state(obs), "", *_auditor_legal(legal)]
    else:
        raise ValueError(f"unknown role {role!r}")
    lines.append("")
    lines.append("Your action (one JSON object):")
    return "\n".join(lines)


def messages(role: str, obs: Mapping[str, Any]) -> list[dict[str, str]]:
    """The chat messages asking ``role`` for one action on ``obs``."""
    return [{"role": "system", "content": system_prompt(role)},
            {"role": "user", "content": user_prompt(role, obs)}]


def reask_message(error: str) -> dict[str, str]:
    """The follow-up user message after a refused answer (the refusal reason, then the same request)."""
    return {"role": "user", "content": f"That answer was refused: {error}\n"
                                       "Reply with ONE corrected JSON object for a legal action."}


# --------------------------------------------------------------------------------------------------------
# Answer schema (for servers that constrain the output to a JSON Schema)


def _obj(atype: str, props: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    properties: dict[str, Any] = {"action_type": {"type": "string", "enum": [atype]}, **(props or {})}
    return {"type": "object", "properties": properties, "required": ["action_type", *required],
            "additionalProperties": False}


def _str(max_len: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_len}


def action_schema(role: str, obs: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Schema that only the role's *legal* actions on ``obs`` satisfy (ids and names as enums).

    Sent as the answer's ``response_format`` schema where the server supports one, so that a constrained
    decoder (llama.cpp grammars, vLLM guided decoding, OpenAI structured outputs) cannot produce an unknown
    field, a wrong type or an id that is not legal now (nor an Auditor flag already sent). Free
    texts are bounded (rationales 200 characters, ad copies 300) to keep answers short.
    """
    legal = obs.get("legal_actions") or {}
    types = list(legal.get("action_types") or [])
    options: list[dict[str, Any]] = []
    text = _str(200)
    if role == "investigator":
        inv = {a: t for a, t in (legal.get("investigate") or {}).items() if t}
        if "investigate" in types and inv:
            targets = sorted({t for ts in inv.values() for t in ts}, key=spec.TARGETS.index)
            options.append(_obj("investigate", {"ad_id": {"type": "string", "enum": list(inv)},
                                                 "investigation_target": {"type": "string", "enum": targets}},
                                ("ad_id", "investigation_target")))
        pending = list(legal.get("verdict") or [])
        if "verdict" in types and pending:
            options.append(_obj("verdict", {"ad_id": {"type": "string", "enum": pending},
                                            "verdict": {"type": "string", "enum": list(spec.VERDICTS)},
                                            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                                            "rationale": text},
                                ("ad_id", "verdict", "confidence", "rationale")))
        link = legal.get("link_accounts")
        if "link_accounts" in types and link and len(link.get("ad_ids") or []) >= 2:
            ids = {"type": "string", "enum": list(link["ad_ids"])}
            options.append(_obj("link_accounts", {"ad_id": ids, "linked_ad_id": ids, "link_reason": text},
                                ("ad_id", "linked_ad_id")))
        options.append(_obj("end_turn"))
    elif role == "fraudster":
        propose = legal.get("propose_ad")
        if "propose_ad" in types and propose and propose.get("categories"):
            camo_max = min(2, int(propose.get("camouflage_remaining") or 0))
            props: dict[str, Any] = {"category": {"type": "string", "enum": list(propose["categories"])},
                                     "ad_copy": _str(300)}
            required: tuple[str, ...] = ("category", "ad_copy")
            if camo_max:
                props["camouflage"] = {"type": "array", "maxItems": camo_max,
                                       "items": {"type": "string", "enum": list(propose.get("camouflage_targets")
                                                                                 or spec.TARGETS)}}
            options.append(_obj("propose_ad", props, required))
        slots = list(legal.get("modify_pending_ad") or [])
        if "modify_pending_ad" in types and slots:
            options.append(_obj("modify_pending_ad", {"slot_index": {"type": "integer", "enum": slots},
                                                      "new_ad_copy": _str(300)}, ("slot_index", "new_ad_copy")))
        options.append(_obj("end_turn"))
        if "commit_final" in types:
            options.append(_obj("commit_final"))
    elif role == "auditor":
        ftypes = legal.get("flag_types") or {}
        targets = list(legal.get("target_ad_ids") or [])
        sent = {(f.get("track"), f.get("flag_type"), f.get("target_ad_id")) for f in obs.get("pending_flags") or []}
        for atype, track in (("flag_investigator", "A"), ("flag_fraudster", "B")):
            if atype not in types or not ftypes.get(track):
                continue
            for flag_type in (f for f in ftypes[track] if f not in spec.MATCH_LEVEL_FLAGS):
                left = [t for t in targets if (track, flag_type, t) not in sent]
                if left:
                    options.append(_obj(atype, {"flag_type": {"type": "string", "enum": [flag_type]},
                                                "target_ad_id": {"type": "string", "enum": left}},
                                        ("flag_type", "target_ad_id")))
            match_level = [f for f in ftypes[track] if f in spec.MATCH_LEVEL_FLAGS and (track, f, None) not in sent]
            if match_level:
                options.append(_obj(atype, {"flag_type": {"type": "string", "enum": match_level}}, ("flag_type",)))
        options.append(_obj("submit_audit_report"))
    else:
        raise ValueError(f"unknown role {role!r}")
    return options[0] if len(options) == 1 else {"anyOf": options}
