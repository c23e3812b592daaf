"""Subprocess smoke tests of the ``fraudarena`` console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from fraudarena.agents import play_match
from fraudarena.arena import record_json


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("fraudarena")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "fraudarena.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def test_help_lists_every_command() -> None:
    out = run_cli("--help")
    assert out.returncode == 0, out.stderr
    for command in ("serve", "deploy", "stop", "play", "train", "eval", "arena"):
        assert command in out.stdout


@pytest.mark.parametrize("command", ["serve", "deploy", "stop", "play", "train", "eval", "arena play",
                                     "arena tournament"])
def test_each_command_has_help(command: str) -> None:
    out = run_cli(*command.split(), "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_arena_play_json_is_the_in_process_record() -> None:
    out = run_cli("arena", "play", "--task", "task_3", "--seed", "7", "--json")
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert out.stdout.strip() == record_json(play_match("task_3", 7))
    assert record["config"]["task_id"] == "task_3" and record["end_reason"] is not None


def test_arena_play_summary_and_bad_task() -> None:
    out = run_cli("arena", "play", "--task", "task_1", "--seed", "2")
    assert out.returncode == 0, out.stderr
    assert "grader score" in out.stdout and "rewards" in out.stdout
    bad = run_cli("arena", "play", "--task", "task_9")
    assert bad.returncode == 2
    assert "unknown task_id" in bad.stderr and bad.stderr.count("\n") == 1


def test_arena_tournament_table_and_json() -> None:
    out = run_cli("arena", "tournament", "--tasks", "task_1", "--seeds", "0-2", "--fraudsters", "reactive",
                  "--investigators", "scripted,random", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["investigator"] for r in rows} == {"scripted", "random"}
    assert all(r["n"] == 3 and 0.0 <= r["grader"] <= 1.0 for r in rows)
    table = run_cli("arena", "tournament", "--tasks", "task_1", "--seeds", "0-1")
    assert table.returncode == 0 and "Tournament" in table.stdout


def test_play_without_a_match_choice_is_an_error() -> None:
    out = run_cli("play")
    assert out.returncode == 2
