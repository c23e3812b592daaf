"""Frozen copy of the original (pre-optimisation) Investigator encoder and mask, for equivalence tests.

Do not optimise this file: ``test_encoders_codecs.py`` asserts that the production encoder and mask
produce exactly these outputs.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np

from fraudarena.agents.bots.belief import _COND_H, CLASSIFIER_OUTCOMES, JOINT_OUTCOMES
from fraudarena.arena.evidence import INFORMATIVE_FIELDS, BoolField, field_outcome, finding_log_likelihood
from fraudarena.arena.spec import (
    CATEGORIES,
    CATEGORY_BY_ID,
    CATEGORY_GROUPS,
    CATEGORY_INDEX,
    CORE_COUNTRY_SET,
    COUNTRY_GROUP_PROBS,
    GROUP_PROBS,
    LABELS,
    MARKER_FAMILIES,
    STYLE_PROBS,
    TARGET_INDEX,
    TARGETS,
    TASK_IDS,
    TASKS,
    VERDICTS,
)

N_CAT = len(CATEGORIES)
N_TARGETS = len(TARGETS)
MARKERS: tuple[str, ...] = tuple(sorted(MARKER_FAMILIES))
STATUSES: tuple[str, ...] = ("pending", *VERDICTS)
IDENTIFIER_FIELDS: tuple[str, ...] = ("payment_id", "domain_stem", "targeting_fingerprint", "config_fingerprint")

# Width of the one-hot block of each pulled target's label-dependent fields (+1 for classifier conf).
_FIELD_WIDTHS: dict[str, list[int]] = {}
for _t, _fields in INFORMATIVE_FIELDS.items():
    _FIELD_WIDTHS[_t] = []
    for _f in _fields:
        _FIELD_WIDTHS[_t].append(2 if isinstance(_f, BoolField) else len(_f.probs["legit"]))
_EVIDENCE_WIDTH = sum(sum(w) for w in _FIELD_WIDTHS.values()) + 2  # + classifier (unsafe, confidence)

_GROUP_INDEX = {g: i for i, g in enumerate(CATEGORY_GROUPS)}
_CAT_GROUP = [_GROUP_INDEX[c.group] for c in CATEGORIES]
_LOG_GROUP = {lab: [math.log(p) for p in GROUP_PROBS[lab]] for lab in LABELS}
_LOG_STYLE = {lab: [math.log(p) for p in STYLE_PROBS[lab]] for lab in LABELS}
_LOG_COUNTRY = {lab: [math.log(p) for p in COUNTRY_GROUP_PROBS[lab]] for lab in LABELS}

AD_FEATURES = (
    N_CAT + 3 + 2 + len(MARKERS) + 1 + 1 + 2 + len(STATUSES) + 1 + N_TARGETS + 1 + _EVIDENCE_WIDTH
    + 4 + 3 + 3 + 4 + N_TARGETS + 5
)
PER_AD = 10
INV_END = 0
K_VERDICT = 6
K_LINK = 9


def expected_entropy_reduction(p: tuple[float, float, float], target: str, markers: int = 0) -> float:
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



def task_prior(obs: dict) -> tuple[float, float, float]:
    """Log prior over (legit, fraud, gray) for an unseen ad: the task's base mix plus proposals as fraud."""
    spec = TASKS.get(obs.get("task_id", ""), TASKS["task_3"])
    n = (spec.n_legit, spec.n_fraud + int(obs.get("max_proposals", spec.max_proposals)), spec.n_gray)
    tot = float(sum(n))
    return tuple(math.log(max(x, 0.5) / tot) for x in n)  # type: ignore[return-value]


def ad_surface_loglik(ad: dict) -> list[float]:
    """Surface log-likelihoods (category group, copy style via markers, country group) per label."""
    cat = CATEGORY_BY_ID.get(ad.get("category", ""))
    g = _GROUP_INDEX[cat.group] if cat else 0
    style = 1 if ad.get("copy_markers") else 0
    country = 0 if ad.get("country") in CORE_COUNTRY_SET else 1
    return [_LOG_GROUP[lab][g] + _LOG_STYLE[lab][style] + _LOG_COUNTRY[lab][country] for lab in LABELS]


