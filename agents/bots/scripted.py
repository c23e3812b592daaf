"""ScriptedInvestigator: the Bayesian house Investigator of docs/rules.md §12.

Belief per published ad (see :mod:`.belief`): log prior (task mix, ``max_proposals`` added to fraud)
+ surface log-likelihoods + the exact §5.2 likelihood of every revealed Finding; an ad sharing a
revealed identifier (advertiser_id, payment_id, domain_stem, targeting_fingerprint,
config_fingerprint) with another ad gets P(fraud) = 0.99.

Per call, the first rule that applies:

1. link a pair sharing a revealed identifier that its links do not yet connect (union-find over the
   observation's ``links``; ties: smaller first ``ad_id``, then smaller second);
2. verdict on the pending ad with the highest max posterior among those with max posterior ≥ 0.85 and
   argmax ≠ legit;
3. if spent this turn < allowance (``ceil(budget_remaining / rounds_remaining)`` fixed at the turn's
   first call; on the last turn that is the whole budget) **and** ``budget_remaining > n_suspect +
   reserve``: pull, on the pending ad with the highest posterior entropy and < 3 pulls, the unpulled
   target with the largest expected entropy reduction;
4. on the last turn, or when ``budget_remaining ≤ n_suspect + reserve``: verdict argmax on the
   pending non-legit-argmax ad with the highest max posterior;
5. approve the pending ad with the highest P(legit) if ≥ 0.85 and ``budget_remaining > n_suspect +
   reserve``;
6. ``end_turn``.

Deviation from the literal §12 list (reported to the lead): the budget guard ``budget_remaining >
n_suspect + reserve`` also gates rule 3. Read literally, rule 3 precedes rule 4 whenever the turn's
allowance is not spent, and on the last turn the allowance is the whole budget, so the bot pulls until
every pending ad has 3 pulls and leaves no step for verdicts (measured: grader 0.0 on task_2+ against
the ReactiveFraudster). With the guard, the steps the suspects and the reserve need are kept for verdicts.

Documented choices (the rules leave them open; docs/rules.md §15 lists them):

* "pending" = ``legal_actions["verdict"]``; pull candidates = ``legal_actions["investigate"]``.
* Ties on floats keep the first in queue (ascending ``ad_id``) order, then canonical target order;
  label argmax ties go legit < fraud < gray.
* "Last turn" = ``rounds_remaining == 1`` (also true after the Fraudster commits).
* reserve = ``max_proposals − proposals_used`` (0 once the Fraudster committed) +
  ``ceil(arrivals_remaining / 2)``.
* A new turn is detected by a change of ``round_number`` (or of the match, see below); the allowance is
  computed on the first call of the turn from that call's ``budget_remaining`` and ``rounds_remaining``.
* Confidence = ``round(max posterior, 2)``.
* ``decision="expected_value"`` (not §12; kind ``"bayesian_ev"``) keeps the rules but gives the verdict
  of highest expected §10.1 matrix value instead of the argmax label's (confidence stays max posterior).
* Rationales (verdicts): ``"<Verb> <ad_id>: P(<label>) = 0.93 after <target (identifier value)>, ...;
  <closing>"``. Every pulled target is named with its underscore name and the identifier its Finding
  revealed (``domain`` for landing_page, which contains the stem). Closings: approve → "the evidence
  looks legitimate and low risk"; reject → "the evidence points to fraud, likely a scam"; escalate →
  "borderline, needs human review". Without pulls the rationale says "from surface cues only". No
  decision word of the classifier (``safe``) is quoted, so rejects never contain clean terms.
* Investigate rationales: ``"pull <target> on <ad_id>: expected entropy reduction 0.123"``; links:
  ``"<a> and <b> share <kind> <value>"``.
* Posteriors are cached per bot instance keyed by (ad_id, pulled targets, copy_revision) plus the
  surface fields; the cache is cleared at the start of every match (round 1 with a full budget).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fraudarena.arena import spec

from . import belief

LEGIT, FRAUD, GRAY = 0, 1, 2
VERDICT_OF_LABEL = ("approve", "reject", "escalate")
LABEL_WORD = ("legit", "fraud", "gray")
DECIDE_THRESHOLD = 0.85


def _uf_find(parent: dict[str, str], x: str) -> str:
    while parent.get(x, x) != x:
        x = parent[x]
    return x


class ScriptedInvestigator:
    """The §12 Bayesian Investigator (deterministic; ``seed`` is kept for a uniform constructor)."""

    role = "investigator"

    #: Set by subclasses that must never pull (the surface-only baseline).
    surface_only = False

    def __init__(self, seed: int = 0, decision: str = "argmax") -> None:
        import random

        if decision not in ("argmax", "expected_value"):
            raise ValueError(f"decision must be 'argmax' or 'expected_value', not {decision!r}")
        self.decision = decision
        self.seed = seed
        self.rng = random.Random(seed)  # unused by the rules above; kept for API uniformity
        self._cache: dict[tuple[Any, ...], belief.Belief] = {}
        self._turn_key: tuple[Any, ...] | None = None
        self._turn_start_budget = 0
        self._allowance = 0

    # ----------------------------------------------------------------------------------------------
    def beliefs(self, obs: Mapping[str, Any]) -> dict[str, belief.Belief]:
        """Posterior of every published ad in the observation's queue."""
        prior = belief.log_prior(str(obs["task_id"]), int(obs.get("max_proposals") or 0))
        ledger: Mapping[str, Mapping[str, Any]] = obs.get("evidence_ledger") or {}
        out: dict[str, belief.Belief] = {}
        for ad in obs.get("queue") or []:
            ad_id = ad["ad_id"]
            findings = {} if self.surface_only else (ledger.get(ad_id) or {})
            key = (ad_id, tuple(sorted(findings)), ad.get("copy_revision"), ad.get("category"),
                   ad.get("country"), tuple(ad.get("copy_markers") or ()), prior)
            post = self._cache.get(key)
            if post is None:
                post = belief.posterior(prior, ad, findings, surface_only=self.surface_only)
                self._cache[key] = post
            out[ad_id] = post
        if not self.surface_only:
            for ids in belief.shared_identifier_groups(ledger).values():
                for ad_id in ids:
                    if ad_id in out:
                        out[ad_id] = belief.shared_belief(prior)
        return out

    # ----------------------------------------------------------------------------------------------
    def _read_turn(self, obs: Mapping[str, Any], legal: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], list[str], Mapping[str, Mapping[str, Any]], dict[str, Mapping[str, Any]]]:
        """What every rule reads: (posteriors, pending ad ids, evidence ledger, queue by ad id); starts the
        turn's budget bookkeeping when a new turn began."""
        self._start_turn_if_new(obs)
        posts = self.beliefs(obs)
        pending = [a for a in legal.get("verdict") or [] if a in posts]
        ledger: Mapping[str, Mapping[str, Any]] = obs.get("evidence_ledger") or {}
        return posts, pending, ledger, {ad["ad_id"]: ad for ad in obs.get("queue") or []}

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        legal = obs.get("legal_actions") or {}
        types = legal.get("action_types") or []
        if not types:
            return {"action_type": "end_turn"}
        posts, pending, ledger, queue = self._read_turn(obs, legal)

        # (1) link a pair sharing a revealed identifier
        if "link_accounts" in types and not self.surface_only:
            action = self._link_action(obs, ledger, queue)
            if action is not None:
                return action

        if "verdict" in types:
            # (2) confident non-legit verdict
            best = self._best_non_legit(pending, posts, threshold=DECIDE_THRESHOLD)
            if best is not None:
                return self._verdict(best, posts[best], ledger, queue[best].get("category", ""))

        budget = int(obs.get("budget_remaining") or 0)
        last_turn = int(obs.get("rounds_remaining") or 0) <= 1
        spent = self._turn_start_budget - budget
        n_suspect = sum(1 for a in pending if belief.argmax(posts[a]) != LEGIT)
        reserve = self._reserve(obs)

        # (3) pull (only while the budget exceeds what the suspects and the reserve need; see docstring)
        if ("investigate" in types and not self.surface_only and spent < self._allowance
                and budget > n_suspect + reserve):
            action = self._pull_action(legal.get("investigate") or {}, posts, queue)
            if action is not None:
                return action

        if "verdict" in types:
            action = self._late_verdict(last_turn, budget > n_suspect + reserve, pending, posts, ledger, queue,
                                        DECIDE_THRESHOLD)
            if action is not None:
                return action
        # (6)
        return {"action_type": "end_turn"}

    def _late_verdict(self, last_turn: bool, guard: bool, pending: Sequence[str], posts: Mapping[str, Any],
                      ledger: Mapping[str, Any], queue: Mapping[str, Mapping[str, Any]],
                      approve_threshold: float) -> dict[str, Any] | None:
        """Rules (4) and (5): forced suspect verdicts (last turn, or the budget guard failed), then a confident
        approve while the guard holds."""
        if last_turn or not guard:  # (4)
            best = self._best_non_legit(pending, posts, threshold=0.0)
            if best is not None:
                return self._verdict(best, posts[best], ledger, queue[best].get("category", ""))
        if guard:  # (5)
            best_legit, best_p = None, -1.0
            for ad_id in pending:
                if posts[ad_id][LEGIT] > best_p:
                    best_legit, best_p = ad_id, posts[ad_id][LEGIT]
            if best_legit is not None and best_p >= approve_threshold:
                return self._verdict(best_legit, posts[best_legit], ledger, queue[best_legit].get("category", ""))
        return None

    # ----------------------------------------------------------------------------------------------
    def _start_turn_if_new(self, obs: Mapping[str, Any]) -> None:
        budget = int(obs.get("budget_remaining") or 0)
        round_number = int(obs.get("round_number") or 0)
        new_match = round_number == 1 and budget == int(obs.get("action_budget") or -1)
        key = (obs.get("task_id"), round_number)
        if new_match:
            self._cache.clear()
        if new_match or key != self._turn_key:
            self._turn_key = key
            self._turn_start_budget = budget
            rounds = max(1, int(obs.get("rounds_remaining") or 1))
            self._allowance = budget if rounds <= 1 else math.ceil(budget / rounds)

    @staticmethod
    def _reserve(obs: Mapping[str, Any]) -> int:
        committed = bool(obs.get("fraudster_committed"))
        proposals_left = 0 if committed else max(
            0, int(obs.get("max_proposals") or 0) - int(obs.get("proposals_used") or 0))
        return proposals_left + math.ceil(int(obs.get("arrivals_remaining") or 0) / 2)

    @staticmethod
    def _best_non_legit(pending: list[str], posts: Mapping[str, belief.Belief], threshold: float
                        ) -> str | None:
        best, best_p = None, -1.0
        for ad_id in sorted(pending):
            p = posts[ad_id]
            if belief.argmax(p) == LEGIT:
                continue
            top = max(p)
            if top >= threshold and top > best_p:
                best, best_p = ad_id, top
        return best

    def _link_action(self, obs: Mapping[str, Any], ledger: Mapping[str, Mapping[str, Any]],
                     queue: Mapping[str, Any]) -> dict[str, Any] | None:
        link_legal = (obs.get("legal_actions") or {}).get("link_accounts")
        if not link_legal or int(link_legal.get("links_remaining") or 0) <= 0:
            return None
        allowed = set(link_legal.get("ad_ids") or queue)
        parent: dict[str, str] = {}
        for link in obs.get("links") or []:
            ra, rb = _uf_find(parent, link["ad_id"]), _uf_find(parent, link["linked_ad_id"])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        best: tuple[str, str, str, str] | None = None
        for (kind, value), ids in belief.shared_identifier_groups(ledger).items():
            ids = [a for a in ids if a in allowed]
            for i, a in enumerate(ids):
                for b in ids[i + 1:]:
                    if _uf_find(parent, a) == _uf_find(parent, b):
                        continue
                    cand = (a, b, kind, value)
                    if best is None or (a, b) < (best[0], best[1]):
                        best = cand
        if best is None:
            return None
        a, b, kind, value = best
        return {"action_type": "link_accounts", "ad_id": a, "linked_ad_id": b,
                "link_reason": f"shared {kind}", "rationale": f"{a} and {b} share {kind} {value}"}

    def _pull_action(self, investigable: Mapping[str, list[str]], posts: Mapping[str, belief.Belief],
                     queue: Mapping[str, Any]) -> dict[str, Any] | None:
        best_ad, best_h = None, -1.0
        for ad_id in sorted(investigable):
            if not investigable[ad_id] or ad_id not in posts:
                continue
            ad = queue.get(ad_id) or {}
            if ad.get("status", "pending") != "pending":
                continue
            if len(ad.get("pulled_targets") or ()) >= spec.MAX_PULLS_PER_AD:
                continue
            h = belief.entropy(posts[ad_id])
            if h > best_h:
                best_ad, best_h = ad_id, h
        if best_ad is None:
            return None
        p = posts[best_ad]
        m = len(queue[best_ad].get("copy_markers") or ())
        allowed = set(investigable[best_ad])
        best_t, best_g = None, -1.0
        for target in spec.TARGETS:
            if target not in allowed:
                continue
            gain = belief.expected_entropy_reduction(p, target, m)
            if gain > best_g:
                best_t, best_g = target, gain
        if best_t is None:
            return None
        return {"action_type": "investigate", "ad_id": best_ad, "investigation_target": best_t,
                "rationale": f"pull {best_t} on {best_ad}: expected entropy reduction {best_g:.3f}"}

    def _verdict(self, ad_id: str, p: belief.Belief, ledger: Mapping[str, Mapping[str, Any]],
                 category: str = "") -> dict[str, Any]:
        label = belief.argmax(p)
        if self.decision == "expected_value":
            label = belief.expected_value_label(p, category)
        verdict = VERDICT_OF_LABEL[label]
        confidence = round(max(p), 2)
        return {"action_type": "verdict", "ad_id": ad_id, "verdict": verdict, "confidence": confidence,
                "rationale": self.rationale(ad_id, label, p, ledger.get(ad_id) or {})}

    def rationale(self, ad_id: str, label: int, p: belief.Belief,
                  findings: Mapping[str, Mapping[str, Any]]) -> str:
        """The verdict's rationale (wording documented in the module docstring)."""
        verb = VERDICT_OF_LABEL[label].capitalize()
        cited = [belief.citation_phrase(t, findings.get(t)) for t in spec.TARGETS if t in findings]
        basis = "after " + ", ".join(cited) if cited else "from surface cues only"
        head = f"{verb} {ad_id}: P({LABEL_WORD[label]}) = {max(p):.2f} {basis}; "
        if label == LEGIT:
            tail = "the evidence looks legitimate and low risk."
        elif label == FRAUD:
            tail = "the evidence points to fraud, likely a scam."
        else:
            tail = "borderline, needs human review."
        return head + tail
