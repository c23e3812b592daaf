"""RandomPolicy(role): uniformly random legal play (docs/rules.md §12).

Uniform over ``legal_actions["action_types"]``, then uniform over that type's legal arguments:

* **investigator**: investigate = uniform ad among those with an unpulled legal target, then a uniform
  target; verdict = uniform ad, uniform verdict, ``confidence = round(u, 2)``; link = uniform pair
  (in ascending id order) among the legal ids not yet linked as that unordered pair.
* **fraudster**: propose = uniform allowed category, copy/targeting/blurb from ``compose(…, "plain",
  seed)`` with ``seed = getrandbits(32)``, camouflage size uniform in 0..min(2, left), then a uniform
  sample of targets (``rng.sample`` over canonical order); modify = uniform modifiable slot with a new
  plain copy (new seed).
* **auditor**: flag = uniform flag type of the chosen track; per-ad types get a uniform target from
  ``target_ad_ids`` (match-level types none); ``severity = round(u, 2)``.

An action type whose argument list turns out empty falls back to ``end_turn`` (investigator,
fraudster) or ``submit_audit_report`` (auditor). Rationales are short fixed strings:
``"random policy: <action_type>"`` padded to ≥ 24 characters.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from fraudarena.arena import spec

from . import textkit

_RATIONALE = "random policy choice: {}"


class RandomPolicy:
    """A uniformly random legal policy for one role."""

    def __init__(self, role: str, seed: int = 0) -> None:
        if role not in spec.ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(spec.ROLES)}")
        self.role = role
        self.seed = seed
        self.rng = random.Random(seed)

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        legal = obs.get("legal_actions") or {}
        types = list(legal.get("action_types") or [])
        fallback = "submit_audit_report" if self.role == "auditor" else "end_turn"
        if not types:
            return {"action_type": fallback}
        atype = types[int(self.rng.random() * len(types))]
        handler = getattr(self, f"_{atype}", None)
        action = handler(obs, legal) if handler is not None else {"action_type": atype}
        return action if action is not None else {"action_type": fallback}

    def _choice(self, items: list[Any]) -> Any:
        return items[int(self.rng.random() * len(items))]

    # investigator ---------------------------------------------------------------------------------
    def _investigate(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        options = legal.get("investigate") or {}
        ads = [a for a in sorted(options) if options[a]]
        if not ads:
            return None
        ad_id = self._choice(ads)
        target = self._choice(list(options[ad_id]))
        return {"action_type": "investigate", "ad_id": ad_id, "investigation_target": target,
                "rationale": _RATIONALE.format("investigate")}

    def _verdict(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        ads = list(legal.get("verdict") or [])
        if not ads:
            return None
        ad_id = self._choice(ads)
        verdict = self._choice(list(spec.VERDICTS))
        return {"action_type": "verdict", "ad_id": ad_id, "verdict": verdict,
                "confidence": round(self.rng.random(), 2), "rationale": _RATIONALE.format("verdict")}

    def _link_accounts(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        info = legal.get("link_accounts") or {}
        ids = sorted(info.get("ad_ids") or [])
        if len(ids) < 2:
            return None
        linked = {frozenset((x["ad_id"], x["linked_ad_id"])) for x in obs.get("links") or []}
        # Uniform over unlinked pairs: rejection-sample a few times (links are few), then enumerate.
        for _ in range(16):
            i, j = sorted(self.rng.sample(range(len(ids)), 2))
            if frozenset((ids[i], ids[j])) not in linked:
                a, b = ids[i], ids[j]
                break
        else:
            pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:] if frozenset((a, b)) not in linked]
            if not pairs:
                return None
            a, b = self._choice(pairs)
        return {"action_type": "link_accounts", "ad_id": a, "linked_ad_id": b,
                "rationale": _RATIONALE.format("link_accounts")}

    def _end_turn(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any]:
        return {"action_type": "end_turn"}

    # fraudster ------------------------------------------------------------------------------------
    def _propose_ad(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        info = legal.get("propose_ad") or {}
        categories = list(info.get("categories") or obs.get("allowed_categories") or [])
        if not categories:
            return None
        category = self._choice(categories)
        texts = textkit.compose_texts(category, self.rng.getrandbits(32))
        left = int(info.get("camouflage_remaining") or 0)
        size = int(self.rng.random() * (min(2, left) + 1))
        pool = list(info.get("camouflage_targets") or spec.TARGETS)
        camo = self.rng.sample(pool, min(size, len(pool)))
        return {"action_type": "propose_ad", "category": category, "ad_copy": texts.copy,
                "targeting_summary": texts.targeting, "landing_page_blurb": texts.landing,
                "camouflage": camo, "rationale": _RATIONALE.format("propose_ad")}

    def _modify_pending_ad(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        slots = list(legal.get("modify_pending_ad") or [])
        if not slots:
            return None
        slot = self._choice(slots)
        category = next((p["category"] for p in obs.get("my_proposals") or [] if p["slot_index"] == slot),
                        None)
        if category is None:
            return None
        copy = textkit.compose_texts(category, self.rng.getrandbits(32)).copy
        return {"action_type": "modify_pending_ad", "slot_index": slot, "new_ad_copy": copy,
                "rationale": _RATIONALE.format("modify_pending_ad")}

    def _commit_final(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any]:
        return {"action_type": "commit_final"}

    # auditor --------------------------------------------------------------------------------------
    def _flag(self, atype: str, track: str, legal: Mapping[str, Any]) -> dict[str, Any] | None:
        types = list((legal.get("flag_types") or {}).get(track) or [])
        if not types:
            return None
        flag_type = self._choice(types)
        action: dict[str, Any] = {"action_type": atype, "flag_type": flag_type,
                                  "severity": round(self.rng.random(), 2), "note": "random flag"}
        if flag_type not in spec.MATCH_LEVEL_FLAGS:
            targets = list(legal.get("target_ad_ids") or [])
            if not targets:
                return None
            action["target_ad_id"] = self._choice(targets)
        return action

    def _flag_investigator(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._flag("flag_investigator", "A", legal)

    def _flag_fraudster(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._flag("flag_fraudster", "B", legal)

    def _submit_audit_report(self, obs: Mapping[str, Any], legal: Mapping[str, Any]) -> dict[str, Any]:
        return {"action_type": "submit_audit_report"}
