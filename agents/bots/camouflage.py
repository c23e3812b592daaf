"""CamouflageFraudster: a patient variant of the ReactiveFraudster (not in docs/rules.md §12; ours).

It places few, well-camouflaged, low-marker proposals:

* **How many**: ``max(1, camouflage_allowance // 2)`` proposals, capped by ``max_proposals``, where the
  allowance is ``camouflage_remaining`` seen on its first turn — so every proposal gets two camouflaged
  targets (task_1: 1, task_2: 2, task_3/task_3_unseen: 3).
* **When**: one per turn from round 1 until its quota is placed; afterwards it plays ``end_turn``
  every turn and never ``commit_final`` (a commit would hand the Investigator the capacity of the
  remaining rounds at once).
* **Category**: the allowed group-M category (surface fraud:legit ratio 0.57) maximising severity ×
  group approval odds as in :class:`~.reactive.ReactiveFraudster` (ties: less recent, canonical); if no
  group-M category is allowed, the Reactive choice over all allowed categories.
* **Camouflage**: two targets (or what the allowance leaves), chosen like the Reactive bot: the ones the
  Investigator pulled most, ties canonical (before any pull: advertiser_history, landing_page, which
  also gives the proposal a legit-column country).
* **Texts**: plain style (no marker phrase), as the Reactive bot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fraudarena.arena import spec

from .reactive import ReactiveFraudster


class CamouflageFraudster(ReactiveFraudster):
    """Few proposals, each with two camouflaged targets, in low-suspicion categories."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self._quota_total: int | None = None

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        legal = obs.get("legal_actions") or {}
        types = legal.get("action_types") or []
        if not types:
            return {"action_type": "end_turn"}
        used = int(obs.get("proposals_used") or 0)
        if self._quota_total is None or (used == 0 and int(obs.get("round_number") or 0) == 1):
            allowance = int(obs.get("camouflage_remaining") or 0)
            self._quota_total = min(int(obs.get("max_proposals") or 0), max(1, allowance // 2))
        self._start_turn_if_new(obs)
        propose_legal = legal.get("propose_ad")
        if (used >= self._quota_total or not propose_legal or "propose_ad" not in types
                or self._proposed_this_turn >= 1):
            return {"action_type": "end_turn"}
        return self._propose_or_end_turn(obs, propose_legal)

    def choose_category(self, obs: Mapping[str, Any], categories: Sequence[str]) -> str:
        low = [c for c in categories if spec.CATEGORY_BY_ID[c].group == "M"]
        return super().choose_category(obs, low or categories)

    def camouflage_size(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> int:
        return min(2, int(legal.get("camouflage_remaining") or obs.get("camouflage_remaining") or 0))
