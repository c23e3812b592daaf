"""House-bot opponents of the core rollout runner drawn from ``TrainConfig.house_bots`` (ringhunter, camouflage).

Every finished match of a short core rollout is replayed through ``RefereeEnvironment`` with the Python bots its
seats name (``bot:ringhunter`` plays ``RingHunterInvestigator``, ``bot:camouflage`` ``CamouflageFraudster``), so a
core bot that decided differently from its Python bot shows up as a replay error; the PPO batches must stay
well-formed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fraudarena.agents.rl import make_runner
from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.core_runner import CoreRolloutRunner
from fraudarena.agents.rl.models import build_model
from fraudarena.agents.rl.runner import RolloutResult, SelfPlayRunner

HOUSE = {"investigator": ("scripted", "ringhunter"), "fraudster": ("scripted", "camouflage")}


def _weights(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return {"live": {r: build_model(r, 16).state_dict() for r in ("investigator", "fraudster")}}


def _check_batches(out: RolloutResult) -> None:
    for role, batch in out.batches.items():
        assert len(batch) and batch.dones[-1], role
        assert np.isfinite(batch.rewards).all()
        if role == "investigator":
            tensors = batch.tensors(np.arange(len(batch)))
            assert tensors["action_mask"].gather(1, torch.from_numpy(batch.actions)[:, None]).all()
        else:
            assert batch.masks[np.arange(len(batch)), batch.actions].all()


def test_core_rollout_with_ringhunter_and_camouflage_opponents() -> None:
    r = CoreRolloutRunner(16, ("task_2", "task_3", "task_3_unseen"), 5, ("investigator", "fraudster"),
                          {"live": 0.25, "scripted": 0.75}, hidden=16, archive_rate=1.0, house_bots=HOUSE)
    r.set_weights(_weights())
    r.set_mode("ppo")
    results, errors, steps = [], 0, 0
    for _ in range(3):
        out = r.run(100)
        _check_batches(out)
        results += out.results
        errors += out.errors
        steps += out.env_steps
    seats = [res.seats for res in results]
    names = {(role, s[role]) for s in seats for role in ("investigator", "fraudster")}
    assert {("investigator", "bot:ringhunter"), ("investigator", "bot:scripted"), ("fraudster", "bot:camouflage"),
            ("fraudster", "bot:scripted")} <= names
    assert len(results) >= 30 and steps > 0
    assert all(0.0 <= res.grader <= 1.0 and all(np.isfinite(list(res.rewards.values()))) for res in results)
    assert errors == 0  # every match (house bots included) equals its referee replay with the Python bots


def test_unlearned_role_plays_the_house_bots_too() -> None:
    """Only the Investigator learns: the Fraudster seat is always a house bot, drawn from both kinds."""
    r = CoreRolloutRunner(12, ("task_3",), 9, ("investigator",), {"live": 1.0}, hidden=16, archive_rate=1.0,
                          house_bots={"fraudster": ("camouflage", "reactive")})
    r.set_weights(_weights(1))
    r.set_mode("ppo")
    out = r.run(150)
    _check_batches(out)
    kinds = {res.seats["fraudster"] for res in out.results}
    assert kinds == {"bot:camouflage", "bot:reactive"}
    assert out.errors == 0 and "fraudster" not in out.batches


def test_default_house_bots_are_the_scripted_ones() -> None:
    cfg = TrainConfig()
    assert cfg.house_bots == {"investigator": ("scripted",), "fraudster": ("scripted",)}
    loaded = TrainConfig.from_dict(json.loads(json.dumps({**cfg.to_dict(), "house_bots": {k: list(v) for k, v in
                                                                                          HOUSE.items()}})))
    assert loaded.house_bots == HOUSE
    runner = make_runner(TrainConfig(matches_per_worker=2, house_bots=HOUSE))
    assert isinstance(runner, CoreRolloutRunner) and runner.house_bots == HOUSE


def test_unknown_core_bot_is_refused() -> None:
    with pytest.raises(ValueError, match="no core bot"):
        CoreRolloutRunner(2, ("task_1",), 1, ("investigator",), house_bots={"fraudster": ("random",)})


def test_python_engine_draws_the_same_house_kinds() -> None:
    r = SelfPlayRunner(8, ("task_3",), 3, ("investigator",), {"live": 1.0}, hidden=16,
                       house_bots={"fraudster": ("camouflage", "reactive")})
    r.set_weights(_weights(2))
    r.set_mode("ppo")
    out = r.run(120)
    assert {res.seats["fraudster"] for res in out.results} == {"bot:camouflage", "bot:reactive"}
