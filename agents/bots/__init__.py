"""House bots (docs/rules.md §12) and weak baselines; every bot has ``act(observation) -> action dict``.

Each bot is deterministic given its seed and owns its own ``random.Random(seed)``.
"""

from .baselines import (
    ConstantVerdictInvestigator,
    DoNothingInvestigator,
    EscalateAllInvestigator,
    RejectAllInvestigator,
    SurfaceOnlyInvestigator,
)
from .camouflage import CamouflageFraudster
from .heuristic import HeuristicAuditor
from .random_policy import RandomPolicy
from .reactive import ReactiveFraudster
from .ringhunter import RingHunterInvestigator
from .scripted import ScriptedInvestigator

__all__ = [
    "CamouflageFraudster",
    "ConstantVerdictInvestigator",
    "DoNothingInvestigator",
    "EscalateAllInvestigator",
    "HeuristicAuditor",
    "RandomPolicy",
    "ReactiveFraudster",
    "RejectAllInvestigator",
    "RingHunterInvestigator",
    "ScriptedInvestigator",
    "SurfaceOnlyInvestigator",
]
