"""The core bots (``agents/rl/core_bots.py``) against the Python house bots, decision by decision.

Several matches are played at once: on the referee the Python bots (ScriptedInvestigator or RingHunterInvestigator,
ReactiveFraudster or CamouflageFraudster, each match its own pair) act on ``env.observe(role, text=False)``; on the
core ``CoreBots.act`` decides and applies the same seats for all matches of the batch in one call. Every decision
must be the same flat action code (the codecs' encoding of the Python bot's action), with the same verdict
confidence, posterior and proposal (category, camouflage order, texts); after it the whole match state must agree
(``core_play.compare``), and at the end the grader.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from core_play import compare, compare_grader

from fraudarena.agents.bots.camouflage import CamouflageFraudster
from fraudarena.agents.bots.reactive import ReactiveFraudster
from fraudarena.agents.bots.ringhunter import RingHunterInvestigator
from fraudarena.agents.bots.scripted import ScriptedInvestigator
from fraudarena.agents.rl import codecs
from fraudarena.agents.rl.core_bots import CoreBots
from fraudarena.agents.rl.encoders import encode_investigator
from fraudarena.agents.rl.features import CoreFeatures
from fraudarena.arena.core import CoreBatch
from fraudarena.arena.core import kernels as K
from fraudarena.arena.referee import RefereeEnvironment
from fraudarena.arena.rng import bot_seed
from fraudarena.arena.spec import TASK_IDS, TASKS

PLAYING = ("fraudster_turn", "investigator_turn")
OVERRIDES: tuple[dict[str, Any], ...] = (
    {},
    {"max_rounds": 1},
    {"max_rounds": 8, "max_proposals": 20},
    {"max_proposals": 0},
    {"max_fraudster_actions_per_turn": 1, "max_investigator_actions_per_turn": 30},
    {"allowed_categories": ["ecommerce", "fake_giveaway"]},
    {"max_rounds": 2, "max_investigator_actions_per_turn": 2},
)


PY_BOTS: dict[str, Any] = {"scripted": ScriptedInvestigator, "ringhunter": RingHunterInvestigator,
                           "reactive": ReactiveFraudster, "camouflage": CamouflageFraudster}


def _want_code(role: str, action: dict[str, Any], obs: dict[str, Any]) -> int | None:
    if role == "investigator":
        return codecs.investigator_encode(action, encode_investigator(obs, {}))
    return codecs.fraudster_encode(action)


class Match:
    """One match on the referee with its two Python bots, in batch slot ``m``; ``kinds`` = (investigator kind,
    fraudster kind); the Fraudster seat is a core bot only if ``core_fraudster``."""

    def __init__(self, task_id: str, seed: int, overrides: dict[str, Any], batch: CoreBatch, bots: CoreBots,
                 m: int, kinds: tuple[str, str] = ("scripted", "reactive"), core_fraudster: bool = True) -> None:
        self.env = RefereeEnvironment(task_id=task_id, seed=seed, **overrides)
        self.m = m
        seeds = {r: bot_seed(task_id, seed, r) for r in ("investigator", "fraudster")}
        self.py = {"investigator": PY_BOTS[kinds[0]](seeds["investigator"]),
                   "fraudster": PY_BOTS[kinds[1]](seeds["fraudster"])}
        batch.reset(m, task_id, seed, overrides)
        bots.on_reset(m, kinds[0], kinds[1] if core_fraudster else None, seeds)
        compare(self.env, batch, m, "reset")
        self.n = 0

    def play(self) -> tuple[str, dict[str, Any], int | None, np.ndarray | None]:
        """The Python bot's next action, applied to the referee: (role, action, expected code, the Investigator's
        posteriors in queue order)."""
        env = self.env
        role = env.current_role
        obs = env.observe(role, text=False)
        bot = self.py[role]
        action = bot.act(obs)
        want = _want_code(role, action, obs)
        posts = None
        if isinstance(bot, ScriptedInvestigator):
            beliefs = bot.beliefs(obs)
            posts = np.array([beliefs[ad["ad_id"]] for ad in obs["queue"]]).reshape(-1, 3)
        env.apply(role, action)
        return role, action, want, posts


def _apply_outside(batch: CoreBatch, m: int, action: dict[str, Any], code: int) -> None:
    """Apply a Fraudster action of a seat that is not a core bot to the core (as a runner would)."""
    if action["action_type"] == "propose_ad":
        batch.propose(m, action["category"], tuple(action["camouflage"]), action["ad_copy"],
                      action["targeting_summary"], action["landing_page_blurb"])
        return
    actions = np.full(batch.n_matches, -1, np.int64)
    actions[m] = code
    assert batch.step(actions, np.zeros(batch.n_matches))[m] == K.OK


def _play_batch(configs: list[tuple[str, int, dict[str, Any]]], n_slots: int = 45, max_rounds: int = 8,
                core_fraudster: bool = True, kinds: list[tuple[str, str]] | None = None) -> dict[str, int]:
    """Play ``configs`` (task, seed, overrides) in one batch, match ``i`` with the bots ``kinds[i]``; returns counts
    of the core bots' decisions by kind."""
    batch = CoreBatch(len(configs), n_slots=n_slots, max_rounds=max_rounds)
    bots = CoreBots(batch, CoreFeatures(batch))
    kinds = kinds or [("scripted", "reactive" if core_fraudster else "camouflage")] * len(configs)
    matches = [Match(task, seed, ov, batch, bots, m, kinds[m], core_fraudster)
               for m, (task, seed, ov) in enumerate(configs)]
    stats = {"decisions": 0, "verdicts": 0, "pulls": 0, "links": 0, "proposals": 0, "commits": 0, "ends": 0,
             "hunts": 0}
    while True:
        live = [mt for mt in matches if mt.env.phase in PLAYING]
        if not live:
            break
        played = [mt.play() for mt in live]
        got = bots.act(np.array([mt.m for mt in live], np.int64))
        for mt, (role, action, want, posts), code in zip(live, played, got, strict=True):
            m = mt.m
            mt.n += 1
            where = (mt.env.task_id, mt.env.seed, mt.env.overrides, mt.n, role, action)
            assert want is not None, where
            if role == "fraudster" and not core_fraudster:  # not a core bot's seat: act left it alone
                assert int(code) == -1, where
                _apply_outside(batch, m, action, want)
                compare(mt.env, batch, m, str(where))
                continue
            assert int(code) == want, (where, int(code))
            if posts is not None:  # the bot's float64 posterior, bit for bit
                np.testing.assert_array_equal(bots.post[m, :len(posts)], posts, err_msg=str(where))
            kind = action["action_type"]
            stats["decisions"] += 1
            if kind == "verdict":
                assert bots.last_conf[m] == action["confidence"], where
                stats["verdicts"] += 1
            elif kind == "investigate":
                stats["pulls"] += 1
                stats["hunts"] += action.get("rationale", "").startswith("ring hunt")
            elif kind == "link_accounts":
                stats["links"] += 1
            elif kind == "commit_final":
                stats["commits"] += 1
            elif kind == "end_turn":
                stats["ends"] += 1
            elif kind == "propose_ad":
                assert bots.last_proposal[m] == (action["category"], tuple(action["camouflage"]), action["ad_copy"],
                                                 action["targeting_summary"], action["landing_page_blurb"]), where
                stats["proposals"] += 1
            compare(mt.env, batch, m, str(where))
    for mt in matches:
        compare_grader(mt.env, batch, mt.m)
        assert batch.gr[mt.m, K.GR_SCORE] == mt.env.grader["score"]  # type: ignore[index]
    return stats


