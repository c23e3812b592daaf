"""RLlib PPO against our trainer on the same game: the Investigator learning against the ReactiveFraudster.

Trains RLlib PPO (new API stack; ``fraudarena.cluster.rllib_env``: one ``MaskedActorCritic`` for the
Investigator, the ReactiveFraudster and HeuristicAuditor as bots, training task ``task_3``) for ``--minutes``
of wall time on a 2-CPU local Ray, logging one line per iteration to ``<out>/metrics.jsonl`` (wall-clock
seconds, env steps, the Investigator's match reward and grader score). Then it saves the algorithm checkpoint
and evaluates the learned Investigator on the held-out ``task_3_unseen`` seeds 4000-4199 with the matchup code
of ``fraudarena eval`` (``agents/rl/evaluate.py``: ``play_matchup``; greedy policies, HeuristicAuditor),
as the bot kind ``rllib:<checkpoint>``, paired against the ScriptedInvestigator on the same seeds.
``--plot`` draws this run's curve and our trainer's run (``--baseline``, its ``metrics.jsonl``) against
wall-clock minutes. See docs/training.md (*RLlib*).

    python benchmarks/rllib_side_by_side.py --minutes 30 --out runs/rllib30 [--json]
    python benchmarks/rllib_side_by_side.py --out runs/rllib30 --eval-only
    python benchmarks/rllib_side_by_side.py --out runs/rllib30 --plot docs/img/rllib_vs_ours_30min.png \
        --baseline runs/core30
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np


def _callbacks() -> Any:
    from ray.rllib.callbacks.callbacks import RLlibCallback

    class MatchMetrics(RLlibCallback):
        """Logs every finished match's grader score and its accepted actions of all roles."""

        def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
            infos = episode.get_infos(-1)
            info = next(iter(infos.values()), {}) if isinstance(infos, dict) else {}
            if metrics_logger is not None and "grader" in info:
                metrics_logger.log_value("match_grader", float(info["grader"]), reduce="mean", window=200)
                metrics_logger.log_value("match_actions", int(info["match_actions"]), reduce="sum",
                                         clear_on_reduce=True)

    return MatchMetrics


def train(out: Path, minutes: float, batch: int, runners: int, num_envs: int, hidden: int) -> Path:
    """Run PPO for ``minutes``; returns the checkpoint directory."""
    import ray

    from fraudarena.cluster.rllib_env import ppo_config

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    env_config = {"task_id": "task_3", "learners": ["investigator"],
                  "opponents": {"fraudster": "reactive", "auditor": "heuristic"}, "credit": "shaped"}
    config = ppo_config(env_config, num_env_runners=runners, num_envs=num_envs, hidden=hidden,
                        train_batch_size=batch).callbacks(_callbacks())
    algo = config.build_algo()
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"env_config": env_config, "train_batch_size": batch,
                                                 "num_env_runners": runners, "num_envs_per_env_runner": num_envs,
                                                 "hidden": hidden, "minutes": minutes}, indent=1))
    ckpt = out / "checkpoint"
    t0 = time.perf_counter()
    last_save = t0
    with (out / "metrics.jsonl").open("w") as log:
        it = 0
        while time.perf_counter() - t0 < minutes * 60:
            t_it = time.perf_counter()
            r = algo.train()
            it += 1
            runners_m = r.get("env_runners", {})
            learner = r.get("learners", {}).get("investigator", {})
            row = {
                "iteration": it, "wall_s": time.perf_counter() - t0, "iteration_s": time.perf_counter() - t_it,
                "env_steps_lifetime": r.get("num_env_steps_sampled_lifetime"),
                "env_steps": runners_m.get("num_env_steps_sampled"),
                "match_actions": runners_m.get("match_actions"),
                "episodes": runners_m.get("num_episodes"),
                "investigator/reward": runners_m.get("episode_return_mean"),
                "investigator/grader": runners_m.get("match_grader"),
                "sample_s": (runners_m.get("sample") if isinstance(runners_m.get("sample"), float) else None),
                **{f"investigator/{k}": learner.get(k) for k in
                   ("policy_loss", "vf_loss", "entropy", "mean_kl_loss", "vf_explained_var", "total_loss")},
            }
            log.write(json.dumps(row, default=float) + "\n")
            log.flush()
            print(f"iter {it} ({row['wall_s']:.0f} s): steps {row['env_steps_lifetime']} reward "
                  f"{row['investigator/reward']} grader {row['investigator/grader']}", flush=True)
            if time.perf_counter() - last_save > 300:
                algo.save_to_path(str(ckpt.resolve()))
                last_save = time.perf_counter()
    algo.save_to_path(str(ckpt.resolve()))
    algo.stop()
    ray.shutdown()
    return ckpt


