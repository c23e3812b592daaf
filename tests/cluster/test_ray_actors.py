"""Directory, pooled match actors and the history actor on a real local Ray."""

from __future__ import annotations

import time

import pytest
from waiting import until

from fraudarena.cluster import naming
from fraudarena.served.settings import ArenaSettings

pytestmark = pytest.mark.ray




@pytest.fixture()
def instance(ray_cluster, tmp_path, request):
    made = []

    def make(**kw) -> ArenaSettings:
        name = f"t{len(made)}-{request.node.name[-20:].lower().replace('_', '-')}"
        s = ArenaSettings(instance=name[:32], archive_path=str(tmp_path / f"{name}.sqlite3"), **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        naming.kill_instance(s)


def _create(ray, directory, **params):
    out = ray.get(directory.create_match.remote(None, None, {"task_id": "task_1", **params}, {}))
    assert "__error__" not in out, out
    return out


def test_recycled_actor_carries_nothing_over(ray_cluster, instance):
    ray = ray_cluster
    s = instance(pool_size=1, matches_per_actor=1)
    directory = naming.directory_handle(s)
    history = naming.history_handle(s)
    assert ray.get(directory.ensure_pool.remote()) == 1
    first = _create(ray, directory, seed=1)
    actor = first["actor"]
    info = ray.get(actor.debug_info.remote())
    assert info["matches"] == [first["match_id"]]
    assert info["gc_frozen"] > 10_000  # its start-up heap (Ray, pydantic, the arena) is out of the collector's way
    [deleted] = ray.get(actor.handle_batch.remote([["delete", first["match_id"], first["admin_token"]]]))["results"]
    assert deleted["status"] == "abandoned"
    until(lambda: info["key"] in ray.get(directory.stats.remote())["pool_keys"], what="actor back in pool")
    second = _create(ray, directory, seed=2)
    again = ray.get(second["actor"].debug_info.remote())
    assert again["key"] == info["key"] and again["actor_id"] == info["actor_id"]  # the same process, recycled
    assert again["matches"] == [second["match_id"]] and again["recent"] == [] and again["generation"] == 1
    [gone] = ray.get(actor.handle_batch.remote([["observe", first["match_id"], "fraudster", "c"]]))["results"]
    assert gone["__error__"]["code"] == "no_match"
    assert ray.get(history.summary.remote(first["match_id"]))["status"] == "abandoned"


def test_recycling_an_actor_ends_the_directorys_watch_on_it(ray_cluster, instance):
    """The directory keeps one ``watch`` call pending on a busy actor (600 s). Cancelling its await does not end
    the call, so before, every match left one pending in the directory and the actor for ten minutes; the
    directory's memory grew with the matches of the last ten minutes. A recycle now answers it at once."""
    ray = ray_cluster
    s = instance(pool_size=1, matches_per_actor=1)
    directory = naming.directory_handle(s)
    assert ray.get(directory.ensure_pool.remote()) == 1
    for seed in (1, 2, 3):  # the same actor, busy and recycled three times
        m = _create(ray, directory, seed=seed)
        until(lambda m=m: ray.get(m["actor"].debug_info.remote())["watches"] == 1, what="the directory watches it")
        ray.get(m["actor"].handle_batch.remote([["delete", m["match_id"], m["admin_token"]]]))
        key = ray.get(m["actor"].debug_info.remote())["key"]
        until(lambda key=key: key in ray.get(directory.stats.remote())["pool_keys"], what="actor back in pool")
        until(lambda m=m: ray.get(m["actor"].debug_info.remote())["watches"] == 0, timeout=10,
              what="the watch answered on recycle")


def test_ended_matches_actors_are_reused_then_trimmed_to_the_pool_size(ray_cluster, instance):
    """Actors of ended matches go back to the pool even beyond ``pool_size`` and serve the next matches (no
    new actor per match: each new actor a replica calls costs it memory Ray never frees); the extras are
    stopped after ``pool_idle_s``."""
    ray = ray_cluster
    s = instance(pool_size=1, matches_per_actor=1, pool_idle_s=4.0)
    directory = naming.directory_handle(s)
    assert ray.get(directory.ensure_pool.remote()) == 1

    def play_and_delete(seeds) -> set[str]:
        made = [_create(ray, directory, seed=x) for x in seeds]
        keys = {ray.get(m["actor"].debug_info.remote())["key"] for m in made}
        for m in made:
            ray.get(m["actor"].handle_batch.remote([["delete", m["match_id"], m["admin_token"]]]))
        until(lambda: keys <= set(ray.get(directory.stats.remote())["pool_keys"]), what="actors back in pool")
        return keys

    first = play_and_delete([1, 2, 3])
    assert len(first) == 3
    second = play_and_delete([4, 5, 6])
    assert second <= first | set(ray.get(directory.stats.remote())["pool_keys"])
    assert len(second & first) >= 2  # the pooled actors came back and were used again
    until(lambda: len(ray.get(directory.stats.remote())["pool_keys"]) == 1, timeout=30,
          what="idle extras stopped after pool_idle_s")


def test_load_swinging_around_the_pool_size_neither_stops_nor_starts_actors(ray_cluster, instance):
    """One match always live and a second one coming and going: the pool swings between ``pool_size`` and one
    more. No idle actor was unused for a whole ``pool_idle_s`` window, so none is stopped and none started
    (before, the longest idle one was stopped each time the pool went over and a new one started next)."""
    ray = ray_cluster
    s = instance(pool_size=1, matches_per_actor=1, pool_idle_s=1.0)
    directory = naming.directory_handle(s)
    assert ray.get(directory.ensure_pool.remote()) == 1

    seen: set[str] = set()  # every actor that held a match or sat in the pool

    def delete(m) -> None:
        key = ray.get(m["actor"].debug_info.remote())["key"]
        seen.add(key)
        ray.get(m["actor"].handle_batch.remote([["delete", m["match_id"], m["admin_token"]]]))
        until(lambda: key in ray.get(directory.stats.remote())["pool_keys"], what="actor back in pool")

    held = _create(ray, directory, seed=1)
    t_end = time.monotonic() + 4.0  # four windows
    seed = 2
    while time.monotonic() < t_end:
        nxt = _create(ray, directory, seed=seed)
        delete(held)
        seen.update(ray.get(directory.stats.remote())["pool_keys"])
        held, seed = nxt, seed + 1
        time.sleep(0.2)
    delete(held)
    stats = ray.get(directory.stats.remote())
    assert seed >= 5
    # the first pooled actor and one refill for each of the two live matches; nothing stopped or started since
    # (actor keys are numbered as the directory starts them: a1, a2, ...)
    assert max(int(k[1:]) for k in seen | set(stats["pool_keys"])) == 3, (seen, stats)
    assert stats["started_actors"] == 3 and stats["stopped_actors"] == 0


def test_packed_actors_hold_k_matches(ray_cluster, instance):
    ray = ray_cluster
    s = instance(pool_size=1, matches_per_actor=3)
    directory = naming.directory_handle(s)
    ids = [_create(ray, directory)["match_id"] for _ in range(4)]
    stats = ray.get(directory.stats.remote())
    assert stats["live"] == 4 and stats["busy_actors"] == 2
    live = {m["match_id"] for m in ray.get(directory.list_live.remote())}
    assert live == set(ids)


def test_live_match_cap_answers_capacity(ray_cluster, instance):
    ray = ray_cluster
    s = instance(pool_size=0, matches_per_actor=4, max_live_matches=2)
    directory = naming.directory_handle(s)
    _create(ray, directory)
    _create(ray, directory)
    out = ray.get(directory.create_match.remote(None, None, {"task_id": "task_1"}, {}))
    assert out["__error__"]["code"] == "capacity"


def test_unjoined_anonymous_matches_are_capped_in_total(ray_cluster, instance):
    """The directory counts live matches nobody joined (served/admission.py); a seated creation is not one."""
    ray = ray_cluster
    s = instance(pool_size=0, matches_per_actor=8, max_unjoined_matches=2)
    directory = naming.directory_handle(s)
    _create(ray, directory)
    _create(ray, directory)
    out = ray.get(directory.create_match.remote(None, None, {"task_id": "task_1"}, {}))
    assert out["__error__"]["code"] == "capacity" and "waiting for players" in out["__error__"]["message"]
    seated = ray.get(directory.create_match.remote("fraudster", "conn-1", {"task_id": "task_1"}, {}))
    assert "__error__" not in seated, seated


def test_history_survives_actor_restart_and_replacement(ray_cluster, instance):
    ray = ray_cluster
    s = instance(archive_capacity=3)
    history = naming.history_handle(s)
    for i in range(4):
        ray.get(history.append.remote([{"match_id": f"m{i}", "summary": {"match_id": f"m{i}", "status": "done"},
                                        "record": {"i": i}}]))
    ray.kill(history, no_restart=False)  # Ray restarts it; the archive is reloaded from disk
    assert until(lambda: _safe_recent(ray, history), what="restarted history") == ["m3", "m2", "m1"]
    ray.kill(history, no_restart=True)  # as after a cluster restart: a brand-new actor on the same file
    until(lambda: naming._get(s, "history") is None, what="history gone")
    fresh = naming.history_handle(s)
    assert [m["match_id"] for m in ray.get(fresh.recent.remote(10))] == ["m3", "m2", "m1"]
    assert ray.get(fresh.get.remote("m2"))["record"] == {"i": 2}


def _safe_recent(ray, handle):
    try:
        return [m["match_id"] for m in ray.get(handle.recent.remote(10), timeout=5)]
    except Exception:
        return None


def test_the_per_request_calls_record_no_task_events():
    """The hot-path methods are declared without task events (docs/operations.md#capacity-per-node-and-what-to-watch:
    about a seventh of Ray's CPU per call); the per-match control calls keep them for the dashboard."""
    from fraudarena.cluster.directory import DirectoryActor
    from fraudarena.cluster.match_actor import MatchActor

    match_meta = MatchActor.__ray_metadata__.method_meta.enable_task_events
    assert match_meta == {"handle_batch": False, "poll": False, "watch": False}
    assert DirectoryActor.__ray_metadata__.method_meta.enable_task_events == {"update": False}
