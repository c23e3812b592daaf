"""Shared belief math for the Bayesian house bots (docs/rules.md §4.5, §5.2, §12).

A belief is a 3-vector over the labels in ``spec.LABELS`` order (legit, fraud, gray), kept as
probabilities. The pieces are:

* :func:`log_prior` — the task mix (``n_legit``, ``n_fraud + max_proposals``, ``n_gray``) of
  ``spec.TASKS[task_id]``, with ``max_proposals`` taken from the observation header (so overrides
  count). A label with zero mass (gray in task_1) has log prior ``-inf`` and stays impossible.
* :func:`surface_log_likelihood` — category group, style (``copy_markers`` non-empty ≈ pushy) and
  country group, from the §4.5 table.
* :func:`findings_log_likelihood` — the exact §5.2 likelihood of every revealed Finding, via
  ``evidence.finding_log_likelihood`` (the classifier uses the m the Finding carries).
* :func:`expected_entropy_reduction` — H(p) − E_o[H(p | o)] over the joint bucket outcomes of a
  target's label-dependent fields (for ``policy_classifier``: unsafe/safe with the ad's current m).
* :func:`shared_identifier_groups` — which ads share a revealed identifier (advertiser_id,
  payment_id, domain_stem, targeting_fingerprint, config_fingerprint). Outside rings identifiers are
  unique (§4.5), so sharing one proves ring membership; such ads get :data:`SHARED_BELIEF`.

Documented choices: logs are summed in the fixed order prior, category group, style, country, then
Findings in canonical target order (§5.2); entropies use natural logs; ``0 · log 0 = 0``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fraudarena.arena import evidence, spec
from fraudarena.arena.memo import memo

Belief = tuple[float, float, float]
NEG_INF = float("-inf")

#: P(fraud) for an ad sharing a revealed identifier with another ad; the remaining 0.01 is split
#: evenly between legit and gray (all of it to legit when the task has no gray ads).
SHARED_FRAUD_PROB = 0.99

#: Identifier fields a Finding may reveal, by target, in canonical target order (§5.2).
IDENTIFIER_FIELDS: dict[str, tuple[str, ...]] = {
    "advertiser_history": ("advertiser_id",),
    "landing_page": ("domain_stem",),
    "payment_method": ("payment_id",),
    "targeting_overlap": ("targeting_fingerprint",),
    "campaign_structure": ("config_fingerprint",),
}

#: Fields quoted in rationales, by target (the citation keys of §10.2).
CITATION_FIELDS: dict[str, tuple[str, ...]] = {
    "advertiser_history": ("advertiser_id",),
    "landing_page": ("domain",),
    "payment_method": ("payment_id",),
    "targeting_overlap": ("targeting_fingerprint",),
    "campaign_structure": ("config_fingerprint",),
    "policy_classifier": (),
}

_GROUP_INDEX = {g: i for i, g in enumerate(spec.CATEGORY_GROUPS)}


def _log(p: float) -> float:
    return math.log(p) if p > 0.0 else NEG_INF


def log_prior(task_id: str, max_proposals: int) -> Belief:
    """log P(label) from the task's base mix with ``max_proposals`` added to fraud."""
    task = spec.TASKS[task_id]
    counts = (task.n_legit, task.n_fraud + max(0, max_proposals), task.n_gray)
    total = sum(counts)
    return (_log(counts[0] / total), _log(counts[1] / total), _log(counts[2] / total))


@memo(4096)
def _surface_ll(category: str, pushy: bool, core: bool) -> Belief:
    group = spec.CATEGORY_BY_ID[category].group if category in spec.CATEGORY_BY_ID else "M"
    gi = _GROUP_INDEX[group]
    out = []
    for label in spec.LABELS:
        ll = math.log(spec.GROUP_PROBS[label][gi])
        ll += math.log(spec.STYLE_PROBS[label][1 if pushy else 0])
        ll += math.log(spec.COUNTRY_GROUP_PROBS[label][0 if core else 1])
        out.append(ll)
    return (out[0], out[1], out[2])


def surface_log_likelihood(ad: Mapping[str, Any]) -> Belief:
    """log P(surface cues | label) of an AdView: category group, pushy style, country group."""
    return _surface_ll(str(ad.get("category")), bool(ad.get("copy_markers")),
                       ad.get("country") in spec.CORE_COUNTRY_SET)


def findings_log_likelihood(findings: Mapping[str, Mapping[str, Any]]) -> Belief:
    """Σ log P(Finding | label) over an ad's revealed Findings, in canonical target order."""
    ll = [0.0, 0.0, 0.0]
    for target in spec.TARGETS:
        finding = findings.get(target)
        if finding is None:
            continue
        part = evidence.finding_log_likelihood(target, dict(finding))
        for i in range(3):
            ll[i] += part[i]
    return (ll[0], ll[1], ll[2])


def normalise(logp: Sequence[float]) -> Belief:
    """Softmax of a log-vector; ``-inf`` entries become exactly 0."""
    top = max(logp)
    if top == NEG_INF:
        return (1 / 3, 1 / 3, 1 / 3)
    w = [math.exp(x - top) if x != NEG_INF else 0.0 for x in logp]
    z = w[0] + w[1] + w[2]
    return (w[0] / z, w[1] / z, w[2] / z)


def posterior(prior: Belief, ad: Mapping[str, Any], findings: Mapping[str, Mapping[str, Any]] | None,
              surface_only: bool = False) -> Belief:
    """The 3-class posterior of one ad (prior + surface + Findings unless ``surface_only``)."""
    s = surface_log_likelihood(ad)
    f = (0.0, 0.0, 0.0) if surface_only or not findings else findings_log_likelihood(findings)
    return normalise([prior[i] + s[i] + f[i] for i in range(3)])


