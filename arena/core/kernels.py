"""The rules of the batched core as numba kernels over the struct-of-arrays state (``layout.py``).

Each kernel acts on one match ``m`` of the batch (the batch loops are in ``step_batch`` and friends) and
follows the referee's turn flow of ``docs/rules.md`` exactly: costing actions, turn caps, the publish step,
match end and the grader. Actions are the flat integer codes of ``docs/training.md`` ("Action codes"):

* Investigator: ``0`` end_turn; ``1 + 10*q + k`` on the ad at queue position ``q``: ``k`` 0–5 investigate
  ``TARGETS[k]``, 6–8 verdict approve/reject/escalate, 9 link the ad with its *partner* (the first ad in
  queue order that shares a revealed identifier with it and is not yet connected to it by links).
* Fraudster: ``0`` end_turn, ``1`` commit_final; proposals and modifications carry texts and are applied by
  the Python driver (``batch.py``), which then calls :func:`fraudster_capped`.

Return codes: ``OK`` (0), ``NEEDS_PYTHON`` (1, a proposal), or a negative ``ILLEGAL_*`` code; an illegal
action changes nothing. Copy edits of organic ads need the text composer, so the publish step writes *edit
events* ``events[m, e] = (slot, text_seed)`` (``mi[m, MI_NEDITS]`` of them) that the driver resolves before
the next decision.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .actions import K_LINK, K_VERDICT, PER_AD
from .layout import (
    AF_CCONF,
    AF_CCONF_SAFE,
    AF_CCONF_UNSAFE,
    AF_CONF,
    AF_CU1,
    AF_SEVERITY,
    AI_ARRIVED,
    AI_AUTO,
    AI_CM,
    AI_CMODE,
    AI_CUNSAFE,
    AI_DIRTY,
    AI_ID0,
    AI_KEY,
    AI_LABEL,
    AI_LATE,
    AI_MARKERS,
    AI_NPULL,
    AI_PDIFF,
    AI_PMARKERS,
    AI_PROPOSAL,
    AI_PULLED,
    AI_REV,
    AI_RING,
    AI_ROOT,
    AI_STAGED,
    AI_STATUS,
    AI_VROUND,
    END_ALL_DECIDED,
    END_BUDGET,
    END_COMMIT,
    END_MAX_ROUNDS,
    END_NONE,
    IDENT_TARGETS,
    LB_FRAUD,
    MI_ACTIONS,
    MI_ALLOWED,
    MI_BUDGET,
    MI_CAMO_ALLOW,
    MI_CAMO_USED,
    MI_CAP,
    MI_COMMITTED,
    MI_END,
    MI_FCAP,
    MI_FINAL_ROUND,
    MI_ICAP,
    MI_MAX_LINKS,
    MI_MAX_PROPS,
    MI_MAX_ROUNDS,
    MI_NBASE,
    MI_NEDITS,
    MI_NINV,
    MI_NLINKS,
    MI_NPROPS,
    MI_NQUEUE,
    MI_NRINGS,
    MI_NSLOTS,
    MI_NVERD,
    MI_PHASE,
    MI_RING_LINKS,
    MI_ROUND,
    MI_TERMS,
    MI_TURN,
    MI_UNPUB,
    MI_USED,
    NO_PENDING,
    ORGANIC_EDIT_P,
    PH_AUDIT,
    PH_FRAUDSTER,
    PH_INVESTIGATOR,
    ST_APPROVE,
    ST_PENDING,
    ST_REJECT,
    TERM_CALIBRATION,
    TERM_COVERAGE,
    TERM_LINKS,
)
from .tables import CLS_A, CLS_B, CORRECT_STATUS, GRADER

OK, NEEDS_PYTHON = 0, 1
ILLEGAL_PHASE, ILLEGAL_SLOT, ILLEGAL_PULL, ILLEGAL_VERDICT, ILLEGAL_LINK, ILLEGAL_CODE = -1, -2, -3, -4, -5, -6
#: grader outputs per match: score, raw, best, baseline, matrix, cost, efficiency, calibration, links, coverage
(GR_SCORE, GR_RAW, GR_BEST, GR_BASELINE, GR_MATRIX, GR_COST, GR_EFF, GR_CAL, GR_LINKS, GR_COVERAGE) = range(10)
N_GR = 10
_IT0, _IT1, _IT2, _IT3 = IDENT_TARGETS


@njit(cache=True, inline="always")
def popcount(x: int) -> int:
    """Number of set bits."""
    c = 0
    while x:
        c += x & 1
        x >>= 1
    return c


@njit(cache=True)
def _ident_bit(k: int) -> int:
    if k == 0:
        return 1 << _IT0
    if k == 1:
        return 1 << _IT1
    if k == 2:
        return 1 << _IT2
    return 1 << _IT3


@njit(cache=True)
def shares_revealed(ai, m, i, j) -> bool:
    """Whether ads ``i`` and ``j`` show the same value of an identifier both have revealed by a pull."""
    pi = ai[m, i, AI_PULLED]
    pj = ai[m, j, AI_PULLED]
    for k in range(4):
        bit = _ident_bit(k)
        if (pi & bit) and (pj & bit) and ai[m, i, AI_ID0 + k] != 0 and ai[m, i, AI_ID0 + k] == ai[m, j, AI_ID0 + k]:
            return True
    return False


@njit(cache=True)
def partner(mi, ai, queue, m, i) -> int:
    """The link partner of slot ``i`` (first queue ad sharing a revealed identifier, not yet connected), or -1."""
    root = ai[m, i, AI_ROOT]
    for q in range(mi[m, MI_NQUEUE]):
        j = queue[m, q]
        if j != i and ai[m, j, AI_ROOT] != root and shares_revealed(ai, m, i, j):
            return j
    return -1


@njit(cache=True)
def nothing_can_arrive(mi, m) -> bool:
    """No unpublished organic arrival and no proposal can still come."""
    return mi[m, MI_UNPUB] == 0 and (mi[m, MI_COMMITTED] != 0 or mi[m, MI_NPROPS] >= mi[m, MI_MAX_PROPS])


# ------------------------------------------------------------------------------------------------------------------
# Publish step, turn ends, match end


@njit(cache=True)
def _insert_queue(mi, ai, queue, m, slot, r) -> None:
    n = mi[m, MI_NQUEUE]
    key = ai[m, slot, AI_KEY]
    q = n
    while q > 0 and ai[m, queue[m, q - 1], AI_KEY] > key:
        queue[m, q] = queue[m, q - 1]
        q -= 1
    queue[m, q] = slot
    mi[m, MI_NQUEUE] = n + 1
    ai[m, slot, AI_ARRIVED] = r
    ai[m, slot, AI_DIRTY] = 1


@njit(cache=True)
def publish_step(mi, ai, queue, edits, events, m, r) -> None:
    """The publish step of round ``r`` (pending copy changes, organic edits, arrivals, staged proposals)."""
    nslots = mi[m, MI_NSLOTS]
    # (1) pending copy changes of published proposals
    for s in range(mi[m, MI_NBASE], nslots):
        if ai[m, s, AI_ARRIVED] > 0 and ai[m, s, AI_PMARKERS] != NO_PENDING:
            if ai[m, s, AI_PDIFF]:
                ai[m, s, AI_REV] += 1
                ai[m, s, AI_MARKERS] = ai[m, s, AI_PMARKERS]
                ai[m, s, AI_DIRTY] = 1
            ai[m, s, AI_PMARKERS] = NO_PENDING
            ai[m, s, AI_PDIFF] = 0
    # (2) organic edits, in queue order, one draw per pending organic ad (+ one for the new text's seed)
    if r >= 2:
        k = 0
        for q in range(mi[m, MI_NQUEUE]):
            s = queue[m, q]
            if ai[m, s, AI_PROPOSAL] or ai[m, s, AI_STATUS] != ST_PENDING:
                continue
            u = edits[m, r, k]
            k += 1
            if u < ORGANIC_EDIT_P:
                e = mi[m, MI_NEDITS]
                events[m, e, 0] = s
                events[m, e, 1] = np.int64(edits[m, r, k] * 4294967296.0)
                k += 1
                mi[m, MI_NEDITS] = e + 1
    # (3) arrivals: base ads at round 1, late ads of round r (all later ones too once committed)
    committed = mi[m, MI_COMMITTED] != 0
    for s in range(mi[m, MI_NBASE]):
        if ai[m, s, AI_ARRIVED] > 0:
            continue
        late = ai[m, s, AI_LATE]
        if (r == 1 and late == 0) or (late == r) or (committed and late > r):
            _insert_queue(mi, ai, queue, m, s, r)
            mi[m, MI_UNPUB] -= 1
    for s in range(mi[m, MI_NBASE], nslots):
        if ai[m, s, AI_STAGED]:
            ai[m, s, AI_STAGED] = 0
            _insert_queue(mi, ai, queue, m, s, r)


@njit(cache=True)
def grade(mi, ai, af, links, vorder, queue, gr, link_ok, m) -> None:
    """The grader (docs/rules.md, "Scoring") into ``gr[m]``; ``link_ok[m, k]`` = 1 correct, 2 credited."""
    sum_m = 0.0
    best = 0.0
    by0 = 0.0
    by1 = 0.0
    by2 = 0.0
    for q in range(mi[m, MI_NQUEUE]):
        s = queue[m, q]
        lab = ai[m, s, AI_LABEL]
        bonus = 0.1 * af[m, s, AF_SEVERITY] if lab == LB_FRAUD else 0.0
        v0 = GRADER[0, lab]
        v1 = GRADER[1, lab] + bonus
        v2 = GRADER[2, lab]
        st = ai[m, s, AI_STATUS]
        sum_m += v0 if st == ST_APPROVE else (v1 if st == ST_REJECT else v2)
        best += max(v0, max(v1, v2))
        by0 += v0
        by1 += v1
        by2 += v2
    baseline = max(by0, max(by1, by2))
    nverd = mi[m, MI_NVERD]
    correct = 0
    for k in range(nverd):
        s = vorder[m, k]
        if CORRECT_STATUS[ai[m, s, AI_LABEL]] == ai[m, s, AI_STATUS]:
            correct += 1
    eff = correct / max(1, mi[m, MI_USED])
    n_inv = mi[m, MI_NINV]
    raw = sum_m - 0.01 * n_inv + 0.2 * eff
    best += 0.2
    cal = 0.0
    terms = mi[m, MI_TERMS]
    if terms & TERM_CALIBRATION:
        if nverd < 3:
            cal = 0.5
        else:
            cnt = np.zeros(3, np.int64)
            csum = np.zeros(3)
            ccor = np.zeros(3, np.int64)
            for k in range(nverd):
                s = vorder[m, k]
                c = af[m, s, AF_CONF]
                b = 0 if c < 0.4 else (1 if c < 0.7 else 2)
                cnt[b] += 1
                csum[b] += c
                if CORRECT_STATUS[ai[m, s, AI_LABEL]] == ai[m, s, AI_STATUS]:
                    ccor[b] += 1
            ece = 0.0
            for b in range(3):
                if cnt[b]:
                    ece += (cnt[b] / nverd) * abs(csum[b] / cnt[b] - ccor[b] / cnt[b])
            cal = max(0.0, 1.0 - 2.0 * ece)
        raw += 0.15 * cal
        best += 0.15
    link_total = 0.0
    nl = mi[m, MI_NLINKS]
    if terms & TERM_LINKS:
        uf = np.arange(mi[m, MI_NSLOTS])
        for k in range(nl):
            a = links[m, k, 0]
            b = links[m, k, 1]
            ra = ai[m, a, AI_RING]
            if ra >= 0 and ra == ai[m, b, AI_RING]:
                x = a
                while uf[x] != x:
                    x = uf[x]
                y = b
                while uf[y] != y:
                    y = uf[y]
                if x != y:
                    uf[x] = y
                    link_total += 0.4
                    link_ok[m, k] = 2
                else:
                    link_ok[m, k] = 1
            else:
                link_total -= 0.25
                link_ok[m, k] = 0
        raw += link_total
        best += 0.4 * mi[m, MI_RING_LINKS]
    else:
        for k in range(nl):
            link_ok[m, k] = 0
    cov = 0.0
    if terms & TERM_COVERAGE:
        cov = 0.1 * min(1.0, nverd / max(1, mi[m, MI_NQUEUE]))
        raw += cov
        best += 0.1
    denom = best - baseline
    score = min(1.0, max(0.0, (raw - baseline) / denom)) if denom > 0 else 0.0
    gr[m, GR_SCORE] = score
    gr[m, GR_RAW] = raw
    gr[m, GR_BEST] = best
    gr[m, GR_BASELINE] = baseline
    gr[m, GR_MATRIX] = sum_m
    gr[m, GR_COST] = -0.01 * n_inv
    gr[m, GR_EFF] = 0.2 * eff
    gr[m, GR_CAL] = 0.15 * cal
    gr[m, GR_LINKS] = link_total
    gr[m, GR_COVERAGE] = cov


@njit(cache=True)
def match_end(mi, ai, af, links, vorder, queue, gr, link_ok, m, all_decided) -> None:
    """Auto-approve what is pending, set the end reason, grade, and open the audit phase."""
    for q in range(mi[m, MI_NQUEUE]):
        s = queue[m, q]
        if ai[m, s, AI_STATUS] == ST_PENDING:
            ai[m, s, AI_STATUS] = ST_APPROVE
            af[m, s, AF_CONF] = 0.0
            ai[m, s, AI_AUTO] = 1
            ai[m, s, AI_DIRTY] = 1
    if mi[m, MI_END] == END_NONE:
        mi[m, MI_END] = END_ALL_DECIDED if all_decided else END_MAX_ROUNDS
    mi[m, MI_FINAL_ROUND] = mi[m, MI_ROUND]
    grade(mi, ai, af, links, vorder, queue, gr, link_ok, m)
    mi[m, MI_PHASE] = PH_AUDIT
    mi[m, MI_TURN] = 0


@njit(cache=True)
def investigator_turn_end(mi, ai, af, links, vorder, queue, gr, link_ok, m) -> None:
    """End the Investigator's turn: the match ends, or the next round's Fraudster turn starts."""
    if (mi[m, MI_COMMITTED] != 0 or mi[m, MI_ROUND] >= mi[m, MI_MAX_ROUNDS]
            or (mi[m, MI_BUDGET] - mi[m, MI_USED] == 0 and nothing_can_arrive(mi, m))):
        match_end(mi, ai, af, links, vorder, queue, gr, link_ok, m, False)
        return
    mi[m, MI_ROUND] += 1
    mi[m, MI_PHASE] = PH_FRAUDSTER
    mi[m, MI_TURN] = 0
    mi[m, MI_CAP] = mi[m, MI_FCAP]


@njit(cache=True)
def fraudster_turn_end(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, m) -> None:
    """End the Fraudster's turn: publish, then the Investigator's turn (skipped when the budget is spent)."""
    publish_step(mi, ai, queue, edits, events, m, mi[m, MI_ROUND])
    mi[m, MI_PHASE] = PH_INVESTIGATOR
    mi[m, MI_TURN] = 0
    if mi[m, MI_COMMITTED] != 0:
        mi[m, MI_CAP] = mi[m, MI_ICAP] * (mi[m, MI_MAX_ROUNDS] - mi[m, MI_ROUND] + 1)
    else:
        mi[m, MI_CAP] = mi[m, MI_ICAP]
    if mi[m, MI_BUDGET] - mi[m, MI_USED] == 0:
        investigator_turn_end(mi, ai, af, links, vorder, queue, gr, link_ok, m)


@njit(cache=True)
def fraudster_capped(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, m) -> None:
    """Count a proposal or modification against the Fraudster's turn cap."""
    mi[m, MI_ACTIONS] += 1
    mi[m, MI_TURN] += 1
    if mi[m, MI_TURN] >= mi[m, MI_CAP]:
        fraudster_turn_end(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, m)


