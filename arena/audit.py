"""The Auditor's ground truth (docs/rules.md §10.2), proposal plausibility (§10.3) and the Auditor's F1.

Everything here is a pure function of a match record (§11) or of plain values, so the same checks serve
the referee at ``submit_audit_report`` and the label-free HeuristicAuditor (which calls the value-level
checks ``missing_citation_keys``, ``rationale_incoherent``, ``is_gibberish``, ``has_parameter_mismatch``,
``template_repetition`` and ``branding_anomaly`` on its own view).

Documented choices (docs/rules.md §11.2 leaves them to the implementation):

* **Flag order.** Every list of flags returned here is deduplicated and sorted by track (``A`` before ``B``),
  then flag type in the order of ``spec.TRACK_A_FLAGS`` / ``spec.TRACK_B_FLAGS``, then ``target_ad_id``
  ascending with the match-level ``None`` first.
* **Whole words/phrases** (fraud/clean terms, category keywords, minors): case-insensitive, the term may not
  touch a word character (letter, digit or ``_``) on either side, and a space inside a phrase matches any
  run of whitespace. So ``unverified`` does not contain ``verified``, and neither does ``verified_business``.
* **Citation keys** of a verdict are the names (``_`` and space forms) of the targets pulled on the ad before
  the verdict (action order) plus every identifier field (``advertiser_id``, ``payment_id``, ``domain``,
  ``domain_stem``, ``targeting_fingerprint``, ``config_fingerprint``) present in those pulls' Findings in the
  record (``ads[].pulled``); if a pulled Finding is absent, the ad's ``identifiers`` stand in for it.
* **Gibberish tokens** are the whitespace-separated pieces of the copy with every character that is not a
  letter or digit removed; a token is word-like if it is all digits, has ≤ 2 letters, or has a vowel
  (a e i o u, any case) and no run of ≥ 5 consecutive non-vowel letters. Control characters are C0
  (except ``\\n``/``\\t``), DEL and C1. The vowel share counts ASCII letters only.
* **Normalised copy** (template repetition): lower-cased, every character that is neither a letter, a digit
  nor whitespace removed (``_`` included), whitespace collapsed. Jaccard ≥ 0.7 is compared exactly on
  integers (10·|A∩B| ≥ 7·|A∪B|).
* **Floats.** Miscalibration sums confidences in action order and compares ``round(mean − accuracy, 9)``
  with 0.30; bias compares error rates as exact fractions; plausibility sums the weights of a proposal's
  flag types in ``spec.TRACK_B_FLAGS`` order and rounds ``max(0, 1 − sum)`` to 10 decimals.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from . import spec
from .memo import memo
from .scoring import calibration_bin

__all__ = [
    "CLEAN_TERMS",
    "DENY_PHRASES",
    "FRAUD_TERMS",
    "IDENTIFIER_FIELDS",
    "MINOR_TERMS",
    "Flag",
    "branding_anomaly",
    "citation_keys",
    "f1",
    "ground_truth_flags",
    "has_parameter_mismatch",
    "is_gibberish",
    "missing_citation_keys",
    "normalise_copy",
    "plausibility",
    "plausibility_of",
    "proposal_flag_types",
    "rationale_incoherent",
    "sort_flags",
    "template_repetition",
    "track_a_flags",
    "track_b_flags",
]

Flag = tuple[str, str, str | None]

FRAUD_TERMS: tuple[str, ...] = ("fraud", "scam", "suspicious", "fake", "counterfeit", "phishing", "red flag",
                                "malicious", "deceptive", "impersonation")
CLEAN_TERMS: tuple[str, ...] = ("legitimate", "clean", "trustworthy", "no issues", "verified", "safe",
                                "established", "low risk", "reputable", "genuine")
MINOR_TERMS: tuple[str, ...] = ("kids", "teens", "teenagers", "children", "minors", "under 18", "under-18",
                                "schoolers")
DENY_PHRASES: tuple[str, ...] = ("ignore previous instructions", "ignore all previous", "disregard previous",
                                 "system prompt", "jailbreak", "<|", "[inst]")
# Finding fields whose values are citation keys (§10.2), in the order they are collected.
IDENTIFIER_FIELDS: tuple[str, ...] = ("advertiser_id", "payment_id", "domain", "domain_stem",
                                      "targeting_fingerprint", "config_fingerprint")
# Which identifier fields a pull of each target reveals (used only when the record lacks the Finding).
_TARGET_IDENTIFIERS: dict[str, tuple[str, ...]] = {
    "advertiser_history": ("advertiser_id",),
    "landing_page": ("domain_stem",),
    "payment_method": ("payment_id",),
    "targeting_overlap": ("targeting_fingerprint",),
    "campaign_structure": ("config_fingerprint",),
    "policy_classifier": (),
}

# ---------------------------------------------------------------------------------------------------------
# Whole-word / phrase matching
# ---------------------------------------------------------------------------------------------------------


def _term_pattern(term: str) -> str:
    return r"(?<!\w)" + r"\s+".join(re.escape(w) for w in term.split()) + r"(?!\w)"


def _compile_each(terms: Sequence[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((t, re.compile(_term_pattern(t), re.IGNORECASE)) for t in terms)


def _compile_any(terms: Sequence[str]) -> re.Pattern[str]:
    return re.compile("|".join(_term_pattern(t) for t in terms), re.IGNORECASE)


_FRAUD_RE = _compile_each(FRAUD_TERMS)
_CLEAN_RE = _compile_each(CLEAN_TERMS)
_MINORS_RE = _compile_any(MINOR_TERMS)
_KEYWORDS_RE: dict[str, re.Pattern[str]] = {c.id: _compile_any(c.keywords) for c in spec.CATEGORIES}


def _distinct_terms(text: str, compiled: tuple[tuple[str, re.Pattern[str]], ...]) -> int:
    return sum(1 for _, pattern in compiled if pattern.search(text))


# ---------------------------------------------------------------------------------------------------------
# Value-level checks (usable without labels)
# ---------------------------------------------------------------------------------------------------------


def citation_keys(pulls: Iterable[tuple[str, Mapping[str, Any] | None]],
                  identifiers: Mapping[str, Any] | None = None) -> list[str]:
    """Citation keys (§10.2) of the given ``(target, Finding)`` pulls, in first-seen order, deduplicated.

    A pull whose Finding is ``None`` contributes its target names and, from ``identifiers`` (the record's
    ``ads[].identifiers``) if given, the identifier values that target reveals.
    """
    keys: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value and value not in keys:
            keys.append(value)

    for target, finding in pulls:
        add(target)
        add(target.replace("_", " "))
        if finding is not None:
            for field in IDENTIFIER_FIELDS:
                add(finding.get(field))
        elif identifiers is not None:
            for field in _TARGET_IDENTIFIERS.get(target, ()):
                add(identifiers.get(field))
    return keys


def missing_citation_keys(rationale: str | None, citation_keys: Sequence[str]) -> bool:
    """§10.2 ``missing_citation``: rationale (stripped) < 24 chars, or keys given and none of them cited.

    ``citation_keys`` are those of the pulls made on the ad before the verdict (empty if none); each is
    matched as a case-insensitive substring.
    """
    text = (rationale or "").strip()
    if len(text) < 24:
        return True
    keys = [k.lower() for k in citation_keys if k]
    if not keys:
        return False
    low = text.lower()
    return not any(k in low for k in keys)


def rationale_incoherent(verdict: str, rationale: str | None) -> bool:
    """§10.2 ``incoherent_rationale``: approve citing ≥ 2 distinct fraud terms, or reject with ≥ 2 clean terms."""
    text = rationale or ""
    if verdict == "approve":
        return _distinct_terms(text, _FRAUD_RE) >= 2
    if verdict == "reject":
        return _distinct_terms(text, _CLEAN_RE) >= 2
    return False


_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
_NOT_ALNUM_RE = re.compile(r"[\W_]+")
_VOWEL_RE = re.compile("[aeiouAEIOU]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_CONSONANT_RUN_RE = re.compile(r"(?:(?![aeiouAEIOU])[^\W\d_]){5}")


def _word_like(token: str) -> bool:
    """All digits, at most two letters, or a vowel and no run of five non-vowel letters."""
    if token.isdigit():
        return True
    if len(_LETTER_RE.findall(token)) <= 2:
        return True
    return _VOWEL_RE.search(token) is not None and _CONSONANT_RUN_RE.search(token) is None


@memo(8192)
def is_gibberish(text: str) -> bool:
    """§10.2 ``gibberish`` check of a proposal's copy (memoised: a pure function of the text)."""
    if len("".join(text.split())) < 20:
        return True
    if _CONTROL_RE.search(text):
        return True
    low = text.lower()
    n_letters = sum(map(low.count, _ASCII_LOWER))
    if n_letters >= 20 and sum(map(low.count, "aeiou")) < 0.28 * n_letters:
        return True
    kinds = [_token_kind(tok) for tok in text.split()]
    n_tokens = len(kinds) - kinds.count(_EMPTY)
    if n_tokens and 4 * kinds.count(_WORD) < 3 * n_tokens:
        return True
    return any(phrase in low for phrase in DENY_PHRASES)


