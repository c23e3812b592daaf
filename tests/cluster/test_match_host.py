"""MatchHost / LiveMatch without Ray: seats and tokens, idempotent steps, events, deadlines, idle, recycling."""

from __future__ import annotations

import json

import pytest

from fraudarena.agents import make_bot, play_match
from fraudarena.arena.rng import bot_seed
from fraudarena.served.errors import ProtocolError
from fraudarena.served.match_host import MatchHost
from fraudarena.served.settings import ArenaSettings

ROLES = ("fraudster", "investigator", "auditor")
SETTINGS = ArenaSettings(turn_timeout_s=10, idle_ttl_s=100, done_linger_s=5, archive_path=":memory:")


def _host(capacity: int = 4, **kw) -> MatchHost:
    return MatchHost(SETTINGS.model_copy(update=kw), capacity)


def _seated(host: MatchHost, now: float = 0.0, **params) -> tuple[str, dict]:
    params.setdefault("task_id", "task_1")
    params.setdefault("seed", 5)
    out = host.create("m1", "fraudster", "c-f", params, {}, now)
    for r in ("investigator", "auditor"):
        host.join("m1", r, f"c-{r[0]}", out["seat_tokens"][r], False, now)
    return "m1", out


def _code(exc_info) -> str:
    return exc_info.value.code


def test_tokens_are_checked_and_never_shown():
    host = _host()
    out = host.create("m1", "fraudster", "c1", {"task_id": "task_1", "seed": 1}, {}, 0.0)
    tokens = out["seat_tokens"]
    assert set(tokens) == set(ROLES) and all(len(t) == 43 for t in tokens.values())
    with pytest.raises(ProtocolError) as e:
        host.join("m1", "investigator", "c2", tokens["auditor"], False, 0.0)
    assert _code(e) == "unauthorized"
    with pytest.raises(ProtocolError) as e:
        host.join("m1", "investigator", "c2", None, False, 0.0)
    assert _code(e) == "unauthorized"
    host.join("m1", "investigator", "c2", tokens["investigator"], False, 0.0)
    blob = json.dumps([host.observe("m1", "investigator", "c2"), host.state("m1", "fraudster", "c1", 0.0),
                       host.summary("m1"), host.public_events("m1", None)])
    assert not any(t in blob for t in [*tokens.values(), out["admin_token"]])


def test_seat_taken_takeover_and_reconnect():
    host = _host()
    mid, out = _seated(host)
    tok = out["seat_tokens"]["investigator"]
    with pytest.raises(ProtocolError) as e:
        host.join(mid, "investigator", "other", tok, False, 1.0)
    assert _code(e) == "seat_taken"
    res = host.join(mid, "investigator", "other", tok, True, 1.0)
    assert res["kicked"] == "c-i"
    assert host.events(mid, "investigator", "c-i", 0)["gone"] == "taken_over"
    with pytest.raises(ProtocolError) as e:
        host.observe(mid, "investigator", "c-i")
    assert _code(e) == "no_match"
    host.leave(mid, "investigator", "other", 2.0)
    assert host.summary(mid)["seats"]["investigator"] == "disconnected"
    host.join(mid, "investigator", "again", tok, False, 3.0)
    assert host.summary(mid)["seats"]["investigator"] == "connected"


def test_house_bot_seat_is_taken_and_bots_move_at_once():
    host = _host()
    out = host.create("m1", "investigator", "c", {"task_id": "task_1", "seed": 3},
                      {"fraudster": "scripted", "auditor": "scripted"}, 0.0)
    assert set(out["seat_tokens"]) == {"investigator"}
    assert out["observation"]["phase"] == "investigator_turn"
    with pytest.raises(ProtocolError) as e:
        host.join("m1", "fraudster", "x", "anything", False, 0.0)
    assert _code(e) == "seat_taken"


def test_seq_is_idempotent_per_seat():
    host = _host()
    mid, _ = _seated(host)
    first = host.step(mid, "fraudster", "c-f", {"action_type": "end_turn"}, 1, 1.0)
    assert first["last_seq"] == 1 and "duplicate" not in first
    dup = host.step(mid, "fraudster", "c-f", {"action_type": "end_turn"}, 1, 1.0)
    assert dup["duplicate"] is True
    assert host.state(mid, "fraudster", "c-f", 1.0)["step_count"] == 1


def test_rejected_action_changes_nothing():
    host = _host()
    mid, _ = _seated(host)
    before = host.observe(mid, "investigator", "c-i")
    with pytest.raises(ProtocolError) as e:
        host.step(mid, "investigator", "c-i", {"action_type": "end_turn"}, None, 1.0)
    assert _code(e) == "phase_violation"
    with pytest.raises(ProtocolError) as e:
        host.step(mid, "fraudster", "c-f", {"action_type": "fly"}, None, 1.0)
    assert _code(e) == "validation_error"
    assert host.observe(mid, "investigator", "c-i") == before


