"""Faults of the served arena on real Ray + Serve, real sockets on loopback (docs/operations.md#faults-and-recovery).

* SIGKILL of the MatchActor mid-match: the match is rebuilt from its journal on another actor, the three
  clients are told (``match_restarted``) and play on with their sockets; the finished record equals an
  uninterrupted replay of its actions and starts with every action acknowledged before the kill.
* SIGKILL of the directory (its match actors die with it): Ray restarts it, it rebuilds the match from its
  journal and the clients play on.
* A match whose journal is gone when its actor dies is archived ``lost`` and frees its live slot.
* SIGKILL of the Serve replica: every client reconnects by itself and gets its seat back with a plain
  rejoin (no ``takeover``), and the match finishes; an orphaned OpenEnv seat shows ``disconnected``.
* A finished match is in the archive while it lingers, and stays there when every arena process is killed.
* A stop and restart of the arena mid-match: at the start the match is rebuilt from its journal, the seats
  are taken again with a plain join of their tokens and the match finishes.
* SIGSTOP of the HistoryActor: ``/health`` answers ``degraded`` and ``/archive`` 503 ``unavailable`` fast.

Each fault takes a few seconds to tens of seconds on two shared cores, so the module is ``slow`` (it runs
in CI's slow pass over ``tests/serve``); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import httpx
import pytest
import websockets

from fraudarena.agents import make_bot
from fraudarena.agents.client import ROLES, RoleClient, play_seat
from fraudarena.arena import replay
from fraudarena.arena.rng import bot_seed
from fraudarena.served.archive_store import ArchiveStore
from fraudarena.served.journal import journal_file, read_journal
from tests.serve.conftest import Arena
from tests.serve.serve_helpers import three_socket_match, until

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.serve]

FAULTS = {"instance": "t-faults", "done_linger_s": 30.0, "pool_size": 2, "history_timeout_s": 1.0,
          "long_poll_s": 5.0, "turn_timeout_s": 120.0}


def _start(cfg: dict, arena: Arena) -> None:
    from ray import serve

    from fraudarena.serve.deployment import build_app

    serve.run(build_app(cfg), name=cfg["instance"], route_prefix="/faults")
    until(lambda: _get(arena, "/api/v1/health").status_code == 200, 90, "faults arena healthy")


def _stop(cfg: dict) -> None:
    """What ``fraudarena stop`` after ``serve shutdown`` does: the app and every actor of the instance go."""
    from ray import serve

    from fraudarena.cluster import naming
    from fraudarena.served.settings import ArenaSettings

    serve.delete(cfg["instance"])
    naming.kill_instance(ArenaSettings(**cfg))


@pytest.fixture(scope="module")
def faults(served, tmp_path_factory):
    from ray import serve

    from fraudarena.cluster import naming
    from fraudarena.served.settings import ArenaSettings

    tmp = tmp_path_factory.mktemp("faults")
    cfg = dict(FAULTS, archive_path=str(tmp / "faults.sqlite3"))
    settings = ArenaSettings(**cfg)
    arena = Arena(served["main"].port, "/faults")
    _start(cfg, arena)
    try:
        yield arena, settings, cfg
    finally:
        serve.delete(cfg["instance"])
        naming.kill_instance(settings)


def _get(arena: Arena, path: str, timeout: float = 30.0) -> httpx.Response:
    return httpx.get(arena.http + path, timeout=timeout)


def _pid(actor_id: str) -> int:
    from ray._private import state

    return int(state.actors(actor_id)["Pid"])


def _match_actor_id(settings, match_id: str) -> str:
    import ray

    from fraudarena.cluster import naming

    handle = ray.get(naming.directory_handle(settings, create=False).lookup.remote(match_id), timeout=30)
    assert handle is not None, f"{match_id} has no actor"
    return handle._actor_id.hex()


def _stats(settings) -> dict:
    import ray

    from fraudarena.cluster import naming

    return ray.get(naming.directory_handle(settings, create=False).stats.remote(), timeout=30)


def _replica_pids(instance: str) -> list[int]:
    from ray._private import state

    return [int(a["Pid"]) for a in state.actors().values()
            if a.get("State") == "ALIVE" and "REPLICA" in a.get("Name", "") and instance in a.get("Name", "")]


def _archived(settings, match_id: str) -> dict | None:
    """The archive file's entry for ``match_id``, read from this process (SQLite, as a restart would)."""
    store = ArchiveStore(settings.archive_file(), settings.archive_capacity)
    try:
        return store.get(match_id)
    finally:
        store.close()


