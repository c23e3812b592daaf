"""The referee: the match state machine of docs/rules.md §6–§8 and §10–§11.

``RefereeEnvironment`` holds one match as plain data. ``step(role, action)`` validates the action,
checks phase and legality (raising ``ArenaError`` without changing anything), applies it, logs it and
runs the turn flow. Observations are built by ``observations.py``; the record by ``record.py``.
A match is a pure function of (task_id, seed, overrides, accepted actions); see ``replay``.
"""

from __future__ import annotations

import bisect
import secrets
from typing import Any

from pydantic import BaseModel

from . import audit
from .ads import Ad
from .errors import ArenaError, illegal
from .evidence import classifier_fields, draw_fields, render_text
from .generation import create_proposal, generate_episode
from .models import validate_action
from .observations import observe as build_observation
from .record import build_record
from .rng import SEED_LIMIT, stream
from .scoring import GradedAd, ManualVerdict, f1_score, fraudster_reward, grade, investigator_reward
from .spec import (
    MATCH_LEVEL_FLAGS,
    MAX_AUDIT_FLAGS,
    MAX_PULLS_PER_AD,
    ORGANIC_EDIT_P,
    OVERRIDE_KEYS,
    OVERRIDE_RANGES,
    PHASE_ROLE,
    ROLES,
    TARGETS,
    TASK_IDS,
    TASKS,
    TRACK_A_FLAGS,
    TRACK_B_FLAGS,
    canonical_categories,
)
from .texts import compose, compose_ad, compose_marked, copy_markers


def _verr(message: str, loc: str) -> ArenaError:
    return ArenaError("validation_error", message, [{"loc": [loc], "msg": message}])


