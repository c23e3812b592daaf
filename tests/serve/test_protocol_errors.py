"""Every docs/protocol.md#errors error over real Serve sockets, each answered while the connection keeps serving."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from fraudarena.agents.client import RoleClient, ServerError

pytestmark = [pytest.mark.ray, pytest.mark.serve]


async def _raw(ws, text) -> dict:
    await ws.send(text)
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] != "event":
            return frame


async def _code(client: RoleClient, *args, **kw) -> str:
    with pytest.raises(ServerError) as e:
        await client.request(*args, **kw)
    return e.value.code


async def _errors(url: str) -> None:
    async with RoleClient(url, "investigator") as inv, RoleClient(url, "fraudster") as fr:
        assert await _code(inv, "x", raw="{not json") == "invalid_json"
        assert await _code(inv, "x", raw="[1, 2]") == "invalid_json"
        assert await _code(inv, "x", raw='{"data": {}}') == "invalid_json"
        assert await _code(inv, "x", raw="[" * 20_000 + "]" * 20_000) == "invalid_json"  # depth > 64, no drop
        assert await _code(inv, "fly") == "unknown_type"
        assert await _code(inv, "obs") == "no_match"
        assert await _code(inv, "step", {"action_type": "end_turn"}) == "no_match"
        with pytest.raises(ServerError) as e:
            await inv.request("reset", {"task_id": "task_1", "max_rounds": 99, "bogus": 1})
        assert e.value.code == "validation_error"
        assert {tuple(d["loc"])[-1] for d in e.value.details} >= {"max_rounds", "bogus"}
        assert await _code(inv, "reset", {"house_bots": {"investigator": "scripted"}}) == "validation_error"
        assert await _code(inv, "reset", {"house_bots": {"auditor": "policy:nope"}}) == "validation_error"
        assert await _code(inv, "join", {}) == "missing_match_id"
        assert await _code(inv, "join", {"match_id": "m_nope", "token": "x"}) == "unknown_match"

        obs = await fr.reset(task_id="task_1", seed=9)
        mid, tokens = obs["match_id"], obs["seat_tokens"]
        assert await _code(inv, "join", {"match_id": mid}) == "unauthorized"
        assert await _code(inv, "join", {"match_id": mid, "token": tokens["auditor"]}) == "unauthorized"
        await inv.join(mid, tokens["investigator"])
        assert await _code(inv, "step", {"action_type": "end_turn"}) == "phase_violation"
        with pytest.raises(ServerError) as e:
            await fr.step({"action_type": "propose_ad", "category": "not_a_category", "ad_copy": "x"})
        assert e.value.code in ("validation_error", "illegal_action")
        assert await _code(fr, "x", raw=json.dumps({"type": "obs", "data": {}, "id": 1, "pad": "x" * 70_000})) \
            == "message_too_large"

        async with RoleClient(url, "investigator") as second:
            assert await _code(second, "join", {"match_id": mid, "token": tokens["investigator"]}) == "seat_taken"
            await second.join(mid, tokens["investigator"], takeover=True)  # the first socket is kicked (4409)
            assert await asyncio.wait_for(inv.closed, 10) == 4409
            assert inv.notices and inv.notices[0]["code"] == "seat_taken"
            assert (await second.state())["seats"]["investigator"] == "connected"
        async with RoleClient(url, "investigator") as third:  # reconnect with the right token resumes the seat
            again = await third.join(mid, tokens["investigator"])
            assert again["match_id"] == mid and again["role"] == "investigator"
        # the fraudster's connection served every request above and still does:
        assert (await fr.obs())["match_id"] == mid
        assert (await fr.step({"action_type": "end_turn"}, seq=7))["last_seq"] == 7
        assert (await fr.request("obs"))["last_seq"] == 7


async def _rate_limit(url: str) -> None:
    async with websockets.connect(f"{url}/ws/auditor") as ws:
        for i in range(60):
            await ws.send(json.dumps({"type": "obs", "id": i}))
        codes = [json.loads(await ws.recv())["data"].get("code") for _ in range(60)]
        limited = [c for c in codes if c == "rate_limited"]
        assert 10 <= len(limited) <= 25 and codes[0] == "no_match"
        await asyncio.sleep(0.2)
        assert (await _raw(ws, json.dumps({"type": "obs", "id": "after"})))["data"]["code"] == "no_match"


def test_protocol_errors_keep_the_connection_serving(main_arena):
    asyncio.run(_errors(main_arena.ws))


def test_rate_limit_answers_then_recovers(main_arena):
    asyncio.run(_rate_limit(main_arena.ws))


def test_oversized_body_is_refused_through_the_serve_proxy(main_arena):
    """A declared 10 MB body is answered 413 though only 100 bytes of it ever arrive (Serve's proxy streams)."""
    import socket

    head = (b"POST /api/v1/matches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n")
    with socket.create_connection(("127.0.0.1", main_arena.port), timeout=30) as s:
        s.sendall(head + b" " * 100)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