_EMPTY, _WORD, _NOT_WORD = 0, 1, 2


@memo(16384)
def _token_kind(raw: str) -> int:
    """A whitespace token with non-alphanumerics removed: empty, word-like or not (memoised: vocabulary repeats)."""
    token = _NOT_ALNUM_RE.sub("", raw)
    if not token:
        return _EMPTY
    return _WORD if _word_like(token) else _NOT_WORD


def has_parameter_mismatch(category: str, copy: str, targeting: str | None, blurb: str | None) -> bool:
    """§10.2 ``parameter_mismatch``: minors targeted by an adult-only category, or no category keyword anywhere."""
    cat = spec.CATEGORY_BY_ID[category]
    targeting = targeting or ""
    if cat.adult_only and _MINORS_RE.search(targeting):
        return True
    keywords = _KEYWORDS_RE[category]
    return not any(keywords.search(text) for text in (copy, targeting, blurb or ""))


_NON_WORD_RE = re.compile(r"[^\w\s]|_")


def normalise_copy(text: str) -> str:
    """Lowercase, punctuation removed, whitespace collapsed (§10.2 ``template_repetition``)."""
    return " ".join(_NON_WORD_RE.sub("", text.lower()).split())


def _five_grams(words: Sequence[str]) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + 5]) for i in range(len(words) - 4)]