def test_events_reach_every_seat_in_order_and_done_is_announced():
    host = _host()
    mid, _ = _seated(host)
    bots = {r: make_bot("scripted", r, bot_seed("task_1", 5, r)) for r in ROLES}
    cursors = dict.fromkeys(ROLES, 0)
    conns = {"fraudster": "c-f", "investigator": "c-i", "auditor": "c-a"}
    seen = {r: [] for r in ROLES}
    guard = 0
    while not host.matches[mid].env.done:
        role = host.matches[mid].env.current_role
        host.step(mid, role, conns[role], bots[role].act(host.observe(mid, role, conns[role])), None, 1.0)
        for r in ROLES:
            out = host.events(mid, r, conns[r], cursors[r])
            cursors[r] = out["cursor"]
            seen[r].extend(out["events"])
        guard += 1
        assert guard < 500
    assert host.matches[mid].record() == play_match("task_1", 5)
    for r in ROLES:
        assert seen[r][-1]["kind"] == "match_done" and seen[r][-1]["status"] == "done"
        assert all(set(e) >= {"kind", "match_id", "phase", "round_number"} for e in seen[r])
    assert any(e["kind"] == "your_turn" and e["phase"] == "audit_phase" for e in seen["auditor"])


def test_deadline_applies_the_default_action():
    host = _host(turn_timeout_s=10)
    mid, _ = _seated(host, now=0.0)
    assert host.state(mid, "fraudster", "c-f", 4.0)["turn_deadline_ms"] == 6000
    assert host.next_due() == 10.0
    assert host.tick(9.9) == []
    assert host.tick(10.0) == []
    match = host.matches[mid]
    assert match.env.phase == "investigator_turn"
    kinds = [e["kind"] for e in match.seats["fraudster"].events]
    assert kinds[:2] == ["turn_timeout", "phase_changed"]
    t = 10.0
    while not match.env.done:  # nobody acts: deadlines alone finish the match
        t += 10.0
        host.tick(t)
        assert t < 10_000
    assert match.record()["end_reason"] is not None
    entries = host.tick(t + SETTINGS.done_linger_s)
    assert [e["summary"]["status"] for e in entries] == ["done"]


def test_idle_match_is_abandoned():
    host = _host(idle_ttl_s=30)
    host.create("m1", None, None, {"task_id": "task_1"}, {}, 0.0)
    assert host.tick(29.0) == []
    [entry] = host.tick(30.0)
    assert entry["summary"]["status"] == "abandoned" and entry["summary"]["end_reason"] is None
    assert entry["record"]["end_reason"] is None and "rewards" not in entry["summary"]
    assert host.matches == {}


def test_unjoined_match_has_its_own_short_ttl():
    host = _host(idle_ttl_s=900, unjoined_ttl_s=60, turn_timeout_s=10_000)
    host.create("m1", None, None, {"task_id": "task_1"}, {}, 0.0)  # anonymous (POST /api/v1/matches)
    out = host.create("m2", None, None, {"task_id": "task_1"}, {}, 0.0)
    host.join("m2", "auditor", "c-a", out["seat_tokens"]["auditor"], False, 30.0)
    host.leave("m2", "auditor", "c-a", 31.0)
    assert host.next_due() == 60.0 and host.tick(59.0) == []
    [entry] = host.tick(60.0)
    assert entry["match_id"] == "m1" and entry["summary"]["status"] == "abandoned"
    assert host.tick(500.0) == [] and list(host.matches) == ["m2"]  # once joined, only idle_ttl_s applies
    [entry] = host.tick(931.0)
    assert entry["match_id"] == "m2"


def test_connected_seat_keeps_match_alive_and_abandon_is_announced():
    host = _host(idle_ttl_s=30, turn_timeout_s=1000)
    mid, _ = _seated(host)
    assert host.tick(100.0) == []
    for r, c in (("fraudster", "c-f"), ("investigator", "c-i")):
        host.leave(mid, r, c, 100.0)
    assert host.tick(200.0) == []  # the auditor is still connected
    host.leave(mid, "auditor", "c-a", 200.0)
    [entry] = host.tick(230.0)
    assert entry["summary"]["status"] == "abandoned"


