"""Helpers shared by the Serve tests: condition waits, full matches played over three sockets, and a strict
client of the first public version (one frame read per request)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from waiting import until  # noqa: F401  (re-exported for the serve tests)

from fraudarena.agents import make_bot
from fraudarena.agents.client import ROLES, RoleClient, my_turn, play_seat
from fraudarena.arena.rng import bot_seed


async def three_socket_match(url: str, task_id: str, seed: int | None, *, transcript: bool = False,
                             bot_base_seed: int | None = None) -> tuple[dict[str, Any], dict[str, RoleClient]]:
    """Play a full match with the scripted bots over three sockets; (finals by role, clients)."""
    clients = {r: RoleClient(url, r, transcript=transcript) for r in ROLES}
    try:
        for c in clients.values():
            await c.connect()
        params: dict[str, Any] = {"task_id": task_id}
        if seed is not None:
            params["seed"] = seed
        obs = {"fraudster": await clients["fraudster"].reset(**params)}
        tokens, mid = obs["fraudster"]["seat_tokens"], obs["fraudster"]["match_id"]
        for r in ("investigator", "auditor"):
            obs[r] = await clients[r].join(mid, tokens[r])
        base = seed if seed is not None else (bot_base_seed or 0)
        bots = {r: make_bot("scripted", r, bot_seed(task_id, base, r)) for r in ROLES}
        finals = await asyncio.wait_for(
            asyncio.gather(*(play_seat(clients[r], bots[r], obs[r]) for r in ROLES)), 120)
        return dict(zip(ROLES, finals, strict=True)), clients
    finally:
        for c in clients.values():
            await c.close()


async def strict_call(ws, frame: dict[str, Any], expect: tuple[str, ...] = ("observation",)) -> dict[str, Any]:
    """One request, exactly one frame read: a client of the first public version, which breaks on any
    frame it did not ask for (a pushed ``event`` read here instead of the reply fails the test)."""
    await ws.send(json.dumps(frame))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert reply["type"] in expect, f"first-version client got an unexpected {reply['type']!r} frame: {reply}"
    return reply


async def strict_first_version_seat(url: str, role: str, first: dict[str, Any], mid: str | None) -> dict[str, Any]:
    """Play one seat as the first public version did: ``reset`` or ``join {match_id}`` (no token), then poll
    ``obs`` until its turn and ``step``; never expects an event; checks that none is left unread at the end."""
    async with websockets.connect(f"{url}/ws/{role}") as ws:
        if mid is None:
            obs = (await strict_call(ws, {"type": "reset", "data": first}))["data"]
            first["match_id"] = obs["match_id"]
        else:
            obs = (await strict_call(ws, {"type": "join", "data": {"match_id": mid}}))["data"]
        bot = make_bot("scripted", role, bot_seed(first["task_id"], first["seed"], role))
        while not obs["done"]:
            if my_turn(obs):
                obs = (await strict_call(ws, {"type": "step", "data": bot.act(obs)}))["data"]
            else:
                await asyncio.sleep(0.1)  # polls at 10/s: within the default 20 frames/s
                obs = (await strict_call(ws, {"type": "obs"}))["data"]
        state = (await strict_call(ws, {"type": "state"}, expect=("state",)))["data"]
        assert state["done"] is True and "record" in state
        try:
            extra = await asyncio.wait_for(ws.recv(), 0.3)
        except TimeoutError:
            extra = None
        assert extra is None, f"unsolicited frame after the match: {extra}"
        return obs


async def strict_first_version_match(url: str, seed: int = 13) -> list[dict[str, Any]]:
    """A full task_1 match by three strict first-version clients (the server must run ``open_seats``)."""
    first: dict[str, Any] = {"task_id": "task_1", "seed": seed}
    creator = asyncio.create_task(strict_first_version_seat(url, "fraudster", first, None))
    while "match_id" not in first:
        if creator.done():
            await creator  # raises what the creator hit
        await asyncio.sleep(0.01)
    others = [strict_first_version_seat(url, r, first, first["match_id"]) for r in ("investigator", "auditor")]
    return list(await asyncio.gather(creator, *others))