def validate_config(task_id: Any, seed: Any, overrides: dict[str, Any]) -> tuple[str, int | None, dict[str, Any]]:
    """Check task id, seed and overrides (§2); returns them with null overrides removed."""
    if not isinstance(task_id, str) or task_id not in TASKS:
        raise _verr(f"unknown task_id {task_id!r}; expected one of {', '.join(TASK_IDS)}", "task_id")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT):
        raise _verr(f"seed must be an integer in [0, 2**63), got {seed!r}", "seed")
    clean: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in OVERRIDE_KEYS:
            raise _verr(f"unknown override {key!r}; overridable: {', '.join(OVERRIDE_KEYS)}", key)
        if value is None:
            continue
        if key == "allowed_categories":
            pool = TASKS[task_id].category_pool
            if (not isinstance(value, list | tuple) or not value
                    or not all(isinstance(c, str) for c in value) or len(set(value)) != len(value)):
                raise _verr("allowed_categories must be a non-empty list of distinct category ids",
                            "allowed_categories")
            outside = [c for c in value if c not in pool]
            if outside:
                raise _verr(f"categories {outside} are not in {task_id}'s pool", "allowed_categories")
            clean[key] = list(canonical_categories(value))
        else:
            lo, hi = OVERRIDE_RANGES[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise _verr(f"{key} must be an integer in [{lo}, {hi}], got {value!r}", key)
            clean[key] = value
    return task_id, seed, clean


class RefereeEnvironment:
    """One match of FraudArena. See ``docs/rules.md`` and ``docs/dev/contract.md``."""

    def __init__(self, task_id: str = "task_1", seed: int | None = None, **overrides: Any) -> None:
        task_id, seed, overrides = validate_config(task_id, seed, overrides)
        if seed is None:
            seed = secrets.randbelow(SEED_LIMIT)
        self.task_id = task_id
        self.seed: int = seed
        self.overrides = overrides
        task = self.task = TASKS[task_id]
        self.max_rounds: int = overrides.get("max_rounds", task.max_rounds)
        self.max_proposals: int = overrides.get("max_proposals", task.max_proposals)
        self.f_cap: int = overrides.get("max_fraudster_actions_per_turn", task.max_fraudster_actions_per_turn)
        self.i_cap: int = overrides.get("max_investigator_actions_per_turn",
                                        task.max_investigator_actions_per_turn)
        self.allowed_categories: tuple[str, ...] = tuple(overrides.get("allowed_categories",
                                                                       task.category_pool))
        self.action_budget = task.action_budget
        self.camouflage_allowance = task.camouflage_allowance

        ep = generate_episode(task, task_id, seed, self.max_rounds)
        self.base_ads = ep.base_ads
        self.rings = ep.rings
        self._used = ep.used
        self.ads: dict[str, Ad] = {a.ad_id: a for a in ep.base_ads}
        self._late_by_round: dict[int, list[Ad]] = {}
        for ad in ep.late:
            self._late_by_round.setdefault(ad.late_round, []).append(ad)  # type: ignore[arg-type]
        self.unpublished_organic = len(self.base_ads)
        self.queue: list[Ad] = []  # published ads, ascending ad_id
        self._queue_ids: list[str] = []
        self.proposals: list[Ad] = []  # by slot
        self.staged: list[Ad] = []

        self.phase = "fraudster_turn"
        self.round_number = 1
        self.turn_count = 0
        self.turn_cap = self.f_cap
        self.budget_used = 0
        self.camouflage_used = 0
        self.committed = False
        self.end_reason: str | None = None
        self.final_round: int | None = None
        self.links: list[tuple[str, str]] = []
        self._linked: set[tuple[str, str]] = set()
        self.flags: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.role_actions = dict.fromkeys(ROLES, 0)
        self.feedback = dict.fromkeys(ROLES, "")
        self.focus_ad: str | None = None
        self.verdict_order: list[Ad] = []
        self.n_investigate = 0
        self.grader: dict[str, Any] | None = None
        self.link_rows: list[dict[str, Any]] = []
        self.audit_report: dict[str, Any] | None = None
        self.ground_truth: list[list[Any]] | None = None
        self.plausibility: dict[str, float] | None = None
        self.rewards: dict[str, float] | None = None
        self._record_cache: dict[str, Any] | None = None
        self._record_key = -1
        self.ad_entries: list[dict[str, Any]] | None = None  # record ads, frozen at match end
        # the Auditor's view of the other roles' actions and the evidence, built once in the audit phase
        self.auditor_seen: tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]] | None = None

    # ----------------------------------------------------------------------------------------------------
    # Public API

    @property
    def done(self) -> bool:
        return self.phase == "done"

    @property
    def current_role(self) -> str | None:
        return PHASE_ROLE.get(self.phase)

    @property
    def budget_remaining(self) -> int:
        return self.action_budget - self.budget_used

    @property
    def nothing_can_arrive(self) -> bool:
        """No unpublished organic arrival and no proposal can still come (§8.4)."""
        return self.unpublished_organic == 0 and (self.committed or len(self.proposals) >= self.max_proposals)

    def observe(self, role: str, *, text: bool = True) -> dict[str, Any]:
        """The role's observation (§9). ``text=False`` omits the derived text summaries (for trainers)."""
        if role not in ROLES:
            raise _verr(f"unknown role {role!r}; expected one of {', '.join(ROLES)}", "role")
        return build_observation(self, role, text=text)

    def step(self, role: str, action: dict[str, Any] | BaseModel) -> dict[str, Any]:
        """Apply one action of ``role``; returns that role's new observation. Raises ArenaError."""
        self.apply(role, action)
        return self.observe(role)

    def apply(self, role: str, action: dict[str, Any] | BaseModel) -> dict[str, Any]:
        """Like ``step`` but returns the normalised accepted action instead of an observation."""
        if role not in ROLES:
            raise _verr(f"unknown role {role!r}; expected one of {', '.join(ROLES)}", "role")
        act = validate_action(role, action)
        if self.phase == "done":
            raise ArenaError("phase_violation", "the match is done; no role can act")
        expected = PHASE_ROLE[self.phase]
        if role != expected:
            raise ArenaError("phase_violation",
                             f"{role} cannot act in phase {self.phase}; it is the {expected}'s turn")
        getattr(self, "_do_" + act["action_type"])(role, act)
        return act

    def default_action(self, role: str) -> dict[str, Any]:
        """The action applied when a role's turn deadline passes (docs/protocol.md#deadlines-idling-and-limits)."""
        return {"action_type": "submit_audit_report" if role == "auditor" else "end_turn"}

    def accepted_actions(self, role: str) -> int:
        """This role's accepted actions so far."""
        return self.role_actions[role]

    def record(self) -> dict[str, Any]:
        """The match record (§11). Built once per state: cached after match end until the next flag."""
        key = len(self.actions)
        if self._record_cache is not None and self._record_key == key:
            return self._record_cache
        rec = build_record(self)
        if self.grader is not None:  # after match end the ads no longer change
            self._record_cache, self._record_key = rec, key
        return rec

    # ----------------------------------------------------------------------------------------------------
    # Helpers

    def _log(self, role: str, act: dict[str, Any]) -> None:
        self.actions.append({"n": len(self.actions), "role": role, "round": self.round_number,
                             "phase": self.phase, "action": act})
        self.role_actions[role] += 1

    def _published(self, ad_id: str, what: str = "ad_id") -> Ad:
        ad = self.ads.get(ad_id)
        if ad is None or ad.arrived_round is None:
            raise illegal(f"{what} {ad_id!r} is not a published ad")
        return ad

    def make_finding(self, ad: Ad, target: str, copy: str | None = None) -> dict[str, Any]:
        """The Finding a pull of ``target`` on ``ad`` reveals now (deterministic given the match)."""
        if target == "policy_classifier":
            if ad.classifier_draws is None:
                rng = stream(self.task_id, self.seed, f"classifier/{ad.ad_id}")
                ad.classifier_draws = (rng.random(), rng.random())
            markers = ad.copy_markers if copy is None else copy_markers(copy)
            u1, u2 = ad.classifier_draws
            finding: dict[str, Any] = {"target": target}
            finding.update(classifier_fields(u1, u2, ad.mode(target), len(markers), ad.category, markers))
        else:
            if ad.fields is None:
                rng = stream(self.task_id, self.seed, f"evidence/{ad.ad_id}")
                modes = tuple(ad.mode(t) for t in TARGETS[:5])
                ad.fields = draw_fields(rng.random, modes, ad.n_on_payment, ad.shares_fingerprint)  # type: ignore[arg-type]
            finding = {"target": target}
            if target == "advertiser_history":
                finding["advertiser_id"] = ad.advertiser_id
                finding["country"] = ad.country
            elif target == "landing_page":
                finding["registrar"] = ad.registrar
                finding["domain_stem"] = ad.domain_stem
                finding["domain"] = ad.domain_stem + "." + ad.fields["landing_page"]["tld"]
                finding["content_summary"] = self.content_summary(ad)
            elif target == "payment_method":
                finding["payment_id"] = ad.payment_id
            elif target == "targeting_overlap":
                finding["targeting_fingerprint"] = ad.targeting_fingerprint
                finding["targeting_summary"] = ad.targeting_summary
            else:
                finding["config_fingerprint"] = ad.config_fingerprint
            finding.update(ad.fields[target])
        finding["text"] = render_text(target, finding)
        return finding

    @staticmethod
    def content_summary(ad: Ad) -> str:
        """The landing-page text (composed lazily for organic ads: only pulls and records need it)."""
        if not ad.content_summary:
            ad.content_summary = compose("landing", ad.category, ad.style, ad.text_seed)
        return ad.content_summary

    def _set_copy(self, ad: Ad, copy: str, markers: list[str] | None = None) -> None:
        """Replace ``ad``'s copy; ``markers`` are its ``copy_markers`` where the caller has them already."""
        if copy != ad.ad_copy:
            if ad.arrived_round is not None:
                ad.copy_revision += 1
            ad.ad_copy = copy
            ad.copy_markers = copy_markers(copy) if markers is None else markers
            ad.touch()

    # ----------------------------------------------------------------------------------------------------
    # Investigator actions

    def _check_budget(self) -> None:
        if self.budget_remaining <= 0:  # unreachable in play: the turn ends when the budget does
            raise illegal("the action budget is exhausted")

    def _do_investigate(self, role: str, act: dict[str, Any]) -> None:
        self._check_budget()
        ad = self._published(act["ad_id"])
        target = act["investigation_target"]
        if target in ad.pulled:
            raise illegal(f"{target} was already pulled on {ad.ad_id}")
        if len(ad.pulled) >= MAX_PULLS_PER_AD:
            raise illegal(f"{ad.ad_id} already has {MAX_PULLS_PER_AD} pulls")
        self._log(role, act)
        ad.pulled[target] = self.make_finding(ad, target)
        ad.touch()
        ad.unpulled = None
        self.n_investigate += 1
        self.focus_ad = ad.ad_id
        self.feedback[role] = f"Investigated {target} on {ad.ad_id}."
        self._after_costing()

    def _do_verdict(self, role: str, act: dict[str, Any]) -> None:
        self._check_budget()
        ad = self._published(act["ad_id"])
        if ad.status != "pending":
            raise illegal(f"{ad.ad_id} already has a verdict ({ad.status})")
        self._log(role, act)
        ad.status = act["verdict"]
        ad.confidence = act["confidence"]
        ad.verdict_round = self.round_number
        ad.touch()
        self.verdict_order.append(ad)
        self.focus_ad = ad.ad_id
        self.feedback[role] = f"Recorded verdict {ad.status} on {ad.ad_id} (confidence {ad.confidence})."
        self._after_costing()

    def _do_link_accounts(self, role: str, act: dict[str, Any]) -> None:
        self._check_budget()
        if self.task.n_rings == 0:
            raise illegal(f"{self.task_id} has no fraud rings; link_accounts is not available")
        if len(self.links) >= self.task.max_links:
            raise illegal(f"all {self.task.max_links} links are used")
        a = self._published(act["ad_id"])
        b = self._published(act["linked_ad_id"], "linked_ad_id")
        if a is b:
            raise illegal("ad_id and linked_ad_id must differ")
        pair = (a.ad_id, b.ad_id) if a.ad_id < b.ad_id else (b.ad_id, a.ad_id)
        if pair in self._linked:
            raise illegal(f"{pair[0]} and {pair[1]} are already linked")
        self._log(role, act)
        self.links.append((a.ad_id, b.ad_id))
        self._linked.add(pair)
        self.feedback[role] = f"Linked {a.ad_id} with {b.ad_id}."
        self._after_costing()

    def _after_costing(self) -> None:
        self.budget_used += 1
        self.turn_count += 1
        if self.nothing_can_arrive and all(a.status != "pending" for a in self.queue):
            self._match_end(all_decided=True)
            return
        if self.budget_remaining == 0:
            if self.end_reason is None:
                self.end_reason = "budget_exhausted"
            self._investigator_turn_end()
            return
        if self.turn_count >= self.turn_cap:
            self._investigator_turn_end()

    def _do_end_turn(self, role: str, act: dict[str, Any]) -> None:
        self._log(role, act)
        self.feedback[role] = "Ended the turn."
        if role == "investigator":
            self._investigator_turn_end()
        else:
            self._fraudster_turn_end()

    def _investigator_turn_end(self) -> None:
        if (self.committed or self.round_number >= self.max_rounds
                or (self.budget_remaining == 0 and self.nothing_can_arrive)):
            self._match_end(all_decided=False)
            return
        self.round_number += 1
        self.phase = "fraudster_turn"
        self.turn_count = 0
        self.turn_cap = self.f_cap

    # ----------------------------------------------------------------------------------------------------
    # Fraudster actions

    def _do_propose_ad(self, role: str, act: dict[str, Any]) -> None:
        slot = len(self.proposals)
        if slot >= self.max_proposals:
            raise illegal(f"no proposals left ({self.max_proposals} used)")
        category = act["category"]
        if category not in self.allowed_categories:
            raise illegal(f"category {category!r} is not allowed; allowed: {', '.join(self.allowed_categories)}")
        camo = tuple(act["camouflage"])
        left = self.camouflage_allowance - self.camouflage_used
        if len(camo) > left:
            raise illegal(f"camouflage of {len(camo)} targets exceeds the {left} left")
        self._log(role, act)
        ad = create_proposal(self.task_id, self.seed, slot, category, camo, self._used)
        ad.ad_copy = act["ad_copy"]
        ad.copy_markers = copy_markers(ad.ad_copy)
        ad.targeting_summary = act.get("targeting_summary") or compose("targeting", category, "plain",
                                                                       ad.text_seed)
        ad.content_summary = act.get("landing_page_blurb") or compose("landing", category, "plain", ad.text_seed)

        self.ads[ad.ad_id] = ad
        self.proposals.append(ad)
        self.staged.append(ad)
        self.camouflage_used += len(camo)
        self.feedback[role] = f"Staged proposal in slot {slot} ({category}); it is published at turn end."
        self._fraudster_capped()

    def _do_modify_pending_ad(self, role: str, act: dict[str, Any]) -> None:
        slot = act["slot_index"]
        if slot >= len(self.proposals):
            raise illegal(f"no own proposal in slot {slot}")
        ad = self.proposals[slot]
        if ad.status != "pending":
            raise illegal(f"the proposal in slot {slot} already has a verdict ({ad.status})")
        self._log(role, act)
        new_copy = act.get("new_ad_copy")
        new_blurb = act.get("new_landing_page_blurb")
        if ad.arrived_round is None:  # staged: changes at once
            if new_copy:
                self._set_copy(ad, new_copy)
            if new_blurb:
                ad.content_summary = new_blurb
        else:  # published: goes public at the next publish step
            if new_copy:
                ad.pending_copy = new_copy
            if new_blurb:
                ad.pending_blurb = new_blurb
        self.feedback[role] = f"Modified the proposal in slot {slot}."
        self._fraudster_capped()

    def _fraudster_capped(self) -> None:
        self.turn_count += 1
        if self.turn_count >= self.turn_cap:
            self._fraudster_turn_end()

    def _do_commit_final(self, role: str, act: dict[str, Any]) -> None:
        self._log(role, act)
        self.committed = True
        if self.end_reason is None:
            self.end_reason = "commit_final"
        self.feedback[role] = "Committed: no more proposals. The Investigator gets one final turn."
        self._fraudster_turn_end()

    def _fraudster_turn_end(self) -> None:
        self._publish_step(self.round_number)
        self.phase = "investigator_turn"
        self.turn_count = 0
        self.turn_cap = self.i_cap * (self.max_rounds - self.round_number + 1) if self.committed else self.i_cap
        if self.budget_remaining == 0:
            self._investigator_turn_end()

    def _publish_step(self, r: int) -> None:
        # (1) pending copy changes of published proposals
        for ad in self.proposals:
            if ad.arrived_round is not None:
                if ad.pending_copy is not None:
                    self._set_copy(ad, ad.pending_copy)
                    ad.pending_copy = None
                if ad.pending_blurb is not None:
                    ad.content_summary = ad.pending_blurb
                    ad.pending_blurb = None
        # (2) organic edits
        if r >= 2:
            rng = None
            for ad in self.queue:
                if ad.is_proposal or ad.status != "pending":
                    continue
                if rng is None:
                    rng = stream(self.task_id, self.seed, f"edits/{r}")
                if rng.random() < ORGANIC_EDIT_P:
                    self._set_copy(ad, *compose_marked("copy", ad.category, ad.style,
                                                       int(rng.random() * (1 << 32))))
        # (3) publish
        new: list[Ad] = []
        if r == 1:
            new.extend(a for a in self.base_ads if a.late_round is None)
        else:
            new.extend(self._late_by_round.get(r, ()))
        if self.committed:
            for later in range(r + 1, self.max_rounds + 1):
                new.extend(self._late_by_round.get(later, ()))
        for ad in new:
            if ad.arrived_round is None:
                self._publish(ad, r)
                self.unpublished_organic -= 1
        for ad in self.staged:
            self._publish(ad, r)
        self.staged = []

    def _publish(self, ad: Ad, r: int) -> None:
        if not ad.is_proposal:
            ad.ad_copy, ad.copy_markers, ad.targeting_summary, landing = compose_ad(ad.category, ad.style,
                                                                                   ad.text_seed)
            if not ad.content_summary:
                ad.content_summary = landing
        ad.arrived_round = r
        ad.touch()
        i = bisect.bisect_left(self._queue_ids, ad.ad_id)
        self._queue_ids.insert(i, ad.ad_id)
        self.queue.insert(i, ad)

    # ----------------------------------------------------------------------------------------------------
    # Match end, audit, rewards

    def _match_end(self, all_decided: bool) -> None:
        for ad in self.queue:
            if ad.status == "pending":
                ad.status = "approve"
                ad.confidence = 0.0
                ad.auto_approved = True
                ad.touch()
        if self.end_reason is None:
            self.end_reason = "all_decided" if all_decided else "max_rounds"
        self.final_round = self.round_number
        ring_of = {m: ring.ring_id for ring in self.rings for m in ring.members}
        self.grader, self.link_rows = grade(
            self.task,
            [GradedAd(a.ad_id, a.label, a.severity, a.status) for a in self.queue],
            [ManualVerdict(a.ad_id, a.status, a.confidence or 0.0, a.label) for a in self.verdict_order],
            self.n_investigate, self.budget_used, self.links, ring_of,
            [len(ring.members) for ring in self.rings],
        )
        self.phase = "audit_phase"
        self.turn_count = 0
        self.turn_cap = MAX_AUDIT_FLAGS

    def _do_flag_investigator(self, role: str, act: dict[str, Any]) -> None:
        self._flag(role, act, "A", TRACK_A_FLAGS)

    def _do_flag_fraudster(self, role: str, act: dict[str, Any]) -> None:
        self._flag(role, act, "B", TRACK_B_FLAGS)

    def _flag(self, role: str, act: dict[str, Any], track: str, types: tuple[str, ...]) -> None:
        flag_type = act["flag_type"]
        if flag_type not in types:
            raise illegal(f"{flag_type} is a flag of the other track; {act['action_type']} takes "
                          f"{', '.join(types)}")
        if len(self.flags) >= MAX_AUDIT_FLAGS:
            raise illegal(f"the {MAX_AUDIT_FLAGS}-flag limit is reached")
        target = act.get("target_ad_id")
        if flag_type not in MATCH_LEVEL_FLAGS:
            if target is None:
                raise illegal(f"{flag_type} needs a target_ad_id")
            self._published(target, "target_ad_id")
        self._log(role, act)
        self.flags.append({"track": track, "flag_type": flag_type, "target_ad_id": target,
                           "severity": act["severity"], "note": act.get("note")})
        self.feedback[role] = f"Flagged {flag_type}" + (f" on {target}." if target else " (match level).")

    def _do_submit_audit_report(self, role: str, act: dict[str, Any]) -> None:
        self._log(role, act)
        self.audit_report = act.get("audit_report", {})
        self.phase = "done"
        self.turn_count = 0
        rec = self.record()  # the done record without audit results; completed in place below
        self.plausibility, self.ground_truth = audit.audit_outcome(rec)
        truth = {tuple(f) for f in self.ground_truth}
        submitted = {(f["track"], f["flag_type"], f["target_ad_id"]) for f in self.flags}
        fraud = fraudster_reward(self.max_proposals, [
            (ad.status, ad.impact, self.plausibility.get(ad.ad_id, 1.0)) for ad in self.proposals])
        inv = investigator_reward(self.grader["score"],  # type: ignore[index]
                                  {f for f in submitted if f[0] == "A"}, {f for f in truth if f[0] == "A"})
        self.rewards = {"fraudster": fraud, "investigator": inv, "auditor": f1_score(submitted, truth)}
        rec["plausibility"] = self.plausibility
        rec["rewards"] = self.rewards
        rec["audit"]["ground_truth_flags"] = self.ground_truth
        self.feedback[role] = "Submitted the audit report; the match is done."


def replay(record: dict[str, Any]) -> RefereeEnvironment:
    """Rebuild a match from a record's config and accepted actions."""
    config = record["config"]
    env = RefereeEnvironment(task_id=config["task_id"], seed=config["seed"], **config.get("overrides", {}))
    for entry in record["actions"]:
        env.apply(entry["role"], entry["action"])
    return env

