"""The spectator page in a real headless Chromium (Playwright on the system browser; issue 12).

The plain FastAPI app runs under uvicorn on 127.0.0.1 (no Ray). One match is played to the end before the page
opens; a second one is played slowly while the page is open. The test follows the live match move by move, sees
it move to Finished as soon as its phase is ``done`` (the server still lists it as live for ``done_linger_s``),
opens the finished match's replay, steps it, and checks that the move log reads as sentences with the newest move
in view. Screenshots go to the test's tmp dir and are copied to ``tests/artifacts/spectator/`` (git-ignored).

Needs ``playwright`` (the ``dev`` extra) and a Chromium binary (Debian: ``apt-get install chromium``); browsers
are never downloaded (no ``playwright install``): ``FRAUDARENA_CHROMIUM`` or ``chromium`` on PATH is used.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudarena.agents import make_bot
from fraudarena.agents.client import RoleClient, play_seat
from fraudarena.serve.baseline import UvicornThread, baseline_app
from fraudarena.served.settings import ArenaSettings

CHROMIUM = os.environ.get("FRAUDARENA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "spectator"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary (Debian: apt-get install chromium; "
                                "or set FRAUDARENA_CHROMIUM); the spectator page is tested in a real browser")

JSON_DUMP = re.compile(r'[{}]|"action_type"')
SENTENCE = re.compile(r"^round \d+ · (fraudster|investigator|auditor) \S")


class SlowBot:
    """A bot that waits for ``go`` before its first move and then ``delay`` seconds before each move."""

    def __init__(self, bot: Any, go: threading.Event, delay: float) -> None:
        self.bot, self.go, self.delay = bot, go, delay

    def act(self, obs: dict[str, Any]) -> dict[str, Any]:
        """The wrapped bot's action, after the gate and the delay (blocks the driver thread only)."""
        self.go.wait(60)
        time.sleep(self.delay)
        return self.bot.act(obs)


def play_investigator(url: str, task_id: str, seed: int, bot: Any, out: dict[str, Any]) -> None:
    """Play the Investigator seat of a new match (house bots elsewhere) to the end; match id and final in ``out``."""

    async def run() -> None:
        async with RoleClient(url, "investigator") as client:
            obs = await client.reset(task_id=task_id, seed=seed,
                                     house_bots={"fraudster": "scripted", "auditor": "scripted"})
            out["match_id"] = obs["match_id"]
            out["final"] = await play_seat(client, bot, obs)

    try:
        asyncio.run(run())
    except BaseException as exc:  # reported by the test
        out["error"] = exc


