"""Helpers shared by the Serve tests: condition waits and full matches played over three sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fraudarena.agents import make_bot
from fraudarena.agents.client import ROLES, RoleClient, play_seat
from fraudarena.arena.rng import bot_seed


def until(predicate, timeout: float = 30.0, what: str = "condition", interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


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
