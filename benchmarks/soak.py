"""Soak test of the served arena: continuous matches over real sockets through Ray Serve (issue 10).

Ray Serve (HAProxy ingress) is started as ``benchmarks/bench_serve.py`` does; ``--matches N`` task_1 matches
are then started at an even pace over ``--minutes M`` (one every M*60/N s, at most ``--concurrency`` at
once), each played by three scripted-bot clients (``agents/client.py``) over three WebSockets on 127.0.0.1.
Reported per minute: matches completed, errors (by kind), p50/p99 step latency, and memory: the Serve
replica's RSS, the match actors' (count and total RSS), and the total RSS of every process of the server's
session (Ray's own included). At the end: every completed match is in the archive, the live match count is
back to zero, and memory growth from the end of the first minutes (warm-up, ``--warmup-min``) to the end.
Loopback only; stops by itself (the run is bounded by N and M; a match has ``--match-timeout-s``).

    python benchmarks/soak.py --matches 200 --minutes 10 [--concurrency 20] [--packed 1] [--json]
    python benchmarks/soak.py --matches 20 --minutes 1        # a quick look
    python benchmarks/soak.py --server baseline ...            # the same app in one process, no Ray

``--server baseline`` plays the same load against the single-process app (uvicorn, matches held in-process):
every match, seat and cache then lives in one Python process, so its memory is our code's alone, apart
from Ray's processes.

``--debug-memory`` turns on allocation tracing (``debug_memory``) in the replica, the directory
and every match actor: each heap is baselined at the end of the warm-up and the report adds each Python heap's
growth after it, the allocation sites that grew most and the fill of the memo caches
(``GET /api/v1/debug/memory``), to tell our objects from Ray's own memory. Tracing every process is slow (step
latency about 5× here), so read memory, not latency, from such a run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import Server, _seat

from fraudarena.agents import make_bot
from fraudarena.agents.client import ROLES, RoleClient
from fraudarena.arena.rng import bot_seed

SOAK_ARGS = {"done_linger_s": 5.0, "archive_capacity": 100_000}


# ----- memory ------------------------------------------------------------------------------------------
def _read(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode(errors="replace")


def session_processes(sid: int) -> list[tuple[int, str, float]]:
    """(pid, command line, RSS MiB) of every process in session ``sid`` (the server's process tree)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = _read(f"/proc/{pid}/stat")
            if int(stat.rsplit(")", 1)[1].split()[3]) != sid:  # field 6: session id
                continue
            cmd = _read(f"/proc/{pid}/cmdline").replace("\0", " ")
            rss = next(int(ln.split()[1]) / 1024 for ln in _read(f"/proc/{pid}/status").splitlines()
                       if ln.startswith("VmRSS:"))
            out.append((int(pid), cmd, rss))
    return out


_KNOWN = ("gcs_server", "raylet", "dashboard.py", "agent", "log_monitor", "monitor.py", "haproxy")


def process_kind(cmd: str) -> str:
    """A short name for one of the server's processes: the Ray actor's name (``ray::ServeController...`` →
    ``ServeController``), a known Ray daemon, or the program's file name."""
    if cmd.startswith("ray::"):
        return cmd[5:].split()[0].split(".")[0].split(":")[0]
    for name in _KNOWN:
        if name in cmd:
            return name.removesuffix(".py")
    return os.path.basename(cmd.split(" ", 1)[0]) or "?"


def _is_app(cmd: str) -> bool:
    """The process that runs the FastAPI app: the Serve replica, or the single-process baseline."""
    return ("ServeReplica" in cmd and "ArenaIngress" in cmd) or "fraudarena.serve.baseline" in cmd


def memory(sid: int) -> dict[str, Any]:
    procs = session_processes(sid)
    replica = [rss for _, cmd, rss in procs if _is_app(cmd)]
    actors = [rss for _, cmd, rss in procs if "MatchActor" in cmd]
    by_kind: dict[str, float] = {}
    for _, cmd, rss in procs:
        if "MatchActor" not in cmd and not _is_app(cmd):
            kind = process_kind(cmd)
            by_kind[kind] = round(by_kind.get(kind, 0.0) + rss, 1)
    return {"replica_rss_mib": round(sum(replica), 1), "match_actors": len(actors),
            "match_actors_rss_mib": round(sum(actors), 1), "total_rss_mib": round(sum(r for *_, r in procs), 1),
            "processes": len(procs), "others_rss_mib": by_kind}


# ----- load --------------------------------------------------------------------------------------------
class Soak:
    def __init__(self, url: str, match_timeout_s: float) -> None:
        self.url = url
        self.match_timeout_s = match_timeout_s
        self.t0 = time.monotonic()
        self.steps: list[tuple[float, float]] = []  # (time since start, latency s)
        self.done: list[float] = []  # completion times
        self.errors: list[tuple[float, str]] = []
        self.match_ids: list[str] = []
        self.error_samples: list[str] = []
        self.in_flight = 0

    def now(self) -> float:
        return time.monotonic() - self.t0

    async def match(self, seed: int) -> None:
        self.in_flight += 1
        clients = {r: RoleClient(self.url, r, open_timeout=60, reply_timeout=120) for r in ROLES}
        lat: list[float] = []
        stage = "connect"
        try:
            async with asyncio.timeout(self.match_timeout_s):
                for c in clients.values():
                    await c.connect()
                stage = "reset"
                obs = {"fraudster": await clients["fraudster"].reset(task_id="task_1", seed=seed)}
                tokens, mid = obs["fraudster"]["seat_tokens"], obs["fraudster"]["match_id"]
                self.match_ids.append(mid)
                stage = "join"
                for r in ("investigator", "auditor"):
                    obs[r] = await clients[r].join(mid, tokens[r])
                stage = "play"
                bots = {r: make_bot("scripted", r, bot_seed("task_1", seed, r)) for r in ROLES}
                await asyncio.gather(*(_seat(clients[r], bots[r], obs[r], lat) for r in ROLES))
            t = self.now()
            self.done.append(t)
        except Exception as exc:  # counted by kind (stage, exception type, server error code) and reported
            kind = f"{stage}:{type(exc).__name__}:{getattr(exc, 'code', '')}".rstrip(":")
            self.errors.append((self.now(), kind))
            self.error_samples.append(f"{kind}: {exc}"[:300])
        finally:
            t = self.now()
            self.steps.extend((t, x) for x in lat)
            for c in clients.values():
                with contextlib.suppress(Exception):
                    await c.close()
            self.in_flight -= 1


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 1)


