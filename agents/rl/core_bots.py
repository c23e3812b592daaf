"""House bots acting on the batched core's arrays: the ScriptedInvestigator and the ReactiveFraudster in batch.

:class:`CoreBots` makes the same decisions as ``agents/bots/scripted.py::ScriptedInvestigator`` (``decision=
"argmax"``, kinds ``"scripted"``/``"bayesian"``) and ``agents/bots/reactive.py::ReactiveFraudster`` (kinds
``"scripted"``/``"reactive"``), reading ``CoreBatch``'s arrays instead of observation dicts.
``tests/agents/test_core_bots.py`` checks every decision against the Python bots on the referee.

* The Investigator's rules, tie-breaks and per-turn allowance are one numba kernel per match
  (:func:`investigator_decide`). Its posterior is the bot's own (``belief.log_prior``, where a label without ads
  has log prior ``-inf``; shared-identifier ads get ``belief.shared_belief``), computed in float64 by
  ``features.ad_posterior`` in ``belief.py``'s float order, not the encoder's float32 posterior. The verdict
  confidence ``round(max p, 2)`` is Python's ``round``, applied to the few verdict rows.
* The Fraudster's decision (propose / end_turn / commit_final), category, camouflage size and targets and the
  per-turn quota are one kernel per match (:func:`fraudster_decide`); the proposal texts come from the bot's own
  ``random.Random(seed)`` per match through ``textkit.fresh_plain_texts``, in Python.

A link of the Investigator (its lexicographically smallest unconnected pair ``(a, b)`` sharing a revealed
identifier) is the flat code of ``a``'s link slot: ``a``'s core partner is ``b`` (no ad before ``a`` has an
unconnected sharing mate, so ``a``'s first unconnected mate in queue order is the smallest ``b``).
"""

from __future__ import annotations

import math
import random

import numpy as np
from numba import njit

from fraudarena.agents.bots import belief, textkit
from fraudarena.agents.bots.reactive import MAX_REDRAWS
from fraudarena.agents.bots.ringhunter import _NOISE_GE3, _OVERLAP_HI_BUCKET_FRAUD, RING_KINDS, RingHunterInvestigator
from fraudarena.agents.bots.scripted import DECIDE_THRESHOLD
from fraudarena.agents.rl.features import CoreFeatures, _eer, ad_posterior, rounds_remaining
from fraudarena.arena.core import CoreBatch
from fraudarena.arena.core import kernels as K
from fraudarena.arena.core.actions import (
    CAMO_INDEX,
    FRAUD_COMMIT,
    FRAUD_END,
    FRAUD_PROPOSE0,
    K_LINK,
    K_VERDICT,
    N_CAMO,
    PER_AD,
)
from fraudarena.arena.core.batch import Proposal
from fraudarena.arena.core.layout import (
    AI_AOI,
    AI_ARRIVED,
    AI_CAT,
    AI_ID0,
    AI_MARKERS,
    AI_NPULL,
    AI_OVERLAP,
    AI_PROPOSAL,
    AI_PULLED,
    AI_SLOT,
    AI_STATUS,
    IDENT_TARGETS,
    MI_ALLOWED,
    MI_BUDGET,
    MI_CAMO_ALLOW,
    MI_CAMO_USED,
    MI_CAP,
    MI_COMMITTED,
    MI_MAX_LINKS,
    MI_MAX_PROPS,
    MI_NBASE,
    MI_NLINKS,
    MI_NPROPS,
    MI_NQUEUE,
    MI_NRINGS,
    MI_NSLOTS,
    MI_NVERD,
    MI_PHASE,
    MI_ROUND,
    MI_TURN,
    MI_UNPUB,
    MI_USED,
    PH_FRAUDSTER,
    PH_INVESTIGATOR,
    ST_APPROVE,
    ST_PENDING,
)
from fraudarena.arena.core.tables import CAT_GROUP, CAT_SEVERITY, N_CAT
from fraudarena.arena.evidence import SHARED_OVERLAP_RANGE
from fraudarena.arena.spec import CATEGORIES, MAX_PULLS_PER_AD, TARGETS, TASKS

__all__ = ["FRAUDSTER_KINDS", "INVESTIGATOR_KINDS", "CoreBots", "camouflage_decide", "fraudster_decide",
           "investigator_decide", "ringhunter_decide"]

#: the bot of each seat kind (``make_bot`` kind strings; "scripted" is the role's §12 bot)
BOT_NONE, BOT_SCRIPTED, BOT_RINGHUNTER = 0, 1, 2
BOT_REACTIVE, BOT_CAMOUFLAGE = 1, 2
INVESTIGATOR_BOTS = {"scripted": BOT_SCRIPTED, "bayesian": BOT_SCRIPTED, "ringhunter": BOT_RINGHUNTER}
FRAUDSTER_BOTS = {"scripted": BOT_REACTIVE, "reactive": BOT_REACTIVE, "camouflage": BOT_CAMOUFLAGE}
INVESTIGATOR_KINDS = tuple(INVESTIGATOR_BOTS)
FRAUDSTER_KINDS = tuple(FRAUDSTER_BOTS)