# ------------------------------------------------------------------------------------------------------------------
# Actions


@njit(cache=True)
def _after_costing(mi, ai, af, links, vorder, queue, gr, link_ok, m) -> None:
    mi[m, MI_USED] += 1
    mi[m, MI_TURN] += 1
    if nothing_can_arrive(mi, m):
        decided = True
        for q in range(mi[m, MI_NQUEUE]):
            if ai[m, queue[m, q], AI_STATUS] == ST_PENDING:
                decided = False
                break
        if decided:
            match_end(mi, ai, af, links, vorder, queue, gr, link_ok, m, True)
            return
    if mi[m, MI_BUDGET] - mi[m, MI_USED] == 0:
        if mi[m, MI_END] == END_NONE:
            mi[m, MI_END] = END_BUDGET
        investigator_turn_end(mi, ai, af, links, vorder, queue, gr, link_ok, m)
        return
    if mi[m, MI_TURN] >= mi[m, MI_CAP]:
        investigator_turn_end(mi, ai, af, links, vorder, queue, gr, link_ok, m)


@njit(cache=True)
def apply_investigator(mi, ai, af, links, vorder, queue, gr, link_ok, m, a, conf) -> int:
    """Apply Investigator action code ``a`` (verdict confidence ``conf``) to match ``m``."""
    if mi[m, MI_PHASE] != PH_INVESTIGATOR:
        return ILLEGAL_PHASE
    if a == 0:
        mi[m, MI_ACTIONS] += 1
        investigator_turn_end(mi, ai, af, links, vorder, queue, gr, link_ok, m)
        return OK
    if a < 0:
        return ILLEGAL_CODE
    q = (a - 1) // PER_AD
    k = (a - 1) % PER_AD
    if q >= mi[m, MI_NQUEUE]:
        return ILLEGAL_SLOT
    s = queue[m, q]
    if mi[m, MI_BUDGET] - mi[m, MI_USED] <= 0:
        return ILLEGAL_PULL
    if k < K_VERDICT:
        bit = 1 << k
        if ai[m, s, AI_PULLED] & bit or ai[m, s, AI_NPULL] >= 3:
            return ILLEGAL_PULL
        ai[m, s, AI_PULLED] |= bit
        ai[m, s, AI_NPULL] += 1
        if k == 5:  # the classifier decides on the markers shown now
            mc = min(3, popcount(ai[m, s, AI_MARKERS]))
            md = ai[m, s, AI_CMODE]
            unsafe = af[m, s, AF_CU1] < CLS_A[md] + CLS_B[md] * mc
            ai[m, s, AI_CUNSAFE] = 1 if unsafe else 0
            ai[m, s, AI_CM] = mc
            af[m, s, AF_CCONF] = af[m, s, AF_CCONF_UNSAFE] if unsafe else af[m, s, AF_CCONF_SAFE]
        mi[m, MI_NINV] += 1
    elif k < K_LINK:
        if ai[m, s, AI_STATUS] != ST_PENDING:
            return ILLEGAL_VERDICT
        ai[m, s, AI_STATUS] = k - K_VERDICT + 1
        af[m, s, AF_CONF] = conf
        ai[m, s, AI_VROUND] = mi[m, MI_ROUND]
        vorder[m, mi[m, MI_NVERD]] = s
        mi[m, MI_NVERD] += 1
    else:
        if mi[m, MI_NRINGS] == 0 or mi[m, MI_NLINKS] >= mi[m, MI_MAX_LINKS]:
            return ILLEGAL_LINK
        b = partner(mi, ai, queue, m, s)
        if b < 0:
            return ILLEGAL_LINK
        n = mi[m, MI_NLINKS]
        links[m, n, 0] = s
        links[m, n, 1] = b
        mi[m, MI_NLINKS] = n + 1
        lo = min(ai[m, s, AI_ROOT], ai[m, b, AI_ROOT])
        hi = max(ai[m, s, AI_ROOT], ai[m, b, AI_ROOT])
        for j in range(mi[m, MI_NSLOTS]):
            if ai[m, j, AI_ROOT] == hi:
                ai[m, j, AI_ROOT] = lo
        ai[m, b, AI_DIRTY] = 1
    ai[m, s, AI_DIRTY] = 1
    mi[m, MI_ACTIONS] += 1
    _after_costing(mi, ai, af, links, vorder, queue, gr, link_ok, m)
    return OK


