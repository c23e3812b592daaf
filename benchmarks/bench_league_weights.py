"""League weights to the rollout workers: every snapshot every iteration vs each snapshot once (object store).

Two real ``RolloutWorker`` actors (``cluster.rollout``) on a local Ray, ``--snapshots`` frozen snapshots per
learned role (hidden 48, the training default until 2026-12-07), ``--iters`` iterations of a zero-step
``collect`` (so only the weight shipping and loading is timed, not the matches):

* ``every iteration`` (the driver before docs/training.md "League" changed it): the live weights and every
  snapshot in one dict, ``ray.put`` each iteration, every worker loads every snapshot again;
* ``once``: ``RayCollector``: the live weights put each iteration, each snapshot put once in its life and
  fetched and loaded once per worker.

Reports the mean driver-side seconds per iteration and the state-dict bytes put per iteration (first
iteration excluded: both put everything then). Usage: ``python benchmarks/bench_league_weights.py [--json]``.
"""

from __future__ import annotations

import argparse
import json
import time


def _state(role: str, seed: int) -> dict:
    import torch

    from fraudarena.agents.rl.models import build_model

    torch.manual_seed(seed)
    return build_model(role, 48).state_dict()


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--snapshots", type=int, default=8, help="snapshots per learned role (max_snapshots)")
    p.add_argument("--iters", type=int, default=20, help="timed iterations per mode")
    args = p.parse_args(argv)
    import ray

    from fraudarena.agents.rl.config import TrainConfig
    from fraudarena.cluster import local_ray
    from fraudarena.cluster.rollout import RayCollector, _nbytes

    roles = ("investigator", "fraudster")
    live = {r: _state(r, 0) for r in roles}
    weights: dict = {"live": live}
    for k in range(args.snapshots):
        for r in roles:
            weights[f"snap:{r}:{k + 1}"] = {r: _state(r, k + 1)}
    cfg = TrainConfig(num_workers=2, matches_per_worker=1, engine="python", task_ids=("task_1",), archive_rate=0.0)
    started = local_ray.start(num_cpus=2, log_to_driver=False)
    out: dict = {"snapshots_per_role": args.snapshots, "iters": args.iters, "modes": {}}
    try:
        collector = RayCollector(cfg)
        workers = collector.workers
        ray.get([w.collect.remote({"live": live}, "ppo", 0, 0) for w in workers])  # actors up, runners built
        times = []
        for it in range(args.iters + 1):
            t0 = time.perf_counter()
            ref = ray.put(weights)
            ray.get([w.collect.remote(ref, "ppo", 0, it) for w in workers])
            times.append(time.perf_counter() - t0)
        out["modes"]["every iteration"] = {"s_per_iter": sum(times[1:]) / args.iters,
                                           "bytes_per_iter": _nbytes(weights)}
        collector.close()
        collector = RayCollector(cfg)
        ray.get([w.collect.remote({"live": live}, "ppo", 0, 0) for w in collector.workers])
        times, put = [], []
        for it in range(args.iters + 1):
            before = collector.put_bytes
            t0 = time.perf_counter()
            collector.collect(weights, "ppo", 0, it, league={"pool": {r: [p for p in weights if p.startswith(
                f"snap:{r}:")] for r in roles}, "table": {}})
            times.append(time.perf_counter() - t0)
            put.append(collector.put_bytes - before)
        out["modes"]["once"] = {"s_per_iter": sum(times[1:]) / args.iters, "bytes_per_iter": sum(put[1:]) / args.iters}
        collector.close()
    finally:
        if started:
            ray.shutdown()
    every, once = out["modes"]["every iteration"], out["modes"]["once"]
    out["speedup"] = every["s_per_iter"] / once["s_per_iter"]
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{'mode':18} {'ms / iteration':>15} {'bytes put / iteration':>22}")
        for name, m in out["modes"].items():
            print(f"{name:18} {1000 * m['s_per_iter']:>15.1f} {m['bytes_per_iter']:>22,.0f}")
        print(f"once / every iteration: {out['speedup']:.2f}x faster ({args.snapshots} snapshots per role, "
              f"2 workers, {args.iters} iterations)")
    return out


if __name__ == "__main__":
    main()
