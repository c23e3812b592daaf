"""League snapshot pool and Elo ratings."""

from __future__ import annotations

import torch

from fraudarena.agents.rl.league import League
from fraudarena.agents.rl.ratings import Elo, investigator_score


def test_league_keeps_newest_snapshots_and_round_trips(tmp_path):
    league = League(("investigator", "fraudster"), max_snapshots=2)
    for it in (5, 10, 15):
        league.add("fraudster", {"w": torch.full((2,), float(it))}, it)
    assert league.ids("fraudster") == ["snap:fraudster:10", "snap:fraudster:15"]
    weights = league.worker_weights({"fraudster": {"w": torch.zeros(2)}})
    assert set(weights) == {"live", "snap:fraudster:10", "snap:fraudster:15"}
    league.save(tmp_path)
    other = League(("investigator", "fraudster"))
    other.load(tmp_path, league.ids("fraudster"))
    assert torch.equal(other.snapshots["fraudster"]["snap:fraudster:15"]["w"], torch.full((2,), 15.0))


def test_elo_moves_toward_winner_and_is_zero_sum():
    elo = Elo(k=32)
    for _ in range(20):
        elo.update("reactive", "live", investigator_score({"fraudster": -0.05, "investigator": 0.6}))
    assert elo.rating("investigator", "live") > 1000 > elo.rating("fraudster", "reactive")
    assert abs(elo.rating("investigator", "live") + elo.rating("fraudster", "reactive") - 2000) < 1e-6
    restored = Elo.from_dict(elo.to_dict())
    assert restored.table() == elo.table()


def test_investigator_score_range():
    assert investigator_score({"fraudster": 0.2, "investigator": 0.0}) == 0.0
    assert investigator_score({"fraudster": -0.1, "investigator": 1.0}) == 1.0
    assert 0.0 < investigator_score({"fraudster": 0.0, "investigator": 0.5}) < 1.0
