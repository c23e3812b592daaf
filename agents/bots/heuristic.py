"""HeuristicAuditor: the label-free house Auditor of docs/rules.md §12.

In ``audit_phase`` it runs, without reading any label, the text checks of Track A
(``missing_citation``, ``incoherent_rationale``) and the four Track-B checks, using the value-level
functions of ``fraudarena.arena.audit`` on its own view (the ``full_episode_record``'s accepted actions,
the Findings of ``ads[].pulled`` and each proposal's final copy, targeting and landing blurb). It flags
every hit, one flag per call, then submits.

Documented choices:

* **Order**: Track B first, then Track A; within a track ads in queue order (ascending ``ad_id``), then
  flag types in ``spec.TRACK_B_FLAGS`` / ``spec.TRACK_A_FLAGS`` order. Duplicates are never sent: a flag
  already in ``pending_flags`` is skipped.
* **Proposals** are the record's ads with ``is_fraudster_proposal``; ``template_repetition`` compares a
  proposal with the final copies of lower-slot proposals (as §10.2 states).
* **Citation keys** of a verdict: ``audit.citation_keys`` over the targets pulled on the ad before the
  verdict in action order, with the record's Findings.
* **Report**: ``investigator_audit_score = max(0, 1 − 0.1 · #A flags)`` and
  ``fraudster_plausibility_score`` = mean of ``audit.plausibility_of`` over the proposals from its own
  Track-B hits (1.0 without proposals), both rounded to 4 dp; ``notes`` counts the flags.
* Its results are cached per match (keyed by task, seed and the number of non-auditor actions) so a
  long flag list costs one analysis. The ``seed`` argument is unused (the bot is deterministic).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fraudarena.arena import audit, spec

Flag = tuple[str, str, str | None]


def analyse(record: Mapping[str, Any]) -> tuple[list[Flag], dict[str, float]]:
    """The heuristic flags (submission order) and per-proposal plausibility of a record, label-free."""
    ads = sorted(record.get("ads") or (), key=lambda a: a["ad_id"])
    by_id = {ad["ad_id"]: ad for ad in ads}

    # Track B over proposals' final states (slot order defines "lower-slot")
    proposals = sorted((ad for ad in ads if ad.get("is_fraudster_proposal")),
                       key=lambda ad: (ad.get("slot_index") if ad.get("slot_index") is not None else 1 << 62,
                                       ad["ad_id"]))
    b_types: dict[str, list[str]] = {}
    earlier: list[str] = []
    for ad in proposals:
        copy = ad.get("ad_copy") or ""
        b_types[ad["ad_id"]] = audit.proposal_flag_types(ad["category"], copy, ad.get("targeting_summary"),
                                                         ad.get("content_summary"), earlier)
        earlier.append(copy)
    flags: list[Flag] = []
    for ad in ads:
        for t in b_types.get(ad["ad_id"], ()):
            flags.append(("B", t, ad["ad_id"]))

    # Track A text checks over the manual verdicts
    pulled_before: dict[str, list[str]] = {}
    a_hits: dict[str, list[str]] = {}
    for entry in record.get("actions") or ():
        if entry.get("role") != "investigator":
            continue
        action = entry.get("action") or {}
        atype, ad_id = action.get("action_type"), action.get("ad_id")
        if atype == "investigate" and ad_id:
            pulled_before.setdefault(ad_id, []).append(action.get("investigation_target", ""))
        elif atype == "verdict" and ad_id:
            ad = by_id.get(ad_id) or {}
            pulled = ad.get("pulled") or {}
            keys = audit.citation_keys(((t, pulled.get(t)) for t in pulled_before.get(ad_id, ())),
                                       ad.get("identifiers"))
            hits = a_hits.setdefault(ad_id, [])
            if audit.missing_citation_keys(action.get("rationale"), keys):
                hits.append("missing_citation")
            if audit.rationale_incoherent(str(action.get("verdict")), action.get("rationale")):
                hits.append("incoherent_rationale")
    for ad in ads:
        for t in spec.TRACK_A_FLAGS:
            if t in a_hits.get(ad["ad_id"], ()):
                flags.append(("A", t, ad["ad_id"]))

    plaus = {ad_id: audit.plausibility_of(types) for ad_id, types in b_types.items()}
    return flags, plaus


class HeuristicAuditor:
    """The §12 Auditor: flags every text-check hit (Track B, then A), then submits a report."""

    role = "auditor"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._key: tuple[Any, ...] | None = None
        self._flags: list[Flag] = []
        self._plaus: dict[str, float] = {}

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        legal = obs.get("legal_actions") or {}
        types = legal.get("action_types") or []
        record = obs.get("full_episode_record")
        if not types or record is None:
            return {"action_type": "submit_audit_report"}
        config = record.get("config") or {}
        played = sum(1 for e in record.get("actions") or () if e.get("role") != "auditor")
        key = (config.get("task_id"), config.get("seed"), played)
        if key != self._key:
            self._key = key
            self._flags, self._plaus = analyse(record)
        sent = {(f.get("track"), f.get("flag_type"), f.get("target_ad_id")) for f in obs.get("pending_flags") or ()}
        if int(legal.get("flags_remaining") or 0) > 0:
            for flag in self._flags:
                if flag in sent:
                    continue
                track, flag_type, target = flag
                atype = "flag_investigator" if track == "A" else "flag_fraudster"
                if atype not in types:
                    continue
                return {"action_type": atype, "flag_type": flag_type, "target_ad_id": target,
                        "severity": 0.5, "note": f"heuristic check {flag_type} fired on {target}"}
        n_a = sum(1 for f in self._flags if f[0] == "A")
        n_b = len(self._flags) - n_a
        plaus = round(sum(self._plaus.values()) / len(self._plaus), 4) if self._plaus else 1.0
        return {"action_type": "submit_audit_report", "audit_report": {
            "investigator_audit_score": round(max(0.0, 1.0 - 0.1 * n_a), 4),
            "fraudster_plausibility_score": plaus,
            "notes": f"heuristic audit: {n_a} Track-A and {n_b} Track-B flags"}}