def debug_memory_report(http: str, baseline: bool) -> dict[str, Any] | None:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        r = httpx.get(f"{http}/api/v1/debug/memory", params={"baseline": baseline, "top": 8}, timeout=120)
        return r.json() if r.status_code == 200 else None
    return None


def heap_summary(report: dict[str, Any] | None) -> dict[str, Any]:
    """Traced total, growth since the baseline, memo-cache fill and the sites that grew most, of one process."""
    if not report:
        return {}
    return {"traced_kib": report["traced_kib"], "growth_after_warmup_kib": report.get("growth_kib"),
            "memo_caches": report.get("memo_caches"),
            "top_sites": [{"kib": x["kib"], "blocks": x["blocks"], "at": x["traceback"][-3:]}
                          for x in report.get("sites", [])]}


async def run_load(server: Server, n: int, minutes: float, concurrency: int, match_timeout_s: float,
                   sid: int, heap_baseline_min: int | None = None) -> dict[str, Any]:
    soak = Soak(server.ws, match_timeout_s)
    interval = minutes * 60 / n
    per_minute: list[dict[str, Any]] = []
    tasks: set[asyncio.Task] = set()
    started = 0
    skipped = 0
    minute_end = 60.0
    while True:
        now = soak.now()
        if now >= minute_end:
            per_minute.append({"minute": len(per_minute) + 1, "t_s": round(now, 1), **memory(sid),
                               "live_matches": await asyncio.to_thread(_live, server.http)})
            if heap_baseline_min is not None and len(per_minute) == heap_baseline_min:
                await asyncio.to_thread(debug_memory_report, server.http, True)
            minute_end += 60.0
        if started < n and now >= started * interval:
            if soak.in_flight < concurrency:
                tasks.add(asyncio.create_task(soak.match(10_000 + started)))
            else:
                skipped += 1  # the server falls behind: counted, the pace is kept
            started += 1
            continue
        tasks = {t for t in tasks if not t.done()}
        if started >= n and not tasks:
            break
        if now > minutes * 60 + match_timeout_s + 30:  # bounded whatever happens
            for t in tasks:
                t.cancel()
            break
        await asyncio.sleep(0.05)
    end_t = soak.now()
    per_minute.append({"minute": len(per_minute) + 1, "t_s": round(end_t, 1), **memory(sid),
                       "live_matches": await asyncio.to_thread(_live, server.http)})
    prev = 0.0
    for row in per_minute:  # what happened in (prev, row.t_s]
        lo, hi = prev, row["t_s"]
        lat = [x for t, x in soak.steps if lo < t <= hi]
        row.update(completed=sum(lo < t <= hi for t in soak.done),
                   errors=sum(lo < t <= hi for t, _ in soak.errors),
                   steps=len(lat), p50_ms=_pct(lat, 0.5), p99_ms=_pct(lat, 0.99))
        prev = hi
    kinds: dict[str, int] = {}
    for _, k in soak.errors:
        kinds[k] = kinds.get(k, 0) + 1
    all_lat = [x for _, x in soak.steps]
    heap = None
    if heap_baseline_min is not None and (after := await asyncio.to_thread(debug_memory_report, server.http, False)):
        heap = {**heap_summary(after), "caches": after.get("caches")}
        if procs := after.get("processes"):
            heap["directory"] = {**heap_summary(procs.get("directory")), "tables": procs.get("directory_tables")}
            actors = [a for a in procs.get("match_actors", []) if a.get("heap")]
            grown = [a["heap"].get("growth_kib") or 0.0 for a in actors]
            keys = actors[0]["host"] if actors else {}
            heap["match_actors"] = {
                "count": len(actors), "growth_after_warmup_kib": round(sum(grown), 1),
                "host_tables_max": {k: max(a["host"][k] for a in actors) for k in keys},
                "biggest": heap_summary(max(actors, key=lambda a: a["heap"].get("growth_kib") or 0.0)["heap"])
                if actors else None}
    return {"per_minute": per_minute, "python_heap": heap, "completed": len(soak.done), "errors": len(soak.errors),
            "error_kinds": kinds,
            "skipped_for_concurrency": skipped, "p50_ms": _pct(all_lat, 0.5), "p99_ms": _pct(all_lat, 0.99),
            "steps": len(all_lat), "wall_s": round(end_t, 1), "match_ids": soak.match_ids,
            "error_samples": soak.error_samples[:10]}


