"""Training smoke tests: a couple of iterations on a tiny config, in-process and on a real local Ray."""

from __future__ import annotations

import json
import math

import pytest
import torch

from fraudarena.agents import play_match
from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.evaluate import eval_command, mean_ci, parse_seeds
from fraudarena.agents.rl.neural_policy import load_policy, policy_bot_factory
from fraudarena.agents.rl.trainer import LocalCollector, Trainer

TINY = {"matches_per_worker": 6, "rollout_steps": 90, "bc_iterations": 1, "iterations": 2, "hidden": 16,
        "minibatch_size": 256, "update_epochs": 1, "bc_epochs": 1, "checkpoint_every": 1, "snapshot_every": 1,
        "task_ids": ["task_1"], "archive_rate": 0.5}

torch.set_num_threads(1)  # a 2-core box shared with other suites: no intra-op threads


def _finite_losses(run_dir) -> None:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    losses = [v for r in rows for k, v in r.items() if k.endswith(("_loss", "bc_loss")) and v is not None]
    assert losses and all(math.isfinite(v) for v in losses)
    assert any(k.endswith("pg_loss") for k in rows[-1])  # the second iteration is PPO


def _plays_full_match(ckpt) -> None:
    inv = load_policy(ckpt, "investigator")
    fr = policy_bot_factory(f"policy:{ckpt}#sample", "fraudster", 3)
    record = play_match("task_1", 7, fraudster=fr, investigator=inv)
    assert record["end_reason"] is not None and record["rewards"] is not None


def test_local_training_loop_and_resume(tmp_path):
    cfg = TrainConfig.from_dict({**TINY, "num_workers": 0, "runs_dir": str(tmp_path), "run_name": "local"})
    sunk: list = []
    trainer = Trainer(cfg, LocalCollector(cfg), progress=False,
                      archive_sink=lambda recs, tags: sunk.append((len(recs), tags)))
    summary = trainer.train()
    run_dir = tmp_path / "local"
    _finite_losses(run_dir)
    assert summary["iterations"] == 2 and summary["matches"] > 0
    assert sunk and sunk[0][1]["run"] == "local"
    ckpt = run_dir / "checkpoints" / "latest"
    _plays_full_match(ckpt)
    result = eval_command(str(ckpt), tasks="task_1", seeds="1-3", out=str(tmp_path / "eval"), parallel=8)
    assert (tmp_path / "eval" / "eval.png").stat().st_size > 0
    assert set(result["matchups"]) == {"reactive vs scripted", "reactive vs learned", "learned vs scripted",
                                       "learned vs learned"}
    assert all(m["n"] == 3 for m in result["matchups"].values())
    resumed = Trainer(cfg, LocalCollector(cfg), progress=False, resume=ckpt)
    assert resumed.iteration == 2 and resumed.league.ids("investigator")
    resumed.train(iterations=1)
    assert resumed.iteration == 3


@pytest.mark.ray
def test_ray_training_smoke(tmp_path):
    import ray

    from fraudarena.cluster.train_job import train_command

    was_running = ray.is_initialized()
    overrides = {**{k: v for k, v in TINY.items() if k != "iterations"}, "main_exploiters": True,
                 "exploiter_share": 0.5}  # the exploiters' weights travel with the live ones
    train_command(workers=1, runs_dir=str(tmp_path), run_name="ray", progress=False, overrides=overrides,
                  iterations=2)
    assert ray.is_initialized() == was_running  # a Ray started by the command is shut down again
    run_dir = tmp_path / "ray"
    _finite_losses(run_dir)
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert "exploiter/investigator/pg_loss" in last and "exploiter/fraudster/pg_loss" in last
    _plays_full_match(run_dir / "checkpoints" / "latest")


def test_eval_helpers():
    assert parse_seeds("4000-4002,7") == [4000, 4001, 4002, 7]
    m, h = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and h == pytest.approx(1.96 / math.sqrt(3))