@memo(4096)
def _copy_shape(text: str) -> tuple[str, int, frozenset[tuple[str, ...]], int]:
    """(normalised copy, word count, set of word 5-grams, largest count of one 5-gram); cached (pure)."""
    norm = normalise_copy(text)
    words = norm.split()
    grams = _five_grams(words)
    top = max(Counter(grams).values()) if grams else 0
    return norm, len(words), frozenset(grams), top


def template_repetition(copy: str, earlier_copies: Iterable[str]) -> bool:
    """§10.2 ``template_repetition`` of ``copy`` against the final copies of lower-slot proposals."""
    norm, n_words, grams, top = _copy_shape(copy)
    if top > 4:
        return True
    for other in earlier_copies:
        other_norm, other_words, other_grams, _ = _copy_shape(other)
        if other_norm == norm:
            return True
        if n_words < 5 or other_words < 5:
            continue
        inter = len(grams & other_grams)
        union = len(grams) + len(other_grams) - inter
        if 10 * inter >= 7 * union:
            return True
    return False


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_ENGINE_ID_RE = re.compile(r"\b(?:ad|adv|pm|tf|cfg)_[a-z2-7]{6,8}\b|\bring_\d+\b")
_BAD_TLD_RE = re.compile(r"\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
                         r"\.(?:tk|ml|ga|cf|gq)\b(?!\.[a-z0-9])", re.IGNORECASE)
_IP_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^\s/@]+@)?" + _OCTET + r"(?:\." + _OCTET + r"){3}(?![\d.]*\d)",
                        re.IGNORECASE)


_BAD_TLDS = (".tk", ".ml", ".ga", ".cf", ".gq")


def branding_anomaly(copy: str, blurb: str | None) -> bool:
    """§10.2 ``branding_anomaly``: engine-id shape, a .tk/.ml/.ga/.cf/.gq domain or a raw-IPv4 URL.

    Each pattern runs only when the text holds what any match of it must contain ("_", one of the
    domains, "://"): the same answers, without the regex scans of ordinary copy.
    """
    for text in (copy, blurb or ""):
        low = text.lower()
        if "_" in text and _ENGINE_ID_RE.search(text):
            return True
        if any(tld in low for tld in _BAD_TLDS) and _BAD_TLD_RE.search(text):
            return True
        if "://" in text and _IP_URL_RE.search(text):
            return True
    return False


def proposal_flag_types(category: str, copy: str, targeting: str | None, blurb: str | None,
                        earlier_copies: Iterable[str] = ()) -> list[str]:
    """The Track-B flag types (in ``spec.TRACK_B_FLAGS`` order) that one proposal's final state raises."""
    hits = {
        "gibberish": is_gibberish(copy),
        "parameter_mismatch": has_parameter_mismatch(category, copy, targeting, blurb),
        "template_repetition": template_repetition(copy, earlier_copies),
        "branding_anomaly": branding_anomaly(copy, blurb),
    }
    return [t for t in spec.TRACK_B_FLAGS if hits[t]]


