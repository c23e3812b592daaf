"""Benchmark of the game engine: full matches and referee steps per second, and memory per live match.

Single process, one core; rates use the process CPU time (robust to other load on a shared box).
For every task it plays complete matches with the scripted bots and with
random bots (bots see ``observe(role, text=False)``, as in training), and the same random-bot loop with
full observations (text summaries included, as served to external agents) as the in-run baseline.
It also creates 1,000 live ``RefereeEnvironment`` objects and reports the memory each holds, and measures
the batched core (``arena/core``): decisions per CPU second in batch (rules kernels alone, and with the
encoder features and masks rebuilt for every decision), the kernels' first-compile and cached start
times in fresh processes, and each house bot's CPU cost per decision: the Python bot (observation + ``act``)
against its twin on the core (``agents/rl/core_bots.py``, in batch).

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

from numba import njit

from fraudarena.agents import make_bot
from fraudarena.arena import TASK_IDS, RefereeEnvironment
from fraudarena.arena.core.episode import warm_up
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


@njit(cache=True)
def _sample_legal(mask, widths, state, out) -> None:
    """One uniformly random legal code per row of ``mask`` (xorshift64 in ``state[0]``); -1 for no legal code."""
    for i in range(mask.shape[0]):
        n = 0
        for c in range(widths[i]):
            if mask[i, c]:
                n += 1
        if n == 0:
            out[i] = -1
            continue
        x = state[0]
        x ^= (x << 13) & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 7
        x ^= (x << 17) & 0xFFFFFFFFFFFFFFFF
        state[0] = x
        k = x % n
        for c in range(widths[i]):
            if mask[i, c]:
                if k == 0:
                    out[i] = c
                    break
                k -= 1


def bench_core(seconds: float, task_id: str = "task_3", n_matches: int = 256, with_features: bool = True
               ) -> dict[str, float]:
    """Decisions per CPU second of the batched core: random legal Investigator actions, the Fraudster ends its
    turns (proposals carry texts and run in Python once each); features and masks rebuilt for every decision
    when ``with_features``. The step loop and the (Python) resets of finished matches are timed apart."""
    import numpy as np

    from fraudarena.agents.rl.features import CoreFeatures
    from fraudarena.arena.core import CoreBatch
    from fraudarena.arena.core.layout import MI_PHASE, PH_AUDIT, PH_INVESTIGATOR

    batch = CoreBatch(n_matches, n_slots=33)
    feats = CoreFeatures(batch)
    for m in range(n_matches):
        batch.reset(m, task_id, m)
        feats.on_reset(m)
    state = np.array([0x9E3779B97F4A7C15], np.uint64)
    codes = np.zeros(n_matches, np.int64)
    conf = np.full(n_matches, 0.7)
    widths = np.full(n_matches, batch.inv_mask.shape[1], np.int64)
    seed = n_matches
    decisions = 0
    inv_decisions = 0
    resets = 0
    reset_cpu = 0.0
    cpu0 = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            if with_features:
                feats.update()
            inv_mask, _ = batch.masks()
            _sample_legal(inv_mask, widths, state, codes)
            phase = batch.mi[:, MI_PHASE]
            inv = phase == PH_INVESTIGATOR
            codes[~inv] = 0  # the Fraudster ends its turn
            batch.step(codes, conf)
            decisions += n_matches
            inv_decisions += int(inv.sum())
            r0 = time.process_time()
            for m in np.nonzero(batch.mi[:, MI_PHASE] >= PH_AUDIT)[0]:
                batch.reset(int(m), task_id, seed)
                feats.on_reset(int(m))
                seed += 1
                resets += 1
            reset_cpu += time.process_time() - r0
    cpu = time.process_time() - cpu0
    step_cpu = cpu - reset_cpu
    return {"decisions_per_cpu_s": decisions / step_cpu, "investigator_decisions_per_cpu_s": inv_decisions / step_cpu,
            "decisions_per_cpu_s_with_resets": decisions / cpu, "matches_per_cpu_s": resets / cpu,
            "reset_ms": reset_cpu / max(1, resets) * 1e3, "with_features": with_features}


#: house-bot pairings of the bot benchmark: (investigator kind, fraudster kind)
BOT_PAIRS = (("scripted", "reactive"), ("ringhunter", "camouflage"))


def bench_python_bots(seconds: float, pair: tuple[str, str], task_id: str = "task_3") -> dict[str, float]:
    """CPU µs per decision of the Python house bots on the referee, per role: ``observe(role, text=False)`` +
    ``act`` (``<role>_us``), and with the referee's ``apply`` of the action (``<role>_applied_us``)."""
    spent = {"investigator": 0.0, "fraudster": 0.0}
    applied = {"investigator": 0.0, "fraudster": 0.0}
    n = {"investigator": 0, "fraudster": 0}
    kinds = {"investigator": pair[0], "fraudster": pair[1], "auditor": "scripted"}
    seed = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        env = RefereeEnvironment(task_id=task_id, seed=seed)
        bots = {role: make_bot(kind, role, bot_seed(task_id, seed, role)) for role, kind in kinds.items()}
        while not env.done:
            role = env.current_role
            assert role is not None
            t0 = time.process_time()
            action = bots[role].act(env.observe(role, text=False))
            t1 = time.process_time()
            env.apply(role, action)
            if role in spent:
                spent[role] += t1 - t0
                applied[role] += time.process_time() - t0
                n[role] += 1
        seed += 1
    return {**{f"{role}_us": spent[role] / max(1, n[role]) * 1e6 for role in spent},
            **{f"{role}_applied_us": applied[role] / max(1, n[role]) * 1e6 for role in spent}}


