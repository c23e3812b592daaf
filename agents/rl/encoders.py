"""Observation encoders: role observations (docs/rules.md §9) → numpy feature arrays for the neural policies.

Encoders read only structured fields: AdView fields, copy markers, category/group, country group,
arrival round, status, pulled Findings' structured fields and header counts. Texts are never read.

* Investigator: one feature row per published ad (a variable-length set, pooled/attended over by the
  model) plus a global vector. Each ad row also carries a Bayesian 3-class posterior computed from the
  public likelihood tables of docs/rules.md §4.5/§5.2 (``fraudarena.arena.evidence``), which gives the network
  the same sufficient statistics the ScriptedInvestigator uses, and identifier-sharing features (ring
  evidence) that the link action relies on.
* Fraudster: one fixed-length global vector.

The posterior is also used by the action codec for the verdict ``confidence`` (calibration term).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np

from fraudarena.agents.bots.belief import expected_entropy_reduction
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
INV_GLOBAL_FEATURES = 18 + 6 + len(TASK_IDS)
FRAUD_GLOBAL_FEATURES = 16 + len(TASK_IDS) + N_CAT + N_CAT + 3 * 4 + N_TARGETS + 3 + 2 * N_CAT + 2 + 3 + N_TARGETS


_PRIOR_MEMO: dict[tuple, tuple[float, float, float]] = {}
_NO_VALUE = object()


def task_prior(obs: dict) -> tuple[float, float, float]:
    """Log prior over (legit, fraud, gray) for an unseen ad: the task's base mix plus proposals as fraud."""
    memo_key = (obs.get("task_id", ""), obs.get("max_proposals", _NO_VALUE))
    try:
        return _PRIOR_MEMO[memo_key]
    except (KeyError, TypeError):  # TypeError: an unhashable max_proposals (computed below, not memoised)
        pass
    spec = TASKS.get(obs.get("task_id", ""), TASKS["task_3"])
    n = (spec.n_legit, spec.n_fraud + int(obs.get("max_proposals", spec.max_proposals)), spec.n_gray)
    tot = float(sum(n))
    out: tuple[float, float, float] = tuple(math.log(max(x, 0.5) / tot) for x in n)  # type: ignore[assignment]
    with contextlib.suppress(TypeError):
        if len(_PRIOR_MEMO) < 4096:
            _PRIOR_MEMO[memo_key] = out
    return out


_SURFACE_MEMO: dict[tuple, list[float]] = {}


def ad_surface_loglik(ad: dict) -> list[float]:
    """Surface log-likelihoods (category group, copy style via markers, country group) per label."""
    cat = CATEGORY_BY_ID.get(ad.get("category", ""))
    g = _GROUP_INDEX[cat.group] if cat else 0
    style = 1 if ad.get("copy_markers") else 0
    country = 0 if ad.get("country") in CORE_COUNTRY_SET else 1
    key = (g, style, country)
    out = _SURFACE_MEMO.get(key)
    if out is None:
        out = _SURFACE_MEMO[key] = [_LOG_GROUP[lab][g] + _LOG_STYLE[lab][style] + _LOG_COUNTRY[lab][country]
                                    for lab in LABELS]
    return list(out)


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


# --- per-ad static row ------------------------------------------------------------------------------------------
# The static part of an ad's row is rebuilt only when the ad's state changes (the caller's cache), but a
# match starts with ~20 fresh ads and every pull/verdict invalidates one, so the miss path matters too:
# it works from precomputed blocks and memoises the per-finding evidence (keyed by the finding's
# label-dependent field values) and the expected-entropy-reduction vector (keyed by the posterior).

_CAT_BLOCK: list[list[float]] = []
for _i in range(N_CAT):
    _blk = [0.0] * (N_CAT + 3)
    _blk[_i] = 1.0
    _blk[N_CAT + _CAT_GROUP[_i]] = 1.0
    _CAT_BLOCK.append(_blk)
