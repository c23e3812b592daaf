"""``CoreBatch.propose_many``: several matches' proposals in one call equal the same proposals one by one."""

from __future__ import annotations

import numpy as np
import pytest

from fraudarena.arena.core import CoreBatch
from fraudarena.arena.errors import ArenaError
from fraudarena.arena.texts import compose

ITEMS = [  # (match, category, camouflage); the texts are composed from the match index
    (0, "fake_giveaway", ()),
    (1, "miracle_cure", ("advertiser_history",)),
    (3, "fake_giveaway", ("landing_page",)),
]


def _fresh(n: int = 4) -> CoreBatch:
    b = CoreBatch(n)
    for m in range(n):
        b.reset(m, "task_3", 300 + m)
    return b


def _item(m: int, category: str, camo: tuple[str, ...], k: int = 0):
    seed = 1000 * m + k
    return (m, category, camo, compose("copy", category, "plain", seed), compose("targeting", category, "plain", seed),
            None)


def _state(b: CoreBatch) -> tuple:
    return (b.mi.copy(), b.ai.copy(), b.af.copy(), b.outc.copy(),
            [None if t is None else (t.ad_ids, t.copies, t.proposal_texts, t.ident_ids) for t in b.texts])


def _same(a: tuple, b: tuple) -> None:
    for x, y in zip(a[:4], b[:4], strict=True):
        np.testing.assert_array_equal(x, y)
    assert a[4] == b[4]


def test_one_call_equals_proposals_one_by_one():
    one_by_one, batched = _fresh(), _fresh()
    for k in range(2):  # twice: the second proposals meet the first ones' identifiers
        items = [_item(m, c, camo, k) for m, c, camo in ITEMS]
        for it in items:
            one_by_one.propose(*it)
        batched.propose_many(items)
        _same(_state(one_by_one), _state(batched))


def test_an_illegal_item_changes_nothing_and_one_match_takes_one_item():
    b = _fresh()
    before = _state(b)
    copy = compose("copy", "fake_giveaway", "plain", 7)
    bad = [_item(0, "fake_giveaway", ()), (1, "no_such_category", (), copy, None, None)]
    with pytest.raises(ArenaError):
        b.propose_many(bad)
    _same(before, _state(b))
    with pytest.raises(ValueError):
        b.propose_many([_item(2, "fake_giveaway", ()), _item(2, "miracle_cure", ())])
    _same(before, _state(b))
