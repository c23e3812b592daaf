"""Rollout throughput with learned policies in the loop: vectorised Ray workers vs the naive baseline.

Measures environment steps per second (every accepted ``apply`` of any role counts as one step):

* ``naive``: one process, matches one at a time, one policy forward pass per decision
  (``NeuralPolicy.act``), the HeuristicAuditor in-process;
* ``vectorised in-process``: one ``SelfPlayRunner`` with ``--matches`` concurrent matches, forward
  passes batched across them (no Ray);
* ``ray xN``: N ``RolloutWorker`` actors (``cluster.rollout``), each with ``--matches`` matches, weights
  shipped once per iteration through the object store, timed over ``--iters`` collect calls.

Both learned roles (Investigator and Fraudster) play through the neural policies in every mode.
Usage: ``python benchmarks/bench_rollout.py [--json] [--checkpoint PATH] [--matches 256] [--steps 60]``.
"""

from __future__ import annotations

import argparse
import json
import time


def _weights(checkpoint: str | None, hidden: int) -> dict:
    from fraudarena.agents.models import build_model
    from fraudarena.agents.neural_policy import load_model

    roles = ("investigator", "fraudster")
    if checkpoint:
        return {r: load_model(checkpoint, r).state_dict() for r in roles}
    return {r: build_model(r, hidden).state_dict() for r in roles}


def bench_naive(weights: dict, hidden: int, seconds: float, task: str) -> dict:
    import torch

    from fraudarena.agents import make_bot
    from fraudarena.agents.models import build_model
    from fraudarena.agents.neural_policy import NeuralPolicy
    from fraudarena.arena import RefereeEnvironment

    torch.set_num_threads(1)
    pols = {}
    for role in ("investigator", "fraudster"):
        m = build_model(role, hidden)
        m.load_state_dict(weights[role])
        pols[role] = NeuralPolicy(role, m, seed=1, greedy=False)
    steps = matches = 0
    t0 = time.perf_counter()
    seed = 0
    while time.perf_counter() - t0 < seconds:
        env = RefereeEnvironment(task_id=task, seed=10_000 + seed)
        seed += 1
        bots = {**pols, "auditor": make_bot("scripted", "auditor", seed)}
        while not env.done:
            role = env.current_role
            env.apply(role, bots[role].act(env.observe(role, text=False)))
            steps += 1
        matches += 1
    dt = time.perf_counter() - t0
    return {"mode": "naive (1 process, per-step inference)", "workers": 1, "env_steps": steps,
            "matches": matches, "seconds": dt, "steps_per_s": steps / dt}


def _live_seats_runner(n: int, task: str, weights: dict, hidden: int, index: int = 0):
    from fraudarena.agents.selfplay import SelfPlayRunner

    r = SelfPlayRunner(n, (task,), 1, ("investigator", "fraudster"), {"live": 1.0}, hidden, worker_index=index)
    r.set_weights({"live": weights})
    r.set_mode("ppo")
    return r


def bench_vectorised(weights: dict, hidden: int, n: int, steps: int, iters: int, task: str) -> dict:
    import torch

    torch.set_num_threads(1)
    r = _live_seats_runner(n, task, weights, hidden)
    r.run(steps)  # warm-up: fill the pipeline
    env_steps = matches = 0
    t0 = time.perf_counter()
    for _ in range(iters):
        res = r.run(steps)
        env_steps += res.env_steps
        matches += len(res.results)
    dt = time.perf_counter() - t0
    return {"mode": f"vectorised in-process ({n} matches)", "workers": 1, "env_steps": env_steps,
            "matches": matches, "seconds": dt, "steps_per_s": env_steps / dt}


def bench_ray(weights: dict, hidden: int, workers: int, n: int, steps: int, iters: int, task: str) -> dict:
    from fraudarena.agents.train_config import TrainConfig
    from fraudarena.cluster.rollout import RayCollector

    cfg = TrainConfig(num_workers=workers, matches_per_worker=n, task_ids=(task,), hidden=hidden,
                      opponent_weights={"live": 1.0}, archive_rate=0.0)
    col = RayCollector(cfg)
    try:
        pol = {"live": weights}
        col.collect(pol, "ppo", steps, 0)  # warm-up (actor start, imports, pipeline fill)
        env_steps = matches = 0
        t0 = time.perf_counter()
        for it in range(iters):
            for res in col.collect(pol, "ppo", steps, it + 1):
                env_steps += res.env_steps
                matches += len(res.results)
        dt = time.perf_counter() - t0
    finally:
        col.close()
    return {"mode": f"ray x{workers} ({n} matches/worker)", "workers": workers, "env_steps": env_steps,
            "matches": matches, "seconds": dt, "steps_per_s": env_steps / dt}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--checkpoint", default=None, help="policy checkpoint (default: untrained weights)")
    p.add_argument("--matches", type=int, default=256, help="matches per worker")
    p.add_argument("--steps", type=int, default=60, help="vector steps per collect call")
    p.add_argument("--iters", type=int, default=2, help="timed collect calls")
    p.add_argument("--naive-seconds", type=float, default=30.0)
    p.add_argument("--task", default="task_3")
    p.add_argument("--hidden", type=int, default=48, help="model width (read from --checkpoint if given)")
    p.add_argument("--skip-ray", action="store_true")
    args = p.parse_args(argv)
    if args.checkpoint:
        from fraudarena.agents.neural_policy import read_meta

        args.hidden = int(read_meta(args.checkpoint)["config"].get("hidden", args.hidden))
    weights = _weights(args.checkpoint, args.hidden)
    rows = [bench_naive(weights, args.hidden, args.naive_seconds, args.task),
            bench_vectorised(weights, args.hidden, args.matches, args.steps, args.iters, args.task)]
    if not args.skip_ray:
        from fraudarena.cluster import local_ray

        started = local_ray.start(num_cpus=2)
        try:
            for w in (1, 2):
                rows.append(bench_ray(weights, args.hidden, w, args.matches, args.steps, args.iters, args.task))
        finally:
            if started:
                import ray

                ray.shutdown()
    base = rows[0]["steps_per_s"]
    for r in rows:
        r["ratio_vs_naive"] = r["steps_per_s"] / base
    out = {"task": args.task, "rows": rows, "target_steps_per_s": 20000, "target_ratio": 10}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{'mode':45} {'steps/s':>9} {'x naive':>8} {'matches':>8} {'seconds':>8}")
        for r in rows:
            print(f"{r['mode']:45} {r['steps_per_s']:9.0f} {r['ratio_vs_naive']:8.2f} {r['matches']:8d} "
                  f"{r['seconds']:8.1f}")
    return out


if __name__ == "__main__":
    main()