_STATUS_BLOCK = {s: [1.0 if s == x else 0.0 for x in STATUSES] for s in STATUSES}
_NO_STATUS = [0.0] * len(STATUSES)
_TARGET_SET = frozenset(TARGETS)
_EV_ZEROS = {t: [0.0] * sum(w) for t, w in _FIELD_WIDTHS.items()}
_EV_MEMO: dict[tuple, tuple[list[float], tuple[float, float, float] | None]] = {}
_EER_MEMO: dict[tuple, tuple[float, ...]] = {}
_MEMO_CAP = 200_000


def _target_evidence(target: str, fields: tuple, widths: list[int], finding: dict
                     ) -> tuple[list[float], tuple[float, float, float] | None]:
    """One pulled target's one-hot fields and its finding log-likelihood (None where it cannot be computed)."""
    vec: list[float] = []
    for f, w in zip(fields, widths, strict=True):
        onehot = [0.0] * w
        with contextlib.suppress(KeyError, ValueError, TypeError, IndexError):
            onehot[field_outcome(f, finding[f.name])] = 1.0
        vec.extend(onehot)
    try:
        ll: tuple[float, float, float] | None = finding_log_likelihood(target, finding)
    except (KeyError, ValueError, TypeError):
        ll = None
    return vec, ll


def _evidence_block(pulls: dict) -> tuple[list[float], list[float]]:
    """One-hot label-dependent fields of the pulled targets, and the summed finding log-likelihood."""
    vec: list[float] = []
    ll = [0.0, 0.0, 0.0]
    for target, fields in INFORMATIVE_FIELDS.items():
        finding = pulls.get(target)
        if finding is None:
            vec.extend(_EV_ZEROS[target])
            continue
        try:
            vals = tuple(finding[f.name] for f in fields)
            key = (target, vals, tuple(map(type, vals)))
            hit = _EV_MEMO.get(key)
        except (KeyError, TypeError, AttributeError):  # a missing or unhashable field: no memo
            key, hit = None, None
        if hit is None:
            hit = _target_evidence(target, fields, _FIELD_WIDTHS[target], finding)
            if key is not None:
                if len(_EV_MEMO) >= _MEMO_CAP:
                    _EV_MEMO.clear()
                _EV_MEMO[key] = hit
        part, lt = hit
        vec.extend(part)
        if lt is not None:
            ll[0] += lt[0]
            ll[1] += lt[1]
            ll[2] += lt[2]
    clf = pulls.get("policy_classifier")
    if clf is None:
        vec.extend([0.0, 0.0])
    else:
        vec.extend([1.0 if clf.get("decision") == "unsafe" else -1.0, float(clf.get("confidence") or 0.0)])
        for i, x in enumerate(finding_log_likelihood("policy_classifier", clf)):
            ll[i] += x
    return vec, ll


def _eer_row(probs: tuple[float, float, float], m: int) -> tuple[float, ...]:
    """4 × the expected entropy reduction of every target (memoised on the posterior)."""
    key = (probs, m)
    out = _EER_MEMO.get(key)
    if out is None:
        out = tuple(4.0 * expected_entropy_reduction(probs, t, m) for t in TARGETS)
        if len(_EER_MEMO) >= _MEMO_CAP:
            _EER_MEMO.clear()
        _EER_MEMO[key] = out
    return out


