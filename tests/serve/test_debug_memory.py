"""``GET /api/v1/debug/memory`` (the ``debug_memory`` setting) over real sockets (uvicorn, no Ray)."""

from __future__ import annotations

import asyncio
import tracemalloc

import httpx
from serve_helpers import three_socket_match

from fraudarena.serve.baseline import UvicornThread, baseline_app
from fraudarena.served.settings import ArenaSettings


def test_debug_memory_is_off_by_default(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"))
    with UvicornThread(baseline_app(settings)) as srv:
        assert httpx.get(f"{srv.http}/api/v1/debug/memory").status_code == 404
    assert not tracemalloc.is_tracing()


def test_debug_memory_reports_growth_by_site_since_the_baseline(tmp_path):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"), debug_memory=True, done_linger_s=5)
    try:
        with UvicornThread(baseline_app(settings)) as srv:
            assert tracemalloc.is_tracing()
            first = httpx.get(f"{srv.http}/api/v1/debug/memory?baseline=true", timeout=30).json()
            assert first["baseline"] == "taken" and first["traced_kib"] > 0
            asyncio.run(three_socket_match(srv.url, "task_1", 5))
            out = httpx.get(f"{srv.http}/api/v1/debug/memory?top=5", timeout=30).json()
    finally:
        tracemalloc.stop()  # the rest of the test session runs untraced
    assert 0 < len(out["sites"]) <= 5
    site = out["sites"][0]
    assert site["kib"] >= out["sites"][-1]["kib"] and site["traceback"]
    assert all(":" in frame for frame in site["traceback"])  # file:line, no source lines (linecache)
    assert isinstance(out["growth_kib"], float)
