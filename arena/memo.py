"""Memo caches of the rules' pure text functions, with one bound per process (docs/operations.md#memory).

The text checks (marker scan, gibberish, template repetition) and the house bots' surface likelihoods are pure
functions of their arguments and run many times per text, so they are memoised. The right bound depends on
the process: a training worker plays hundreds of matches at once and needs every live match's texts cached;
a served match actor holds one match (or ``matches_per_actor``) and needs a few dozen entries. A bound sized
for training makes an actor's memory climb for hours before it levels off, so the served actors scale the
bounds down with :func:`set_memo_scale` (a cache is only ever a speed-up: a miss recomputes the same value).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
MIN_ENTRIES = 32  # no memo cache is bounded below this
MATCHES_AT_FULL_BOUND = 32  # a process holding this many live matches (or more) keeps the full bounds

_memos: list[tuple[str, str, int, Callable[..., Any]]] = []  # (module, name, full bound, the plain function)
_scale = 1.0


def _bound(maxsize: int) -> int:
    return max(MIN_ENTRIES, int(maxsize * _scale))


def memo(maxsize: int) -> Callable[[F], F]:
    """``functools.lru_cache`` with bound ``maxsize`` × the process's scale, registered for :func:`set_memo_scale`.

    Callers must look the function up by its module-level name at call time (a rescale rebinds that name).
    """
    def wrap(fn: F) -> F:
        _memos.append((fn.__module__, fn.__name__, maxsize, fn))
        return lru_cache(maxsize=_bound(maxsize))(fn)  # type: ignore[return-value]
    return wrap


def set_memo_scale(scale: float) -> None:
    """Bound every memo cache at ``scale`` × its full bound from now on (present entries are dropped)."""
    global _scale
    if not 0 < scale <= 1:
        raise ValueError(f"memo scale must be in (0, 1], got {scale}")
    _scale = scale
    for module, name, maxsize, fn in _memos:
        setattr(sys.modules[module], name, lru_cache(maxsize=_bound(maxsize))(fn))


def scale_for_matches(n: int) -> float:
    """The scale for a process that holds at most ``n`` live matches at once (1 match: 1/32 of the full bounds,
    still several times the entries one match's texts take)."""
    return min(1.0, max(1, n) / MATCHES_AT_FULL_BOUND)


def memo_scale() -> float:
    """The scale now applied to the memo caches' bounds (1.0 unless :func:`set_memo_scale` changed it)."""
    return _scale


def memo_caches() -> dict[str, list[int]]:
    """``[entries, bound]`` of each memo cache in this process, keyed ``module.function``."""
    out = {}
    for module, name, _maxsize, _fn in _memos:
        info = getattr(sys.modules[module], name).cache_info()
        out[f"{module.rsplit('.', 1)[-1]}.{name.lstrip('_')}"] = [info.currsize, info.maxsize]
    return out