class _PausingClient:
    """A seat's client that holds its first move from round ``pause_round`` on until ``resume`` is set.

    A fault injected "mid-match" then lands mid-match however slowly the test's polls are answered: on a
    loaded CI box a poll once outlasted the whole match. Everything but ``step`` and ``obs`` is the client's.
    """

    def __init__(self, client: RoleClient, pause_round: int, resume: asyncio.Event) -> None:
        self._client, self._pause_round, self._resume = client, pause_round, resume
        self._round = 0

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def _seen(self, obs: dict) -> dict:
        self._round = obs.get("round_number", self._round)
        return obs

    async def step(self, action: dict) -> dict:
        if self._round >= self._pause_round:
            await self._resume.wait()
        return self._seen(await self._client.step(action))

    async def obs(self) -> dict:
        return self._seen(await self._client.obs())


def _record_json(record: dict) -> str:
    return json.dumps(record, sort_keys=True)


async def _seated_clients(arena: Arena, seed: int, **params) -> tuple[dict[str, RoleClient], dict, str]:
    clients = {r: RoleClient(arena.ws, r, transcript=True, reply_timeout=90.0) for r in ROLES}
    for c in clients.values():
        await c.connect()
    obs = {"fraudster": await clients["fraudster"].reset(task_id="task_1", seed=seed, **params)}
    mid, toks = obs["fraudster"]["match_id"], obs["fraudster"]["seat_tokens"]
    for r in ("investigator", "auditor"):
        obs[r] = await clients[r].join(mid, toks[r])
    return clients, obs, mid


async def _wait_for_round(arena: Arena, mid: str, round_number: int) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        deadline = time.monotonic() + 60
        while (await http.get(f"{arena.http}/api/v1/matches/{mid}")).json().get("round_number", 0) < round_number:
            assert time.monotonic() < deadline, f"the match did not reach round {round_number}"
            await asyncio.sleep(0.02)


async def _play_with_fault(arena: Arena, seed: int, fault) -> tuple[str, dict[str, RoleClient]]:
    """Three scripted seats play a match; ``fault(match_id)`` runs at round 2 while the seats hold their moves."""
    clients, obs, mid = await _seated_clients(arena, seed)
    bots = {r: make_bot("scripted", r, bot_seed("task_1", seed, r)) for r in ROLES}
    resume = asyncio.Event()
    seats = {r: _PausingClient(clients[r], 2, resume) for r in ROLES}

    async def trigger():
        await _wait_for_round(arena, mid, 2)
        await asyncio.to_thread(fault, mid)
        resume.set()

    try:
        await asyncio.wait_for(asyncio.gather(trigger(), *(play_seat(seats[r], bots[r], obs[r]) for r in ROLES)),
                               240)
    finally:
        for c in clients.values():
            await c.close()
    return mid, clients


def test_match_actor_sigkill_mid_match_rebuilds_it_and_the_seats_play_on(faults):
    arena, settings, _cfg = faults
    before = _stats(settings)
    acked: dict[str, list] = {}

    def kill_actor(mid: str) -> None:
        pid = _pid(_match_actor_id(settings, mid))
        acts = [e for e in read_journal(journal_file(settings.journal_path(ray_default=True), mid))
                if e["t"] == "act"]
        acked["actions"] = [{"role": e["role"], "action": e["action"]} for e in acts]
        os.kill(pid, signal.SIGKILL)

    mid, clients = asyncio.run(_play_with_fault(arena, 21, kill_actor))
    report = _get(arena, f"/api/v1/matches/{mid}/report").json()
    record = report["record"]
    assert report["summary"]["status"] == "done"
    assert _record_json(replay(record).record()) == _record_json(record)
    n = len(acked["actions"])
    assert n >= 3 and [{"role": a["role"], "action": a["action"]} for a in record["actions"][:n]] == acked["actions"]
    assert _stats(settings)["rebuilt"] >= before["rebuilt"] + 1
    told = [r for r, c in clients.items() if any("match_restarted" in raw for raw in c.transcript or [])]
    assert told, "no client was told that the match restarted"


