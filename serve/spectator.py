"""The spectator page: a browser view of live matches, followed move by move, and replays of finished ones.

One static HTML page (``GET /`` and ``GET /spectate``, the file ``static/spectator.html``) that reads only the
public REST API: ``/api/v1/matches`` (live summaries), ``/api/v1/archive`` (finished and abandoned matches),
``/api/v1/matches/{id}/events`` without a token (a spectator's view of a live match: phase changes, the
Investigator's pulls and verdicts as every seat's ``AdView`` shows them, the Auditor's flags) and
``/api/v1/matches/{id}/report`` (the full record, served only after ``done``). It never sees hidden
information of a live match, because the API does not give it out. ``/#<match_id>`` opens one match.

A match whose phase is ``done`` is listed under Finished at once (the server keeps it among the live ones for
``done_linger_s``), and opening it shows the replay. The move log reads as sentences, newest move in view.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()

PAGE_FILE = Path(__file__).with_name("static") / "spectator.html"
PAGE = PAGE_FILE.read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("/spectate", response_class=HTMLResponse, include_in_schema=False)
async def spectator_page() -> HTMLResponse:
    """The spectator page (static HTML; everything it shows comes from the public REST API)."""
    return HTMLResponse(PAGE)
