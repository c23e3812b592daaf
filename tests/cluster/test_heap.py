"""``freeze_startup_heap``: what is alive at start-up leaves the collector's generations, later garbage does not."""

from __future__ import annotations

import gc

from fraudarena.cluster.heap import freeze_startup_heap


def test_freezing_exempts_the_live_heap_and_later_cycles_are_still_collected():
    class Node:
        def __init__(self) -> None:
            self.other = self

    try:
        kept = [Node() for _ in range(100)]
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() and frozen >= len(kept)
        assert not any(gc.is_tracked(k) and k in gc.get_objects() for k in kept[:3])  # not in any generation
        made = [Node() for _ in range(50)]  # allocated after the freeze: collectable cycles
        ids = {id(n) for n in made}
        del made
        gc.collect()
        assert not ids & {id(o) for o in gc.get_objects() if isinstance(o, Node)}
    finally:
        gc.unfreeze()
