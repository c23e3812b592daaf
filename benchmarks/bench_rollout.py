"""Rollout throughput with learned policies in the loop: vectorised Ray workers vs the naive baseline.

Measures environment steps per second (every accepted ``apply`` of any role counts as one step):

* ``naive``: one process, matches one at a time, one policy forward pass per decision
  (``NeuralPolicy.act``), the HeuristicAuditor in-process;
* ``vectorised in-process``: one runner with ``--matches`` concurrent matches, forward passes batched
  across them (no Ray), for both engines: ``python`` (``SelfPlayRunner`` on ``RefereeEnvironment``) and
  ``core`` (``CoreRolloutRunner`` on the batched rules core);
* ``ray xN``: N ``RolloutWorker`` actors (``cluster.rollout``) on the core engine, each with ``--matches``
  matches, weights shipped once per iteration through the object store, timed over ``--iters`` calls.

Both learned roles (Investigator and Fraudster) play through the neural policies in every mode. Without
``--checkpoint`` the policies are first behaviour-cloned from the house bots for ``--bc-iters`` iterations
(untrained weights play short, cheap matches; cloned ones play like trained policies). ``--profile``
adds the CPU time per part of one core-engine step. Every timed mode follows ``WARMUP_CALLS`` untimed calls.
Usage: ``python benchmarks/bench_rollout.py [--json] [--checkpoint PATH] [--matches 256] [--steps 60]``.
"""

from __future__ import annotations

import argparse
import json
import time

WARMUP_CALLS = 2
"""Untimed calls before every timed mode: they fill the pipeline (matches at every stage) and fault in both of
the storage's packed-output buffers, which are used in turn (``agents/rl/storage.py``); training runs in that
steady state. With one warm-up call, the timed calls paid the second buffer's page faults (~25 us per step)."""


def _weights(checkpoint: str | None, hidden: int, bc_iters: int, task: str, heads: int = 2) -> tuple[dict, str]:
    from fraudarena.agents.rl.neural_policy import load_model

    roles = ("investigator", "fraudster")
    if checkpoint:
        return {r: load_model(checkpoint, r).state_dict() for r in roles}, f"checkpoint {checkpoint}"
    import tempfile

    from fraudarena.agents.rl.config import TrainConfig
    from fraudarena.agents.rl.trainer import LocalCollector, Trainer

    cfg = TrainConfig(num_workers=0, matches_per_worker=128, rollout_steps=100, task_ids=(task,), hidden=hidden,
                      attention_heads=heads, bc_iterations=bc_iters, iterations=bc_iters, checkpoint_every=0,
                      archive_rate=0.0)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, LocalCollector(cfg), run_dir=tmp, progress=False)
        for _ in range(bc_iters):
            trainer.step()
        weights = trainer.learner.get_weights()
    return weights, f"behaviour-cloned from the house bots ({bc_iters} BC iterations, {task})"


def bench_naive(weights: dict, hidden: int, seconds: float, task: str) -> dict:
    import torch

    from fraudarena.agents import make_bot
    from fraudarena.agents.rl.models import build_model
    from fraudarena.agents.rl.neural_policy import NeuralPolicy
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


def _live_seats_runner(n: int, task: str, weights: dict, hidden: int, engine: str, index: int = 0):
    from fraudarena.agents.rl import make_runner
    from fraudarena.agents.rl.config import TrainConfig

    cfg = TrainConfig(matches_per_worker=n, task_ids=(task,), hidden=hidden, opponent_weights={"live": 1.0},
                      archive_rate=0.0, engine=engine)
    r = make_runner(cfg, index)
    r.set_weights({"live": weights})
    r.set_mode("ppo")
    return r


def bench_vectorised(weights: dict, hidden: int, n: int, steps: int, iters: int, task: str, engine: str) -> dict:
    import torch

    torch.set_num_threads(1)
    r = _live_seats_runner(n, task, weights, hidden, engine)
    for _ in range(WARMUP_CALLS):
        r.run(steps)
    env_steps = matches = 0
    t0 = time.perf_counter()
    for _ in range(iters):
        res = r.run(steps)
        env_steps += res.env_steps
        matches += len(res.results)
    dt = time.perf_counter() - t0
    return {"mode": f"{engine}: vectorised in-process ({n} matches)", "workers": 1, "env_steps": env_steps,
            "matches": matches, "seconds": dt, "steps_per_s": env_steps / dt}