def _live(http: str) -> int | None:
    with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
        return httpx.get(f"{http}/api/v1/health", timeout=10).json()["live_matches"]
    return None


def archived(http: str, match_ids: list[str]) -> int:
    """How many of ``match_ids`` the archive holds as finished (``done``)."""
    n = 0
    with httpx.Client(base_url=http, timeout=30) as client:
        for mid in match_ids:
            r = client.get(f"/api/v1/matches/{mid}")
            if r.status_code == 200 and r.json().get("status") == "done":
                n += 1
    return n


def run(n: int, minutes: float, concurrency: int, packed: int, match_timeout_s: float, warmup_min: int,
        proxy: str, debug_memory: bool = False, server: str = "serve") -> dict[str, Any]:
    # A journal directory of its own: next to a /tmp archive the default (<archive dir>/journal/<instance>) is
    # shared by every benchmark server on the machine, whose leftover journals a starting directory rebuilds.
    journal_dir = tempfile.mkdtemp(prefix="soak-journal-")
    args = dict(SOAK_ARGS, matches_per_actor=packed, pool_size=4 if packed == 1 else 2, journal_dir=journal_dir,
                instance=f"soak{os.getpid()}", debug_memory=debug_memory)
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, journal_dir, True)
        return _run(args, n, minutes, concurrency, match_timeout_s, warmup_min, proxy, packed, server)


def _run(args: dict[str, Any], n: int, minutes: float, concurrency: int, match_timeout_s: float, warmup_min: int,
         proxy: str, packed: int, kind: str) -> dict[str, Any]:
    with Server(kind, args, proxy=proxy) as server:
        assert server.proc is not None
        sid = server.proc.pid  # start_new_session: the server's whole process tree has this session id
        before = memory(sid)
        res = asyncio.run(run_load(server, n, minutes, concurrency, match_timeout_s, sid,
                                   max(1, warmup_min) if args.get("debug_memory") else None))
        deadline = time.monotonic() + SOAK_ARGS["done_linger_s"] + 60
        while (_live(server.http) or 0) > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        res["live_after"] = _live(server.http)
        res["archived_done"] = archived(server.http, res["match_ids"])
        res["after"] = memory(sid)
        res["startup_s"] = round(server.startup_s, 1)
    res.pop("match_ids")
    res["before"] = before
    rows = res["per_minute"]
    if len(rows) > warmup_min:
        base = rows[warmup_min - 1] if warmup_min > 0 else before
        res["growth_after_warmup_mib"] = {k: round(rows[-1][k] - base[k], 1)
                                          for k in ("replica_rss_mib", "match_actors_rss_mib", "total_rss_mib")}
        last, first = rows[-1]["others_rss_mib"], base["others_rss_mib"]  # the other processes, by kind
        res["others_growth_after_warmup_mib"] = {k: round(last.get(k, 0.0) - first.get(k, 0.0), 1)
                                                 for k in sorted(set(last) | set(first))}
    res.update(matches=n, minutes=minutes, concurrency=concurrency, packed=packed, proxy=proxy, server=kind,
               load_avg=[round(x, 1) for x in os.getloadavg()])
    return res


