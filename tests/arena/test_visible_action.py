"""Hiding in action logs (docs/protocol.md#what-you-can-see): ``arena.observations.visible_action`` decides it alone."""

from __future__ import annotations

import pytest

from fraudarena.arena.observations import visible_action
from fraudarena.arena.spec import Phase, Role

PULL = {"action_type": "investigate", "ad_id": "ad_1", "investigation_target": "landing_page", "rationale": "r"}
VERDICT = {"action_type": "verdict", "ad_id": "ad_1", "verdict": "reject", "confidence": 0.9, "rationale": "why"}
PROPOSE = {"action_type": "propose_ad", "category": "electronics", "severity": "high"}
FLAG = {"action_type": "flag", "track": "A", "flag_type": "missed_fraud", "target_ad_id": "ad_1"}


@pytest.mark.parametrize("viewer", [None, Role.FRAUDSTER])
def test_investigator_actions_show_only_public_fields(viewer) -> None:
    assert visible_action(viewer, Role.INVESTIGATOR, PULL, Phase.INVESTIGATOR_TURN) == {
        "action_type": "investigate", "ad_id": "ad_1", "investigation_target": "landing_page"}
    assert visible_action(viewer, Role.INVESTIGATOR, VERDICT, Phase.INVESTIGATOR_TURN) == {
        "action_type": "verdict", "ad_id": "ad_1", "verdict": "reject", "confidence": 0.9}
    assert visible_action(viewer, Role.INVESTIGATOR, {"action_type": "end_turn"}, Phase.FRAUDSTER_TURN) is None


@pytest.mark.parametrize("phase", [Phase.FRAUDSTER_TURN, Phase.INVESTIGATOR_TURN, Phase.AUDIT_PHASE])
def test_fraudster_actions_are_never_public_and_hidden_from_the_investigator(phase) -> None:
    assert visible_action(None, Role.FRAUDSTER, PROPOSE, phase) is None
    assert visible_action(Role.INVESTIGATOR, Role.FRAUDSTER, PROPOSE, phase) is None


def test_own_actions_in_full_and_auditor_sees_all_from_audit_phase() -> None:
    assert visible_action(Role.FRAUDSTER, Role.FRAUDSTER, PROPOSE, Phase.FRAUDSTER_TURN) == PROPOSE
    assert visible_action(Role.INVESTIGATOR, Role.INVESTIGATOR, VERDICT, Phase.INVESTIGATOR_TURN) == VERDICT
    assert visible_action(Role.AUDITOR, Role.FRAUDSTER, PROPOSE, Phase.INVESTIGATOR_TURN) is None
    assert visible_action(Role.AUDITOR, Role.FRAUDSTER, PROPOSE, Phase.AUDIT_PHASE) == PROPOSE
    assert visible_action(Role.AUDITOR, Role.INVESTIGATOR, VERDICT, Phase.DONE) == VERDICT
    assert visible_action(None, Role.AUDITOR, FLAG, Phase.AUDIT_PHASE) == FLAG
    assert visible_action(Role.INVESTIGATOR, Role.AUDITOR, FLAG, Phase.AUDIT_PHASE) is None


def test_a_shown_action_is_a_copy() -> None:
    shown = visible_action(Role.FRAUDSTER, Role.FRAUDSTER, PROPOSE, Phase.FRAUDSTER_TURN)
    shown["category"] = "x"
    assert PROPOSE["category"] == "electronics"
