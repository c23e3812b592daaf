"""The batched rules core: M matches as arrays, stepped by numba kernels (``docs/rules.md``, "The batched core").

``CoreBatch`` (``batch.py``) holds the state and drives the kernels (``kernels.py``); ``layout.py`` names the
array columns, ``tables.py`` the numeric rule tables derived from ``arena/spec.py`` and ``arena/evidence.py``,
``actions.py`` the flat integer action codes. The referee (``arena/referee.py``) and the core are checked
against each other action by action (``tests/arena/test_core_differential.py``).
"""

from .batch import CoreBatch

__all__ = ["CoreBatch"]
