"""The GCS's memory against the number of actor calls, by ``RAY_task_events_max_num_task_in_gcs`` (issue 10).

Every actor call is a task, and the GCS keeps the events of the last N tasks (Ray's default N: 100,000). A
served arena makes hundreds of actor calls per match, so this table is what the soak's ``gcs_server`` growth
is made of. For each bound, a fresh local Ray (its own process, 2 CPUs, no dashboard) takes ``--blocks``
blocks of ``--calls`` trivial calls on one async actor, and the GCS's RSS is read after each block (1 s
after, so the last events have been reported). Local only; stops by itself.

    python benchmarks/gcs_task_events.py [--bounds default,10000,2000] [--blocks 12] [--calls 5000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

ENV = "RAY_task_events_max_num_task_in_gcs"


def _gcs_rss_mib() -> float | None:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if not fh.read().split(b"\0")[0].endswith(b"gcs_server"):
                    continue
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return None


def probe(blocks: int, calls: int) -> list[dict[str, float]]:
    """Run in a fresh process: start a local Ray, make the calls, return (calls so far, GCS RSS) per block."""
    import ray

    @ray.remote(num_cpus=0)
    class Echo:
        async def echo(self, x: int) -> int:
            return x

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actor = Echo.remote()
        ray.get(actor.echo.remote(0))
        rows = [{"calls": 0, "gcs_rss_mib": round(_gcs_rss_mib() or 0.0, 1)}]
        for b in range(blocks):
            ray.get([actor.echo.remote(i) for i in range(calls)])
            time.sleep(1.0)
            rows.append({"calls": (b + 1) * calls, "gcs_rss_mib": round(_gcs_rss_mib() or 0.0, 1)})
        return rows
    finally:
        ray.shutdown()


def run(bounds: list[str], blocks: int, calls: int) -> dict[str, Any]:
    out = {}
    for bound in bounds:
        env = {k: v for k, v in os.environ.items() if k != ENV and k != "RAY_ADDRESS"}
        if bound != "default":
            env[ENV] = bound
        code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
                f"import gcs_task_events as g; print('ROWS', json.dumps(g.probe({blocks}, {calls})))")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("ROWS ")), None)
        if line is None:
            raise RuntimeError(f"probe with {ENV}={bound} failed:\n{proc.stderr[-2000:]}")
        out[bound] = json.loads(line[5:])
    return {"calls_per_block": calls, "blocks": blocks, "by_bound": out}


def print_table(res: dict[str, Any]) -> None:
    bounds = list(res["by_bound"])
    print(f"GCS RSS (MiB) after N actor calls, by {ENV}")
    print(f"{'calls':>8} " + " ".join(f"{b:>10}" for b in bounds))
    for i, row in enumerate(res["by_bound"][bounds[0]]):
        print(f"{row['calls']:>8} " + " ".join(f"{res['by_bound'][b][i]['gcs_rss_mib']:>10}" for b in bounds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bounds", default="default,10000,2000", help="comma-separated; 'default' = Ray's own")
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--calls", type=int, default=5000, help="actor calls per block")
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args(argv)
    res = run(ns.bounds.split(","), ns.blocks, ns.calls)
    if ns.json:
        print(json.dumps(res, indent=1))
    else:
        print_table(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
