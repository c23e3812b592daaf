"""Episode generation (docs/rules.md §4.5) compiled: every draw of the ``episode`` stream in one kernel call.

``draw_episode`` runs §4.5's whole draw sequence (base ads, late arrivals, rings, identifiers, with the
collision redraws) on the stream's Mersenne Twister (``draws.py``) and returns plain integer arrays: an
identifier is its drawn integer (``ad_`` + 6 base-32 characters is a 30-bit value, one to one), a domain
stem its (``STEM_A``, ``STEM_B``, number) triple. ``generation.generate_episode`` turns the arrays into the
referee's ``Ad`` and ``Ring`` objects, which the batched core reads too, so both engines share this one
implementation. ``tests/arena/test_episode_kernel.py`` holds it equal to the rules tests' reading of §4.5
(``test_rules_generation.ref_episode``) over every task, the round overrides and thousands of seeds.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numba import njit

from ..rng import stream_seed
from ..spec import (
    ARRIVAL_WEIGHTS,
    CATEGORIES,
    CATEGORY_BY_ID,
    CATEGORY_GROUPS,
    CATEGORY_INDEX,
    CORE_COUNTRIES,
    COUNTRY_GROUP_PROBS,
    GROUP_PROBS,
    IDENTIFIER_KINDS,
    LABELS,
    OTHER_COUNTRIES,
    REGISTRARS,
    STEM_A,
    STEM_B,
    STYLE_PROBS,
    TASKS,
    TaskSpec,
)
from .draws import _N, _init_by_array, _pick, _temper, _twist

# Columns of the per-ad output, generation order.
(E_ID, E_LABEL, E_CAT, E_STYLE, E_TEXT_SEED, E_CORE, E_COUNTRY, E_LATE, E_RING, E_ADV, E_PAY, E_REG, E_STEM_A,
 E_STEM_B, E_STEM_N, E_TF, E_CFG, E_COLS) = range(18)
# Identifier kinds in IDENTIFIER_KINDS order, as bits of a ring's shared mask.
K_PAYMENT, K_DOMAIN, K_TARGETING, K_CONFIG = range(4)
assert IDENTIFIER_KINDS == ("payment_id", "domain", "targeting_fingerprint", "config_fingerprint")
assert LABELS == ("legit", "fraud", "gray")  # label indices: base ads are drawn legit, then fraud, then gray
_MAX_RING = 5  # §4.5: ring sizes are drawn in [3, 5]


def _stem_pair_ids() -> np.ndarray:
    """A canonical id per distinct ``STEM_A[i] + STEM_B[j]`` string: a stem's uniqueness is on its text.

    With no digit in either list, (canonical pair, number) and the stem text determine each other.
    """
    assert not any(ch.isdigit() for word in STEM_A + STEM_B for ch in word)
    first: dict[str, int] = {}
    ids = np.zeros((len(STEM_A), len(STEM_B)), np.int64)
    for i, a in enumerate(STEM_A):
        for j, b in enumerate(STEM_B):
            ids[i, j] = first.setdefault(a + b, len(first))
    return ids


_STEM_PAIR = _stem_pair_ids()
_STYLE_P = np.array([STYLE_PROBS[label] for label in LABELS])
_COUNTRY_P = np.array([COUNTRY_GROUP_PROBS[label] for label in LABELS])
_ARRIVAL_W = np.array([float(ARRIVAL_WEIGHTS[label]) for label in LABELS])
_REG_P = np.array([p for _, p in REGISTRARS])


@lru_cache(maxsize=64)
def _group_tables(pool: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per label: the pool's non-empty category groups (members as category indices) and their pick weights,
    renormalised over the non-empty groups (§4.5), in canonical group order."""
    n_labels, n_groups = len(LABELS), len(CATEGORY_GROUPS)
    members = np.zeros((n_labels, n_groups, len(CATEGORIES)), np.int64)
    sizes = np.zeros((n_labels, n_groups), np.int64)
    weights = np.zeros((n_labels, n_groups))
    live_n = np.zeros(n_labels, np.int64)
    for li, label in enumerate(LABELS):
        live = [([c for c in pool if CATEGORY_BY_ID[c].group == g], p)
                for g, p in zip(CATEGORY_GROUPS, GROUP_PROBS[label], strict=True)]
        live = [(cats, p) for cats, p in live if cats]
        total = sum(p for _, p in live)
        for gi, (cats, p) in enumerate(live):
            members[li, gi, :len(cats)] = [CATEGORY_INDEX[c] for c in cats]
            sizes[li, gi] = len(cats)
            weights[li, gi] = p / total
        live_n[li] = len(live)
    return members, sizes, weights, live_n


