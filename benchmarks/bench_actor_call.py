"""CPU per Ray actor call, by Ray setting (issue 11): what each served move pays for its actor call.

The served arena's cost is per actor call (docs/operations.md#capacity-per-node-and-what-to-watch), so this
measures one in isolation. For each setting, a fresh local Ray (its own process, 2 CPUs, no dashboard) starts
one async actor; the driver awaits ``--calls`` calls one after the other from an asyncio loop (as a Serve
replica does), each carrying a ~``--payload``-byte request list and answering a dict of that size. Reported:
CPU ms per call summed over every process of that Ray (driver, actor, raylet, GCS and the rest, read from
``/proc`` before and after), the CPU of the driver and of the actor apart, and p50 latency. The settings:

- ``default``: Ray's defaults.
- ``method_no_events``: the method is declared ``@ray.method(enable_task_events=False)``, as the match actor's
  hot-path methods are (``cluster/match_actor.py``).
- ``env_no_events``: ``RAY_task_events_report_interval_ms=0`` for the whole cluster.
- ``env_no_metrics``: ``RAY_enable_metrics_collection=0`` for the whole cluster.

Settings run interleaved, ``--repeats`` times each, so a busy box affects them alike; read the ratios to
``default``. Local only; stops by itself.

    python benchmarks/bench_actor_call.py [--calls 3000] [--repeats 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

#: name -> (environment of that Ray cluster, whether the called method records task events)
SETTINGS: dict[str, tuple[dict[str, str], bool]] = {
    "default": ({}, True),
    "method_no_events": ({}, False),
    "env_no_events": ({"RAY_task_events_report_interval_ms": "0"}, True),
    "env_no_metrics": ({"RAY_enable_metrics_collection": "0"}, True),
}


def _cpu_s(pids: list[int]) -> dict[int, float]:
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        except OSError:
            continue
    return out


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def probe(calls: int, payload: int, method_events: bool) -> dict[str, float]:
    """Run in a fresh process: start a local Ray, make the calls, return CPU and latency figures."""
    import asyncio

    import ray

    @ray.remote(num_cpus=0)
    class Host:
        async def pid(self) -> int:
            return os.getpid()

        @ray.method(enable_task_events=method_events)
        async def handle_batch(self, requests: list[Any]) -> dict[str, Any]:
            return {"results": [{"obs": "x" * payload}], "n": len(requests)}

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actor = Host.remote()
        actor_pid = ray.get(actor.pid.remote())
        request = [["step", "m1", "investigator", {"action_type": "end_turn", "pad": "y" * payload}]]

        async def run(n: int) -> list[float]:
            lat = []
            for _ in range(n):
                t0 = time.perf_counter()
                await actor.handle_batch.remote(request)
                lat.append(time.perf_counter() - t0)
            return lat

        asyncio.run(run(300))  # warm up
        time.sleep(1.0)
        pids = _descendants(os.getpid())
        before = _cpu_s(pids)
        lat = asyncio.run(run(calls))
        time.sleep(1.0)  # the last task events and metrics are flushed within a second
        after = _cpu_s(pids)
        spent = {p: after[p] - before[p] for p in after if p in before}
        total = sum(spent.values())
        return {"cpu_ms_per_call": total / calls * 1e3,
                "driver_cpu_ms_per_call": spent.get(os.getpid(), 0.0) / calls * 1e3,
                "actor_cpu_ms_per_call": spent.get(actor_pid, 0.0) / calls * 1e3,
                "p50_ms": statistics.median(lat) * 1e3}
    finally:
        ray.shutdown()


def run_setting(name: str, calls: int, payload: int) -> dict[str, float]:
    extra_env, method_events = SETTINGS[name]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(extra_env)
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import bench_actor_call as b; "
            f"print('ROW', json.dumps(b.probe({calls}, {payload}, {method_events})))")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("ROW ")), None)
    if line is None:
        raise RuntimeError(f"setting {name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(line[4:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per run")
    parser.add_argument("--payload", type=int, default=4000, help="bytes in each request and answer")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each setting, interleaved")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = args.settings.split(",")
    runs: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            runs[name].append(run_setting(name, args.calls, args.payload))
    keys = ("cpu_ms_per_call", "driver_cpu_ms_per_call", "actor_cpu_ms_per_call", "p50_ms")
    rows = [{"setting": n, **{k: statistics.mean(r[k] for r in runs[n]) for k in keys}, "runs": runs[n]}
            for n in names]
    base = next((r for r in rows if r["setting"] == "default"), rows[0])
    for r in rows:
        r["cpu_vs_default"] = r["cpu_ms_per_call"] / base["cpu_ms_per_call"]
    if args.json:
        print(json.dumps({"calls": args.calls, "payload": args.payload, "repeats": args.repeats, "rows": rows},
                         indent=2))
        return 0
    print(f"{'setting':<18} {'CPU ms/call':>12} {'driver':>8} {'actor':>8} {'p50 ms':>8} {'x default':>10}")
    for r in rows:
        print(f"{r['setting']:<18} {r['cpu_ms_per_call']:>12.3f} {r['driver_cpu_ms_per_call']:>8.3f} "
              f"{r['actor_cpu_ms_per_call']:>8.3f} {r['p50_ms']:>8.2f} {r['cpu_vs_default']:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
