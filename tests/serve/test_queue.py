"""The matchmaking ``queue`` (docs/protocol.md#matchmaking-queue) over real sockets: the single-process
server, then Ray Serve."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from serve_helpers import until

from fraudarena.agents import make_bot
from fraudarena.agents.client import ROLES, RoleClient, ServerError, play_seat
from fraudarena.serve.app import create_app
from fraudarena.serve.baseline import UvicornThread
from fraudarena.served.local_backend import LocalBackend
from fraudarena.served.settings import ArenaSettings


def _serve(tmp_path_factory, name: str, **kw):
    path = tmp_path_factory.mktemp(name) / "a.sqlite3"
    settings = ArenaSettings(archive_path=str(path), done_linger_s=0.5, **kw)
    backend = LocalBackend(settings)
    return UvicornThread(create_app(settings, backend)), backend


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv, backend = _serve(tmp_path_factory, "queue", queue_timeout_s=60.0, queue_notify_s=0.2)
    with srv:
        srv.backend = backend
        yield srv


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory):
    srv, backend = _serve(tmp_path_factory, "queue-quick", queue_timeout_s=0.5, queue_notify_s=0.2)
    with srv:
        srv.backend = backend
        yield srv


def _bots(seed: int = 0):
    return {r: make_bot("scripted", r, seed + i) for i, r in enumerate(ROLES)}


async def _queue_three_and_play(url: str, task_id: str = "task_1"):
    clients = {r: RoleClient(url, r) for r in ROLES}
    try:
        for c in clients.values():
            await c.connect()
        obs = dict(zip(ROLES, await asyncio.wait_for(
            asyncio.gather(*(clients[r].queue(task_id) for r in ROLES)), 60), strict=True))
        states = {r: await clients[r].state() for r in ROLES}
        bots = _bots()
        finals = await asyncio.wait_for(asyncio.gather(*(play_seat(clients[r], bots[r], obs[r]) for r in ROLES)), 120)
        return obs, states, dict(zip(ROLES, finals, strict=True)), {r: c.queued for r, c in clients.items()}
    finally:
        for c in clients.values():
            await c.close()


def test_three_queued_agents_share_one_match_and_finish(server):
    obs, states, finals, _ = asyncio.run(_queue_three_and_play(server.url))
    match_ids = {o["match_id"] for o in obs.values()}
    assert len(match_ids) == 1
    for role in ROLES:
        assert obs[role]["role"] == role and obs[role]["task_id"] == "task_1"
        assert isinstance(obs[role]["seat_token"], str) and len(obs[role]["seat_token"]) == 43
        assert "seat_tokens" not in obs[role] and "admin_token" not in obs[role]
        assert states[role]["seats"] == {r: "connected" for r in ROLES}
    assert len({o["seat_token"] for o in obs.values()}) == 3
    records = [f["record"] for f in finals.values()]
    assert all(f["done"] for f in finals.values()) and records[0] == records[1] == records[2]
    assert records[0]["config"]["task_id"] == "task_1" and 0 <= records[0]["config"]["seed"] < 2**63
    assert server.backend.matchmaker.stats()["tickets"] == 0


def test_seat_token_from_the_queue_resumes_the_seat(server):
    async def run():
        clients = {r: RoleClient(server.url, r) for r in ROLES}
        for c in clients.values():
            await c.connect()
        obs = await asyncio.wait_for(asyncio.gather(*(clients[r].queue("task_2") for r in ROLES)), 60)
        mid, token = obs[1]["match_id"], obs[1]["seat_token"]
        await clients["investigator"].close()
        async with RoleClient(server.url, "investigator") as again:
            resumed = await again.join(mid, token)
            seats = (await clients["fraudster"].state())["seats"]
        for c in clients.values():
            await c.close()
        return resumed, mid, seats

    resumed, mid, seats = asyncio.run(run())
    assert resumed["match_id"] == mid and resumed["role"] == "investigator" and seats["investigator"] == "connected"


def test_lone_agent_gets_scripted_bots_after_the_timeout(quick_server):
    async def run():
        async with RoleClient(quick_server.url, "investigator") as c:
            obs = await asyncio.wait_for(c.queue("task_3"), 30)
            state = await c.state()
            final = await asyncio.wait_for(play_seat(c, make_bot("scripted", "investigator", 1), obs), 120)
            return obs, state, final, c.queued

    obs, state, final, queued = asyncio.run(run())
    assert obs["task_id"] == "task_3" and obs["seat_token"]
    assert state["seats"] == {"fraudster": "bot", "investigator": "connected", "auditor": "bot"}
    assert final["done"] and final["record"]["config"]["task_id"] == "task_3"
    assert queued and queued[0]["position"] == 1 and queued[0]["role"] == "investigator"


def test_play_command_takes_a_seat_through_the_queue(quick_server, capsys):
    from fraudarena.agents.play_remote import play_remote

    finals = play_remote(quick_server.url, "auditor", queue=True, task_id="task_1")
    assert finals["auditor"]["done"] and finals["auditor"]["role"] == "auditor"
    assert "queued and seated in match" in capsys.readouterr().out


def test_queued_frames_repeat_and_echo_the_request_id(server):
    async def run():
        async with websockets.connect(f"{server.url}/ws/auditor") as ws:
            await ws.send(json.dumps({"type": "queue", "data": {"role": "auditor", "task_id": "task_1"}, "id": "q7"}))
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(3)]
            await ws.send(json.dumps({"type": "close"}))
            return frames

    frames = asyncio.run(run())
    assert [f["type"] for f in frames] == ["queued"] * 3 and {f["id"] for f in frames} == {"q7"}
    assert frames[0]["data"]["position"] == 1 and frames[0]["data"]["task_id"] == "task_1"
    assert frames[2]["data"]["waited_s"] > frames[0]["data"]["waited_s"]
    until(lambda: server.backend.matchmaker.stats()["tickets"] == 0, 10, "the closed socket to leave the queue")


def test_role_mismatch_and_unknown_task_are_validation_errors(server):
    async def run():
        async with RoleClient(server.url, "fraudster") as c:
            out = []
            for data in ({"role": "auditor", "task_id": "task_1"}, {"role": "fraudster", "task_id": "task_9"},
                         {"task_id": "task_1"}):
                with pytest.raises(ServerError) as e:
                    await c.request("queue", data)
                out.append(e.value)
            return out

    errors = asyncio.run(run())
    assert [e.code for e in errors] == ["validation_error"] * 3
    assert errors[0].details[0]["loc"] == ["data", "role"]
    assert server.backend.matchmaker.stats()["tickets"] == 0


def test_another_request_or_a_disconnect_leaves_the_queue(server):
    async def run():
        stats = server.backend.matchmaker.stats
        async with websockets.connect(f"{server.url}/ws/fraudster") as ws:
            await ws.send(json.dumps({"type": "queue", "data": {"role": "fraudster"}, "id": 1}))
            assert json.loads(await ws.recv())["type"] == "queued"
            assert stats()["waiting"] == 1
            await ws.send(json.dumps({"type": "obs", "id": 2}))
            reply = json.loads(await ws.recv())
            assert reply == {"type": "error", "data": reply["data"], "id": 2} and reply["data"]["code"] == "no_match"
            assert stats()["waiting"] == 0
            # A new queue request replaces the old one (the old one is left, not answered).
            await ws.send(json.dumps({"type": "queue", "data": {"role": "fraudster"}, "id": 3}))
            await ws.send(json.dumps({"type": "queue", "data": {"role": "fraudster"}, "id": 4}))
            got = [json.loads(await ws.recv()) for _ in range(2)]
            assert [(f["type"], f["id"]) for f in got] == [("queued", 3), ("queued", 4)]
            assert stats()["waiting"] == 1
        until(lambda: stats()["waiting"] == 0, 10, "the disconnected socket to leave the queue")
        # Someone who left is never seated: three fresh agents get a match of their own.
        obs, _, finals, _ = await _queue_three_and_play(server.url, "task_1")
        return obs, finals

    obs, finals = asyncio.run(run())
    assert len({o["match_id"] for o in obs.values()}) == 1 and all(f["done"] for f in finals.values())


def test_queue_can_be_switched_off(tmp_path_factory):
    srv, _ = _serve(tmp_path_factory, "queue-off", queue_enabled=False)

    async def run():
        async with RoleClient(srv.url, "auditor") as c:
            with pytest.raises(ServerError) as e:
                await c.queue("task_1")
            return e.value.code

    with srv:
        assert asyncio.run(run()) == "unknown_type"


@pytest.mark.ray
@pytest.mark.serve
def test_three_agents_queue_through_ray_serve(main_arena, served):
    import ray

    from fraudarena.cluster import naming

    obs, states, finals, _ = asyncio.run(_queue_three_and_play(main_arena.ws))
    assert len({o["match_id"] for o in obs.values()}) == 1
    assert all(s["seats"] == {r: "connected" for r in ROLES} for s in states.values())
    assert all(f["done"] for f in finals.values())
    mm = naming.matchmaker_handle(served["settings"]["main"], create=False)
    assert mm is not None and ray.get(mm.stats.remote(), timeout=30)["matches_created"] >= 1
