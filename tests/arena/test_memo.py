"""Memo caches bounded per process (``arena/memo.py``): rescaling rebinds every registered cache, callers keep
getting the same answers, and the bound holds however many texts go through."""

from __future__ import annotations

import pytest

from fraudarena.arena import audit, memo, texts


@pytest.fixture
def restore_scale():
    before = memo.memo_scale()
    yield
    memo.set_memo_scale(before)


def test_rescaling_bounds_every_cache_and_answers_stay_the_same(restore_scale):
    copies = [texts.compose("copy", "fake_giveaway", "plain", seed) for seed in range(400)]
    full = [(audit.is_gibberish(c), texts.copy_markers(c), audit.template_repetition(c, copies[:3])) for c in copies]
    assert memo.memo_caches()["texts.markers"][1] == 8192
    memo.set_memo_scale(memo.scale_for_matches(1))
    caches = memo.memo_caches()
    assert caches["texts.markers"] == [0, 256] and caches["audit.copy_shape"] == [0, 128]  # rebound, emptied
    small = [(audit.is_gibberish(c), texts.copy_markers(c), audit.template_repetition(c, copies[:3])) for c in copies]
    assert small == full
    for entries, bound in memo.memo_caches().values():
        assert entries <= bound
    assert memo.memo_caches()["texts.markers"][0] == 256  # 400 texts through a 256-entry cache


def test_scale_follows_the_matches_a_process_holds():
    assert memo.scale_for_matches(1) == 1 / 32
    assert memo.scale_for_matches(8) == 0.25
    assert memo.scale_for_matches(32) == memo.scale_for_matches(1000) == 1.0
    with pytest.raises(ValueError):
        memo.set_memo_scale(0)