def profile_core(weights: dict, hidden: int, n: int, steps: int, task: str) -> dict[str, float]:
    """CPU microseconds per env step spent in each part of the core runner's loop (one process)."""
    import torch

    torch.set_num_threads(1)
    r = _live_seats_runner(n, task, weights, hidden, "core")
    for _ in range(WARMUP_CALLS + 1):
        r.run(steps)
    spent: dict[str, float] = {}

    def timed(obj: object, name: str, label: str) -> None:
        fn = getattr(obj, name)

        def wrapper(*a: object, **k: object) -> object:
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.process_time() - t

        setattr(obj, name, wrapper)

    for name, label in (("_policy", "forward pass, sampling, storage"), ("_proposal", "proposal texts (learned seats)"),
                        ("_finish", "match end (text checks, rewards)"), ("_new_match", "reset (generation)"),
                        ("_pack", "packing trajectories, credit")):
        timed(r, name, label)
    timed(r.features, "update", "feature kernels")
    timed(r.batch, "masks", "mask kernels")
    timed(r.batch, "propose_many", "proposals: new ads (every seat)")
    timed(r.batch, "step", "rules kernels")
    t0 = time.process_time()
    res = r.run(steps)
    total = time.process_time() - t0
    out = {k: v / res.env_steps * 1e6 for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    out["other"] = max(0.0, total / res.env_steps * 1e6 - sum(out.values()))
    out["total"] = total / res.env_steps * 1e6
    return out


def bench_ray(weights: dict, hidden: int, workers: int, n: int, steps: int, iters: int, task: str) -> dict:
    from fraudarena.agents.rl.config import TrainConfig
    from fraudarena.cluster.rollout import RayCollector

    cfg = TrainConfig(num_workers=workers, matches_per_worker=n, task_ids=(task,), hidden=hidden,
                      opponent_weights={"live": 1.0}, archive_rate=0.0, engine="core")
    col = RayCollector(cfg)
    try:
        pol = {"live": weights}
        for it in range(WARMUP_CALLS):  # actor start, imports, pipeline fill, both output buffers
            col.collect(pol, "ppo", steps, it)
        env_steps = matches = 0
        t0 = time.perf_counter()
        for it in range(iters):
            for res in col.collect(pol, "ppo", steps, WARMUP_CALLS + it):
                env_steps += res.env_steps
                matches += len(res.results)
        dt = time.perf_counter() - t0
    finally:
        col.close()
    return {"mode": f"core: ray x{workers} ({n} matches/worker)", "workers": workers, "env_steps": env_steps,
            "matches": matches, "seconds": dt, "steps_per_s": env_steps / dt}


def main(argv: list[str] | None = None) -> dict:
    from fraudarena.agents.rl.config import TrainConfig
    from fraudarena.agents.rl.models import LEGACY_HEADS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--checkpoint", default=None, help="policy checkpoint (default: untrained weights)")
    p.add_argument("--matches", type=int, default=256, help="matches per worker")
    p.add_argument("--steps", type=int, default=60, help="vector steps per collect call")
    p.add_argument("--iters", type=int, default=2, help="timed collect calls")
    p.add_argument("--naive-seconds", type=float, default=30.0)
    p.add_argument("--task", default="task_3")
    p.add_argument("--hidden", type=int, default=TrainConfig().hidden,
                   help="model width (read from --checkpoint if given)")
    p.add_argument("--attention-heads", type=int, default=TrainConfig().attention_heads,
                   help="the Investigator's attention heads (read from --checkpoint if given)")
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--bc-iters", type=int, default=2, help="BC warm-up iterations when no --checkpoint is given")
    p.add_argument("--profile", action="store_true", help="also report CPU µs per env step by part (core engine)")
    args = p.parse_args(argv)
    if args.checkpoint:
        from fraudarena.agents.rl.neural_policy import read_meta

        args.hidden = int(read_meta(args.checkpoint)["config"].get("hidden", args.hidden))
    weights, policy = _weights(args.checkpoint, args.hidden, args.bc_iters, args.task, args.attention_heads)
    heads = int(weights["investigator"].get("attn_heads", LEGACY_HEADS))
    policy += f"; hidden {args.hidden}, {heads} attention heads"
    rows = [bench_naive(weights, args.hidden, args.naive_seconds, args.task)]
    for engine in ("python", "core"):
        rows.append(bench_vectorised(weights, args.hidden, args.matches, args.steps, args.iters, args.task, engine))
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
        r["steps_per_s_per_core"] = r["steps_per_s"] / r["workers"]
    out: dict = {"task": args.task, "policies": policy, "rows": rows, "target_steps_per_s": 20000,
                 "target_ratio": 10}
    if args.profile:
        out["core_profile_us_per_step"] = profile_core(weights, args.hidden, args.matches, args.steps, args.task)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"policies: {policy}")
        print(f"{'mode':48} {'steps/s':>9} {'/core':>8} {'x naive':>8} {'matches':>8} {'seconds':>8}")
        for r in rows:
            print(f"{r['mode']:48} {r['steps_per_s']:9.0f} {r['steps_per_s_per_core']:8.0f} "
                  f"{r['ratio_vs_naive']:8.2f} {r['matches']:8d} {r['seconds']:8.1f}")
        if args.profile:
            print("core engine, CPU µs per env step:")
            for k, v in out["core_profile_us_per_step"].items():
                print(f"  {k:40} {v:7.1f}")
    return out


if __name__ == "__main__":
    main()
