"""``fraudarena play``: join a served match as one role (or all three) and play it with a bot.

``play_remote`` is the command's implementation (the CLI only parses options); it uses
``agents.client`` over WebSockets and returns the final observation of each seat it played.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fraudarena.agents.client import ROLES, RoleClient, play_seat
from fraudarena.agents.play import make_bot
from fraudarena.arena.rng import bot_seed

QUEUE_WAIT_S = 600.0
"""How long ``fraudarena play --queue`` waits for a seat by default (as ``RoleClient.queue``)."""
QUEUE_TIMEOUT_S = 30.0
"""The server's default ``queue_timeout_s`` (served.settings): queued seats still empty then get house bots."""


async def play_remote_async(url: str, role: str = "investigator", *, match_id: str | None = None,
                            token: str | None = None, new: bool = False, task_id: str = "task_1",
                            seed: int | None = None, bot: str = "scripted", all_roles: bool = False,
                            bot_seed_value: int | None = None, house_bots: str | None = "scripted",
                            queue: bool = False, queue_wait_s: float = QUEUE_WAIT_S) -> dict[str, dict[str, Any]]:
    """Play one seat (or, with ``all_roles``, all three over three sockets); {role: final observation}.

    With ``new``, the other two seats of the new match are played server-side by ``house_bots``
    (``scripted`` or ``random``); ``None`` leaves them to humans, whose seat tokens are printed.
    With ``queue``, the seat comes from the server's matchmaking queue for ``task_id``
    (docs/protocol.md#matchmaking-queue):
    it says at once that it waits and for how long at most, reports the server's ``queued`` progress,
    and gives up (``TimeoutError``) after ``queue_wait_s``. A server that cannot be reached raises
    :class:`~fraudarena.agents.client.CannotConnect`.
    """
    if all_roles:
        return await _play_all(url, task_id, seed, bot)
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if not new and not match_id and not queue:
        raise ValueError("give --match ID (with --token), --new or --queue")
    async with RoleClient(url, role) as client:
        if queue:
            obs = await wait_in_queue(client, task_id, queue_wait_s)
            print(f"queued and seated in match {obs['match_id']} (seat token {obs.get('seat_token')})", flush=True)
        elif new:
            params: dict[str, Any] = {"task_id": task_id, "seed": seed}
            if house_bots:
                params["house_bots"] = {r: house_bots for r in ROLES if r != role}
            obs = await client.reset(**params)
            print_tokens(obs)
        else:
            obs = await client.join(match_id, token)  # type: ignore[arg-type]
        s = bot_seed_value if bot_seed_value is not None else bot_seed(obs["task_id"], seed or 0, role)
        final = await play_seat(client, make_bot(bot, role, s), obs)
    return {role: final}


async def wait_in_queue(client: RoleClient, task_id: str, wait_s: float = QUEUE_WAIT_S) -> dict[str, Any]:
    """Queue ``client``'s role for ``task_id``, printing that it waits (and how long at most) and each
    ``queued`` progress frame; returns the observation once seated (``TimeoutError`` after ``wait_s``)."""
    print(f"waiting in the matchmaking queue for {task_id} as {client.role}: seated as soon as the other roles "
          f"queue too, or with house bots after the server's queue_timeout_s ({QUEUE_TIMEOUT_S:g} s by default); "
          f"giving up after {wait_s:g} s", flush=True)
    request = asyncio.ensure_future(client.queue(task_id, timeout=wait_s))
    shown = 0
    while not request.done():
        await asyncio.wait({request}, timeout=0.5)
        for frame in client.queued[shown:]:
            if frame.get("waited_s"):  # the first frame (0 s) only confirms the line above
                print(f"  still waiting: position {frame.get('position')}, {frame['waited_s']:.0f} s", flush=True)
        shown = len(client.queued)
    return request.result()


async def _play_all(url: str, task_id: str, seed: int | None, bot: str) -> dict[str, dict[str, Any]]:
    clients = {r: RoleClient(url, r) for r in ROLES}
    try:
        for c in clients.values():
            await c.connect()
        obs = {"fraudster": await clients["fraudster"].reset(task_id=task_id, seed=seed)}
        tokens = obs["fraudster"]["seat_tokens"]
        mid = obs["fraudster"]["match_id"]
        for r in ("investigator", "auditor"):
            obs[r] = await clients[r].join(mid, tokens[r])
        # Without a seed the server's draw is hidden until done; bots are then seeded from 0.
        base = seed if seed is not None else 0
        bots = {r: make_bot(bot, r, bot_seed(task_id, base, r)) for r in ROLES}
        finals = await asyncio.gather(*(play_seat(clients[r], bots[r], obs[r]) for r in ROLES))
        return dict(zip(ROLES, finals, strict=True))
    finally:
        for c in clients.values():
            await c.close()


def print_tokens(obs: dict[str, Any]) -> None:
    """Print a new match's id and the ``--match/--token`` options that take each of its seats."""
    print(f"match {obs['match_id']}")
    for r, t in obs.get("seat_tokens", {}).items():
        print(f"  {r}: --match {obs['match_id']} --token {t}")


def play_remote(url: str, role: str = "investigator", *, match_id: str | None = None, token: str | None = None,
                new: bool = False, task_id: str = "task_1", seed: int | None = None, bot: str = "scripted",
                all_roles: bool = False, house_bots: str | None = "scripted",
                queue: bool = False, queue_wait_s: float = QUEUE_WAIT_S) -> dict[str, dict[str, Any]]:
    """Blocking entry point of ``fraudarena play`` (see ``play_remote_async``)."""
    return asyncio.run(play_remote_async(url, role, match_id=match_id, token=token, new=new, task_id=task_id,
                                         seed=seed, bot=bot, all_roles=all_roles, house_bots=house_bots,
                                         queue=queue, queue_wait_s=queue_wait_s))
