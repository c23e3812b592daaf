"""The flat integer action codes of both learned roles (``docs/training.md``, "Action codes").

Investigator: ``0`` end_turn; the ad at queue position ``q`` owns ``1 + 10*q + k``: ``k`` 0–5 investigate
``TARGETS[k]``, 6–8 verdict approve/reject/escalate, 9 link the ad with its partner.
Fraudster: ``0`` end_turn, ``1`` commit_final, ``2 + N_CAMO*c + s`` propose in ``CATEGORIES[c]`` with
camouflage ``CAMO_SETS[s]`` (none, one of the six targets, or one of the 15 pairs).
The core's legality masks, the codecs of ``agents`` and the batched runner all use these constants.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..spec import CATEGORIES, TARGETS

PER_AD = 10
INV_END = 0
K_VERDICT = 6
K_LINK = 9
CAMO_SETS: tuple[tuple[str, ...], ...] = ((), *((t,) for t in TARGETS), *itertools.combinations(TARGETS, 2))
CAMO_INDEX: dict[tuple[str, ...], int] = {s: i for i, s in enumerate(CAMO_SETS)}
N_CAMO = len(CAMO_SETS)
CAMO_SIZE = np.array([len(s) for s in CAMO_SETS], dtype=np.int64)
FRAUD_END, FRAUD_COMMIT, FRAUD_PROPOSE0 = 0, 1, 2
N_FRAUD_ACTIONS = FRAUD_PROPOSE0 + len(CATEGORIES) * N_CAMO


def n_investigator_actions(n_ads: int) -> int:
    """Size of the flat Investigator action space for a queue of ``n_ads`` ads."""
    return 1 + PER_AD * n_ads


def decode_proposal(code: int) -> tuple[str, tuple[str, ...]]:
    """(category id, camouflage targets) of a Fraudster propose code."""
    c, s = divmod(code - FRAUD_PROPOSE0, N_CAMO)
    return CATEGORIES[c].id, CAMO_SETS[s]
