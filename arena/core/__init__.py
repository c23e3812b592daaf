"""The batched rules core: M matches as arrays, stepped by numba kernels (``docs/rules.md``, "The batched core").

``CoreBatch`` (``batch.py``) holds the state and drives the kernels (``kernels.py``); ``layout.py`` names the
array columns, ``tables.py`` the numeric rule tables derived from ``arena/spec.py`` and ``arena/evidence.py``,
``actions.py`` the flat integer action codes. The referee (``arena/referee.py``) and the core are checked
against each other action by action (``tests/arena/test_core_differential.py``). ``episode.py`` draws every
match's episode (§4.5) for both engines.

``CoreBatch`` is imported on first use: ``arena/generation.py`` loads ``episode.py`` from here while
``batch.py`` itself needs ``generation``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .batch import CoreBatch

__all__ = ["CoreBatch"]


def __getattr__(name: str) -> Any:
    if name == "CoreBatch":
        from .batch import CoreBatch

        return CoreBatch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
