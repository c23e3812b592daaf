"""Ray placement of the rollout loop: ``RolloutWorker`` actors around the runner ``TrainConfig.engine`` names.

Each worker steps ``matches_per_worker`` matches in-process and batches the policy forward pass across
them; its seeds derive from (config seed, worker index). Per iteration the driver puts the live weights in
the object store once (``ray.put``) and hands the same reference to every worker; a frozen league snapshot
is put once in its life (its reference kept until the league drops it), and a worker fetches and loads each
snapshot once (docs/training.md "League"). With the pool the driver also sends the PFSP opponent table. A
worker sends its
archive-sampled finished matches (``archive_rate``, default 1 in 100) to the arena's ``HistoryActor``
in one batched ``append`` per iteration, tagged with the run and iteration, so training games open
through the same archive API as served ones.
"""

from __future__ import annotations

import time
from typing import Any

import ray

from fraudarena.agents.rl import make_runner
from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.league import LEARNING
from fraudarena.agents.rl.runner import RolloutResult
from fraudarena.agents.rl.trainer import apply_league


def _nbytes(tree: Any) -> int:
    """Bytes of the tensors in a nested dict of state dicts."""
    if isinstance(tree, dict):
        return sum(_nbytes(v) for v in tree.values())
    return int(tree.numel() * tree.element_size()) if hasattr(tree, "numel") else 0


def archive_entries(sampled: list[dict], run: str, iteration: int, worker: int) -> list[dict[str, Any]]:
    """``HistoryActor.append`` entries for sampled training matches (match id ``train-<run>-...``)."""
    now = time.time()
    out = []
    for k, item in enumerate(sampled):
        record = item["record"]
        match_id = f"train-{run}-{iteration}-{worker}-{k}"
        grader = record.get("grader") or {}
        summary = {
            "match_id": match_id, "task_id": item["task_id"], "phase": "done",
            "round_number": record.get("final_round"),
            "max_rounds": ((record.get("config") or {}).get("effective") or {}).get("max_rounds"),
            "seats": item["seats"], "created_at": now, "last_activity_at": now, "finished_at": now,
            "status": "done", "end_reason": record.get("end_reason"), "grader_score": grader.get("score"),
            "rewards": record.get("rewards"),
            "source": "training", "run": run, "iteration": iteration, "worker": worker,
        }
        out.append({"match_id": match_id, "summary": summary, "record": record})
    return out


@ray.remote(num_cpus=1)
class RolloutWorker:
    """A Ray actor owning one rollout runner (``agents.rl.make_runner``)."""

    def __init__(self, config: dict, worker_index: int, history: Any = None) -> None:
        import torch

        torch.set_num_threads(1)
        cfg = TrainConfig.from_dict(config)
        self.cfg = cfg
        self.index = worker_index
        self.history = history
        self.runner = make_runner(cfg, worker_index)
        self.loaded: set[str] = set()

    def collect(self, weights: dict, mode: str, n_steps: int, iteration: int,
                snapshots: dict[str, Any] | None = None, league: dict[str, Any] | None = None) -> RolloutResult:
        """One rollout. ``weights``: the live weights (and, from older drivers, every snapshot);
        ``snapshots``: ``{policy id: ObjectRef}`` of the league's pool, fetched only when not loaded yet."""
        if snapshots:
            new = [pid for pid in snapshots if pid not in self.loaded]
            if new:
                weights = {**weights, **dict(zip(new, ray.get([snapshots[p] for p in new]), strict=True))}
                self.loaded.update(new)
        self.runner.set_weights(weights)
        apply_league(self.runner, league)
        self.runner.set_mode(mode)
        result = self.runner.run(n_steps)
        if result.sampled_records and self.history is not None:
            entries = archive_entries(result.sampled_records, self.cfg.run_name, iteration, self.index)
            self.history.append.remote(entries)  # fire and forget: the archive is best effort
            result.sampled_records = []
        return result


class RayCollector:
    """The driver's handle on ``num_workers`` rollout workers (same interface as ``LocalCollector``)."""

    accepts_league = True
    """``collect`` takes the ``league`` keyword (pool and opponent table), see ``Trainer``."""

    def __init__(self, config: TrainConfig, history: Any = None) -> None:
        self.workers = [RolloutWorker.remote(config.to_dict(), i, history)
                        for i in range(max(1, config.num_workers))]
        self.snapshot_refs: dict[str, Any] = {}
        self.put_bytes = 0  # state-dict bytes put in the object store so far (docs/training.md "League")

    def collect(self, weights: dict, mode: str, n_steps: int, iteration: int,
                league: dict[str, Any] | None = None) -> list[RolloutResult]:
        """One iteration on every worker: the learning weights (live, main exploiters) put once per call, each
        snapshot once in its life."""
        live = {pid: weights[pid] for pid in LEARNING if pid in weights}
        snaps = {pid: w for pid, w in weights.items() if pid not in LEARNING}
        for pid in list(self.snapshot_refs):
            if pid not in snaps:  # dropped from the league: let the object store free it
                del self.snapshot_refs[pid]
        for pid, w in snaps.items():
            if pid not in self.snapshot_refs:
                self.snapshot_refs[pid] = ray.put(w)
                self.put_bytes += _nbytes(w)
        ref = ray.put(live)  # once per iteration, shared by every worker
        self.put_bytes += _nbytes(live)
        pending = [w.collect.remote(ref, mode, n_steps, iteration, dict(self.snapshot_refs), league)
                   for w in self.workers]
        out: list[RolloutResult] = []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            out.extend(ray.get(done))
        return out

    def close(self) -> None:
        for w in self.workers:
            ray.kill(w)
        self.workers = []
