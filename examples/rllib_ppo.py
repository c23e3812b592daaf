"""Train FraudArena roles with RLlib PPO (new API stack), with a policy mapping from roles to RLModules.

    pip install -e ".[rllib]"
    python examples/rllib_ppo.py --iterations 5                  # self-play: Investigator and Fraudster learn
    python examples/rllib_ppo.py --iterations 5 --freeze fraudster   # the Fraudster's module acts but is not trained

The saved checkpoint plays anywhere a bot kind goes once ``fraudarena.cluster.rllib_env`` is imported (that
registers the ``rllib:`` kind)::

    from fraudarena.cluster import rllib_env
    from fraudarena.agents import play_match
    play_match("task_3", 1, investigator="rllib:runs/rllib_example")["grader"]

Agent ids are role names ("fraudster", "investigator"; the Auditor stays the HeuristicAuditor unless it is
listed in ``learners``). The mapping below sends each agent to the module named after its role; the
Investigator's and Fraudster's observation and action spaces differ, so one module per role is required.
Modules in ``policies_to_train`` learn; the others only act (here: ``--freeze`` keeps one role's module at
its initial weights, e.g. to pit a learning Investigator against a fixed opponent module). See
docs/training.md (*RLlib*).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ray
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec

from fraudarena.cluster.rllib_env import module_spec, ppo_config


def role_to_module(agent_id: str, episode: object = None, **kwargs: object) -> str:
    """The policy mapping: every agent (a role) plays the module of the same name."""
    return {"investigator": "investigator", "fraudster": "fraudster", "auditor": "auditor"}[agent_id]


def main() -> None:
    """Build, train for ``--iterations`` and save to ``--out``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--task", default="task_3")
    ap.add_argument("--freeze", choices=["investigator", "fraudster"], default=None)
    ap.add_argument("--out", type=Path, default=Path("runs/rllib_example"))
    args = ap.parse_args()

    learners = ["investigator", "fraudster"]
    env_config = {"task_id": args.task, "learners": learners, "credit": "shaped"}
    config = ppo_config(env_config, num_envs=4, train_batch_size=2000)
    config = config.multi_agent(
        policies=set(learners),
        policy_mapping_fn=role_to_module,
        policies_to_train=[r for r in learners if r != args.freeze],
    ).rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs={r: module_spec(r, hidden=64) for r in learners}))

    ray.init(num_cpus=2, include_dashboard=False)
    algo = config.build_algo()
    for i in range(args.iterations):
        result = algo.train()
        returns = result["env_runners"].get("module_episode_returns_mean", {})
        print(f"iteration {i + 1}: env steps {result['num_env_steps_sampled_lifetime']:.0f}, "
              f"returns {({k: round(float(v), 3) for k, v in returns.items()})}")
    print("saved", algo.save_to_path(str(args.out.resolve())))
    algo.stop()
    ray.shutdown()


if __name__ == "__main__":
    main()
