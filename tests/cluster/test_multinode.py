"""Several Ray nodes on this machine (issue 10): match actors on other nodes than the socket's replica.

``ray.cluster_utils.Cluster`` starts a head node (the Serve controller and proxy; the arena's replica and, through
``singleton_resources``, the directory and history actors are pinned there by the custom resource ``arena_head``)
and two worker nodes offering ``arena_matches``, which ``match_actor_resources`` makes every match actor request
(docs/operations.md#several-nodes). Over real sockets on 127.0.0.1:

* matches play to the end with their actors on a worker node, routed by match id from the head's replica;
* killing a worker node (its raylet and every worker process on it, no graceful drain) loses no finished
  match: each is still in the archive with its record, and new matches play on the remaining node;
* killing the worker node that holds a live match mid-match rebuilds the match from its journal on the other
  worker node and its seats play it to the end over the same sockets.

Slow (three raylets on two cores): CI runs it in its own pytest process (``.ci/run``), since it needs a Ray
of its own; a Ray already connected in this process is shut down first and a local one restarted after.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time

import httpx
import pytest
from fuzz_inputs import normal_match

from fraudarena.agents import make_bot
from fraudarena.agents.client import ROLES, RoleClient, play_seat
from fraudarena.arena import replay
from fraudarena.arena.rng import bot_seed
from fraudarena.served.journal import journal_file, read_journal

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.serve]

INSTANCE = "t-multi"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node_args(**extra):
    """Ports of one node's agents picked free (several raylets share this machine's port space)."""
    return {"num_cpus": 1, "dashboard_agent_listen_port": _free_port(), "metrics_export_port": _free_port(),
            "runtime_env_agent_port": _free_port(), "metrics_agent_port": _free_port(), **extra}


def _start_cluster(cluster_cls, tries: int = 3):
    """Head + two workers. Ray gives a raylet 30 s to register, which a loaded two-core box can miss: a node
    that failed to start is torn down and the cluster started again (at most ``tries`` times)."""
    for attempt in range(tries):
        cluster = None
        try:
            cluster = cluster_cls(initialize_head=True, head_node_args=_node_args(
                gcs_server_port=_free_port(), include_dashboard=False, resources={"arena_head": 1}))
            workers = [cluster.add_node(**_node_args(resources={"arena_matches": 100})) for _ in range(2)]
            return cluster, workers
        except Exception:
            if cluster is not None:
                cluster.shutdown()
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    ray = pytest.importorskip("ray")
    from ray import serve
    from ray.cluster_utils import Cluster

    from fraudarena.cluster import local_ray, naming
    from fraudarena.serve.deployment import ArenaIngress
    from fraudarena.served.settings import ArenaSettings

    had_ray = ray.is_initialized()
    if had_ray:
        ray.shutdown()
    local_ray.export_pythonpath()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    cluster, workers = _start_cluster(Cluster)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    port = _free_port()
    tmp = tmp_path_factory.mktemp("multinode")
    settings = ArenaSettings(instance=INSTANCE, archive_path=str(tmp / "archive.sqlite3"), pool_size=1,
                             done_linger_s=1.0, match_actor_resources={"arena_matches": 1},
                             singleton_resources={"arena_head": 0.01})
    try:
        serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
        app = ArenaIngress.options(ray_actor_options={"num_cpus": 0, "resources": {"arena_head": 0.01}})
        serve.run(app.bind(settings.model_dump()), name=INSTANCE, route_prefix="/")
        http = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{http}/api/v1/health", timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the arena did not become healthy on the multi-node cluster"
            time.sleep(0.5)
        yield {"cluster": cluster, "workers": workers, "http": http, "ws": f"ws://127.0.0.1:{port}",
               "settings": settings}  # tests remove the workers they kill from "workers"
    finally:
        try:
            serve.shutdown()
            naming.kill_instance(settings)
        finally:
            ray.shutdown()
            cluster.shutdown()
            if had_ray:
                local_ray.start(num_cpus=2)


def _actors_by_class() -> dict[str, list[dict]]:
    """Alive actors of this cluster by class name, each with its node id (from the GCS; no dashboard needed)."""
    import ray._private.state as state

    out: dict[str, list[dict]] = {}
    for info in state.actors().values():
        if info["State"] == "ALIVE":
            name = info["ActorClassName"]
            out.setdefault(name, []).append({"id": info["ActorID"], "node": info["Address"]["NodeID"]})
    return out


def _replica_node() -> str:
    replicas = [a for name, lst in _actors_by_class().items() if "ArenaIngress" in name for a in lst]
    assert len(replicas) == 1, _actors_by_class().keys()
    return replicas[0]["node"]


def _archived(http: str, match_id: str, wait_s: float = 90.0) -> dict:
    """The match's report; a 503 ``unavailable`` (the archive busy past ``history_timeout_s`` while the
    cluster recovers from a node loss: docs/protocol.md#errors) is asked again, within ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        r = httpx.get(f"{http}/api/v1/matches/{match_id}/report", timeout=30)
        if r.status_code != 503 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert r.status_code == 200, (match_id, r.status_code, r.text[:300])
    return r.json()


