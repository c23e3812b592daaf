"""Standard RL environment APIs for FraudArena: a PettingZoo AEC env and a Gymnasium single-role env.

* :class:`FraudArenaAECEnv` (``fraudarena.envs.aec.env()``) — all three roles, turn by turn.
* :class:`FraudArenaGymEnv` — one role (Investigator, Fraudster, or the two-action Auditor) against
  bots of any ``make_bot`` kind.

Both use the training encoders and flat action codecs (``fraudarena.agents``), padded to fixed shapes
(:mod:`fraudarena.envs.encoding`). Needs the ``envs`` extra (``pip install -e ".[envs]"``: gymnasium,
pettingzoo); no Ray, torch or web stack (a ``policy:`` opponent loads torch when it is built).

Importing this package registers the Gymnasium ids ``FraudArena-Investigator-v0``,
``FraudArena-Fraudster-v0`` and ``FraudArena-Auditor-v0``
(``gymnasium.make("FraudArena-Investigator-v0", task_id="task_2")``);
``gymnasium.make("fraudarena.envs:FraudArena-Investigator-v0")`` imports it on demand. Importing
``fraudarena.arena`` or ``fraudarena.agents`` never imports gymnasium.
"""

from __future__ import annotations

import gymnasium

from .aec import AGENTS, FraudArenaAECEnv
from .encoding import AUDITOR_HEURISTIC_FLAG, AUDITOR_SUBMIT, MAX_ADS, OBS_BOUND, max_queue
from .gym_env import GYM_ROLES, FraudArenaGymEnv

GYM_IDS: dict[str, str] = {role: f"FraudArena-{role.capitalize()}-v0" for role in GYM_ROLES}
"""Gymnasium id per role."""


def register_envs() -> None:
    """Register the Gymnasium ids of :data:`GYM_IDS` (idempotent; done on import)."""
    for role, env_id in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="fraudarena.envs.gym_env:FraudArenaGymEnv",
                               kwargs={"role": role})


register_envs()

__all__ = [
    "AGENTS",
    "AUDITOR_HEURISTIC_FLAG",
    "AUDITOR_SUBMIT",
    "GYM_IDS",
    "GYM_ROLES",
    "MAX_ADS",
    "OBS_BOUND",
    "FraudArenaAECEnv",
    "FraudArenaGymEnv",
    "max_queue",
    "register_envs",
]
