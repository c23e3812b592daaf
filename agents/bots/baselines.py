"""Degenerate and weak Investigators: yardsticks for the balance test and the tournament.

* :class:`DoNothingInvestigator` — always ``end_turn``; every ad is auto-approved at match end.
* :class:`RejectAllInvestigator` / :class:`EscalateAllInvestigator` — a constant verdict on every
  pending ad (queue order), confidence 0.5.
* :class:`SurfaceOnlyInvestigator` — the ScriptedInvestigator's belief restricted to the prior and
  surface cues (category group, style, country); it never investigates or links and gives every pending
  ad, in queue order, as soon as it sees it, the argmax label's verdict (``decision="expected_value"``:
  the verdict of highest expected §10.1 matrix value).

All take ``seed`` for a uniform constructor and are deterministic. Rationales are fixed sentences of
≥ 24 characters with words matching the verdict, so they raise no Track-A text flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import belief
from .scripted import VERDICT_OF_LABEL, ScriptedInvestigator

_CONSTANT_RATIONALE = {
    "approve": "Approve {}: policy approves every ad; no concerns noted.",
    "reject": "Reject {}: policy rejects every ad as likely fraud.",
    "escalate": "Escalate {}: policy escalates every ad for human review.",
}


class DoNothingInvestigator:
    """Ends every turn at once."""

    role = "investigator"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        return {"action_type": "end_turn"}


class ConstantVerdictInvestigator:
    """Gives the same verdict to every pending ad, in queue order."""

    role = "investigator"
    verdict = "reject"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        legal = obs.get("legal_actions") or {}
        pending = sorted(legal.get("verdict") or [])
        if "verdict" not in (legal.get("action_types") or []) or not pending:
            return {"action_type": "end_turn"}
        ad_id = pending[0]
        return {"action_type": "verdict", "ad_id": ad_id, "verdict": self.verdict, "confidence": 0.5,
                "rationale": _CONSTANT_RATIONALE[self.verdict].format(ad_id)}


class RejectAllInvestigator(ConstantVerdictInvestigator):
    """Rejects every ad."""

    verdict = "reject"


class EscalateAllInvestigator(ConstantVerdictInvestigator):
    """Escalates every ad."""

    verdict = "escalate"


class SurfaceOnlyInvestigator(ScriptedInvestigator):
    """Bayesian on the prior and surface cues only; never pulls; decides every pending ad at once.

    By default the verdict is the argmax label's (the ScriptedInvestigator's rule, so the gap between the
    two measures investigation alone). With ``decision="expected_value"`` the verdict maximises the
    expected §10.1 matrix value under the surface posterior (fraud row with the category's severity;
    ties approve < reject < escalate). Confidence = the posterior probability of the chosen label (2 dp).
    """

    surface_only = True

    def __init__(self, seed: int = 0, decision: str = "argmax") -> None:
        super().__init__(seed, decision)

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        legal = obs.get("legal_actions") or {}
        pending = sorted(legal.get("verdict") or [])
        if "verdict" not in (legal.get("action_types") or []) or not pending:
            return {"action_type": "end_turn"}
        posts = self.beliefs(obs)
        ad_id = pending[0]
        p = posts[ad_id]
        if self.decision == "argmax":
            label = belief.argmax(p)
        else:
            category = next((ad.get("category") for ad in obs.get("queue") or [] if ad["ad_id"] == ad_id), "")
            label = belief.expected_value_label(p, str(category))
        rationale = self.rationale(ad_id, label, p, {})
        return {"action_type": "verdict", "ad_id": ad_id, "verdict": VERDICT_OF_LABEL[label],
                "confidence": round(p[label], 2), "rationale": rationale}

