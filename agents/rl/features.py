"""Encoder features of the batched core's matches, written by numba kernels into preallocated buffers.

The numbers are those of ``agents/encoders.py`` (``encode_investigator`` / ``encode_fraudster``), computed
from the core's arrays instead of observation dicts: per-ad rows in queue order, the global vectors, the
effective posterior (the verdict confidence) and each ad's link partner. Offsets are derived from the
encoder's constants; ``tests/agents/test_core_features.py`` checks every value against the encoders.

An ad's *static* row part (everything but arrival-this-round, ring evidence, the posterior block and the
decision flags) is recomputed only when the core marks the ad dirty (a pull, verdict, copy change or
arrival), so a step costs one static row plus the cheap per-step columns.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fraudarena.agents.bots.belief import _COND_H, CLASSIFIER_OUTCOMES, JOINT_OUTCOMES
from fraudarena.agents.rl.encoders import (
    _EVIDENCE_WIDTH,
    _FLAG_COL,
    _LINK_COL,
    _NEW_COL,
    _POST_COLS,
    _RING_COLS,
    _RING_TAIL,
    _STATIC_WIDTH,
    AD_FEATURES,
    DECIDE,
    FRAUD_GLOBAL_FEATURES,
    INV_GLOBAL_FEATURES,
    MARKERS,
    N_CAT,
    STATUSES,
    task_prior,
)
from fraudarena.arena.core import kernels as K
from fraudarena.arena.core.layout import (
    AF_CCONF,
    AF_CONF,
    AI_ARRIVED,
    AI_CAT,
    AI_CM,
    AI_CORE,
    AI_CUNSAFE,
    AI_DIRTY,
    AI_GROUP,
    AI_MARKERS,
    AI_NPULL,
    AI_PROPOSAL,
    AI_PULLED,
    AI_REV,
    AI_ROOT,
    AI_STAGED,
    AI_STATUS,
    MARKER_NAMES,
    MI_ALLOWED,
    MI_BUDGET,
    MI_CAMO_ALLOW,
    MI_CAMO_USED,
    MI_CAP,
    MI_COMMITTED,
    MI_MAX_LINKS,
    MI_MAX_PROPS,
    MI_MAX_ROUNDS,
    MI_NBASE,
    MI_NLINKS,
    MI_NPROPS,
    MI_NQUEUE,
    MI_NRINGS,
    MI_NSLOTS,
    MI_NVERD,
    MI_PHASE,
    MI_ROUND,
    MI_TASK,
    MI_TURN,
    MI_UNPUB,
    MI_USED,
    PH_AUDIT,
    PH_FRAUDSTER,
    PH_INVESTIGATOR,
)
from fraudarena.arena.core.tables import (
    CAT_GROUP,
    CAT_SEVERITY,
    CLS_A,
    CLS_B,
    FIELD_LOGP,
    FIELD_TARGET,
    FIELD_WIDTH,
    N_FIELDS,
    TASK_INDEX,
)
from fraudarena.arena.spec import CATEGORY_GROUPS, COUNTRY_GROUP_PROBS, GROUP_PROBS, LABELS, STYLE_PROBS, TARGETS, TASKS

assert MARKERS == MARKER_NAMES  # the encoder's marker columns are the core's marker bits
N_TASKS = len(TASK_INDEX)
N_TARGETS = len(TARGETS)
N_STATUS = len(STATUSES)

# --- the row layout, derived from the encoder's block widths (agents/encoders.py, _static_ad_row) -------------
C_CAT = 0
C_GROUP = C_CAT + N_CAT
C_COUNTRY = C_GROUP + len(CATEGORY_GROUPS)
C_MARKERS = C_COUNTRY + 2
C_MCOUNT = C_MARKERS + len(MARKERS)
C_REV = C_MCOUNT + 1
C_ARRIVED = C_REV + 1
C_STATUS = C_ARRIVED + 1
C_CONF = C_STATUS + N_STATUS
C_PULLED = C_CONF + 1
C_NPULLED = C_PULLED + N_TARGETS
C_EVIDENCE = C_NPULLED + 1
C_CLS = C_EVIDENCE + _EVIDENCE_WIDTH - 2
C_PENDING = C_EVIDENCE + _EVIDENCE_WIDTH
C_EER = C_PENDING + 1
assert C_EER + N_TARGETS == _STATIC_WIDTH == _NEW_COL
C_RING = _RING_COLS.start
C_LINK = _LINK_COL
C_TAIL = _POST_COLS.start
C_FLAGS = _FLAG_COL
assert C_FLAGS + 5 == AD_FEATURES
FIELD_OFF = np.concatenate([[0], np.cumsum(FIELD_WIDTH)[:-1]]).astype(np.int64)
assert int(FIELD_WIDTH.sum()) == _EVIDENCE_WIDTH - 2

# --- likelihood tables ----------------------------------------------------------------------------------------------
LOG_GROUP = np.array([[math.log(p) for p in GROUP_PROBS[lab]] for lab in LABELS])
LOG_STYLE = np.array([[math.log(p) for p in STYLE_PROBS[lab]] for lab in LABELS])
LOG_COUNTRY = np.array([[math.log(p) for p in COUNTRY_GROUP_PROBS[lab]] for lab in LABELS])
JOINT_N = np.array([len(JOINT_OUTCOMES[t]) for t in TARGETS[:5]], np.int64)
JOINT = np.zeros((5, int(JOINT_N.max()), 3))
for _t, _name in enumerate(TARGETS[:5]):
    for _k, _lik in enumerate(JOINT_OUTCOMES[_name]):
        JOINT[_t, _k] = _lik
CLS_OUT = np.array([CLASSIFIER_OUTCOMES[m] for m in range(4)])  # [m, outcome, label]
COND_H = np.array([_COND_H[t] for t in TARGETS[:5]] + [_COND_H[("policy_classifier", m)] for m in range(4)])
RING_TAIL = _RING_TAIL.astype(np.float32)
LOG3 = math.log(3)
#: per task: the spec's per-turn Investigator cap and link limit (the encoder reads the task, not overrides)
TASK_ICAP = np.array([TASKS[t].max_investigator_actions_per_turn for t in TASK_INDEX], np.int64)
TASK_MAX_LINKS = np.array([max(1, TASKS[t].max_links) for t in TASK_INDEX], np.int64)


@njit(cache=True)
def _eer(p0, p1, p2, t, mc) -> float:
    """Expected entropy reduction of pulling target ``t`` (belief.expected_entropy_reduction)."""
    h = 0.0
    if t < 5:
        for k in range(JOINT_N[t]):
            z = p0 * JOINT[t, k, 0] + p1 * JOINT[t, k, 1] + p2 * JOINT[t, k, 2]
            if z > 0.0:
                h -= z * math.log(z)
        c = COND_H[t]
    else:
        for k in range(2):
            z = p0 * CLS_OUT[mc, k, 0] + p1 * CLS_OUT[mc, k, 1] + p2 * CLS_OUT[mc, k, 2]
            if z > 0.0:
                h -= z * math.log(z)
        c = COND_H[5 + mc]
    return h - (p0 * c[0] + p1 * c[1] + p2 * c[2])


@njit(cache=True)
def findings_log_likelihood(ai, outc, m, s) -> tuple[float, float, float]:
    """Σ log P(Finding | label) over slot ``s``'s pulled targets (``belief.findings_log_likelihood``'s order)."""
    pb = ai[m, s, AI_PULLED]
    ll0 = 0.0
    ll1 = 0.0
    ll2 = 0.0
    for t in range(5):
        if not (pb >> t) & 1:
            continue
        l0 = 0.0
        l1 = 0.0
        l2 = 0.0
        for j in range(N_FIELDS):
            if FIELD_TARGET[j] == t:
                k = outc[m, s, j]
                l0 += FIELD_LOGP[j, 0, k]
                l1 += FIELD_LOGP[j, 1, k]
                l2 += FIELD_LOGP[j, 2, k]
        ll0 += l0
        ll1 += l1
        ll2 += l2
    if (pb >> 5) & 1:
        unsafe = ai[m, s, AI_CUNSAFE] != 0
        cm = ai[m, s, AI_CM]
        for li in range(3):
            p = CLS_A[li] + CLS_B[li] * min(3, cm)
            x = math.log(p if unsafe else 1.0 - p)
            if li == 0:
                ll0 += x
            elif li == 1:
                ll1 += x
            else:
                ll2 += x
    return ll0, ll1, ll2


@njit(cache=True)
def ad_posterior(ai, outc, prior, m, s) -> tuple[float, float, float]:
    """``belief.posterior`` of slot ``s``: softmax(prior[m] + surface + Findings), in belief.py's float order.

    ``prior[m]`` is a log prior; a ``-inf`` entry (the bots' ``belief.log_prior`` of a label without ads) gives
    probability exactly 0, as ``belief.normalise`` does. The encoder (``static_row``) and the house bots of
    ``core_bots.py`` share this function, each with its own prior.
    """
    g = ai[m, s, AI_GROUP]
    style = 1 if ai[m, s, AI_MARKERS] != 0 else 0
    cg = 0 if ai[m, s, AI_CORE] else 1
    ll0, ll1, ll2 = findings_log_likelihood(ai, outc, m, s)
    lp0 = prior[m, 0] + (LOG_GROUP[0, g] + LOG_STYLE[0, style] + LOG_COUNTRY[0, cg]) + ll0
    lp1 = prior[m, 1] + (LOG_GROUP[1, g] + LOG_STYLE[1, style] + LOG_COUNTRY[1, cg]) + ll1
    lp2 = prior[m, 2] + (LOG_GROUP[2, g] + LOG_STYLE[2, style] + LOG_COUNTRY[2, cg]) + ll2
    mx = max(lp0, max(lp1, lp2))
    if mx == -np.inf:
        return 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0
    e0 = math.exp(lp0 - mx)
    e1 = math.exp(lp1 - mx)
    e2 = math.exp(lp2 - mx)
    tot = e0 + e1 + e2
    return e0 / tot, e1 / tot, e2 / tot


@njit(cache=True)
def static_row(mi, ai, af, outc, prior, m, s, row) -> None:
    """The static part of slot ``s``'s row and its own posterior block (zeros in the dynamic columns)."""
    row[:] = 0.0
    ci = ai[m, s, AI_CAT]
    g = ai[m, s, AI_GROUP]
    row[C_CAT + ci] = 1.0
    row[C_GROUP + g] = 1.0
    core = ai[m, s, AI_CORE]
    row[C_COUNTRY + (0 if core else 1)] = 1.0
    mk = ai[m, s, AI_MARKERS]
    nm = 0
    for b in range(6):
        if (mk >> b) & 1:
            row[C_MARKERS + b] = 1.0
            nm += 1
    mc = min(3, nm)
    row[C_MCOUNT] = mc / 3.0
    row[C_REV] = min(3, ai[m, s, AI_REV]) / 3.0
    ar = ai[m, s, AI_ARRIVED]
    row[C_ARRIVED] = (ar if ar else 1) / max(1, mi[m, MI_MAX_ROUNDS])
    st = ai[m, s, AI_STATUS]
    row[C_STATUS + st] = 1.0
    row[C_CONF] = af[m, s, AF_CONF] if st != 0 else 0.0
    pb = ai[m, s, AI_PULLED]
    npl = 0
    for t in range(6):
        if (pb >> t) & 1:
            row[C_PULLED + t] = 1.0
            npl += 1
    row[C_NPULLED] = npl / 3.0
    for j in range(N_FIELDS):
        if (pb >> FIELD_TARGET[j]) & 1:
            row[C_EVIDENCE + FIELD_OFF[j] + outc[m, s, j]] = 1.0
    if (pb >> 5) & 1:
        row[C_CLS] = 1.0 if ai[m, s, AI_CUNSAFE] != 0 else -1.0
        row[C_CLS + 1] = af[m, s, AF_CCONF]
    row[C_PENDING] = 1.0 if st == 0 else 0.0
    p0, p1, p2 = ad_posterior(ai, outc, prior, m, s)
    if npl < 3:
        for t in range(6):
            if not (pb >> t) & 1:
                row[C_EER + t] = 4.0 * _eer(p0, p1, p2, t, mc)
    row[C_TAIL] = p0
    row[C_TAIL + 1] = p1
    row[C_TAIL + 2] = p2
    row[C_TAIL + 3] = max(-8.0, math.log(p0 + 1e-9)) / 8.0
    row[C_TAIL + 4] = max(-8.0, math.log(p1 + 1e-9)) / 8.0
    row[C_TAIL + 5] = max(-8.0, math.log(p2 + 1e-9)) / 8.0
    row[C_TAIL + 6] = -(p0 * math.log(p0 + 1e-9) + p1 * math.log(p1 + 1e-9) + p2 * math.log(p2 + 1e-9)) / LOG3
    best = p0
    bi = 0
    if p1 > best:
        best = p1
        bi = 1
    if p2 > best:
        best = p2
        bi = 2
    row[C_TAIL + 7] = best
    row[C_TAIL + 8] = bi / 2.0


@njit(cache=True)
def rounds_remaining(mi, m) -> int:
    """The header's ``rounds_remaining``: 0 once play has ended, 1 after a commit, else the rounds left."""
    ph = mi[m, MI_PHASE]
    if ph >= PH_AUDIT:
        return 0
    if mi[m, MI_COMMITTED]:
        return 1
    return mi[m, MI_MAX_ROUNDS] - mi[m, MI_ROUND] + 1


@njit(cache=True)
def _header(mi, m, role, out) -> None:
    """The 11 header features of ``encoders._header`` for ``role`` (0 fraudster, 1 investigator)."""
    ph = mi[m, MI_PHASE]
    mr = max(1, mi[m, MI_MAX_ROUNDS])
    budget = max(1, mi[m, MI_BUDGET])
    mp = mi[m, MI_MAX_PROPS]
    used = mi[m, MI_NPROPS]
    rnd = mi[m, MI_ROUND]
    budget_left = mi[m, MI_BUDGET] - mi[m, MI_USED]
    remaining = rounds_remaining(mi, m)
    left = 0
    if role == 1 and ph == PH_INVESTIGATOR:
        left = min(mi[m, MI_CAP] - mi[m, MI_TURN], budget_left)
    elif role == 0 and ph == PH_FRAUDSTER:
        left = mi[m, MI_CAP] - mi[m, MI_TURN]
    out[0] = rnd / mr
    out[1] = remaining / mr
    out[2] = 1.0 if remaining <= 1 else 0.0
    out[3] = left / 12.0
    out[4] = budget_left / budget
    out[5] = budget_left / 60.0
    out[6] = used / max(1, mp)
    out[7] = (mp - used) / 10.0
    out[8] = mi[m, MI_UNPUB] / 8.0
    out[9] = 0.0 if K.nothing_can_arrive(mi, m) else 1.0
    out[10] = 1.0 if mi[m, MI_COMMITTED] else 0.0


@njit(cache=True)
def investigator_features(mi, ai, af, outc, links, queue, prior, cache, ads, glob, post, partners, m) -> None:
    """Write match ``m``'s Investigator rows (queue order), global vector, posterior and partner slots."""
    for s in range(mi[m, MI_NSLOTS]):
        if ai[m, s, AI_DIRTY]:
            static_row(mi, ai, af, outc, prior, m, s, cache[m, s])
            ai[m, s, AI_DIRTY] = 0
    n = mi[m, MI_NQUEUE]
    rnd = mi[m, MI_ROUND]
    nl = mi[m, MI_NLINKS]
    ads[m, n:] = 0.0
    post[m, n:] = 0.0
    partners[m, :] = -1
    n_pending = 0
    n_suspect = 0
    i_ent = -1
    i_sure = -1
    i_bad = -1
    i_legit = -1
    s_ent = -np.inf
    s_sure = -np.inf
    s_bad = -np.inf
    s_legit = -np.inf
    for q in range(n):
        s = queue[m, q]
        row = ads[m, q]
        row[:] = cache[m, s]
        if ai[m, s, AI_ARRIVED] == rnd:
            row[_NEW_COL] = 1.0
        lc = 0
        for k in range(nl):
            if links[m, k, 0] == s:
                lc += 1
            if links[m, k, 1] == s:
                lc += 1
        mates = 0
        first = -1
        if ai[m, s, AI_PULLED] & 0b11110:  # a target that can reveal a shared identifier
            root = ai[m, s, AI_ROOT]
            for q2 in range(n):
                j = queue[m, q2]
                if j != s and K.shares_revealed(ai, m, s, j):
                    mates += 1
                    if first < 0 and ai[m, j, AI_ROOT] != root:
                        first = j
        if mates > 0:
            row[C_RING] = 1.0
            row[C_RING + 1] = min(3, mates) / 3.0
            row[C_RING + 2] = 1.0 if first >= 0 else 0.0
            row[C_RING + 3] = min(3, lc) / 3.0
            for c in range(9):
                row[C_TAIL + c] = RING_TAIL[c]
            partners[m, q] = first
        elif lc > 0:
            row[C_LINK] = min(3, lc) / 3.0
        p0 = row[C_TAIL]
        p1 = row[C_TAIL + 1]
        p2 = row[C_TAIL + 2]
        post[m, q, 0] = p0
        post[m, q, 1] = p1
        post[m, q, 2] = p2
        arg = 0
        best = p0
        if p1 > best:
            best = p1
            arg = 1
        if p2 > best:
            best = p2
            arg = 2
        bd = np.float64(best)
        if bd >= DECIDE:
            row[C_FLAGS + 4] = 1.0
        if ai[m, s, AI_STATUS] != 0:
            continue
        n_pending += 1
        if ai[m, s, AI_NPULL] < 3:
            eps = np.float32(1e-9)
            e = -((p0 * np.log(p0 + eps) + p1 * np.log(p1 + eps)) + p2 * np.log(p2 + eps))
            ed = np.float64(e)
            if ed > s_ent:
                i_ent = q
                s_ent = ed
        if arg != 0:
            n_suspect += 1
            if bd > s_bad:
                i_bad = q
                s_bad = bd
            if bd >= DECIDE and bd > s_sure:
                i_sure = q
                s_sure = bd
        p0d = np.float64(p0)
        if p0d >= DECIDE and p0d > s_legit:
            i_legit = q
            s_legit = p0d
    if i_ent >= 0:
        ads[m, i_ent, C_FLAGS] = 1.0
    if i_sure >= 0:
        ads[m, i_sure, C_FLAGS + 1] = 1.0
    if i_bad >= 0:
        ads[m, i_bad, C_FLAGS + 2] = 1.0
    if i_legit >= 0:
        ads[m, i_legit, C_FLAGS + 3] = 1.0
    # global vector (encoders._investigator_global)
    g = glob[m]
    hdr = np.zeros(11)
    _header(mi, m, 1, hdr)
    for c in range(11):
        g[c] = hdr[c]
    task = mi[m, MI_TASK]
    budget_left = float(mi[m, MI_BUDGET] - mi[m, MI_USED])
    links_remaining = mi[m, MI_MAX_LINKS] - nl if mi[m, MI_NRINGS] > 0 else 0
    max_links = TASK_MAX_LINKS[task]
    cap = TASK_ICAP[task]
    committed = mi[m, MI_COMMITTED] != 0
    ph = mi[m, MI_PHASE]
    rounds = max(1, rounds_remaining(mi, m))
    left = 0
    if ph == PH_INVESTIGATOR:
        left = min(mi[m, MI_CAP] - mi[m, MI_TURN], mi[m, MI_BUDGET] - mi[m, MI_USED])
    spent = max(0, cap - left) if not committed else 0
    start = budget_left + spent
    allowance = start if rounds <= 1 else math.ceil(start / rounds)
    allowance_left = allowance - spent
    props_left = 0 if committed else max(0, mi[m, MI_MAX_PROPS] - mi[m, MI_NPROPS])
    reserve = props_left + math.ceil(mi[m, MI_UNPUB] / 2)
    g[11] = n / 33.0
    g[12] = n_pending / 33.0
    g[13] = (n - n_pending) / 33.0
    g[14] = budget_left / max(1.0, float(n_pending)) / 3.0
    g[15] = float(links_remaining) / max_links
    g[16] = nl / 16.0
    g[17] = 1.0 if ph == PH_INVESTIGATOR else 0.0
    g[18] = allowance_left / 12.0
    g[19] = 1.0 if allowance_left > 0 else 0.0
    g[20] = n_suspect / 33.0
    g[21] = reserve / 10.0
    g[22] = (budget_left - n_suspect - reserve) / 20.0
    g[23] = 1.0 if (rounds <= 1 or committed) else 0.0
    for t in range(N_TASKS):
        g[24 + t] = 1.0 if t == task else 0.0


@njit(cache=True)
def fraudster_features(mi, ai, vorder, queue, out, m) -> None:
    """Write match ``m``'s Fraudster vector (encoders.encode_fraudster)."""
    out[m, :] = 0.0
    v = out[m]
    hdr = np.zeros(11)
    _header(mi, m, 0, hdr)
    for c in range(11):
        v[c] = hdr[c]
    nbase = mi[m, MI_NBASE]
    nprops = mi[m, MI_NPROPS]
    per_cat = np.zeros(N_CAT)
    gstats = np.zeros((3, 4))
    staged = 0
    for k in range(nprops):
        s = nbase + k
        ci = ai[m, s, AI_CAT]
        per_cat[ci] += 1.0 / 4.0
        st = ai[m, s, AI_STATUS]
        kk = 3 if (st == 0 or ai[m, s, AI_STAGED]) else st - 1
        gstats[CAT_GROUP[ci], kk] += 1.0 / 4.0
        if ai[m, s, AI_STAGED]:
            staged += 1
    pulls = np.zeros(6)
    n = mi[m, MI_NQUEUE]
    for q in range(n):
        pb = ai[m, queue[m, q], AI_PULLED]
        for t in range(6):
            if (pb >> t) & 1:
                pulls[t] += 1.0
    tot = pulls[0] + pulls[1] + pulls[2] + pulls[3] + pulls[4] + pulls[5]
    for t in range(6):
        pulls[t] = pulls[t] / max(1.0, tot)
    vc = np.zeros(3)
    approved = np.zeros(3, np.int64)
    decided = np.zeros(3, np.int64)
    for k in range(mi[m, MI_NVERD]):
        s = vorder[m, k]
        vc[ai[m, s, AI_STATUS] - 1] += 1.0
        if ai[m, s, AI_PROPOSAL]:
            gi = CAT_GROUP[ai[m, s, AI_CAT]]
            decided[gi] += 1
            if ai[m, s, AI_STATUS] == 1:
                approved[gi] += 1
    nv = max(1.0, vc[0] + vc[1] + vc[2])
    maxp = max(1, mi[m, MI_MAX_PROPS])
    remaining = mi[m, MI_MAX_PROPS] - nprops
    camo_left = mi[m, MI_CAMO_ALLOW] - mi[m, MI_CAMO_USED]
    c = 11
    v[c] = remaining / maxp
    v[c + 1] = camo_left / 6.0
    v[c + 2] = staged / 3.0
    v[c + 3] = (n + staged) / 33.0
    v[c + 4] = tot / 55.0
    c += 5
    task = mi[m, MI_TASK]
    for t in range(N_TASKS):
        v[c + t] = 1.0 if t == task else 0.0
    c += N_TASKS
    allowed = mi[m, MI_ALLOWED]
    for i in range(N_CAT):
        v[c + i] = 1.0 if (allowed >> i) & 1 else 0.0
    c += N_CAT
    for i in range(N_CAT):
        v[c + i] = per_cat[i]
    c += N_CAT
    for gi in range(3):
        for kk in range(4):
            v[c] = gstats[gi, kk]
            c += 1
    for t in range(6):
        v[c + t] = pulls[t]
    c += 6
    for k in range(3):
        v[c + k] = vc[k] / nv
    c += 3
    # the ReactiveFraudster's quantities (encoders._reactive_features)
    best_i = -1
    best_s = 0.0
    any_score = False
    for i in range(N_CAT):
        sc = 0.0
        if (allowed >> i) & 1:
            gi = CAT_GROUP[i]
            sc = CAT_SEVERITY[i] * (approved[gi] + 1) / (decided[gi] + 2)
        v[c + i] = sc
        if sc != 0.0:
            any_score = True
        if best_i < 0 or sc > best_s:
            best_i = i
            best_s = sc
    c += N_CAT
    if any_score:
        v[c + best_i] = 1.0
    c += N_CAT
    ph = mi[m, MI_PHASE]
    rounds = max(1, rounds_remaining(mi, m))
    left = mi[m, MI_CAP] - mi[m, MI_TURN] if ph == PH_FRAUDSTER else 0
    cap = left + staged
    quota_left = min(cap, math.ceil((remaining + staged) / rounds)) - staged
    n_camo = min(2, min(camo_left, math.ceil(camo_left / remaining))) if remaining > 0 else 0
    v[c] = quota_left / 3.0
    v[c + 1] = 1.0 if quota_left > 0 else 0.0
    for k in range(3):
        v[c + 2 + k] = 1.0 if n_camo == k else 0.0
    c += 5
    # the two most-pulled targets (ties to the lower index)
    first = 0
    for t in range(1, 6):
        if pulls[t] > pulls[first]:
            first = t
    second = 0 if first != 0 else 1
    for t in range(6):
        if t != first and pulls[t] > pulls[second]:
            second = t
    v[c + first] = 1.0
    v[c + second] = 1.0


@njit(cache=True)
def features_batch(mi, ai, af, outc, links, vorder, queue, prior, cache, ads, glob, post, partners, fglob) -> None:
    """Both roles' features for every match whose next decision is a learned role's."""
    for m in range(mi.shape[0]):
        ph = mi[m, MI_PHASE]
        if ph == PH_INVESTIGATOR:
            investigator_features(mi, ai, af, outc, links, queue, prior, cache, ads, glob, post, partners, m)
        elif ph == PH_FRAUDSTER:
            fraudster_features(mi, ai, vorder, queue, fglob, m)


class CoreFeatures:
    """Preallocated feature buffers for a ``CoreBatch`` (torch reads them with ``torch.from_numpy``)."""

    def __init__(self, batch) -> None:
        m, a = batch.n_matches, batch.n_slots
        self.batch = batch
        self.prior = np.zeros((m, 3))
        self.cache = np.zeros((m, a, AD_FEATURES), np.float32)
        self.ads = np.zeros((m, a, AD_FEATURES), np.float32)
        self.glob = np.zeros((m, INV_GLOBAL_FEATURES), np.float32)
        self.post = np.zeros((m, a, 3), np.float32)
        self.partners = np.full((m, a), -1, np.int64)
        self.fglob = np.zeros((m, FRAUD_GLOBAL_FEATURES), np.float32)

    def on_reset(self, m: int) -> None:
        """Set match ``m``'s task prior (call after ``CoreBatch.reset``)."""
        info = self.batch.texts[m]
        self.prior[m] = task_prior({"task_id": info.task_id, "max_proposals": int(self.batch.mi[m, MI_MAX_PROPS])})

    def update(self) -> None:
        """Recompute every match's features for its next decision."""
        b = self.batch
        features_batch(b.mi, b.ai, b.af, b.outc, b.links, b.vorder, b.queue, self.prior, self.cache, self.ads,
                       self.glob, self.post, self.partners, self.fglob)

