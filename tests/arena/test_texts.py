"""The text composer (docs/rules.md §4.5) and the surface marker scan (§4.3) of ``fraudarena.arena.texts``."""

from __future__ import annotations

import itertools
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudarena.arena import audit, spec, texts

CATEGORY_IDS = [c.id for c in spec.CATEGORIES]
SEED = st.integers(min_value=0, max_value=2**32 - 1)
MINORS = ("kids", "teens", "teenagers", "children", "minors", "under 18", "under-18", "schoolers")
SLOT_RE = re.compile(r"\{\d+\}")


def _seeds(n: int, salt: int) -> list[int]:
    rng = random.Random(salt)
    return [rng.getrandbits(32) for _ in range(n)]


def _has_keyword(category: str, text: str) -> bool:
    low = text.lower()
    return any(re.search(r"(?<!\w)" + re.escape(k) + r"(?!\w)", low) for k in spec.CATEGORY_BY_ID[category].keywords)


def _reference_markers(text: str) -> list[str]:
    low = text.lower()
    return sorted(f for f, phrases in spec.MARKER_FAMILIES.items() if any(p.lower() in low for p in phrases))


def _fill(template: texts.Template, brand: str, picks: list[int]) -> str:
    return template.fmt.format(brand, *(vocab[i % len(vocab)] for vocab, i in zip(template.slots, picks, strict=True)))


# --- template tables -------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_template_counts_and_slot_vocabularies(category: str) -> None:
    for style in texts.STYLES:
        copies = texts.templates("copy", category, style)
        assert len(copies) >= 4
        for kind, minimum in (("copy", 4), ("targeting", 3), ("landing", 3)):
            temps = texts.templates(kind, category, style)
            assert len(temps) >= minimum
            assert len({t.fmt for t in temps}) == len(temps)
            for t in temps:
                assert len(t.slots) >= 2
                assert all(len(set(vocab)) >= 12 for vocab in t.slots)
    assert len(set(texts.brands(category))) >= 12


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_every_copy_template_has_a_keyword_slot(category: str) -> None:
    for style in texts.STYLES:
        for t in texts.templates("copy", category, style):
            assert any(all(_has_keyword(category, w) for w in vocab) for vocab in t.slots), t.fmt


# --- copies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_copies_over_many_seeds(category: str) -> None:
    for style in texts.STYLES:
        for seed in _seeds(500, 2 * CATEGORY_IDS.index(category) + texts.STYLES.index(style)):
            copy = texts.compose("copy", category, style, seed)
            assert _has_keyword(category, copy), copy
            markers = texts.copy_markers(copy)
            if style == "plain":
                assert markers == [], copy
            else:
                assert 1 <= len(markers) <= 3, copy
            assert 80 <= len(copy) <= 250, copy
            assert not audit.is_gibberish(copy), copy
            assert not audit.has_parameter_mismatch(category, copy, "", ""), copy
            assert not audit.branding_anomaly(copy, texts.compose("landing", category, style, seed)), copy
            assert copy == copy.strip() and "  " not in copy


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_plain_copies_hold_no_marker_even_across_slot_boundaries(category: str) -> None:
    """Every value of every slot pair that touches, with the other slots fixed, stays marker-free."""
    brands = texts.brands(category)
    for t in texts.templates("copy", category, "plain"):
        n = len(t.slots)
        for brand in brands:
            assert texts.copy_markers(_fill(t, brand, [0] * n)) == []
        for a in range(n - 1):
            for i, j in itertools.product(range(len(t.slots[a])), range(len(t.slots[a + 1]))):
                picks = [0] * n
                picks[a], picks[a + 1] = i, j
                text = _fill(t, brands[(i * 7 + j) % len(brands)], picks)
                assert texts.copy_markers(text) == [], text


