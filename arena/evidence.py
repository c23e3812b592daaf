"""Investigation evidence (docs/rules.md §5.2): field distributions, draws, Findings and their likelihoods.

The distributions are declared once as data. ``draw_fields`` consumes an ad's ``evidence/<ad_id>``
stream in the fixed order of the spec (five targets, 27 draws); ``classifier_fields`` turns the two
``classifier/<ad_id>`` draws into a decision at pull time (the marker count m is taken then).
``finding_log_likelihood`` gives the exact log P(finding | label) that a Bayesian investigator uses;
only label-dependent fields contribute (a value's position inside its bucket is uniform for every label).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .rng import int_range, member, pick
from .spec import LABELS

# ---------------------------------------------------------------------------------------------------------
# Field kinds. Probabilities are given per mode (legit, fraud, gray); "all" fields use the same row.
#
# The fraud column of every label-dependent field is docs/rules.md §5.2's column sharpened away from the legit
# column (p_fraud * (p_fraud / p_legit) ** 0.65, renormalised, rounded to 0.01): with the spec's tables an
# investigating Bayesian was barely better than one deciding from surface cues. The legit and gray
# columns are the spec's. Before/after tables and the measurements: docs/rules-changes.md.


@dataclass(frozen=True, slots=True)
class NumField:
    """Bucketed integer: one pick for the bucket, then one int[] draw inside it."""

    name: str
    buckets: tuple[tuple[int, int], ...]
    probs: dict[str, tuple[float, ...]]  # by mode


@dataclass(frozen=True, slots=True)
class CatField:
    """Categorical value: one pick."""

    name: str
    values: tuple[object, ...]
    probs: dict[str, tuple[float, ...]]


@dataclass(frozen=True, slots=True)
class BoolField:
    """Boolean: u < p."""

    name: str
    p_true: dict[str, float]


@dataclass(frozen=True, slots=True)
class ClsField:
    """Class then member: one pick for the class, then a weighted or uniform member draw."""

    name: str
    classes: tuple[str, ...]
    members: tuple[tuple[str, ...], ...]
    member_weights: tuple[tuple[float, ...] | None, ...]
    probs: dict[str, tuple[float, ...]]


def _same(row: tuple[float, ...]) -> dict[str, tuple[float, ...]]:
    return {label: row for label in LABELS}


def _by_label(legit: tuple[float, ...], fraud: tuple[float, ...], gray: tuple[float, ...]
              ) -> dict[str, tuple[float, ...]]:
    return {"legit": legit, "fraud": fraud, "gray": gray}


ACCOUNT_AGE = NumField("account_age_days", ((1, 29), (30, 179), (180, 729), (730, 3650)),
                       _by_label((.08, .17, .35, .40), (.49, .33, .12, .06), (.10, .25, .35, .30)))
VERIFIED = BoolField("verified_business", {"legit": .70, "fraud": .29, "gray": .65})
PRIOR_VIOLATIONS = CatField("prior_violations", (0, 1, 2, 3),
                            _by_label((.78, .15, .05, .02), (.37, .29, .21, .13), (.65, .22, .09, .04)))
DOMAIN_AGE = NumField("domain_age_days", ((1, 89), (90, 364), (365, 1824), (1825, 7300)),
                      _by_label((.07, .18, .40, .35), (.53, .28, .14, .05), (.15, .25, .35, .25)))
TLD = ClsField("tld", ("classic", "retail", "cheap"),
               (("com", "net", "org", "io", "co"), ("shop", "store"), ("xyz", "site", "click")),
               ((.5, .15, .1, .1, .15), None, (.4, .3, .3)),
               _by_label((.80, .14, .06), (.53, .27, .20), (.70, .20, .10)))
CLAIMS_FLAGGED = CatField("claims_flagged", (0, 1, 2, 3),
                          _by_label((.75, .17, .06, .02), (.21, .36, .22, .21), (.25, .35, .25, .15)))
SSL_VALID = BoolField("ssl_valid", {label: .92 for label in LABELS})
REDIRECT_HOPS = CatField("redirect_hops", (0, 1, 2, 3), _same((.70, .20, .07, .03)))
PAYMENT_TYPE = ClsField("payment_type", ("card", "bank", "risky"),
                        (("credit_card", "corporate_card"), ("bank_account",),
                         ("prepaid_card", "virtual_card", "crypto", "wire_transfer")),
                        ((.7, .3), None, (.35, .35, .15, .15)),
                        _by_label((.65, .25, .10), (.25, .07, .68), (.60, .25, .15)))
CHARGEBACKS = NumField("chargebacks_90d", ((0, 0), (1, 1), (2, 5)),
                       _by_label((.85, .11, .04), (.30, .35, .35), (.75, .17, .08)))
ACCOUNTS_ON_INSTRUMENT = NumField("accounts_on_instrument", ((1, 1), (2, 2), (3, 6)), _same((.70, .20, .10)))
AUDIENCE_OVERLAP = NumField("audience_overlap_pct", ((0, 29), (30, 59), (60, 100)),
                            _by_label((.50, .35, .15), (.13, .36, .51), (.35, .40, .25)))
GEO_COUNT = NumField("geo_count", ((1, 2), (3, 5), (6, 12)),
                     _by_label((.60, .30, .10), (.14, .28, .58), (.45, .35, .20)))
OBJECTIVE = ClsField("objective", ("outcome", "reach"),
                     (("conversions", "leads", "sales", "app_installs"),
                      ("traffic", "awareness", "reach", "engagement")),
                     (None, None),
                     _by_label((.75, .25), (.20, .80), (.60, .40)))
AD_SET_COUNT = NumField("ad_set_count", ((1, 5), (6, 15), (16, 50)),
                        _by_label((.62, .28, .10), (.19, .32, .49), (.55, .30, .15)))
BID_STRATEGY = CatField("bid_strategy", ("lowest_cost", "cost_cap", "bid_cap", "target_cost"),
                        _same((.4, .3, .15, .15)))

# Label-dependent fields per target (the "joint bucket outcomes" of the scripted investigator).
INFORMATIVE_FIELDS: dict[str, tuple[NumField | CatField | BoolField | ClsField, ...]] = {
    "advertiser_history": (ACCOUNT_AGE, VERIFIED, PRIOR_VIOLATIONS),
    "landing_page": (DOMAIN_AGE, TLD, CLAIMS_FLAGGED),
    "payment_method": (PAYMENT_TYPE, CHARGEBACKS),
    "targeting_overlap": (AUDIENCE_OVERLAP, GEO_COUNT),
    "campaign_structure": (OBJECTIVE, AD_SET_COUNT),
}

#: Every draw of :func:`draw_fields`, in order, per target: a field (its kind fixes its draws: NumField and
#: ClsField two, CatField and BoolField one) or ``(name, n)`` for draws that only make noise values. The batched
#: core draws its evidence outcomes by this plan (``arena/core/draws.py``); a test checks it against
#: ``draw_fields``.
DRAW_PLAN: dict[str, tuple[NumField | CatField | BoolField | ClsField | tuple[str, int], ...]] = {
    "advertiser_history": (ACCOUNT_AGE, VERIFIED, PRIOR_VIOLATIONS),
    "landing_page": (DOMAIN_AGE, TLD, CLAIMS_FLAGGED, SSL_VALID, REDIRECT_HOPS),
    "payment_method": (PAYMENT_TYPE, CHARGEBACKS, ACCOUNTS_ON_INSTRUMENT),
    "targeting_overlap": (AUDIENCE_OVERLAP, GEO_COUNT),  # a shared fingerprint fixes the overlap's bucket
    "campaign_structure": (OBJECTIVE, AD_SET_COUNT, BID_STRATEGY, ("daily_budget_usd", 1)),
}
#: the overlap bucket of a ring member that shares its targeting fingerprint (values 85–99, §4.5)
SHARED_OVERLAP_RANGE = (85, 99)

CLASSIFIER_BASE: dict[str, tuple[float, float]] = {  # p(unsafe) = a + b * m
    "legit": (.10, .05),
    "fraud": (.50, .10),
    "gray": (.45, .10),
}
CLASSIFIER_CODES: dict[str, tuple[str, ...]] = {
    "miracle_cure": ("S6",), "network_health": ("S6",), "gray_area_supplements": ("S6",), "fitness": ("S6",),
    "counterfeit_goods": ("S8",), "clone_brand": ("S8",),
    "celebrity_endorsement_fraud": ("S5",),
    "advance_fee": ("S7",), "network_fintech": ("S7",),
}


def classifier_unsafe_prob(mode: str, m: int) -> float:
    """P(decision = unsafe | mode, m) with m = min(3, number of marker families)."""
    a, b = CLASSIFIER_BASE[mode]
    return a + b * min(3, m)


# ---------------------------------------------------------------------------------------------------------
# Draws


def _num(r: Callable[[], float], f: NumField, mode: str) -> int:
    lo, hi = f.buckets[pick(r(), f.probs[mode])]
    return int_range(r(), lo, hi)


def _cls(r: Callable[[], float], f: ClsField, mode: str) -> str:
    k = pick(r(), f.probs[mode])
    weights = f.member_weights[k]
    members = f.members[k]
    u = r()
    return members[pick(u, weights)] if weights is not None else member(u, members)


def draw_fields(r: Callable[[], float], modes: tuple[str, ...], n_on_payment: int,
                shares_fingerprint: bool) -> dict[str, dict[str, object]]:
    """Draw the label-dependent and noise fields of the first five targets (27 draws, table order).

    ``r`` is the ``random`` method of the ad's ``evidence/<ad_id>`` stream; ``modes`` gives the mode for
    each of the five targets (the label, or ``legit`` for a camouflaged target of a proposal).
    """
    m_adv, m_land, m_pay, m_tgt, m_camp = modes
    adv = {
        "account_age_days": _num(r, ACCOUNT_AGE, m_adv),
        "verified_business": r() < VERIFIED.p_true[m_adv],
        "prior_violations": PRIOR_VIOLATIONS.values[pick(r(), PRIOR_VIOLATIONS.probs[m_adv])],
    }
    land = {
        "domain_age_days": _num(r, DOMAIN_AGE, m_land),
        "tld": _cls(r, TLD, m_land),
        "claims_flagged": CLAIMS_FLAGGED.values[pick(r(), CLAIMS_FLAGGED.probs[m_land])],
        "ssl_valid": r() < SSL_VALID.p_true[m_land],
        "redirect_hops": REDIRECT_HOPS.values[pick(r(), REDIRECT_HOPS.probs[m_land])],
    }
    pay = {
        "payment_type": _cls(r, PAYMENT_TYPE, m_pay),
        "chargebacks_90d": _num(r, CHARGEBACKS, m_pay),
        "accounts_on_instrument": max(_num(r, ACCOUNTS_ON_INSTRUMENT, m_pay), n_on_payment),
    }
    u_bucket, u_value = r(), r()
    if shares_fingerprint:  # bucket ignored, value from the value draw
        overlap = int_range(u_value, *SHARED_OVERLAP_RANGE)
    else:
        lo, hi = AUDIENCE_OVERLAP.buckets[pick(u_bucket, AUDIENCE_OVERLAP.probs[m_tgt])]
        overlap = int_range(u_value, lo, hi)
    tgt = {"audience_overlap_pct": overlap, "geo_count": _num(r, GEO_COUNT, m_tgt)}
    camp = {
        "objective": _cls(r, OBJECTIVE, m_camp),
        "ad_set_count": _num(r, AD_SET_COUNT, m_camp),
        "bid_strategy": BID_STRATEGY.values[pick(r(), BID_STRATEGY.probs[m_camp])],
        "daily_budget_usd": round(10 ** (1.3 + 2.4 * r())),
    }
    return {
        "advertiser_history": adv,
        "landing_page": land,
        "payment_method": pay,
        "targeting_overlap": tgt,
        "campaign_structure": camp,
    }


def classifier_fields(u1: float, u2: float, mode: str, m: int, category: str,
                      markers: list[str]) -> dict[str, object]:
    """The policy classifier's Finding fields from its two draws, the mode and m at pull time."""
    unsafe = u1 < classifier_unsafe_prob(mode, m)
    codes = ["S2", *CLASSIFIER_CODES.get(category, ())] if unsafe else []
    return {"decision": "unsafe" if unsafe else "safe", "confidence": classifier_confidence(unsafe, u2),
            "codes": codes, "markers": list(markers)}


