"""Episode generation (docs/rules.md §4.5, §11.2) and proposal creation (§6.1).

Base ads, late arrivals, rings and identifiers all come from the ``episode`` stream, in that order;
the k-th proposal comes from ``proposal/<k>``. Identifier values are unique per kind within a match
(collision redraw from the same stream), except where a ring shares a kind.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .ads import Ad, Ring
from .core.episode import draw_episode
from .rng import b32, int_range, member, pick, stream
from .spec import (
    CATEGORIES,
    CATEGORY_BY_ID,
    CORE_COUNTRIES,
    COUNTRY_GROUP_PROBS,
    GRAY_SEVERITY,
    IDENTIFIER_KINDS,
    LABELS,
    OTHER_COUNTRIES,
    REGISTRARS,
    RING_TOPOLOGIES,
    STEM_A,
    STEM_B,
    TaskSpec,
)

_REGISTRAR_NAMES = tuple(r for r, _ in REGISTRARS)
_REGISTRAR_PROBS = tuple(p for _, p in REGISTRARS)
_STYLES = ("plain", "pushy")


@dataclass
class UsedIds:
    """Identifier values already used in a match, per kind (collision redraw, §4.5)."""

    ad_id: set[str] = field(default_factory=set)
    advertiser_id: set[str] = field(default_factory=set)
    payment_id: set[str] = field(default_factory=set)
    domain_stem: set[str] = field(default_factory=set)
    targeting_fingerprint: set[str] = field(default_factory=set)
    config_fingerprint: set[str] = field(default_factory=set)


def _draw_unique(rng: random.Random, used: set[str], prefix: str, bits: int, chars: int) -> str:
    while True:
        value = prefix + b32(int(rng.random() * (1 << bits)), chars)
        if value not in used:
            used.add(value)
            return value


def _draw_stem(rng: random.Random, used: set[str]) -> str:
    r = rng.random
    while True:
        a = member(r(), STEM_A)
        b = member(r(), STEM_B)
        n = int_range(r(), 0, 99)
        stem = a + b + (str(n) if n > 0 else "")
        if stem not in used:
            used.add(stem)
            return stem


def _set_label_fields(ad: Ad) -> None:
    if ad.label == "fraud":
        cat = CATEGORY_BY_ID[ad.category]
        ad.fraud_type, ad.severity = cat.fraud_type, cat.severity
    elif ad.label == "gray":
        ad.fraud_type, ad.severity = "gray_area", GRAY_SEVERITY
    else:
        ad.fraud_type, ad.severity = "", 0.0


@dataclass
class Episode:
    """Everything generated at reset."""

    base_ads: list[Ad]  # generation order
    late: list[Ad]  # selection order
    rings: list[Ring]
    used: UsedIds


def generate_episode(task: TaskSpec, task_id: str, seed: int, max_rounds: int) -> Episode:
    """Generate the base ads, late arrivals, rings and identifiers of a match (docs/rules.md §4.5).

    The draws run compiled (``core/episode.py``); this turns their integers into ads, rings and the
    identifier texts.
    """
    arr = draw_episode(task, task_id, seed, max_rounds)
    used = UsedIds()
    base: list[Ad] = []
    ids, advs, pays, tfs, cfgs, stems = (used.ad_id, used.advertiser_id, used.payment_id,
                                         used.targeting_fingerprint, used.config_fingerprint, used.domain_stem)
    for (ad_v, lab, cat_i, style, text_seed, core, country, late_round, _ring, adv_v, pay_v, reg, stem_a, stem_b,  # E_*
         stem_n, tf_v, cfg_v) in arr.ads.tolist():
        cat = CATEGORIES[cat_i]
        ad = Ad("ad_" + b32(ad_v, 6), LABELS[lab], cat.id, cat.group)
        ad.style = _STYLES[style]
        ad.text_seed = text_seed
        ad.country = (CORE_COUNTRIES if core else OTHER_COUNTRIES)[country]
        if late_round:
            ad.late_round = late_round
        _set_label_fields(ad)
        ad.advertiser_id = "adv_" + b32(adv_v, 6)
        ad.payment_id = "pm_" + b32(pay_v, 8)
        ad.registrar = _REGISTRAR_NAMES[reg]
        ad.domain_stem = STEM_A[stem_a] + STEM_B[stem_b] + (str(stem_n) if stem_n > 0 else "")
        ad.targeting_fingerprint = "tf_" + b32(tf_v, 6)
        ad.config_fingerprint = "cfg_" + b32(cfg_v, 6)
        ids.add(ad.ad_id)
        advs.add(ad.advertiser_id)
        pays.add(ad.payment_id)
        stems.add(ad.domain_stem)
        tfs.add(ad.targeting_fingerprint)
        cfgs.add(ad.config_fingerprint)
        base.append(ad)
    rings: list[Ring] = []
    for r, ((size, mask), members) in enumerate(zip(arr.rings.tolist(), arr.ring_members.tolist(), strict=True)):
        shared = tuple(kind for k, kind in enumerate(IDENTIFIER_KINDS) if mask >> k & 1)
        ring = Ring(f"ring_{r}", [base[i].ad_id for i in members[:size]], shared, RING_TOPOLOGIES[r % 3])
        for i in members[:size]:
            ad = base[i]
            ad.ring_id = ring.ring_id
            if "payment_id" in shared:
                ad.n_on_payment = size
            ad.shares_fingerprint = "targeting_fingerprint" in shared
        rings.append(ring)
    return Episode(base, [base[i] for i in arr.late.tolist()], rings, used)


def create_proposal(task_id: str, seed: int, slot: int, category: str, camouflage: tuple[str, ...],
                    used: UsedIds) -> Ad:
    """Create the staged ad of an accepted ``propose_ad`` in slot ``slot`` (§6.1); texts set by caller."""
    rng = stream(task_id, seed, f"proposal/{slot}")
    r = rng.random
    ad_id = _draw_unique(rng, used.ad_id, "ad_", 30, 6)
    cat = CATEGORY_BY_ID[category]
    ad = Ad(ad_id, "fraud", category, cat.group)
    ad.is_proposal = True
    ad.slot_index = slot
    ad.camouflage = camouflage
    ad.advertiser_id = _draw_unique(rng, used.advertiser_id, "adv_", 30, 6)
    ad.payment_id = _draw_unique(rng, used.payment_id, "pm_", 40, 8)
    ad.registrar = _REGISTRAR_NAMES[pick(r(), _REGISTRAR_PROBS)]
    ad.domain_stem = _draw_stem(rng, used.domain_stem)
    ad.targeting_fingerprint = _draw_unique(rng, used.targeting_fingerprint, "tf_", 30, 6)
    ad.config_fingerprint = _draw_unique(rng, used.config_fingerprint, "cfg_", 30, 6)
    column = "legit" if "advertiser_history" in camouflage else "fraud"
    core = pick(r(), COUNTRY_GROUP_PROBS[column]) == 0
    ad.country = member(r(), CORE_COUNTRIES if core else OTHER_COUNTRIES)
    ad.text_seed = int(r() * (1 << 32))
    ad.fraud_type, ad.severity = cat.fraud_type, cat.severity
    ad.impact = cat.severity * (1 - 0.2 * len(camouflage))
    return ad