def bench_core_bots(seconds: float, pair: tuple[str, str], task_id: str = "task_3", n_matches: int = 256
                    ) -> dict[str, float]:
    """CPU µs per decision of the core house bots (``agents/rl/core_bots.py``) in a batch of ``n_matches``:
    ``CoreBots.act`` on the matches whose seat is on turn, per role, which includes applying the actions (one
    ``CoreBatch.step``; a proposal's texts and ``propose`` in Python). Resets are not counted."""
    import numpy as np

    from fraudarena.agents.rl.core_bots import CoreBots
    from fraudarena.arena.core import CoreBatch
    from fraudarena.arena.core.layout import MI_PHASE, PH_AUDIT, PH_FRAUDSTER, PH_INVESTIGATOR

    batch = CoreBatch(n_matches, n_slots=33)
    bots = CoreBots(batch)
    seed = 0

    def reset(m: int) -> None:
        nonlocal seed
        batch.reset(m, task_id, seed)
        bots.on_reset(m, pair[0], pair[1], {r: bot_seed(task_id, seed, r) for r in ("investigator", "fraudster")})
        seed += 1

    for m in range(n_matches):
        reset(m)
    spent = {"investigator": 0.0, "fraudster": 0.0}
    n = {"investigator": 0, "fraudster": 0}
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        phase = batch.mi[:, MI_PHASE]
        for role, ph in (("investigator", PH_INVESTIGATOR), ("fraudster", PH_FRAUDSTER)):
            ms = np.nonzero(phase == ph)[0]
            t0 = time.process_time()
            bots.act(ms)
            spent[role] += time.process_time() - t0
            n[role] += len(ms)
        for m in np.nonzero(batch.mi[:, MI_PHASE] >= PH_AUDIT)[0]:
            reset(int(m))
    return {f"{role}_us": spent[role] / max(1, n[role]) * 1e6 for role in spent}


def bench_bots(seconds: float) -> list[dict[str, Any]]:
    """Per house-bot kind: µs per decision of the Python bot and of its core twin, and the ratio (same run) of
    decision + apply on both sides."""
    out = []
    for pair in BOT_PAIRS:
        bench_core_bots(0.3, pair)  # compile / warm up
        py = bench_python_bots(seconds, pair)
        core = bench_core_bots(seconds, pair)
        for role, kind in zip(("investigator", "fraudster"), pair, strict=True):
            out.append({"role": role, "kind": kind, "python_us": py[f"{role}_us"],
                        "python_applied_us": py[f"{role}_applied_us"], "core_us": core[f"{role}_us"],
                        "speedup": py[f"{role}_applied_us"] / core[f"{role}_us"]})
    return out