def test_pushy_templates_add_one_or_two_single_family_hooks() -> None:
    """Pushy = plain vocabularies + 1–2 hook slots whose phrases carry exactly one family: 1–3 families."""
    seen: set[str] = set()
    for category in CATEGORY_IDS:
        plain_slots = {vocab for t in texts.templates("copy", category, "plain") for vocab in t.slots}
        for t in texts.templates("copy", category, "pushy"):
            hook_slots = [vocab for vocab in t.slots if vocab not in plain_slots]
            assert 1 <= len(hook_slots) <= 2, t.fmt
            for vocab in hook_slots:
                for phrase in vocab:
                    families = texts.copy_markers(phrase)
                    assert len(families) == 1, phrase
                    seen.update(families)
    assert seen == set(spec.MARKER_FAMILIES)  # every family is reachable


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_structural_length_and_gibberish_bounds(category: str) -> None:
    """Worst cases over all slot combinations: length in [80, 250], vowel share ≥ 0.28, ≥ 75 % word-like."""

    def letters(s: str) -> tuple[int, int]:
        low = [c for c in s.lower() if "a" <= c <= "z"]
        return sum(c in "aeiou" for c in low), len(low)

    def tokens(s: str) -> list[str]:
        return [x for x in ("".join(c for c in w if c.isalnum()) for w in s.split()) if x]

    for style in texts.STYLES:
        for t in texts.templates("copy", category, style):
            fixed = SLOT_RE.sub(" ", t.fmt)
            slots = [texts.brands(category), *t.slots]
            lo = len(SLOT_RE.sub("", t.fmt)) + sum(min(map(len, s)) for s in slots)
            hi = len(SLOT_RE.sub("", t.fmt)) + sum(max(map(len, s)) for s in slots)
            assert lo >= 80 and hi <= 250, t.fmt
            # min over combinations of Σvowels / Σletters, by bisection on λ (Σ (v − λ·l) minimised per slot).
            fv, fl = letters(fixed)
            opts = [[letters(w) for w in s] for s in slots]
            low_l, high_l = 0.0, 1.0
            for _ in range(40):
                lam = (low_l + high_l) / 2
                total = fv - lam * fl + sum(min(v - lam * n for v, n in o) for o in opts)
                low_l, high_l = (low_l, lam) if total < 0 else (lam, high_l)
            assert low_l >= 0.28, (t.fmt, low_l)
            good = sum(audit._word_like(x) for x in tokens(fixed))
            bad = len(tokens(fixed)) - good
            for s in slots:
                good += min(sum(audit._word_like(x) for x in tokens(w)) for w in s)
                bad += max(sum(not audit._word_like(x) for x in tokens(w)) for w in s)
            assert 4 * good >= 3 * (good + bad), t.fmt


@given(seed=SEED, category=st.sampled_from(CATEGORY_IDS), style=st.sampled_from(texts.STYLES))
@settings(max_examples=300, deadline=None)
def test_compose_properties(seed: int, category: str, style: str) -> None:
    copy = texts.compose("copy", category, style, seed)
    assert copy == texts.compose("copy", category, style, seed)
    assert _has_keyword(category, copy)
    assert (texts.copy_markers(copy) == []) == (style == "plain")
    assert not audit.is_gibberish(copy)
    assert not audit.template_repetition(copy, [])
    targeting = texts.compose("targeting", category, style, seed)
    landing = texts.compose("landing", category, style, seed)
    assert not audit.has_parameter_mismatch(category, copy, targeting, landing)
    assert targeting == texts.compose("targeting", category, "plain", seed)  # style only shapes copies
    assert landing == texts.compose("landing", category, "plain", seed)


