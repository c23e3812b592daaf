"""Deadlines, idle matches, the live-match cap, archive eviction and open seats, on the ``/limits`` arena.

That arena runs with ``turn_timeout_s=1.5``, ``idle_ttl_s=3``, ``max_live_matches=3``,
``archive_capacity=3`` and ``open_seats`` on (see conftest): its role sockets get events only with
``?events=1``.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from serve_helpers import strict_first_version_match, until

from fraudarena.agents.client import RoleClient

pytestmark = [pytest.mark.ray, pytest.mark.serve]


def _live(api: str) -> int:
    return httpx.get(f"{api}/health").json()["live_matches"]


def test_legacy_client_plays_unchanged_with_open_seats(limits_arena):
    """Strict first-version clients (one frame read per request, no events expected) under Serve."""
    finals = asyncio.run(strict_first_version_match(limits_arena.ws))
    assert {f["record"]["end_reason"] for f in finals} and finals[0]["record"] == finals[2]["record"]


async def _stalled(url: str) -> tuple[list[dict], dict]:
    fr = RoleClient(url, "fraudster")
    fr.url += "?events=1"  # open_seats: events only for connections that opt in
    async with fr:
        await fr.reset(task_id="task_1", house_bots={"investigator": "scripted", "auditor": "scripted"})
        events = []
        while True:  # never act: every fraudster turn ends by deadline
            ev = await fr.next_event(30)
            events.append(ev)
            if ev["kind"] == "match_done":
                return events, await fr.obs()


def test_stalled_seat_ends_by_deadline_and_match_finishes(limits_arena):
    events, final = asyncio.run(_stalled(limits_arena.ws))
    kinds = [e["kind"] for e in events]
    assert kinds.count("turn_timeout") >= 1 and kinds[-1] == "match_done"
    assert events[-1]["status"] == "done" and events[-1]["end_reason"] is not None
    assert final["done"] is True
    assert all(a["role"] != "fraudster" or a["action"]["action_type"] == "end_turn"
               for a in final["record"]["actions"])


def test_capacity_idle_abandon_and_archive_eviction(limits_arena):
    api = f"{limits_arena.http}/api/v1"
    until(lambda: _live(api) == 0, timeout=30, what="no live matches")
    ids = []
    for _ in range(3):
        r = httpx.post(f"{api}/matches", json={"task_id": "task_1"})
        assert r.status_code == 201
        ids.append(r.json()["match_id"])
    over = httpx.post(f"{api}/matches", json={"task_id": "task_1"})
    assert over.status_code == 503 and over.json()["error"]["code"] == "capacity"

    async def reset_over_capacity():
        async with RoleClient(limits_arena.ws, "auditor") as c:
            with pytest.raises(Exception) as e:
                await c.reset(task_id="task_1")
            return e.value.code

    assert asyncio.run(reset_over_capacity()) == "capacity"
    # Nobody ever joins: after idle_ttl_s they are archived as abandoned and capacity frees up.
    until(lambda: _live(api) == 0, timeout=30, what="idle matches abandoned")
    statuses = [httpx.get(f"{api}/matches/{m}") for m in ids]
    archived = [r.json() for r in statuses if r.status_code == 200]
    assert archived and all(s["status"] == "abandoned" and s["end_reason"] is None for s in archived)
    listing = httpx.get(f"{api}/archive", params={"limit": 100}).json()["matches"]
    assert len(listing) == 3  # archive_capacity: older entries were evicted
    r = httpx.post(f"{api}/matches", json={"task_id": "task_1", "house_bots": {
        "fraudster": "random", "investigator": "random", "auditor": "random"}})
    assert r.status_code == 201
    newest = r.json()["match_id"]
    until(lambda: httpx.get(f"{api}/archive").json()["matches"][0]["match_id"] == newest, what="newest archived")
    assert httpx.get(f"{api}/matches/{ids[0]}").status_code == 404  # the oldest was evicted