@dataclass
class InvestigatorEncoding:
    """The encoded Investigator observation."""

    ad_ids: list[str]
    ads: np.ndarray  # [n_ads, AD_FEATURES] float32
    glob: np.ndarray  # [INV_GLOBAL_FEATURES] float32
    posterior: np.ndarray  # [n_ads, 3] P(legit, fraud, gray)
    partners: list[list[str]] = field(default_factory=list)  # per ad: unlinked ads sharing an identifier


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        p = self.parent.setdefault(x, x)
        while p != self.parent.setdefault(p, p):
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        self.parent[x] = p
        return p

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def shared_identifier_groups(ledger: dict) -> dict[str, set[str]]:
    """For each ad, the set of other ads sharing at least one revealed identifier value with it."""
    by_value: dict[tuple[str, str], list[str]] = {}
    for ad_id, pulls in ledger.items():
        for finding in pulls.values():
            for key in IDENTIFIER_FIELDS:
                val = finding.get(key)
                if val:
                    by_value.setdefault((key, str(val)), []).append(ad_id)
    out: dict[str, set[str]] = {}
    for ids in by_value.values():
        if len(ids) > 1:
            for a in ids:
                out.setdefault(a, set()).update(x for x in ids if x != a)
    return out


def _evidence_block(pulls: dict) -> tuple[list[float], list[float]]:
    """One-hot label-dependent fields of the pulled targets, and the summed finding log-likelihood."""
    vec: list[float] = []
    ll = [0.0, 0.0, 0.0]
    for target, fields in INFORMATIVE_FIELDS.items():
        finding = pulls.get(target)
        widths = _FIELD_WIDTHS[target]
        if finding is None:
            vec.extend([0.0] * sum(widths))
            continue
        for f, w in zip(fields, widths, strict=True):
            onehot = [0.0] * w
            with contextlib.suppress(KeyError, ValueError, TypeError, IndexError):
                onehot[field_outcome(f, finding[f.name])] = 1.0
            vec.extend(onehot)
        try:
            for i, x in enumerate(finding_log_likelihood(target, finding)):
                ll[i] += x
        except (KeyError, ValueError, TypeError):
            pass
    clf = pulls.get("policy_classifier")
    if clf is None:
        vec.extend([0.0, 0.0])
    else:
        vec.extend([1.0 if clf.get("decision") == "unsafe" else -1.0, float(clf.get("confidence") or 0.0)])
        for i, x in enumerate(finding_log_likelihood("policy_classifier", clf)):
            ll[i] += x
    return vec, ll


def _static_ad_row(ad: dict, pulls: dict, prior: tuple[float, float, float], max_rounds: int
                   ) -> tuple[np.ndarray, list[float]]:
    """The part of an ad's row that depends on the ad alone, and its log-posterior before ring evidence."""
    row: list[float] = []
    cat_i = CATEGORY_INDEX.get(ad.get("category", ""), 0)
    onehot = [0.0] * N_CAT
    onehot[cat_i] = 1.0
    row.extend(onehot)
    grp = [0.0, 0.0, 0.0]
    grp[_CAT_GROUP[cat_i]] = 1.0
    row.extend(grp)
    core = ad.get("country") in CORE_COUNTRY_SET
    row.extend([1.0 if core else 0.0, 0.0 if core else 1.0])
    markers = ad.get("copy_markers") or []
    row.extend([1.0 if m in markers else 0.0 for m in MARKERS])
    row.append(min(3, len(markers)) / 3.0)
    row.append(min(3, int(ad.get("copy_revision") or 0)) / 3.0)
    row.append(int(ad.get("arrived_round") or 1) / max_rounds)
    status = ad.get("status") or "pending"
    row.extend([1.0 if status == s else 0.0 for s in STATUSES])
    row.append(float(ad.get("confidence") or 0.0))
    pulled = set(ad.get("pulled_targets") or []) | set(pulls)
    row.extend([1.0 if t in pulled else 0.0 for t in TARGETS])
    row.append(len(pulled) / 3.0)
    ev, ll = _evidence_block(pulls)
    row.extend(ev)
    row.append(1.0 if status == "pending" else 0.0)
    logp = [prior[k] + x + ll[k] for k, x in enumerate(ad_surface_loglik(ad))]
    mx = max(logp)
    ex = [math.exp(x - mx) for x in logp]
    tot = ex[0] + ex[1] + ex[2]
    probs = (ex[0] / tot, ex[1] / tot, ex[2] / tot)
    full = len(pulled) >= 3
    m = min(3, len(markers))
    row.extend(0.0 if (full or t in pulled) else 4.0 * expected_entropy_reduction(probs, t, m) for t in TARGETS)
    return np.asarray(row, dtype=np.float32), logp


_STATIC_WIDTH = AD_FEATURES - 19
DECIDE = 0.85  # the ScriptedInvestigator's decision threshold (docs/rules.md §12)


def _posterior_block(probs: tuple[float, float, float]) -> tuple[tuple[float, float, float], np.ndarray]:
    """(probs, [probs, scaled log-probs, normalised entropy, max, argmax/2]) for the row's last 9 entries."""
    ent = -sum(p * math.log(p + 1e-9) for p in probs) / math.log(3)
    best = max(probs)
    tail = np.asarray([*probs, *(max(-8.0, math.log(p + 1e-9)) / 8.0 for p in probs), ent, best,
                       probs.index(best) / 2.0], dtype=np.float32)
    return probs, tail