def _static_ad_row(ad: dict, pulls: dict, prior: tuple[float, float, float], max_rounds: int
                   ) -> tuple[list[float], list[float]]:
    """The part of an ad's row that depends on the ad alone, and its log-posterior before ring evidence."""
    cat_i = CATEGORY_INDEX.get(ad.get("category", ""), 0)
    row = list(_CAT_BLOCK[cat_i])
    core = ad.get("country") in CORE_COUNTRY_SET
    row.extend((1.0, 0.0) if core else (0.0, 1.0))
    markers = ad.get("copy_markers") or []
    row.extend([1.0 if m in markers else 0.0 for m in MARKERS])
    m = min(3, len(markers))
    row.append(m / 3.0)
    row.append(min(3, int(ad.get("copy_revision") or 0)) / 3.0)
    row.append(int(ad.get("arrived_round") or 1) / max_rounds)
    status = ad.get("status") or "pending"
    row.extend(_STATUS_BLOCK.get(status, _NO_STATUS))
    row.append(float(ad.get("confidence") or 0.0))
    pulled = set(ad.get("pulled_targets") or []) | set(pulls)
    row.extend([1.0 if t in pulled else 0.0 for t in TARGETS])
    row.append(len(pulled) / 3.0)
    ev, ll = _evidence_block(pulls)
    row.extend(ev)
    row.append(1.0 if status == "pending" else 0.0)
    logp = [prior[k] + x + ll[k] for k, x in enumerate(ad_surface_loglik(ad))]
    if len(pulled) >= 3:
        row.extend((0.0,) * N_TARGETS)
    else:
        mx = max(logp)
        ex = [math.exp(x - mx) for x in logp]
        tot = ex[0] + ex[1] + ex[2]
        eer = _eer_row((ex[0] / tot, ex[1] / tot, ex[2] / tot), m)
        row.extend([0.0 if t in pulled else eer[k] for k, t in enumerate(TARGETS)])
    return row, logp


_STATIC_WIDTH = AD_FEATURES - 19
DECIDE = 0.85  # the ScriptedInvestigator's decision threshold (docs/rules.md §12)
_LOG3 = math.log(3)
_NEW_COL = _STATIC_WIDTH  # arrived this round
_RING_COLS = slice(_STATIC_WIDTH + 1, _STATIC_WIDTH + 5)  # ring member, n mates, unlinked mate, links
_LINK_COL = _STATIC_WIDTH + 4
_TAIL_COLS = slice(_STATIC_WIDTH + 5, _STATIC_WIDTH + 14)  # posterior block
_POST_COLS = slice(_STATIC_WIDTH + 5, _STATIC_WIDTH + 8)
_FLAG_COL = _STATIC_WIDTH + 14  # decision flags (5)


def _posterior_tail(probs: tuple[float, float, float]) -> list[float]:
    """[probs, scaled log-probs, normalised entropy, max, argmax/2] (the row's posterior block)."""
    ent = -sum(p * math.log(p + 1e-9) for p in probs) / _LOG3
    best = max(probs)
    return [*probs, *(max(-8.0, math.log(p + 1e-9)) / 8.0 for p in probs), ent, best, probs.index(best) / 2.0]


def _posterior_block(probs: tuple[float, float, float]) -> tuple[tuple[float, float, float], np.ndarray]:
    """(probs, [probs, scaled log-probs, normalised entropy, max, argmax/2]) for the row's last 9 entries."""
    return probs, np.asarray(_posterior_tail(probs), dtype=np.float32)


_RING_PROBS = (0.005, 0.99, 0.005)
_RING_BLOCK = _posterior_block(_RING_PROBS)
_RING_TAIL = _RING_BLOCK[1]
_RING_P32 = _RING_TAIL[:3].tolist()
_RING_ARG = _RING_P32.index(max(_RING_P32))
_ZERO_DYNAMIC = [0.0] * 5  # the arrival and ring/link columns before the posterior block
_ZERO_FLAGS = [0.0] * 5


_EMPTY: dict = {}
_CONTEXTS: dict[tuple, int] = {}  # (prior, max_rounds) → a small token for the per-ad cache key


