"""``policy:<name>`` house bots: a checkpoint named in the settings plays a seat inside the match host."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from ws_play import play_investigator_ending_turns

from fraudarena.serve.app import create_app
from fraudarena.served.local_backend import LocalBackend
from fraudarena.served.settings import ArenaSettings

torch = pytest.importorskip("torch")


@pytest.fixture()
def checkpoint(tmp_path):
    from fraudarena.agents.rl.models import build_model
    from fraudarena.agents.rl.neural_policy import save_checkpoint

    torch.manual_seed(0)
    weights = {role: build_model(role, 48).state_dict() for role in ("fraudster", "investigator")}
    return save_checkpoint(tmp_path / "ckpt", weights, {"hidden": 48}, iteration=0)


def test_policy_house_bot_plays_a_served_match(tmp_path, checkpoint):
    settings = ArenaSettings(archive_path=str(tmp_path / "a.sqlite3"), done_linger_s=0,
                             policies={"tiny": str(checkpoint)})
    with TestClient(create_app(settings, LocalBackend(settings))) as client:
        unknown = client.post("/api/v1/matches", json={"task_id": "task_1", "house_bots": {"fraudster": "policy:nope"}})
        assert unknown.status_code == 400
        assert unknown.json()["error"]["code"] == "validation_error"
        assert "tiny" in unknown.json()["error"]["message"]

        with client.websocket_connect("/ws/investigator") as ws:
            obs = play_investigator_ending_turns(ws, {"fraudster": "policy:tiny", "auditor": "scripted"})
            record = obs["record"]
            assert record["end_reason"] is not None
            fraud_actions = [a for a in record["actions"] if a["role"] == "fraudster"]
            assert fraud_actions, "the policy seat acted"
