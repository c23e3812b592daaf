"""A match outlives its actor, on a real local Ray without Serve (docs/operations.md#faults-and-recovery).

The directory creates a match (two house bots) on a pooled actor; the human seat moves with ``seq``; the
actor process is SIGKILLed; the directory's watch rebuilds the match from its journal on another actor, the
seat's connection still holds it, the last ``seq`` is a duplicate, and the match plays to the end with the
record of an uninterrupted replay. Packed actors (K = 2) rebuild both of their matches. Bounded: ~10 s.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from waiting import until

from fraudarena.arena import replay
from fraudarena.cluster import naming
from fraudarena.served.journal import journal_file, read_journal
from fraudarena.served.settings import ArenaSettings

pytestmark = pytest.mark.ray
BOTS = {"investigator": "scripted", "auditor": "scripted"}




@pytest.fixture()
def settings(ray_cluster, tmp_path, request):
    name = "t-rebuild-" + request.node.name[-12:].lower().replace("_", "-").replace("[", "").replace("]", "")
    s = ArenaSettings(instance=name[:32], archive_path=str(tmp_path / "a.sqlite3"), pool_size=1,
                      matches_per_actor=request.param if hasattr(request, "param") else 1)
    yield s
    naming.kill_instance(s)


def _pid(handle) -> int:
    from ray._private import state

    return int(state.actors(handle._actor_id.hex())["Pid"])


def _step(ray, handle, match_id: str, conn: str, seq: int) -> dict:
    """The fraudster ends its turn (the two bots answer inside the same call)."""
    [out] = ray.get(handle.handle_batch.remote(
        [["step", match_id, "fraudster", conn, {"action_type": "end_turn"}, seq]]), timeout=60)["results"]
    assert "__error__" not in out, out
    return out


@pytest.mark.parametrize("settings", [1, 2], indirect=True, ids=["one-per-actor", "packed"])
def test_killed_match_actor_is_rebuilt_from_the_journal(ray_cluster, settings):
    ray = ray_cluster
    directory = naming.directory_handle(settings)
    ray.get(directory.ensure_pool.remote(), timeout=120)
    matches = []
    for i in range(settings.matches_per_actor):
        out = ray.get(directory.create_match.remote("fraudster", f"c-{i}", {"task_id": "task_1", "seed": 30 + i},
                                                    BOTS), timeout=120)
        assert "__error__" not in out, out
        matches.append((out["match_id"], f"c-{i}", out["actor"]))
    assert len({h._actor_id for _, _, h in matches}) == 1  # packed: both on one actor
    for mid, conn, handle in matches:
        for seq in (1, 2):
            _step(ray, handle, mid, conn, seq)
    old = matches[0][2]
    journal_dir = settings.journal_path(ray_default=True)
    before = {mid: [e for e in read_journal(journal_file(journal_dir, mid)) if e["t"] == "act"]
              for mid, _, _ in matches}
    os.kill(_pid(old), signal.SIGKILL)

    def moved(mid):
        handle = ray.get(directory.lookup.remote(mid), timeout=60)
        return handle if handle is not None and handle._actor_id != old._actor_id else None

    for mid, conn, _ in matches:
        new = until(lambda mid=mid: moved(mid), timeout=60.0, what=f"{mid} rebuilt")
        again = _step(ray, new, mid, conn, 2)  # the seq acknowledged before the kill: applied at most once
        assert again["duplicate"] is True and again["last_seq"] == 2
        seq = 2
        while not again.get("done"):
            seq += 1
            again = _step(ray, new, mid, conn, seq)
        record = again["record"]
        assert json.dumps(replay(record).record(), sort_keys=True) == json.dumps(record, sort_keys=True)
        acted = [{"role": e["role"], "action": e["action"]} for e in before[mid]]
        assert [{"role": a["role"], "action": a["action"]} for a in record["actions"][: len(acted)]] == acted
    stats = ray.get(directory.stats.remote(), timeout=60)
    assert stats["rebuilt"] == len(matches) and stats["lost"] == 0
