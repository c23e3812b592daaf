"""The RLlib adapter (fraudarena.cluster.rllib_env): RLlib's own env checker, turns, rewards, shaped credit, the
action-masking RLModule, the rllib: bot kind, and (slow) a real PPO run on a local Ray."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.pre_checks.env import check_multiagent_environments

from fraudarena.agents import make_bot, play_match
from fraudarena.agents.rl.evaluate import play_matchup
from fraudarena.cluster.rllib_env import (
    MASKED_LOGIT,
    FraudArenaMultiAgentEnv,
    RLlibPolicyBot,
    ShapedCredit,
    load_module,
    module_spec,
    obs_size,
    policy_mapping_fn,
    ppo_config,
)


def _play(env: FraudArenaMultiAgentEnv, seed: int, rng: np.random.Generator, legal: bool = True) -> dict:
    """Play one match with random actions; checks every observation and returns the final step's parts."""
    obs, infos = env.reset(seed=seed)
    decisions = dict.fromkeys(env.learners, 0)
    while True:
        assert len(obs) == 1  # one agent moves at a time
        (agent, o), = obs.items()
        assert agent in env.learners and env.observation_spaces[agent].contains(o)
        assert infos[agent]["raw_obs"]["role"] == agent
        legal_ids = np.flatnonzero(o["action_mask"])
        action = rng.choice(legal_ids) if legal else env.action_spaces[agent].n - 1
        obs, rewards, terms, truncs, infos = env.step({agent: action})
        decisions[agent] += 1
        if terms["__all__"]:
            return {"obs": obs, "rewards": rewards, "terms": terms, "truncs": truncs, "infos": infos,
                    "decisions": decisions}
        assert rewards == {agent: 0.0} and not truncs["__all__"]


def test_rllib_checker_passes() -> None:
    check_multiagent_environments(FraudArenaMultiAgentEnv({"learners": ["investigator", "fraudster"]}))
    check_multiagent_environments(FraudArenaMultiAgentEnv({"opponents": {"fraudster": "reactive"}}))


@pytest.mark.parametrize("learners", [["investigator"], ["fraudster"], ["investigator", "fraudster"], ["auditor"]])
def test_matches_end_with_the_record_rewards_for_every_learner(learners: list[str]) -> None:
    env = FraudArenaMultiAgentEnv({"task_id": "task_2", "learners": learners})
    end = _play(env, 11, np.random.default_rng(0))
    record = env.record()
    assert set(end["obs"]) == set(learners) and end["terms"] == {**dict.fromkeys(learners, True), "__all__": True}
    for role in learners:
        assert end["rewards"][role] == pytest.approx(record["rewards"][role])
        assert end["infos"][role]["grader"] == pytest.approx(record["grader"]["score"])
        assert end["infos"][role]["match_actions"] == len(record["actions"])
        assert end["decisions"][role] > 0


def test_bot_seats_are_seeded_like_play_match() -> None:
    """The ReactiveFraudster seat proposes what it proposes in play_match(task, seed) up to the Investigator's
    first turn (bots are seeded with rng.bot_seed(task, seed, role), as everywhere)."""
    env = FraudArenaMultiAgentEnv({"task_id": "task_3", "opponents": {"fraudster": "reactive"}})
    env.reset(seed=21)
    assert env.match is not None
    before = [e["action"] for e in env.record()["actions"]]
    reference = play_match("task_3", 21, fraudster="reactive", investigator="scripted")
    assert before and before == [e["action"] for e in reference["actions"][: len(before)]]
    assert (env.render() or "").startswith("task_3 seed=21 ")  # envs.encoding.MatchHost, shared by every env


def test_illegal_actions_play_end_turn_and_are_counted() -> None:
    env = FraudArenaMultiAgentEnv({"task_id": "task_1"})
    end = _play(env, 3, np.random.default_rng(1), legal=False)
    assert end["infos"]["investigator"]["illegal_actions"] > 0
    with pytest.raises(ValueError, match="turn"):
        env.reset(seed=3)
        env.step({"fraudster": 0})


def test_shaped_credit_sums_to_the_match_reward() -> None:
    env = FraudArenaMultiAgentEnv({"task_id": "task_3", "learners": ["investigator", "fraudster"], "credit": "shaped"})
    rng = np.random.default_rng(2)
    for seed in (1, 2):
        end = _play(env, seed, rng)
        for role in ("investigator", "fraudster"):
            credit = end["infos"][role]["credit"]
            assert len(credit) == end["decisions"][role]
            assert sum(credit) == pytest.approx(end["rewards"][role], abs=1e-9)
        assert any(c != 0.0 for c in end["infos"]["investigator"]["credit"][:-1])


