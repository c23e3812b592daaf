"""Recovery times of the served arena's faults (docs/operations.md#faults-and-recovery), on real Ray + Serve.

Starts a local Ray and Serve (Serve's default proxy) on 127.0.0.1 with one arena, then repeats each fault
``--repeats`` times against a match played by a ``RoleClient`` (the Fraudster seat, the other two seats
house bots) and reports, per fault, the seconds from the fault to the client's first answered request:

* ``actor_kill``: SIGKILL of the match's MatchActor; the next ``step`` (same ``seq`` as an acknowledged one,
  so the answer is a duplicate) is answered by the rebuilt match (journal replay on another actor);
* ``replica_kill``: SIGKILL of the Serve replica; the client reconnects by itself (backoff), rejoins with
  its token without ``takeover`` and gets its ``obs`` answered;
* ``history_stall``: SIGSTOP of the HistoryActor; how long ``GET /api/v1/health`` (``degraded``) and
  ``GET /api/v1/archive`` (503 ``unavailable``) take to answer (``history_timeout_s`` = 1 s here).

The baseline measured in the same run is a plain ``step`` round trip (p50). Loopback only; bounded (every
wait has a timeout); stops by itself.

    python benchmarks/faults.py [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import tempfile
import time
from typing import Any

import httpx


def _pid(actor_id: str) -> int:
    from ray._private import state

    return int(state.actors(actor_id)["Pid"])


def _replica_pid(instance: str) -> int:
    from ray._private import state

    pids = [int(a["Pid"]) for a in state.actors().values()
            if a.get("State") == "ALIVE" and "REPLICA" in a.get("Name", "") and instance in a.get("Name", "")]
    assert len(pids) == 1, pids
    return pids[0]


async def _seated(ws: str) -> Any:
    from fraudarena.agents.client import RoleClient

    client = RoleClient(ws, "fraudster", reply_timeout=120.0)
    await client.connect()
    await client.reset(task_id="task_1", house_bots={"investigator": "scripted", "auditor": "scripted"})
    return client


async def run(repeats: int) -> dict[str, Any]:
    import ray
    from ray import serve

    from fraudarena.cluster import local_ray, naming
    from fraudarena.serve.baseline import free_port
    from fraudarena.serve.deployment import build_app
    from fraudarena.served.settings import ArenaSettings

    local_ray.start(num_cpus=2)
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="fraudarena-faults-")
    cfg = {"instance": "bench-faults", "archive_path": f"{tmp}/a.sqlite3", "pool_size": 2, "history_timeout_s": 1.0,
           "long_poll_s": 5.0}
    settings = ArenaSettings(**cfg)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(cfg), name=cfg["instance"], route_prefix="/")
    http, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=30) as api:
        deadline = time.monotonic() + 120
        while (await api.get(f"{http}/api/v1/health")).status_code != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    directory = naming.directory_handle(settings, create=False)
    out: dict[str, list[float]] = {"step_p50_baseline": [], "actor_kill": [], "replica_kill": [],
                                   "history_stall_health": [], "history_stall_archive": []}
    try:
        steps = []
        for _ in range(repeats):
            client = await _seated(ws)
            seq = 0
            for _ in range(2):  # task_1 ends after a few Fraudster turns
                seq += 1
                t = time.perf_counter()
                await client.step({"action_type": "end_turn"}, seq)
                steps.append(time.perf_counter() - t)
            handle = await directory.lookup.remote(client.match_id)
            os.kill(_pid(handle._actor_id.hex()), signal.SIGKILL)
            t0 = time.perf_counter()
            answer = await client.step({"action_type": "end_turn"}, seq)  # acknowledged already: a duplicate
            out["actor_kill"].append(time.perf_counter() - t0)
            assert answer.get("duplicate") is True, answer
            await client.close()
        out["step_p50_baseline"].append(statistics.median(steps))
        for _ in range(repeats):
            client = await _seated(ws)
            await client.step({"action_type": "end_turn"}, 1)
            os.kill(_replica_pid(cfg["instance"]), signal.SIGKILL)
            t0 = time.perf_counter()
            await client.obs()  # reconnects, rejoins (no takeover), then answers
            out["replica_kill"].append(time.perf_counter() - t0)
            assert client.reconnects == 1
            await client.close()
        history = naming.history_handle(settings, create=False)
        for _ in range(repeats):
            pid = _pid(history._actor_id.hex())
            os.kill(pid, signal.SIGSTOP)
            try:
                async with httpx.AsyncClient(timeout=30) as api:
                    t0 = time.perf_counter()
                    health = (await api.get(f"{http}/api/v1/health")).json()
                    out["history_stall_health"].append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    archive = await api.get(f"{http}/api/v1/archive")
                    out["history_stall_archive"].append(time.perf_counter() - t0)
            finally:
                os.kill(pid, signal.SIGCONT)
            assert health["status"] == "degraded" and archive.status_code == 503, (health, archive.text)
            async with httpx.AsyncClient(timeout=30) as api:
                deadline = time.monotonic() + 60
                while (await api.get(f"{http}/api/v1/health")).json()["status"] != "ok":
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
        stats = await directory.stats.remote()
    finally:
        serve.shutdown()
        naming.kill_instance(settings)
        ray.shutdown()
    return {"seconds": out, "rebuilt": stats["rebuilt"], "lost": stats["lost"], "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.repeats))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    base = result["seconds"]["step_p50_baseline"][0]
    print(f"{'fault (seconds to the first answer)':<40}{'median':>9}{'max':>9}{'x step p50':>12}")
    for name, values in result["seconds"].items():
        med = statistics.median(values)
        print(f"{name:<40}{med:>9.3f}{max(values):>9.3f}{med / base:>12.1f}")
    print(f"matches rebuilt: {result['rebuilt']}, lost: {result['lost']} (repeats: {result['repeats']})")


if __name__ == "__main__":
    main()