def _ad_entry(ad: dict, pulls: dict, prior: tuple[float, float, float], max_rounds: int) -> tuple:
    """Everything the encoder needs about one ad in one state (a cache entry):

    (ad_id, full row [AD_FEATURES] float32 with zero dynamic columns, pending, float32 posterior (list),
    its argmax, arrived round, number of pulls, identifiers its findings reveal ((field, value), ...)).
    """
    static, logp = _static_ad_row(ad, pulls, prior, max_rounds)
    mx = max(logp)
    ex = [math.exp(x - mx) for x in logp]
    tot = ex[0] + ex[1] + ex[2]
    probs = (ex[0] / tot, ex[1] / tot, ex[2] / tot)
    static.extend(_ZERO_DYNAMIC)
    static.extend(_posterior_tail(probs))
    static.extend(_ZERO_FLAGS)
    row = np.array(static, dtype=np.float32)
    p32 = row[_POST_COLS].tolist()
    pending = (ad.get("status") or "pending") == "pending"
    idents = []
    for finding in pulls.values():
        for ikey in IDENTIFIER_FIELDS:
            val = finding.get(ikey)
            if val:
                idents.append((ikey, str(val)))
    n_pulls = max(len(pulls), len(ad.get("pulled_targets") or ()))
    return (ad["ad_id"], row, pending, p32, p32.index(max(p32)), int(ad.get("arrived_round") or 1), n_pulls,
            tuple(idents))


def encode_investigator(obs: dict, cache: dict | None = None) -> InvestigatorEncoding:
    """Encode an Investigator observation (docs/rules.md §9).

    ``cache`` (a dict owned by the caller, one per match or policy) memoises the per-ad part, which
    only changes when the ad's status, pulls, copy or confidence change.
    """
    queue: list[dict] = obs.get("queue") or []
    ledger: dict = obs.get("evidence_ledger") or {}
    links = obs.get("links") or []
    prior = task_prior(obs)
    max_rounds = max(1, int(obs.get("max_rounds") or 1))
    round_number = int(obs.get("round_number") or 1)
    if cache is None:
        cache = {}
    ctx = _CONTEXTS.get((prior, max_rounds))
    if ctx is None:
        ctx = _CONTEXTS.setdefault((prior, max_rounds), len(_CONTEXTS))
    n = len(queue)
    hits: list[tuple] = []
    n_found = 0
    for ad in queue:
        ad_id = ad["ad_id"]
        pulls = ledger.get(ad_id)
        if pulls is None:
            n_pulled = 0
        else:
            n_found += 1
            n_pulled = len(pulls)
        # Pulls only accumulate and markers/confidence change only with copy_revision/status, so this
        # key identifies the ad's state within a match (category/prior guard reuse across matches).
        key = (ad_id, ad.get("status"), ad.get("copy_revision"), n_pulled, ad.get("category"), ctx)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = _ad_entry(ad, pulls or _EMPTY, prior, max_rounds)
        hits.append(hit)
    if not n:
        return _empty_encoding(obs)
    ad_ids_t, rows, pendings, p32s_t, args_t, arrivals, n_pulls, idents = zip(*hits, strict=True)
    ad_ids = list(ad_ids_t)
    ads = np.concatenate(rows).reshape(n, AD_FEATURES)
    new_rows = [i for i, r in enumerate(arrivals) if r == round_number]
    if new_rows:
        ads[new_rows, _NEW_COL] = 1.0
    if n_found != len(ledger):  # the ledger names ads outside the queue: they can share identifiers too
        shared = shared_identifier_groups(ledger)
    elif any(idents):
        by_value: dict[tuple[str, str], list[str]] = {}
        for ad_id, ids in zip(ad_ids, idents, strict=True):
            for kv in ids:
                by_value.setdefault(kv, []).append(ad_id)
        shared = {}
        for ids in by_value.values():
            if len(ids) > 1:
                for a in ids:
                    shared.setdefault(a, set()).update(x for x in ids if x != a)
    else:
        shared = _EMPTY
    partners: list[list[str]] = [[] for _ in range(n)]
    p32s: tuple | list = p32s_t
    args: tuple | list = args_t
    if links or shared:
        p32s, args = list(p32s_t), list(args_t)
        uf = _UnionFind()
        link_count: dict[str, int] = {}
        for link in links:
            a, b = link["ad_id"], link["linked_ad_id"]
            uf.union(a, b)
            link_count[a] = link_count.get(a, 0) + 1
            link_count[b] = link_count.get(b, 0) + 1
        published = set(ad_ids)
        for i, ad_id in enumerate(ad_ids):
            mates = shared.get(ad_id)
            if mates:  # sharing a revealed identifier ⇒ ring member ⇒ fraud (§4.5)
                root = uf.find(ad_id)
                unlinked = sorted(m for m in mates if m in published and uf.find(m) != root)
                ads[i, _RING_COLS] = (1.0, min(3, len(mates)) / 3.0, 1.0 if unlinked else 0.0,
                                      min(3, link_count.get(ad_id, 0)) / 3.0)
                ads[i, _TAIL_COLS] = _RING_TAIL
                p32s[i] = _RING_P32
                args[i] = _RING_ARG
                partners[i] = unlinked
            elif link_count:
                c = link_count.get(ad_id, 0)
                if c:
                    ads[i, _LINK_COL] = min(3, c) / 3.0
    post = ads[:, _POST_COLS].copy()  # contiguous, as the flags' entropy below is computed on it
    n_pending, n_suspect = _decision_flags(ads, post, p32s, args, pendings, n_pulls)
    glob = _investigator_global(obs, n, n_pending, n_suspect)
    return InvestigatorEncoding(ad_ids, ads, glob, post, partners)