@njit(cache=True)
def stream_state(seed) -> np.ndarray:
    """The state of ``random.Random(seed)`` (``seed`` a uint64): MT words, then the read index (for ``_random``)."""
    mt = np.zeros(_N + 1, np.int64)
    key = np.zeros(2, np.int64)
    key[0] = np.int64(seed & np.uint64(0xFFFFFFFF))
    key[1] = np.int64(seed >> np.uint64(32))
    _init_by_array(mt[:_N], key, 2 if key[1] != 0 else 1)
    mt[_N] = _N
    return mt


@njit(cache=True)
def _random(mt) -> float:
    """``random.Random.random()`` on state ``mt[:N]`` with the read index in ``mt[N]``."""
    idx = mt[_N]
    if idx >= _N:
        _twist(mt[:_N])
        idx = 0
    a = _temper(mt[idx]) >> 5
    idx += 1
    if idx >= _N:
        _twist(mt[:_N])
        idx = 0
    b = _temper(mt[idx]) >> 6
    mt[_N] = idx + 1
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _unique(mt, used, n_used, scale) -> int:
    """Draw int(u * scale) until the value is not in ``used[:n_used[0]]``; record it and return it."""
    while True:
        v = np.int64(_random(mt) * scale)
        seen = False
        for k in range(n_used[0]):
            if used[k] == v:
                seen = True
                break
        if not seen:
            used[n_used[0]] = v
            n_used[0] += 1
            return v


@njit(cache=True)
def _draw_kind(mt, kind, row, used, n_used, reg_p, stem_pair) -> None:
    """One identifier kind into ``row`` (§4.5's draw order); ``used`` rows: ad_id, payment, stem, targeting,
    config, advertiser values drawn so far (``n_used`` of each)."""
    if kind == K_PAYMENT:
        row[E_PAY] = _unique(mt, used[1], n_used[1:2], 1099511627776.0)  # 2**40
    elif kind == K_DOMAIN:
        row[E_REG] = _pick(_random(mt), reg_p, reg_p.shape[0])
        n_a, n_b = stem_pair.shape
        while True:
            a = np.int64(_random(mt) * n_a)
            b = np.int64(_random(mt) * n_b)
            n = np.int64(_random(mt) * 100)
            key = stem_pair[a, b] * 100 + n
            seen = False
            for k in range(n_used[2]):
                if used[2, k] == key:
                    seen = True
                    break
            if not seen:
                used[2, n_used[2]] = key
                n_used[2] += 1
                row[E_STEM_A] = a
                row[E_STEM_B] = b
                row[E_STEM_N] = n
                return
    elif kind == K_TARGETING:
        row[E_TF] = _unique(mt, used[3], n_used[3:4], 1073741824.0)  # 2**30
    else:
        row[E_CFG] = _unique(mt, used[4], n_used[4:5], 1073741824.0)


