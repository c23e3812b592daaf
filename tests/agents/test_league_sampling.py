"""League options: PFSP / Elo opponent tables, snapshots frozen on a win-rate rule, the pool the runners see."""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import pytest
import torch

from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.core_runner import CoreRolloutRunner
from fraudarena.agents.rl.league import BOT, League, draw_opponent
from fraudarena.agents.rl.models import build_model
from fraudarena.agents.rl.ratings import Elo
from fraudarena.agents.rl.trainer import LocalCollector, Trainer, apply_league

torch.set_num_threads(1)
ROLES = ("investigator", "fraudster")


def _league_with_results() -> League:
    league = League(ROLES, max_snapshots=4, window=50)
    league.add("fraudster", {"w": torch.zeros(1)}, 5)
    for _ in range(20):  # the live Investigator beats the house bot, loses to snapshot 5, splits with live
        league.record({"investigator": "live", "fraudster": "bot:scripted"}, 0.9)
        league.record({"investigator": "live", "fraudster": "bot:camouflage"}, 0.9)  # every house bot is one
        league.record({"investigator": "live", "fraudster": "snap:fraudster:5"}, 0.2)
        league.record({"investigator": "live", "fraudster": "live"}, 0.5)
    return league


def test_pfsp_table_favours_the_opponents_the_live_policy_loses_to() -> None:
    league = _league_with_results()
    assert league.win_rate("investigator", BOT) == pytest.approx(0.9)
    assert league.win_rate("fraudster", "live") == pytest.approx(0.5)  # both seats live: the fraudster's side
    table = dict(league.opponent_table("fraudster", "pfsp", power=2.0, floor=0.05))
    assert set(table) == {"live", "scripted", "snap:fraudster:5"}
    assert math.isclose(sum(table.values()), 1.0)
    assert table["snap:fraudster:5"] > table["live"] > table["scripted"]
    # (1 - 0.2)^2 : (1 - 0.5)^2 : max(0.05, 0.1^2)
    assert table["snap:fraudster:5"] / table["live"] == pytest.approx(0.64 / 0.25)
    assert table["scripted"] / table["live"] == pytest.approx(0.05 / 0.25)
    rng = random.Random(1)
    counts = Counter(draw_opponent(rng, list(table.items())) for _ in range(4000))
    assert counts["snap:fraudster:5"] / 4000 == pytest.approx(table["snap:fraudster:5"], abs=0.03)
    with pytest.raises(ValueError):
        league.opponent_table("fraudster", "uniform")


def test_a_house_share_keeps_the_house_bot_in_a_fixed_part_of_the_seats() -> None:
    league = _league_with_results()
    table = dict(league.opponent_table("fraudster", "pfsp", power=2.0, floor=0.05, house_share=0.3))
    assert table["scripted"] == pytest.approx(0.3) and math.isclose(sum(table.values()), 1.0)
    assert table["snap:fraudster:5"] / table["live"] == pytest.approx(0.64 / 0.25)  # PFSP shares out the rest
    assert table["snap:fraudster:5"] + table["live"] == pytest.approx(0.7)
    with pytest.raises(ValueError):
        league.opponent_table("fraudster", "pfsp", house_share=1.5)


def test_elo_table_uses_expected_scores() -> None:
    league = _league_with_results()
    elo = Elo()
    for _ in range(30):
        elo.update("snap:fraudster:5", "live", 0.1)  # the snapshot beats the live Investigator
        elo.update("bot:scripted", "live", 0.95)
    table = dict(league.opponent_table("fraudster", "elo", elo, power=1.0, floor=0.0))
    assert table["snap:fraudster:5"] > table["live"] > table["scripted"]


