"""The PettingZoo AEC environment: PettingZoo's own api_test and seed_test, full episodes, options."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, seed_test

from fraudarena.agents.rl.codecs import investigator_mask
from fraudarena.agents.rl.encoders import encode_fraudster, encode_investigator
from fraudarena.arena import ArenaError, Role
from fraudarena.envs import AGENTS, MAX_ADS, FraudArenaAECEnv
from fraudarena.envs.aec import env as make_env

# api_test's style advice that does not apply to this game: role names, a Dict observation (the
# Investigator's per-ad rows plus a global vector) and per-role shapes. Anything else fails the test.
EXPECTED_ADVICE = (
    "We recommend agents to be named in the format",
    "Observation space for each agent probably should be",
    "Agents have different observation space sizes",
    "Observation is not a NumPy array",
    "Observations are different shapes",
    "Action mask numpy array is all zeros",  # the terminal observation: nobody can act
)


def test_agents_are_the_roles() -> None:
    env = FraudArenaAECEnv(task_id="task_1")
    assert env.possible_agents == [r.value for r in Role] == list(AGENTS)
    assert env.action_space("investigator").n == 1 + 10 * MAX_ADS
    assert MAX_ADS == 33


@pytest.mark.parametrize("task_id", ["task_1", "task_3"])
def test_pettingzoo_api_test(task_id: str) -> None:
    env = FraudArenaAECEnv(task_id=task_id, render_mode="ansi")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api_test(env, num_cycles=1000)
    unexpected = [str(w.message) for w in caught if not str(w.message).startswith(EXPECTED_ADVICE)]
    assert unexpected == []
    assert isinstance(env.render(), str)


@pytest.mark.parametrize("task_id", ["task_2", "task_3"])
def test_pettingzoo_seed_test(task_id: str) -> None:
    seed_test(lambda: make_env(task_id=task_id), num_cycles=500)


def _play_random(env: FraudArenaAECEnv, seed: int, rng: np.random.Generator) -> dict[str, float]:
    """Random legal actions to the end; checks observations and infos on the way; returns last() rewards."""
    env.reset(seed=seed)
    final: dict[str, float] = {}
    for agent in env.agent_iter():
        obs, reward, term, trunc, info = env.last()
        assert env.observation_space(agent).contains(obs)
        raw = info["raw_obs"]
        assert raw == env.match.observe(agent, text=False)
        if term or trunc:
            final[agent] = reward
            env.step(None)
            continue
        assert reward == 0.0 and not env.match.done
        assert agent == env.match.current_role
        mask = obs["action_mask"]
        assert mask.any(), "the acting role always has a legal action"
        if agent == "investigator":  # the training encoder and codec, padded
            enc = encode_investigator(raw)
            n = len(enc.ad_ids)
            np.testing.assert_allclose(obs["observation"]["ads"][:n], enc.ads)
            assert not obs["observation"]["ads"][n:].any()
            assert obs["observation"]["ads_present"].sum() == n
            np.testing.assert_array_equal(mask[: 1 + 10 * n], investigator_mask(raw, enc))
            assert not mask[1 + 10 * n:].any()
        elif agent == "fraudster":
            np.testing.assert_allclose(obs["observation"], encode_fraudster(raw))
        env.step(int(rng.choice(np.flatnonzero(mask))))
    return final


@pytest.mark.parametrize(("task_id", "seed"), [("task_1", 11), ("task_2", 12), ("task_3", 13), ("task_3_unseen", 14)])
def test_full_episode_random_legal_actions(task_id: str, seed: int) -> None:
    env = FraudArenaAECEnv(task_id=task_id)
    final = _play_random(env, seed, np.random.default_rng(seed))
    record = env.record()
    assert record["config"]["task_id"] == task_id and record["config"]["seed"] == seed
    assert set(final) == set(AGENTS)
    assert final == pytest.approx(record["rewards"])
    assert env.agents == []


def test_reset_options_task_and_overrides() -> None:
    env = FraudArenaAECEnv(task_id="task_3")
    env.reset(seed=5, options={"task_id": "task_1", "overrides": {"max_rounds": 2, "max_proposals": 1}})
    config = env.record()["config"]
    assert (config["task_id"], config["seed"]) == ("task_1", 5)
    assert env.match.max_rounds == 2 and env.match.max_proposals == 1
    env.reset(seed=5)  # options apply to one reset only
    assert env.match.task_id == "task_3"
    with pytest.raises(ValueError, match="max_ads"):
        env.reset(seed=1, options={"overrides": {"max_proposals": 50}})
    with pytest.raises(ArenaError):
        env.reset(seed=1, options={"task_id": "task_9"})
    big = FraudArenaAECEnv(task_id="task_3", overrides={"max_proposals": 20})
    assert big.max_ads == 40 and big.action_space("investigator").n == 401


def test_illegal_actions_fall_back_or_raise() -> None:
    env = FraudArenaAECEnv(task_id="task_1")
    env.reset(seed=2)
    assert env.agent_selection == "fraudster"
    env.step(env.action_space("fraudster").n - 1 + 5)  # out of range: played as end_turn
    assert env.infos["fraudster"]["illegal_actions"] == 1
    assert env.infos["fraudster"]["action"] == {"action_type": "end_turn"}
    assert env.agent_selection == "investigator"
    strict = FraudArenaAECEnv(task_id="task_1", illegal_action="raise")
    strict.reset(seed=2)
    mask = strict.observe("fraudster")["action_mask"]
    with pytest.raises(ValueError, match="not legal"):
        strict.step(int(np.flatnonzero(mask == 0)[0]) if (mask == 0).any() else mask.size)
    assert strict.match.actions == []


def test_importing_arena_or_agents_does_not_import_gymnasium() -> None:
    code = ("import sys, fraudarena.arena, fraudarena.agents; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('gymnasium', 'pettingzoo')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
