"""Action codecs: flat action indices ↔ wire actions (docs/rules.md §7), with legal-action masks.

Investigator (variable queue, per-ad logits): index 0 is ``end_turn``; ad slot ``i`` owns the ten indices
``1 + 10*i + k``: ``k`` 0–5 investigate target ``TARGETS[k]``, 6–8 verdict approve/reject/escalate, 9 link the
ad to its *partner* (the smallest-id published ad sharing a revealed identifier with it and not yet
connected to it by links; the ScriptedInvestigator's pair tie-break gives the same pair).
Verdicts carry ``confidence`` = the encoder's posterior of the verdict's class (calibration term) and a
rationale that names each pulled target and quotes its identifiers, with wording that matches the verdict
(so the Auditor's ``missing_citation``/``incoherent_rationale`` checks do not fire).

Fraudster: index 0 ``end_turn``, 1 ``commit_final``, then ``2 + 22*c + s`` = propose in category
``CATEGORIES[c]`` with camouflage set ``CAMO_SETS[s]`` (none, one of six, or one of the 15 pairs). The copy,
targeting and blurb are composed in plain style (no markers, category keywords present) by
the arena's composer (via ``agents.bots.textkit``), redrawing the text seed ≤ 5 times while the copy would be
a ``template_repetition`` of an earlier own proposal (as the ReactiveFraudster does).
``modify_pending_ad`` is not in the learned action space.
"""

from __future__ import annotations

import itertools
import random

import numpy as np

from fraudarena.agents.bots.textkit import fresh_plain_texts
from fraudarena.agents.rl.encoders import InvestigatorEncoding
from fraudarena.arena.spec import CATEGORIES, CATEGORY_INDEX, TARGET_INDEX, TARGETS, VERDICTS

MAX_REDRAWS = 5
PER_AD = 10
INV_END = 0
K_VERDICT = 6
K_LINK = 9
CAMO_SETS: tuple[tuple[str, ...], ...] = (
    (), *((t,) for t in TARGETS), *itertools.combinations(TARGETS, 2)
)
CAMO_INDEX: dict[tuple[str, ...], int] = {s: i for i, s in enumerate(CAMO_SETS)}
N_CAMO = len(CAMO_SETS)
FRAUD_END, FRAUD_COMMIT = 0, 1
N_FRAUD_ACTIONS = 2 + len(CATEGORIES) * N_CAMO

_ID_KEYS = ("advertiser_id", "payment_id", "domain", "targeting_fingerprint", "config_fingerprint")
_VERDICT_WORDS = {
    "approve": "the evidence looks consistent with a legitimate advertiser",
    "reject": "the evidence points to a deceptive advertiser",
    "escalate": "the evidence is mixed and borderline, needs a specialist",
}


def n_investigator_actions(n_ads: int) -> int:
    """Size of the flat Investigator action space for a queue of ``n_ads`` ads."""
    return 1 + PER_AD * n_ads


_MASK_ROWS: dict[tuple, bytes] = {}


def _mask_row(targets: tuple, verdict: bool) -> bytes:
    """The ``PER_AD`` mask bytes of one ad slot (link bit clear) for its unpulled targets and verdict flag."""
    row = bytearray(PER_AD)
    for t in targets:
        k = TARGET_INDEX.get(t)
        if k is not None:
            row[k] = 1
    if verdict:
        row[K_VERDICT: K_VERDICT + 3] = b"\x01\x01\x01"
    out = bytes(row)
    if len(_MASK_ROWS) < 4096:
        _MASK_ROWS[(targets, verdict)] = out
    return out


def investigator_mask(obs: dict, enc: InvestigatorEncoding) -> np.ndarray:
    """Boolean legal-action mask over the flat Investigator action space (all False off-turn)."""
    n = len(enc.ad_ids)
    legal = obs.get("legal_actions") or {}
    types = legal.get("action_types")
    if not types:
        return np.zeros(n_investigator_actions(n), dtype=bool)
    types = set(types)
    inv = legal.get("investigate") or {} if "investigate" in types else {}
    verdict_ok = set(legal.get("verdict") or []) if "verdict" in types else set()
    link = legal.get("link_accounts") if "link_accounts" in types else None
    link_ids = set(link.get("ad_ids") or []) if link and (link.get("links_remaining") or 0) > 0 else set()
    buf = bytearray(b"\x01" if bool(legal.get("end_turn")) and "end_turn" in types else b"\x00")
    rows = _MASK_ROWS
    for i, ad_id in enumerate(enc.ad_ids):
        key = (tuple(inv.get(ad_id) or ()), ad_id in verdict_ok)
        row = rows.get(key)
        if row is None:
            row = _mask_row(*key)
        buf += row
        if link_ids and ad_id in link_ids and any(p in link_ids for p in enc.partners[i]):
            buf[1 + PER_AD * i + K_LINK] = 1
    return np.frombuffer(buf, dtype=bool)


def _citation(obs: dict, ad_id: str) -> str:
    pulls = (obs.get("evidence_ledger") or {}).get(ad_id) or {}
    parts = []
    for target in TARGETS:
        finding = pulls.get(target)
        if finding is None:
            continue
        ids = [str(finding[k]) for k in _ID_KEYS if finding.get(k)]
        parts.append(f"{target} ({', '.join(ids)})" if ids else target)
    return "; ".join(parts)