def test_directory_sigkill_mid_match_restarts_it_and_the_match_plays_on(faults):
    """The directory owns the match actors, so they die with it; Ray restarts it and it rebuilds the match."""
    arena, settings, _cfg = faults

    def kill_directory(_mid: str) -> None:
        from fraudarena.cluster import naming

        os.kill(_pid(naming.directory_handle(settings, create=False)._actor_id.hex()), signal.SIGKILL)

    mid, _clients = asyncio.run(_play_with_fault(arena, 25, kill_directory))
    report = _get(arena, f"/api/v1/matches/{mid}/report").json()
    assert report["summary"]["status"] == "done"
    assert _record_json(replay(report["record"]).record()) == _record_json(report["record"])
    assert _stats(settings)["rebuilt"] >= 1  # counted by the restarted directory


def test_a_match_that_cannot_be_rebuilt_is_archived_lost_and_frees_its_slot(faults):
    """Its seated sockets are told with a last ``match_done`` of status ``lost`` (docs/protocol.md#reconnecting)."""
    arena, settings, _cfg = faults

    async def seat_then_lose() -> tuple[str, int, dict[str, dict]]:
        clients, _obs, mid = await _seated_clients(arena, 4)
        try:
            live_before = _get(arena, "/api/v1/health").json()["live_matches"]
            pid = _pid(_match_actor_id(settings, mid))
            journal_file(settings.journal_path(ray_default=True), mid).unlink()
            os.kill(pid, signal.SIGKILL)
            told = await asyncio.gather(*(c.wait_event("match_done", 60) for c in clients.values()))
        finally:
            for c in clients.values():
                await c.close()
        return mid, live_before, dict(zip(clients, told, strict=True))

    mid, live_before, told = asyncio.run(seat_then_lose())
    for role, event in told.items():
        assert (event["status"], event["end_reason"], event["reward"], event["match_id"]) == (
            "lost", "lost", None, mid), role
    summary = until(lambda: (s := _get(arena, f"/api/v1/matches/{mid}").json()).get("status") == "lost" and s,
                    60, "the match archived as lost")
    assert summary["end_reason"] == "lost"
    assert mid not in [m["match_id"] for m in _get(arena, "/api/v1/matches").json()["matches"]]
    assert _get(arena, "/api/v1/health").json()["live_matches"] == live_before - 1


def test_replica_sigkill_clients_reconnect_and_rejoin_without_takeover(faults):
    arena, settings, _cfg = faults

    def kill_replica(_mid: str) -> None:
        pids = _replica_pids(settings.instance)
        assert len(pids) == 1, pids
        os.kill(pids[0], signal.SIGKILL)

    async def scenario():
        # an OpenEnv socket on the same replica: nobody comes back for it
        openenv = await websockets.connect(arena.ws + "/ws")
        await openenv.send(json.dumps({"type": "reset", "data": {"task_id": "task_1", "seed": 5}}))
        oe_mid = json.loads(await asyncio.wait_for(openenv.recv(), 60))["data"]["observation"]["match_id"]
        seats = _get(arena, f"/api/v1/matches/{oe_mid}").json()["seats"]
        assert seats["investigator"] == "connected"
        mid, clients = await _play_with_fault(arena, 22, kill_replica)
        async with httpx.AsyncClient(timeout=30) as http:
            deadline = time.monotonic() + 30
            while (await http.get(f"{arena.http}/api/v1/matches/{oe_mid}")).json()["seats"]["investigator"] \
                    != "disconnected":
                assert time.monotonic() < deadline, "the orphaned OpenEnv seat still shows connected"
                await asyncio.sleep(0.2)
        await openenv.close()
        return mid, clients

    mid, clients = asyncio.run(scenario())
    assert all(c.reconnects >= 1 for c in clients.values()), {r: c.reconnects for r, c in clients.items()}
    report = _get(arena, f"/api/v1/matches/{mid}/report").json()
    assert report["summary"]["status"] == "done"
    assert _record_json(replay(report["record"]).record()) == _record_json(report["record"])


