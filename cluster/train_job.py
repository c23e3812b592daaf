"""``fraudarena train``: self-play training on a local or running Ray cluster.

``train_command`` connects to a running cluster (``address``, e.g. ``"auto"`` inside
``ray job submit``) or starts a small local one, places the rollout workers (``cluster.rollout``),
runs :class:`~fraudarena.agents.rl.trainer.Trainer` in the driver, and shuts down what it started.
Progress goes to a tqdm bar on a terminal and to one plain line per iteration on stdout otherwise
(which is what the Ray dashboard's job logs show). ``num_workers=0`` trains without Ray.
"""

from __future__ import annotations

import sys
from typing import Any

from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.rl.trainer import LocalCollector, Trainer


def init_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Connect to ``address`` or start a small local Ray; returns True if this call started Ray.

    Uses ``cluster.local_ray`` (PYTHONPATH export for workers, no auth-token trap).
    """
    import ray

    from fraudarena.cluster import local_ray

    if ray.is_initialized():
        return False
    if address:
        local_ray.export_pythonpath()
        ray.init(address=address, log_to_driver=True)
        return True
    return local_ray.start(num_cpus=num_cpus or 2, log_to_driver=True)


def _history_sink_handle() -> Any:
    """The served arena's ``HistoryActor`` if one is running on this cluster (never created here)."""
    try:
        from fraudarena.cluster.naming import history_handle
        from fraudarena.served.settings import ArenaSettings

        return history_handle(ArenaSettings(), create=False)
    except Exception:
        return None


def build_config(config: str | None = None, workers: int | None = None, matches_per_worker: int | None = None,
                 minutes: float | None = None, iterations: int | None = None, run_name: str | None = None,
                 runs_dir: str | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """A TrainConfig from an optional file plus command-line overrides."""
    cfg = TrainConfig.load(config) if config else TrainConfig()
    data = cfg.to_dict()
    for key, value in (("num_workers", workers), ("matches_per_worker", matches_per_worker),
                       ("minutes", minutes), ("iterations", iterations), ("run_name", run_name),
                       ("runs_dir", runs_dir)):
        if value is not None:
            data[key] = value
    data.update(overrides or {})
    return TrainConfig.from_dict(data)


def train_command(config: str | None = None, workers: int | None = None, matches_per_worker: int | None = None,
                  minutes: float | None = None, iterations: int | None = None, address: str | None = None,
                  run_name: str | None = None, runs_dir: str | None = None, resume: str | None = None,
                  archive: bool = True, progress: bool | None = None,
                  overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run self-play training; returns a summary dict (iterations, checkpoint path, run_dir, totals).

    ``resume`` is a checkpoint directory (``<run_dir>/checkpoints/latest``); training continues from
    its iteration with its learner, league and ratings.
    """
    cfg = build_config(config, workers, matches_per_worker, minutes, iterations, run_name, runs_dir, overrides)
    tty = sys.stderr.isatty() if progress is None else progress

    def log(line: str) -> None:
        if not tty:
            print(line, flush=True)

    import torch

    # One intra-op thread: on a small shared box, torch's thread pool spinning against other processes
    # was measured 10-20x slower than a single thread.
    torch.set_num_threads(1)
    started = False
    collector: Any
    history = None
    if cfg.num_workers > 0:
        from fraudarena.cluster.rollout import RayCollector

        started = init_ray(address, num_cpus=max(2, cfg.num_workers))
        if archive and cfg.archive_rate > 0:
            history = _history_sink_handle()
        collector = RayCollector(cfg, history=history)
    else:
        collector = LocalCollector(cfg)
    try:
        trainer = Trainer(cfg, collector, resume=resume, progress=tty, log=log)
        log(f"run dir {trainer.run_dir}; workers {cfg.num_workers} x {cfg.matches_per_worker} matches; "
            f"archive {'on' if history is not None else 'off'}")
        summary = trainer.train()
    finally:
        collector.close()
        if started:
            import ray

            ray.shutdown()
    summary["archive"] = history is not None
    return summary