def evaluate_checkpoint(ckpt: Path, seeds: list[int], task: str) -> dict[str, Any]:
    """The learned Investigator and the ScriptedInvestigator vs the ReactiveFraudster on ``seeds`` (paired)."""
    import torch

    from fraudarena.agents.rl.evaluate import mean_ci, play_matchup
    from fraudarena.cluster import rllib_env  # registers the rllib: bot kind

    torch.set_num_threads(1)
    rllib_env.load_module(ckpt, "investigator")
    t0 = time.perf_counter()
    learned = play_matchup("reactive", f"rllib:{ckpt}", [task], seeds, {}, hidden=64)
    base = play_matchup("reactive", "scripted", [task], seeds, {}, hidden=64)
    diff = [a["grader"] - b["grader"] for a, b in zip(learned, base, strict=True)]
    return {
        "checkpoint": str(ckpt), "task": task, "n_seeds": len(seeds), "seconds": time.perf_counter() - t0,
        "reactive vs rllib": {"grader": mean_ci([r["grader"] for r in learned]),
                              "investigator": mean_ci([r["r_investigator"] for r in learned])},
        "reactive vs scripted": {"grader": mean_ci([r["grader"] for r in base]),
                                 "investigator": mean_ci([r["r_investigator"] for r in base])},
        "paired": {"investigator grader: rllib − scripted (vs reactive)": mean_ci(diff)},
    }


def _ours_curve(run: Path) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    wall = np.cumsum([r.get("iteration_s", 0.0) for r in rows]) / 60.0
    y = np.array([r.get("investigator/grader_vs_scripted", math.nan) for r in rows], dtype=float)
    return wall, y, rows


def plot(out: Path, baseline: Path, png: Path) -> dict[str, Any]:
    """Both Investigator curves (match grader vs the ReactiveFraudster) against wall-clock minutes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    r_wall = np.array([r["wall_s"] for r in rows]) / 60.0
    r_y = np.array([r["investigator/grader"] if r["investigator/grader"] is not None else math.nan for r in rows])
    o_wall, o_y, o_rows = _ours_curve(baseline)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(o_wall, o_y, label=f"our trainer ({baseline.name}: BC warm start, then PPO self-play league)")
    ax.plot(r_wall, r_y, label=f"RLlib PPO ({out.name}: from scratch, vs ReactiveFraudster only)")
    ax.set_xlabel("wall-clock minutes")
    ax.set_ylabel("Investigator grader score vs ReactiveFraudster\n(training matches, task_3)")
    ax.set_title("Investigator learning curves, 2-core box")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    rl_steps = rows[-1]["env_steps_lifetime"] or 0.0
    rl_actions = sum(r["match_actions"] or 0 for r in rows)
    ours_actions = sum(r.get("env_steps", 0.0) for r in o_rows)
    ours_collect = sum(r.get("collect_s", 0.0) for r in o_rows)
    return {
        "rllib": {"iterations": len(rows), "wall_s": rows[-1]["wall_s"], "investigator_decisions": rl_steps,
                  "all_role_actions": rl_actions, "all_role_actions_per_s": rl_actions / rows[-1]["wall_s"],
                  "investigator_decisions_per_s": rl_steps / rows[-1]["wall_s"]},
        "ours": {"iterations": len(o_rows), "wall_s": float(o_wall[-1] * 60), "all_role_actions": ours_actions,
                 "all_role_actions_per_s": ours_actions / (o_wall[-1] * 60),
                 "all_role_actions_per_collect_s": ours_actions / max(ours_collect, 1e-9)},
    }


def main() -> None:
    """Command line (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=Path("runs/rllib30"))
    ap.add_argument("--num-envs", type=int, default=8, help="matches stepped together in each EnvRunner")
    ap.add_argument("--hidden", type=int, default=64, help="hidden width (our trainer's default is 64)")
    ap.add_argument("--batch", type=int, default=2000, help="train_batch_size_per_learner (Investigator turns)")
    ap.add_argument("--env-runners", type=int, default=1, help="RLlib EnvRunner actors (the learner is the driver)")
    ap.add_argument("--seeds", default="4000-4199")
    ap.add_argument("--task", default="task_3_unseen")
    ap.add_argument("--eval-only", action="store_true")
    ap.add_argument("--plot", type=Path, default=None, help="write the curve figure here (no training)")
    ap.add_argument("--baseline", type=Path, default=Path("runs/core30"), help="our trainer's run directory")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from fraudarena.agents.tournament import parse_seeds

    result: dict[str, Any] = {}
    if args.plot is not None:
        result["throughput"] = plot(args.out, args.baseline, args.plot)
    else:
        ckpt = args.out / "checkpoint"
        if not args.eval_only:
            ckpt = train(args.out, args.minutes, args.batch, args.env_runners, args.num_envs, args.hidden)
        result["eval"] = evaluate_checkpoint(ckpt, parse_seeds(args.seeds), args.task)
        (args.out / "eval.json").write_text(json.dumps(result["eval"], indent=1))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for section, data in result.items():
            print(f"== {section}")
            for k, v in data.items():
                print(f"{k:<40} {v}")


if __name__ == "__main__":
    main()
