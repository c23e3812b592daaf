"""The Gymnasium single-role environment: Gymnasium's check_env, registration, bots, rewards, replays."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from fraudarena.agents import make_bot, play_match
from fraudarena.envs import GYM_IDS, FraudArenaGymEnv
from fraudarena.envs.encoding import AUDITOR_HEURISTIC_FLAG, AUDITOR_SUBMIT


@pytest.mark.parametrize("role", ["investigator", "fraudster", "auditor"])
def test_check_env(role: str) -> None:
    env = gymnasium.make(GYM_IDS[role], task_id="task_2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)  # with a spec, so the render modes and close are checked too
    assert [str(w.message) for w in caught] == []


def test_check_env_on_a_direct_instance_with_opponents() -> None:
    env = FraudArenaGymEnv(role="investigator", opponents={"fraudster": "reactive", "auditor": "scripted"},
                           task_id="task_3")
    check_env(env, skip_render_check=True)


def test_make_by_module_path() -> None:
    env = gymnasium.make("fraudarena.envs:FraudArena-Fraudster-v0", task_id="task_1")
    obs, info = env.reset(seed=4)
    assert obs in env.observation_space and info["raw_obs"]["task_id"] == "task_1"
    env.close()


def _play_random(env: FraudArenaGymEnv, seed: int, options: dict | None = None) -> tuple[float, dict, int]:
    obs, info = env.reset(seed=seed, options=options)
    rng = np.random.default_rng(seed)
    total, steps = 0.0, 0
    terminated = False
    while not terminated:
        assert obs in env.observation_space
        assert info["raw_obs"] == env.match.observe(env.role, text=False)
        assert env.match.current_role == env.role
        np.testing.assert_array_equal(env.action_masks(), obs["action_mask"].astype(bool))
        obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        assert not truncated
        if not terminated:
            assert reward == 0.0
        total += reward
        steps += 1
    return total, info, steps


@pytest.mark.parametrize(("role", "task_id"), [("investigator", "task_3"), ("fraudster", "task_2")])
def test_full_episode_reward_is_the_records(role: str, task_id: str) -> None:
    env = FraudArenaGymEnv(role=role, opponents=None, task_id=task_id)
    total, info, steps = _play_random(env, 9)
    record = env.record()
    assert total == pytest.approx(record["rewards"][role])
    assert info["rewards"] == record["rewards"] and info["record"]["rewards"] == record["rewards"]
    assert info["illegal_actions"] == 0 and steps > 1
    assert not env.action_masks().any()


def test_illegal_action_is_end_turn_and_counted() -> None:
    env = FraudArenaGymEnv(role="fraudster", task_id="task_1")
    obs, _ = env.reset(seed=3)
    illegal = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    _, _, _, _, info = env.step(illegal)
    assert info["illegal_actions"] == 1 and info["action"] == {"action_type": "end_turn"}
    _, _, _, _, info = env.step(10**6)
    assert info["illegal_actions"] == 2


def test_reset_seed_replays_play_match_against_house_bots() -> None:
    """end_turn (action 0) every turn is the do_nothing Investigator: the same match as play_match."""
    env = FraudArenaGymEnv(role="investigator", opponents={"fraudster": "reactive", "auditor": "heuristic"},
                           task_id="task_2")
    env.reset(seed=17)
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(0)
    expected = play_match("task_2", 17, fraudster="reactive", investigator="do_nothing", auditor="heuristic")
    assert env.record()["actions"] == expected["actions"]
    assert env.record()["rewards"] == expected["rewards"]


class CarelessInvestigator:
    """The scripted Investigator with uncited verdict rationales (so the Auditor has flags to send)."""

    def __init__(self, seed: int) -> None:
        self.inner = make_bot("scripted", "investigator", seed)

    def act(self, obs: dict[str, Any]) -> dict[str, Any]:
        action = self.inner.act(obs)
        if action.get("action_type") == "verdict":
            action = {**action, "rationale": "Decided quickly, nothing to add here."}
        return action


def test_auditor_actions_are_the_heuristic_auditors_flags() -> None:
    """Action 1 while legal, then 0, sends exactly the HeuristicAuditor's flags (same match as play_match).

    Also covers an opponent given as an object with ``.act``.
    """
    for seed in range(2):
        env = FraudArenaGymEnv(role="auditor", opponents={"investigator": CarelessInvestigator(seed)},
                               task_id="task_2")
        obs, _ = env.reset(seed=seed)
        terminated = False
        while not terminated:
            action = AUDITOR_HEURISTIC_FLAG if obs["action_mask"][AUDITOR_HEURISTIC_FLAG] else AUDITOR_SUBMIT
            obs, reward, terminated, _, _ = env.step(action)
        expected = play_match("task_2", seed, investigator=CarelessInvestigator(seed), auditor="heuristic")
        flags = [e["action"] for e in env.record()["actions"] if e["role"] == "auditor"]
        assert len(flags) > 1 and flags[-1]["action_type"] == "submit_audit_report"
        assert flags[:-1] == [e["action"] for e in expected["actions"] if e["role"] == "auditor"][:-1]
        assert reward == expected["rewards"]["auditor"] and env.record()["rewards"] == expected["rewards"]


def test_options_and_opponent_validation() -> None:
    env = FraudArenaGymEnv(role="investigator", task_id="task_3")
    _, info = env.reset(seed=8, options={"task_id": "task_1", "overrides": {"max_rounds": 2}})
    assert (info["task_id"], info["seed"]) == ("task_1", 8) and env.match.max_rounds == 2
    with pytest.raises(ValueError, match="reactive"):
        FraudArenaGymEnv(role="investigator", opponents={"auditor": "reactive"})
    with pytest.raises(ValueError, match="opponents may name"):
        FraudArenaGymEnv(role="investigator", opponents={"investigator": "scripted"})
    with pytest.raises(ValueError, match="role must be"):
        FraudArenaGymEnv(role="spectator")


def test_policy_checkpoint_opponent(tmp_path: Path) -> None:
    """A ``policy:<dir>`` opponent (an untrained checkpoint written here) plays the Fraudster seat."""
    pytest.importorskip("torch")
    from fraudarena.agents.rl.models import build_model
    from fraudarena.agents.rl.neural_policy import save_checkpoint

    save_checkpoint(tmp_path, {"fraudster": build_model("fraudster", 16).state_dict()}, {"hidden": 16}, 0)
    env = FraudArenaGymEnv(role="investigator", opponents={"fraudster": f"policy:{tmp_path}"}, task_id="task_1")
    total, _, _ = _play_random(env, 5)
    record = env.record()
    assert total == pytest.approx(record["rewards"]["investigator"])
    assert any(e["role"] == "fraudster" for e in record["actions"])
