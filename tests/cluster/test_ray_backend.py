"""``RayBackend``'s link cache on a real local Ray: matches on one packed actor share one link.

Every directory lookup deserialises a fresh actor handle (several KB with its method objects). The cache
holds up to 20,000 matches, so it keeps one link per actor and an entry per match, not a handle per match.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from fraudarena.cluster import naming
from fraudarena.served.settings import ArenaSettings

pytestmark = pytest.mark.ray


def test_matches_on_one_actor_share_one_link(ray_cluster, tmp_path):
    from fraudarena.cluster.ray_backend import RayBackend

    settings = ArenaSettings(instance="t-backend-links", archive_path=str(tmp_path / "a.sqlite3"), pool_size=1,
                             matches_per_actor=4)

    async def scenario() -> tuple[list, int]:
        backend = RayBackend(settings)
        await backend.start()
        ids = []
        for i in range(3):
            out = await backend.create("fraudster", f"c-{i}", {"task_id": "task_1", "seed": 70 + i},
                                       {"investigator": "scripted", "auditor": "scripted"})
            ids.append(out["match_id"])
        backend._handles.clear()  # as after the cache turned over: every lookup asks the directory again
        links = [await backend._actor(mid) for mid in ids]
        summaries = [await backend.get_match(mid) for mid in ids]  # the shared link still reaches each match
        return links, len({s["match_id"] for s in summaries})

    try:
        links, distinct = asyncio.run(scenario())
    finally:
        naming.kill_instance(settings)
    assert distinct == 3
    assert links[0] is links[1] is links[2]


def test_a_replica_keeps_no_link_to_a_match_it_no_longer_serves(ray_cluster, tmp_path):
    """The last leave of the replica's seats in a match, or an answer that the match is not live, drops the
    match's link (and with it the actor's handle when no other match uses it): a replica's memory does not
    grow with the matches it has served."""
    from fraudarena.cluster.ray_backend import RayBackend
    from fraudarena.served.errors import ProtocolError

    settings = ArenaSettings(instance="t-backend-forget", archive_path=str(tmp_path / "a.sqlite3"), pool_size=1,
                             done_linger_s=0)

    async def scenario() -> tuple[bool, bool, bool, str]:
        backend = RayBackend(settings)
        await backend.start()
        a = await backend.create("fraudster", "c-a", {"task_id": "task_1", "seed": 80}, {})
        b = await backend.create("fraudster", "c-b", {"task_id": "task_1", "seed": 81}, {})
        cached = a["match_id"] in backend._handles and b["match_id"] in backend._handles
        await backend.join(a["match_id"], "investigator", "c-a2", a["seat_tokens"]["investigator"], False)
        await backend.leave(a["match_id"], "fraudster", "c-a")
        cached = cached and a["match_id"] in backend._handles  # another seat of it is still held here
        await backend.leave(a["match_id"], "investigator", "c-a2")
        left = a["match_id"] not in backend._handles
        await backend.delete(b["match_id"], b["admin_token"])
        stale = (await backend._actor(a["match_id"])).handle  # match a's actor: a stale route for b
        backend._remember(b["match_id"], stale)
        try:
            await backend.step(b["match_id"], "fraudster", "c-b", {"action_type": "end_turn"}, None)
            code = "none"
        except ProtocolError as exc:
            code = exc.code
        return cached, left, b["match_id"] not in backend._handles, code

    try:
        cached, left, forgotten, code = asyncio.run(scenario())
    finally:
        naming.kill_instance(settings)
    assert cached and left
    assert code in ("no_match", "unknown_match") and forgotten


def test_a_seat_told_its_match_is_archived_leaves_no_link_behind(ray_cluster, tmp_path):
    """A socket whose event stream says "archived" drops its seat without a leave (serve/ws_session.py), so the
    backend drops the match's seat count and link itself: a soak's replica kept a link (and an actor handle)
    for 28 of 30 finished matches before."""
    from fraudarena.cluster.ray_backend import RayBackend

    settings = ArenaSettings(instance="t-backend-archived", archive_path=str(tmp_path / "a.sqlite3"), pool_size=1,
                             done_linger_s=0)

    async def scenario() -> tuple[bool, dict, bool, bool]:
        backend = RayBackend(settings)
        await backend.start()
        a = await backend.create("fraudster", "c-a", {"task_id": "task_1", "seed": 90}, {})
        mid = a["match_id"]
        await backend.join(mid, "investigator", "c-i", a["seat_tokens"]["investigator"], False)
        held = mid in backend._handles and backend._seats[mid] == 2
        await backend.delete(mid, a["admin_token"])  # archived as abandoned, as a finished match would be
        out = await backend.next_events(mid, "fraudster", "c-a", 0)
        return held, out, mid in backend._handles, mid in backend._seats

    try:
        held, out, linked, seated = asyncio.run(scenario())
    finally:
        naming.kill_instance(settings)
    assert held
    assert out["gone"] == "archived"
    assert not linked and not seated


def test_a_leave_cancelled_with_its_socket_still_drops_the_seat(ray_cluster, tmp_path):
    """A dropped socket's task is cancelled while its leave waits on the actor: the seat count and link still go
    (they did not: a 30-match soak ended with 28 matches' links and actor handles kept in the replica)."""
    from fraudarena.cluster.ray_backend import RayBackend

    settings = ArenaSettings(instance="t-backend-cancel", archive_path=str(tmp_path / "a.sqlite3"), pool_size=1)

    async def scenario() -> tuple[bool, bool, bool]:
        backend = RayBackend(settings)
        await backend.start()
        a = await backend.create("fraudster", "c-a", {"task_id": "task_1", "seed": 91}, {})
        mid = a["match_id"]
        task = asyncio.ensure_future(backend.leave(mid, "fraudster", "c-a"))
        await asyncio.sleep(0)  # the leave is now waiting on the actor's answer
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return task.cancelled(), mid in backend._handles, mid in backend._seats

    try:
        cancelled, linked, seated = asyncio.run(scenario())
    finally:
        naming.kill_instance(settings)
    assert cancelled
    assert not linked and not seated


def test_debug_memory_reports_the_directory_and_every_match_actor(ray_cluster, tmp_path):
    """With ``debug_memory`` the directory and the match actors trace their own heaps; one call gathers them
    (``GET /api/v1/debug/memory`` adds them as ``processes``), with the tables each keeps per match."""
    from fraudarena.cluster.ray_backend import RayBackend

    settings = ArenaSettings(instance="t-backend-heap", archive_path=str(tmp_path / "a.sqlite3"), pool_size=1,
                             debug_memory=True)

    async def scenario() -> tuple[dict, dict]:
        backend = RayBackend(settings)
        await backend.start()
        first = await backend.debug_memory(baseline=True, top=3)
        a = await backend.create("fraudster", "c-a", {"task_id": "task_1", "seed": 95},
                                 {"investigator": "scripted", "auditor": "scripted"})
        await backend.step(a["match_id"], "fraudster", "c-a", {  # its copy is scanned for markers
            "action_type": "propose_ad", "category": "ecommerce", "ad_copy": "Hurry, a free gift with every order"},
            None)
        await backend.step(a["match_id"], "fraudster", "c-a", {"action_type": "end_turn"}, None)
        return first, await backend.debug_memory(top=3)

    try:
        first, later = asyncio.run(scenario())
    finally:
        naming.kill_instance(settings)
    assert first["directory"]["baseline"] == "taken" and first["directory"]["traced_kib"] > 0
    directory = later["directory"]
    assert isinstance(directory["growth_kib"], float) and 0 < len(directory["sites"]) <= 3
    assert later["directory_tables"]["live"] == 1 and later["directory_tables"]["actors"] == 1
    [actor] = [a for a in later["match_actors"] if a["host"]["matches"] == 1]
    assert isinstance(actor["heap"]["growth_kib"], float) and actor["heap"]["sites"]
    entries, bound = actor["heap"]["memo_caches"]["texts.markers"]
    assert 0 < entries <= bound  # the proposal's copy was scanned for markers in that actor
