"""Calls from the app to its match host, counted (``GET /api/v1/debug/calls``), over real sockets (uvicorn, no Ray).

Three scripted-bot clients play a full match: every ``obs`` they send after ``your_turn``/``match_done`` is
answered from the observation that came with the event (no host call), and each move is one host call at
most (docs/operations.md). The counters are served only with ``debug_calls``.
"""

from __future__ import annotations

import asyncio

import httpx
from serve_helpers import three_socket_match

from fraudarena.agents import play_match
from fraudarena.serve.baseline import UvicornThread, baseline_app
from fraudarena.served.settings import ArenaSettings


def test_debug_calls_is_off_by_default(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"))
    with UvicornThread(baseline_app(settings)) as srv:
        assert httpx.get(f"{srv.http}/api/v1/debug/calls").status_code == 404


def test_a_match_costs_about_one_host_call_per_move(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"), debug_calls=True, done_linger_s=5)
    with UvicornThread(baseline_app(settings)) as srv:
        finals, _ = asyncio.run(three_socket_match(srv.url, "task_1", 21))
        calls = httpx.get(f"{srv.http}/api/v1/debug/calls").json()["calls"]
    assert finals["fraudster"]["record"] == play_match("task_1", 21)
    moves = len(finals["fraudster"]["record"]["actions"])
    assert calls["obs_from_events"] >= 3  # at least each seat's match_done observation came with the event
    # create, 2 joins, the moves, up to 3 leaves; obs after events never reach the host
    assert calls["requests"] <= 3 + moves + 3
    assert calls["batches"] <= calls["requests"] and calls.get("polls", 0) <= 6
