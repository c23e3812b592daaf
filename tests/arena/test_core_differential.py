"""The batched core against the referee: the same actions give the same state after every action.

2,000 matches over every task and a range of override sets, played with random legal actions (proposals,
modifications with and without copy changes, commits, pulls, verdicts, links), are compared field by field
after each accepted action and at match end (grader and link credit). ``core_play.py`` holds the driver.
Learned-policy and scripted-bot sequences are compared through the feature tests in ``tests/agents``.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from core_play import compare, play_both
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudarena.arena.core import CoreBatch
from fraudarena.arena.core import kernels as K
from fraudarena.arena.errors import ArenaError
from fraudarena.arena.referee import RefereeEnvironment
from fraudarena.arena.spec import TASK_IDS

OVERRIDE_SETS: tuple[dict, ...] = (
    {},
    {"max_rounds": 1},
    {"max_rounds": 2, "max_proposals": 0},
    {"max_rounds": 8, "max_proposals": 20},
    {"max_investigator_actions_per_turn": 30},
    {"max_investigator_actions_per_turn": 1, "max_fraudster_actions_per_turn": 10},
    {"max_fraudster_actions_per_turn": 1, "max_proposals": 2},
    {"allowed_categories": ["ecommerce", "saas"]},
)


@pytest.fixture(scope="module")
def batch() -> CoreBatch:
    return CoreBatch(4, n_slots=25 + 20, max_rounds=8)


@pytest.mark.parametrize("part", range(8))
def test_random_play_matches_the_referee(batch: CoreBatch, part: int) -> None:
    """250 matches per part (2,000 in all), every task × override set, three end-turn rates."""
    rng = random.Random(f"core-diff:{part}")
    for i in range(250):
        task = TASK_IDS[i % len(TASK_IDS)]
        overrides = dict(OVERRIDE_SETS[(i // len(TASK_IDS) + part) % len(OVERRIDE_SETS)])
        seed = part * 100_000 + i
        play_both(task, seed, overrides, rng, batch, m=i % batch.n_matches, end_bias=(0.03, 0.1, 0.35)[i % 3])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task=st.sampled_from(TASK_IDS), seed=st.integers(0, 2**63 - 1), policy_seed=st.integers(0, 2**32),
       end_bias=st.floats(0.0, 0.6), override=st.sampled_from(OVERRIDE_SETS))
def test_hypothesis_sequences_match_the_referee(batch: CoreBatch, task: str, seed: int, policy_seed: int,
                                                end_bias: float, override: dict) -> None:
    play_both(task, seed, dict(override), random.Random(policy_seed), batch, m=1, end_bias=end_bias)


def test_illegal_codes_change_nothing(batch: CoreBatch) -> None:
    env = RefereeEnvironment("task_3", seed=5)
    batch.reset(0, "task_3", 5)
    actions = np.full(batch.n_matches, -1, np.int64)
    conf = np.zeros(batch.n_matches)
    actions[0] = 3  # a proposal code: left to the Python side untouched
    assert batch.step(actions, conf)[0] == K.NEEDS_PYTHON
    compare(env, batch, 0, "after a proposal code")
    actions[0] = 0
    batch.step(actions, conf)
    env.apply("fraudster", {"action_type": "end_turn"})
    for code, expected in ((1 + 10 * 40, K.ILLEGAL_SLOT), (1 + 9, K.ILLEGAL_LINK)):
        actions[0] = code
        assert batch.step(actions, conf)[0] == expected
        compare(env, batch, 0, f"after illegal code {code}")
    batch.reset(0, "task_1", 5, {"max_rounds": 1})
    for _ in range(2):
        actions[0] = 0
        batch.step(actions, conf)
    assert batch.step(actions, conf)[0] == K.ILLEGAL_PHASE  # the audit phase: no learned role acts


def test_proposal_errors_are_arena_errors(batch: CoreBatch) -> None:
    batch.reset(0, "task_1", 3)
    with pytest.raises(ArenaError):
        batch.propose(0, "network_crypto", (), "copy")  # not in task_1's pool
    with pytest.raises(ArenaError):
        batch.propose(0, "ecommerce", ("landing_page", "payment_method", "advertiser_history"), "x")
    with pytest.raises(ArenaError):
        batch.modify(0, 0, "new copy")


def test_batch_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="batch too small"):
        CoreBatch(1, n_slots=10).reset(0, "task_3", 1)