def test_matches_play_on_worker_nodes_and_survive_a_worker_kill(nodes):
    http, ws, cluster = nodes["http"], nodes["ws"], nodes["cluster"]
    head_id = cluster.head_node.node_id
    worker_ids = {w.node_id for w in nodes["workers"]}
    assert _replica_node() == head_id
    placed = _actors_by_class()
    assert [a["node"] for a in placed["DirectoryActor"] + placed["HistoryActor"]] == [head_id, head_id], placed
    # Every match actor (pooled or busy) sits on a worker node, none on the replica's node.
    finals = [asyncio.run(normal_match(ws, seed)) for seed in (1, 2, 3)]
    assert all(f["done"] for match in finals for f in match.values())
    match_ids = [match["fraudster"]["match_id"] for match in finals]
    actors = _actors_by_class().get("MatchActor", [])
    assert actors and {a["node"] for a in actors} <= worker_ids, (actors, worker_ids, head_id)
    reports = {mid: _archived(http, mid) for mid in match_ids}
    assert all(r["summary"]["status"] == "done" for r in reports.values())

    # Kill the worker node that holds match actors (no graceful drain: raylet and workers die).
    victim_id = actors[0]["node"]
    victim = next(w for w in nodes["workers"] if w.node_id == victim_id)
    cluster.remove_node(victim, allow_graceful=False)
    nodes["workers"].remove(victim)
    deadline = time.monotonic() + 60
    while any(a["node"] == victim_id for a in _actors_by_class().get("MatchActor", [])):
        assert time.monotonic() < deadline, "match actors of the killed node still reported alive"
        time.sleep(0.5)

    # Nothing finished is lost: every finished match is still archived with the same record.
    for mid, before in reports.items():
        after = _archived(http, mid)
        assert after["summary"]["status"] == "done" and after["record"] == before["record"], mid
    archive = httpx.get(f"{http}/api/v1/archive", params={"limit": 50}, timeout=30).json()["matches"]
    assert set(match_ids) <= {m["match_id"] for m in archive}
    deadline = time.monotonic() + 60  # the directory notices the dead actors; health answers at once meanwhile
    while (health := httpx.get(f"{http}/api/v1/health", timeout=30).json())["status"] != "ok":
        assert time.monotonic() < deadline, (health, _actors_by_class())
        time.sleep(1)

    # New matches still play, on the remaining worker node.
    survivor = (worker_ids - {victim_id}).pop()
    deadline = time.monotonic() + 120
    while True:  # the directory may first have to notice its pooled actor on the dead node
        try:
            final = asyncio.run(normal_match(ws, 4))
            break
        except Exception:
            assert time.monotonic() < deadline, "no match could be played after the worker kill"
            time.sleep(2)
    assert all(f["done"] for f in final.values())
    assert {a["node"] for a in _actors_by_class().get("MatchActor", [])} <= {survivor}
    assert _archived(http, final["fraudster"]["match_id"])["summary"]["status"] == "done"


