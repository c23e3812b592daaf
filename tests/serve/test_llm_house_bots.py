"""``llm:<name>`` house bots: a chat model named in the settings' ``llm_bots`` plays a served seat.

The model is ``ScriptedChatServer`` (tests/helpers/chat_server.py), a real chat-completions server on
loopback; the arena runs in-process (``LocalBackend``), no Ray.
"""

from __future__ import annotations

import pytest
from chat_server import ScriptedChatServer, smart_answer
from fastapi.testclient import TestClient
from ws_play import play_investigator_ending_turns

from fraudarena.serve import frames
from fraudarena.serve.app import create_app
from fraudarena.served.local_backend import LocalBackend
from fraudarena.served.settings import ArenaSettings

pytest.importorskip("httpx")


def test_resolve_llm_house_bots() -> None:
    bots = frames.resolve_house_bots({"fraudster": "llm:smol", "auditor": "scripted"}, {},
                                     llm_bots={"smol": "SmolLM2@http://127.0.0.1:8080/v1"})
    assert bots == {"fraudster": "llm:SmolLM2@http://127.0.0.1:8080/v1", "auditor": "scripted"}
    with pytest.raises(frames.ProtocolError, match="none configured"):
        frames.resolve_house_bots({"fraudster": "llm:smol"}, {})


def test_llm_house_bot_plays_a_served_match(tmp_path) -> None:
    with ScriptedChatServer(default={"fn": smart_answer}) as chat:
        settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"), done_linger_s=0,
                                 llm_bots={"smart": f"smart-model@{chat.url}"})
        with TestClient(create_app(settings, LocalBackend(settings))) as client:
            unknown = client.post("/api/v1/matches", json={"task_id": "task_1",
                                                           "house_bots": {"fraudster": "llm:nope"}})
            assert unknown.status_code == 400
            assert unknown.json()["error"]["code"] == "validation_error"
            assert "smart" in unknown.json()["error"]["message"]

            with client.websocket_connect("/ws/investigator") as ws:
                obs = play_investigator_ending_turns(ws, {"fraudster": "llm:smart", "auditor": "scripted"})
        proposals = [a for a in obs["record"]["actions"]
                     if a["role"] == "fraudster" and a["action"]["action_type"] == "propose_ad"]
        assert proposals and all("family shop" in a["action"]["ad_copy"] for a in proposals)
        assert chat.requests and all(r["model"] == "smart-model" for r in chat.requests)