#: ``belief.shared_belief`` with and without gray ads (one source: belief.py)
SHARED_GRAY = np.array(belief.shared_belief((0.0, 0.0, 0.0)))
SHARED_NO_GRAY = np.array(belief.shared_belief((0.0, 0.0, belief.NEG_INF)))
#: targets whose Finding can reveal a shared identifier (the core's IDENT_TARGETS), as a pulled-bits mask
IDENT_PULL_BITS = 0b11110
#: per-match Investigator state columns (ScriptedInvestigator._turn_key/_turn_start_budget/_allowance)
IS_ROUND, IS_START, IS_ALLOW = range(3)
#: per-match Fraudster state columns (ReactiveFraudster._turn_round/_last_used/_turn_quota/_proposed_this_turn,
#: CamouflageFraudster._quota_total, -1 for None)
FS_ROUND, FS_LAST_USED, FS_QUOTA, FS_PROPOSED, FS_TOTAL = range(5)
#: the fraudster kernel's decision kinds (``fdec[m, 0]``)
FD_NONE, FD_END, FD_COMMIT, FD_PROPOSE = -1, 0, 1, 2

#: the RingHunterInvestigator's parameters: its defaults (the house bot of kind "ringhunter"), read from the bot
_RH = RingHunterInvestigator()
assert _RH.ring_hints and _RH.hold_for_hunt and _RH.link_reserve == 0 and _RH.decision == "argmax", \
    "core_bots.ringhunter_decide implements the RingHunterInvestigator's default parameters only"
RH_DECIDE_THRESHOLD = _RH.decide_threshold
RH_APPROVE_THRESHOLD = _RH.approve_threshold
HUNT_THRESHOLD = _RH.hunt_threshold
COMPLETE_THRESHOLD = _RH.complete_threshold
MAX_HUNT = _RH.max_hunt
HUNT_MAX_ROUND = _RH.hunt_max_round
ASSUME_RING_SIZE = _RH.assume_ring_size
HUNT_ORDER = np.array([TARGETS.index(t) for t in _RH.hunt_order], np.int64)
assert tuple(RING_KINDS) == tuple(TARGETS[t] for t in IDENT_TARGETS)  # the key order of _open_identifiers
IDENT_TARGETS_A = np.array(IDENT_TARGETS, np.int64)
T_PAYMENT, T_TARGETING = TARGETS.index("payment_method"), TARGETS.index("targeting_overlap")
#: the audience overlap range the bot reads as a shared fingerprint (its hint and _open_identifiers)
OVERLAP_LO, OVERLAP_HI = SHARED_OVERLAP_RANGE
#: categories of group M (the CamouflageFraudster's low-suspicion pool) as a bit mask of ``MI_ALLOWED``
M_GROUP_MASK = sum(1 << c for c, cat in enumerate(CATEGORIES) if cat.group == "M")


# ------------------------------------------------------------------------------------------------------------------
# ScriptedInvestigator


@njit(cache=True)
def _posteriors(mi, ai, outc, queue, prior, pcache, pkey, shared_gray, shared_no_gray, post, inring, m) -> None:
    """The bot's posterior of every queue ad (queue order) into ``post[m]`` (``ScriptedInvestigator.beliefs``);
    ``inring[m, q]``: the ad shares a revealed identifier with another ad (``belief.shared_identifier_groups``).

    An ad's own posterior depends on its pulled targets and whether its copy shows markers only (the Findings and
    classifier draws are fixed once pulled), so it is cached per slot under that key.
    """
    n = mi[m, MI_NQUEUE]
    for q in range(n):
        inring[m, q] = False
    for q in range(n):
        s = queue[m, q]
        key = ai[m, s, AI_PULLED] | (64 if ai[m, s, AI_MARKERS] != 0 else 0)
        if pkey[m, s] != key:
            p0, p1, p2 = ad_posterior(ai, outc, prior, m, s)
            pcache[m, s, 0] = p0
            pcache[m, s, 1] = p1
            pcache[m, s, 2] = p2
            pkey[m, s] = key
        post[m, q, 0] = pcache[m, s, 0]
        post[m, q, 1] = pcache[m, s, 1]
        post[m, q, 2] = pcache[m, s, 2]
    shared = shared_no_gray if prior[m, 2] == -np.inf else shared_gray
    for q in range(n):
        s = queue[m, q]
        if not ai[m, s, AI_PULLED] & IDENT_PULL_BITS:
            continue
        for q2 in range(n):
            j = queue[m, q2]
            if j != s and K.shares_revealed(ai, m, s, j):
                post[m, q, 0] = shared[0]
                post[m, q, 1] = shared[1]
                post[m, q, 2] = shared[2]
                inring[m, q] = True
                break


@njit(cache=True)
def _argmax(p0, p1, p2) -> int:
    """``belief.argmax``: ties go to the earlier label."""
    best = 0
    bp = p0
    if p1 > bp:
        best = 1
        bp = p1
    if p2 > bp:
        best = 2
    return best


