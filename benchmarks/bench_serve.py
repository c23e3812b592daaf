"""Benchmark of the served arena: concurrent matches of three bot clients over real sockets.

For each server setup (the single-process uvicorn baseline; Ray Serve with one match per actor;
Ray Serve with K packed matches per actor; variants of those with other settings) and each concurrency
level, N matches are played at once, each by three scripted-bot clients over three WebSockets
(127.0.0.1 only). Reported: complete matches/s, round trips/s, p50/p99 step latency, the calls made to
match hosts per finished match (counted by the replica: coalesced ``handle_batch`` calls, event
long-polls, and the requests inside the batches; Serve adds one directory → actor ``create`` call per
match), memory per live match (``POST``-created idle matches, actor included), the CPU seconds each
group of processes used per finished match (the bot clients, the baseline server, HAProxy, the Serve
replica, the match actors, Ray's own processes), the machine's load average and free memory after each
level, and each figure as a ratio to the baseline measured in the same run. ``--live`` also creates
that many idle live matches on the packed setup and checks a match still plays. ``--k1-search``
finds, on the one-actor-per-match setup, the largest number of concurrent matches that all finish
(doubling, then bisecting, within a time budget). The machine these figures come
from is shared, so the baseline server stays up beside the Serve setups and plays every level just before
and just after each Serve level; ratios divide by the mean of those two (``--unpaired``: by the baseline
setup's level only).

    python benchmarks/bench_serve.py [--json] [--levels 1,50,200] [--packed 10,100] [--proxy haproxy]
    python benchmarks/bench_serve.py --levels 50 --packed 10,100 --skip-k1     # packed setups only
    python benchmarks/bench_serve.py --k1-levels 200 --packed 0                 # 200 matches, one actor each
    python benchmarks/bench_serve.py --levels 50,200 --skip-k1 --variant nocoalesce:coalesce_max=1
    python benchmarks/bench_serve.py --levels 50 --skip-k1 \
        --variant samethread:env.RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0          # a Ray setting
    python benchmarks/bench_serve.py --levels 1 --skip-k1 --packed 0 --k1-search 600   # K=1 capacity
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx

from fraudarena.agents import make_bot
from fraudarena.agents.client import ROLES, RoleClient, my_turn
from fraudarena.arena.rng import bot_seed
from fraudarena.serve.baseline import free_port

BENCH_ARGS = {"rate_per_s": 100000, "rate_burst": 100000, "max_live_matches": 10000, "done_linger_s": 30,
              "idle_ttl_s": 3600, "turn_timeout_s": 600, "create_per_min": 1e9, "create_burst": 100000,
              "debug_calls": True,
              "max_unjoined_matches": 100000}  # the memory probe creates 100 idle matches at once


def mem_available_mib() -> float:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def match_actor_pss_mib(marker: bytes = b"MatchActor") -> list[float]:
    """PSS of every live ``MatchActor`` worker process on this machine (MiB)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if marker not in fh.read():
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        out.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return out


# ----- servers ---------------------------------------------------------------------------------------
class Server:
    def __init__(self, kind: str, args: dict[str, Any], proxy: str = "haproxy", start_timeout_s: float = 600) -> None:
        args = dict(args)
        # ``env.NAME`` keys are environment variables of the server process (and so of its Ray cluster)
        self.env = {k[4:]: str(args.pop(k)) for k in list(args) if k.startswith("env.")}
        self.kind, self.args, self.proxy = kind, dict(BENCH_ARGS, **args), proxy
        self.start_timeout_s = start_timeout_s
        self.port = free_port()
        self.args.setdefault("archive_path", tempfile.mktemp(prefix="bench-", suffix=".sqlite3"))
        self.proc: subprocess.Popen | None = None
        self.startup_s = 0.0

    def __enter__(self) -> Server:
        if self.kind == "baseline":
            cmd = [sys.executable, "-m", "fraudarena.serve.baseline", "--port", str(self.port),
                   "--args", json.dumps(self.args)]
        else:
            code = ("from fraudarena.serve.launcher import serve_command; "
                    f"serve_command(host='127.0.0.1', port={self.port}, proxy={self.proxy!r}, num_cpus=2, "
                    f"arena_args={self.args!r})")
            cmd = [sys.executable, "-c", code]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, env={**os.environ, **self.env})
        deadline = t0 + self.start_timeout_s  # a replica answers once the directory's pool is full
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.http}/api/v1/health", timeout=5).status_code == 200:
                    break
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.__exit__()  # never leave a half-started Ray cluster behind
                raise RuntimeError(f"{self.kind} server did not start within {self.start_timeout_s:.0f} s")
            time.sleep(0.2)
        self.startup_s = time.monotonic() - t0
        return self

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT if self.kind != "baseline" else signal.SIGTERM)
        try:
            self.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.args["archive_path"])