def _empty_encoding(obs: dict) -> InvestigatorEncoding:
    return InvestigatorEncoding([], np.zeros((0, AD_FEATURES), dtype=np.float32), _investigator_global(obs, 0, 0, 0),
                                np.zeros((0, 3), dtype=np.float32), [])


def _decision_flags(ads: np.ndarray, post: np.ndarray, p32s: tuple | list, args: tuple | list,
                    pendings: tuple, n_pulls: tuple) -> tuple[int, int]:
    """Last 5 entries of each row: which ad each of the §12 decision rules would pick (one-hot over ads).

    [max-entropy pending ad with < 3 pulls, most confident pending non-legit ad above 0.85, most
    confident pending non-legit ad, most likely-legit pending ad above 0.85, max posterior ≥ 0.85].
    Scores are the float32 posterior's; ties go to the first ad. Returns (pending ads, pending ads whose
    most likely label is not legit).
    """
    col = _FLAG_COL
    ent: list[float] | None = None
    n_pending = n_suspect = 0
    i_ent = i_sure = i_bad = i_legit = -1
    s_ent = s_sure = s_bad = s_legit = -math.inf
    decided_rows: list[int] = []
    for i, p in enumerate(p32s):
        best = p[args[i]]
        if best >= DECIDE:
            decided_rows.append(i)
        if not pendings[i]:
            continue
        n_pending += 1
        if n_pulls[i] < 3:
            if ent is None:
                ent = (-(post * np.log(post + 1e-9)).sum(axis=1)).tolist()
            if ent[i] > s_ent:
                i_ent, s_ent = i, ent[i]
        if args[i] != 0:
            n_suspect += 1
            if best > s_bad:
                i_bad, s_bad = i, best
            if best >= DECIDE and best > s_sure:
                i_sure, s_sure = i, best
        if p[0] >= DECIDE and p[0] > s_legit:
            i_legit, s_legit = i, p[0]
    if decided_rows:
        ads[decided_rows, col + 4] = 1.0
    for k, idx in enumerate((i_ent, i_sure, i_bad, i_legit)):
        if idx >= 0:
            ads[idx, col + k] = 1.0
    return n_pending, n_suspect


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


def _investigator_global(obs: dict, n: int, pending: int, n_suspect: int) -> np.ndarray:
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


