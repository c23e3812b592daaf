"""Benchmark of the game engine: full matches and referee steps per second, and memory per live match.

Single process, one core; rates use the process CPU time (robust to other load on a shared box).
For every task it plays complete matches with the scripted bots and with
random bots (bots see ``observe(role, text=False)``, as in training), and the same random-bot loop with
full observations (text summaries included, as served to external agents) as the in-run baseline.
It also creates 1,000 live ``RefereeEnvironment`` objects and reports the memory each holds.

    python benchmarks/bench_arena.py [--seconds 3] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from typing import Any

from fraudarena.agents import make_bot
from fraudarena.arena import TASK_IDS, RefereeEnvironment
from fraudarena.arena.rng import bot_seed

PAIRINGS = {
    "scripted": {"fraudster": "scripted", "investigator": "scripted", "auditor": "scripted"},
    "random": {"fraudster": "random", "investigator": "random", "auditor": "random"},
}


def run_loop(task_id: str, kinds: dict[str, str], seconds: float, text: bool) -> dict[str, float]:
    """Play matches back to back for ``seconds``; returns matches/s and steps/s."""
    matches = steps = 0
    seed = 0
    cpu_start = time.process_time()  # a slow call on some VMs: read it only at the ends
    deadline = time.perf_counter() + seconds
    while True:
        env = RefereeEnvironment(task_id=task_id, seed=seed)
        bots = {role: make_bot(kind, role, bot_seed(task_id, seed, role)) for role, kind in kinds.items()}
        while not env.done:
            role = env.current_role
            env.apply(role, bots[role].act(env.observe(role, text=text)))  # type: ignore[index,arg-type]
            steps += 1
        env.record()
        matches += 1
        seed += 1
        if time.perf_counter() >= deadline:
            break
    elapsed = time.process_time() - cpu_start
    return {"matches_per_s": matches / elapsed, "steps_per_s": steps / elapsed,
            "steps_per_match": steps / matches}


def memory_per_env(n: int = 1000, task_id: str = "task_3") -> float:
    """Bytes held per live RefereeEnvironment right after reset (tracemalloc growth / n)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    envs = [RefereeEnvironment(task_id=task_id, seed=i) for i in range(n)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del envs
    return (after - before) / n


def memory_per_played_env(n: int = 300, task_id: str = "task_3") -> float:
    """Bytes held per RefereeEnvironment after a full scripted match (record cached)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    envs = []
    for seed in range(n):
        env = RefereeEnvironment(task_id=task_id, seed=seed)
        bots = {role: make_bot("scripted", role, seed) for role in ("fraudster", "investigator", "auditor")}
        while not env.done:
            role = env.current_role
            env.apply(role, bots[role].act(env.observe(role, text=False)))  # type: ignore[index,arg-type]
        env.record()
        envs.append(env)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del envs
    return (after - before) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--tasks", default=",".join(TASK_IDS))
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for task_id in args.tasks.split(","):
        baseline = run_loop(task_id, PAIRINGS["random"], args.seconds, text=True)
        for name, kinds in PAIRINGS.items():
            res = run_loop(task_id, kinds, args.seconds, text=False)
            rows.append({"task": task_id, "bots": name, **res,
                         "vs_full_obs_random": res["matches_per_s"] / baseline["matches_per_s"]})
        rows.append({"task": task_id, "bots": "random (full text obs, baseline)", **baseline,
                     "vs_full_obs_random": 1.0})
    mem = {"bytes_per_env_after_reset": memory_per_env(), "bytes_per_env_after_match": memory_per_played_env()}
    if args.json:
        print(json.dumps({"rows": rows, "memory": mem}, indent=2))
        return 0
    print(f"{'task':<14} {'bots':<34} {'matches/s':>10} {'steps/s':>10} {'steps/match':>12} {'x baseline':>10}")
    for r in rows:
        print(f"{r['task']:<14} {r['bots']:<34} {r['matches_per_s']:>10.1f} {r['steps_per_s']:>10.0f} "
              f"{r['steps_per_match']:>12.1f} {r['vs_full_obs_random']:>10.2f}")
    print(f"\nmemory per live task_3 env: {mem['bytes_per_env_after_reset'] / 1024:.1f} KiB after reset, "
          f"{mem['bytes_per_env_after_match'] / 1024:.1f} KiB after a full scripted match")
    print("targets: >= 1000 task_3 matches/s and >= 30000 steps/s with random bots (one core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
