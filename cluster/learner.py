"""Ray placement of the PPO learner (optional): ``LearnerActor`` wraps ``agents.ppo.PPOLearner``.

By default the learner runs in the driver (on a 2-core machine a separate process only adds copies);
``RemoteLearner`` gives the same synchronous interface backed by an actor, for clusters where the
learner should sit on its own node/CPU (``Trainer.learner = RemoteLearner(config)``; not the default).
"""

from __future__ import annotations

from typing import Any

import ray

from fraudarena.agents.batch import RoleBatch
from fraudarena.agents.ppo import PPOLearner
from fraudarena.agents.train_config import TrainConfig


@ray.remote(num_cpus=1)
class LearnerActor:
    def __init__(self, config: dict) -> None:
        import torch

        torch.set_num_threads(1)
        self.learner = PPOLearner(TrainConfig.from_dict(config))

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.learner, method)(*args)


class RemoteLearner:
    """Synchronous proxy with ``PPOLearner``'s interface."""

    def __init__(self, config: TrainConfig) -> None:
        self.actor = LearnerActor.remote(config.to_dict())

    def _call(self, method: str, *args: Any) -> Any:
        return ray.get(self.actor.call.remote(method, *args))

    def get_weights(self) -> dict:
        return self._call("get_weights")

    def set_weights(self, weights: dict) -> None:
        self._call("set_weights", weights)

    def state_dict(self) -> dict:
        return self._call("state_dict")

    def load_state_dict(self, state: dict) -> None:
        self._call("load_state_dict", state)

    def update(self, batch: RoleBatch) -> dict[str, float]:
        return self._call("update", batch)

    def bc_update(self, batch: RoleBatch) -> dict[str, float]:
        return self._call("bc_update", batch)

    def close(self) -> None:
        ray.kill(self.actor)