def encode_fraudster(obs: dict) -> np.ndarray:
    """Encode a Fraudster observation (docs/rules.md §9) as one fixed-length vector."""
    allowed = set(obs.get("allowed_categories") or [])
    mine = obs.get("my_proposals") or []
    per_cat = [0.0] * N_CAT
    group_stats = [[0.0] * 4 for _ in CATEGORY_GROUPS]  # approved, rejected, escalated, undecided
    staged_now = 0
    for p in mine:
        ci = CATEGORY_INDEX.get(p.get("category", ""), 0)
        per_cat[ci] += 1.0 / 4.0
        st = p.get("status")
        k = {"approve": 0, "reject": 1, "escalate": 2}.get(st, 3)
        group_stats[_CAT_GROUP[ci]][k] += 1.0 / 4.0
        if not p.get("published"):
            staged_now += 1
    pulls = [0.0] * N_TARGETS
    for targets in (obs.get("investigation_targets_used") or {}).values():
        for t in targets:
            if t in TARGETS:
                pulls[TARGETS.index(t)] += 1.0
    tot_pulls = sum(pulls)
    pulls = [p / max(1.0, tot_pulls) for p in pulls]
    verdicts = obs.get("prior_verdicts") or []
    vc = [0.0, 0.0, 0.0]
    for v in verdicts:
        if v.get("verdict") in VERDICTS:
            vc[VERDICTS.index(v["verdict"])] += 1.0
    nv = max(1.0, sum(vc))
    queue = obs.get("current_queue") or []
    max_prop = max(1, int(obs.get("max_proposals") or 1))
    vec = _header(obs) + [
        float(obs.get("proposals_remaining") or 0) / max_prop,
        float(obs.get("camouflage_remaining") or 0) / 6.0,
        staged_now / 3.0,
        len(queue) / 33.0,
        tot_pulls / 55.0,
    ] + _task_onehot(obs) + [1.0 if c.id in allowed else 0.0 for c in CATEGORIES] + per_cat
    for g in group_stats:
        vec.extend(g)
    vec.extend(pulls)
    vec.extend([x / nv for x in vc])
    vec.extend(_reactive_features(obs, allowed, mine, staged_now, pulls))
    return np.asarray(vec, dtype=np.float32)


def _reactive_features(obs: dict, allowed: set[str], mine: list[dict], staged_now: int, pulls: list[float]
                       ) -> list[float]:
    """The ReactiveFraudster's decision quantities (§12): per-category severity × group approval odds and
    its argmax, the turn quota left, its camouflage size and the two most-pulled targets."""
    by_id = {p.get("ad_id"): p for p in mine if p.get("ad_id")}
    approved = [0, 0, 0]
    decided = [0, 0, 0]
    for v in obs.get("prior_verdicts") or []:
        prop = by_id.get(v.get("ad_id"))
        if not v.get("was_my_proposal") or prop is None:
            continue
        g = _CAT_GROUP[CATEGORY_INDEX.get(prop.get("category", ""), 0)]
        decided[g] += 1
        approved[g] += v.get("verdict") == "approve"
    score = [c.severity * (approved[_CAT_GROUP[i]] + 1) / (decided[_CAT_GROUP[i]] + 2) if c.id in allowed else 0.0
             for i, c in enumerate(CATEGORIES)]
    best = [0.0] * N_CAT
    if any(score):
        best[score.index(max(score))] = 1.0
    remaining = int(obs.get("proposals_remaining") or 0)
    rounds = max(1, int(obs.get("rounds_remaining") or 1))
    cap = int(obs.get("actions_left_this_turn") or 0) + staged_now
    quota_left = min(cap, math.ceil((remaining + staged_now) / rounds)) - staged_now
    camo_left = int(obs.get("camouflage_remaining") or 0)
    n_camo = min(2, camo_left, math.ceil(camo_left / remaining)) if remaining > 0 else 0
    order = sorted(range(N_TARGETS), key=lambda t: (-pulls[t], t))
    top = [0.0] * N_TARGETS
    for t in order[:2]:
        top[t] = 1.0
    return [*score, *best, quota_left / 3.0, 1.0 if quota_left > 0 else 0.0,
            *(1.0 if n_camo == k else 0.0 for k in range(3)), *top]
