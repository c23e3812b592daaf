"""Golden playthroughs: seeded house-bot matches checked in as transcripts, so a rules change is a diff.

Each transcript holds the accepted actions, every ad's label and final verdict, the rings, the grader
and the rewards. A deliberate rules or bot change regenerates them with
``FRAUDARENA_REGEN_GOLDEN=1 pytest tests/arena/test_golden_playthroughs.py`` and the diff goes into
the commit for review.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from fraudarena.agents import play_match

GOLDEN_DIR = Path(__file__).parent / "golden"
CASES = [("task_1", 1), ("task_2", 2), ("task_3", 3), ("task_3_unseen", 4)]


def transcript(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "config": record["config"],
        "actions": [[a["n"], a["role"], a["round"], a["action"]] for a in record["actions"]],
        "ads": [[a["ad_id"], a["label"], a["category"], a["is_fraudster_proposal"], a["final_verdict"],
                 a["auto_approved"], sorted(a["pulled"])] for a in record["ads"]],
        "rings": record["rings"],
        "end_reason": record["end_reason"],
        "grader": record["grader"],
        "audit": record["audit"],
        "rewards": record["rewards"],
    }


@pytest.mark.parametrize(("task_id", "seed"), CASES)
def test_golden_playthrough(task_id: str, seed: int) -> None:
    got = transcript(play_match(task_id, seed))
    path = GOLDEN_DIR / f"{task_id}_seed{seed}.json"
    text = json.dumps(got, indent=1, sort_keys=True) + "\n"
    if os.environ.get("FRAUDARENA_REGEN_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(text)
    expected = path.read_text()
    assert text == expected, f"{path.name} changed: regenerate deliberately and review the diff"