def print_table(res: dict[str, Any]) -> None:
    where = (f"Serve + {res['proxy']}, matches_per_actor {res['packed']}" if res["server"] == "serve"
             else "the single-process baseline (no Ray)")
    print(f"soak: {res['matches']} task_1 matches over {res['minutes']} min (at most {res['concurrency']} at once), "
          f"{where}, startup {res['startup_s']} s")
    print(f"{'min':>4} {'done':>5} {'err':>4} {'steps':>6} {'p50 ms':>8} {'p99 ms':>8} {'live':>5} {'replica':>8} "
          f"{'actors':>7} {'actors MiB':>11} {'total MiB':>10}")
    for r in res["per_minute"]:
        print(f"{r['minute']:>4} {r['completed']:>5} {r['errors']:>4} {r['steps']:>6} {r['p50_ms']!s:>8} "
              f"{r['p99_ms']!s:>8} {r['live_matches']!s:>5} {r['replica_rss_mib']:>8} {r['match_actors']:>7} "
              f"{r['match_actors_rss_mib']:>11} {r['total_rss_mib']:>10}")
    print(f"completed {res['completed']}, errors {res['errors']} {res['error_kinds'] or ''}, skipped (concurrency cap) "
          f"{res['skipped_for_concurrency']}; p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms over {res['steps']} steps")
    print(f"archived as done: {res['archived_done']} of {res['completed']}; live matches after: {res['live_after']}; "
          f"memory growth after warm-up (MiB): {res.get('growth_after_warmup_mib')}; load average {res['load_avg']}")
    if others := res.get("others_growth_after_warmup_mib"):
        print(f"the server's other processes, growth after warm-up by kind (MiB): {others}")
    if heap := res.get("python_heap"):
        print_heap("replica", heap)
        print(f"  replica tables at the end: {heap.get('caches')}")
        if directory := heap.get("directory"):
            print_heap("directory", directory)
            print(f"  directory tables at the end: {directory.get('tables')}")
        if actors := heap.get("match_actors"):
            print(f"match actors: {actors['count']}, Python heaps grew {actors['growth_after_warmup_kib']} KiB "
                  f"together after warm-up; largest host tables: {actors['host_tables_max']}")
            if actors.get("biggest"):
                print_heap("the actor that grew most", actors["biggest"])


def print_heap(name: str, heap: dict[str, Any]) -> None:
    """One process's :func:`heap_summary`: totals, memo-cache fill, and the sites that grew most."""
    print(f"{name} Python heap: {heap.get('traced_kib')} KiB traced, {heap.get('growth_after_warmup_kib')} KiB grown "
          f"since its baseline; memo caches [entries, bound]: {heap.get('memo_caches')}; sites that grew most:")
    for site in heap.get("top_sites", []):
        print(f"  {site['kib']:>9} KiB {site['blocks']:>6} blocks  {' <- '.join(reversed(site['at']))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matches", type=int, default=200, help="matches to play, started at an even pace")
    parser.add_argument("--minutes", type=float, default=10.0, help="over this many minutes")
    parser.add_argument("--concurrency", type=int, default=20, help="at most this many matches at once")
    parser.add_argument("--packed", type=int, default=1, help="matches_per_actor (1 = the default settings)")
    parser.add_argument("--match-timeout-s", type=float, default=180.0)
    parser.add_argument("--warmup-min", type=int, default=2, help="minutes excluded from the memory growth")
    parser.add_argument("--proxy", default="haproxy", choices=("haproxy", "default"))
    parser.add_argument("--server", default="serve", choices=("serve", "baseline"),
                        help="Ray Serve (the default), or the same app in one process without Ray")
    parser.add_argument("--debug-memory", action="store_true",
                        help="trace the replica's Python allocations and report where its heap grew")
    parser.add_argument("--json", action="store_true")
    ns = parser.parse_args(argv)
    res = run(ns.matches, ns.minutes, ns.concurrency, ns.packed, ns.match_timeout_s, ns.warmup_min, ns.proxy,
              ns.debug_memory, ns.server)
    if ns.json:
        print(json.dumps(res, indent=1))
    else:
        print_table(res)
    ok = res["errors"] == 0 and res["skipped_for_concurrency"] == 0 and res["archived_done"] == res["completed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