def shoot(page: Any, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in the test's tmp dir, copied to tests/artifacts/spectator/."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)
    return path


def move_lines(page: Any) -> list[str]:
    """The visible lines of the move log."""
    return [t.strip() for t in page.locator("#log .mv:visible").all_inner_texts()]


def in_view(page: Any, selector: str) -> bool:
    """Whether the element is scrolled into view inside the move log."""
    return page.evaluate("""(sel) => { const log = document.getElementById('log'), el = document.querySelector(sel);
        if (!el) return false; const a = log.getBoundingClientRect(), b = el.getBoundingClientRect();
        return b.top >= a.top - 1 && b.bottom <= a.bottom + 1; }""", selector)


@pytest.fixture()
def server(tmp_path):
    # done_linger_s as in production: a finished match stays in GET /matches for a minute
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"), done_linger_s=60)
    with UvicornThread(baseline_app(settings)) as srv:
        yield srv


def test_spectator_page_follows_live_matches_and_replays_finished_ones(server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    api = f"{server.http}/api/v1"

    finished: dict[str, Any] = {}
    play_investigator(server.url, "task_3", 11, make_bot("scripted", "investigator", 11), finished)
    assert "error" not in finished, finished.get("error")
    done_id = finished["match_id"]

    go = threading.Event()
    live: dict[str, Any] = {}
    driver = threading.Thread(target=play_investigator, daemon=True, args=(
        server.url, "task_1", 5, SlowBot(make_bot("scripted", "investigator", 5), go, 0.25), live))
    driver.start()
    try:
        until_ok = time.monotonic() + 20
        while "match_id" not in live:
            assert time.monotonic() < until_ok and driver.is_alive(), live.get("error", "live match not created")
            time.sleep(0.05)
        live_id = live["match_id"]

        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.http + "/")

            # the lists: the finished match under Finished although the server still lists it as live
            assert any(m["match_id"] == done_id for m in httpx.get(f"{api}/matches").json()["matches"])
            page.locator(f"#archive .m[data-id='{done_id}']").wait_for(timeout=10_000)
            page.locator(f"#live .m[data-id='{live_id}']").wait_for(timeout=10_000)
            assert page.locator(f"#live .m[data-id='{done_id}']").count() == 0

            # the live match, followed as it is played
            page.locator(f"#live .m[data-id='{live_id}']").click()
            page.get_by_text("Following this match as it is played").wait_for(timeout=10_000)
            go.set()
            page.wait_for_function("document.querySelectorAll('#log .mv').length >= 4", timeout=20_000)
            first = move_lines(page)
            shoot(page, tmp_path, "1-live-early")
            page.wait_for_function(f"document.querySelectorAll('#log .mv').length > {len(first) + 2}",
                                   timeout=20_000)
            later = move_lines(page)
            assert later[: len(first)] == first  # moves are appended, never rewritten
            actions = [t.strip() for t in page.locator("#log .mv:not(.phase)").all_inner_texts()]
            assert actions and all(SENTENCE.match(t) for t in actions), later
            assert any(re.search(r"investigator (pulled \w+ on ad_\w+|(approved|rejected|escalated) ad_\w+)", t)
                       for t in actions), later
            assert not any(JSON_DUMP.search(t) for t in later), later
            assert not any("fraudster proposed" in t for t in later)  # hidden while live
            assert in_view(page, "#log .mv:last-child")
            shoot(page, tmp_path, "2-live-later")

            # the end of the live match: the page switches to the replay and the list to Finished at once
            page.get_by_text("The match just finished").wait_for(timeout=90_000)
            driver.join(30)
            assert "error" not in live, live.get("error")
            assert live["final"]["done"]
            assert any(m["match_id"] == live_id and m["phase"] == "done"
                       for m in httpx.get(f"{api}/matches").json()["matches"])  # still lingering server-side
            page.locator(f"#archive .m[data-id='{live_id}']").wait_for(timeout=5_000)
            assert page.locator(f"#live .m[data-id='{live_id}']").count() == 0
            assert page.locator("#tn").inner_text().startswith("move ")
            shoot(page, tmp_path, "3-live-finished-replay")

            # the finished match: a replay, stepped
            page.locator(f"#archive .m[data-id='{done_id}']").click()
            page.wait_for_function(f"location.hash === '#{done_id}' && !!document.getElementById('tn')"
                                   f" && document.querySelector('#main h1').textContent === '{done_id}'",
                                   timeout=10_000)
            record = httpx.get(f"{api}/matches/{done_id}/report").json()["record"]
            total = len(record["actions"])
            assert page.locator("#tn").inner_text() == f"move {total} / {total}"
            lines = move_lines(page)
            assert len(lines) == total and all(SENTENCE.match(t) for t in lines), lines[:5]
            assert not any(JSON_DUMP.search(t) for t in lines)
            assert any(re.search(r"fraudster proposed an ad in \w+ \(camouflage: [\w, ]+\)", t) for t in lines)
            assert any(re.search(r"investigator pulled \w+ on ad_\w+: \S", t) for t in lines)
            assert any(re.search(r"investigator (approved|rejected|escalated) ad_\w+ \(confidence \d\.\d\d\)", t)
                       for t in lines)
            assert any(re.search(r"auditor submitted the audit report", t) for t in lines)
            assert in_view(page, "#log .mv.cur")
            shoot(page, tmp_path, "4-replay-final")

            page.locator("#b0").click()
            assert page.locator("#tn").inner_text() == f"move 0 / {total}"
            assert move_lines(page) == []
            for _ in range(3):
                page.locator("#bn").click()
            page.keyboard.press("ArrowRight")
            assert page.locator("#tn").inner_text() == f"move 4 / {total}"
            assert move_lines(page) == lines[:4]
            assert page.locator("#log .mv.cur").inner_text().strip() == lines[3]
            shoot(page, tmp_path, "5-replay-move-4")

            mid = total // 2
            page.locator("#t").fill(str(mid))  # the slider
            assert page.locator("#tn").inner_text() == f"move {mid} / {total}"
            assert in_view(page, "#log .mv.cur")
            assert page.locator("#log .mv.cur").inner_text().strip() == lines[mid - 1]
            assert page.locator("#qh").inner_text().startswith(f"Queue after move {mid}")
            shoot(page, tmp_path, "6-replay-middle")

            # the sentences of the issue, for moves this match did not happen to contain
            said = page.evaluate("""() => [
                {round: 2, role: "investigator", action: {action_type: "investigate", ad_id: "ad_3ubpbf",
                 investigation_target: "landing_page"}},
                {round: 1, role: "fraudster", action: {action_type: "propose_ad", category: "fake_crypto",
                 camouflage: ["landing_page"]}},
                {round: 3, role: "investigator", action: {action_type: "verdict", ad_id: "ad_x", verdict: "reject",
                 confidence: 0.91}},
                {round: 4, role: "auditor", action: {action_type: "flag_investigator", flag_type: "missing_citation",
                 target_ad_id: "ad_y"}},
                {round: 4, role: "auditor", action: {action_type: "flag_investigator", flag_type: "bias"}},
              ].map((e) => { const d = document.createElement("div"); d.innerHTML = describe(e, {
                finding: () => ({domain: "truemart51.click", domain_age_days: 3, claims_flagged: 2, ssl_valid: true,
                                 text: "landing page truemart51.click"})}); return d.textContent; })""")
            assert said[0] == ("round 2 · investigator pulled landing_page on ad_3ubpbf: domain truemart51.click "
                               "(3 days old, 2 unsupported claims)")
            assert said[1] == "round 1 · fraudster proposed an ad in fake_crypto (camouflage: landing_page)"
            assert said[2] == "round 3 · investigator rejected ad_x (confidence 0.91)"
            assert said[3].startswith("round 4 · auditor flagged missing_citation on ad_y")
            assert said[4].startswith("round 4 · auditor flagged bias (whole match)")
            assert errors == [], errors
            browser.close()
    finally:
        go.set()
        driver.join(30)
    print(f"spectator screenshots: {tmp_path} (copied to {ARTIFACTS})")
