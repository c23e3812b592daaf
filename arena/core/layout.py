"""Column layout and codes of the batched core's state arrays (see ``docs/rules.md``, "The batched core").

The state of M matches is a handful of plain arrays (struct of arrays, one row per match, one slot per ad):

* ``mi[M, N_MI]`` int64 per-match counters (columns ``MI_*``),
* ``ai[M, A, N_AI]`` int64 per-ad state (columns ``AI_*``), ``af[M, A, N_AF]`` float64 per-ad values,
* ``outc[M, A, N_FIELDS]`` the outcome index of every label-dependent evidence field, drawn at reset,
* ``links[M, MAX_LINK_ROWS, 2]`` accepted links as slot pairs, ``vorder[M, A]`` manual verdicts in order,
* ``queue[M, A]`` published slots in ascending ``ad_id`` order, ``edits[M, R, 2A]`` organic-edit draws.

Column numbers are module constants so the numba kernels see them as compile-time literals. Integer codes
(phases, statuses, end reasons, labels) follow the order of the tuples in ``arena/spec.py``.
"""

from __future__ import annotations

from ..spec import LABELS, MARKER_FAMILIES, ORGANIC_EDIT_P, TARGETS, VERDICTS  # noqa: F401  (re-exported)

# --- phases (spec.Phase order) ------------------------------------------------------------------------------------
PH_FRAUDSTER, PH_INVESTIGATOR, PH_AUDIT, PH_DONE = 0, 1, 2, 3
PHASE_NAMES: tuple[str, ...] = ("fraudster_turn", "investigator_turn", "audit_phase", "done")

# --- ad status: 0 pending, then VERDICTS order ----------------------------------------------------------------------
ST_PENDING, ST_APPROVE, ST_REJECT, ST_ESCALATE = 0, 1, 2, 3
STATUS_NAMES: tuple[str, ...] = ("pending", *VERDICTS)
assert VERDICTS == ("approve", "reject", "escalate")

# --- labels (spec.LABELS order) and end reasons ---------------------------------------------------------------------
LB_LEGIT, LB_FRAUD, LB_GRAY = 0, 1, 2
assert LABELS == ("legit", "fraud", "gray")
END_NONE, END_COMMIT, END_MAX_ROUNDS, END_BUDGET, END_ALL_DECIDED = 0, 1, 2, 3, 4
END_NAMES: tuple[str | None, ...] = (None, "commit_final", "max_rounds", "budget_exhausted", "all_decided")

N_TARGETS = len(TARGETS)
T_CLASSIFIER = TARGETS.index("policy_classifier")
#: Identifier kinds that can be shared (payment_id, domain_stem, targeting_fingerprint, config_fingerprint) and
#: the target whose Finding reveals each.
IDENT_FIELDS: tuple[str, ...] = ("payment_id", "domain_stem", "targeting_fingerprint", "config_fingerprint")
IDENT_TARGETS: tuple[int, ...] = tuple(TARGETS.index(t) for t in
                                       ("payment_method", "landing_page", "targeting_overlap", "campaign_structure"))

# --- per-match integer columns --------------------------------------------------------------------------------------
(MI_TASK, MI_PHASE, MI_ROUND, MI_MAX_ROUNDS, MI_TURN, MI_CAP, MI_FCAP, MI_ICAP, MI_BUDGET, MI_USED,
 MI_CAMO_ALLOW, MI_CAMO_USED, MI_COMMITTED, MI_NPROPS, MI_MAX_PROPS, MI_UNPUB, MI_NINV, MI_NLINKS, MI_MAX_LINKS,
 MI_NRINGS, MI_END, MI_NSLOTS, MI_NQUEUE, MI_NVERD, MI_TERMS, MI_FINAL_ROUND, MI_ACTIONS, MI_NEDITS,
 MI_NBASE, MI_RING_LINKS, MI_ALLOWED) = range(31)
N_MI = 31
#: bits of ``MI_TERMS``: which optional grader terms the task has
TERM_CALIBRATION, TERM_LINKS, TERM_COVERAGE = 1, 2, 4

# --- per-ad integer columns ---------------------------------------------------------------------------------
(AI_LABEL, AI_CAT, AI_GROUP, AI_CORE, AI_MARKERS, AI_REV, AI_ARRIVED, AI_LATE, AI_STATUS, AI_VROUND, AI_AUTO,
 AI_PULLED, AI_NPULL, AI_CUNSAFE, AI_CM, AI_ID0, AI_ID1, AI_ID2, AI_ID3, AI_RING, AI_PROPOSAL, AI_SLOT, AI_KEY,
 AI_PMARKERS, AI_PDIFF, AI_DIRTY, AI_CMODE, AI_STAGED, AI_ROOT, AI_AOI, AI_OVERLAP) = range(31)
N_AI = 31
#: ``AI_AOI`` / ``AI_OVERLAP``: the ``accounts_on_instrument`` and ``audience_overlap_pct`` values a pull would show
#: (drawn at reset with the outcomes; no rule reads them, the house RingHunterInvestigator does)

# --- per-ad float columns -----------------------------------------------------------------------------------
AF_CONF, AF_SEVERITY, AF_IMPACT, AF_CU1, AF_CCONF_UNSAFE, AF_CCONF_SAFE, AF_CCONF = range(7)
N_AF = 7

#: ``AI_PMARKERS`` value when no copy change is pending
NO_PENDING = -1
#: marker families in bit order of ``AI_MARKERS`` (sorted family names, as ``copy_markers`` lists them)
MARKER_NAMES: tuple[str, ...] = tuple(sorted(MARKER_FAMILIES))
MARKER_BIT: dict[str, int] = {name: 1 << i for i, name in enumerate(MARKER_NAMES)}
