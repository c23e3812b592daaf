"""The FraudArena game: rules, generation, evidence, referee, observations, grading and records.

Pure Python + pydantic: no Ray, torch, FastAPI, sockets, files or clocks. A match is a pure function of
(task_id, seed, overrides, ordered accepted actions).
"""

from .errors import ArenaError
from .record import record_json
from .referee import RefereeEnvironment, replay, validate_config
from .spec import ROLES, TASK_IDS, TASKS, Phase, Role

__all__ = [
    "ROLES",
    "TASKS",
    "TASK_IDS",
    "ArenaError",
    "Phase",
    "RefereeEnvironment",
    "Role",
    "record_json",
    "replay",
    "validate_config",
]
