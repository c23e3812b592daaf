"""Play the Investigator seat over a TestClient role socket by ending every turn (served house-bot tests)."""

from __future__ import annotations

from typing import Any


def play_investigator_ending_turns(ws: Any, house_bots: dict[str, str], task_id: str = "task_1",
                                   seed: int = 5) -> dict[str, Any]:
    """Reset a match with ``house_bots`` in the other seats, end each Investigator turn; return the final obs.

    The Fraudster moves first, so the first observation is already the Investigator's turn (asserted).
    Pushed events are skipped until each request's own reply.
    """
    ws.send_json({"type": "reset", "id": 1, "data": {"task_id": task_id, "seed": seed, "house_bots": house_bots}})
    reply = ws.receive_json()
    assert reply["type"] == "observation", reply
    obs = reply["data"]
    assert obs["phase"] == "investigator_turn"  # the house Fraudster already moved
    n = 2
    while not obs["done"]:
        if obs["legal_actions"]["action_types"]:
            ws.send_json({"type": "step", "id": n, "data": {"action_type": "end_turn"}})
        else:
            ws.send_json({"type": "obs", "id": n})
        n += 1
        while True:
            frame = ws.receive_json()
            if frame.get("id") == n - 1:
                break
        assert frame["type"] == "observation", frame
        obs = frame["data"]
    return obs