def classifier_confidence(unsafe: bool, u2: float) -> float:
    """The confidence the policy classifier shows with its decision, from its second draw."""
    return round(.60 + .35 * u2, 2) if unsafe else round(.55 + .35 * u2, 2)


# ---------------------------------------------------------------------------------------------------------
# Rendering (wording is this implementation's fixed choice; the fields shown are the spec's).


def render_text(target: str, f: dict[str, object]) -> str:
    """One rendered line for a Finding."""
    if target == "advertiser_history":
        verified = "verified" if f["verified_business"] else "unverified"
        return (f"advertiser {f['advertiser_id']}: account {f['account_age_days']} days old, {verified} "
                f"business, {f['prior_violations']} prior violations, country {f['country']}")
    if target == "landing_page":
        ssl = "valid" if f["ssl_valid"] else "invalid"
        return (f"landing page {f['domain']} via {f['registrar']}: domain {f['domain_age_days']} days old, "
                f"SSL {ssl}, {f['redirect_hops']} redirects, {f['claims_flagged']} unsupported claims; "
                f"\"{f['content_summary']}\"")
    if target == "payment_method":
        return (f"payment {f['payment_id']}: {f['payment_type']}, {f['chargebacks_90d']} chargebacks in 90 "
                f"days, instrument shared by {f['accounts_on_instrument']} accounts")
    if target == "targeting_overlap":
        return (f"targeting {f['targeting_fingerprint']}: \"{f['targeting_summary']}\", {f['geo_count']} "
                f"countries, {f['audience_overlap_pct']}% audience overlap")
    if target == "campaign_structure":
        return (f"campaign {f['config_fingerprint']}: objective {f['objective']}, {f['bid_strategy']} "
                f"bidding, {f['ad_set_count']} ad sets, ${f['daily_budget_usd']}/day")
    codes = ", ".join(f["codes"]) or "none"  # type: ignore[arg-type]
    markers = ", ".join(f["markers"]) or "none"  # type: ignore[arg-type]
    return (f"policy classifier: {str(f['decision']).upper()} ({f['confidence']}); codes {codes}; "
            f"markers {markers}")


