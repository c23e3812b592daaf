"""Fuzzing every endpoint of the served arena (issue 10), bounded, in the default test run.

The single-process app (``LocalBackend`` under uvicorn, real sockets on 127.0.0.1) gets hostile and
valid-looking input on all four endpoint types at once: role sockets ``/ws/<role>``, the OpenEnv ``/ws``,
every REST route (``/api/v1`` and the root metadata routes, every method) and ``POST /mcp``
(generators: ``tests/helpers/fuzz_inputs.py``; the same at scale: ``benchmarks/fuzz.py``). Asserted:

* no server fault: no 5xx but 503 ``capacity``, every error a typed error of docs/protocol.md#errors (or a
  documented close code), no request left unanswered, and no error logged by the server;
* the server still plays a normal three-socket match and an OpenEnv match afterwards;
* no leaks: live matches and open connections go back to their baseline.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import fuzz_inputs as F
import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect as sync_connect

from fraudarena.serve.baseline import UvicornThread, baseline_app
from fraudarena.served.settings import ArenaSettings

PER_TYPE = 400  # inputs per endpoint type (the benchmark runs >= 100,000)


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    settings = ArenaSettings(**F.FUZZ_ARGS, archive_path=str(tmp_path_factory.mktemp("fuzz") / "a.sqlite3"))
    server = UvicornThread(baseline_app(settings))  # configures uvicorn's loggers: attach the counter after
    with F.ServerLog() as log, server as srv:
        yield srv, log


async def _openenv_match(url: str) -> dict:
    """Play the Investigator on ``/ws`` by ending every turn; the final observation frame."""
    async with websockets.connect(f"{url}/ws") as ws:
        await ws.send(json.dumps({"type": "reset", "data": {"task_id": "task_1", "seed": 5}}))
        reply = json.loads(await ws.recv())
        for _ in range(50):
            if reply["data"].get("done"):
                break
            await ws.send(json.dumps({"type": "step", "data": {"action_type": "end_turn"}}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert reply["type"] == "observation", reply
        return reply


def _assert_still_serves(srv) -> None:
    finals = asyncio.run(F.normal_match(srv.url, 11))
    assert all(f["done"] for f in finals.values())
    assert asyncio.run(_openenv_match(srv.url))["data"]["done"] is True


def test_fuzz_every_endpoint_no_fault_no_leak(fuzzed_server):
    srv, log = fuzzed_server
    base_live = F.wait_live_matches(srv.http, 0, 15)
    per_type = dict.fromkeys(F.ENDPOINT_TYPES, PER_TYPE)
    tallies = asyncio.run(F.fuzz(srv.url, srv.http, per_type, seed=20261207, workers=4, reply_timeout_s=20))
    for kind, tally in tallies.items():
        assert tally.tried == PER_TYPE, (kind, tally.tried)
        assert tally.faults == 0, (kind, tally.fault_samples)
    # The mix reached past the parser: typed refusals of several kinds and real answers on each socket type.
    role, openenv = tallies["role_ws"].answers, tallies["openenv_ws"].answers
    assert {"error:invalid_json", "error:validation_error", "observation"} <= set(role), role
    assert {"error:INVALID_JSON", "error:VALIDATION_ERROR", "observation"} <= set(openenv), openenv
    assert "201" in tallies["rest"].answers and "rpc:result" in tallies["mcp"].answers
    assert log.records == [], log.records[:5]
    # No leaks: every match the fuzzer made is archived by the short TTLs, every socket is closed.
    assert F.wait_live_matches(srv.http, base_live, 30) == base_live
    assert F.wait_connections(srv.port, 0, 15) == 0
    _assert_still_serves(srv)
    assert F.wait_live_matches(srv.http, base_live, 30) == base_live
    assert log.records == [], log.records[:5]


def test_fuzz_is_reproducible_from_its_seed():
    a, b = F.Gen(7), F.Gen(7)
    assert [a.role_frame("auditor") for _ in range(300)] == [b.role_frame("auditor") for _ in range(300)]
    assert [a.rest_request() for _ in range(100)] == [b.rest_request() for _ in range(100)]


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                     max_leaves=20)
_frames = st.fixed_dictionaries(
    {"type": st.sampled_from(["reset", "join", "step", "obs", "state", "queue", "close", "x"]) | st.text(max_size=8)},
    optional={"data": _json | st.dictionaries(st.sampled_from(["action_type", "match_id", "token", "seed", "task_id",
                                                               "role", "takeover", "house_bots"]), _json),
              "id": _json, "seq": _json})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(_frames, min_size=1, max_size=6), role=st.sampled_from(["fraudster", "investigator", "auditor"]))
def test_random_frames_get_typed_answers(fuzzed_server, frames, role):
    """Any JSON object frames, in any order, on a role socket: one typed answer each (or the 1000 close)."""
    srv, log = fuzzed_server
    with sync_connect(f"{srv.url}/ws/{role}?events=0", open_timeout=20) as ws:
        for frame in frames:
            ws.send(json.dumps(frame))
            try:
                reply = json.loads(ws.recv(timeout=20))
            except websockets.ConnectionClosed as exc:
                assert frame["type"] == "close" and exc.rcvd is not None and exc.rcvd.code == 1000, (frame, exc)
                return
            assert reply["type"] in ("observation", "state", "queued", "error"), reply
            if reply["type"] == "error":
                assert reply["data"]["code"] in F.ROLE_CODES, reply
    assert log.records == [], log.records[:5]


def test_body_cut_off_by_the_client_is_no_server_error(fuzzed_server):
    """Found by this fuzzer: a POST whose body ends early (the client half-closes) raised ``ClientDisconnect``
    out of the handler ("Exception in ASGI application"); it is now an ordinary refusal."""
    srv, log = fuzzed_server
    for path in ("/api/v1/matches", "/mcp"):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{{}}".encode())
            s.shutdown(socket.SHUT_WR)
            s.recv(100)
    assert F.established_connections(srv.port) == 0 or F.wait_connections(srv.port, 0, 10) == 0
    time.sleep(0.2)
    assert log.records == [], log.records[:5]


def test_mcp_echoes_an_id_holding_a_lone_surrogate(fuzzed_server):
    """Found by ``benchmarks/fuzz.py``: a JSON-RPC id such as ``"\\ud83c"`` (valid JSON text, not encodable as
    UTF-8) made rendering the answer fail with HTTP 500; it is echoed with an ASCII escape now."""
    srv, log = fuzzed_server
    r = httpx.post(f"{srv.http}/mcp", content=b'{"jsonrpc":"2.0","id":"\\ud83c","method":"ping"}', timeout=30)
    assert r.status_code == 200 and r.json()["id"] == "\ud83c"  # answered (here: -32600, no valid UTF-8 id)
    assert r.json()["error"]["code"] == -32600
    assert log.records == [], log.records[:5]