@njit(cache=True)
def _pmax(p0, p1, p2) -> float:
    return max(p0, max(p1, p2))


@njit(cache=True)
def _entropy(p0, p1, p2) -> float:
    """``belief.entropy``: -(Σ p log p over p > 0), summed in label order."""
    h = 0.0
    if p0 > 0.0:
        h += p0 * math.log(p0)
    if p1 > 0.0:
        h += p1 * math.log(p1)
    if p2 > 0.0:
        h += p2 * math.log(p2)
    return -h


@njit(cache=True)
def _best_non_legit(mi, ai, queue, post, m, threshold, skip) -> int:
    """``ScriptedInvestigator._best_non_legit``: queue position of the pending non-legit-argmax ad with the highest
    max posterior ≥ ``threshold`` (first in queue order on ties), or -1; queue position ``skip`` is left out."""
    best = -1
    best_p = -1.0
    for q in range(mi[m, MI_NQUEUE]):
        if q == skip or ai[m, queue[m, q], AI_STATUS] != ST_PENDING:
            continue
        p0 = post[m, q, 0]
        p1 = post[m, q, 1]
        p2 = post[m, q, 2]
        if _argmax(p0, p1, p2) == 0:
            continue
        top = _pmax(p0, p1, p2)
        if top >= threshold and top > best_p:
            best = q
            best_p = top
    return best


@njit(cache=True)
def _verdict_code(post, m, q, vmax) -> int:
    """The verdict code of the argmax label on queue position ``q``; ``vmax[m]`` gets max p (for the confidence)."""
    p0 = post[m, q, 0]
    p1 = post[m, q, 1]
    p2 = post[m, q, 2]
    vmax[m] = _pmax(p0, p1, p2)
    return 1 + PER_AD * q + K_VERDICT + _argmax(p0, p1, p2)


@njit(cache=True)
def _pull_code(mi, ai, queue, post, m) -> int:
    """``ScriptedInvestigator._pull_action``: the max-entropy pending ad with < 3 pulls, its max-EER unpulled
    target (first in queue order / canonical target order on ties), or -1."""
    best_q = -1
    best_h = -1.0
    for q in range(mi[m, MI_NQUEUE]):
        s = queue[m, q]
        if ai[m, s, AI_STATUS] != ST_PENDING or ai[m, s, AI_NPULL] >= MAX_PULLS_PER_AD:
            continue
        h = _entropy(post[m, q, 0], post[m, q, 1], post[m, q, 2])
        if h > best_h:
            best_q = q
            best_h = h
    if best_q < 0:
        return -1
    s = queue[m, best_q]
    mk = ai[m, s, AI_MARKERS]
    nm = 0
    while mk:
        nm += mk & 1
        mk >>= 1
    mc = min(3, nm)
    pb = ai[m, s, AI_PULLED]
    p0 = post[m, best_q, 0]
    p1 = post[m, best_q, 1]
    p2 = post[m, best_q, 2]
    best_t = -1
    best_g = -1.0
    for t in range(6):
        if (pb >> t) & 1:
            continue
        g = _eer(p0, p1, p2, t, mc)
        if g > best_g:
            best_t = t
            best_g = g
    if best_t < 0:
        return -1
    return 1 + PER_AD * best_q + best_t


