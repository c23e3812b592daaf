"""Credit assignment: shaped rewards redistribute each role's §10.3 reward exactly over its own decisions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fraudarena.agents import play_match
from fraudarena.agents.batch import StepRecord
from fraudarena.agents.selfplay import SelfPlayRunner, shaped_rewards
from fraudarena.arena.scoring import matrix_value

torch.set_num_threads(1)


def _steps_from_record(record: dict, role: str) -> list[StepRecord]:
    steps = []
    used = 0
    for entry in record["actions"]:
        if entry["role"] != role:
            continue
        a = entry["action"]
        kind, key = "control", None
        if a["action_type"] == "verdict":
            kind, key = "verdict", a["ad_id"]
        elif a["action_type"] == "investigate":
            kind, key = "investigate", a["ad_id"]
        elif a["action_type"] == "link_accounts":
            kind, key = "link", (a["ad_id"], a["linked_ad_id"])
        elif a["action_type"] == "propose_ad":
            kind, key = "propose", used
            used += 1
        steps.append(StepRecord(glob=np.zeros(1, np.float32), mask=np.ones(1, bool), action=0, logp=0.0,
                                value=0.0, key=key, kind=kind))
    return steps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shaped_rewards_sum_to_episode_reward(seed):
    record = play_match("task_3", seed)
    for role in ("investigator", "fraudster"):
        steps = _steps_from_record(record, role)
        final = record["rewards"][role]
        shaped_rewards(role, steps, record, final, record["config"]["effective"]["max_proposals"])
        assert sum(s.reward for s in steps) == pytest.approx(final, abs=1e-9)
    inv = _steps_from_record(record, "investigator")
    shaped_rewards("investigator", inv, record, record["rewards"]["investigator"], 7)
    g = record["grader"]
    ads = {a["ad_id"]: a for a in record["ads"]}
    first_verdict = next(s for s in inv[:-1] if s.kind == "verdict")
    ad = ads[first_verdict.key]
    expected = matrix_value(ad["final_verdict"], ad["label"], ad["severity"]) / (g["best"] - g["baseline"])
    assert first_verdict.reward == pytest.approx(expected)


def test_runner_trajectories_hold_only_own_decisions():
    runner = SelfPlayRunner(4, ("task_1",), 0, ("investigator", "fraudster"), hidden=16)
    runner.set_mode("bc")  # teachers play both learned seats and every decision is recorded
    res = runner.run(60)
    assert res.results
    for role, batch in res.batches.items():
        assert batch.role == role
        n_matches = int(batch.dones.sum())
        assert n_matches == len(res.results)  # one closed trajectory per finished match
        assert batch.dones[-1]
