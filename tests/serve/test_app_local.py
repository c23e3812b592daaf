"""The plain FastAPI app without Ray: frame parsing, REST and a role socket through ``TestClient``."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fraudarena.serve import frames
from fraudarena.serve.app import create_app
from fraudarena.serve.ratelimit import TokenBucket
from fraudarena.served.errors import ProtocolError
from fraudarena.served.local_backend import LocalBackend
from fraudarena.served.settings import ArenaSettings


@pytest.fixture()
def client(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"), max_live_matches=2, done_linger_s=0)
    with TestClient(create_app(settings, LocalBackend(settings))) as c:
        yield c


def _parse_code(text: str) -> str:
    with pytest.raises(ProtocolError) as e:
        frames.parse_frame(frames.decode_object(text))
    return e.value.code


def test_frame_codes():
    assert _parse_code("nope") == "invalid_json"
    assert _parse_code("3") == "invalid_json"
    assert _parse_code('{"type": 3}') == "invalid_json"
    assert _parse_code('{"type": "jump"}') == "unknown_type"
    assert _parse_code('{"type": "reset", "data": {"seed": -1}}') == "validation_error"
    assert _parse_code('{"type": "reset", "data": {"seed": "1"}}') == "validation_error"
    assert _parse_code('{"type": "reset", "data": {"allowed_categories": ["a", "a"]}}') == "validation_error"
    assert _parse_code('{"type": "obs", "data": {"x": 1}}') == "validation_error"
    assert _parse_code('{"type": "step", "seq": -1}') == "validation_error"
    frame = frames.parse_frame(frames.decode_object('{"type": "step", "data": {"action_type": "end_turn"}, "seq": 3}'))
    assert frame.seq == 3 and frame.data == {"action_type": "end_turn"}
    assert frames.echo_id({"id": "x" * 65}) is None and frames.echo_id({"id": 5}) == 5


def test_token_bucket_limits_and_flags_abuse():
    now = [0.0]
    bucket = TokenBucket(rate_per_s=10, burst=5, close_after=3, clock=lambda: now[0])
    assert [bucket.admit() for _ in range(5)] == [None] * 5
    assert bucket.admit() == 100
    now[0] += 0.1
    assert bucket.admit() is None
    for _ in range(3):
        bucket.admit()
    assert bucket.abusive()


def test_rest_against_the_local_backend(client):
    assert client.get("/api/v1/info").json()["protocol_version"] == "fraudarena-ws/1"
    assert client.get("/health").json()["status"] == "healthy"
    one = client.post("/api/v1/matches", json={"task_id": "task_1"})
    assert one.status_code == 201 and set(one.json()["seat_tokens"]) == {"fraudster", "investigator", "auditor"}
    assert client.post("/api/v1/matches", json={}).status_code == 201
    full = client.post("/api/v1/matches", json={})
    assert full.status_code == 503 and full.json()["error"]["code"] == "capacity"
    mid = one.json()["match_id"]
    assert client.get("/api/v1/matches").json()["matches"][0]["match_id"] == mid
    assert client.get(f"/api/v1/matches/{mid}/events").json()["events"] == []
    assert client.delete(f"/api/v1/matches/{mid}").status_code == 401
    auth = {"Authorization": f"Bearer {one.json()['admin_token']}"}
    assert client.delete(f"/api/v1/matches/{mid}", headers=auth).status_code == 204
    assert client.get("/api/v1/archive").json()["matches"][0]["status"] == "abandoned"
    assert client.delete(f"/api/v1/matches/{mid}").status_code == 401
    assert client.delete(f"/api/v1/matches/{mid}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/matches/{mid}").status_code == 404
    assert client.post("/api/v1/matches", json={"house_bots": {"fraudster": "nope"}}).status_code == 400


def test_role_socket_through_testclient(client):
    with client.websocket_connect("/ws/fraudster") as ws:
        ws.send_text(json.dumps({"type": "obs", "id": "q1"}))
        assert ws.receive_json() == {"type": "error", "id": "q1", "data": {
            "code": "no_match", "message": "this connection holds no seat (reset or join first)"}}
        ws.send_text(json.dumps({"type": "reset", "data": {"task_id": "task_1", "seed": 2}, "id": 1}))
        obs = ws.receive_json()
        assert obs["type"] == "observation" and obs["id"] == 1 and obs["data"]["phase"] == "fraudster_turn"
        ws.send_text(json.dumps({"type": "state", "id": 2}))
        state = ws.receive_json()["data"]
        assert state["seats"] == {"fraudster": "connected", "investigator": "empty", "auditor": "empty"}
        assert state["turn_deadline_ms"] > 0 and state["step_count"] == 0
        ws.send_bytes(b"\x00")
        assert ws.receive_json()["data"]["code"] == "invalid_json"
        ws.send_text(json.dumps({"type": "step", "data": {"action_type": "end_turn"}, "id": 3}))
        reply = ws.receive_json()
        assert reply["id"] == 3 and reply["data"]["phase"] == "investigator_turn"
        event = ws.receive_json()  # the phase change, after the reply that caused it
        assert event["type"] == "event" and event["data"]["kind"] == "phase_changed" and "id" not in event


def test_spectator_page_is_served_and_uses_only_public_rest(client):
    for path in ("/", "/spectate"):
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "FraudArena spectator" in page.text
    # the page reads these public endpoints, which answer without a token
    assert client.get("/api/v1/matches").status_code == 200
    assert client.get("/api/v1/archive?limit=30").status_code == 200
    for endpoint in ("api/v1/matches", "api/v1/archive", "/report"):
        assert endpoint in page.text


def test_rest_rate_limit_answers_429_and_keeps_serving(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "r.sqlite3"), rate_per_s=5, rate_burst=3)
    with TestClient(create_app(settings, LocalBackend(settings))) as c:
        codes = [c.get("/api/v1/matches").status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200]
        assert 429 in codes[3:]
        limited = c.get("/api/v1/info")
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        import time

        time.sleep(0.5)  # the bucket refills at 5/s: the client is served again
        assert c.get("/api/v1/info").status_code == 200