# ----- CPU by process ------------------------------------------------------------------------------------
_CPU_GROUPS = (  # (substring of the command line, group), first match wins; HAProxy goes by its program name
    ("fraudarena.serve.baseline", "baseline server"), ("serve_command", "launcher (Ray driver)"),
    ("ServeReplica", "serve replica"),
    ("ProxyActor", "serve proxy"), ("ServeController", "serve controller"), ("MatchActor", "match actors"),
    ("DirectoryActor", "directory"), ("raylet", "raylet"), ("gcs_server", "gcs"), ("dashboard", "ray dashboard"),
    ("ray::", "other ray workers"), ("ray/", "other ray processes"),
)
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_by_group() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process on the machine, summed per group.

    This process (the benchmark's bot clients) is its own group; processes that match no group are
    summed under "other". Processes that exit between two snapshots take their CPU with them.
    """
    out: dict[str, float] = {}
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if not cmd:
            continue  # kernel threads
        seconds = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
        if int(pid) == me:
            group = "bench clients"
        elif os.path.basename(cmd.split(" ", 1)[0]).startswith("haproxy"):
            group = "haproxy"
        else:
            group = next((g for key, g in _CPU_GROUPS if key in cmd), "other")
        out[group] = out.get(group, 0.0) + seconds
    return out


def cpu_per_match(before: dict[str, float], after: dict[str, float], matches: int) -> dict[str, float]:
    """CPU seconds per finished match, per group, between two ``cpu_by_group`` snapshots (groups < 1 ms dropped)."""
    if not matches:
        return {}
    delta = {g: (after.get(g, 0.0) - before.get(g, 0.0)) / matches for g in after}
    out = {g: round(v, 4) for g, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v >= 0.001}
    out["total"] = round(sum(v for v in delta.values() if v > 0), 4)
    return out


# ----- load --------------------------------------------------------------------------------------------
async def _seat(client: RoleClient, bot: Any, obs: dict[str, Any], lat: list[float]) -> None:
    while not obs.get("done"):
        if my_turn(obs):
            action = bot.act(obs)
            t = time.perf_counter()
            obs = await client.step(action)
            lat.append(time.perf_counter() - t)
            continue
        event = await client.next_event(300)
        if event["kind"] in ("your_turn", "match_done", "turn_timeout"):
            obs = await client.obs()


async def _match(url: str, task_id: str, seed: int, lat: list[float], counter: list[int],
                 reply_timeout: float = 300) -> None:
    clients = {r: RoleClient(url, r, open_timeout=min(120, reply_timeout), reply_timeout=reply_timeout)
               for r in ROLES}
    try:
        for c in clients.values():
            await c.connect()
        obs = {"fraudster": await clients["fraudster"].reset(task_id=task_id, seed=seed)}
        tokens, mid = obs["fraudster"]["seat_tokens"], obs["fraudster"]["match_id"]
        for r in ("investigator", "auditor"):
            obs[r] = await clients[r].join(mid, tokens[r])
        counter[0] += 4
        bots = {r: make_bot("scripted", r, bot_seed(task_id, seed, r)) for r in ROLES}
        await asyncio.wait_for(asyncio.gather(*(_seat(clients[r], bots[r], obs[r], lat) for r in ROLES)),
                               reply_timeout)
        counter[0] += 1
    finally:
        for c in clients.values():
            await c.close()


async def _load(url: str, n: int, rounds: int, task_id: str, reply_timeout: float = 300) -> dict[str, Any]:
    lat: list[float] = []
    counter = [0]
    errors = 0
    kinds: dict[str, int] = {}
    t0 = time.perf_counter()

    async def slot(i: int) -> None:
        nonlocal errors
        for k in range(rounds):
            try:
                await _match(url, task_id, 1000 * i + k, lat, counter, reply_timeout)
            except Exception as exc:  # counted and reported, by kind (exception type and server error code)
                errors += 1
                kind = f"{type(exc).__name__}:{getattr(exc, 'code', '')}".rstrip(":")
                kinds[kind] = kinds.get(kind, 0) + 1

    await asyncio.gather(*(slot(i) for i in range(n)))
    wall = time.perf_counter() - t0
    lat.sort()
    trips = len(lat) + counter[0]
    return {"matches": n * rounds - errors, "errors": errors, "error_kinds": kinds, "wall_s": round(wall, 2),
            "matches_per_s": round((n * rounds - errors) / wall, 2), "round_trips_per_s": round(trips / wall, 1),
            "p50_ms": round(1000 * statistics.median(lat), 2) if lat else None,
            "p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 2) if lat else None}


def memory_per_match(server: Server, n: int, per_actor: int) -> float:
    """MiB of RAM per idle live match (created by POST), its share of an actor process included.

    Matches land on pre-started pooled actors, whose memory the MemAvailable delta does not see, so
    the mean PSS of a match actor process divided by the matches it holds is added.
    """
    if server.kind == "baseline":  # one process: its RSS is the precise figure
        return _rss_per_match(server, n)
    pss = match_actor_pss_mib()
    actor_share = (statistics.mean(pss) / per_actor) if pss else 0.0
    before = mem_available_mib()
    ids = []
    with httpx.Client(timeout=300) as http:
        for _ in range(n):
            r = http.post(f"{server.http}/api/v1/matches", json={"task_id": "task_1"})
            r.raise_for_status()
            ids.append(r.json())
        time.sleep(2.0)  # let freshly started actor processes settle before sampling
        after = mem_available_mib()
        for m in ids:
            http.delete(f"{server.http}/api/v1/matches/{m['match_id']}",
                        headers={"Authorization": f"Bearer {m['admin_token']}"})
    return round((before - after) / n + actor_share, 2)


def drain(server: Server, timeout_s: float = 120.0) -> None:
    """Wait until finished matches have left (done_linger_s) so each level starts from an empty server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{server.http}/api/v1/health", timeout=30).json()["live_matches"] == 0:
            return
        time.sleep(0.5)


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_per_match(server: Server, n: int) -> float:
    assert server.proc is not None
    before = _rss_mib(server.proc.pid)
    with httpx.Client(timeout=300) as http:
        made = [http.post(f"{server.http}/api/v1/matches", json={"task_id": "task_1"}).json() for _ in range(n)]
        after = _rss_mib(server.proc.pid)
        for m in made:
            http.delete(f"{server.http}/api/v1/matches/{m['match_id']}",
                        headers={"Authorization": f"Bearer {m['admin_token']}"})
    return round((after - before) / n, 3)


def host_calls(server: Server) -> dict[str, int]:
    """The replica's call counters (``GET /api/v1/debug/calls``; the bench turns ``debug_calls`` on)."""
    r = httpx.get(f"{server.http}/api/v1/debug/calls", timeout=30)
    r.raise_for_status()
    return r.json()["calls"]


def calls_per_match(before: dict[str, int], after: dict[str, int], matches: int) -> dict[str, Any]:
    """Host calls (batches + polls) per finished match, with the parts."""
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in {*before, *after}}
    per = (lambda v: round(v / matches, 2)) if matches else (lambda v: None)
    return {"calls_per_match": per(delta.get("batches", 0) + delta.get("polls", 0)),
            "batches_per_match": per(delta.get("batches", 0)), "polls_per_match": per(delta.get("polls", 0)),
            "requests_per_match": per(delta.get("requests", 0)),
            "obs_from_events_per_match": per(delta.get("obs_from_events", 0))}


