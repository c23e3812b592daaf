"""Policies that play FraudArena in-process: the house bots, baselines, ``make_bot`` and ``play_match``.

No Ray, FastAPI or torch here; the trainer adds learned policies through ``register_bot_kind``.
"""

from .bots import (
    CamouflageFraudster,
    DoNothingInvestigator,
    EscalateAllInvestigator,
    HeuristicAuditor,
    RandomPolicy,
    ReactiveFraudster,
    RejectAllInvestigator,
    ScriptedInvestigator,
    SurfaceOnlyInvestigator,
)
from .play import Policy, known_kinds, make_bot, play_match, register_bot_kind

__all__ = [
    "CamouflageFraudster",
    "DoNothingInvestigator",
    "EscalateAllInvestigator",
    "HeuristicAuditor",
    "Policy",
    "RandomPolicy",
    "ReactiveFraudster",
    "RejectAllInvestigator",
    "ScriptedInvestigator",
    "SurfaceOnlyInvestigator",
    "known_kinds",
    "make_bot",
    "play_match",
    "register_bot_kind",
]