def test_capacity_and_recycling_leave_nothing_behind():
    host = _host(capacity=1)
    host.create("m1", "fraudster", "c", {"task_id": "task_1"}, {}, 0.0)
    with pytest.raises(ProtocolError) as e:
        host.create("m2", "fraudster", "c", {"task_id": "task_1"}, {}, 0.0)
    assert _code(e) == "capacity"
    host.clear()
    assert host.debug_info() == {"matches": [], "recent": [], "generation": 1}
    with pytest.raises(ProtocolError):
        host.observe("m1", "fraudster", "c")


def test_public_events_before_done_are_role_filtered():
    host = _host()
    mid, out = _seated(host)
    fr = make_bot("scripted", "fraudster", 1)
    while host.matches[mid].env.current_role == "fraudster":
        host.step(mid, "fraudster", "c-f", fr.act(host.observe(mid, "fraudster", "c-f")), None, 1.0)
    inv = host.public_events(mid, out["seat_tokens"]["investigator"])
    assert inv and all(e["kind"] == "phase_changed" for e in inv)
    assert all(e["kind"] == "phase_changed" for e in host.public_events(mid, None))
    own = host.public_events(mid, out["seat_tokens"]["fraudster"])
    assert any(e["kind"] == "action" and e["role"] == "fraudster" for e in own)
    inv_bot = make_bot("scripted", "investigator", 1)
    while host.matches[mid].env.current_role == "investigator":
        host.step(mid, "investigator", "c-i", inv_bot.act(host.observe(mid, "investigator", "c-i")), None, 1.0)
    public = host.public_events(mid, None)  # a spectator: the Investigator's moves as every AdView shows them
    shown = [e["action"] for e in public if e["kind"] == "action"]
    assert shown and all(e["role"] == "investigator" for e in public if e["kind"] == "action")
    assert all(set(a) <= {"action_type", "ad_id", "investigation_target", "verdict", "confidence"} for a in shown)
    assert [e["n"] for e in public] == list(range(1, len(public) + 1))
    with pytest.raises(ProtocolError) as e:
        host.public_events(mid, "not-a-token")
    assert _code(e) == "unauthorized"


def test_multiplexed_poll_wakes_only_for_its_matches_and_on_clear():
    """``MatchHost.poll``: answers when a watched match gets events, ignores others, ends on recycle."""
    import asyncio

    async def scenario():
        host = _host()
        outs = {}
        for mid in ("m1", "m2"):
            outs[mid] = await _one(host, ["create", mid, "fraudster", f"{mid}-f", {"task_id": "task_1", "seed": 5}, {}])
            for r in ("investigator", "auditor"):
                await _one(host, ["join", mid, r, f"{mid}-{r[0]}", outs[mid]["seat_tokens"][r], False])
        cursors = {(m, r): len(host.matches[m].seats[r].events) for m in ("m1", "m2") for r in ROLES}
        subs = [("m1", r, f"m1-{r[0]}", cursors["m1", r]) for r in ROLES]
        poll = asyncio.ensure_future(host.poll(subs, 5.0))
        await asyncio.sleep(0.01)
        bots = {r: make_bot("scripted", r, bot_seed("task_1", 5, r)) for r in ROLES}
        m2 = host.matches["m2"]
        while m2.phase_log == []:  # m2 moves to its next phase: not m1's poll's business
            role = m2.env.current_role
            await _one(host, ["step", "m2", role, f"m2-{role[0]}", bots[role].act(m2.observation(role)), None])
        await asyncio.sleep(0.01)
        assert not poll.done() and host._watchers["m1"]
        m1 = host.matches["m1"]
        while m1.phase_log == []:
            role = m1.env.current_role
            await _one(host, ["step", "m1", role, f"m1-{role[0]}", bots[role].act(m1.observation(role)), None])
        ready = await asyncio.wait_for(poll, 1.0)
        assert {row[0] for row in ready} == {"m1"} and all(row[3] and row[5] is None for row in ready)
        assert "m1" not in host._watchers  # the finished poll unregistered itself
        later = [("m2", r, f"m2-{r[0]}", len(m2.seats[r].events)) for r in ROLES]
        poll = asyncio.ensure_future(host.poll(later, 5.0))
        await asyncio.sleep(0.01)
        host.clear()  # a recycled actor: every watched seat is gone at once
        ready = await asyncio.wait_for(poll, 1.0)
        assert sorted(row[1] for row in ready) == sorted(ROLES) and all(row[5] == "archived" for row in ready)
        assert await host.poll(later, 0.05) != []  # unknown match: answered at once, no wait

    asyncio.run(scenario())


async def _one(host: MatchHost, request: list, replica: str | None = None):
    out = await host.handle_batch([request], replica)
    [result] = out["results"]
    if isinstance(result, dict) and "__error__" in result:
        raise ProtocolError.from_wire(result)
    return result