PAIRED_KEYS = ("matches_per_s", "round_trips_per_s", "p50_ms", "p99_ms")


def paired_level(paired: Server, n: int, rounds: int, task_id: str) -> dict[str, Any]:
    """The baseline at level ``n``, played on the baseline server kept up beside the Serve setup."""
    cpu0 = cpu_by_group()
    res = asyncio.run(_load(paired.ws, n, rounds, task_id))
    cpu = cpu_per_match(cpu0, cpu_by_group(), res["matches"])
    drain(paired)
    return {k: res[k] for k in (*PAIRED_KEYS, "errors")} | {"loadavg_1m": round(os.getloadavg()[0], 1),
                                                             "cpu_s_per_match": cpu}


def run_setup(label: str, kind: str, args: dict[str, Any], levels: list[int], proxy: str, task_id: str,
              rounds: int, live: int = 0, start_timeout_s: float = 600, k1_search_s: float = 0,
              k1_search_max: int = 400, paired: Server | None = None) -> dict[str, Any]:
    """Play ``levels`` on one server; with ``paired``, the baseline plays each level just before and just
    after it (the machine is shared: its load moves within minutes, so ratios use these brackets)."""
    out: dict[str, Any] = {"setup": label, "args": args, "levels": {}}
    with Server(kind, args, proxy, start_timeout_s) as server:
        out["startup_s"] = round(server.startup_s, 1)
        asyncio.run(_load(server.ws, 2, 1, task_id))  # warm-up
        drain(server)
        for n in levels:
            before = paired_level(paired, n, rounds, task_id) if paired is not None else None
            calls_before = host_calls(server)
            cpu0 = cpu_by_group()
            res = asyncio.run(_load(server.ws, n, rounds, task_id))
            res["cpu_s_per_match"] = cpu_per_match(cpu0, cpu_by_group(), res["matches"])
            res["loadavg_1m"] = round(os.getloadavg()[0], 1)  # the whole machine's, other tenants included
            res["mem_available_mib"] = round(mem_available_mib())
            drain(server)
            res.update(calls_per_match(calls_before, host_calls(server), res["matches"]))
            if paired is not None and before is not None:
                after = paired_level(paired, n, rounds, task_id)
                res["paired_baseline"] = {"before": before, "after": after} | {
                    k: round((before[k] + after[k]) / 2, 2) for k in PAIRED_KEYS
                    if before[k] is not None and after[k] is not None}
            k = int(args.get("matches_per_actor", 1))
            res["mem_per_match_mib"] = memory_per_match(server, 10 if kind == "serve" and k == 1 else 100, k)
            drain(server)
            out["levels"][n] = res
            print(f"  {label:<28} n={n:<4} {res}", file=sys.stderr, flush=True)
        if live:
            out["live"] = live_capacity(server, live, task_id)
            print(f"  {label:<28} live={live} {out['live']}", file=sys.stderr, flush=True)
        if k1_search_s > 0:
            out["capacity_search"] = capacity_search(server, task_id, k1_search_s, k1_search_max)
    return out