def test_win_rule_freezes_when_elo_says_the_live_policy_beats_its_best_snapshot() -> None:
    league = League(ROLES)
    elo = Elo()
    league.last_frozen["investigator"] = 3
    assert not league.should_freeze("investigator", 4, elo, min_gap=2, max_gap=10, threshold=0.6)
    assert league.should_freeze("investigator", 5, elo, 2, 10, 0.6)  # no snapshot yet: the first one
    pid = league.add("investigator", {"w": torch.zeros(1)}, 5)
    elo.clone("investigator", "live", pid)
    assert not league.should_freeze("investigator", 8, elo, 2, 10, 0.6)  # live = snapshot rating
    for _ in range(40):
        elo.update("live", "live", 1.0)  # the live Investigator keeps winning; its snapshot does not play
    assert elo.expected(elo.rating("investigator", "live"), elo.rating("investigator", pid)) > 0.6
    assert league.should_freeze("investigator", 8, elo, 2, 10, 0.6)
    assert not league.should_freeze("fraudster", 1, elo, 2, 10, 0.6)
    league.last_frozen["fraudster"] = 5
    league.add("fraudster", {"w": torch.zeros(1)}, 5)
    assert league.should_freeze("fraudster", 15, elo, 2, 10, 0.99)  # max_gap reached


def _weights(seed: int) -> dict:
    torch.manual_seed(seed)
    return {r: build_model(r, 16).state_dict() for r in ROLES}


def test_core_runner_draws_opponents_from_the_table_and_the_pool_only() -> None:
    r = CoreRolloutRunner(12, ("task_1",), 5, ROLES, {"live": 0.0, "snapshot": 1.0}, hidden=16)
    r.set_weights({"live": _weights(0), "snap:fraudster:1": {"fraudster": _weights(1)["fraudster"]},
                   "snap:fraudster:2": {"fraudster": _weights(2)["fraudster"]}})
    apply_league(r, {"pool": {"fraudster": ["snap:fraudster:2"], "investigator": []},
                     "table": {"investigator": [("scripted", 1.0)]}})
    r.set_mode("ppo")
    results = r.run(120).results
    assert results
    for m in results:
        if m.seats["fraudster"] == "live":  # focus Fraudster: the investigator seat from the table
            assert m.seats["investigator"] in ("live", "bot:scripted")
        if m.seats["investigator"] == "live" and m.seats["fraudster"] != "live":
            assert m.seats["fraudster"] == "snap:fraudster:2"  # snapshot 1 was dropped from the pool
    assert any(m.seats["investigator"] == "bot:scripted" for m in results)


TINY = {"matches_per_worker": 6, "rollout_steps": 40, "bc_iterations": 1, "iterations": 4, "hidden": 8,
        "minibatch_size": 64, "update_epochs": 1, "bc_epochs": 1, "checkpoint_every": 0, "snapshot_every": 1,
        "task_ids": ["task_1"], "archive_rate": 0.0, "num_workers": 0, "opponent_sampling": "pfsp",
        "snapshot_rule": "win", "snapshot_max_gap": 2, "opponent_weights": {"live": 0.5, "snapshot": 0.5}}


@pytest.mark.parametrize("sampling", ["pfsp", "elo"])
def test_training_with_pfsp_and_the_win_rule(tmp_path, sampling: str) -> None:
    cfg = TrainConfig.from_dict({**TINY, "opponent_sampling": sampling, "runs_dir": str(tmp_path), "run_name": "r"})
    collector = LocalCollector(cfg)
    trainer = Trainer(cfg, collector, progress=False)
    trainer.train()
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(math.isfinite(v) for r in rows for v in r.values() if isinstance(v, float))
    for role in ROLES:  # at most snapshot_max_gap PPO iterations without a snapshot
        assert trainer.league.ids(role) and rows[-1][f"league/{role}_snapshots"] >= 1
    info = trainer._league_info()
    assert set(info["table"]) == set(ROLES)
    for role, table in info["table"].items():
        assert {c for c, _ in table} == {"live", "scripted", *trainer.league.ids(role)}
    seats = Counter(m for r in rows for m in [r.get("league/fraudster_frozen")] if m)
    assert sum(seats.values()) == len(trainer.league.ids("fraudster"))
    runner = collector.runners[0]
    sent = [p for p in trainer.league.ids("fraudster") if int(p.rsplit(":", 1)[1]) < trainer.iteration]
    assert runner.snapshots["fraudster"] == sent  # the pool as of the last iteration's start