def test_batch_answers_each_request_on_its_own_in_order_with_exact_seq():
    """``handle_batch``: many matches' requests in one call; errors per request; seq idempotency as single calls."""
    import asyncio

    async def scenario():
        host = _host()
        made = (await host.handle_batch([["create", m, "fraudster", f"{m}-f", {"task_id": "task_1", "seed": 5}, {}]
                                         for m in ("m1", "m2")]))["results"]
        assert [r["match_id"] for r in made] == ["m1", "m2"]
        end = {"action_type": "end_turn"}
        out = await host.handle_batch([
            ["step", "m1", "fraudster", "m1-f", end, 1],
            ["step", "m1", "fraudster", "m1-f", end, 1],  # the same seq again in the same batch: a duplicate
            ["step", "m2", "fraudster", "m2-f", {"action_type": "fly"}, 1],  # rejected alone
            ["step", "m2", "fraudster", "m2-f", end, 2],
            ["observe", "nope", "fraudster", "x"],
            ["teleport", "m1"],
        ])
        first, dup, bad, ok, missing, unknown = out["results"]
        assert first["last_seq"] == 1 and "duplicate" not in first and dup["duplicate"] is True
        assert bad["__error__"]["code"] == "validation_error" and ok["last_seq"] == 2
        assert missing["__error__"]["code"] == "no_match" and unknown["__error__"]["code"] == "execution_error"
        assert host.state("m1", "fraudster", "m1-f", 1.0)["step_count"] == 1
        assert host.state("m2", "fraudster", "m2-f", 1.0)["step_count"] == 1
        assert out["versions"] == {m: host.matches[m].changed for m in ("m1", "m2")}
        assert host.call_counts() == {"batches": 2, "requests": 8}

    asyncio.run(scenario())


def test_batch_carries_the_replicas_events_and_the_poll_does_not_repeat_them():
    """A move's events for the seats a replica long-polls come back in the move's own answer (with the
    observation of the seat whose turn came); the pending poll stays quiet, another replica's poll answers."""
    import asyncio

    async def scenario():
        host = _host()
        out = await _one(host, ["create", "m1", "fraudster", "c-f", {"task_id": "task_1", "seed": 5}, {}])
        for r in ("investigator", "auditor"):
            await _one(host, ["join", "m1", r, f"c-{r[0]}", out["seat_tokens"][r], False])
        m1 = host.matches["m1"]
        mine = [("m1", r, f"c-{r[0]}", len(m1.seats[r].events)) for r in ("fraudster", "investigator")]
        other = [("m1", "auditor", "c-a", len(m1.seats["auditor"].events))]
        poll_a = asyncio.ensure_future(host.poll(mine, 5.0, "A"))
        poll_b = asyncio.ensure_future(host.poll(other, 5.0, "B"))
        await asyncio.sleep(0.01)
        answer = await host.handle_batch([["step", "m1", "fraudster", "c-f", {"action_type": "end_turn"}, 1]], "A")
        rows = {row[1]: row for row in answer["events"]}
        assert set(rows) == {"fraudster", "investigator"}
        inv = rows["investigator"]
        assert [e["kind"] for e in inv[3]] == ["your_turn"] and inv[4] == len(m1.seats["investigator"].events)
        assert inv[6] == m1.observation("investigator") and inv[7] == m1.changed
        assert rows["fraudster"][6] is None  # phase_changed: no observation rides along
        ready_b = await asyncio.wait_for(poll_b, 1.0)  # the auditor's socket is on replica B: its poll answers
        assert [row[1] for row in ready_b] == ["auditor"]
        await asyncio.sleep(0.05)
        assert not poll_a.done()  # replica A already has its events
        poll_a.cancel()

    asyncio.run(scenario())


def test_a_newer_poll_of_the_same_replica_ends_the_older_one():
    import asyncio

    async def scenario():
        host = _host()
        mid, _ = _seated(host)
        subs = [(mid, r, f"c-{r[0]}", len(host.matches[mid].seats[r].events)) for r in ROLES]
        older = asyncio.ensure_future(host.poll(subs[:1], 5.0, "A"))
        other = asyncio.ensure_future(host.poll(subs[:1], 5.0, "B"))
        await asyncio.sleep(0.01)
        newer = asyncio.ensure_future(host.poll(subs, 5.0, "A"))
        assert await asyncio.wait_for(older, 1.0) == []  # answered at once, empty: the newer one watches
        await asyncio.sleep(0.01)
        assert not newer.done() and not other.done()  # another replica's poll is its own business
        assert len(host._replica_polls["A"]) == 1
        for fut in (newer, other):
            fut.cancel()

    asyncio.run(scenario())