def investigator_decode(index: int, obs: dict, enc: InvestigatorEncoding) -> dict:
    """The wire action of flat index ``index`` (must be legal under :func:`investigator_mask`)."""
    if index == INV_END:
        return {"action_type": "end_turn"}
    slot, k = divmod(index - 1, PER_AD)
    ad_id = enc.ad_ids[slot]
    if k < K_VERDICT:
        return {"action_type": "investigate", "ad_id": ad_id, "investigation_target": TARGETS[k],
                "rationale": f"Pulling {TARGETS[k]} to review ad {ad_id}."}
    if k < K_LINK:
        verdict = VERDICTS[k - K_VERDICT]
        label_idx = {"approve": 0, "reject": 1, "escalate": 2}[verdict]
        conf = float(np.clip(enc.posterior[slot, label_idx], 0.05, 0.99))
        cited = _citation(obs, ad_id)
        head = f"Verdict {verdict} for ad {ad_id}"
        why = f"pulled {cited}" if cited else "surface review of category, copy and country"
        return {"action_type": "verdict", "ad_id": ad_id, "verdict": verdict,
                "confidence": round(conf, 2), "rationale": f"{head}: {why}; {_VERDICT_WORDS[verdict]}."}
    link_ids = set(((obs.get("legal_actions") or {}).get("link_accounts") or {}).get("ad_ids") or [])
    partner = next(p for p in enc.partners[slot] if p in link_ids)
    return {"action_type": "link_accounts", "ad_id": ad_id, "linked_ad_id": partner,
            "link_reason": "shared identifier revealed by investigation",
            "rationale": f"Ads {ad_id} and {partner} share an identifier: {_citation(obs, ad_id)}."}


def investigator_encode(action: dict, enc: InvestigatorEncoding) -> int | None:
    """Flat index of a wire action (for behaviour cloning); None if it has no index in this space."""
    kind = action.get("action_type")
    if kind == "end_turn":
        return INV_END
    try:
        slot = enc.ad_ids.index(action.get("ad_id"))
    except ValueError:
        return None
    base = 1 + PER_AD * slot
    if kind == "investigate":
        k = TARGET_INDEX.get(action.get("investigation_target", ""))
        return None if k is None else base + k
    if kind == "verdict" and action.get("verdict") in VERDICTS:
        return base + K_VERDICT + VERDICTS.index(action["verdict"])
    if kind == "link_accounts":
        partners = enc.partners[slot]
        if partners and partners[0] == action.get("linked_ad_id"):
            return base + K_LINK
        other = action.get("linked_ad_id")
        if other in enc.ad_ids:  # the pair seen from the other side
            j = enc.ad_ids.index(other)
            if enc.partners[j] and enc.partners[j][0] == action.get("ad_id"):
                return 1 + PER_AD * j + K_LINK
    return None


def fraudster_mask(obs: dict) -> np.ndarray:
    """Boolean legal-action mask over the flat Fraudster action space (all False off-turn)."""
    mask = np.zeros(N_FRAUD_ACTIONS, dtype=bool)
    legal = obs.get("legal_actions") or {}
    types = set(legal.get("action_types") or [])
    if not types:
        return mask
    mask[FRAUD_END] = bool(legal.get("end_turn")) and "end_turn" in types
    mask[FRAUD_COMMIT] = bool(legal.get("commit_final")) and "commit_final" in types
    prop = legal.get("propose_ad") if "propose_ad" in types else None
    if prop:
        left = int(prop.get("camouflage_remaining") or 0)
        allowed_t = set(prop.get("camouflage_targets") or TARGETS)
        ok_sets = np.array([len(s) <= left and set(s) <= allowed_t for s in CAMO_SETS], dtype=bool)
        for cat in prop.get("categories") or []:
            c = CATEGORY_INDEX.get(cat)
            if c is not None:
                mask[2 + N_CAMO * c: 2 + N_CAMO * (c + 1)] = ok_sets
    return mask


def fraudster_encode(action: dict) -> int | None:
    """Flat index of a Fraudster wire action; None for actions outside the learned space (modify)."""
    kind = action.get("action_type")
    if kind == "end_turn":
        return FRAUD_END
    if kind == "commit_final":
        return FRAUD_COMMIT
    if kind == "propose_ad":
        c = CATEGORY_INDEX.get(action.get("category", ""))
        camo = tuple(sorted(action.get("camouflage") or [], key=lambda t: TARGET_INDEX.get(t, 99)))
        s = CAMO_INDEX.get(camo)
        if c is None or s is None:
            return None
        return 2 + N_CAMO * c + s
    return None


def own_copies(obs: dict) -> list[str]:
    """Current copies of the Fraudster's own proposals (published and staged) in its observation."""
    return [ad.get("ad_copy") or "" for ad in obs.get("current_queue") or [] if ad.get("is_my_proposal")]


def fraudster_decode(index: int, obs: dict, rng: random.Random) -> dict:
    """The wire action of flat index ``index``; proposal texts come from the arena composer."""
    if index == FRAUD_END:
        return {"action_type": "end_turn"}
    if index == FRAUD_COMMIT:
        return {"action_type": "commit_final"}
    c, s = divmod(index - 2, N_CAMO)
    category = CATEGORIES[c].id
    texts = fresh_plain_texts(rng, category, own_copies(obs), MAX_REDRAWS)
    return {"action_type": "propose_ad", "category": category, "camouflage": list(CAMO_SETS[s]),
            "ad_copy": texts.copy, "targeting_summary": texts.targeting, "landing_page_blurb": texts.landing,
            "rationale": f"proposal: {category}, camouflage {', '.join(CAMO_SETS[s]) or 'none'}"}
