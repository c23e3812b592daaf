"""The agents' WebSocket client and ``fraudarena play`` against the single-process server (no Ray)."""

from __future__ import annotations

import asyncio

import pytest

from fraudarena.agents import play_match
from fraudarena.agents.client import RoleClient, ServerError, SyncRoleClient
from fraudarena.agents.play_remote import play_remote, play_remote_async
from fraudarena.serve.baseline import UvicornThread, baseline_app
from fraudarena.served.settings import ArenaSettings


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("client") / "a.sqlite3"
    with UvicornThread(baseline_app(ArenaSettings(archive_path=str(path), done_linger_s=0.2))) as srv:
        yield srv


def test_play_all_roles_matches_in_process(server):
    finals = play_remote(server.url, all_roles=True, task_id="task_1", seed=17)
    assert set(finals) == {"fraudster", "investigator", "auditor"}
    assert finals["auditor"]["record"] == play_match("task_1", 17)


def test_play_one_seat_joined_by_token(server):
    async def run():
        async with RoleClient(server.url, "fraudster") as creator:
            obs = await creator.reset(task_id="task_1", seed=3, house_bots={"auditor": "scripted"})
            seat = asyncio.create_task(play_remote_async(server.url, "investigator", match_id=obs["match_id"],
                                                         token=obs["seat_tokens"]["investigator"], seed=3))
            from fraudarena.agents import make_bot
            from fraudarena.agents.client import play_seat
            from fraudarena.arena.rng import bot_seed

            mine = await play_seat(creator, make_bot("scripted", "fraudster", bot_seed("task_1", 3, "fraudster")), obs)
            return mine, await seat

    mine, theirs = asyncio.run(run())
    assert mine["record"] == theirs["investigator"]["record"] == play_match("task_1", 3)


def test_sync_client_raises_server_codes(server):
    with SyncRoleClient(server.url, "auditor") as c:
        with pytest.raises(ServerError) as e:
            c.obs()
        assert e.value.code == "no_match"
        obs = c.reset(task_id="task_1")
        assert obs["role"] == "auditor" and c.match_id == obs["match_id"]
        assert c.state()["seats"]["auditor"] == "connected"
