"""The ``llm:`` bot against a real HTTP server on loopback that speaks the chat-completions protocol.

No mock of any client library: ``ScriptedChatServer`` (tests/helpers/chat_server.py) is a ``http.server``
app on 127.0.0.1 (a free port) answering ``POST /v1/chat/completions`` from a script (valid JSON, invalid
JSON, HTTP errors, slow answers), so the re-ask, fallback, retry/backoff and timeout paths run over real
sockets, deterministically.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("httpx")

from chat_server import Reply, ScriptedChatServer, content, smart_answer

from fraudarena.agents import make_bot, play_match
from fraudarena.agents.llm import LLMBot, legality_error, parse_json_object, parse_kind, prompts
from fraudarena.arena import RefereeEnvironment, record_json
from fraudarena.arena.rng import bot_seed


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ScriptedChatServer]]:
    servers: list[ScriptedChatServer] = []

    def make(script: list[Reply] | None = None, default: Reply | None = None) -> ScriptedChatServer:
        srv = ScriptedChatServer(script, default).__enter__()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.__exit__(None, None, None)


def investigator_obs(seed: int = 3) -> dict[str, Any]:
    """The Investigator's first observation on task_1 (house Fraudster's first turn played)."""
    env = RefereeEnvironment(task_id="task_1", seed=seed)
    fraudster = make_bot("scripted", "fraudster", bot_seed("task_1", seed, "fraudster"))
    while env.current_role == "fraudster":
        env.apply("fraudster", fraudster.act(env.observe("fraudster", text=False)))
    return env.observe("investigator", text=False)


def fast_bot(srv: ScriptedChatServer, role: str = "investigator", **kw: Any) -> LLMBot:
    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("timeout", 5.0)
    return LLMBot(role, "test-model", srv.url, **kw)


# -------------------------------------------------------------------------------------------------------
# Parsing and kinds


def test_parse_json_object_skips_fences_and_prose() -> None:
    assert parse_json_object('```json\n{"action_type": "end_turn"}\n```') == {"action_type": "end_turn"}
    assert parse_json_object('Sure! {"a": {"b": 1}} and {"c": 2}') == {"a": {"b": 1}}
    assert parse_json_object('[1, 2] {bad json} {"ok": true}') == {"ok": True}
    for bad in ("", "no json here", "[1, 2]"):
        with pytest.raises(ValueError):
            parse_json_object(bad)


def test_parse_kind() -> None:
    assert parse_kind("llm:qwen2.5:0.5b") == ("qwen2.5:0.5b", None)
    assert parse_kind("llm:smol@http://10.0.0.1:8080/v1") == ("smol", "http://10.0.0.1:8080/v1")
    assert parse_kind("llm:org/model@https://api.example/v1") == ("org/model", "https://api.example/v1")
    with pytest.raises(ValueError):
        parse_kind("llm:")


def test_make_bot_llm_kind_uses_env_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDARENA_LLM_URL", "http://127.0.0.1:9/v1/")
    bot = make_bot("llm:some-model", "auditor", 12345)
    assert isinstance(bot, LLMBot)
    assert (bot.role, bot.model, bot.base_url) == ("auditor", "some-model", "http://127.0.0.1:9/v1")
    bot2 = make_bot("llm:m@http://127.0.0.1:1/v1", "fraudster", 1)
    assert bot2.base_url == "http://127.0.0.1:1/v1"
    monkeypatch.delenv("FRAUDARENA_LLM_URL")
    assert make_bot("llm:m", "investigator", 0).base_url == "http://127.0.0.1:8080/v1"


# -------------------------------------------------------------------------------------------------------
# Prompts and legality


@pytest.mark.parametrize("task_id", ["task_1", "task_3"])
def test_prompts_render_every_role_through_a_match(task_id: str) -> None:
    env = RefereeEnvironment(task_id=task_id, seed=5)
    bots = {r: make_bot("scripted", r, 1) for r in ("fraudster", "investigator", "auditor")}
    seen = set()
    while not env.done:
        role = env.current_role
        obs = env.observe(role, text=False)
        msgs = prompts.messages(role, obs)
        assert [m["role"] for m in msgs] == ["system", "user"]
        user = msgs[1]["content"]
        for atype in obs["legal_actions"]["action_types"]:
            assert atype in user
        for ad_id in obs["legal_actions"].get("verdict") or []:
            assert ad_id in user
        if task_id == "task_1":
            assert len(msgs[0]["content"]) + len(user) < 9000  # compact: well inside a 2k-token context
        seen.add(role)
        env.apply(role, bots[role].act(obs))
    assert seen == {"fraudster", "investigator", "auditor"}


def test_legality_error_follows_legal_actions() -> None:
    obs = investigator_obs()
    legal = obs["legal_actions"]
    ad = legal["verdict"][0]
    ok = {"action_type": "verdict", "ad_id": ad, "verdict": "reject", "confidence": 0.5}
    assert legality_error("investigator", ok, obs) is None
    assert "not a pending ad" in legality_error("investigator", {**ok, "ad_id": "ad_zzzzzz"}, obs)
    assert "not legal now" in legality_error("investigator", {"action_type": "link_accounts", "ad_id": ad,
                                                              "linked_ad_id": ad}, obs)
    inv = {"action_type": "investigate", "ad_id": ad, "investigation_target": "landing_page"}
    assert legality_error("investigator", inv, obs) is None


# -------------------------------------------------------------------------------------------------------
# Over real sockets: answers, re-asks, fallbacks, retries, timeouts


def test_valid_answer_is_played_and_usage_counted(server_factory: Callable[..., ScriptedChatServer]) -> None:
    obs = investigator_obs()
    ad = obs["legal_actions"]["verdict"][0]
    srv = server_factory([content({"action_type": "verdict", "ad_id": ad, "verdict": "reject",
                                   "confidence": 0.9, "rationale": "surface cues only, pushy copy markers"})])
    bot = fast_bot(srv, seed=7)
    action = bot.act(obs)
    assert action == {"action_type": "verdict", "ad_id": ad, "verdict": "reject", "confidence": 0.9,
                      "rationale": "surface cues only, pushy copy markers"}
    s = bot.stats
    assert (s.moves, s.calls, s.requests, s.reasks, s.fallbacks) == (1, 1, 1, 0, 0)
    assert (s.prompt_tokens, s.completion_tokens) == (100, 10)
    body = srv.requests[0]
    assert body["model"] == "test-model" and body["seed"] == 7 and body["temperature"] == 0.0
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "action"
    verdict = next(o for o in fmt["json_schema"]["schema"]["anyOf"]
                   if o["properties"]["action_type"]["enum"] == ["verdict"])
    assert verdict["properties"]["ad_id"]["enum"] == obs["legal_actions"]["verdict"]
    assert body["messages"][0]["role"] == "system" and ad in body["messages"][1]["content"]


def test_invalid_then_valid_reasks_with_the_error(server_factory: Callable[..., ScriptedChatServer]) -> None:
    obs = investigator_obs()
    ad = obs["legal_actions"]["verdict"][0]
    srv = server_factory([{"content": "I think we should reject it."},
                          content({"action_type": "verdict", "ad_id": ad, "verdict": "approve"})])
    bot = fast_bot(srv)
    action = bot.act(obs)
    assert action["action_type"] == "verdict" and action["confidence"] == 0.5  # normalised default
    s = bot.stats
    assert (s.calls, s.reasks, s.invalid_answers, s.fallbacks) == (2, 1, 1, 0)
    second = srv.requests[1]["messages"]
    assert second[-2] == {"role": "assistant", "content": "I think we should reject it."}
    assert "no JSON object found" in second[-1]["content"]


@pytest.mark.parametrize("answers, reason", [
    (['{"action_type": "verdict", "ad_id": "ad_zzzzzz", "verdict": "reject"}'], "not a pending ad"),
    (['{"action_type": "verdict", "verdict": "reject", "colour": "red"}'], "colour"),
    (['{"action_type": "propose_ad", "category": "saas", "ad_copy": "x"}'], "action_type"),
    (["not json at all"], "no JSON object"),
])
def test_always_invalid_falls_back_to_end_turn(server_factory: Callable[..., ScriptedChatServer],
                                               answers: list[str], reason: str) -> None:
    srv = server_factory(default={"content": answers[0]})
    bot = fast_bot(srv)
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    s = bot.stats
    assert (s.calls, s.reasks, s.invalid_answers, s.fallbacks) == (2, 1, 2, 1)
    assert s.fallback_rate == 1.0
    assert reason in srv.requests[1]["messages"][-1]["content"]
    assert reason in (bot.last_error or "")


def test_auditor_fallback_is_submit_audit_report(server_factory: Callable[..., ScriptedChatServer]) -> None:
    srv = server_factory(default={"content": "{}"})
    env = RefereeEnvironment(task_id="task_1", seed=2)
    bots = {r: make_bot("scripted", r, 1) for r in ("fraudster", "investigator")}
    while env.current_role != "auditor":
        role = env.current_role
        env.apply(role, bots[role].act(env.observe(role, text=False)))
    bot = fast_bot(srv, role="auditor")
    assert bot.act(env.observe("auditor", text=False)) == {"action_type": "submit_audit_report"}


def test_500_then_success_retries_with_backoff(server_factory: Callable[..., ScriptedChatServer]) -> None:
    srv = server_factory([{"status": 500}, {"status": 503}, content({"action_type": "end_turn"})])
    bot = fast_bot(srv, max_retries=2, backoff_s=0.05)
    t0 = time.perf_counter()
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    waited = time.perf_counter() - t0
    s = bot.stats
    assert (s.calls, s.requests, s.retries, s.fallbacks, s.endpoint_failures) == (1, 3, 2, 0, 0)
    assert waited >= 0.05 + 0.10  # backoff 0.05 s, then 0.10 s (exponential)


def test_500_past_retries_falls_back(server_factory: Callable[..., ScriptedChatServer]) -> None:
    srv = server_factory(default={"status": 502})
    bot = fast_bot(srv, max_retries=1)
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    s = bot.stats
    assert (s.calls, s.requests, s.retries, s.endpoint_failures, s.fallbacks) == (0, 2, 1, 1, 1)
    assert "HTTP 502" in (bot.last_error or "")


def test_4xx_is_not_retried(server_factory: Callable[..., ScriptedChatServer]) -> None:
    srv = server_factory(default={"status": 401})
    bot = fast_bot(srv, max_retries=3)
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    assert (bot.stats.requests, bot.stats.retries, bot.stats.fallbacks) == (1, 0, 1)


def test_response_format_steps_down_on_refusal(server_factory: Callable[..., ScriptedChatServer]) -> None:
    def plain_only(body: dict[str, Any]) -> Reply:  # a server that knows no response_format at all
        if "response_format" in body:
            return {"status": 400}
        return content({"action_type": "end_turn"})

    srv = server_factory(default={"fn": plain_only})
    bot = fast_bot(srv)
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    # json_schema, schema, json_object refused once each, then never tried again; no retry, no fallback.
    assert len(srv.requests) == 5 and bot.stats.fallbacks == 0 and bot.stats.retries == 0
    assert [r.get("response_format", {}).get("type") for r in srv.requests] == [
        "json_schema", "json_object", "json_object", None, None]
    assert bot.match_stats()["response_format"] == "none" and bot.match_stats()["format_downgrades"] == 3


def test_llama_cpp_style_schema(server_factory: Callable[..., ScriptedChatServer]) -> None:
    def llama_cpp(body: dict[str, Any]) -> Reply:  # json_object with a "schema" key, as llama-cpp-python's server
        if body["response_format"]["type"] != "json_object":  # which answers this with a 500 (0.3.36)
            return {"status": 500, "message": "1 validation error: {'type': 'literal_error', 'loc': ('body', "
                                              "'response_format', 'type'), 'msg': \"Input should be 'text' or "
                                              "'json_object'\", 'input': 'json_schema'}"}
        assert "anyOf" in body["response_format"]["schema"]
        return content({"action_type": "end_turn"})

    srv = server_factory(default={"fn": llama_cpp})
    bot = fast_bot(srv)
    for _ in range(2):
        assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    assert len(srv.requests) == 3 and bot.client.response_format == "schema"
    assert bot.stats.retries == 0 and bot.stats.fallbacks == 0


@pytest.mark.parametrize("task_id", ["task_1", "task_3"])
def test_action_schema_admits_the_legal_actions_only(task_id: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    env = RefereeEnvironment(task_id=task_id, seed=8)
    bots = {r: make_bot("scripted", r, 2) for r in ("fraudster", "investigator", "auditor")}
    keep = {"investigate": ("ad_id", "investigation_target"), "verdict": ("ad_id", "verdict", "confidence"),
            "link_accounts": ("ad_id", "linked_ad_id"), "propose_ad": ("category", "ad_copy", "camouflage"),
            "modify_pending_ad": ("slot_index", "new_ad_copy"), "flag_investigator": ("flag_type", "target_ad_id"),
            "flag_fraudster": ("flag_type", "target_ad_id")}
    checked = 0
    while not env.done:
        role = env.current_role
        obs = env.observe(role, text=False)
        schema = prompts.action_schema(role, obs)
        action = bots[role].act(obs)
        atype = action["action_type"]
        minimal = {"action_type": atype, **{k: action[k] for k in keep.get(atype, ()) if k in action}}
        if atype == "verdict":
            minimal["rationale"] = "a short rationale"
        if atype == "propose_ad" and not minimal.get("camouflage"):
            minimal.pop("camouflage", None)
        jsonschema.validate(minimal, schema)
        if "ad_id" in minimal:
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate({**minimal, "ad_id": "ad_zzzzzz"}, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**minimal, "colour": "red"}, schema)
        checked += 1
        env.apply(role, action)
    assert checked > 10


def test_slow_answer_times_out_then_retry_succeeds(server_factory: Callable[..., ScriptedChatServer]) -> None:
    srv = server_factory([{"content": '{"action_type": "end_turn"}', "delay": 1.5},
                          content({"action_type": "end_turn"})])
    bot = fast_bot(srv, timeout=0.3, max_retries=1)
    t0 = time.perf_counter()
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    assert time.perf_counter() - t0 < 1.4  # did not wait for the slow answer
    s = bot.stats
    assert (s.timeouts, s.retries, s.calls, s.fallbacks) == (1, 1, 1, 0)


def test_slow_answer_without_retries_falls_back(server_factory: Callable[..., ScriptedChatServer]) -> None:
    srv = server_factory(default={"content": '{"action_type": "end_turn"}', "delay": 1.0})
    bot = fast_bot(srv, timeout=0.2, max_retries=0)
    assert bot.act(investigator_obs()) == {"action_type": "end_turn"}
    s = bot.stats
    assert (s.timeouts, s.endpoint_failures, s.fallbacks) == (1, 1, 1)
    assert s.max_move_seconds < 0.9


def test_connection_refused_falls_back() -> None:
    with socket.socket() as sock:  # a free port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bot = LLMBot("fraudster", "m", f"http://127.0.0.1:{port}/v1", max_retries=2, backoff_s=0.01)
    env = RefereeEnvironment(task_id="task_1", seed=1)
    assert bot.act(env.observe("fraudster", text=False)) == {"action_type": "end_turn"}
    s = bot.stats
    assert (s.requests, s.retries, s.endpoint_failures, s.fallbacks) == (3, 2, 1, 1)


def test_api_key_is_sent_but_never_stored(server_factory: Callable[..., ScriptedChatServer],
                                          monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-test-5ecret-do-not-log"
    monkeypatch.setenv("FRAUDARENA_LLM_API_KEY", secret)
    srv = server_factory([{"status": 500}], default={"content": "garbage"})
    caplog.set_level(logging.DEBUG)
    rec = play_match("task_1", 4, investigator=f"llm:test-model@{srv.url}")
    assert srv.headers[0].get("Authorization") == f"Bearer {secret}"
    bot_stats = rec["metadata"]["bot_stats"]["investigator"]
    text = record_json(rec) + json.dumps(bot_stats) + caplog.text
    assert secret not in text
    assert bot_stats["fallbacks"] == bot_stats["moves"] > 0


# -------------------------------------------------------------------------------------------------------
# Full matches


@pytest.mark.parametrize("role", ["investigator", "fraudster", "auditor"])
def test_full_match_with_llm_seat_and_stats_in_metadata(server_factory: Callable[..., ScriptedChatServer],
                                                        role: str) -> None:
    srv = server_factory(default={"fn": smart_answer})
    seats = {"fraudster": "reactive", "investigator": "scripted", "auditor": "heuristic"}
    seats[role] = f"llm:smart@{srv.url}"
    rec = play_match("task_1", 11, **seats)
    assert rec["end_reason"] is not None and rec["rewards"] is not None
    stats = rec["metadata"]["bot_stats"]
    assert list(stats) == [role]
    s = stats[role]
    assert s["moves"] > 0 and s["fallbacks"] == 0 and s["calls"] == s["moves"]
    assert s["kind"] == "llm:smart" and s["seconds_per_move"] >= 0
    assert sum(1 for a in rec["actions"] if a["role"] == role) == s["moves"]
    # House-bot-only matches keep the plain record (no metadata key).
    assert "metadata" not in play_match("task_1", 11)


def test_auditor_turn_move_cap(server_factory: Callable[..., ScriptedChatServer]) -> None:
    srv = server_factory(default={"content": '{"action_type": "flag_investigator", "flag_type": "bias"}'})
    rec = play_match("task_1", 11, auditor=LLMBot("auditor", "m", srv.url, max_turn_moves=5))
    s = rec["metadata"]["bot_stats"]["auditor"]
    # One bias flag is accepted, the repeat is refused (re-ask, then fallback = submit).
    assert s["moves"] == 2 and s["fallbacks"] == 1
    sent = iter(range(1000))

    def distinct_flags(body: dict[str, Any]) -> Reply:
        ids = sorted(set(re.findall(r"ad_[a-z0-9]{6}", body["messages"][1]["content"])))
        return content({"action_type": "flag_fraudster", "flag_type": "gibberish",
                        "target_ad_id": ids[next(sent) % len(ids)]})

    srv2 = server_factory(default={"fn": distinct_flags})
    rec2 = play_match("task_1", 11, auditor=LLMBot("auditor", "m", srv2.url, max_turn_moves=3))
    s2 = rec2["metadata"]["bot_stats"]["auditor"]
    assert (s2["moves"], s2["forced_ends"], s2["fallbacks"]) == (4, 1, 0)  # 3 flags, then the cap submits


# -------------------------------------------------------------------------------------------------------
# Command line


def test_cli_arena_play_and_tournament_accept_llm_bots(server_factory: Callable[..., ScriptedChatServer]) -> None:
    from typer.testing import CliRunner

    from fraudarena.cli import app

    srv = server_factory(default={"fn": smart_answer})
    runner = CliRunner()
    out = runner.invoke(app, ["arena", "play", "--task", "task_1", "--seed", "3", "--json",
                              "--investigator", f"llm:smart@{srv.url}"])
    assert out.exit_code == 0, out.output
    rec = json.loads(out.stdout)
    assert rec["metadata"]["bot_stats"]["investigator"]["fallbacks"] == 0
    out = runner.invoke(app, ["arena", "tournament", "--tasks", "task_1", "--seeds", "1-2", "--json",
                              "--fraudsters", f"reactive,llm:smart@{srv.url}", "--investigators", "scripted"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [r["fraudster"] for r in rows] == ["reactive", f"llm:smart@{srv.url}"] and rows[1]["n"] == 2


def test_cli_play_llm_url_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from fraudarena.cli import app

    monkeypatch.delenv("FRAUDARENA_LLM_URL", raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    out = CliRunner().invoke(app, ["play", "--url", f"ws://127.0.0.1:{port}", "--new", "--bot", "llm:m",
                                   "--llm-url", url])
    assert "cannot connect" in out.output  # got past the bot check; no arena server there
    assert os.environ.get("FRAUDARENA_LLM_URL") == url
    monkeypatch.delenv("FRAUDARENA_LLM_URL")


def test_auditor_schema_drops_flags_already_sent() -> None:
    env = RefereeEnvironment(task_id="task_1", seed=2)
    bots = {r: make_bot("scripted", r, 1) for r in ("fraudster", "investigator")}
    while env.current_role != "auditor":
        role = env.current_role
        env.apply(role, bots[role].act(env.observe(role, text=False)))

    def match_level(obs: dict[str, Any]) -> list[str]:
        return [f for o in prompts.action_schema("auditor", obs)["anyOf"] if "target_ad_id" not in o["properties"]
                and o["properties"]["action_type"]["enum"] == ["flag_investigator"]
                for f in o["properties"]["flag_type"]["enum"]]

    def targets(obs: dict[str, Any], flag_type: str) -> list[str]:
        branches = prompts.action_schema("auditor", obs)["anyOf"]
        return [t for o in branches if "target_ad_id" in o["properties"]
                and o["properties"]["flag_type"]["enum"] == [flag_type]
                for t in o["properties"]["target_ad_id"]["enum"]]

    obs = env.observe("auditor", text=False)
    assert match_level(obs) == ["miscalibration", "bias"]
    ads = targets(obs, "gibberish")
    assert ads == obs["legal_actions"]["target_ad_ids"]
    env.apply("auditor", {"action_type": "flag_investigator", "flag_type": "miscalibration"})
    env.apply("auditor", {"action_type": "flag_fraudster", "flag_type": "gibberish", "target_ad_id": ads[1]})
    obs = env.observe("auditor", text=False)
    assert match_level(obs) == ["bias"]
    assert targets(obs, "gibberish") == [a for a in ads if a != ads[1]] and targets(obs, "missing_citation") == ads
