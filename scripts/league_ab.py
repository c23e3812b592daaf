"""League A/B (docs/training.md "Exploitability"): continue runs/core30 from its latest checkpoint (league and Elo)
for N PPO iterations per arm, then play the learned policies against the house bots on held-out task_3_unseen seeds
4000-4199 (paired on seeds). Usage: python scripts/league_ab.py N [ARM,ARM]; writes runs/league_ab/<arm>.json."""

import json
import shutil
import sys
import time
from pathlib import Path

import torch

from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.evaluate import mean_ci, play_matchup
from fraudarena.agents.rl.neural_policy import load_model
from fraudarena.agents.rl.trainer import LocalCollector, Trainer
from fraudarena.agents.tournament import parse_seeds

torch.set_num_threads(1)
N = int(sys.argv[1])
ARMS = {"A_weights_timer": {}, "B_pfsp_win": {"opponent_sampling": "pfsp", "snapshot_rule": "win"},
        "C_elo_win": {"opponent_sampling": "elo", "snapshot_rule": "win"}}
arms = sys.argv[2].split(",") if len(sys.argv) > 2 else list(ARMS)
root = Path("runs/league_ab")
base = json.loads(Path("runs/core30/config.json").read_text())
seeds = parse_seeds("4000-4199")
for arm in arms:
    t0 = time.time()
    cfg = TrainConfig.from_dict({**base, **ARMS[arm], "num_workers": 0, "matches_per_worker": 256, "minutes": None,
                                 "run_name": arm, "runs_dir": str(root), "checkpoint_every": 0, "archive_rate": 0.0})
    run_dir = root / arm
    shutil.rmtree(run_dir, ignore_errors=True)
    trainer = Trainer(cfg, LocalCollector(cfg), run_dir=run_dir, resume="runs/core30/checkpoints/latest",
                      progress=False, log=lambda s: print(s, flush=True))
    summary = trainer.train(iterations=N)
    train_s = time.time() - t0
    ck = summary["checkpoint"]
    w = {r: load_model(ck, r).state_dict() for r in ("investigator", "fraudster")}
    inv = play_matchup("reactive", "learned", ["task_3_unseen"], seeds, {"investigator": w["investigator"]}, cfg.hidden)
    fr = play_matchup("learned", "scripted", ["task_3_unseen"], seeds, {"fraudster": w["fraudster"]}, cfg.hidden)
    out = {"arm": arm, "config": ARMS[arm], "iterations": N, "train_s": train_s,
           "snapshots": {r: trainer.league.ids(r) for r in ("investigator", "fraudster")},
           "learned_inv_grader_vs_reactive": mean_ci([r["grader"] for r in inv]),
           "learned_fraud_reward_vs_scripted": mean_ci([r["r_fraudster"] for r in fr]),
           "rows": {"inv": [r["grader"] for r in inv], "fr": [r["r_fraudster"] for r in fr]},
           "checkpoint": ck, "eval_s": time.time() - t0 - train_s}
    (root / f"{arm}.json").write_text(json.dumps(out))
    print("RESULT", arm, out["learned_inv_grader_vs_reactive"], out["learned_fraud_reward_vs_scripted"],
          out["snapshots"], f"train {train_s:.0f}s", flush=True)
