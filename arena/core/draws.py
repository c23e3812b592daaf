"""The named random streams' draws for the batched core, compiled: Python's Mersenne Twister and the evidence plan.

``random.Random(seed)`` with an integer seed is MT19937 seeded by ``init_by_array`` over the seed's 32-bit
words, and ``random()`` combines two 32-bit outputs into a 53-bit float. ``mt_stream_values`` reproduces
those values exactly, so the core draws an ad's evidence outcomes (``evidence.DRAW_PLAN``) and classifier
draws from the same ``evidence/<ad_id>`` and ``classifier/<ad_id>`` streams as the referee, without Python
per draw. ``tests/arena/test_core_draws.py`` checks both against ``random.Random`` and ``draw_fields``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..evidence import (
    ACCOUNTS_ON_INSTRUMENT,
    AUDIENCE_OVERLAP,
    DRAW_PLAN,
    INFORMATIVE_FIELDS,
    SHARED_OVERLAP_RANGE,
    BoolField,
    CatField,
    NumField,
)
from ..spec import LABELS, TARGETS
from .tables import FIELDS

_N = 624
_M = 397


def _genrand_base() -> np.ndarray:
    """``init_genrand(19650218)``: the state ``init_by_array`` starts from, the same for every seed."""
    mt = np.zeros(_N, np.int64)
    mt[0] = 19650218
    for i in range(1, _N):
        mt[i] = (1812433253 * (int(mt[i - 1]) ^ (int(mt[i - 1]) >> 30)) + i) & 0xFFFFFFFF
    return mt


_BASE = _genrand_base()


@njit(cache=True)
def _init_by_array(mt, key, keylen) -> None:
    mt[:] = _BASE
    i = 1
    j = 0
    for _ in range(max(_N, keylen)):
        mt[i] = ((mt[i] ^ (((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525) & 0xFFFFFFFF)) + key[j] + j) & 0xFFFFFFFF
        i += 1
        j += 1
        if i >= _N:
            mt[0] = mt[_N - 1]
            i = 1
        if j >= keylen:
            j = 0
    for _ in range(_N - 1):
        mt[i] = ((mt[i] ^ (((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941) & 0xFFFFFFFF)) - i) & 0xFFFFFFFF
        i += 1
        if i >= _N:
            mt[0] = mt[_N - 1]
            i = 1
    mt[0] = 0x80000000


@njit(cache=True)
def _twist_head(mt, k_end) -> None:
    """The first ``k_end`` (≤ N − M) words of :func:`_twist`: each reads only words the twist has not rewritten
    yet, so a stream that needs fewer than N − M outputs skips the rest of the twist."""
    for k in range(k_end):
        y = (mt[k] & 0x80000000) | (mt[k + 1] & 0x7FFFFFFF)
        mt[k] = mt[k + _M] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)


@njit(cache=True)
def _twist(mt) -> None:
    _twist_head(mt, _N - _M)
    for k in range(_N - _M, _N - 1):
        y = (mt[k] & 0x80000000) | (mt[k + 1] & 0x7FFFFFFF)
        mt[k] = mt[k + _M - _N] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
    y = (mt[_N - 1] & 0x80000000) | (mt[0] & 0x7FFFFFFF)
    mt[_N - 1] = mt[_M - 1] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)


@njit(cache=True)
def _temper(y) -> int:
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y


@njit(cache=True)
def mt_stream_values(seed, n, out) -> None:
    """out[:n] ← the first ``n`` values of ``random.Random(seed).random()`` (``seed`` a uint64)."""
    mt = np.zeros(_N, np.int64)
    key = np.zeros(2, np.int64)
    key[0] = np.int64(seed & np.uint64(0xFFFFFFFF))
    key[1] = np.int64(seed >> np.uint64(32))
    _init_by_array(mt, key, 2 if key[1] != 0 else 1)
    idx = _N
    if 2 * n <= _N - _M:  # a short stream (the evidence plan, the classifier): only the words it reads
        _twist_head(mt, 2 * n)
        idx = 0
    for t in range(n):
        if idx >= _N:
            _twist(mt)
            idx = 0
        a = _temper(mt[idx]) >> 5
        idx += 1
        if idx >= _N:
            _twist(mt)
            idx = 0
        b = _temper(mt[idx]) >> 6
        idx += 1
        out[t] = (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def mt_streams_values(seeds, n, out) -> None:
    """out[i, :n] ← the first ``n`` values of ``random.Random(seeds[i]).random()``, for every seed.

    Many seeds at once: ``init_by_array`` is one long serial chain per seed (about 1,250 dependent steps),
    so the seeds' chains are advanced side by side (state as [word, seed], the inner loop over seeds), which
    the compiler turns into vector instructions. Seeds below 2**32 (a one-word key) and streams longer
    than a partial twist take the one-seed path."""
    k_all = seeds.shape[0]
    fast = np.zeros(k_all, np.bool_)
    for i in range(k_all):
        fast[i] = (seeds[i] >> np.uint64(32)) != np.uint64(0) and 2 * n <= _N - _M
    idx = np.flatnonzero(fast)
    for i in range(k_all):
        if not fast[i]:
            mt_stream_values(seeds[i], n, out[i])
    k_n = idx.shape[0]
    if k_n == 0:
        return
    mt = np.empty((_N, k_n), np.int64)
    key = np.empty((2, k_n), np.int64)
    for c in range(k_n):
        seed = seeds[idx[c]]
        key[0, c] = np.int64(seed & np.uint64(0xFFFFFFFF))
        key[1, c] = np.int64(seed >> np.uint64(32))
    for w in range(_N):
        for c in range(k_n):
            mt[w, c] = _BASE[w]
    # init_by_array with a two-word key: the same index sequence as _init_by_array, for every chain
    i = 1
    j = 0
    for _ in range(_N):
        for c in range(k_n):
            p = mt[i - 1, c]
            mt[i, c] = ((mt[i, c] ^ (((p ^ (p >> 30)) * 1664525) & 0xFFFFFFFF)) + key[j, c] + j) & 0xFFFFFFFF
        i += 1
        j ^= 1
        if i >= _N:
            for c in range(k_n):
                mt[0, c] = mt[_N - 1, c]
            i = 1
    for _ in range(_N - 1):
        for c in range(k_n):
            p = mt[i - 1, c]
            mt[i, c] = ((mt[i, c] ^ (((p ^ (p >> 30)) * 1566083941) & 0xFFFFFFFF)) - i) & 0xFFFFFFFF
        i += 1
        if i >= _N:
            for c in range(k_n):
                mt[0, c] = mt[_N - 1, c]
            i = 1
    for c in range(k_n):
        mt[0, c] = 0x80000000
    for w in range(2 * n):  # the partial twist (see _twist_head)
        for c in range(k_n):
            y = (mt[w, c] & 0x80000000) | (mt[w + 1, c] & 0x7FFFFFFF)
            mt[w, c] = mt[w + _M, c] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
    for c in range(k_n):
        row = out[idx[c]]
        for t in range(n):
            a = _temper(mt[2 * t, c]) >> 5
            b = _temper(mt[2 * t + 1, c]) >> 6
            row[t] = (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


# --- the evidence plan as arrays --------------------------------------------------------------------------------------
# one row per draw step: kind (0 pick over buckets/classes then one more draw, 1 pick, 2 bool, 3 skip draws),
# informative field index (-1 for noise), extra (skip count), cumulative-free probability rows per label
K_PICK2, K_PICK1, K_BOOL, K_SKIP = 0, 1, 2, 3
_steps: list[tuple[int, int, int, int, list[list[float]]]] = []
_target_of_step: list[int] = []
for _t, _name in enumerate(TARGETS[:5]):
    for _entry in DRAW_PLAN[_name]:
        if isinstance(_entry, tuple):
            _steps.append((K_SKIP, -1, _entry[1], 0, [[0.0] * 4 for _ in LABELS]))
        else:
            _j = next((j for j, (tt, f) in enumerate(FIELDS) if f is _entry and tt == _t), -1)
            if isinstance(_entry, BoolField):
                _steps.append((K_BOOL, _j, 0, 0, [[_entry.p_true[lab], 0.0, 0.0, 0.0] for lab in LABELS]))
            else:
                _kind = K_PICK1 if isinstance(_entry, CatField) else K_PICK2
                _rows = [list(_entry.probs[lab]) + [0.0] * (4 - len(_entry.probs[lab])) for lab in LABELS]
                _steps.append((_kind, _j, 0, len(_entry.probs["legit"]), _rows))
        _target_of_step.append(_t)
assert all(f in DRAW_PLAN[TARGETS[t]] for t, f in FIELDS)
assert INFORMATIVE_FIELDS and isinstance(AUDIENCE_OVERLAP, NumField)
STEP_KIND = np.array([s[0] for s in _steps], np.int64)
STEP_FIELD = np.array([s[1] for s in _steps], np.int64)
STEP_SKIP = np.array([s[2] for s in _steps], np.int64)
STEP_N = np.array([s[3] for s in _steps], np.int64)
STEP_PROBS = np.array([s[4] for s in _steps], np.float64)  # [step, label, outcome]
STEP_TARGET = np.array(_target_of_step, np.int64)
#: the step of the audience overlap (its bucket is fixed for a shared targeting fingerprint)
OVERLAP_STEP = next(i for i, (t, s) in enumerate(zip(_target_of_step, _steps, strict=True))
                    if s[1] >= 0 and FIELDS[s[1]][1] is AUDIENCE_OVERLAP)
OVERLAP_SHARED_BUCKET = next(i for i, (lo, hi) in enumerate(AUDIENCE_OVERLAP.buckets)
                             if lo <= SHARED_OVERLAP_RANGE[0] and SHARED_OVERLAP_RANGE[1] <= hi)
N_DRAWS = int(sum(2 if k in (K_PICK2,) else (s if k == K_SKIP else 1) for k, s in zip(STEP_KIND, STEP_SKIP,
                                                                                         strict=True)))
#: first draw of each step in the stream
STEP_POS = np.cumsum([0] + [2 if k == K_PICK2 else (s if k == K_SKIP else 1)
                            for k, s in zip(STEP_KIND, STEP_SKIP, strict=True)])[:-1].astype(np.int64)
#: the two values the house RingHunterInvestigator reads from Findings (``agents/bots/ringhunter.py``):
#: ``accounts_on_instrument`` (a noise field, max(noise, holders of the payment_id)) and ``audience_overlap_pct``
#: (the value inside its outcome bucket); where their draws are, and their buckets
_PLAN = [entry for name in TARGETS[:5] for entry in DRAW_PLAN[name]]  # the steps' plan entries, in order
AOI_POS = int(STEP_POS[next(i for i, e in enumerate(_PLAN) if e is ACCOUNTS_ON_INSTRUMENT)])
AOI_PROBS = np.array(ACCOUNTS_ON_INSTRUMENT.probs["legit"], np.float64)
AOI_LO = np.array([lo for lo, _ in ACCOUNTS_ON_INSTRUMENT.buckets], np.int64)
AOI_HI = np.array([hi for _, hi in ACCOUNTS_ON_INSTRUMENT.buckets], np.int64)
OVERLAP_POS = int(STEP_POS[OVERLAP_STEP])
OVERLAP_LO = np.array([lo for lo, _ in AUDIENCE_OVERLAP.buckets], np.int64)
OVERLAP_HI = np.array([hi for _, hi in AUDIENCE_OVERLAP.buckets], np.int64)
assert len(set(ACCOUNTS_ON_INSTRUMENT.probs.values())) == 1  # the same for every label (a noise field)


@njit(cache=True)
def _pick(u, probs, n) -> int:
    acc = 0.0
    for i in range(n):
        acc += probs[i]
        if u < acc:
            return i
    return n - 1


@njit(cache=True)
def draw_outcomes(u, modes, shares_fingerprint, outc) -> None:
    """Evidence outcomes of one ad from its ``evidence`` stream values ``u`` (``modes[t]``: label index per target)."""
    p = 0
    for s in range(STEP_KIND.shape[0]):
        k = STEP_KIND[s]
        mode = modes[STEP_TARGET[s]]
        if k == K_SKIP:
            p += STEP_SKIP[s]
            continue
        if k == K_BOOL:
            o = 0 if u[p] < STEP_PROBS[s, mode, 0] else 1
            p += 1
        elif k == K_PICK1:
            o = _pick(u[p], STEP_PROBS[s, mode], STEP_N[s])
            p += 1
        else:
            o = _pick(u[p], STEP_PROBS[s, mode], STEP_N[s])
            if s == OVERLAP_STEP and shares_fingerprint:
                o = OVERLAP_SHARED_BUCKET
            p += 2
        j = STEP_FIELD[s]
        if j >= 0:
            outc[j] = o


@njit(cache=True)
def draw_values(u, modes, shares_fingerprint, n_on_payment, vals) -> None:
    """``vals`` ← (accounts_on_instrument, audience_overlap_pct) of one ad, as ``evidence.draw_fields`` draws them.

    Not rules state: only the house RingHunterInvestigator reads these values (``agents/rl/core_bots.py``).
    """
    k = _pick(u[AOI_POS], AOI_PROBS, AOI_PROBS.shape[0])
    lo = AOI_LO[k]
    vals[0] = max(lo + int(u[AOI_POS + 1] * (AOI_HI[k] - lo + 1)), n_on_payment)
    if shares_fingerprint:
        lo = SHARED_OVERLAP_RANGE[0]
        hi = SHARED_OVERLAP_RANGE[1]
    else:
        k = _pick(u[OVERLAP_POS], STEP_PROBS[OVERLAP_STEP, modes[STEP_TARGET[OVERLAP_STEP]]], STEP_N[OVERLAP_STEP])
        lo = OVERLAP_LO[k]
        hi = OVERLAP_HI[k]
    vals[1] = lo + int(u[OVERLAP_POS + 1] * (hi - lo + 1))


@njit(cache=True)
def draw_ads(ev_seeds, cls_seeds, modes, shares, n_pay, outc, cls_u, vals) -> None:
    """For each ad i: evidence outcomes into ``outc[i]``, the two classifier draws into ``cls_u[i]`` and the values
    of :func:`draw_values` into ``vals[i]`` (``n_pay[i]``: holders of its payment_id)."""
    n_ads = ev_seeds.shape[0]
    u = np.empty((n_ads, N_DRAWS))
    mt_streams_values(ev_seeds, N_DRAWS, u)
    mt_streams_values(cls_seeds, 2, cls_u)
    for i in range(n_ads):
        draw_outcomes(u[i], modes[i], shares[i], outc[i])
        draw_values(u[i], modes[i], shares[i], n_pay[i], vals[i])