def core_compile_seconds() -> dict[str, float]:
    """Seconds to import and first-call the core's kernels in a fresh process: with an empty numba cache
    (first compile) and with the cache this checkout keeps."""
    import subprocess

    code = ("import time; t=time.perf_counter(); import numpy as np; from fraudarena.arena.core import CoreBatch; "
            "from fraudarena.agents.rl.features import CoreFeatures; b=CoreBatch(2); f=CoreFeatures(b); "
            "b.reset(0,'task_3',1); f.on_reset(0); f.update(); b.masks(); "
            "b.step(np.zeros(2,np.int64), np.zeros(2)); print(time.perf_counter()-t)")
    import os
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "NUMBA_CACHE_DIR": tmp})
        out["first_compile_s"] = float(cold.stdout.strip().splitlines()[-1])
        warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "NUMBA_CACHE_DIR": tmp})
        out["cached_start_s"] = float(warm.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--tasks", default=",".join(TASK_IDS))
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    warm_up()  # load the compiled episode generation first: its ~0.4 s would land in the first loop measured
    for task_id in args.tasks.split(","):
        baseline = run_loop(task_id, PAIRINGS["random"], args.seconds, text=True)
        for name, kinds in PAIRINGS.items():
            res = run_loop(task_id, kinds, args.seconds, text=False)
            rows.append({"task": task_id, "bots": name, **res,
                         "vs_full_obs_random": res["matches_per_s"] / baseline["matches_per_s"]})
        rows.append({"task": task_id, "bots": "random (full text obs, baseline)", **baseline,
                     "vs_full_obs_random": 1.0})
    mem = {"bytes_per_env_after_reset": memory_per_env(), "bytes_per_env_after_match": memory_per_played_env()}
    core = {"rules_only": bench_core(args.seconds, with_features=False),
            "rules_features_masks": bench_core(args.seconds, with_features=True),
            "compile": core_compile_seconds(), "bots": bench_bots(args.seconds)}
    if args.json:
        print(json.dumps({"rows": rows, "memory": mem, "core": core}, indent=2))
        return 0
    print(f"{'task':<14} {'bots':<34} {'matches/s':>10} {'steps/s':>10} {'steps/match':>12} {'x baseline':>10}")
    for r in rows:
        print(f"{r['task']:<14} {r['bots']:<34} {r['matches_per_s']:>10.1f} {r['steps_per_s']:>10.0f} "
              f"{r['steps_per_match']:>12.1f} {r['vs_full_obs_random']:>10.2f}")
    print(f"\nmemory per live task_3 env: {mem['bytes_per_env_after_reset'] / 1024:.1f} KiB after reset, "
          f"{mem['bytes_per_env_after_match'] / 1024:.1f} KiB after a full scripted match")
    print("targets: >= 1000 task_3 matches/s and >= 30000 steps/s with random bots (one core)")
    print("\nbatched core (task_3, 256 matches, random legal Investigator actions, one core):")
    for name, key in (("rules kernels only", "rules_only"), ("rules + features + masks", "rules_features_masks")):
        res = core[key]
        print(f"  {name:<26} {res['decisions_per_cpu_s']:>10.0f} decisions/s in the step loop; with resets "
              f"({res['reset_ms']:.2f} ms each, Python) {res['decisions_per_cpu_s_with_resets']:.0f}/s, "
              f"{res['matches_per_cpu_s']:.0f} matches/s")
    print(f"  kernels: first compile {core['compile']['first_compile_s']:.1f} s, cached start "
          f"{core['compile']['cached_start_s']:.1f} s   (target: >= 100000 decisions/s per core)")
    print("\nhouse bots, CPU µs per decision (task_3; Python: observe + act, and + the referee's apply; core:"
          " CoreBots.act in a batch of 256, action applied):")
    print(f"  {'role':<13} {'kind':<11} {'python':>9} {'+apply':>9} {'core':>9} {'speedup':>8}")
    for r in core["bots"]:
        print(f"  {r['role']:<13} {r['kind']:<11} {r['python_us']:>9.1f} {r['python_applied_us']:>9.1f} "
              f"{r['core_us']:>9.2f} {r['speedup']:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
