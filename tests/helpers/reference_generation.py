"""The plain-Python reading of docs/rules.md §4.5 (episode generation), frozen as the compiled kernel's oracle.

``arena/core/episode.py`` draws episodes in one compiled call; ``tests/arena/test_episode_kernel.py`` checks that
``generation.generate_episode`` (built on it) gives the same ads, late order, rings, identifiers and used-id
sets as this function, which is the engine's generation as it was before the kernel. Change both together
only with a rules version bump (``docs/rules-changes.md``).
"""

from __future__ import annotations

import random
from functools import lru_cache

from fraudarena.arena.ads import Ad, Ring
from fraudarena.arena.generation import (
    _REGISTRAR_NAMES,
    _REGISTRAR_PROBS,
    _STYLES,
    Episode,
    UsedIds,
    _draw_stem,
    _draw_unique,
    _set_label_fields,
)
from fraudarena.arena.rng import int_range, member, pick, stream
from fraudarena.arena.spec import (
    ARRIVAL_WEIGHTS,
    CATEGORY_BY_ID,
    CATEGORY_GROUPS,
    CORE_COUNTRIES,
    COUNTRY_GROUP_PROBS,
    GROUP_PROBS,
    IDENTIFIER_KINDS,
    OTHER_COUNTRIES,
    RING_TOPOLOGIES,
    STYLE_PROBS,
    TaskSpec,
)


def _draw_kind(rng: random.Random, kind: str, used: UsedIds) -> tuple[tuple[str, str], ...]:
    """Draw one identifier kind; returns (attribute, value) pairs (``domain`` = registrar then stem)."""
    if kind == "payment_id":
        return (("payment_id", _draw_unique(rng, used.payment_id, "pm_", 40, 8)),)
    if kind == "domain":
        registrar = _REGISTRAR_NAMES[pick(rng.random(), _REGISTRAR_PROBS)]
        return (("registrar", registrar), ("domain_stem", _draw_stem(rng, used.domain_stem)))
    if kind == "targeting_fingerprint":
        return (("targeting_fingerprint", _draw_unique(rng, used.targeting_fingerprint, "tf_", 30, 6)),)
    return (("config_fingerprint", _draw_unique(rng, used.config_fingerprint, "cfg_", 30, 6)),)


@lru_cache(maxsize=64)
def _group_table(pool: tuple[str, ...], label: str) -> tuple[tuple[tuple[str, ...], ...], tuple[float, ...]]:
    """Non-empty category groups of a pool (canonical order) and their renormalised pick weights (§4.5)."""
    groups = [(tuple(c for c in pool if CATEGORY_BY_ID[c].group == g), p)
              for g, p in zip(CATEGORY_GROUPS, GROUP_PROBS[label], strict=True)]
    live = [(members, p) for members, p in groups if members]
    total = sum(p for _, p in live)
    return tuple(m for m, _ in live), tuple(p / total for _, p in live)


def reference_episode(task: TaskSpec, task_id: str, seed: int, max_rounds: int) -> Episode:
    """Generate the base ads, late arrivals, rings and identifiers of a match (docs/rules.md §4.5)."""
    rng = stream(task_id, seed, "episode")
    r = rng.random
    used = UsedIds()
    pool = task.category_pool

    # Step 1: base ads in generation order.
    labels = ["legit"] * task.n_legit + ["fraud"] * task.n_fraud + ["gray"] * task.n_gray
    base: list[Ad] = []
    for label in labels:
        ad_id = _draw_unique(rng, used.ad_id, "ad_", 30, 6)
        members, weights = _group_table(pool, label)
        in_group = members[pick(r(), weights)]
        category = member(r(), in_group)
        ad = Ad(ad_id, label, category, CATEGORY_BY_ID[category].group)
        ad.style = _STYLES[pick(r(), STYLE_PROBS[label])]
        ad.text_seed = int(r() * 4294967296)
        core = pick(r(), COUNTRY_GROUP_PROBS[label]) == 0
        ad.country = member(r(), CORE_COUNTRIES if core else OTHER_COUNTRIES)
        _set_label_fields(ad)
        base.append(ad)

    # Step 2: late arrivals, weighted draws without replacement.
    n_late = task.late_arrivals if max_rounds > 1 else 0
    remaining = list(base)
    late: list[Ad] = []
    for k in range(n_late):
        total = sum(ARRIVAL_WEIGHTS[a.label] for a in remaining)
        x = r() * total
        acc = 0
        chosen = len(remaining) - 1
        for i, a in enumerate(remaining):
            acc += ARRIVAL_WEIGHTS[a.label]
            if x < acc:
                chosen = i
                break
        ad = remaining.pop(chosen)
        ad.late_round = 2 + (k % (max_rounds - 1))
        late.append(ad)

    # Step 3: rings.
    rings: list[Ring] = []
    if task.n_rings > 0:
        frauds = [a for a in base if a.label == "fraud"]
        for i in range(len(frauds) - 1, 0, -1):
            j = int(r() * (i + 1))
            frauds[i], frauds[j] = frauds[j], frauds[i]
        pos = 0
        for i in range(task.n_rings):
            left = task.n_rings - 1 - i
            hi = min(5, (len(frauds) - pos) - 3 * left)
            if hi < 3:
                break
            size = int_range(r(), 3, hi)
            members = frauds[pos:pos + size]
            pos += size
            k = int_range(r(), 2, 4)
            kinds = list(IDENTIFIER_KINDS)
            for a in range(len(kinds) - 1, 0, -1):
                b = int(r() * (a + 1))
                kinds[a], kinds[b] = kinds[b], kinds[a]
            shared = tuple(x for x in IDENTIFIER_KINDS if x in kinds[:k])  # canonical kind order
            ring = Ring(f"ring_{i}", [m.ad_id for m in members], shared, RING_TOPOLOGIES[i % 3])
            for m in members:
                m.ring_id = ring.ring_id
            rings.append(ring)

    # Step 4: identifiers; ring values first, then each base ad.
    ring_values: dict[str, dict[str, str]] = {}
    for ring in rings:
        values: dict[str, str] = {}
        for kind in ring.shared_kinds:
            values.update(_draw_kind(rng, kind, used))
        ring_values[ring.ring_id] = values
    ring_by_id = {ring.ring_id: ring for ring in rings}
    for ad in base:
        ad.advertiser_id = _draw_unique(rng, used.advertiser_id, "adv_", 30, 6)
        shared = ring_by_id[ad.ring_id].shared_kinds if ad.ring_id else ()
        for kind in IDENTIFIER_KINDS:
            if kind in shared:
                for k, v in ring_values[ad.ring_id].items():  # type: ignore[index]
                    setattr(ad, k, v)
            else:
                for k, v in _draw_kind(rng, kind, used):
                    setattr(ad, k, v)
        if ad.ring_id:
            ring = ring_by_id[ad.ring_id]
            if "payment_id" in shared:
                ad.n_on_payment = len(ring.members)
            ad.shares_fingerprint = "targeting_fingerprint" in shared
    return Episode(base, late, rings, used)
