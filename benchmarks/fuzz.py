"""Fuzzing every endpoint of the served arena at scale (issue 10): inputs tried, server faults, leaks.

The generators and checks are those of the default test run's fuzz suite (``tests/helpers/fuzz_inputs.py``,
``tests/serve/test_fuzz.py``), here with ``--per-type`` inputs (default 100,000) on each endpoint type:
role sockets ``/ws/<role>``, the OpenEnv ``/ws``, REST (``/api/v1`` and the root routes, every method) and
``POST /mcp``, all at once over real loopback connections. The server runs in its own process: the
single-process app under uvicorn (default) or Ray Serve (``--serve``, started as ``benchmarks/bench_serve.py``
does, HAProxy ingress).

Reported per endpoint type: inputs tried, connections, server faults (a 5xx, an untyped or undocumented error,
an undocumented close code, a socket dropped without a close frame, an unanswered request) and the answers by
kind. For the server: errors in its log (uvicorn's "Exception in ASGI application", tracebacks; baseline
only), and leaks measured after each part of the run (``--parts``, two halves by default), once the short TTLs
have archived the fuzzer's matches: live matches and open connections against their baseline, and the server's
RSS (flat over the last part = no leak). ``--debug-memory`` turns on the server's heap tracing and reports where
the Python heap grew after the first part, with the fill of the bounded memo caches.
Loopback only, bounded by the input counts, stops by itself.

    python benchmarks/fuzz.py [--per-type 100000] [--workers 8] [--seed 1] [--json]
    python benchmarks/fuzz.py --per-type 20000 --serve          # through Ray Serve
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))
import fuzz_inputs as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import debug_memory_report, heap_summary, print_heap

from fraudarena.serve.baseline import free_port

LOG_FAULT_MARKERS = ("Exception in ASGI application", "Traceback (most recent call last)", "ERROR:")


class BaselineServer:
    """``python -m fraudarena.serve.baseline`` in a subprocess on 127.0.0.1, its stderr kept in a file."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.port = free_port()
        self.tmp = tempfile.TemporaryDirectory(prefix="fuzz-")
        self.args = dict(args, archive_path=str(Path(self.tmp.name) / "archive.sqlite3"))
        self.log_path = Path(self.tmp.name) / "server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def server_pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def __enter__(self) -> BaselineServer:
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "fraudarena.serve.baseline", "--port", str(self.port),
                                      "--args", json.dumps(self.args)], stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.http}/api/v1/health", timeout=5).status_code == 200:
                    return self
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError("baseline server did not start")
            time.sleep(0.1)

    def log_faults(self) -> list[str]:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [ln for ln in lines if any(m in ln for m in LOG_FAULT_MARKERS)]

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.tmp.cleanup()


class ServeServer:
    """Ray Serve with HAProxy, started as ``benchmarks/bench_serve.py`` does (its ``Server``)."""

    def __init__(self, args: dict[str, Any]) -> None:
        from bench_serve import Server  # benchmarks/ is on sys.path when this file runs as a script

        self.inner = Server("serve", dict(args, matches_per_actor=100, pool_size=2))

    @property
    def port(self) -> int:
        return self.inner.port

    @property
    def http(self) -> str:
        return self.inner.http

    @property
    def ws(self) -> str:
        return self.inner.ws

    def server_pids(self) -> list[int]:
        """The Serve replica and the match actors (by their process titles)."""
        out = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as fh:
                    cmd = fh.read()
                    if b"ServeReplica" in cmd or b"MatchActor" in cmd:
                        out.append(int(pid))
        return out

    def log_faults(self) -> list[str]:
        return []  # replica logs live under Ray's session directory; client-side checks still apply

    def __enter__(self) -> ServeServer:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.inner.__exit__(*exc)


def server_rss_mib(server) -> float:
    total = 0.0
    for pid in server.server_pids():
        with contextlib.suppress(OSError):
            total += F.rss_mib(pid)
    return round(total, 1)


def server_fds(server) -> int | None:
    if not isinstance(server, BaselineServer) or server.proc is None:
        return None
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def probe(server, base_live: int, drain_s: float) -> dict[str, Any]:
    """After a half: wait for the fuzzer's matches to be archived and its sockets closed, then measure."""
    live = F.wait_live_matches(server.http, base_live, drain_s)
    conns = F.wait_connections(server.port, 0, 30)
    time.sleep(0.5)
    return {"live_matches": live, "open_connections": conns, "rss_mib": server_rss_mib(server),
            "fds": server_fds(server)}


