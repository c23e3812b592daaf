"""Game metadata declared once as data: roles, phases, tasks, knobs, categories, targets, flag types.

Everything else (the referee, bots, encoders, the REST ``/tasks`` answer, the docs) reads the rules'
constants from here. Values follow docs/rules.md (rules version 1) except where ``docs/rules-changes.md``
records a deliberate change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RULES_VERSION = 1
RECORD_FORMAT = "fraudarena.record/1"


class Role(StrEnum):
    FRAUDSTER = "fraudster"
    INVESTIGATOR = "investigator"
    AUDITOR = "auditor"


class Phase(StrEnum):
    FRAUDSTER_TURN = "fraudster_turn"
    INVESTIGATOR_TURN = "investigator_turn"
    AUDIT_PHASE = "audit_phase"
    DONE = "done"


class EndReason(StrEnum):
    COMMIT_FINAL = "commit_final"
    MAX_ROUNDS = "max_rounds"
    BUDGET_EXHAUSTED = "budget_exhausted"
    ALL_DECIDED = "all_decided"


class Label(StrEnum):
    LEGIT = "legit"
    FRAUD = "fraud"
    GRAY = "gray"


ROLES: tuple[str, ...] = ("fraudster", "investigator", "auditor")
PHASE_ROLE: dict[str, str] = {
    "fraudster_turn": "fraudster",
    "investigator_turn": "investigator",
    "audit_phase": "auditor",
}
LABELS: tuple[str, ...] = ("legit", "fraud", "gray")
VERDICTS: tuple[str, ...] = ("approve", "reject", "escalate")
CORRECT_VERDICT: dict[str, str] = {"legit": "approve", "fraud": "reject", "gray": "escalate"}

# The six investigation targets in canonical order (§5.2).
TARGETS: tuple[str, ...] = (
    "advertiser_history",
    "landing_page",
    "payment_method",
    "targeting_overlap",
    "campaign_structure",
    "policy_classifier",
)
TARGET_INDEX: dict[str, int] = {t: i for i, t in enumerate(TARGETS)}

# Identifier kinds a ring can share, canonical order (§4.5).
IDENTIFIER_KINDS: tuple[str, ...] = ("payment_id", "domain", "targeting_fingerprint", "config_fingerprint")

ACTION_TYPES: dict[str, tuple[str, ...]] = {
    "investigator": ("investigate", "verdict", "link_accounts", "end_turn"),
    "fraudster": ("propose_ad", "modify_pending_ad", "end_turn", "commit_final"),
    "auditor": ("flag_investigator", "flag_fraudster", "submit_audit_report"),
}
COSTING_ACTIONS: frozenset[str] = frozenset({"investigate", "verdict", "link_accounts"})
FRAUDSTER_CAPPED: frozenset[str] = frozenset({"propose_ad", "modify_pending_ad"})

TRACK_A_FLAGS: tuple[str, ...] = (
    "miscalibration",
    "missing_citation",
    "incoherent_rationale",
    "inconsistency",
    "bias",
)
TRACK_B_FLAGS: tuple[str, ...] = (
    "gibberish",
    "parameter_mismatch",
    "template_repetition",
    "branding_anomaly",
)
MATCH_LEVEL_FLAGS: frozenset[str] = frozenset({"miscalibration", "bias"})
MAX_AUDIT_FLAGS = 200
MAX_PULLS_PER_AD = 3
#: probability that a pending organic ad's copy is rewritten at a publish step from round 2 on (§8.2)
ORGANIC_EDIT_P = 0.15


@dataclass(frozen=True, slots=True)
class Category:
    """One advertiser vertical (§3)."""

    id: str
    display: str
    group: str  # "M", "H" or "SUP"
    fraud_type: str
    severity: float
    adult_only: bool
    keywords: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("ecommerce", "Online retail", "M", "non_delivery", 0.55, False,
             ("shop", "store", "order", "shipping", "sale")),
    Category("saas", "Software & apps", "M", "subscription_trap", 0.50, False,
             ("software", "app", "trial", "subscription", "team")),
    Category("local_service", "Local services", "M", "deposit_scam", 0.55, False,
             ("local", "service", "repair", "booking", "near you")),
    Category("education", "Courses & education", "M", "credential_mill", 0.45, False,
             ("course", "learn", "class", "certificate", "tutor")),
    Category("fitness", "Fitness", "M", "fake_weight_loss", 0.60, False,
             ("fitness", "workout", "gym", "training", "weight")),
    Category("fake_giveaway", "Giveaways & sweepstakes", "H", "fake_giveaway", 0.90, True,
             ("sweepstakes", "contest", "enter", "entry", "draw")),
    Category("counterfeit_goods", "Discount designer goods", "H", "counterfeit", 0.80, False,
             ("designer", "luxury", "brand", "discount", "outlet")),
    Category("miracle_cure", "Alternative health", "H", "miracle_cure", 0.95, True,
             ("health", "natural", "remedy", "relief", "wellness")),
    Category("advance_fee", "Loans & grants", "H", "advance_fee_scam", 0.85, True,
             ("loan", "grant", "funding", "credit", "approval")),
    Category("fake_crypto", "Crypto investing", "H", "fake_crypto", 0.70, True,
             ("crypto", "bitcoin", "token", "invest", "trading")),
    Category("celebrity_endorsement_fraud", "Celebrity-endorsed products", "H", "fake_endorsement", 0.65,
             True, ("star", "endorsed", "featured", "favorite", "signature")),
    Category("clone_brand", "Brand resale", "H", "brand_impersonation", 0.75, False,
             ("official", "brand", "authentic", "genuine", "original")),
    Category("gray_area_supplements", "Supplements", "SUP", "supplement_fraud", 0.65, True,
             ("supplement", "vitamin", "capsule", "formula", "daily")),
    Category("network_crypto", "Crypto exchanges & wallets", "H", "fake_crypto", 0.70, True,
             ("crypto", "wallet", "exchange", "coin", "trading")),
    Category("network_ecommerce", "Marketplaces & dropshipping", "H", "non_delivery", 0.55, False,
             ("marketplace", "deals", "shop", "shipping", "order")),
    Category("network_fintech", "Fintech & payments", "H", "advance_fee_scam", 0.85, True,
             ("payment", "card", "bank", "money", "fintech")),
    Category("network_health", "Telehealth & wellness", "H", "miracle_cure", 0.95, False,
             ("health", "doctor", "telehealth", "wellness", "care")),
)
CATEGORY_BY_ID: dict[str, Category] = {c.id: c for c in CATEGORIES}
CATEGORY_INDEX: dict[str, int] = {c.id: i for i, c in enumerate(CATEGORIES)}
CATEGORY_GROUPS: tuple[str, ...] = ("M", "H", "SUP")
GRAY_SEVERITY = 0.40

_GROUP_M = tuple(c.id for c in CATEGORIES if c.group == "M")
POOL_P1: tuple[str, ...] = (*_GROUP_M, "fake_giveaway", "miracle_cure")
POOL_P2: tuple[str, ...] = (
    *POOL_P1, "counterfeit_goods", "advance_fee", "fake_crypto", "celebrity_endorsement_fraud",
    "clone_brand", "gray_area_supplements",
)
POOL_ALL: tuple[str, ...] = tuple(c.id for c in CATEGORIES)


def canonical_categories(ids: object) -> tuple[str, ...]:
    """Return the given category ids in canonical (table) order."""
    wanted = set(ids)  # type: ignore[arg-type]
    return tuple(c.id for c in CATEGORIES if c.id in wanted)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """The knobs of one task (§2)."""

    task_id: str
    name: str
    difficulty: str
    n_legit: int
    n_fraud: int
    n_gray: int
    late_arrivals: int
    action_budget: int
    max_rounds: int
    max_proposals: int
    max_fraudster_actions_per_turn: int
    max_investigator_actions_per_turn: int
    camouflage_allowance: int
    n_rings: int
    max_links: int
    category_pool: tuple[str, ...]
    calibration_term: bool
    links_term: bool
    coverage_term: bool

    @property
    def n_base(self) -> int:
        return self.n_legit + self.n_fraud + self.n_gray


TASKS: dict[str, TaskSpec] = {
    "task_1": TaskSpec("task_1", "Basic Ad Triage", "easy", 2, 3, 0, 3, 25, 4, 3, 3, 8, 2, 0, 0,
                       POOL_P1, False, False, False),
    "task_2": TaskSpec("task_2", "Sophisticated Fraud Under Budget Pressure", "medium", 5, 5, 2, 4, 36, 4,
                       6, 3, 10, 4, 0, 0, POOL_P2, True, False, False),
    "task_3": TaskSpec("task_3", "Coordinated Fraud Network Detection", "hard", 6, 10, 4, 6, 50, 5, 7, 3,
                       12, 6, 3, 12, POOL_ALL, True, True, True),
    "task_3_unseen": TaskSpec("task_3_unseen", "Networks Under Tighter Budget (held-out eval)", "hard", 8,
                              12, 5, 8, 55, 5, 8, 3, 12, 6, 4, 16, POOL_ALL, True, True, True),
}
TASK_IDS: tuple[str, ...] = tuple(TASKS)

# Overridable knobs and their inclusive ranges (§2).
OVERRIDE_RANGES: dict[str, tuple[int, int]] = {
    "max_rounds": (1, 20),
    "max_proposals": (0, 50),
    "max_fraudster_actions_per_turn": (1, 10),
    "max_investigator_actions_per_turn": (1, 30),
}
OVERRIDE_KEYS: tuple[str, ...] = (*OVERRIDE_RANGES, "allowed_categories")

# Marker families and phrases (§4.3), in family-name order.
MARKER_FAMILIES: dict[str, tuple[str, ...]] = {
    "authority": ("doctors hate", "experts agree", "as seen on", "clinically proven", "celebrities"),
    "credentials": ("verify your account", "confirm your details", "bank details", "password",
                    "social security"),
    "guarantee": ("guaranteed", "risk-free", "no risk", "can't lose"),
    "money": ("double your", "passive income", "earn $", "get rich", "10x"),
    "urgency": ("act now", "today only", "limited time", "hurry", "last chance", "ends tonight",
                "only a few left"),
    "windfall": ("you won", "you've won", "winner", "claim your", "free gift", "prize"),
}

# Surface cue likelihoods (§4.5): P(value | label).
GROUP_PROBS: dict[str, tuple[float, float, float]] = {  # M, H, SUP
    "legit": (0.70, 0.20, 0.10),
    "fraud": (0.40, 0.50, 0.10),
    "gray": (0.25, 0.35, 0.40),
}
STYLE_PROBS: dict[str, tuple[float, float]] = {  # plain, pushy
    "legit": (0.80, 0.20),
    "fraud": (0.45, 0.55),
    "gray": (0.40, 0.60),
}
COUNTRY_GROUP_PROBS: dict[str, tuple[float, float]] = {  # core, other
    "legit": (0.80, 0.20),
    "fraud": (0.55, 0.45),
    "gray": (0.70, 0.30),
}
CORE_COUNTRIES: tuple[str, ...] = ("US", "GB", "CA", "AU", "DE")
OTHER_COUNTRIES: tuple[str, ...] = ("NL", "SG", "HK", "AE", "EE", "IN", "BR", "NG")
CORE_COUNTRY_SET: frozenset[str] = frozenset(CORE_COUNTRIES)

REGISTRARS: tuple[tuple[str, float], ...] = (
    ("GoDaddy", 0.30), ("Namecheap", 0.25), ("Cloudflare", 0.15), ("Tucows", 0.10),
    ("Porkbun", 0.08), ("Gandi", 0.07), ("Njalla", 0.05),
)
STEM_A: tuple[str, ...] = ("bright", "nova", "prime", "urban", "green", "swift", "true", "clear", "blue",
                           "peak", "smart", "fresh", "gold", "north", "pure", "zen")
STEM_B: tuple[str, ...] = ("cart", "mart", "hub", "lane", "works", "labs", "point", "deals", "box", "shop",
                           "wave", "nest", "path", "base", "field", "spot")

# Late-arrival selection weights (§4.5).
ARRIVAL_WEIGHTS: dict[str, int] = {"legit": 4, "gray": 2, "fraud": 1}
RING_TOPOLOGIES: tuple[str, ...] = ("clique", "chain", "hub_spoke")

# Grader matrix M(verdict, label) (§10.1); fraud/reject adds 0.1 * severity.
GRADER_MATRIX: dict[str, dict[str, float]] = {
    "reject": {"fraud": 0.3, "legit": -0.50, "gray": -0.10},
    "approve": {"fraud": -0.50, "legit": 0.10, "gray": -0.15},
    "escalate": {"fraud": -0.05, "legit": -0.05, "gray": 0.15},
}

TRACK_B_WEIGHTS: dict[str, float] = {
    "gibberish": 1.0,
    "branding_anomaly": 0.5,
    "parameter_mismatch": 0.4,
    "template_repetition": 0.3,
}

# Length caps (§7).
MAX_TEXT_LEN = 2000
MAX_SHORT_LEN = 64
MAX_TARGETING_LEN = 512
MAX_ID_LEN = 64
MAX_NOTES_LEN = 4000