def capacity_search(server: Server, task_id: str, budget_s: float, cap: int, start: int = 25,
                    reply_timeout: float = 90, min_free_mib: float = 3000) -> dict[str, Any]:
    """The largest number of concurrent matches that all finish: double from ``start``, then bisect.

    Each probe plays n matches at once (a match that takes longer than ``reply_timeout`` counts as
    failed; failed matches stay live, holding their actors, and are counted in ``live_after_s60``); the
    search stops when the bracket is within 10 %, ``budget_s`` is spent, ``cap`` is reached or free memory
    falls under ``min_free_mib`` (the machine is shared: never push it into swap).
    """
    t0 = time.monotonic()
    good, bad, n = 0, None, start
    probes = []
    while time.monotonic() - t0 < budget_s:
        res = asyncio.run(_load(server.ws, n, 1, task_id, reply_timeout))
        free = mem_available_mib()
        probes.append({"n": n, "failed": res["errors"], "wall_s": res["wall_s"], "p50_ms": res["p50_ms"],
                       "matches_per_s": res["matches_per_s"], "loadavg_1m": round(os.getloadavg()[0], 1),
                       "mem_available_mib": round(free)})
        drain(server, 60)  # failed matches stay live (idle_ttl_s): do not wait for them
        probes[-1]["live_after_s60"] = httpx.get(f"{server.http}/api/v1/health", timeout=30).json()["live_matches"]
        print(f"  capacity probe n={n} {probes[-1]}", file=sys.stderr, flush=True)
        if res["errors"] == 0:
            good = n
        else:
            bad = n
        if good >= cap or free < min_free_mib:
            break
        if bad is None:
            n = min(cap, 2 * n)
        else:
            if bad - good <= max(2, good // 10):
                break
            n = (good + bad) // 2
    return {"largest_zero_failure": good, "smallest_failing": bad, "probes": probes,
            "search_s": round(time.monotonic() - t0, 1), "budget_s": budget_s, "cap": cap}


def _arena_pss_mib() -> float:
    """PSS of the processes that hold matches (match actors and the directory)."""
    return sum(match_actor_pss_mib()) + sum(match_actor_pss_mib(b"DirectoryActor"))


def live_capacity(server: Server, n: int, task_id: str) -> dict[str, Any]:
    before_pss = _arena_pss_mib()
    before = mem_available_mib()
    t0 = time.monotonic()
    with httpx.Client(timeout=300) as http:
        ids = [http.post(f"{server.http}/api/v1/matches", json={"task_id": task_id}).json() for _ in range(n)]
        created_s = time.monotonic() - t0
        live = http.get(f"{server.http}/api/v1/health").json()["live_matches"]
        after = mem_available_mib()
        after_pss = _arena_pss_mib()
        play = asyncio.run(_load(server.ws, 10, 1, task_id))
        for m in ids:
            http.delete(f"{server.http}/api/v1/matches/{m['match_id']}",
                        headers={"Authorization": f"Bearer {m['admin_token']}"})
    return {"live_matches": live, "create_s": round(created_s, 1), "mem_available_drop_mib": round(before - after, 1),
            "arena_pss_growth_mib": round(after_pss - before_pss, 1),
            "pss_per_match_mib": round((after_pss - before_pss) / max(1, live), 3),
            "play_10_while_live": play}


def ratios(result: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Each figure over the baseline's: the paired baseline runs (mean of before and after) where there are
    some, else the baseline setup's own level; memory always from the baseline setup."""
    out = {}
    for n, res in result["levels"].items():
        b = dict(base["levels"].get(n) or {})
        b.update({k: v for k, v in (res.get("paired_baseline") or {}).items() if k in PAIRED_KEYS})
        if not b:
            continue
        out[n] = {k: round(res[k] / b[k], 2) if b.get(k) and res.get(k) is not None else None
                  for k in ("matches_per_s", "round_trips_per_s", "p50_ms", "p99_ms", "mem_per_match_mib")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--levels", default="10,50,200", help="concurrent matches")
    parser.add_argument("--k1-levels", default=None, help="levels for matches_per_actor=1 (default: --levels)")
    parser.add_argument("--packed", default="100",
                        help="matches_per_actor of the packed setup(s), comma-separated (e.g. 10,100); 0: none")
    parser.add_argument("--proxy", default="haproxy", help="haproxy, default, or both")
    parser.add_argument("--task", default="task_1")
    parser.add_argument("--rounds", type=int, default=1, help="matches played in a row per slot")
    parser.add_argument("--live", type=int, default=0, help="idle live matches to hold on the packed setup")
    parser.add_argument("--skip-k1", action="store_true", help="only the packed Serve setup")
    parser.add_argument("--k1-pool", type=int, default=None,
                        help="pre-started actors of the K=1 setup (default: largest K=1 level + 2); the app answers "
                             "once a few run and fills the rest in the background")
    parser.add_argument("--start-timeout", type=float, default=600, help="seconds a server may take to start")
    parser.add_argument("--skip-baseline", action="store_true", help="no uvicorn baseline (no ratios)")
    parser.add_argument("--variant", action="append", default=[],
                        help="an extra Serve setup NAME:key=value,... (ArenaSettings fields, or env.VAR=value for an "
                             "environment variable of that server's Ray cluster; matches_per_actor defaults to the "
                             "largest --packed K), run at --levels; repeatable")
    parser.add_argument("--k1-search", type=float, default=0,
                        help="seconds for the K=1 capacity search (0: none); runs on its own K=1 server")
    parser.add_argument("--k1-search-max", type=int, default=400, help="largest n the capacity search tries")
    parser.add_argument("--unpaired", action="store_true",
                        help="ratios to the baseline setup's own levels only (no baseline runs beside each level)")
    ns = parser.parse_args()
    levels = [int(x) for x in ns.levels.split(",") if x]
    k1_levels = [int(x) for x in (ns.k1_levels or ns.levels).split(",") if x]
    proxies = ["haproxy", "default"] if ns.proxy == "both" else [ns.proxy]
    packed_ks = [k for k in (int(x) for x in ns.packed.split(",") if x) if k > 1]
    base_levels = sorted(set((levels if packed_ks or ns.variant else []) + ([] if ns.skip_k1 else k1_levels)))
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "mem_available_mib": round(mem_available_mib())},
                              "task": ns.task, "results": []}
    base: dict[str, Any] = {"levels": {}}
    with contextlib.ExitStack() as stack:
        paired = None
        if not ns.skip_baseline:
            print("baseline (uvicorn, in-process matches)", file=sys.stderr)
            base = run_setup("baseline", "baseline", {}, base_levels, "", ns.task, ns.rounds)
            report["results"].append(base)
            if not ns.unpaired:
                paired = stack.enter_context(Server("baseline", {}, "", ns.start_timeout))
        run_serve_setups(ns, report, base, paired, proxies, packed_ks, levels, k1_levels)
    print_report(report, ns.json)


def run_serve_setups(ns: argparse.Namespace, report: dict[str, Any], base: dict[str, Any], paired: Server | None,
                     proxies: list[str], packed_ks: list[int], levels: list[int], k1_levels: list[int]) -> None:
    for proxy in proxies:
        if not ns.skip_k1:
            pool = max(k1_levels) + 2 if ns.k1_pool is None else ns.k1_pool
            k1 = run_setup(f"serve-{proxy}-k1", "serve", {"matches_per_actor": 1, "pool_size": pool}, k1_levels,
                           proxy, ns.task, ns.rounds, start_timeout_s=ns.start_timeout, paired=paired)
            k1["ratio_to_baseline"] = ratios(k1, base)
            report["results"].append(k1)
        for k in packed_ks:
            packed = run_setup(f"serve-{proxy}-k{k}", "serve", {"matches_per_actor": k, "pool_size": 2},
                               levels, proxy, ns.task, ns.rounds, live=ns.live, start_timeout_s=ns.start_timeout,
                               paired=paired)
            packed["ratio_to_baseline"] = ratios(packed, base)
            report["results"].append(packed)
        for spec in ns.variant:
            name, _, kvs = spec.partition(":")
            args = {"matches_per_actor": max(packed_ks or [1]), "pool_size": 2}
            for kv in filter(None, kvs.split(",")):
                key, _, value = kv.partition("=")
                args[key] = value if key.startswith("env.") else json.loads(value)
            var = run_setup(f"serve-{proxy}-{name}", "serve", args, levels, proxy, ns.task, ns.rounds,
                            start_timeout_s=ns.start_timeout, paired=paired)
            var["ratio_to_baseline"] = ratios(var, base)
            report["results"].append(var)
        if ns.k1_search > 0:
            search = run_setup(f"serve-{proxy}-k1-capacity", "serve",
                               {"matches_per_actor": 1, "pool_size": 25}, [], proxy,
                               ns.task, ns.rounds, start_timeout_s=ns.start_timeout, k1_search_s=ns.k1_search,
                               k1_search_max=ns.k1_search_max)
            report["results"].append(search)


def print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, indent=2))
        return
    for res in report["results"]:
        print(f"{res['setup']} (startup {res['startup_s']} s)")
        for n, row in res["levels"].items():
            ratio = res.get("ratio_to_baseline", {}).get(n, {})
            print(f"  n={n:<4} matches/s {row['matches_per_s']:<7} trips/s {row['round_trips_per_s']:<8} "
                  f"p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  mem/match {row['mem_per_match_mib']} MiB  "
                  f"calls/match {row.get('calls_per_match')} (polls {row.get('polls_per_match')})  "
                  f"errors {row['errors']}" + (f" {row['error_kinds']}" if row.get("error_kinds") else "")
                  + (f"  ratio {ratio}" if ratio else ""))
            if row.get("cpu_s_per_match"):
                print(f"         CPU s / match: {row['cpu_s_per_match']}")
        if "live" in res:
            print(f"  live: {res['live']}")
        if "capacity_search" in res:
            cs = res["capacity_search"]
            print(f"  K=1 capacity: {cs['largest_zero_failure']} live matches with zero failures "
                  f"(smallest failing {cs['smallest_failing']}, {cs['search_s']} s)")


if __name__ == "__main__":
    main()
