"""JSON Schemas served by ``GET /api/v1/tasks`` and ``GET /schema`` (built from ``arena.spec`` data).

Action schemas follow docs/rules.md §7 (one object per role, ``action_type`` enumerated); observation and
state schemas list the §9 header, which every role's observation carries.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fraudarena.arena import spec

_STR = {"type": "string"}
_ID = {"type": "string", "maxLength": spec.MAX_ID_LEN}
_TEXT = {"type": "string", "maxLength": spec.MAX_TEXT_LEN}
_UNIT = {"type": "number", "minimum": 0, "maximum": 1}
_HEADER = ("role", "task_id", "phase", "round_number", "max_rounds", "rounds_remaining", "actions_left_this_turn",
           "budget_remaining", "action_budget", "proposals_used", "max_proposals", "arrivals_remaining",
           "queue_may_grow", "fraudster_committed", "end_reason", "done", "reward", "feedback", "legal_actions")


def action_schema(role: str) -> dict[str, Any]:
    props: dict[str, Any] = {"action_type": {"type": "string", "enum": list(spec.ACTION_TYPES[role])},
                             "metadata": {"type": "object"}, "rationale": _TEXT}
    if role == "investigator":
        props.update(ad_id=_ID, linked_ad_id=_ID, link_reason=_TEXT, confidence=_UNIT,
                     investigation_target={"type": ["string", "null"], "enum": [*spec.TARGETS, None]},
                     verdict={"type": ["string", "null"], "enum": [*spec.VERDICTS, None]})
    elif role == "fraudster":
        props.update(ad_copy=_TEXT, category={"type": "string", "maxLength": spec.MAX_SHORT_LEN},
                     landing_page_blurb=_TEXT,
                     targeting_summary={"type": "string", "maxLength": spec.MAX_TARGETING_LEN},
                     camouflage={"type": "array", "items": {"enum": list(spec.TARGETS)}, "maxItems": 2,
                                 "uniqueItems": True},
                     slot_index={"type": "integer", "minimum": 0}, new_ad_copy=_TEXT, new_landing_page_blurb=_TEXT)
    else:
        props.update(flag_type={"type": "string", "enum": [*spec.TRACK_A_FLAGS, *spec.TRACK_B_FLAGS]},
                     target_ad_id={"type": ["string", "null"], "maxLength": spec.MAX_ID_LEN}, severity=_UNIT,
                     note=_TEXT, audit_report={"type": "object"})
    return {"title": f"{role.capitalize()}Action", "type": "object", "properties": props,
            "required": ["action_type"], "additionalProperties": False}


def observation_schema(role: str) -> dict[str, Any]:
    return {"title": f"{role.capitalize()}Observation", "type": "object",
            "properties": {k: {} for k in (*_HEADER, "match_id")}, "required": list(_HEADER),
            "additionalProperties": True}


def state_schema() -> dict[str, Any]:
    keys = ("match_id", "episode_id", "step_count", *_HEADER, "seats", "turn_deadline_ms")
    return {"title": "MatchState", "type": "object", "properties": {k: {} for k in keys},
            "required": ["episode_id", "step_count"], "additionalProperties": True}


@cache
def task_table() -> dict[str, Any]:
    out = {}
    for task_id, t in spec.TASKS.items():
        knobs = {k: getattr(t, k) for k in t.__dataclass_fields__ if k not in ("category_pool", "task_id")}
        knobs["allowed_categories"] = [{"id": c, "category_display": spec.CATEGORY_BY_ID[c].display}
                                       for c in t.category_pool]
        knobs["max_audit_flags"] = spec.MAX_AUDIT_FLAGS
        knobs["schemas"] = {r: {"action": action_schema(r), "observation": observation_schema(r)}
                            for r in spec.ROLES}
        out[task_id] = knobs
    return out


def openenv_schema() -> dict[str, Any]:
    return {"action": action_schema("investigator"), "observation": observation_schema("investigator"),
            "state": state_schema()}
