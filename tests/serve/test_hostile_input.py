"""Safe defaults and hostile input (issue 10), on the plain app: ``TestClient`` and real sockets on 127.0.0.1.

* ``fraudarena serve`` binds 127.0.0.1 unless told otherwise;
* JSON nested deeper than ``max_json_depth`` is ``invalid_json`` on every endpoint (no 500, no dropped socket);
* REST bodies over the limit are refused (413) from ``Content-Length`` or while streaming, before the rest
  of the body is sent;
* a match nobody joins is archived ``abandoned`` after ``unjoined_ttl_s``; anonymous creation is rate-limited
  per client address.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from fraudarena.agents.client import RoleClient
from fraudarena.serve import frames
from fraudarena.serve.app import create_app
from fraudarena.serve.baseline import UvicornThread, baseline_app
from fraudarena.serve.launcher import exposure_notice, load_config, resolve_http
from fraudarena.served.local_backend import LocalBackend
from fraudarena.served.settings import ArenaSettings

DEEP = "[" * 5000 + "]" * 5000  # parses to a RecursionError in Python's json without the limit


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_serve_binds_loopback_unless_told():
    cfg = load_config()
    assert cfg["http_options"]["host"] == "127.0.0.1"
    assert resolve_http(cfg) == ("127.0.0.1", 8000)
    assert resolve_http({}) == ("127.0.0.1", 8000)
    assert resolve_http(cfg, "0.0.0.0", 9000) == ("0.0.0.0", 9000)
    assert exposure_notice("127.0.0.1") is None and "0.0.0.0" in exposure_notice("0.0.0.0")


def test_depth_scan_counts_only_structure():
    assert not frames.json_too_deep(_nested(64), 64) and frames.json_too_deep(_nested(65), 64)
    assert not frames.json_too_deep(json.dumps({"s": "[{" * 500, "t": '\\"[[[' * 100}), 64)
    assert frames.json_too_deep(json.dumps(["\\", '"', [[["x"]]]]), 3)
    assert frames.loads(_nested(64))[0] is not None
    for text in (_nested(65), DEEP, b"\xff", "[1,"):
        with pytest.raises(frames.ProtocolError) as e:
            frames.loads(text)
        assert e.value.code == "invalid_json"


@pytest.fixture()
def client(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"))
    with TestClient(create_app(settings, LocalBackend(settings))) as c:
        yield c


def test_deep_json_is_invalid_json_on_every_endpoint(client):
    deep_obj = '{"type": "reset", "data": {"seed": ' + _nested(70) + "}}"
    for role in ("fraudster", "investigator", "auditor"):
        with client.websocket_connect(f"/ws/{role}") as ws:
            for text in (DEEP, deep_obj):
                ws.send_text(text)
                assert ws.receive_json()["data"]["code"] == "invalid_json"
            ws.send_text(json.dumps({"type": "obs", "id": 1}))  # the socket still serves
            assert ws.receive_json()["data"]["code"] == "no_match"
    with client.websocket_connect("/ws") as ws:
        for text in (DEEP, deep_obj):
            ws.send_text(text)
            reply = ws.receive_json()
            assert reply["data"]["code"] == "INVALID_JSON" and "deeper than 64" in reply["data"]["message"]
        ws.send_text(json.dumps({"type": "state"}))
        assert ws.receive_json()["data"]["reason"] == "no_match"
    for body in (DEEP, '{"seed": ' + _nested(65) + "}"):
        r = client.post("/api/v1/matches", content=body.encode())
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = client.post("/api/v1/matches", content=('{"seed": ' + _nested(60) + "}").encode())
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error"  # parsed, then validated
    r = client.post("/mcp", content=DEEP.encode())
    assert r.status_code == 200 and r.json()["error"]["code"] == -32700


def _raw_http(port: int, head: str, body_parts: list[bytes]) -> str:
    """Send a request's head and part of its body (never all of it); return the answer's status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode())
        for part in body_parts:
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_oversized_rest_bodies_are_refused_before_they_are_read(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "b.sqlite3"), max_frame_bytes=4096)
    with UvicornThread(baseline_app(settings)) as srv:
        for path in ("/api/v1/matches", "/mcp"):
            # A declared 10 MB body: refused from the header alone, though only 100 bytes ever arrive.
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 10000000\r\n\r\n")
            status = _raw_http(srv.port, head, [b" " * 100])
            assert status.startswith("HTTP/1.1 413"), status
            # Chunked, no length: refused once the bytes streamed in pass the limit (the body never ends).
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
            status = _raw_http(srv.port, head, [chunk] * 2)
            assert status.startswith("HTTP/1.1 413"), status
        r = httpx.post(f"{srv.http}/api/v1/matches", content=b'{"task_id": "task_1"}' + b" " * 5000)
        assert r.status_code == 413 and r.json()["error"]["code"] == "message_too_large"
        assert httpx.post(f"{srv.http}/api/v1/matches", json={"task_id": "task_1"}).status_code == 201


