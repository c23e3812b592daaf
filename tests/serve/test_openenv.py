"""The OpenEnv-compatible ``/ws`` endpoint, driven by a client written to OpenEnv's frame format."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from fraudarena.agents import make_bot, play_match
from fraudarena.arena.rng import bot_seed

pytestmark = [pytest.mark.ray, pytest.mark.serve]


async def _episode(url: str) -> None:
    async with websockets.connect(f"{url}/ws") as ws:

        async def send(frame: dict) -> dict:
            await ws.send(json.dumps(frame))
            return json.loads(await ws.recv())

        assert (await send({"type": "reset", "data": {"seed": 1, "task_id": "nope"}}))["data"]["code"] \
            == "VALIDATION_ERROR"
        await ws.send("{oops")
        assert json.loads(await ws.recv())["data"]["code"] == "INVALID_JSON"
        assert (await send({"type": "dance", "data": {}}))["data"]["code"] == "UNKNOWN_TYPE"
        first = await send({"type": "reset", "data": {"seed": 6, "task_id": "task_2", "episode_id": "e1",
                                                      "unknown_key": 1}})
        assert first["type"] == "observation" and set(first) == {"type", "data"}
        assert first["data"]["reward"] == 0.0 and first["data"]["done"] is False
        obs = first["data"]["observation"]
        assert obs["phase"] == "investigator_turn" and "reward" not in obs and "done" not in obs
        bad = await send({"type": "step", "data": {"action_type": "verdict", "ad_id": "zz", "verdict": "reject"}})
        assert bad["data"]["code"] == "EXECUTION_ERROR" and bad["data"]["reason"] == "illegal_action"
        state = await send({"type": "state"})
        assert state["data"]["episode_id"] == obs["match_id"] and state["data"]["step_count"] == 0
        bot = make_bot("scripted", "investigator", bot_seed("task_2", 6, "investigator"))
        reply = first
        while not reply["data"]["done"]:
            reply = await send({"type": "step", "data": bot.act(reply["data"]["observation"])})
            assert reply["type"] == "observation", reply
        final = reply["data"]
        assert final["observation"]["record"] == play_match("task_2", 6)
        assert final["reward"] == final["observation"]["rewards"]["investigator"]
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(ws.wait_closed(), 10)


def test_openenv_single_agent_episode(main_arena):
    asyncio.run(_episode(main_arena.ws))


def test_openenv_metadata_routes(main_arena):
    assert httpx.get(f"{main_arena.http}/health").json()["status"] == "healthy"
    assert httpx.get(f"{main_arena.http}/metadata").json()["name"] == "fraudarena"
    schema = httpx.get(f"{main_arena.http}/schema").json()
    assert set(schema) == {"action", "observation", "state"}
    assert "verdict" in schema["action"]["properties"]["action_type"]["enum"]


async def _close_abandons(url: str) -> str:
    async with websockets.connect(f"{url}/ws") as ws:
        await ws.send(json.dumps({"type": "reset", "data": {"task_id": "task_1"}}))
        mid = json.loads(await ws.recv())["data"]["observation"]["match_id"]
        await ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(ws.wait_closed(), 10)
    return mid


def test_openenv_close_archives_abandoned(main_arena):
    mid = asyncio.run(_close_abandons(main_arena.ws))
    summary = httpx.get(f"{main_arena.http}/api/v1/matches/{mid}").json()
    assert summary["status"] == "abandoned"


def test_openenv_validate_passes_against_serve(main_arena):
    validation = pytest.importorskip("openenv.cli._validation")
    report = validation.validate_running_environment(main_arena.http)
    assert report["passed"], [c for c in report["criteria"] if not c["passed"]]
    listed = httpx.post(f"{main_arena.http}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).json()
    assert "get_match" in {t["name"] for t in listed["result"]["tools"]}


async def _sequential_then_flood(url: str) -> tuple[int, list[dict]]:
    async with websockets.connect(f"{url}/ws") as ws:

        async def send(frame: dict) -> dict:
            await ws.send(json.dumps(frame))
            return json.loads(await ws.recv())

        assert (await send({"type": "reset", "data": {"seed": 3, "task_id": "task_1"}}))["type"] == "observation"
        sequential = [await send({"type": "state"}) for _ in range(80)]  # twice the old 40-frame burst
        ok = sum(r["type"] == "state" for r in sequential)
        for _ in range(60):  # pipelined: replies are not awaited
            await ws.send(json.dumps({"type": "state"}))
        flood = [json.loads(await asyncio.wait_for(ws.recv(), 60)) for _ in range(60)]
    return ok, flood


def test_openenv_ws_limits_frames_in_flight_not_per_second(main_arena):
    ok, flood = asyncio.run(_sequential_then_flood(main_arena.ws))
    assert ok == 80
    refused = [r for r in flood if r["type"] == "error"]
    assert refused and {r["data"]["reason"] for r in refused} == {"too_many_pending"}
    assert flood[0]["type"] == "state"
