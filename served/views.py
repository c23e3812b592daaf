"""Role-filtered views of a match's history for REST (docs/protocol.md#rest-apiv1 ``/matches/{id}/events``).

Which action a viewer may see is decided by ``arena.observations.visible_action`` (hiding lives there);
this module only walks a live match's log with it.

Before ``done`` a seat sees its own accepted actions in full, other roles' actions only as far as its
observation shows them, and phase changes. Without a token (a spectator) it is what every seat's view shows:
phase changes, the Investigator's pulls and verdicts as the public ``AdView`` shows them (ad, target; ad,
verdict, confidence; no rationale, no Finding) and, in ``audit_phase``, the Auditor's flags; never a
Fraudster action or a link. After ``done`` every accepted action is shown with its global index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fraudarena.arena.observations import visible_action

if TYPE_CHECKING:
    from fraudarena.served.live_match import LiveMatch

def match_events(match: LiveMatch, viewer: str | None) -> list[dict[str, Any]]:
    """The ordered event list that ``viewer`` (a role, or None for the public) may see."""
    if match.env.done:
        return archived_events(match.record())
    phase_now = match.env.phase
    changes = {c["after"]: c for c in match.phase_log}
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(match.action_log, start=1):
        shown = visible_action(viewer, entry["role"], entry["action"], phase_now)
        if shown is not None:
            out.append({"kind": "action", "round": entry["round"], "phase": entry["phase"],
                        "role": entry["role"], "action": shown})
        change = changes.get(i)
        if change is not None:
            out.append({"kind": "phase_changed", "round": change["round"], "phase": change["phase"],
                        "role": None, "action": None})
    for n, event in enumerate(out, start=1):
        event["n"] = n
    return out


def archived_events(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every accepted action of a finished match, with the record's global index."""
    return [{"kind": "action", "n": a.get("n"), "round": a.get("round"), "phase": a.get("phase"),
             "role": a.get("role"), "action": a.get("action")} for a in record.get("actions", [])]