@njit(cache=True)
def apply_fraudster(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, m, a) -> int:
    """Apply Fraudster control code ``a`` (0 end_turn, 1 commit_final); proposals return NEEDS_PYTHON."""
    if mi[m, MI_PHASE] != PH_FRAUDSTER:
        return ILLEGAL_PHASE
    if a == 0:
        mi[m, MI_ACTIONS] += 1
        fraudster_turn_end(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, m)
        return OK
    if a == 1:
        mi[m, MI_ACTIONS] += 1
        mi[m, MI_COMMITTED] = 1
        if mi[m, MI_END] == END_NONE:
            mi[m, MI_END] = END_COMMIT
        fraudster_turn_end(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, m)
        return OK
    if a < 0:
        return ILLEGAL_CODE
    return NEEDS_PYTHON


@njit(cache=True)
def step_batch(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, actions, conf, codes) -> None:
    """Apply ``actions[m]`` (skipped where negative) for every match; ``codes[m]`` gets the return code."""
    for m in range(mi.shape[0]):
        a = actions[m]
        if a < 0:
            codes[m] = OK
            continue
        ph = mi[m, MI_PHASE]
        if ph == PH_INVESTIGATOR:
            codes[m] = apply_investigator(mi, ai, af, links, vorder, queue, gr, link_ok, m, a, conf[m])
        elif ph == PH_FRAUDSTER:
            codes[m] = apply_fraudster(mi, ai, af, links, vorder, queue, edits, events, gr, link_ok, m, a)
        else:
            codes[m] = ILLEGAL_PHASE



