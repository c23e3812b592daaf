"""Full matches through real Serve: record equality with in-process play, no leaks, REST, archive."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import ray
from serve_helpers import three_socket_match, until

from fraudarena.agents import play_match

pytestmark = [pytest.mark.ray, pytest.mark.serve]

# Keys that must not reach a role before ``done`` (docs/rules.md §9 "hidden"), per role.
HIDDEN_FROM_INVESTIGATOR = {"label", "fraud_type", "severity", "ring_id", "is_fraudster_proposal", "slot_index",
                            "camouflage", "impact", "record", "rewards", "plausibility", "seed", "rings"}
HIDDEN_FROM_FRAUDSTER = {"label", "ring_id", "record", "rewards", "plausibility", "seed", "rings"}


def _keys(obj, acc=None):
    acc = set() if acc is None else acc
    if isinstance(obj, dict):
        for k, v in obj.items():
            acc.add(k)
            _keys(v, acc)
    elif isinstance(obj, list):
        for v in obj:
            _keys(v, acc)
    return acc


@pytest.mark.parametrize(("task_id", "seed"), [("task_2", 11), ("task_3", 4)])
def test_three_external_clients_reproduce_the_in_process_record(main_arena, task_id, seed):
    finals, _ = asyncio.run(three_socket_match(main_arena.ws, task_id, seed))
    reference = play_match(task_id, seed)
    for role, final in finals.items():
        assert final["done"] is True, role
        assert final["record"] == reference, role
        assert final["rewards"] == reference["rewards"]


def test_no_frame_leaks_hidden_information_before_done(main_arena):
    finals, clients = asyncio.run(three_socket_match(main_arena.ws, "task_3", None, transcript=True))
    record = finals["investigator"]["record"]
    seed = str(record["config"]["seed"])
    tokens = {}
    for role, client in clients.items():
        pre_done = []
        for raw in client.transcript:
            frame = json.loads(raw)
            data = frame.get("data", {})
            if data.get("done") or data.get("kind") == "match_done" or data.get("phase") == "done":
                break
            if role == "auditor" and data.get("phase") == "audit_phase":
                break  # from here the Auditor sees the whole record by design (docs/rules.md §9)
            pre_done.append((raw, frame))
        assert pre_done, role
        if role == "fraudster":
            tokens = pre_done[0][1]["data"]["seat_tokens"]
        for raw, frame in pre_done:
            assert seed not in raw, (role, "seed")
            keys = _keys(frame["data"])
            if frame["type"] == "event":
                assert keys <= {"kind", "match_id", "phase", "round_number"}, keys
            if role == "fraudster":
                assert not keys & HIDDEN_FROM_FRAUDSTER, (role, keys & HIDDEN_FROM_FRAUDSTER)
            else:
                assert not keys & HIDDEN_FROM_INVESTIGATOR, (role, keys & HIDDEN_FROM_INVESTIGATOR)
    for role in ("investigator", "auditor"):
        blob = "".join(clients[role].transcript)
        assert all(tok not in blob for r, tok in tokens.items() if r != role)


def test_rest_api_and_house_bots(main_arena):
    api = f"{main_arena.http}/api/v1"
    info = httpx.get(f"{api}/info").json()
    assert info["protocol_version"] == "fraudarena-ws/1" and info["open_seats"] is False
    assert set(httpx.get(f"{api}/tasks").json()["tasks"]) >= {"task_1", "task_3"}
    bad = httpx.post(f"{api}/matches", json={"task_id": "task_1", "max_rounds": 99})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert httpx.post(f"{api}/matches", content=b"{nope").json()["error"]["code"] == "invalid_json"
    created = httpx.post(f"{api}/matches", json={"task_id": "task_1", "seed": 3, "house_bots": {
        "fraudster": "scripted", "investigator": "scripted", "auditor": "scripted"}})
    assert created.status_code == 201
    body = created.json()
    assert body["seat_tokens"] == {} and body["ws"]["auditor"].endswith("/ws/auditor")
    mid = body["match_id"]
    summary = httpx.get(f"{api}/matches/{mid}").json()
    assert summary["status"] == "done" and summary["end_reason"] is not None  # bots played it at once
    report = httpx.get(f"{api}/matches/{mid}/report").json()
    assert report["record"] == play_match("task_1", 3)
    events = httpx.get(f"{api}/matches/{mid}/events").json()["events"]
    assert [e["n"] for e in events] == [a["n"] for a in report["record"]["actions"]]
    live = httpx.post(f"{api}/matches", json={"task_id": "task_1"}).json()
    assert live["match_id"] in {m["match_id"] for m in httpx.get(f"{api}/matches").json()["matches"]}
    assert httpx.get(f"{api}/matches/{live['match_id']}/report").status_code == 409
    assert httpx.delete(f"{api}/matches/{live['match_id']}",
                        headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.delete(f"{api}/matches/{live['match_id']}",
                        headers={"Authorization": f"Bearer {live['admin_token']}"}).status_code == 204
    gone = httpx.get(f"{api}/matches/{live['match_id']}").json()
    assert gone["status"] == "abandoned" and gone["end_reason"] is None
    assert httpx.delete(f"{api}/matches/{live['match_id']}",
                        headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.delete(f"{api}/matches/{live['match_id']}",  # an archived match is removed
                        headers={"Authorization": f"Bearer {live['admin_token']}"}).status_code == 204
    assert httpx.get(f"{api}/matches/{live['match_id']}").status_code == 404
    assert httpx.get(f"{api}/matches/m_nope").status_code == 404
    assert httpx.get(f"{api}/archive", params={"limit": 0}).status_code == 400
    assert httpx.get(f"{main_arena.http}/health").json()["status"] == "healthy"


def test_archive_survives_history_actor_restarts(main_arena, served):
    api = f"{main_arena.http}/api/v1"
    finals, _ = asyncio.run(three_socket_match(main_arena.ws, "task_1", 21))
    mid = finals["fraudster"]["match_id"]
    until(lambda: mid in [m["match_id"] for m in httpx.get(f"{api}/archive").json()["matches"]],
          what="match archived")
    assert httpx.get(f"{api}/matches/{mid}").json()["status"] == "done"
    settings = served["settings"]["main"]
    handle = ray.get_actor(settings.actor_name("history"), namespace=settings.namespace)
    ray.kill(handle, no_restart=False)  # crash: Ray restarts it from the same file

    def archived():
        r = httpx.get(f"{api}/archive")
        return r.status_code == 200 and mid in [m["match_id"] for m in r.json()["matches"]]

    until(archived, what="archive after restart")
    ray.kill(handle, no_restart=True)  # gone for good: the app creates a new one on the same file
    until(archived, what="archive after replacement")
    assert httpx.get(f"{api}/matches/{mid}/report").json()["record"] == finals["auditor"]["record"]
