"""Match journals without Ray: a rebuilt LiveMatch equals the original (docs/operations.md#faults-and-recovery).

A match is played part-way with a journal, "crashes" (the object is dropped), is rebuilt from the file
and played on; its record must equal an uninterrupted replay of the same actions (docs/rules.md §11.3),
the tokens must still open their seats, a resent ``seq`` must be applied at most once, and a finished
match must be handed to the archive at once (not after ``done_linger_s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fraudarena.agents import make_bot
from fraudarena.arena import replay
from fraudarena.arena.rng import bot_seed
from fraudarena.arena.spec import Role
from fraudarena.served import live_match, tokens
from fraudarena.served.errors import ProtocolError
from fraudarena.served.journal import MatchJournal, journal_file, pending_journals, read_journal, remove_journal
from fraudarena.served.live_match import LiveMatch
from fraudarena.served.match_host import default_bot_factory
from fraudarena.served.settings import ArenaSettings

ROLES = (Role.FRAUDSTER.value, Role.INVESTIGATOR.value, Role.AUDITOR.value)
SETTINGS = ArenaSettings(turn_timeout_s=10, idle_ttl_s=100, done_linger_s=5, archive_path=":memory:")


def _new(tmp_path, house_bots=None, seed=11):
    journal = MatchJournal(journal_file(tmp_path, "m_1"))
    match = LiveMatch("m_1", {"task_id": "task_1", "seed": seed}, house_bots or {}, SETTINGS, 0.0,
                      default_bot_factory, journal=journal)
    for role in ROLES:
        if role in match.tokens:
            match.join(role, f"c-{role}", match.tokens[role], False, 0.0)
    return match


def _bots(seed=11):
    return {r: make_bot("scripted", r, bot_seed("task_1", seed, r)) for r in ROLES}


def _play(match, bots, moves, seq0=0):
    """Let bots choose ``moves`` human moves (with seq numbers); returns the next seq."""
    seq = seq0
    for _ in range(moves):
        if match.env.done:
            break
        role = match.env.current_role
        seq += 1
        match.step(role, bots[role].act(match.env.observe(role, text=False)), seq, 1.0)
    return seq


def test_rebuilt_match_finishes_with_the_record_of_an_uninterrupted_replay(tmp_path):
    match = _new(tmp_path)
    bots = _bots()
    seq = _play(match, bots, 25)
    assert not match.env.done
    del match  # the process holding it "dies"; only the journal is left
    entries = read_journal(journal_file(tmp_path, "m_1"))
    assert entries[0]["t"] == "create" and sum(e["t"] == "act" for e in entries) >= 25
    blob = json.dumps(entries)
    rebuilt = LiveMatch.from_journal(entries, SETTINGS, 2.0, default_bot_factory,
                                     journal=MatchJournal(journal_file(tmp_path, "m_1")))
    assert rebuilt.restarts == 1
    # every seat holder is back and was told
    for role in ROLES:
        assert rebuilt.holds(role, f"c-{role}")
        assert [e["kind"] for e in rebuilt.seats[role].events] == ["match_restarted"]
    # the same seq again is a duplicate (applied at most once)
    last_role = next(r for r in ROLES if rebuilt.seats[r].last_seq == seq)
    dup = rebuilt.step(last_role, {"action_type": "end_turn"}, seq, 3.0)
    assert dup["duplicate"] is True
    while not rebuilt.env.done:
        seq = _play(rebuilt, bots, 1, seq)
    record = rebuilt.record()
    assert json.dumps(replay(record).record(), sort_keys=True) == json.dumps(record, sort_keys=True)
    # the journal holds digests, never a token
    assert "token" not in blob.replace("token_digest", "")


def test_rebuild_of_a_twice_crashed_match_and_token_digests(tmp_path):
    match = _new(tmp_path, house_bots={"auditor": "scripted"})
    toks = dict(match.tokens)
    assert set(toks) == {"fraudster", "investigator"}
    bots = _bots()
    seq = _play(match, bots, 8)
    path = journal_file(tmp_path, "m_1")
    first = LiveMatch.from_journal(read_journal(path), SETTINGS, 2.0, default_bot_factory,
                                   journal=MatchJournal(path))
    seq = _play(first, bots, 5, seq)
    second = LiveMatch.from_journal(read_journal(path), SETTINGS, 3.0, default_bot_factory,
                                    journal=MatchJournal(path), keep_conns=False)  # a restart of everything
    assert second.restarts == 2
    assert second.seat_statuses() == {"fraudster": "disconnected", "investigator": "disconnected", "auditor": "bot"}
    third = LiveMatch.from_journal(read_journal(path), SETTINGS, 3.5, default_bot_factory)
    assert third.seat_statuses() == second.seat_statuses()  # the dropped holders are not seated again
    assert second.env.record()["actions"] == first.env.record()["actions"]
    # the plaintext tokens still open their seats; a wrong one does not
    second.join("investigator", "new-conn", toks["investigator"], True, 4.0)
    with pytest.raises(ProtocolError) as e:
        second.join("fraudster", "x", toks["investigator"], True, 4.0)
    assert e.value.code == "unauthorized"
    second.check_admin(match.admin_token)
    with pytest.raises(ProtocolError):
        second.check_admin(tokens.new_token())


def test_a_torn_last_line_is_ignored_and_a_finished_match_is_archived_at_once(tmp_path):
    match = _new(tmp_path)
    bots = _bots()
    while not match.env.done:
        _play(match, bots, 50)
    assert match.due() == match.done_at  # archive now, not after done_linger_s
    assert match.archive_entry("done", 1.0).get("already_archived") is None
    assert match.advance(match.done_at) is None  # stays live, its last events are served meanwhile
    entry = match.take_early_archive()
    assert entry is not None and entry["keep_live"] and entry["summary"]["status"] == "done"
    assert match.take_early_archive() is None
    assert match.due() == match.done_at + SETTINGS.done_linger_s
    assert match.archive_entry("done", 7.0).get("already_archived") is True
    path = journal_file(tmp_path, "m_1")
    with open(path, "ab") as fh:
        fh.write(b'{"t":"act","role":"inv')  # a write cut short by a crash
    rebuilt = LiveMatch.from_journal(read_journal(path), SETTINGS, 9.0, default_bot_factory)
    assert rebuilt.env.done and rebuilt.record() == match.record()
    assert pending_journals(tmp_path) == ["m_1"]
    remove_journal(tmp_path, "m_1")
    assert pending_journals(tmp_path) == []


def test_a_seat_held_by_a_dead_process_is_free_for_a_plain_rejoin(tmp_path):
    match = _new(tmp_path)
    token = match.tokens["investigator"]
    match.join("investigator", "replicaA/1", token, True, 1.0)
    with pytest.raises(ProtocolError) as e:
        match.join("investigator", "replicaB/2", token, False, 1.0)
    assert e.value.code == "seat_taken"
    live_match.set_conn_probe(lambda conn: tokens.conn_owner(conn) != "replicaA")
    try:
        match.join("investigator", "replicaB/2", token, False, 2.0)
        assert match.holds("investigator", "replicaB/2")
        # an orphaned seat nobody rejoins is freed by the next deadline pass, and the idle rule runs again
        match.join("auditor", "replicaA/3", match.tokens["auditor"], True, 3.0)
        assert match.seat_statuses()["auditor"] == "connected"
        assert match.advance(4.0) is None
        assert match.seat_statuses()["auditor"] == "disconnected"
        for role in ("fraudster", "investigator"):
            match.leave(role, match.seats[role].conn or "", 5.0)
        assert match.advance(5.0 + SETTINGS.idle_ttl_s) == "abandoned"
    finally:
        live_match.set_conn_probe(None)


def test_journal_lines_survive_a_sigkill_of_the_writer(tmp_path):
    """os.write puts each line in the kernel before the call returns: SIGKILL right after loses nothing."""
    code = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from fraudarena.served.journal import MatchJournal\n"
        "j = MatchJournal(Path(sys.argv[1]))\n"
        "for i in range(200): j.write({'t': 'act', 'i': i})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    path = tmp_path / "k.jsonl"
    proc = subprocess.run([sys.executable, "-c", code, str(path)], timeout=60)
    assert proc.returncode == -9
    lines = path.read_text().splitlines()
    assert [json.loads(x)["i"] for x in lines] == list(range(200))
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_match_that_cannot_be_rebuilt_is_archived_done_if_it_had_finished_else_lost(tmp_path):
    """The directory's last resort (``LiveMatch.salvage_entry``): a finished match keeps its ``done`` entry and
    whole record (a node kill during its linger once archived it ``lost`` over them); an unfinished one is
    ``lost`` with its record so far and the reason."""
    match = _new(tmp_path)
    bots = _bots()
    seq = _play(match, bots, 3)
    partial = LiveMatch.from_journal(read_journal(journal_file(tmp_path, "m_1")), SETTINGS, 5.0, default_bot_factory,
                                     resume=False)
    lost = partial.salvage_entry(5.0, "every actor tried died")
    assert lost["summary"]["status"] == "lost" and lost["summary"]["end_reason"] == "lost"
    assert lost["summary"]["lost_reason"] == "every actor tried died"
    assert lost["record"]["actions"] == match.record()["actions"]  # the record so far
    while not match.env.done:
        seq = _play(match, bots, 50, seq)
    finished = LiveMatch.from_journal(read_journal(journal_file(tmp_path, "m_1")), SETTINGS, 9.0,
                                      default_bot_factory, resume=False)
    entry = finished.salvage_entry(9.0, "every actor tried died")
    assert entry["summary"]["status"] == "done" and "lost_reason" not in entry["summary"]
    assert entry["record"] == match.record()
    assert entry["summary"]["end_reason"] == match.record()["end_reason"] is not None