def shared_belief(prior: Belief) -> Belief:
    """The belief of an ad that shares a revealed identifier with another ad."""
    rest = 1.0 - SHARED_FRAUD_PROB
    if prior[2] == NEG_INF:
        return (rest, SHARED_FRAUD_PROB, 0.0)
    return (rest / 2, SHARED_FRAUD_PROB, rest / 2)


def entropy(p: Iterable[float]) -> float:
    """Shannon entropy in nats."""
    return -sum(x * math.log(x) for x in p if x > 0.0)


def argmax(p: Sequence[float]) -> int:
    """Index of the largest entry; ties go to the earlier label (legit, fraud, gray)."""
    best = 0
    for i in (1, 2):
        if p[i] > p[best]:
            best = i
    return best


def _joint_table(target: str) -> tuple[Belief, ...]:
    fields = evidence.INFORMATIVE_FIELDS[target]
    per_field = [[evidence.outcome_probs(f, label) for label in spec.LABELS] for f in fields]
    sizes = [len(rows[0]) for rows in per_field]
    table = []
    for combo in itertools.product(*(range(n) for n in sizes)):
        probs = []
        for li in range(3):
            p = 1.0
            for fi, k in enumerate(combo):
                p *= per_field[fi][li][k]
            probs.append(p)
        table.append((probs[0], probs[1], probs[2]))
    return tuple(table)


#: P(joint outcome | label) for each of the first five targets.
JOINT_OUTCOMES: dict[str, tuple[Belief, ...]] = {t: _joint_table(t) for t in evidence.INFORMATIVE_FIELDS}


def _classifier_table(m: int) -> tuple[Belief, ...]:
    unsafe = tuple(evidence.classifier_unsafe_prob(label, m) for label in spec.LABELS)
    return ((unsafe[0], unsafe[1], unsafe[2]), (1 - unsafe[0], 1 - unsafe[1], 1 - unsafe[2]))


CLASSIFIER_OUTCOMES: dict[int, tuple[Belief, ...]] = {m: _classifier_table(m) for m in range(4)}


def _conditional_entropies(table: tuple[Belief, ...]) -> Belief:
    """H(outcome | label) for each label of an outcome table."""
    out = []
    for li in range(3):
        h = 0.0
        for lik in table:
            if lik[li] > 0.0:
                h -= lik[li] * math.log(lik[li])
        out.append(h)
    return (out[0], out[1], out[2])


_COND_H: dict[object, Belief] = {
    **{t: _conditional_entropies(tab) for t, tab in JOINT_OUTCOMES.items()},
    **{("policy_classifier", m): _conditional_entropies(tab) for m, tab in CLASSIFIER_OUTCOMES.items()},
}


def expected_entropy_reduction(p: Belief, target: str, markers: int = 0) -> float:
    """H(p) − E[H(p | outcome)] of pulling ``target`` (``markers`` = the ad's current m, classifier only).

    Computed as the mutual information H(outcome) − Σ_l p_l H(outcome | l), which equals the definition
    and needs one logarithm per outcome instead of three.
    """
    if target == "policy_classifier":
        key: object = ("policy_classifier", min(3, markers))
        table = CLASSIFIER_OUTCOMES[min(3, markers)]
    else:
        key = target
        table = JOINT_OUTCOMES[target]
    p0, p1, p2 = p
    h_out = 0.0
    log = math.log
    for lik in table:
        z = p0 * lik[0] + p1 * lik[1] + p2 * lik[2]
        if z > 0.0:
            h_out -= z * log(z)
    ch = _COND_H[key]
    return h_out - (p0 * ch[0] + p1 * ch[1] + p2 * ch[2])


def revealed_identifiers(findings: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(kind, value) pairs revealed by an ad's Findings, canonical target order."""
    out = []
    for target, fields in IDENTIFIER_FIELDS.items():
        finding = findings.get(target)
        if not finding:
            continue
        for name in fields:
            value = finding.get(name)
            if value:
                out.append((name, str(value)))
    return out


def shared_identifier_groups(ledger: Mapping[str, Mapping[str, Mapping[str, Any]]]
                             ) -> dict[tuple[str, str], list[str]]:
    """Revealed identifiers held by ≥ 2 ads: {(kind, value): sorted ad ids}."""
    holders: dict[tuple[str, str], list[str]] = {}
    for ad_id in sorted(ledger):
        for key in revealed_identifiers(ledger[ad_id]):
            holders.setdefault(key, []).append(ad_id)
    return {k: v for k, v in holders.items() if len(v) >= 2}


def citation_phrase(target: str, finding: Mapping[str, Any] | None) -> str:
    """``target (field value, ...)`` — a target name with the identifiers its Finding revealed."""
    parts = []
    for name in CITATION_FIELDS.get(target, ()):
        value = (finding or {}).get(name)
        if value:
            parts.append(f"{name} {value}")
    return f"{target} ({', '.join(parts)})" if parts else target


def expected_value_label(p: Belief, category: str) -> int:
    """Label whose correct verdict has the highest expected §10.1 matrix value under ``p``.

    The fraud row adds 0.1 × the category's severity for reject; ties go legit < fraud < gray.
    """
    cat = spec.CATEGORY_BY_ID.get(category)
    severity = cat.severity if cat is not None else 0.5
    best, best_v = 0, float("-inf")
    for i, verdict in enumerate(("approve", "reject", "escalate")):
        row = spec.GRADER_MATRIX[verdict]
        bonus = 0.1 * severity if verdict == "reject" else 0.0
        v = p[0] * row["legit"] + p[1] * (row["fraud"] + bonus) + p[2] * row["gray"]
        if v > best_v:
            best, best_v = i, v
    return best