def test_shaped_credit_connector_rewrites_finished_episodes() -> None:
    """The learner connector writes the final info's credit list over the rewards (list or numpy episodes)."""
    def episode() -> SingleAgentEpisode:
        return SingleAgentEpisode(observations=[np.zeros(2, np.float32)] * 4, actions=[0, 0, 0],
                                  rewards=[0.0, 0.0, 1.0], infos=[{}, {}, {}, {"credit": [0.5, -0.25, 0.75]}],
                                  terminated=True, len_lookback_buffer=0)

    untouched = SingleAgentEpisode(observations=[np.zeros(2, np.float32)] * 2, actions=[0], rewards=[0.3],
                                   infos=[{}, {}], len_lookback_buffer=0)
    listed, arrays = episode(), episode().to_numpy()
    ShapedCredit()(rl_module=None, batch={}, episodes=[listed, arrays, untouched])
    assert list(map(float, listed.get_rewards())) == [0.5, -0.25, 0.75]
    assert list(map(float, arrays.get_rewards())) == [0.5, -0.25, 0.75]
    assert list(map(float, untouched.get_rewards())) == pytest.approx([0.3])


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="learners"):
        FraudArenaMultiAgentEnv({"learners": ["judge"]})
    with pytest.raises(ValueError, match="opponents"):
        FraudArenaMultiAgentEnv({"opponents": {"investigator": "scripted"}})
    with pytest.raises(ValueError, match="credit"):
        FraudArenaMultiAgentEnv({"credit": "dense"})


@pytest.mark.parametrize("role", ["investigator", "fraudster", "auditor"])
def test_module_masks_illegal_actions_and_computes_values(role: str) -> None:
    torch.manual_seed(0)
    module = module_spec(role, hidden=32).build()
    env = FraudArenaMultiAgentEnv({"learners": [role]})
    obs, _ = env.reset(seed=5)
    o = obs[role]
    assert o["observations"].shape == (obs_size(role),)
    batch = {Columns.OBS: {k: torch.from_numpy(np.stack([v, v])) for k, v in o.items()}}
    out = module.forward_exploration(batch)
    logits = out[Columns.ACTION_DIST_INPUTS]
    mask = torch.from_numpy(o["action_mask"]).bool()
    assert logits.shape == (2, mask.shape[0])
    assert torch.all(logits[:, ~mask] == MASKED_LOGIT) and torch.all(logits[:, mask] > MASKED_LOGIT)
    probs = torch.softmax(logits, -1)
    assert torch.all(probs[:, ~mask] == 0.0)
    values = module.compute_values(batch)
    assert values.shape == (2,) and torch.isfinite(values).all()


def test_rllib_bot_plays_full_matches_legally(tmp_path: Path) -> None:
    """An (untrained) module saved to disk plays as rllib:<dir> in play_match and in eval's matchup runner."""
    torch.manual_seed(0)
    module = module_spec("investigator", hidden=32).build()
    module.save_to_path(str(tmp_path / "investigator"))
    kind = f"rllib:{tmp_path}"
    bot = make_bot(kind, "investigator", 7)
    assert isinstance(bot, RLlibPolicyBot)
    record = play_match("task_3", 7, fraudster="reactive", investigator=bot)
    assert record["rewards"] and bot.fallbacks == 0
    assert any(e["role"] == "investigator" and e["action"]["action_type"] != "end_turn" for e in record["actions"])
    rows = play_matchup("reactive", kind, ["task_3_unseen"], [4000, 4001], {}, hidden=64)
    assert [r["seed"] for r in rows] == [4000, 4001] and all(math.isfinite(r["grader"]) for r in rows)
    assert load_module(tmp_path, "investigator") is load_module(tmp_path, "investigator")


def test_policy_mapping_and_config() -> None:
    config = ppo_config({"learners": ["investigator", "fraudster"], "credit": "shaped"}, hidden=32)
    assert policy_mapping_fn("fraudster") == "fraudster"
    assert set(config.policies) == {"investigator", "fraudster"}
    assert config.batch_mode == "complete_episodes" and config.gamma == 1.0


@pytest.mark.slow
def test_ppo_trains_saves_and_plays(tmp_path: Path) -> None:
    """Two PPO iterations on a real 2-CPU local Ray: steps sampled, finite losses, a checkpoint that plays."""
    import ray

    from fraudarena.cluster import local_ray

    started = local_ray.start(num_cpus=2)  # in CI's slow pass the Serve suites' Ray is already up: share it
    try:
        env_config = {"task_id": "task_3", "learners": ["investigator", "fraudster"], "credit": "shaped"}
        config = ppo_config(env_config, hidden=32, num_envs=2, train_batch_size=400).training(minibatch_size=128)
        algo = config.build_algo()
        results = [algo.train() for _ in range(2)]
        last = results[-1]
        assert last["num_env_steps_sampled_lifetime"] > 0
        assert last["env_runners"]["num_episodes_lifetime"] > 0
        for role in ("investigator", "fraudster"):
            stats = last["learners"][role]
            for key in ("policy_loss", "vf_loss", "entropy", "total_loss"):
                assert math.isfinite(float(stats[key])), (role, key, stats[key])
            assert stats["num_module_steps_trained"] > 0
        algo.save_to_path(str(tmp_path / "ckpt"))
        algo.stop()
    finally:
        if started:
            ray.shutdown()
    for role, other in (("investigator", "fraudster"), ("fraudster", "investigator")):
        bot = make_bot(f"rllib:{tmp_path / 'ckpt'}", role, 3)
        seats = {role: bot, other: "scripted" if other == "investigator" else "reactive"}
        record = play_match("task_3", 3, **seats)  # type: ignore[arg-type]
        assert record["rewards"] and bot.fallbacks == 0  # type: ignore[attr-defined]
