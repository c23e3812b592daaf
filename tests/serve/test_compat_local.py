"""Compatibility of the served app with stock clients, over real sockets on 127.0.0.1 (uvicorn, no Ray).

* first-version clients in ``open_seats`` mode: exactly one frame per request, no pushed events unless a
  connection opts in with ``?events=1`` (issue 11);
* ``openenv validate --url`` (openenv-core's own validator, CLI and function) passes every criterion, ``/mcp``
  included (issue 11);
* the OpenEnv ``/ws`` limits frames in flight, not frames per second: a sequential client is never
  throttled, a pipelined flood is refused with ``too_many_pending`` and, if it goes on, closed (issue 11).

The same app runs under Serve in the Serve suites; uvicorn keeps these in the fast default run.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess

import httpx
import pytest
import websockets
from serve_helpers import strict_first_version_match

from fraudarena.agents import make_bot
from fraudarena.agents.client import RoleClient
from fraudarena.arena.rng import bot_seed
from fraudarena.serve.baseline import UvicornThread, baseline_app
from fraudarena.served.settings import ArenaSettings


@pytest.fixture()
def open_server(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"), open_seats=True, done_linger_s=5)
    with UvicornThread(baseline_app(settings)) as srv:
        yield srv


@pytest.fixture()
def server(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "b.sqlite3"), openenv_max_pending=4,
                             rate_close_rejections=300)
    with UvicornThread(baseline_app(settings)) as srv:
        yield srv


def test_strict_first_version_clients_play_a_full_match_with_open_seats(open_server):
    finals = asyncio.run(strict_first_version_match(open_server.url, seed=13))
    assert all(f["done"] for f in finals)
    assert finals[0]["record"] == finals[1]["record"] == finals[2]["record"]
    assert finals[0]["record"]["end_reason"] is not None


async def _opted_in_gets_events(url: str) -> tuple[list[str], list[dict]]:
    client = RoleClient(url, "fraudster")
    client.url += "?events=1"  # the explicit opt-in of open_seats mode
    async with client:
        await client.reset(task_id="task_1", seed=3, house_bots={"investigator": "scripted", "auditor": "scripted"})
        await client.step({"action_type": "end_turn"})
        kinds = [(await client.next_event(10))["kind"]]
    async with websockets.connect(f"{url}/ws/fraudster") as ws:  # no opt-in: replies only
        await ws.send(json.dumps({"type": "reset", "data": {"task_id": "task_1", "house_bots": {
            "investigator": "scripted", "auditor": "scripted"}}}))
        replies = [json.loads(await ws.recv())]
        await ws.send(json.dumps({"type": "step", "data": {"action_type": "end_turn"}}))
        replies.append(json.loads(await ws.recv()))
        with pytest.raises(TimeoutError):
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 0.5)))
    return kinds, replies


def test_open_seats_events_only_for_connections_that_opt_in(open_server):
    kinds, replies = asyncio.run(_opted_in_gets_events(open_server.url))
    assert kinds == ["phase_changed"]  # pushed after the reply to the fraudster's end_turn
    assert [r["type"] for r in replies] == ["observation", "observation"]


def test_openenv_validate_passes_every_criterion(server):
    validation = pytest.importorskip("openenv.cli._validation")
    report = validation.validate_running_environment(server.http)
    failed = [c for c in report["criteria"] if not c["passed"]]
    assert report["passed"] and not failed, failed
    assert {c["id"] for c in report["criteria"]} >= {"openapi_version_available", "health_endpoint",
                                                     "metadata_endpoint", "schema_endpoint", "mcp_endpoint",
                                                     "mode_endpoint_consistency"}


@pytest.mark.slow
def test_openenv_validate_cli_passes(server):
    """The stock command line, exactly as issue 11 ran it (slow only because the CLI imports take ~8 s)."""
    cli = shutil.which("openenv")
    if cli is None:
        pytest.skip("openenv-core is not installed (pip install -e '.[dev]')")
    out = subprocess.run([cli, "validate", "--url", server.http, "--json"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["passed"] is True and report["summary"]["failed_criteria"] == []


def test_mcp_speaks_json_rpc(server):
    url = f"{server.http}/mcp"

    def rpc(body):
        r = httpx.post(url, json=body)
        assert r.status_code == 200
        return r.json()

    init = rpc({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}})
    assert init["result"]["serverInfo"]["name"] == "fraudarena" and "tools" in init["result"]["capabilities"]
    assert httpx.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}).status_code == 202
    tools = {t["name"] for t in rpc({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})["result"]["tools"]}
    assert tools == {"arena_info", "list_tasks", "list_live_matches", "get_match", "match_report"}
    info = rpc({"jsonrpc": "2.0", "id": "i", "method": "tools/call", "params": {"name": "arena_info"}})
    assert info["id"] == "i" and info["result"]["structuredContent"]["protocol_version"] == "fraudarena-ws/1"
    missing = rpc({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "get_match", "arguments": {"match_id": "m_nope"}}})
    assert missing["result"]["isError"] is True
    assert missing["result"]["structuredContent"]["error"]["code"] == "unknown_match"
    assert rpc({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "nope"}})["error"]["code"] \
        == -32602
    assert rpc({"jsonrpc": "2.0", "id": 5, "method": "resources/list"})["error"]["code"] == -32601
    assert rpc({})["error"]["code"] == -32600
    assert httpx.post(url, content=b"{nope").json()["error"]["code"] == -32700


async def _sequential_episodes(url: str, episodes: int) -> int:
    """A stock OpenEnv client: one frame, wait for its answer, next frame; counts the requests."""
    sent = 0
    async with websockets.connect(f"{url}/ws") as ws:

        async def send(frame: dict) -> dict:
            nonlocal sent
            sent += 1
            await ws.send(json.dumps(frame))
            reply = json.loads(await ws.recv())
            assert reply["type"] != "error", (sent, reply)
            return reply

        for seed in range(episodes):
            reply = await send({"type": "reset", "data": {"seed": seed, "task_id": "task_2"}})
            bot = make_bot("scripted", "investigator", bot_seed("task_2", seed, "investigator"))
            while not reply["data"]["done"]:
                await send({"type": "state", "data": {}})
                reply = await send({"type": "step", "data": bot.act(reply["data"]["observation"])})
    return sent


def test_openenv_sequential_client_is_never_throttled(server):
    sent = asyncio.run(_sequential_episodes(server.url, 3))
    assert sent > 120  # far past the 40-frame burst and 20 frames/s that cut such a client off before


async def _flood(url: str, n: int) -> list[dict]:
    async with websockets.connect(f"{url}/ws") as ws:
        await ws.send(json.dumps({"type": "reset", "data": {"seed": 1, "task_id": "task_1"}}))
        assert json.loads(await ws.recv())["type"] == "observation"
        await ws.send("")  # not JSON: its INVALID_JSON answer must come before the flood's answers
        replies = []
        batch = json.dumps({"type": "state"})
        for _ in range(n):  # pipelined: no waiting for answers
            await ws.send(batch)
        for _ in range(n + 1):
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        await ws.send(batch)  # the flood is over: served again
        replies.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    return replies


def test_openenv_pipelined_flood_is_refused_in_order_then_served(server):
    replies = asyncio.run(_flood(server.url, 200))
    assert replies[0]["data"]["code"] == "INVALID_JSON"  # the empty frame, answered first: order is kept
    flood = replies[1:-1]
    refused = [r for r in flood if r["type"] == "error"]
    assert refused and all(r["data"]["reason"] == "too_many_pending" and r["data"]["max_pending"] == 4
                           for r in refused)
    assert "wait for each reply" in refused[0]["data"]["message"]
    assert flood[0]["type"] == "state" and replies[-1]["type"] == "state"


async def _abusive_flood(url: str) -> int | None:
    async with websockets.connect(f"{url}/ws") as ws:
        frame = json.dumps({"type": "state"})
        try:
            for _ in range(2000):
                await ws.send(frame)
            while True:
                await asyncio.wait_for(ws.recv(), 30)
        except websockets.ConnectionClosed:
            pass
        return ws.close_code


def test_openenv_persistent_flood_closes_the_socket(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "c.sqlite3"), openenv_max_pending=2,
                             rate_close_rejections=50)
    with UvicornThread(baseline_app(settings)) as srv:
        assert asyncio.run(_abusive_flood(srv.url)) == 1008
