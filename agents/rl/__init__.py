"""The RL stack's batched side: features, masks and the rollout loop over the batched rules core.

``features.py`` writes both learned roles' encoder features for every match of an
``arena.core.CoreBatch`` straight into preallocated arrays (the same numbers as ``agents/encoders.py``
computes from observation dicts, checked by ``tests/agents/test_core_features.py``).
"""

from typing import Any


def make_runner(config: Any, worker_index: int = 0) -> Any:
    """The rollout runner a ``TrainConfig`` asks for (``engine``): ``CoreRolloutRunner`` or ``SelfPlayRunner``."""
    kwargs = dict(opponent_weights=config.opponent_weights, hidden=config.hidden, shaped_credit=config.shaped_credit,
                  archive_rate=config.archive_rate, worker_index=worker_index, bc_teachers=config.bc_teachers,
                  link_credit_to_pulls=config.link_credit_to_pulls, house_bots=getattr(config, "house_bots", None))
    args = (config.matches_per_worker, config.task_ids, config.seed, config.learn_roles)
    engine = getattr(config, "engine", "core")
    if engine == "core":
        from .core_runner import CoreRolloutRunner

        return CoreRolloutRunner(*args, **kwargs)
    if engine == "python":
        from fraudarena.agents.rl.runner import SelfPlayRunner

        return SelfPlayRunner(*args, **kwargs)
    raise ValueError(f"unknown rollout engine {engine!r}; expected 'core' or 'python'")


__all__ = ["make_runner"]