# ------------------------------------------------------------------------------------------------------------------
# Legal-action masks (flat codes of ``actions.py``)


@njit(cache=True)
def investigator_mask(mi, ai, queue, m, out) -> None:
    """Write match ``m``'s legal Investigator codes into the bool row ``out`` (all False off-turn)."""
    out[:] = False
    if mi[m, MI_PHASE] != PH_INVESTIGATOR:
        return
    out[0] = True
    n = mi[m, MI_NQUEUE]
    link_ok = (mi[m, MI_NRINGS] > 0 and mi[m, MI_MAX_LINKS] - mi[m, MI_NLINKS] > 0 and n >= 2)
    for q in range(n):
        s = queue[m, q]
        base = 1 + PER_AD * q
        pb = ai[m, s, AI_PULLED]
        if ai[m, s, AI_NPULL] < 3:
            for t in range(6):
                if not (pb >> t) & 1:
                    out[base + t] = True
        if ai[m, s, AI_STATUS] == ST_PENDING:
            out[base + K_VERDICT] = True
            out[base + K_VERDICT + 1] = True
            out[base + K_VERDICT + 2] = True
        if link_ok and partner(mi, ai, queue, m, s) >= 0:
            out[base + K_LINK] = True


@njit(cache=True)
def fraudster_mask(mi, m, camo_size, n_cat, out) -> None:
    """Write match ``m``'s legal Fraudster codes into the bool row ``out`` (all False off-turn)."""
    out[:] = False
    if mi[m, MI_PHASE] != PH_FRAUDSTER:
        return
    out[0] = True
    out[1] = True
    if mi[m, MI_NPROPS] >= mi[m, MI_MAX_PROPS]:
        return
    left = mi[m, MI_CAMO_ALLOW] - mi[m, MI_CAMO_USED]
    n_camo = camo_size.shape[0]
    allowed = mi[m, MI_ALLOWED]
    for c in range(n_cat):
        if (allowed >> c) & 1:
            for s in range(n_camo):
                if camo_size[s] <= left:
                    out[2 + n_camo * c + s] = True


@njit(cache=True)
def masks_batch(mi, ai, queue, camo_size, n_cat, inv_out, fraud_out) -> None:
    """Both roles' masks for every match."""
    for m in range(mi.shape[0]):
        investigator_mask(mi, ai, queue, m, inv_out[m])
        fraudster_mask(mi, m, camo_size, n_cat, fraud_out[m])