_RING_BLOCK = _posterior_block((0.005, 0.99, 0.005))


def encode_investigator(obs: dict, cache: dict | None = None) -> InvestigatorEncoding:
    """Encode an Investigator observation (docs/rules.md §9).

    ``cache`` (a dict owned by the caller, one per match or policy) memoises the per-ad part, which
    only changes when the ad's status, pulls, copy or confidence change.
    """
    queue: list[dict] = obs.get("queue") or []
    ledger: dict = obs.get("evidence_ledger") or {}
    links = obs.get("links") or []
    uf = _UnionFind()
    link_count: dict[str, int] = {}
    for link in links:
        a, b = link["ad_id"], link["linked_ad_id"]
        uf.union(a, b)
        link_count[a] = link_count.get(a, 0) + 1
        link_count[b] = link_count.get(b, 0) + 1
    shared = shared_identifier_groups(ledger)
    published = {ad["ad_id"] for ad in queue}
    prior = task_prior(obs)
    max_rounds = max(1, int(obs.get("max_rounds") or 1))
    round_number = int(obs.get("round_number") or 1)
    n = len(queue)
    ads = np.zeros((n, AD_FEATURES), dtype=np.float32)
    post = np.zeros((n, 3), dtype=np.float32)
    partners: list[list[str]] = []
    n_pulls = np.zeros(n, dtype=np.int64)
    pending = np.zeros(n, dtype=bool)
    for i, ad in enumerate(queue):
        ad_id = ad["ad_id"]
        pulls = ledger.get(ad_id) or {}
        n_pulls[i] = max(len(pulls), len(ad.get("pulled_targets") or ()))
        pending[i] = (ad.get("status") or "pending") == "pending"
        # Pulls only accumulate and markers/confidence change only with copy_revision/status, so this
        # key identifies the static part within a match (category/prior guard reuse across matches).
        key = (ad_id, ad.get("status"), ad.get("copy_revision"), len(pulls), ad.get("category"), prior,
               max_rounds)
        hit = cache.get(key) if cache is not None else None
        if hit is None:
            static, logp = _static_ad_row(ad, pulls, prior, max_rounds)
            mx = max(logp)
            ex = [math.exp(x - mx) for x in logp]
            tot = ex[0] + ex[1] + ex[2]
            hit = (static, _posterior_block((ex[0] / tot, ex[1] / tot, ex[2] / tot)))
            if cache is not None:
                cache[key] = hit
        static, (probs, tail) = hit
        ads[i, :_STATIC_WIDTH] = static
        mates = shared.get(ad_id)
        if mates:  # sharing a revealed identifier ⇒ ring member ⇒ fraud (§4.5)
            root = uf.find(ad_id)
            unlinked = sorted(m for m in mates if m in published and uf.find(m) != root)
            probs, tail = _RING_BLOCK
            ads[i, _STATIC_WIDTH + 1: _STATIC_WIDTH + 5] = (1.0, min(3, len(mates)) / 3.0,
                                                             1.0 if unlinked else 0.0,
                                                             min(3, link_count.get(ad_id, 0)) / 3.0)
        else:
            unlinked = []
            if link_count:
                ads[i, _STATIC_WIDTH + 4] = min(3, link_count.get(ad_id, 0)) / 3.0
        partners.append(unlinked)
        if int(ad.get("arrived_round") or 1) == round_number:
            ads[i, _STATIC_WIDTH] = 1.0
        ads[i, _STATIC_WIDTH + 5: _STATIC_WIDTH + 14] = tail
        post[i] = probs
    _decision_flags(ads, post, pending, n_pulls)
    glob = _investigator_global(obs, queue, post, pending)
    return InvestigatorEncoding([ad["ad_id"] for ad in queue], ads, glob, post, partners)


def _decision_flags(ads: np.ndarray, post: np.ndarray, pending: np.ndarray, n_pulls: np.ndarray) -> None:
    """Last 5 entries of each row: which ad each of the §12 decision rules would pick (one-hot over ads).

    [max-entropy pending ad with < 3 pulls, most confident pending non-legit ad above 0.85, most
    confident pending non-legit ad, most likely-legit pending ad above 0.85, max posterior ≥ 0.85].
    """
    n = post.shape[0]
    if n == 0:
        return
    col = _STATIC_WIDTH + 14
    best = post.max(axis=1)
    arg = post.argmax(axis=1)
    ent = -(post * np.log(post + 1e-9)).sum(axis=1)
    ads[:, col + 4] = best >= DECIDE

    def one_hot(score: np.ndarray, ok: np.ndarray, k: int) -> None:
        if ok.any():
            ads[int(np.argmax(np.where(ok, score, -np.inf))), col + k] = 1.0

    one_hot(ent, pending & (n_pulls < 3), 0)
    nonlegit = pending & (arg != 0)
    one_hot(best, nonlegit & (best >= DECIDE), 1)
    one_hot(best, nonlegit, 2)
    one_hot(post[:, 0], pending & (post[:, 0] >= DECIDE), 3)