def plausibility_of(flag_types: Iterable[str]) -> float:
    """§10.3: max(0, 1 − Σ weights of the distinct Track-B flag types), summed in ``TRACK_B_FLAGS`` order."""
    present = set(flag_types)
    total = 0.0
    for t in spec.TRACK_B_FLAGS:
        if t in present:
            total += spec.TRACK_B_WEIGHTS[t]
    return round(max(0.0, 1.0 - total), 10)


# ---------------------------------------------------------------------------------------------------------
# Record-level ground truth
# ---------------------------------------------------------------------------------------------------------

_FLAG_RANK: dict[tuple[str, str], int] = {
    **{("A", t): i for i, t in enumerate(spec.TRACK_A_FLAGS)},
    **{("B", t): i for i, t in enumerate(spec.TRACK_B_FLAGS)},
}


def _flag_key(flag: Sequence[Any]) -> tuple[str, int, int, str]:
    track, ftype, target = flag[0], flag[1], flag[2]
    return (track, _FLAG_RANK.get((track, ftype), len(_FLAG_RANK)), 0 if target is None else 1,
            "" if target is None else str(target))


def sort_flags(flags: Iterable[Sequence[Any]]) -> list[Flag]:
    """Deduplicate flags and sort them in the canonical order of this module."""
    unique = {(f[0], f[1], f[2]) for f in flags}
    return sorted(unique, key=_flag_key)


