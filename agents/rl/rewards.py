"""Match-end rewards and shaped per-decision credit computed from the batched core's arrays.

These are the referee's formulas (``arena/scoring.py``: ``fraudster_reward``, ``investigator_reward``) and
the trainer's credit assignment (``agents/selfplay.py``: ``shaped_rewards``, ``credit_link_pulls``) fed from
``CoreBatch`` arrays instead of a record. The Track-B text checks of proposals run here in Python, once per
match. The Auditor is the HeuristicAuditor: it flags every text-check hit; the learned Investigator's and
the ScriptedInvestigator's rationales cite every pulled target by name and use fixed verdict wording, so its
Track-A text checks never fire on them and the Investigator's audit penalty is zero (checked live: archive-
sampled matches are replayed through the referee and compared, ``CoreRolloutRunner``).
"""

from __future__ import annotations

import numpy as np

from fraudarena.arena import audit
from fraudarena.arena.core import kernels as K
from fraudarena.arena.core.batch import CoreBatch
from fraudarena.arena.core.layout import (
    AF_IMPACT,
    AF_SEVERITY,
    AI_CAT,
    AI_ID0,
    AI_LABEL,
    AI_STATUS,
    MI_MAX_PROPS,
    MI_NBASE,
    MI_NPROPS,
    ST_APPROVE,
    ST_REJECT,
    STATUS_NAMES,
)
from fraudarena.arena.core.tables import GRADER
from fraudarena.arena.scoring import fraudster_reward, investigator_reward
from fraudarena.arena.spec import CATEGORIES

#: investigator step kinds in the runner's storage
KIND_END, KIND_INVESTIGATE, KIND_VERDICT, KIND_LINK = 0, 1, 2, 3
#: the identifier targets in the order ``credit_link_pulls`` tries them (payment, domain, targeting, config)
LINK_TARGET_INDEX = (2, 1, 3, 4)


def proposal_plausibility(batch: CoreBatch, m: int) -> tuple[list[float], int]:
    """Per proposal (slot order) its plausibility from the Track-B checks of its final texts; and the flag count."""
    info = batch.texts[m]
    assert info is not None
    nbase = int(batch.mi[m, MI_NBASE])
    out: list[float] = []
    earlier: list[str] = []
    n_flags = 0
    for k in range(int(batch.mi[m, MI_NPROPS])):
        s = nbase + k
        copy, targeting, blurb = info.proposal_texts[s]
        types = audit.proposal_flag_types(CATEGORIES[int(batch.ai[m, s, AI_CAT])].id, copy, targeting, blurb,
                                          earlier)
        n_flags += len(types)
        out.append(audit.plausibility_of(types))
        earlier.append(copy)
    return out, n_flags


def match_rewards(batch: CoreBatch, m: int) -> tuple[dict[str, float], list[float], int]:
    """(rewards by role, proposal plausibilities, Track-B flags the HeuristicAuditor raises) of a finished match."""
    plaus, n_flags = proposal_plausibility(batch, m)
    nbase = int(batch.mi[m, MI_NBASE])
    props = [(STATUS_NAMES[int(batch.ai[m, nbase + k, AI_STATUS])], float(batch.af[m, nbase + k, AF_IMPACT]), p)
             for k, p in enumerate(plaus)]
    rewards = {
        "investigator": investigator_reward(float(batch.gr[m, K.GR_SCORE]), set(), set()),
        "fraudster": fraudster_reward(int(batch.mi[m, MI_MAX_PROPS]), props),
    }
    return rewards, plaus, n_flags


def investigator_credit(batch: CoreBatch, m: int, kind: np.ndarray, slot: np.ndarray, slot2: np.ndarray,
                        target: np.ndarray, link_k: np.ndarray, final_reward: float,
                        link_credit_to_pulls: float) -> np.ndarray:
    """Per-decision rewards of one Investigator trajectory that sum to ``final_reward`` (see ``shaped_rewards``)."""
    n = len(kind)
    r = np.zeros(n)
    if n == 0:
        return r
    gr = batch.gr[m]
    scale = float(gr[K.GR_BEST]) - float(gr[K.GR_BASELINE])
    scale = scale if scale > 1e-6 else 1.0
    ai, af = batch.ai[m], batch.af[m]
    links_term = "links" in _terms(batch, m)
    shaped = 0.0
    for i in range(n):
        k = kind[i]
        if k == KIND_VERDICT:
            s = slot[i]
            st = int(ai[s, AI_STATUS])
            lab = int(ai[s, AI_LABEL])
            value = GRADER[st - 1, lab] + (0.1 * float(af[s, AF_SEVERITY]) if (st == ST_REJECT and lab == 1) else 0.0)
            r[i] = value / scale
        elif k == KIND_INVESTIGATE:
            r[i] = -0.01 / scale
        elif k == KIND_LINK:
            code = int(batch.link_ok[m, link_k[i]]) if links_term else 0
            r[i] = (0.4 if code == 2 else (0.0 if code == 1 else -0.25)) / scale
        shaped += r[i]
    if link_credit_to_pulls > 0.0:
        pulls: dict[tuple[int, int], int] = {}
        for i in range(n):
            if kind[i] == KIND_INVESTIGATE:
                pulls.setdefault((int(slot[i]), int(target[i])), i)
        for i in range(n):
            if kind[i] != KIND_LINK or r[i] <= 0.0:
                continue
            a, b = int(slot[i]), int(slot2[i])
            for j, t in enumerate(LINK_TARGET_INDEX):
                va = ai[a, AI_ID0 + j]
                if va == 0 or va != ai[b, AI_ID0 + j]:
                    continue
                found = [p for p in (pulls.get((a, t)), pulls.get((b, t))) if p is not None and p < i]
                if len(found) < 2:
                    continue
                part = link_credit_to_pulls * r[i] / 2
                for p in found:
                    r[p] += part
                r[i] -= part * len(found)
                break
    r[-1] += final_reward - shaped
    return r


def fraudster_credit(batch: CoreBatch, m: int, kind: np.ndarray, key: np.ndarray, plaus: list[float],
                     final_reward: float) -> np.ndarray:
    """Per-decision rewards of one Fraudster trajectory: each proposal its own payoff / max_proposals."""
    n = len(kind)
    r = np.zeros(n)
    if n == 0:
        return r
    max_props = int(batch.mi[m, MI_MAX_PROPS])
    nbase = int(batch.mi[m, MI_NBASE])
    shaped = 0.0
    if max_props > 0:
        for i in range(n):
            if kind[i] != 1:
                continue
            slot = int(key[i])
            s = nbase + slot
            st = int(batch.ai[m, s, AI_STATUS])
            if st == ST_APPROVE:
                value = float(batch.af[m, s, AF_IMPACT]) * plaus[slot]
            elif st == ST_REJECT:
                value = -0.1
            else:
                value = 0.0
            r[i] = value / max_props
            shaped += r[i]
    r[-1] += final_reward - shaped
    return r


def _terms(batch: CoreBatch, m: int) -> set[str]:
    from fraudarena.arena.core.layout import MI_TERMS, TERM_LINKS

    return {"links"} if int(batch.mi[m, MI_TERMS]) & TERM_LINKS else set()