def test_finished_match_is_archived_at_once_and_survives_killing_every_arena_process(faults):
    import ray

    from fraudarena.cluster import naming

    arena, settings, _cfg = faults
    finals, _ = asyncio.run(three_socket_match(arena.ws, "task_1", 23))
    mid = finals["fraudster"]["match_id"]
    live = _get(arena, f"/api/v1/matches/{mid}").json()
    assert live["status"] == "done"  # still lingering on its actor (done_linger_s = 30) ...
    assert mid in [m["match_id"] for m in _get(arena, "/api/v1/matches").json()["matches"]]
    entry = until(lambda: _archived(settings, mid), 10, "the finished match in the archive file")  # ... archived
    assert entry["summary"]["status"] == "done"
    # kill the processes holding it: its match actor and the history actor
    history_id = naming.history_handle(settings, create=False)._actor_id.hex()
    for actor_id in (_match_actor_id(settings, mid), history_id):
        os.kill(_pid(actor_id), signal.SIGKILL)
    kept = _archived(settings, mid)
    assert kept is not None and kept["summary"]["status"] == "done"
    assert _record_json(kept["record"]) == _record_json(entry["record"])
    # the arena is whole again: health answers ok once the history actor has restarted
    until(lambda: _get(arena, "/api/v1/health").json()["status"] == "ok", 60, "health ok after the kill")
    assert ray.is_initialized()


def test_history_stall_degrades_health_and_archive_within_bounds(faults):
    from fraudarena.cluster import naming

    arena, settings, _cfg = faults
    until(lambda: _get(arena, "/api/v1/health").json()["status"] == "ok", 60, "health ok")
    pid = _pid(naming.history_handle(settings, create=False)._actor_id.hex())
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        health = _get(arena, "/api/v1/health", timeout=10)
        health_s = time.monotonic() - t0
        t0 = time.monotonic()
        archive = _get(arena, "/api/v1/archive", timeout=10)
        archive_s = time.monotonic() - t0
        root = _get(arena, "/health", timeout=10).json()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
    assert health_s < settings.history_timeout_s + 2.0
    assert archive.status_code == 503 and archive.json()["error"]["code"] == "unavailable", archive.text
    assert archive_s < settings.history_timeout_s + 2.0
    assert root["status"] == "degraded"
    until(lambda: _get(arena, "/api/v1/health").json()["status"] == "ok", 60, "health ok after SIGCONT")


def test_stop_and_restart_mid_match_resumes_the_match_from_its_journal(faults):
    arena, settings, cfg = faults

    async def first_half() -> tuple[str, dict[str, str]]:
        clients, obs, mid = await _seated_clients(arena, 24)
        toks = {r: c.seat_token for r, c in clients.items()}
        bots = {r: make_bot("scripted", r, bot_seed("task_1", 24, r)) for r in ROLES}
        never = asyncio.Event()  # the seats hold at round 2 until they are cancelled for the stop
        tasks = [asyncio.ensure_future(play_seat(_PausingClient(clients[r], 2, never), bots[r], obs[r]))
                 for r in ROLES]
        await _wait_for_round(arena, mid, 2)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients.values():
            await c.close()
        return mid, toks

    async def second_half(mid: str, toks: dict[str, str]) -> None:
        clients = {r: RoleClient(arena.ws, r, reply_timeout=90.0) for r in ROLES}
        try:
            obs = {}
            for r, c in clients.items():
                await c.connect()
                obs[r] = await c.join(mid, toks[r])  # a plain join: the seats are free after the restart
            bots = {r: make_bot("scripted", r, bot_seed("task_1", 24, r)) for r in ROLES}
            await asyncio.wait_for(asyncio.gather(*(play_seat(clients[r], bots[r], obs[r]) for r in ROLES)), 240)
        finally:
            for c in clients.values():
                await c.close()

    mid, toks = asyncio.run(first_half())
    _stop(cfg)  # the arena stops (its actors are killed) mid-match
    journal = journal_file(settings.journal_path(ray_default=True), mid)
    assert journal.exists(), "an unfinished match keeps its journal over a stop"
    before = [{"role": e["role"], "action": e["action"]} for e in read_journal(journal) if e["t"] == "act"]
    assert _archived(settings, mid) is None
    _start(cfg, arena)
    asyncio.run(second_half(mid, toks))
    entry = until(lambda: _archived(settings, mid), 10, "the resumed match archived")
    assert entry["summary"]["status"] == "done"
    record = entry["record"]
    assert _record_json(replay(record).record()) == _record_json(record)
    assert [{"role": a["role"], "action": a["action"]} for a in record["actions"][: len(before)]] == before
