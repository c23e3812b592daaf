"""Pydantic v2 wire models for actions (docs/rules.md §7) and observations (§9), with the spec's field names.

Inbound actions are validated here (unknown fields are an error, known fields an action type does not
use are dropped); ``normalise_action`` turns a validated model into the normalised dict that the
referee applies and the record stores. Observation models document the outbound shapes and give the
JSON Schemas served by ``/api/v1/tasks`` and ``/schema``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from .errors import ArenaError
from .spec import (
    MATCH_LEVEL_FLAGS,
    MAX_ID_LEN,
    MAX_NOTES_LEN,
    MAX_SHORT_LEN,
    MAX_TARGETING_LEN,
    MAX_TEXT_LEN,
    TRACK_A_FLAGS,
    TRACK_B_FLAGS,
)

Target = Literal[
    "advertiser_history", "landing_page", "payment_method", "targeting_overlap", "campaign_structure",
    "policy_classifier",
]
Verdict = Literal["approve", "reject", "escalate"]
Id = Annotated[str, Field(max_length=MAX_ID_LEN)]
Text = Annotated[str, Field(max_length=MAX_TEXT_LEN)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
FlagType = Literal[
    "miscalibration", "missing_citation", "incoherent_rationale", "inconsistency", "bias",
    "gibberish", "parameter_mismatch", "template_repetition", "branding_anomaly",
]


class AuditReport(BaseModel):
    """The optional report of ``submit_audit_report`` (informational; only flag actions count)."""

    model_config = ConfigDict(extra="forbid")
    investigator_audit_score: Unit | None = None
    fraudster_plausibility_score: Unit | None = None
    notes: Annotated[str, Field(max_length=MAX_NOTES_LEN)] | None = None
    track_a_flags: list[Any] | None = None
    track_b_flags: list[Any] | None = None


class _ActionFields(BaseModel):
    """Every field any action may carry; each action type uses a subset (§7)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    ad_id: Id | None = None
    investigation_target: Target | None = None
    verdict: Verdict | None = None
    confidence: Unit | None = None
    rationale: Text | None = None
    linked_ad_id: Id | None = None
    link_reason: Text | None = None
    ad_copy: Text | None = None
    category: Annotated[str, Field(max_length=MAX_SHORT_LEN)] | None = None
    landing_page_blurb: Text | None = None
    targeting_summary: Annotated[str, Field(max_length=MAX_TARGETING_LEN)] | None = None
    camouflage: list[Target] | None = Field(default=None, max_length=2)
    slot_index: Annotated[int, Field(ge=0)] | None = None
    new_ad_copy: Text | None = None
    new_landing_page_blurb: Text | None = None
    flag_type: FlagType | None = None
    target_ad_id: Id | None = None
    severity: Unit | None = None
    note: Text | None = None
    audit_report: AuditReport | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("camouflage")
    @classmethod
    def _distinct(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            raise ValueError("camouflage targets must be distinct")
        return v


class InvestigatorAction(_ActionFields):
    """An Investigator action: investigate, verdict, link_accounts or end_turn."""

    action_type: Literal["investigate", "verdict", "link_accounts", "end_turn"]


class FraudsterAction(_ActionFields):
    """A Fraudster action: propose_ad, modify_pending_ad, end_turn or commit_final."""

    action_type: Literal["propose_ad", "modify_pending_ad", "end_turn", "commit_final"]


class AuditorAction(_ActionFields):
    """An Auditor action: flag_investigator, flag_fraudster or submit_audit_report."""

    action_type: Literal["flag_investigator", "flag_fraudster", "submit_audit_report"]


ACTION_MODELS: dict[str, type[_ActionFields]] = {
    "investigator": InvestigatorAction,
    "fraudster": FraudsterAction,
    "auditor": AuditorAction,
}
_ADAPTERS = {role: TypeAdapter(model) for role, model in ACTION_MODELS.items()}

# Fields each action type keeps after normalisation; required ones are checked in ``normalise_action``.
_USED: dict[str, tuple[str, ...]] = {
    "investigate": ("ad_id", "investigation_target", "rationale"),
    "verdict": ("ad_id", "verdict", "confidence", "rationale"),
    "link_accounts": ("ad_id", "linked_ad_id", "link_reason", "rationale"),
    "end_turn": ("rationale",),
    "propose_ad": ("ad_copy", "category", "landing_page_blurb", "targeting_summary", "camouflage", "rationale"),
    "modify_pending_ad": ("slot_index", "new_ad_copy", "new_landing_page_blurb", "rationale"),
    "commit_final": ("rationale",),
    "flag_investigator": ("flag_type", "target_ad_id", "severity", "note"),
    "flag_fraudster": ("flag_type", "target_ad_id", "severity", "note"),
    "submit_audit_report": ("audit_report", "note"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "investigate": ("ad_id", "investigation_target"),
    "verdict": ("ad_id", "verdict"),
    "link_accounts": ("ad_id", "linked_ad_id"),
    "propose_ad": ("ad_copy", "category"),
    "modify_pending_ad": ("slot_index",),
    "flag_investigator": ("flag_type",),
    "flag_fraudster": ("flag_type",),
}
_STRIPPED = ("ad_copy", "landing_page_blurb", "targeting_summary", "new_ad_copy", "new_landing_page_blurb")


def _fail(msg: str, loc: str) -> ArenaError:
    return ArenaError("validation_error", f"{loc}: {msg}", [{"loc": [loc], "msg": msg}])


def validate_action(role: str, action: dict[str, Any] | BaseModel) -> dict[str, Any]:
    """Validate an action for ``role`` and return its normalised dict (raises ArenaError)."""
    if isinstance(action, BaseModel):
        action = action.model_dump(exclude_none=True)
    if not isinstance(action, dict):
        raise ArenaError("validation_error", "action must be a JSON object",
                         [{"loc": [], "msg": "expected an object"}])
    try:
        model = _ADAPTERS[role].validate_python(action)
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
        first = details[0]
        where = ".".join(str(x) for x in first["loc"]) or "action"
        raise ArenaError("validation_error", f"invalid {role} action: {where}: {first['msg']}",
                         details) from None
    return normalise_action(model)


def normalise_action(model: _ActionFields) -> dict[str, Any]:
    """Drop unused and null fields, strip texts, apply defaults and cross-field rules (§7)."""
    atype: str = model.action_type  # type: ignore[attr-defined]
    if atype == "investigate" and model.verdict is not None:
        raise _fail("must be null for investigate", "verdict")
    if atype == "verdict" and model.investigation_target is not None:
        raise _fail("must be null for verdict", "investigation_target")
    out: dict[str, Any] = {"action_type": atype}
    for name in _USED[atype]:
        value = getattr(model, name)
        if value is None:
            continue
        if name in _STRIPPED:
            value = value.strip()
        out[name] = value
    for name in _REQUIRED.get(atype, ()):
        if name not in out:
            raise _fail(f"field required for {atype}", name)
    if atype == "propose_ad":
        if not out["ad_copy"]:
            raise _fail("must not be blank", "ad_copy")
        for name in ("landing_page_blurb", "targeting_summary"):
            if name in out and not out[name]:
                del out[name]
        out["camouflage"] = list(out.get("camouflage", ()))
    elif atype == "modify_pending_ad":
        for name in ("new_ad_copy", "new_landing_page_blurb"):
            if name in out and not out[name]:
                del out[name]
        if "new_ad_copy" not in out and "new_landing_page_blurb" not in out:
            raise _fail("give a non-blank new_ad_copy or new_landing_page_blurb", "new_ad_copy")
    elif atype == "verdict":
        out.setdefault("confidence", 0.5)
    elif atype in ("flag_investigator", "flag_fraudster"):
        out.setdefault("severity", 0.5)
        if out["flag_type"] in MATCH_LEVEL_FLAGS:
            out.pop("target_ad_id", None)
    elif atype == "submit_audit_report" and "audit_report" in out:
        out["audit_report"] = out["audit_report"].model_dump(exclude_none=True)
    return out


# ---------------------------------------------------------------------------------------------------------
# Observation models (outbound documentation and JSON Schema; the referee builds plain dicts).


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AdView(_Open):
    """The public surface of a published ad (§4.3)."""

    ad_id: str
    category: str
    category_display: str
    country: str
    ad_copy: str
    targeting_summary: str
    copy_markers: list[str]
    copy_revision: int
    arrived_round: int | None
    status: str
    confidence: float | None
    pulled_targets: list[str]


class ObservationHeader(_Open):
    """Fields every role's observation carries (§9)."""

    role: str
    task_id: str
    phase: str
    round_number: int
    max_rounds: int
    rounds_remaining: int
    actions_left_this_turn: int
    budget_remaining: int
    action_budget: int
    proposals_used: int
    max_proposals: int
    arrivals_remaining: int
    queue_may_grow: bool
    fraudster_committed: bool
    end_reason: str | None
    done: bool
    reward: float
    feedback: str
    legal_actions: dict[str, Any]


class InvestigatorObservation(ObservationHeader):
    queue: list[AdView]
    available_ads: list[str]
    evidence_ledger: dict[str, dict[str, dict[str, Any]]]
    decided_ads: list[dict[str, Any]]
    links: list[dict[str, Any]]
    links_remaining: int
    queue_status: dict[str, Any]
    queue_summary: str
    current_ad_info: str
    investigation_findings: str
    verdict_history_summary: str


class FraudsterObservation(ObservationHeader):
    allowed_categories: list[str]
    proposals_remaining: int
    camouflage_remaining: int
    current_queue: list[dict[str, Any]]
    prior_verdicts: list[dict[str, Any]]
    investigation_targets_used: dict[str, list[str]]
    my_proposals: list[dict[str, Any]]
    my_proposal_signals: dict[str, dict[str, dict[str, Any]]]
    queue_summary: str


class AuditorObservation(ObservationHeader):
    public_queue: list[AdView]


OBSERVATION_MODELS: dict[str, type[BaseModel]] = {
    "investigator": InvestigatorObservation,
    "fraudster": FraudsterObservation,
    "auditor": AuditorObservation,
}

ALL_FLAG_TYPES = (*TRACK_A_FLAGS, *TRACK_B_FLAGS)


def action_schema(role: str) -> dict[str, Any]:
    """JSON Schema of a role's action."""
    return ACTION_MODELS[role].model_json_schema()


def observation_schema(role: str) -> dict[str, Any]:
    """JSON Schema of a role's observation."""
    return OBSERVATION_MODELS[role].model_json_schema()
