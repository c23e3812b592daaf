"""``RayBackend``'s link cache on a real local Ray: matches on one packed actor share one link.

Every directory lookup deserialises a fresh actor handle (several KB with its method objects). The cache
holds up to 20,000 matches, so it keeps one link per actor and an entry per match, not a handle per match.
"""

from __future__ import annotations

import asyncio

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