def run(per_type: int, workers: int, seed: int, serve: bool, drain_s: float, parts: int = 2,
        debug_memory: bool = False) -> dict[str, Any]:
    args = dict(F.FUZZ_ARGS, debug_memory=debug_memory)
    server_cls = ServeServer if serve else BaselineServer
    heap: dict[str, Any] | None = None
    with server_cls(args) as server:
        base_live = F.live_matches(server.http)
        before = probe(server, base_live, drain_s)
        halves = []
        totals = {k: F.Tally() for k in F.ENDPOINT_TYPES}
        t0 = time.perf_counter()
        for part in range(parts):
            n = per_type // parts + (per_type % parts if part == parts - 1 else 0)
            th = time.perf_counter()
            tallies = asyncio.run(F.fuzz(server.ws, server.http, dict.fromkeys(F.ENDPOINT_TYPES, n),
                                         seed=seed * 10 + part, workers=workers))
            wall = time.perf_counter() - th
            for k, t in tallies.items():
                totals[k].merge(t)
            halves.append({"wall_s": round(wall, 1), "inputs_per_s": round(4 * n / wall, 1),
                           **probe(server, base_live, drain_s)})
            if debug_memory and part == 0:
                debug_memory_report(server.http, baseline=True)  # the heap after the first part is the baseline
        wall = time.perf_counter() - t0
        if debug_memory:
            report = debug_memory_report(server.http, baseline=False)
            heap = {**heap_summary(report), "caches": report.get("caches")} if report else None
        # The server still plays a normal match after all that.
        finals = asyncio.run(F.normal_match(server.ws, 3))
        still_serves = all(f["done"] for f in finals.values())
        log_faults = server.log_faults()
        after_match = probe(server, base_live, drain_s)
    faults = sum(t.faults for t in totals.values()) + len(log_faults)
    leaks = {"live_matches": halves[-1]["live_matches"] - base_live,
             "open_connections": halves[-1]["open_connections"],
             "rss_growth_last_part_mib": round(halves[-1]["rss_mib"] - halves[-2]["rss_mib"], 1)}
    return {"server": "serve" if serve else "baseline", "per_type": per_type, "workers": workers, "seed": seed,
            "parts": parts, "wall_s": round(wall, 1), "endpoints": {k: t.as_dict() for k, t in totals.items()},
            "server_log_faults": len(log_faults), "server_log_samples": log_faults[:10],
            "faults": faults, "before": before, "halves": halves, "after_normal_match": after_match,
            "leaks": leaks, "still_serves": still_serves, "heap_after_first_part": heap,
            "load_avg": os.getloadavg()}


def print_table(res: dict[str, Any]) -> None:
    print(f"server: {res['server']}, {res['per_type']:,} inputs per endpoint type, {res['workers']} workers each, "
          f"seed {res['seed']}, {res['wall_s']} s")
    print(f"{'endpoint':<12} {'tried':>9} {'conns':>7} {'faults':>7}  top answers")
    for kind, t in res["endpoints"].items():
        top = ", ".join(f"{k} {v}" for k, v in list(t["answers"].items())[:6])
        print(f"{kind:<12} {t['tried']:>9,} {t['connections']:>7,} {t['faults']:>7}  {top}")
        for s in t["fault_samples"][:3]:
            print(f"    fault: {s}")
    print(f"server log errors: {res['server_log_faults']}")
    for s in res["server_log_samples"][:3]:
        print(f"    {s}")
    b = res["before"]
    print(f"{'':<22} {'live':>6} {'conns':>6} {'RSS MiB':>8} {'fds':>5} {'inputs/s':>9}")
    print(f"{'before':<22} {b['live_matches']:>6} {b['open_connections']:>6} {b['rss_mib']:>8} {b['fds']!s:>5}")
    for name, h in ((f"after part {i + 1}/{res['parts']}", h) for i, h in enumerate(res["halves"])):
        print(f"{name:<22} {h['live_matches']:>6} {h['open_connections']:>6} {h['rss_mib']:>8} {h['fds']!s:>5} "
              f"{h['inputs_per_s']:>9}")
    a = res["after_normal_match"]
    print(f"{'after a normal match':<22} {a['live_matches']:>6} {a['open_connections']:>6} {a['rss_mib']:>8} "
          f"{a['fds']!s:>5}")
    print(f"faults: {res['faults']}; leaks: {res['leaks']}; plays a normal match afterwards: {res['still_serves']}; "
          f"load average {tuple(round(x, 1) for x in res['load_avg'])}")
    if heap := res.get("heap_after_first_part"):
        print_heap("server (baseline: the end of part 1)", heap)
        print(f"  server tables at the end: {heap.get('caches')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-type", type=int, default=100_000, help="inputs per endpoint type (all four at once)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent clients per endpoint type")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help="fuzz Ray Serve (HAProxy) instead of the baseline")
    parser.add_argument("--drain-s", type=float, default=60.0, help="how long leaked-looking matches may take to go")
    parser.add_argument("--parts", type=int, default=2,
                        help="split the inputs into this many parts, measuring leaks after each (at least 2)")
    parser.add_argument("--debug-memory", action="store_true",
                        help="trace the server's Python heap; report where it grew after the first part")
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args(argv)
    if ns.parts < 2:
        parser.error("--parts must be at least 2")
    res = run(ns.per_type, ns.workers, ns.seed, ns.serve, ns.drain_s, ns.parts, ns.debug_memory)
    print(json.dumps(res, indent=1) if ns.json else "", end="\n" if ns.json else "")
    if not ns.json:
        print_table(res)
    ok = res["faults"] == 0 and res["leaks"]["live_matches"] == 0 and res["leaks"]["open_connections"] == 0
    return 0 if ok and res["still_serves"] else 1


if __name__ == "__main__":
    sys.exit(main())
