"""``anneal_lr``: the live policy's PPO learning rate falls linearly to 0 over the run's budget (time or
iterations); main exploiters keep the configured rate."""

from __future__ import annotations

import json

import pytest
import torch

from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.trainer import LocalCollector, Trainer, lr_scale

torch.set_num_threads(1)


def test_lr_scale_follows_the_budget_that_stops_the_run() -> None:
    assert lr_scale(0, 10, 0.0, None) == 1.0
    assert lr_scale(4, 10, 999.0, None) == pytest.approx(0.6)  # iterations: the clock does not matter
    assert lr_scale(4, 10, 30.0, 120.0) == pytest.approx(0.75)  # minutes: the iteration count does not
    assert lr_scale(7, 10, 130.0, 120.0) == 0.0  # never negative
    assert lr_scale(0, 0, 0.0, None) == 1.0


def test_a_run_with_anneal_lr_lowers_the_live_rate_each_iteration_and_leaves_exploiters_alone(tmp_path) -> None:
    cfg = TrainConfig.from_dict({
        "matches_per_worker": 8, "rollout_steps": 40, "bc_iterations": 1, "iterations": 4, "hidden": 8,
        "minibatch_size": 64, "update_epochs": 1, "bc_epochs": 1, "checkpoint_every": 0, "task_ids": ["task_1"],
        "archive_rate": 0.0, "num_workers": 0, "main_exploiters": True, "exploiter_share": 0.5,
        "anneal_lr": True, "lr": 1e-3, "runs_dir": str(tmp_path), "run_name": "r"})
    trainer = Trainer(cfg, LocalCollector(cfg), progress=False)
    trainer.train()
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr_scale"] for r in rows] == pytest.approx([1.0, 0.75, 0.5, 0.25])
    for role in ("investigator", "fraudster"):  # the last PPO update ran at a quarter of the rate
        assert trainer.learner.optims[role].param_groups[0]["lr"] == pytest.approx(0.25e-3)
        assert trainer.exploiters.optims[role].param_groups[0]["lr"] == pytest.approx(1e-3)


def test_without_anneal_lr_the_rate_stays(tmp_path) -> None:
    cfg = TrainConfig.from_dict({
        "matches_per_worker": 4, "rollout_steps": 20, "bc_iterations": 1, "iterations": 2, "hidden": 8,
        "minibatch_size": 32, "update_epochs": 1, "bc_epochs": 1, "checkpoint_every": 0, "task_ids": ["task_1"],
        "archive_rate": 0.0, "num_workers": 0, "lr": 1e-3, "runs_dir": str(tmp_path), "run_name": "r"})
    trainer = Trainer(cfg, LocalCollector(cfg), progress=False)
    trainer.train()
    assert trainer.learner.optims["fraudster"].param_groups[0]["lr"] == pytest.approx(1e-3)
