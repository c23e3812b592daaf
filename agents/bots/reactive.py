"""ReactiveFraudster: the house Fraudster of docs/rules.md §12.

Per turn it proposes k = min(cap, ceil(proposals_remaining / rounds_remaining)) ads, then
``end_turn``; once no proposals remain it plays ``commit_final``. It never modifies.

* **Category**: per group (M/H/SUP) approval odds (approved + 1) / (decided + 2) over its own
  proposals with a manual verdict (``prior_verdicts`` with ``was_my_proposal``); it picks the allowed
  category maximising severity × odds; ties: the less recently used (never used counts as least
  recent; recency = highest slot that used the category), then canonical category order.
* **Texts**: one text seed per proposal, ``rng.getrandbits(32)`` from the bot's own
  ``random.Random(seed)``; copy, targeting and blurb are ``texts.compose(kind, category, "plain",
  text_seed)``. While the copy would be a ``template_repetition`` of an earlier own proposal's current
  copy (``audit.template_repetition``) it redraws the seed, at most 5 times (then keeps the last).
* **Camouflage**: n = min(2, allowance left, ceil(allowance left / proposals left)) targets, the
  ones the Investigator has pulled most across all ads (``investigation_targets_used``), ties in
  canonical target order (so before any pull: advertiser_history, landing_page).
* k and the turn's cap (``actions_left_this_turn``) are read on the turn's first call (a change of
  ``round_number``, or ``proposals_used`` going down, which means a new match) and fixed for the turn.
* Rationale of a proposal: ``"proposal <n>: <category>, camouflage <targets|none>"``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from fraudarena.arena import spec

from . import textkit

MAX_REDRAWS = 5


class ReactiveFraudster:
    """The §12 Fraudster (deterministic given ``seed``)."""

    role = "fraudster"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self._turn_round: int | None = None
        self._last_used = 0
        self._turn_quota = 0
        self._proposed_this_turn = 0

    # ----------------------------------------------------------------------------------------------
    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        legal = obs.get("legal_actions") or {}
        types = legal.get("action_types") or []
        if not types:
            return {"action_type": "end_turn"}
        proposals_left = int(obs.get("proposals_remaining") or 0)
        propose_legal = legal.get("propose_ad")
        if proposals_left <= 0 or not propose_legal or "propose_ad" not in types:
            return {"action_type": "commit_final"} if "commit_final" in types else {"action_type": "end_turn"}
        self._start_turn_if_new(obs)
        if self._proposed_this_turn >= self._turn_quota:
            return {"action_type": "end_turn"}
        return self._propose_or_end_turn(obs, propose_legal)

    def _propose_or_end_turn(self, obs: Mapping[str, Any], propose_legal: Mapping[str, Any]) -> dict[str, Any]:
        """Propose one ad (counted for this turn), or end the turn if no proposal can be made."""
        action = self.propose(obs, propose_legal)
        if action is None:
            return {"action_type": "end_turn"}
        self._proposed_this_turn += 1
        return action

    # ----------------------------------------------------------------------------------------------
    def turn_quota(self, obs: Mapping[str, Any]) -> int:
        """k = min(cap, ceil(proposals_remaining / rounds_remaining))."""
        cap = int(obs.get("actions_left_this_turn") or 0)
        rounds = max(1, int(obs.get("rounds_remaining") or 1))
        return min(cap, math.ceil(int(obs.get("proposals_remaining") or 0) / rounds))

    def _start_turn_if_new(self, obs: Mapping[str, Any]) -> None:
        round_number = int(obs.get("round_number") or 0)
        used = int(obs.get("proposals_used") or 0)
        new_match = used < self._last_used
        self._last_used = used
        if new_match or round_number != self._turn_round:
            self._turn_round = round_number
            self._turn_quota = self.turn_quota(obs)
            self._proposed_this_turn = 0

    def choose_category(self, obs: Mapping[str, Any], categories: Sequence[str]) -> str:
        """Allowed category maximising severity × group approval odds (ties: less recent, canonical)."""
        mine = {p["ad_id"]: p for p in obs.get("my_proposals") or [] if p.get("ad_id")}
        approved = dict.fromkeys(spec.CATEGORY_GROUPS, 0)
        decided = dict.fromkeys(spec.CATEGORY_GROUPS, 0)
        for v in obs.get("prior_verdicts") or []:
            prop = mine.get(v.get("ad_id"))
            if not v.get("was_my_proposal") or prop is None:
                continue
            group = spec.CATEGORY_BY_ID[prop["category"]].group
            decided[group] += 1
            approved[group] += v.get("verdict") == "approve"
        last_used: dict[str, int] = {}
        for p in obs.get("my_proposals") or []:
            last_used[p["category"]] = max(last_used.get(p["category"], -1), int(p["slot_index"]))
        best, best_key = None, None
        for cat in spec.canonical_categories(categories):
            c = spec.CATEGORY_BY_ID[cat]
            odds = (approved[c.group] + 1) / (decided[c.group] + 2)
            key = (c.severity * odds, -last_used.get(cat, -1))
            if best_key is None or key > best_key:
                best, best_key = cat, key
        assert best is not None
        return best

    def choose_camouflage(self, obs: Mapping[str, Any], n: int, allowed: Sequence[str]) -> list[str]:
        """The n targets the Investigator pulled most across all ads (ties canonical)."""
        counts = dict.fromkeys(spec.TARGETS, 0)
        for targets in (obs.get("investigation_targets_used") or {}).values():
            for t in targets:
                if t in counts:
                    counts[t] += 1
        ranked = sorted((t for t in spec.TARGETS if t in allowed),
                        key=lambda t: (-counts[t], spec.TARGET_INDEX[t]))
        return ranked[:n]

    def camouflage_size(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> int:
        left = int(legal.get("camouflage_remaining") or obs.get("camouflage_remaining") or 0)
        proposals_left = max(1, int(obs.get("proposals_remaining") or 1))
        return min(2, left, math.ceil(left / proposals_left))

    def propose(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        categories = legal.get("categories") or obs.get("allowed_categories") or []
        if not categories:
            return None
        category = self.choose_category(obs, categories)
        earlier = [ad.get("ad_copy", "") for ad in obs.get("current_queue") or [] if ad.get("is_my_proposal")]
        texts = textkit.fresh_plain_texts(self.rng, category, earlier, MAX_REDRAWS)
        n = self.camouflage_size(obs, legal)
        camo = self.choose_camouflage(obs, n, legal.get("camouflage_targets") or spec.TARGETS)
        slot = int(obs.get("proposals_used") or 0)
        return {"action_type": "propose_ad", "category": category, "ad_copy": texts.copy,
                "targeting_summary": texts.targeting, "landing_page_blurb": texts.landing,
                "camouflage": camo,
                "rationale": f"proposal {slot}: {category}, camouflage {', '.join(camo) or 'none'}"}