@pytest.mark.parametrize("part", range(4))
def test_core_bots_decide_as_the_python_bots(part: int) -> None:
    """80 matches per part (all tasks, seven override sets), eight at a time in one batch."""
    configs = _configs(80, part, 7000)
    totals: dict[str, int] = {}
    for k in range(0, len(configs), 8):
        for key, v in _play_batch(configs[k:k + 8]).items():
            totals[key] = totals.get(key, 0) + v
    assert totals["decisions"] > 2000
    assert min(totals["verdicts"], totals["pulls"], totals["proposals"], totals["commits"]) > 0
    if part == 0:
        assert totals["links"] > 0, totals


def test_core_bots_leave_other_seats_alone() -> None:
    """Only the Investigator seat is a core bot; the Fraudster (a CamouflageFraudster) is applied from outside."""
    configs = [(TASK_IDS[i % len(TASK_IDS)], 9100 + i, dict(OVERRIDES[i % 3])) for i in range(16)]
    totals = _play_batch(configs[:8], core_fraudster=False)
    for key, v in _play_batch(configs[8:], core_fraudster=False).items():
        totals[key] += v
    assert totals["decisions"] > 300 and totals["verdicts"] > 0


def _configs(n: int, part: int, base_seed: int) -> list[tuple[str, int, dict[str, Any]]]:
    configs = []
    for i in range(n):
        task = TASK_IDS[(i + part) % len(TASK_IDS)]
        ov = dict(OVERRIDES[(i // len(TASK_IDS) + part) % len(OVERRIDES)])
        if "allowed_categories" in ov:
            ov["allowed_categories"] = [c for c in ov["allowed_categories"] if c in TASKS[task].category_pool]
        configs.append((task, base_seed + 100 * part + i, ov))
    return configs


#: the bot pairs of the RingHunter/Camouflage differential test, mixed within every batch
NEW_PAIRS = (("ringhunter", "reactive"), ("ringhunter", "camouflage"), ("scripted", "camouflage"))


@pytest.mark.parametrize("part", range(3))
def test_ringhunter_and_camouflage_decide_as_the_python_bots(part: int) -> None:
    """120 matches per part (all tasks, seven override sets; task_3 and task_3_unseen twice as often, they have
    rings), the RingHunterInvestigator and the CamouflageFraudster each against both house bots of the other role,
    eight matches per batch with mixed pairs."""
    configs = _configs(80, part, 8000)
    ring_tasks = [t for t in TASK_IDS if TASKS[t].n_rings > 0]
    for i in range(40):
        task = ring_tasks[i % len(ring_tasks)]
        configs.append((task, 8500 + 100 * part + i, dict(OVERRIDES[(i + part) % 3])))
    kinds = [NEW_PAIRS[(i + part) % len(NEW_PAIRS)] for i in range(len(configs))]
    totals: dict[str, int] = {}
    for k in range(0, len(configs), 8):
        for key, v in _play_batch(configs[k:k + 8], kinds=kinds[k:k + 8]).items():
            totals[key] = totals.get(key, 0) + v
    assert totals["decisions"] > 3000, totals
    assert min(totals["verdicts"], totals["pulls"], totals["proposals"], totals["links"], totals["ends"],
               totals["hunts"]) > 0, totals