def test_unjoined_anonymous_match_expires_and_creation_is_limited(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "c.sqlite3"), unjoined_ttl_s=1.5, idle_ttl_s=900,
                             create_burst=3, create_per_min=6)
    with UvicornThread(baseline_app(settings)) as srv:
        api = f"{srv.http}/api/v1"
        first = httpx.post(f"{api}/matches", json={"task_id": "task_1"})
        assert first.status_code == 201
        joined = first.json()

        async def join_and_leave() -> None:
            async with RoleClient(srv.url, "fraudster") as c:
                await c.join(joined["match_id"], joined["seat_tokens"]["fraudster"])

        asyncio.run(join_and_leave())  # joined once: from now on only the ordinary idle TTL applies
        made = [httpx.post(f"{api}/matches", json={"task_id": "task_1"}) for _ in range(2)]
        assert [r.status_code for r in made] == [201, 201]
        over = httpx.post(f"{api}/matches", json={"task_id": "task_1"})
        assert over.status_code == 429 and over.json()["error"]["code"] == "rate_limited"
        assert int(over.headers["Retry-After"]) >= 5  # 6 a minute: the next one in ~10 s
        assert httpx.get(f"{api}/info").status_code == 200  # only creation is limited
        deadline = time.monotonic() + 15
        while httpx.get(f"{api}/health").json()["live_matches"] > 1:
            assert time.monotonic() < deadline, "unjoined matches were not archived"
            time.sleep(0.1)
        assert httpx.get(f"{api}/matches/{joined['match_id']}").json()["status"] == "live"
        assert {httpx.get(f"{api}/matches/{r.json()['match_id']}").json()["status"] for r in made} == {"abandoned"}


def test_unjoined_matches_are_capped_in_total_and_a_join_frees_room(tmp_path):
    """Many clients (the rate limit is per address, so it is lifted here) meet the total cap on unjoined
    matches; joining one makes room again; creations by a seated creator are not counted."""
    settings = ArenaSettings(archive_path=str(tmp_path / "d.sqlite3"), max_unjoined_matches=3,
                             create_burst=1000, create_per_min=60_000)
    with UvicornThread(baseline_app(settings)) as srv:
        api = f"{srv.http}/api/v1"
        made = [httpx.post(f"{api}/matches", json={"task_id": "task_1"}) for _ in range(3)]
        assert [r.status_code for r in made] == [201, 201, 201]
        over = httpx.post(f"{api}/matches", json={"task_id": "task_1"})
        assert over.status_code == 503 and over.json()["error"]["code"] == "capacity"
        assert "waiting for players" in over.json()["error"]["message"] and "Retry-After" in over.headers
        first = made[0].json()

        async def join_one_and_create_seated() -> str | None:
            async with RoleClient(srv.url, "fraudster") as c:
                await c.join(first["match_id"], first["seat_tokens"]["fraudster"])
            async with RoleClient(srv.url, "investigator") as c:
                await c.reset(task_id="task_1")  # over the cap of unjoined matches, yet seated at once
                return c.match_id

        assert asyncio.run(join_one_and_create_seated())
        assert httpx.post(f"{api}/matches", json={"task_id": "task_1"}).status_code == 201
        assert httpx.post(f"{api}/matches", json={"task_id": "task_1"}).status_code == 503