@njit(cache=True)
def _start_turn(mi, state, m) -> int:
    """``ScriptedInvestigator._start_turn_if_new`` (the match's task never changes, so the turn key is the round);
    returns the budget left."""
    budget = mi[m, MI_BUDGET] - mi[m, MI_USED]
    rnd = mi[m, MI_ROUND]
    if (rnd == 1 and budget == mi[m, MI_BUDGET]) or rnd != state[m, IS_ROUND]:
        state[m, IS_ROUND] = rnd
        state[m, IS_START] = budget
        rounds = max(1, rounds_remaining(mi, m))
        state[m, IS_ALLOW] = budget if rounds <= 1 else -(-budget // rounds)
    return budget


@njit(cache=True)
def _link_code(mi, ai, queue, m) -> int:
    """Rule 1: the link code of the smallest unconnected pair sharing a revealed identifier, or -1."""
    n = mi[m, MI_NQUEUE]
    if mi[m, MI_NRINGS] > 0 and mi[m, MI_MAX_LINKS] - mi[m, MI_NLINKS] > 0 and n >= 2:
        for q in range(n):
            if K.partner(mi, ai, queue, m, queue[m, q]) >= 0:
                return 1 + PER_AD * q + K_LINK
    return -1


@njit(cache=True)
def _n_suspect(mi, ai, queue, post, m) -> int:
    """Pending ads whose argmax label is not legit."""
    n_suspect = 0
    for q in range(mi[m, MI_NQUEUE]):
        if (ai[m, queue[m, q], AI_STATUS] == ST_PENDING
                and _argmax(post[m, q, 0], post[m, q, 1], post[m, q, 2]) != 0):
            n_suspect += 1
    return n_suspect


@njit(cache=True)
def _reserve(mi, m) -> int:
    """``ScriptedInvestigator._reserve``: proposals that may still come + half the arrivals left (rounded up)."""
    props_left = 0 if mi[m, MI_COMMITTED] != 0 else max(0, mi[m, MI_MAX_PROPS] - mi[m, MI_NPROPS])
    return props_left + (mi[m, MI_UNPUB] + 1) // 2


@njit(cache=True)
def _late_verdict(mi, ai, queue, post, vmax, m, last_turn, guard, approve_threshold) -> int:
    """Rules 4 and 5 (``ScriptedInvestigator._late_verdict``): a forced suspect verdict on the last turn or when the
    guard fails, then a confident approve while it holds; -1 if neither applies."""
    if last_turn or not guard:
        q = _best_non_legit(mi, ai, queue, post, m, 0.0, -1)
        if q >= 0:
            return _verdict_code(post, m, q, vmax)
    if guard:
        best = -1
        best_p = -1.0
        for q in range(mi[m, MI_NQUEUE]):
            if ai[m, queue[m, q], AI_STATUS] != ST_PENDING:
                continue
            if post[m, q, 0] > best_p:
                best = q
                best_p = post[m, q, 0]
        if best >= 0 and best_p >= approve_threshold:
            return _verdict_code(post, m, best, vmax)
    return -1


@njit(cache=True)
def investigator_decide(mi, ai, outc, queue, prior, pcache, pkey, shared_gray, shared_no_gray, state, post, inring,
                        vmax, m) -> int:
    """The ScriptedInvestigator's action code for match ``m`` (rules 1–6 of ``agents/bots/scripted.py``).

    Updates the per-turn allowance ``state[m]``; for a verdict ``vmax[m]`` is the max posterior (the confidence
    before rounding).
    """
    budget = _start_turn(mi, state, m)
    _posteriors(mi, ai, outc, queue, prior, pcache, pkey, shared_gray, shared_no_gray, post, inring, m)
    # (1) link the smallest unconnected pair sharing a revealed identifier
    code = _link_code(mi, ai, queue, m)
    if code >= 0:
        return code
    # (2) confident non-legit verdict
    q = _best_non_legit(mi, ai, queue, post, m, DECIDE_THRESHOLD, -1)
    if q >= 0:
        return _verdict_code(post, m, q, vmax)
    last_turn = rounds_remaining(mi, m) <= 1
    spent = state[m, IS_START] - budget
    guard = budget > _n_suspect(mi, ai, queue, post, m) + _reserve(mi, m)
    # (3) pull
    if spent < state[m, IS_ALLOW] and guard:
        code = _pull_code(mi, ai, queue, post, m)
        if code >= 0:
            return code
    # (4), (5)
    code = _late_verdict(mi, ai, queue, post, vmax, m, last_turn, guard, DECIDE_THRESHOLD)
    if code >= 0:
        return code
    # (6)
    return 0


# ------------------------------------------------------------------------------------------------------------------
# RingHunterInvestigator


@njit(cache=True)
def _rescale_fraud(post, m, q, factor) -> None:
    """``ringhunter._rescale_fraud`` on ``post[m, q]``: the fraud weight × ``factor``, renormalised."""
    p0 = post[m, q, 0]
    w1 = post[m, q, 1] * factor
    p2 = post[m, q, 2]
    z = p0 + w1 + p2
    if z > 0:
        post[m, q, 0] = p0 / z
        post[m, q, 1] = w1 / z
        post[m, q, 2] = p2 / z


@njit(cache=True)
def _ring_hints(mi, ai, queue, post, inring, hint, m) -> None:
    """``RingHunterInvestigator.beliefs``' ring hints on the ads not shown to share an identifier: a payment
    instrument held by ≥ 3 accounts (× ``hint[m, 0]``), an audience overlap in the shared range (× ``hint[m, 1]``)."""
    for q in range(mi[m, MI_NQUEUE]):
        if inring[m, q]:
            continue
        s = queue[m, q]
        pb = ai[m, s, AI_PULLED]
        if (pb >> T_PAYMENT) & 1 and ai[m, s, AI_AOI] >= 3:
            _rescale_fraud(post, m, q, hint[m, 0])
        if (pb >> T_TARGETING) & 1 and OVERLAP_LO <= ai[m, s, AI_OVERLAP] <= OVERLAP_HI:
            _rescale_fraud(post, m, q, hint[m, 1])


@njit(cache=True)
def _can_pull(ai, m, s, t) -> bool:
    return ai[m, s, AI_NPULL] < MAX_PULLS_PER_AD and not (ai[m, s, AI_PULLED] >> t) & 1


@njit(cache=True)
def _hunt_code(mi, ai, queue, post, inring, keys, m) -> int:
    """``RingHunterInvestigator._hunt_action``: (a) completion of a revealed identifier that more ads should hold,
    (b) a first identifier pull on a likely-fraud round-1 pending ad; the pull's code or -1.

    ``keys`` is scratch for the revealed identifiers in first-seen order (``_open_identifiers``' dict order):
    (kind, value, holders, expected holders or -1).
    """
    n = mi[m, MI_NQUEUE]
    nk = 0
    for q in range(n):
        s = queue[m, q]
        pb = ai[m, s, AI_PULLED]
        for k in range(4):
            if not (pb >> IDENT_TARGETS_A[k]) & 1:
                continue
            v = ai[m, s, AI_ID0 + k]
            j = 0
            while j < nk and not (keys[j, 0] == k and keys[j, 1] == v):
                j += 1
            if j == nk:
                keys[j, 0] = k
                keys[j, 1] = v
                keys[j, 2] = 0
                keys[j, 3] = -1
                nk += 1
            keys[j, 2] += 1
            if k == 0:
                aoi = ai[m, s, AI_AOI]
                if aoi >= 3 or keys[j, 3] >= 0:
                    keys[j, 3] = max(max(keys[j, 3], 0), aoi)
            elif k == 2 and OVERLAP_LO <= ai[m, s, AI_OVERLAP] <= OVERLAP_HI:
                keys[j, 3] = max(max(keys[j, 3], 0), 2)
    # (a) completion
    best = -1
    best_pf = 0.0
    for j in range(nk):
        want = max(keys[j, 3], 0)
        if keys[j, 2] >= 2:
            want = max(want, ASSUME_RING_SIZE)
        if keys[j, 2] >= want:
            continue
        t = IDENT_TARGETS_A[keys[j, 0]]
        for q in range(n):
            s = queue[m, q]
            if inring[m, q] or not _can_pull(ai, m, s, t):
                continue
            pf = post[m, q, 1]
            if pf < COMPLETE_THRESHOLD:
                continue
            if best < 0 or pf > best_pf:
                best = 1 + PER_AD * q + t
                best_pf = pf
    if best >= 0:
        return best
    # (b) hunting
    for q in range(n):
        s = queue[m, q]
        if ai[m, s, AI_STATUS] != ST_PENDING or inring[m, q]:
            continue
        pf = post[m, q, 1]
        if pf < HUNT_THRESHOLD or ai[m, s, AI_ARRIVED] > HUNT_MAX_ROUND:
            continue
        if K.popcount(ai[m, s, AI_PULLED] & IDENT_PULL_BITS) >= MAX_HUNT:
            continue
        for i in range(HUNT_ORDER.shape[0]):
            t = HUNT_ORDER[i]
            if _can_pull(ai, m, s, t):
                if best < 0 or pf > best_pf:
                    best = 1 + PER_AD * q + t
                    best_pf = pf
                break
    return best


@njit(cache=True)
def ringhunter_decide(mi, ai, outc, queue, prior, pcache, pkey, shared_gray, shared_no_gray, state, post, inring,
                      hint, keys, vmax, m) -> int:
    """The RingHunterInvestigator's action code for match ``m`` (rules 1–6 of ``agents/bots/ringhunter.py``, with
    its default parameters); state and ``vmax`` as :func:`investigator_decide`."""
    budget = _start_turn(mi, state, m)
    _posteriors(mi, ai, outc, queue, prior, pcache, pkey, shared_gray, shared_no_gray, post, inring, m)
    rings = mi[m, MI_NRINGS] > 0
    if rings:
        _ring_hints(mi, ai, queue, post, inring, hint, m)
    # (1) link
    code = _link_code(mi, ai, queue, m)
    if code >= 0:
        return code
    last_turn = rounds_remaining(mi, m) <= 1
    spent = state[m, IS_START] - budget
    guard = budget > _n_suspect(mi, ai, queue, post, m) + _reserve(mi, m)
    may_pull = spent < state[m, IS_ALLOW] and guard
    hunt = -1
    if may_pull and rings:
        hunt = _hunt_code(mi, ai, queue, post, inring, keys, m)
    # (2) confident non-legit verdict, except on the ad about to be hunted
    q = _best_non_legit(mi, ai, queue, post, m, RH_DECIDE_THRESHOLD, (hunt - 1) // PER_AD if hunt > 0 else -1)
    if q >= 0:
        return _verdict_code(post, m, q, vmax)
    # (3) pull: hunting first, then the entropy pull
    if may_pull:
        if hunt >= 0:
            return hunt
        code = _pull_code(mi, ai, queue, post, m)
        if code >= 0:
            return code
    # (4), (5)
    code = _late_verdict(mi, ai, queue, post, vmax, m, last_turn, guard, RH_APPROVE_THRESHOLD)
    if code >= 0:
        return code
    return 0


# ------------------------------------------------------------------------------------------------------------------
# ReactiveFraudster


@njit(cache=True)
def _fraud_turn(mi, state, m) -> None:
    """``ReactiveFraudster._start_turn_if_new``: the turn's quota, fixed at its first call."""
    props_left = mi[m, MI_MAX_PROPS] - mi[m, MI_NPROPS]
    rnd = mi[m, MI_ROUND]
    used = mi[m, MI_NPROPS]
    new_match = used < state[m, FS_LAST_USED]
    state[m, FS_LAST_USED] = used
    if new_match or rnd != state[m, FS_ROUND]:
        state[m, FS_ROUND] = rnd
        cap = mi[m, MI_CAP] - mi[m, MI_TURN]
        rounds = max(1, rounds_remaining(mi, m))
        state[m, FS_QUOTA] = min(cap, -(-props_left // rounds))
        state[m, FS_PROPOSED] = 0


@njit(cache=True)
def _choose_category(mi, ai, vorder, m, allowed) -> int:
    """``ReactiveFraudster.choose_category`` over the categories of bit mask ``allowed``: severity × group approval
    odds over own proposals with a manual verdict; ties: less recently used, then canonical order."""
    approved = np.zeros(3, np.int64)
    decided = np.zeros(3, np.int64)
    for k in range(mi[m, MI_NVERD]):
        s = vorder[m, k]
        if ai[m, s, AI_PROPOSAL]:
            gi = CAT_GROUP[ai[m, s, AI_CAT]]
            decided[gi] += 1
            if ai[m, s, AI_STATUS] == ST_APPROVE:
                approved[gi] += 1
    last_used = np.full(N_CAT, -1, np.int64)
    for s in range(mi[m, MI_NBASE], mi[m, MI_NSLOTS]):
        c = ai[m, s, AI_CAT]
        last_used[c] = max(last_used[c], ai[m, s, AI_SLOT])
    best = -1
    best_score = 0.0
    best_recent = 0
    for c in range(N_CAT):
        if not (allowed >> c) & 1:
            continue
        gi = CAT_GROUP[c]
        odds = (approved[gi] + 1) / (decided[gi] + 2)
        score = CAT_SEVERITY[c] * odds
        recent = -last_used[c]
        if best < 0 or score > best_score or (score == best_score and recent > best_recent):
            best = c
            best_score = score
            best_recent = recent
    return best


@njit(cache=True)
def _camouflage(mi, ai, queue, fdec, m) -> None:
    """``ReactiveFraudster.choose_camouflage``: the two targets pulled most over all ads (ties canonical) into
    ``fdec[m, 3:5]``."""
    counts = np.zeros(6, np.int64)
    for q in range(mi[m, MI_NQUEUE]):
        pb = ai[m, queue[m, q], AI_PULLED]
        for t in range(6):
            if (pb >> t) & 1:
                counts[t] += 1
    t1 = 0
    for t in range(1, 6):
        if counts[t] > counts[t1]:
            t1 = t
    t2 = 0 if t1 != 0 else 1
    for t in range(6):
        if t != t1 and counts[t] > counts[t2]:
            t2 = t
    fdec[m, 3] = t1
    fdec[m, 4] = t2


@njit(cache=True)
def fraudster_decide(mi, ai, vorder, queue, state, fdec, m) -> None:
    """The ReactiveFraudster's decision for match ``m`` into ``fdec[m]``: (kind, category, n camouflage, t1, t2).

    kind is ``FD_END``, ``FD_COMMIT`` or ``FD_PROPOSE``; a proposal's camouflage targets are ``t1, t2`` (the first
    ``n``) in the bot's ranked order. Updates the per-turn quota ``state[m]``.
    """
    props_left = mi[m, MI_MAX_PROPS] - mi[m, MI_NPROPS]
    if props_left <= 0:
        fdec[m, 0] = FD_COMMIT
        return
    _fraud_turn(mi, state, m)
    allowed = mi[m, MI_ALLOWED]
    if state[m, FS_PROPOSED] >= state[m, FS_QUOTA] or allowed == 0:
        fdec[m, 0] = FD_END
        return
    # camouflage size: min(2, allowance left, ceil(allowance left / proposals left))
    left = mi[m, MI_CAMO_ALLOW] - mi[m, MI_CAMO_USED]
    state[m, FS_PROPOSED] += 1
    fdec[m, 0] = FD_PROPOSE
    fdec[m, 1] = _choose_category(mi, ai, vorder, m, allowed)
    fdec[m, 2] = min(2, min(left, -(-left // max(1, props_left))))
    _camouflage(mi, ai, queue, fdec, m)


# ------------------------------------------------------------------------------------------------------------------
# CamouflageFraudster


@njit(cache=True)
def camouflage_decide(mi, ai, vorder, queue, state, fdec, m) -> None:
    """The CamouflageFraudster's decision for match ``m`` into ``fdec[m]`` (as :func:`fraudster_decide`): one
    proposal per turn until ``min(max_proposals, max(1, allowance // 2))`` are placed (the total fixed on its first
    call, and again on every round-1 call before any proposal), each in the best group-M category with two
    camouflaged targets; otherwise end_turn, never commit_final."""
    used = mi[m, MI_NPROPS]
    if state[m, FS_TOTAL] < 0 or (used == 0 and mi[m, MI_ROUND] == 1):
        allowance = mi[m, MI_CAMO_ALLOW] - mi[m, MI_CAMO_USED]
        state[m, FS_TOTAL] = min(mi[m, MI_MAX_PROPS], max(1, allowance // 2))
    _fraud_turn(mi, state, m)
    allowed = mi[m, MI_ALLOWED]
    if (used >= state[m, FS_TOTAL] or mi[m, MI_MAX_PROPS] - used <= 0 or state[m, FS_PROPOSED] >= 1
            or allowed == 0):
        fdec[m, 0] = FD_END
        return
    low = allowed & M_GROUP_MASK
    state[m, FS_PROPOSED] += 1
    fdec[m, 0] = FD_PROPOSE
    fdec[m, 1] = _choose_category(mi, ai, vorder, m, low if low != 0 else allowed)
    fdec[m, 2] = min(2, mi[m, MI_CAMO_ALLOW] - mi[m, MI_CAMO_USED])
    _camouflage(mi, ai, queue, fdec, m)


# ------------------------------------------------------------------------------------------------------------------
# The batch loop


@njit(cache=True)
def decide_batch(mi, ai, outc, vorder, queue, ms, inv_kind, fraud_kind, prior, pcache, pkey, shared_gray,
                 shared_no_gray, hint, keys, istate, fstate, post, inring, vmax, codes, fdec) -> None:
    """Decisions of the core bots for the matches ``ms``: ``codes[m]`` for the Investigator (-1: not its seat),
    ``fdec[m]`` for the Fraudster (``fdec[m, 0]`` = ``FD_NONE``: not its seat); ``inv_kind``/``fraud_kind`` name
    each match's bots (``BOT_NONE`` or a ``BOT_*`` code)."""
    for i in range(ms.shape[0]):
        m = ms[i]
        codes[m] = -1
        fdec[m, 0] = FD_NONE
        ph = mi[m, MI_PHASE]
        if ph == PH_INVESTIGATOR:
            if inv_kind[m] == BOT_SCRIPTED:
                codes[m] = investigator_decide(mi, ai, outc, queue, prior, pcache, pkey, shared_gray, shared_no_gray,
                                               istate, post, inring, vmax, m)
            elif inv_kind[m] == BOT_RINGHUNTER:
                codes[m] = ringhunter_decide(mi, ai, outc, queue, prior, pcache, pkey, shared_gray, shared_no_gray,
                                             istate, post, inring, hint, keys, vmax, m)
        elif ph == PH_FRAUDSTER:
            if fraud_kind[m] == BOT_REACTIVE:
                fraudster_decide(mi, ai, vorder, queue, fstate, fdec, m)
            elif fraud_kind[m] == BOT_CAMOUFLAGE:
                camouflage_decide(mi, ai, vorder, queue, fstate, fdec, m)


class CoreBots:
    """The house bots of some seats of a ``CoreBatch``, deciding in batch (see the module docstring).

    ``act(ms)`` applies one action of each listed match whose current seat is a core bot, in place: Investigator
    codes and Fraudster end_turn/commit_final through ``batch.step`` (verdict confidence ``round(max p, 2)`` in
    ``conf``), proposals through ``batch.propose``. After it, for every match it acted on, ``last_code[m]`` is the
    flat action code applied (``arena/core/actions.py``; a proposal's code names its category and canonical
    camouflage set), ``last_conf[m]`` the verdict confidence, and ``last_proposal[m]`` the proposal's
    (category, camouflage in the bot's ranked order, copy, targeting, blurb).

    The bots read the core's arrays only; ``features`` is kept for the runner's convenience and never updated
    here (its float32 posterior is the encoder's, not the bot's).
    """

    def __init__(self, batch: CoreBatch, features: CoreFeatures | None = None) -> None:
        m, a = batch.n_matches, batch.n_slots
        self.batch = batch
        self.features = features
        self.inv_kind = np.zeros(m, np.int64)  # BOT_NONE / BOT_SCRIPTED / BOT_RINGHUNTER
        self.fraud_kind = np.zeros(m, np.int64)  # BOT_NONE / BOT_REACTIVE / BOT_CAMOUFLAGE
        self.prior = np.zeros((m, 3))
        self.hint = np.ones((m, 2))  # the RingHunterInvestigator's two ring-hint factors per match
        self.keys = np.zeros((4 * a, 4), np.int64)  # scratch of _hunt_code
        self.inring = np.zeros((m, a), np.bool_)
        self.pcache = np.zeros((m, a, 3))
        self.pkey = np.full((m, a), -1, np.int64)
        self.post = np.zeros((m, a, 3))
        self.vmax = np.zeros(m)
        self.istate = np.zeros((m, 3), np.int64)
        self.fstate = np.zeros((m, 5), np.int64)
        self.codes = np.full(m, -1, np.int64)
        self.fdec = np.zeros((m, 5), np.int64)
        self.rngs: list[random.Random | None] = [None] * m
        self.actions = np.full(m, -1, np.int64)
        self.conf = np.zeros(m)
        self.last_code = np.full(m, -1, np.int64)
        self.last_conf = np.zeros(m)
        self.last_proposal: dict[int, tuple[str, tuple[str, ...], str, str, str]] = {}

    def on_reset(self, m: int, investigator: str | None, fraudster: str | None, seeds: dict[str, int]) -> None:
        """Seat the bots of match ``m``; call after every ``batch.reset(m, ...)``, also when no seat is a bot (it
        clears the match's seats and bot state). ``investigator`` in ``INVESTIGATOR_KINDS``, ``fraudster`` in
        ``FRAUDSTER_KINDS``, ``None`` for a seat that is not a core bot; ``seeds[role]`` is the bot's seed
        (``arena.rng.bot_seed``), needed for a Fraudster bot (its text stream)."""
        if investigator is not None and investigator not in INVESTIGATOR_KINDS:
            raise ValueError(f"no core bot {investigator!r} for the investigator; one of {INVESTIGATOR_KINDS}")
        if fraudster is not None and fraudster not in FRAUDSTER_KINDS:
            raise ValueError(f"no core bot {fraudster!r} for the fraudster; one of {FRAUDSTER_KINDS}")
        info = self.batch.texts[m]
        assert info is not None, "call batch.reset(m, ...) first"
        self.inv_kind[m] = BOT_NONE if investigator is None else INVESTIGATOR_BOTS[investigator]
        self.fraud_kind[m] = BOT_NONE if fraudster is None else FRAUDSTER_BOTS[fraudster]
        max_props = int(self.batch.mi[m, MI_MAX_PROPS])
        self.prior[m] = belief.log_prior(info.task_id, max_props)
        task = TASKS[info.task_id]
        # RingHunterInvestigator.beliefs: s ≈ P(a fraud ad shares a given identifier kind), the two factors
        share = 0.75 * task.n_fraud / max(1, task.n_fraud + max_props)
        q = _OVERLAP_HI_BUCKET_FRAUD / 41
        self.hint[m] = ((share + _NOISE_GE3 * (1 - share)) / _NOISE_GE3, (share / 15 + (1 - share) * q) / q)
        self.pkey[m] = -1
        self.istate[m] = (-1, 0, 0)
        self.fstate[m] = (-1, 0, 0, 0, -1)
        self.rngs[m] = random.Random(seeds["fraudster"]) if fraudster is not None else None

    def act(self, ms: np.ndarray) -> np.ndarray:
        """Apply one bot action to each match of ``ms`` whose current seat is a core bot; returns ``last_code[ms]``
        (-1 where no bot acted)."""
        b = self.batch
        ms = np.asarray(ms, np.int64)
        decide_batch(b.mi, b.ai, b.outc, b.vorder, b.queue, ms, self.inv_kind, self.fraud_kind, self.prior,
                     self.pcache, self.pkey, SHARED_GRAY, SHARED_NO_GRAY, self.hint, self.keys, self.istate,
                     self.fstate, self.post, self.inring, self.vmax, self.codes, self.fdec)
        actions, conf = self.actions, self.conf
        self.last_code[ms] = -1
        self.last_conf[ms] = 0.0
        proposals = []
        stepped = False
        for m in ms.tolist():
            code = int(self.codes[m])
            if code >= 0:  # the Investigator
                if code > 0 and (code - 1) % PER_AD >= K_VERDICT and (code - 1) % PER_AD < K_LINK:
                    conf[m] = self.last_conf[m] = round(float(self.vmax[m]), 2)
                actions[m] = code
                self.last_code[m] = code
                stepped = True
                continue
            kind = int(self.fdec[m, 0])
            if kind == FD_NONE:
                continue
            if kind == FD_PROPOSE:
                proposals.append(m)
            else:
                code = FRAUD_COMMIT if kind == FD_COMMIT else FRAUD_END
                actions[m] = code
                self.last_code[m] = code
                stepped = True
        if stepped:
            b.step(actions, conf)
            actions[ms] = -1
        if proposals:
            self.batch.propose_many([self._proposal(m) for m in proposals])
        return self.last_code[ms]

    def _proposal(self, m: int) -> Proposal:
        """Compose the proposal's texts with the bot's own stream (``ReactiveFraudster.propose``, which the
        CamouflageFraudster inherits); the caller applies it."""
        b = self.batch
        info = b.texts[m]
        rng = self.rngs[m]
        assert info is not None and rng is not None
        _kind, c, n, t1, t2 = (int(x) for x in self.fdec[m])
        category = CATEGORIES[c].id
        camo = (TARGETS[t1], TARGETS[t2])[:n]
        nbase, nslots = int(b.mi[m, MI_NBASE]), int(b.mi[m, MI_NSLOTS])
        earlier = [info.copies[s] for s in range(nbase, nslots)]
        texts = textkit.fresh_plain_texts(rng, category, earlier, MAX_REDRAWS)
        canon = tuple(sorted(camo, key=TARGETS.index))
        self.last_code[m] = FRAUD_PROPOSE0 + N_CAMO * c + CAMO_INDEX[canon]
        self.last_proposal[m] = (category, camo, texts.copy, texts.targeting, texts.landing)
        return (m, category, camo, texts.copy, texts.targeting, texts.landing)