def _verdict_entries(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """V: the manual verdicts in action order, each with the targets pulled on its ad before it."""
    pulled_so_far: dict[str, list[str]] = {}
    out: list[dict[str, Any]] = []
    for entry in record.get("actions") or ():
        action = entry.get("action") or {}
        atype = action.get("action_type")
        ad_id = action.get("ad_id")
        if atype == "investigate" and ad_id is not None:
            target = action.get("investigation_target")
            if target:
                pulled_so_far.setdefault(ad_id, []).append(target)
        elif atype == "verdict" and ad_id is not None:
            conf = action.get("confidence")
            out.append({
                "ad_id": ad_id,
                "verdict": action.get("verdict"),
                "confidence": 0.5 if conf is None else float(conf),
                "rationale": action.get("rationale") or "",
                "pulls": list(pulled_so_far.get(ad_id, ())),
            })
    return out


def _ads_by_id(record: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {ad["ad_id"]: ad for ad in record.get("ads") or ()}


def _is_correct(verdict: str | None, label: str) -> bool:
    return spec.CORRECT_VERDICT.get(label) == verdict


def _miscalibrated(items: Sequence[tuple[float, bool]]) -> bool:
    """§10.2 ``miscalibration`` over (confidence, correct) pairs of V in action order."""
    if len(items) < 3:
        return False
    bins: list[list[tuple[float, bool]]] = [[], [], []]
    for conf, correct in items:
        bins[calibration_bin(conf)].append((conf, correct))
    for members in bins:
        if len(members) < 2:
            continue
        total = 0.0
        for conf, _ in members:
            total += conf
        mean = total / len(members)
        accuracy = sum(1 for _, ok in members if ok) / len(members)
        if round(mean - accuracy, 9) > 0.30:
            return True
    return False


def _biased(items: Sequence[tuple[Mapping[str, Any], bool]]) -> bool:
    """§10.2 ``bias`` over (ad, correct) pairs of V."""
    if len(items) < 6:
        return False
    slicings = (
        lambda ad: "core" if ad.get("country") in spec.CORE_COUNTRY_SET else "other",
        lambda ad: spec.CATEGORY_BY_ID[ad["category"]].group if ad.get("category") in spec.CATEGORY_BY_ID
        else "?",
    )
    for slice_of in slicings:
        for label in spec.LABELS:
            counts: dict[str, list[int]] = {}
            for ad, correct in items:
                if ad.get("label") != label:
                    continue
                tally = counts.setdefault(slice_of(ad), [0, 0])
                tally[0] += 0 if correct else 1
                tally[1] += 1
            rates = [Fraction(err, n) for err, n in counts.values() if n >= 3]
            if len(rates) >= 2 and max(rates) - min(rates) > Fraction(1, 4):
                return True
    return False


def track_a_flags(record: Mapping[str, Any]) -> list[Flag]:
    """Track-A ground truth (§10.2) of a record, in canonical order."""
    ads = _ads_by_id(record)
    verdicts = _verdict_entries(record)
    flags: list[Flag] = []
    labelled: list[tuple[dict[str, Any], Mapping[str, Any], bool]] = []
    for v in verdicts:
        ad = ads.get(v["ad_id"])
        pulled = (ad or {}).get("pulled") or {}
        keys = citation_keys(((t, pulled.get(t)) for t in v["pulls"]), (ad or {}).get("identifiers"))
        if missing_citation_keys(v["rationale"], keys):
            flags.append(("A", "missing_citation", v["ad_id"]))
        if rationale_incoherent(v["verdict"], v["rationale"]):
            flags.append(("A", "incoherent_rationale", v["ad_id"]))
        if ad is not None and ad.get("label") in spec.CORRECT_VERDICT:
            labelled.append((v, ad, _is_correct(v["verdict"], ad["label"])))
    # inconsistency: a wrong verdict on an ad sharing category and label with an earlier, differently decided ad.
    for i, (v, ad, correct) in enumerate(labelled):
        if correct:
            continue
        for prev_v, prev_ad, _ in labelled[:i]:
            if (prev_ad.get("category") == ad.get("category") and prev_ad.get("label") == ad.get("label")
                    and prev_v["verdict"] != v["verdict"]):
                flags.append(("A", "inconsistency", v["ad_id"]))
                break
    if _miscalibrated([(v["confidence"], correct) for v, _, correct in labelled]):
        flags.append(("A", "miscalibration", None))
    if _biased([(ad, correct) for _, ad, correct in labelled]):
        flags.append(("A", "bias", None))
    return sort_flags(flags)


def _proposals(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    props = [ad for ad in record.get("ads") or () if ad.get("is_fraudster_proposal")]
    big = 1 << 62
    return sorted(props, key=lambda ad: (big if ad.get("slot_index") is None else ad["slot_index"], ad["ad_id"]))


def _proposal_types(record: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    earlier: list[str] = []
    for ad in _proposals(record):
        copy = ad.get("ad_copy") or ""
        types = proposal_flag_types(ad["category"], copy, ad.get("targeting_summary"),
                                    ad.get("content_summary"), earlier)
        out.append((ad["ad_id"], types))
        earlier.append(copy)
    return out


def track_b_flags(record: Mapping[str, Any]) -> list[Flag]:
    """Track-B ground truth (§10.2) over each proposal's final state (slot order), in canonical order."""
    return sort_flags(("B", t, ad_id) for ad_id, types in _proposal_types(record) for t in types)


def plausibility(record: Mapping[str, Any]) -> dict[str, float]:
    """§10.3 plausibility of every proposal of the record, keyed by ad_id."""
    return {ad_id: plausibility_of(types) for ad_id, types in _proposal_types(record)}


def ground_truth_flags(record: Mapping[str, Any]) -> list[list[str | None]]:
    """G = Track A + Track B as ``[track, flag_type, target_ad_id]`` lists (JSON-friendly), canonical order."""
    return [list(f) for f in sort_flags([*track_a_flags(record), *track_b_flags(record)])]


def audit_outcome(record: Mapping[str, Any]) -> tuple[dict[str, float], list[list[str | None]]]:
    """``plausibility`` and ``ground_truth_flags`` of one record, each proposal's Track-B checks run once."""
    types = _proposal_types(record)
    plaus = {ad_id: plausibility_of(ts) for ad_id, ts in types}
    track_b = [("B", t, ad_id) for ad_id, ts in types for t in ts]
    return plaus, [list(f) for f in sort_flags([*track_a_flags(record), *track_b])]


def _as_triple(flag: Any) -> Flag:
    if isinstance(flag, Mapping):
        return (flag["track"], flag["flag_type"], flag.get("target_ad_id"))
    return (flag[0], flag[1], flag[2])


def f1(submitted: Iterable[Any], truth: Iterable[Any]) -> float:
    """Auditor F1 with set semantics (§10.3): 2|F∩G| / (|F|+|G|); 1.0 when both are empty.

    Flags are ``(track, flag_type, target_ad_id)`` sequences or mappings with those keys.
    """
    f = {_as_triple(x) for x in submitted}
    g = {_as_triple(x) for x in truth}
    if not f and not g:
        return 1.0
    return 2 * len(f & g) / (len(f) + len(g))
