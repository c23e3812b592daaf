"""The RL stack's batched side: features, masks and the rollout loop over the batched rules core.

``features.py`` writes both learned roles' encoder features for every match of an
``arena.core.CoreBatch`` straight into preallocated arrays (the same numbers as ``agents/encoders.py``
computes from observation dicts, checked by ``tests/agents/test_core_features.py``).
"""