# ---------------------------------------------------------------------------------------------------------
# Likelihoods (for Bayesian bots and analysis).


def _bucket_index(f: NumField, value: int) -> int:
    for i, (lo, hi) in enumerate(f.buckets):
        if lo <= value <= hi:
            return i
    return len(f.buckets) - 1


def _cls_index(f: ClsField, value: str) -> int:
    for i, members in enumerate(f.members):
        if value in members:
            return i
    raise ValueError(f"{value!r} is not a member of {f.name}")


def field_outcome(f: NumField | CatField | BoolField | ClsField, value: object) -> int:
    """The outcome index (bucket, value or class) of a label-dependent field's value."""
    if isinstance(f, NumField):
        return _bucket_index(f, int(value))  # type: ignore[call-overload]
    if isinstance(f, ClsField):
        return _cls_index(f, str(value))
    if isinstance(f, BoolField):
        return 0 if value else 1
    return f.values.index(value)


def outcome_probs(f: NumField | CatField | BoolField | ClsField, mode: str) -> tuple[float, ...]:
    """P(outcome | mode) for a label-dependent field, in outcome-index order."""
    if isinstance(f, BoolField):
        p = f.p_true[mode]
        return (p, 1.0 - p)
    return f.probs[mode]


def finding_log_likelihood(target: str, finding: dict[str, object], category_markers: int | None = None
                           ) -> tuple[float, float, float]:
    """log P(finding's label-dependent fields | label) for (legit, fraud, gray).

    For the policy classifier the decision's likelihood depends on m, the marker count at pull time,
    which the Finding carries (``markers``). Fields that are the same for every label contribute nothing.
    """
    if target == "policy_classifier":
        markers = finding.get("markers") or []
        m = min(3, len(markers)) if category_markers is None else category_markers  # type: ignore[arg-type]
        unsafe = finding.get("decision") == "unsafe"
        out = []
        for label in LABELS:
            p = classifier_unsafe_prob(label, m)
            out.append(math.log(p if unsafe else 1.0 - p))
        return (out[0], out[1], out[2])
    ll = [0.0, 0.0, 0.0]
    for f in INFORMATIVE_FIELDS[target]:
        k = field_outcome(f, finding[f.name])
        for i, label in enumerate(LABELS):
            ll[i] += math.log(outcome_probs(f, label)[k])
    return (ll[0], ll[1], ll[2])
