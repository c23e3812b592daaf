"""Numeric tables of the rules for the batched core, derived once from ``arena/spec.py`` and ``arena/evidence.py``.

Nothing here is a new rule: every number is read from the declarations the referee uses, so a rules change
is made in one place (``docs/rules.md``, "The batched core").
"""

from __future__ import annotations

import math

import numpy as np

from ..evidence import CLASSIFIER_BASE, INFORMATIVE_FIELDS, BoolField, outcome_probs
from ..spec import CATEGORIES, CATEGORY_GROUPS, GRADER_MATRIX, LABELS, TARGETS, TASK_IDS, VERDICTS

#: The label-dependent evidence fields of the first five targets, in target then field order.
FIELDS = tuple((TARGETS.index(t), f) for t in TARGETS[:5] for f in INFORMATIVE_FIELDS[t])
N_FIELDS = len(FIELDS)
#: target index of each field, outcome count of each field
FIELD_TARGET = np.array([t for t, _ in FIELDS], dtype=np.int64)
FIELD_WIDTH = np.array([2 if isinstance(f, BoolField) else len(f.probs["legit"]) for _, f in FIELDS],
                       dtype=np.int64)
MAX_OUTCOMES = int(FIELD_WIDTH.max())
#: log P(outcome | label): [field, label, outcome] (unused outcomes hold 0)
FIELD_LOGP = np.zeros((N_FIELDS, len(LABELS), MAX_OUTCOMES))
for _j, (_t, _f) in enumerate(FIELDS):
    for _li, _lab in enumerate(LABELS):
        for _k, _p in enumerate(outcome_probs(_f, _lab)):
            FIELD_LOGP[_j, _li, _k] = math.log(_p)  # math.log: the referee's and encoders' logarithm

#: the policy classifier: P(unsafe | mode, m) = CLS_A[mode] + CLS_B[mode] * min(3, m)
CLS_A = np.array([CLASSIFIER_BASE[lab][0] for lab in LABELS])
CLS_B = np.array([CLASSIFIER_BASE[lab][1] for lab in LABELS])

#: the grader matrix M(verdict, label) as [verdict (VERDICTS order), label]
GRADER = np.array([[GRADER_MATRIX[v][lab] for lab in LABELS] for v in VERDICTS])
#: (label, verdict) pairs that count as correct
CORRECT_STATUS = np.array([1, 2, 3], dtype=np.int64)  # legit→approve, fraud→reject, gray→escalate (status codes)

N_CAT = len(CATEGORIES)
CAT_GROUP = np.array([CATEGORY_GROUPS.index(c.group) for c in CATEGORIES], dtype=np.int64)
CAT_SEVERITY = np.array([c.severity for c in CATEGORIES])
TASK_INDEX = {t: i for i, t in enumerate(TASK_IDS)}