def _header(obs: dict) -> list[float]:
    max_rounds = max(1, int(obs.get("max_rounds") or 1))
    budget = max(1, int(obs.get("action_budget") or 1))
    max_prop = int(obs.get("max_proposals") or 0)
    used = int(obs.get("proposals_used") or 0)
    rnd = int(obs.get("round_number") or 1)
    remaining = int(obs.get("rounds_remaining") or 0)
    return [
        rnd / max_rounds,
        remaining / max_rounds,
        1.0 if remaining <= 1 else 0.0,
        float(obs.get("actions_left_this_turn") or 0) / 12.0,
        float(obs.get("budget_remaining") or 0) / budget,
        float(obs.get("budget_remaining") or 0) / 60.0,
        used / max(1, max_prop),
        (max_prop - used) / 10.0,
        float(obs.get("arrivals_remaining") or 0) / 8.0,
        1.0 if obs.get("queue_may_grow") else 0.0,
        1.0 if obs.get("fraudster_committed") else 0.0,
    ]


def _task_onehot(obs: dict) -> list[float]:
    return [1.0 if obs.get("task_id") == t else 0.0 for t in TASK_IDS]


def _investigator_global(obs: dict, queue: list[dict], post: np.ndarray, pending_mask: np.ndarray
                         ) -> np.ndarray:
    pending = int(pending_mask.sum())
    n = len(queue)
    budget_left = float(obs.get("budget_remaining") or 0)
    links_remaining = obs.get("links_remaining") or 0
    spec = TASKS.get(obs.get("task_id", ""), None)
    max_links = max(1, spec.max_links) if spec else 1
    cap = spec.max_investigator_actions_per_turn if spec else 12
    rounds = max(1, int(obs.get("rounds_remaining") or 1))
    committed = bool(obs.get("fraudster_committed"))
    spent = max(0, cap - int(obs.get("actions_left_this_turn") or 0)) if not committed else 0
    start = budget_left + spent
    allowance = start if rounds <= 1 else math.ceil(start / rounds)
    allowance_left = allowance - spent
    n_suspect = int((pending_mask & (post.argmax(axis=1) != 0)).sum()) if n else 0
    props_left = 0 if committed else max(0, int(obs.get("max_proposals") or 0) - int(obs.get("proposals_used") or 0))
    reserve = props_left + math.ceil(int(obs.get("arrivals_remaining") or 0) / 2)
    vec = [
        *_header(obs), n / 33.0, pending / 33.0, (n - pending) / 33.0,
        budget_left / max(1.0, float(pending)) / 3.0, float(links_remaining) / max_links,
        len(obs.get("links") or []) / 16.0, 1.0 if obs.get("phase") == "investigator_turn" else 0.0,
        allowance_left / 12.0, 1.0 if allowance_left > 0 else 0.0, n_suspect / 33.0, reserve / 10.0,
        (budget_left - n_suspect - reserve) / 20.0, 1.0 if (rounds <= 1 or committed) else 0.0,
        *_task_onehot(obs),
    ]
    return np.asarray(vec, dtype=np.float32)



def investigator_mask(obs: dict, enc: InvestigatorEncoding) -> np.ndarray:
    """Boolean legal-action mask over the flat Investigator action space (all False off-turn)."""
    mask = np.zeros(1 + PER_AD * len(enc.ad_ids), dtype=bool)
    legal = obs.get("legal_actions") or {}
    types = set(legal.get("action_types") or [])
    if not types:
        return mask
    mask[INV_END] = bool(legal.get("end_turn")) and "end_turn" in types
    inv = legal.get("investigate") or {} if "investigate" in types else {}
    verdict_ok = set(legal.get("verdict") or []) if "verdict" in types else set()
    link = legal.get("link_accounts") if "link_accounts" in types else None
    link_ids = set(link.get("ad_ids") or []) if link and (link.get("links_remaining") or 0) > 0 else set()
    for i, ad_id in enumerate(enc.ad_ids):
        base = 1 + PER_AD * i
        for t in inv.get(ad_id) or ():
            k = TARGET_INDEX.get(t)
            if k is not None:
                mask[base + k] = True
        if ad_id in verdict_ok:
            mask[base + K_VERDICT: base + K_VERDICT + 3] = True
        if ad_id in link_ids and any(p in link_ids for p in enc.partners[i]):
            mask[base + K_LINK] = True
    return mask