def _match_actor_node(settings, match_id: str) -> str:
    import ray
    import ray._private.state as state

    from fraudarena.cluster import naming

    handle = ray.get(naming.directory_handle(settings, create=False).lookup.remote(match_id), timeout=60)
    assert handle is not None, f"{match_id} has no actor"
    return state.actors(handle._actor_id.hex())["Address"]["NodeID"]


def _directory_stats(settings) -> dict:
    import ray

    from fraudarena.cluster import naming

    return ray.get(naming.directory_handle(settings, create=False).stats.remote(), timeout=60)


async def _play_through_node_kill(ws: str, http: str, seed: int, kill) -> tuple[str, dict[str, RoleClient]]:
    """Three scripted seats over three sockets; ``kill(match_id)`` runs once the match reaches round 2."""
    clients = {r: RoleClient(ws, r, transcript=True, reply_timeout=120.0) for r in ROLES}
    try:
        for c in clients.values():
            await c.connect()
        obs = {"fraudster": await clients["fraudster"].reset(task_id="task_1", seed=seed)}
        mid, toks = obs["fraudster"]["match_id"], obs["fraudster"]["seat_tokens"]
        for r in ("investigator", "auditor"):
            obs[r] = await clients[r].join(mid, toks[r])
        bots = {r: make_bot("scripted", r, bot_seed("task_1", seed, r)) for r in ROLES}

        async def trigger() -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                deadline = time.monotonic() + 120
                while (await client.get(f"{http}/api/v1/matches/{mid}")).json().get("round_number", 0) < 2:
                    assert time.monotonic() < deadline, "the match did not reach round 2"
                    await asyncio.sleep(0.02)
            await asyncio.to_thread(kill, mid)

        await asyncio.wait_for(asyncio.gather(trigger(), *(play_seat(clients[r], bots[r], obs[r]) for r in ROLES)),
                               300)
    finally:
        for c in clients.values():
            await c.close()
    return mid, clients


def test_a_worker_node_kill_rebuilds_its_live_match_on_another_node(nodes):
    """Killing the worker node of a live match's actor mid-match: the directory rebuilds the match from its
    journal (on storage both nodes share: here the same disk) on the other worker node, the seats keep their
    sockets and play on, and the finished record is an uninterrupted replay starting with every action
    acknowledged before the kill (docs/operations.md#faults-and-recovery)."""
    cluster, http, ws, settings = nodes["cluster"], nodes["http"], nodes["ws"], nodes["settings"]
    while len(nodes["workers"]) < 2:  # the previous test killed one: a replacement joins the cluster
        nodes["workers"].append(cluster.add_node(**_node_args(resources={"arena_matches": 100})))
    before = _directory_stats(settings)
    seen: dict = {}

    def kill_node(mid: str) -> None:
        node_id = _match_actor_node(settings, mid)
        acts = [e for e in read_journal(journal_file(settings.journal_path(ray_default=True), mid)) if e["t"] == "act"]
        seen["acked"] = [{"role": e["role"], "action": e["action"]} for e in acts]
        seen["node"] = node_id
        victim = next(w for w in nodes["workers"] if w.node_id == node_id)
        cluster.remove_node(victim, allow_graceful=False)
        nodes["workers"].remove(victim)

    mid, clients = asyncio.run(_play_through_node_kill(ws, http, 31, kill_node))
    report = _archived(http, mid)
    record = report["record"]
    assert report["summary"]["status"] == "done"
    assert json.dumps(replay(record).record(), sort_keys=True) == json.dumps(record, sort_keys=True)
    n = len(seen["acked"])
    assert n >= 3 and [{"role": a["role"], "action": a["action"]} for a in record["actions"][:n]] == seen["acked"]
    assert _directory_stats(settings)["rebuilt"] >= before["rebuilt"] + 1
    assert any("match_restarted" in raw for c in clients.values() for raw in c.transcript or []), \
        "no client was told that the match restarted"
    survivors = {w.node_id for w in nodes["workers"]}
    assert {a["node"] for a in _actors_by_class().get("MatchActor", [])} <= survivors