def test_low_template_repetition_between_seeds() -> None:
    """Among 8 random copies of one category and style, 5-gram Jaccard ≥ 0.7 (or equality) is rare."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = audit.normalise_copy(text).split()
        return {tuple(words[i:i + 5]) for i in range(len(words) - 4)}

    pairs = similar = sets_with_flag = n_sets = 0
    rng = random.Random(11)
    for category in CATEGORY_IDS:
        for style in texts.STYLES:
            for _ in range(40):
                copies = [texts.compose("copy", category, style, rng.getrandbits(32)) for _ in range(8)]
                n_sets += 1
                sets_with_flag += any(audit.template_repetition(copies[i], copies[:i]) for i in range(8))
                gram_sets = [grams(c) for c in copies]
                for a, b in itertools.combinations(gram_sets, 2):
                    pairs += 1
                    similar += 10 * len(a & b) >= 7 * len(a | b)
    assert similar / pairs < 0.005
    assert sets_with_flag / n_sets < 0.05


def test_different_seeds_mostly_give_different_texts() -> None:
    for kind in texts.KINDS:
        for category in ("ecommerce", "fake_crypto", "network_health"):
            outs = {texts.compose(kind, category, "plain", s) for s in range(1000)}  # neighbouring seeds too
            assert len(outs) >= 950, (kind, category, len(outs))


def test_seed_bits_beyond_32_and_negative_seeds_are_accepted() -> None:
    for seed in (-1, 2**40 + 3, 2**70, 0):
        out = texts.compose("copy", "saas", "plain", seed)
        assert out == texts.compose("copy", "saas", "plain", seed) and _has_keyword("saas", out)


def test_copy_and_landing_name_the_same_brand() -> None:
    for seed in _seeds(200, 5):
        copy = texts.compose("copy", "ecommerce", "plain", seed)
        landing = texts.compose("landing", "ecommerce", "pushy", seed)
        shared = [b for b in texts.brands("ecommerce") if b in copy and b in landing]
        assert shared, (copy, landing)


def test_unknown_arguments_raise_value_error() -> None:
    for args in (("blurb", "saas", "plain"), ("copy", "nope", "plain"), ("copy", "saas", "loud")):
        with pytest.raises(ValueError):
            texts.compose(*args, 1)


# --- targeting and landing ------------------------------------------------------------------------------


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_targeting_never_mentions_minors(category: str) -> None:
    minors = re.compile("|".join(re.escape(m) for m in MINORS), re.IGNORECASE)
    for t in texts.templates("targeting", category):
        assert not minors.search(t.fmt)
        for vocab in t.slots:
            for w in vocab:
                assert not minors.search(w), w
    for seed in _seeds(300, 9):
        text = texts.compose("targeting", category, "plain", seed)
        assert not minors.search(text)


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_landing_and_targeting_look_like_text(category: str) -> None:
    for seed in _seeds(100, 3):
        for kind in ("targeting", "landing"):
            text = texts.compose(kind, category, "plain", seed)
            assert 30 <= len(text) <= spec.MAX_TARGETING_LEN and not audit.is_gibberish(text)
            assert not audit.branding_anomaly(text, None)


# --- copy_markers ---------------------------------------------------------------------------------------


def test_copy_markers_examples() -> None:
    assert texts.copy_markers("Nothing special here") == []
    assert texts.copy_markers("HURRY! Claim Your prize") == ["urgency", "windfall"]
    assert texts.copy_markers("three winners drawn") == ["windfall"]  # substring semantics
    assert texts.copy_markers("Risk-free gift inside") == ["guarantee", "windfall"]  # overlapping phrases
    assert texts.copy_markers("risk-free delivery") == ["guarantee"]
    assert texts.copy_markers("earn $5, 10X faster, passwords") == ["credentials", "money"]
    assert texts.copy_markers("you won't believe it") == ["windfall"]  # "you won" is a substring
    assert texts.copy_markers("Contact now") == ["urgency"]  # "act now" inside "contact now"


PHRASES = [p for phrases in spec.MARKER_FAMILIES.values() for p in phrases]


@given(st.lists(st.one_of(st.sampled_from(PHRASES), st.text(max_size=12)), max_size=8),
       st.sampled_from([str.lower, str.upper, str.title, lambda s: s]))
@settings(max_examples=400, deadline=None)
def test_copy_markers_matches_reference(parts: list[str], case: object) -> None:
    text = case(" ".join(parts))  # type: ignore[operator]
    assert texts.copy_markers(text) == _reference_markers(text)


# --- compose_marked: the marker families of a composed text from its parts ------------------------------


@given(seed=st.integers(min_value=0, max_value=2**70), category=st.sampled_from(CATEGORY_IDS),
       style=st.sampled_from(texts.STYLES), kind=st.sampled_from(texts.KINDS))
@settings(max_examples=400, deadline=None)
def test_compose_marked_is_compose_and_copy_markers(seed: int, category: str, style: str, kind: str) -> None:
    text, markers = texts.compose_marked(kind, category, style, seed)
    assert text == texts.compose(kind, category, style, seed)
    assert markers == texts.copy_markers(text) == _reference_markers(text)


@pytest.mark.parametrize("category", CATEGORY_IDS)
def test_every_template_has_an_exact_marker_plan(category: str) -> None:
    """Each template of today's tables gets a plan (no scan needed), and the plan agrees with the scan on every
    word of every slot (the other slots drawn at random)."""
    rng = random.Random(category)
    brand_list = texts.brands(category)
    for kind, style in itertools.product(texts.KINDS, texts.STYLES):
        for t in texts.templates(kind, category, style):
            plan = texts._marker_plan(t, brand_list)
            assert plan is not None, t.fmt
            fixed, slot_masks = plan
            for pos, options in enumerate((brand_list, *t.slots)):
                for i in range(len(options)):
                    picks = [rng.randrange(len(o)) for o in (brand_list, *t.slots)]
                    picks[pos] = i
                    text = t.fmt.format(brand_list[picks[0]], *(v[j] for v, j in zip(t.slots, picks[1:], strict=True)))
                    mask = fixed
                    for masks, j in zip(slot_masks, picks, strict=True):
                        mask |= masks[j]
                    assert list(texts._FAMILIES_OF_MASK[mask]) == _reference_markers(text), text


@pytest.mark.parametrize(("fmt", "slots", "brand_list"), [
    ("{0} act{1}", ((" now", "ion"),), ("Brand",)),  # a phrase from fixed text into a word
    ("{0} {1} now", (("act", "fact"),), ("Brand",)),  # from a word into fixed text
    ("dou{1}{2}our", (("ble", "x"), (" y", "z")), ("B",)),  # across three pieces
    ("dou{1}{2}{3}our", (("ble", "x"), (" ", "z"), ("", "q", "y")), ("B",)),  # through an empty word
    ("{0}cial security", (), ("So", "Ba")),  # from the brand
])
def test_a_template_where_a_phrase_can_cross_a_border_gets_no_plan(
        fmt: str, slots: tuple[tuple[str, ...], ...], brand_list: tuple[str, ...]) -> None:
    assert texts._marker_plan(texts.Template(fmt, slots), brand_list) is None


def test_marker_plan_keeps_phrases_inside_one_word() -> None:
    plan = texts._marker_plan(texts.Template("{0} {1} later", (("hurry up", "act"),)), ("Brand",))
    assert plan is not None
    assert texts._FAMILIES_OF_MASK[plan[1][1][0]] == ("urgency",) and plan[1][1][1] == 0


@given(seed=st.integers(min_value=0, max_value=2**70), category=st.sampled_from(CATEGORY_IDS),
       style=st.sampled_from(texts.STYLES))
@settings(max_examples=300, deadline=None)
def test_compose_ad_is_the_three_compose_calls(seed: int, category: str, style: str) -> None:
    assert texts.compose_ad(category, style, seed) == (
        *texts.compose_marked("copy", category, style, seed), texts.compose("targeting", category, style, seed),
        texts.compose("landing", category, style, seed))
