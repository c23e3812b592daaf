"""ArchiveStore: ring-buffer eviction, persistence across reopen, lookup and listing."""

from __future__ import annotations

from fraudarena.served import tokens
from fraudarena.served.archive_store import ArchiveStore, remove_with_token


def _put(store: ArchiveStore, i: int) -> None:
    store.append(f"m{i}", {"match_id": f"m{i}", "status": "done"}, {"n": i})


def test_capacity_evicts_oldest_and_lists_newest_first(tmp_path):
    store = ArchiveStore(tmp_path / "a.sqlite3", capacity=3)
    for i in range(5):
        _put(store, i)
    assert len(store) == 3
    assert store.get("m0") is None and store.get("m1") is None
    assert [s["match_id"] for s in store.recent(10)] == ["m4", "m3", "m2"]
    assert store.get("m4") == {"summary": {"match_id": "m4", "status": "done"}, "record": {"n": 4}}


def test_reopen_keeps_everything_and_the_bound(tmp_path):
    path = tmp_path / "a.sqlite3"
    store = ArchiveStore(path, capacity=10)
    for i in range(4):
        _put(store, i)
    assert store.remove("m1")
    store.close()
    again = ArchiveStore(path, capacity=2)  # a smaller capacity on restart evicts down to it
    assert [s["match_id"] for s in again.recent(10)] == ["m3", "m2"]
    assert again.get("m3")["record"] == {"n": 3}
    _put(again, 9)
    assert [s["match_id"] for s in again.recent(1)] == ["m9"]
    assert len(again) == 2


def test_only_the_admin_token_removes_an_entry(tmp_path):
    store = ArchiveStore(tmp_path / "a.sqlite3", capacity=5)
    admin = tokens.new_token()
    store.append("m1", {"match_id": "m1"}, {}, tokens.digest(admin))
    _put(store, 2)
    assert remove_with_token(store, "m1", "wrong") == "unauthorized"
    assert remove_with_token(store, "m2", admin) == "unauthorized"  # no secret stored: nobody may
    assert remove_with_token(store, "m9", admin) == "unknown"
    assert remove_with_token(store, "m1", admin) == "removed" and store.get("m1") is None