@njit(cache=True)
def _episode(seed, labels, g_members, g_sizes, g_weights, g_live, n_core, n_other, n_late, max_rounds, n_rings,
             ads, late, rings, ring_members) -> int:
    """§4.5's draws for one match into ``ads`` (one row per base ad, generation order), ``late`` (base-ad
    indices in selection order), ``rings[r] = (size, shared-kind mask)`` and ``ring_members[r, :size]``;
    returns the number of rings made."""
    mt = stream_state(seed)
    n_base = labels.shape[0]
    cap = n_base + 4 * n_rings + 8
    used = np.zeros((6, cap), np.int64)  # ad_id, payment, stem, targeting, config, advertiser
    n_used = np.zeros(6, np.int64)
    ads[:, :] = 0
    ads[:, E_RING] = -1
    # Step 1: base ads.
    for i in range(n_base):
        row = ads[i]
        lab = labels[i]
        row[E_LABEL] = lab
        row[E_ID] = _unique(mt, used[0], n_used[0:1], 1073741824.0)
        g = _pick(_random(mt), g_weights[lab], g_live[lab])
        row[E_CAT] = g_members[lab, g, np.int64(_random(mt) * g_sizes[lab, g])]
        row[E_STYLE] = _pick(_random(mt), _STYLE_P[lab], 2)
        row[E_TEXT_SEED] = np.int64(_random(mt) * 4294967296.0)
        core = _pick(_random(mt), _COUNTRY_P[lab], 2) == 0
        row[E_CORE] = 1 if core else 0
        row[E_COUNTRY] = np.int64(_random(mt) * (n_core if core else n_other))
    # Step 2: late arrivals, weighted draws without replacement.
    remaining = np.arange(n_base)
    n_rem = n_base
    for k in range(n_late):
        total = 0.0
        for t in range(n_rem):
            total += _ARRIVAL_W[labels[remaining[t]]]
        x = _random(mt) * total
        acc = 0.0
        chosen = n_rem - 1
        for t in range(n_rem):
            acc += _ARRIVAL_W[labels[remaining[t]]]
            if x < acc:
                chosen = t
                break
        ad = remaining[chosen]
        for t in range(chosen, n_rem - 1):
            remaining[t] = remaining[t + 1]
        n_rem -= 1
        ads[ad, E_LATE] = 2 + (k % (max_rounds - 1))
        late[k] = ad
    # Step 3: rings.
    made = 0
    if n_rings > 0:
        frauds = np.flatnonzero(labels == 1)
        for i in range(frauds.shape[0] - 1, 0, -1):
            j = np.int64(_random(mt) * (i + 1))
            frauds[i], frauds[j] = frauds[j], frauds[i]
        pos = 0
        for r in range(n_rings):
            left = n_rings - 1 - r
            hi = min(_MAX_RING, (frauds.shape[0] - pos) - 3 * left)
            if hi < 3:
                break
            size = 3 + np.int64(_random(mt) * (hi - 3 + 1))
            for t in range(size):
                ring_members[r, t] = frauds[pos + t]
                ads[frauds[pos + t], E_RING] = r
            pos += size
            k = 2 + np.int64(_random(mt) * 3)
            kinds = np.arange(4)
            for a in range(3, 0, -1):
                b = np.int64(_random(mt) * (a + 1))
                kinds[a], kinds[b] = kinds[b], kinds[a]
            mask = 0
            for t in range(k):
                mask |= 1 << kinds[t]
            rings[r, 0] = size
            rings[r, 1] = mask
            made += 1
    # Step 4: identifiers; each ring's shared values first (canonical kind order), then every base ad.
    ring_rows = np.zeros((max(made, 1), E_COLS), np.int64)
    for r in range(made):
        for kind in range(4):
            if rings[r, 1] >> kind & 1:
                _draw_kind(mt, kind, ring_rows[r], used, n_used, _REG_P, _STEM_PAIR)
    for i in range(n_base):
        row = ads[i]
        row[E_ADV] = _unique(mt, used[5], n_used[5:6], 1073741824.0)
        r = row[E_RING]
        mask = rings[r, 1] if r >= 0 else 0
        for kind in range(4):
            if mask >> kind & 1:
                if kind == K_PAYMENT:
                    row[E_PAY] = ring_rows[r, E_PAY]
                elif kind == K_DOMAIN:
                    row[E_REG] = ring_rows[r, E_REG]
                    row[E_STEM_A] = ring_rows[r, E_STEM_A]
                    row[E_STEM_B] = ring_rows[r, E_STEM_B]
                    row[E_STEM_N] = ring_rows[r, E_STEM_N]
                elif kind == K_TARGETING:
                    row[E_TF] = ring_rows[r, E_TF]
                else:
                    row[E_CFG] = ring_rows[r, E_CFG]
            else:
                _draw_kind(mt, kind, row, used, n_used, _REG_P, _STEM_PAIR)
    return made


class EpisodeArrays(NamedTuple):
    """``draw_episode``'s output: per-ad rows (columns ``E_*``), late order, rings and their members."""

    ads: np.ndarray
    late: np.ndarray
    rings: np.ndarray
    ring_members: np.ndarray


def draw_episode(task: TaskSpec, task_id: str, seed: int, max_rounds: int) -> EpisodeArrays:
    """Every §4.5 draw of match (task_id, seed) with ``max_rounds`` rounds, as arrays (see the module doc)."""
    labels = np.array([0] * task.n_legit + [1] * task.n_fraud + [2] * task.n_gray, np.int64)
    members, sizes, weights, live = _group_tables(task.category_pool)
    n_late = task.late_arrivals if max_rounds > 1 else 0
    ads = np.empty((labels.shape[0], E_COLS), np.int64)
    late = np.zeros(n_late, np.int64)
    rings = np.zeros((max(task.n_rings, 1), 2), np.int64)
    ring_members = np.zeros((max(task.n_rings, 1), _MAX_RING), np.int64)
    made = _episode(np.uint64(stream_seed(task_id, seed, "episode")), labels, members, sizes, weights, live,
                    len(CORE_COUNTRIES), len(OTHER_COUNTRIES), n_late, max_rounds, task.n_rings, ads, late, rings,
                    ring_members)
    return EpisodeArrays(ads, late, rings[:made], ring_members[:made])


def warm_up() -> None:
    """Load the kernel from numba's disk cache (or compile it, ~7 s once per install) now, so a process that will
    host matches pays it at start and not in its first match's reset."""
    draw_episode(TASKS["task_1"], "task_1", 0, TASKS["task_1"].max_rounds)
