"""Subprocess smoke tests of the ``fraudarena`` console script."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from fraudarena.agents import play_match
from fraudarena.agents.rl.config import TrainConfig
from fraudarena.agents.tournament import parse_seeds
from fraudarena.arena import TASK_IDS, record_json
from fraudarena.cli import app, bot_kinds
from fraudarena.served.settings import ArenaSettings


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


# ----- issue 12: a newcomer's polish ------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _invoke(*args: str) -> Result:
    """Run the CLI in-process (fast); a wide terminal so that --help does not wrap."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "TERMINAL_WIDTH": "250"})


def _flat(text: str) -> str:
    """--help text with the panel borders and line wrapping removed."""
    return " ".join(text.replace("│", " ").split())


@pytest.mark.parametrize(("command", "roles"), [
    ("arena play", ("fraudster", "investigator", "auditor")), ("arena tournament", ("fraudster", "investigator")),
    ("play", ("fraudster", "investigator", "auditor")), ("eval", ())])
def test_help_lists_task_ids_bot_kinds_and_defaults(command: str, roles: tuple[str, ...]) -> None:
    out = _invoke(*command.split(), "--help")
    assert out.exit_code == 0, out.output
    text = _flat(out.stdout)
    for task_id in TASK_IDS:
        assert task_id in text
    for role in roles:
        for kind in bot_kinds(role):
            assert kind in text, (role, kind)
    assert "[default:" in text


def test_bot_kinds_come_from_the_registry() -> None:
    assert {"reactive", "camouflage", "scripted", "random"} <= set(bot_kinds("fraudster"))
    assert "ringhunter" in bot_kinds("investigator") and "ringhunter" not in bot_kinds("fraudster")
    assert set(bot_kinds("auditor")) >= {"heuristic", "scripted", "random"}


def test_train_help_shows_the_config_defaults() -> None:
    text = _flat(_invoke("train", "--help").stdout)
    cfg = TrainConfig()
    for shown in (f"(default: {cfg.num_workers})", f"(default: {cfg.iterations})", f"(default: {cfg.runs_dir})",
                  "selfplay-YYYYmmdd-HHMMSS"):
        assert shown in text


def test_play_without_a_server_is_one_clear_line() -> None:
    port = _free_port()
    out = run_cli("play", "--new", "--url", f"ws://127.0.0.1:{port}")
    assert out.returncode == 1
    assert out.stderr.strip() == (f"error: cannot connect to ws://127.0.0.1:{port}: connection refused — is "
                                  "`fraudarena serve` running?")
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("command", [("arena", "tournament", "--tasks", "task_1"),
                                     ("eval", "--checkpoint", "runs/x/checkpoints/latest")])
def test_a_malformed_seed_range_is_one_clear_line(command: tuple[str, ...]) -> None:
    out = run_cli(*command, "--seeds", "5-x")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: bad seed range '5-x': expected seeds like 0-199 or 1,2,5-9"


def test_parse_seeds_names_what_is_wrong() -> None:
    assert parse_seeds("0-2, 7,9-10") == [0, 1, 2, 7, 9, 10]
    for bad, says in (("5-x", "'5-x'"), ("1,a", "'a' in '1,a'"), ("9-5", "9 > 5"), ("", "no seeds"),
                      ("-3", "'-3'")):
        with pytest.raises(ValueError, match=re.escape(says)):
            parse_seeds(bad)


@pytest.mark.parametrize(("args", "says"), [
    (("arena", "tournament", "--investigators", "scripted,nope"), "unknown investigator bot 'nope'"),
    (("arena", "tournament", "--fraudsters", "ringhunter"), "bot 'ringhunter' does not play fraudster"),
    (("arena", "tournament", "--tasks", "task_9"), "unknown task ids ['task_9']"),
    (("play", "--new", "--task", "task_9"), "unknown task ids ['task_9']"),
    (("play", "--new", "--role", "judge"), "unknown role 'judge'"),
    (("eval", "--checkpoint", "no/such/dir"), "no checkpoint at no/such/dir"),
    (("train", "--resume", "no/such/dir"), "no resumable checkpoint at no/such/dir"),
    (("play", "--new", "--bot", "rllib:no/such/dir"), "cannot load rllib:no/such/dir"),
])
def test_bad_options_exit_2_with_one_line(args: tuple[str, ...], says: str) -> None:
    out = _invoke(*args)
    assert out.exit_code == 2
    assert out.stderr.startswith("error: ") and says in out.stderr and out.stderr.count("\n") == 1


def test_tournament_progress_goes_to_stderr_and_tables_fit_80_columns() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    exe = shutil.which("fraudarena")
    cmd = [exe] if exe else [sys.executable, "-m", "fraudarena.cli"]
    out = subprocess.run([*cmd, "arena", "tournament", "--tasks", "task_1,task_3_unseen", "--seeds", "0-1",
                          "--fraudsters", "reactive,camouflage", "--investigators", "scripted,escalate_all"],
                         capture_output=True, text=True, timeout=120, check=False, env=env)
    assert out.returncode == 0, out.stderr
    progress = out.stderr.strip().splitlines()
    assert len(progress) == 8 and progress[-1].startswith("tournament: 16/16 matches")
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line for line in lines if line.startswith("│ ")]
    assert len(rows) == 8 and all("camouflage" in r or "reactive" in r for r in rows)  # one line per pairing


def test_queue_says_at_once_that_it_waits_and_how_long(capsys: pytest.CaptureFixture[str]) -> None:
    from fraudarena.agents.play_remote import wait_in_queue

    class FakeClient:
        role = "investigator"

        def __init__(self) -> None:
            self.queued: list[dict] = []

        async def queue(self, task_id: str, timeout: float | None = None) -> dict:
            first = capsys.readouterr().out  # printed before the request goes out
            assert f"waiting in the matchmaking queue for {task_id} as investigator" in first
            assert "30 s" in first and f"giving up after {timeout:g} s" in first
            self.queued.append({"position": 1, "waited_s": 0.0})
            await asyncio.sleep(0.6)
            self.queued.append({"position": 1, "waited_s": 10.0})
            await asyncio.sleep(0.6)
            return {"match_id": "m_1", "seat_token": "t"}

    obs = asyncio.run(wait_in_queue(FakeClient(), "task_2", 45))  # type: ignore[arg-type]
    assert obs["match_id"] == "m_1"
    assert capsys.readouterr().out.strip() == "still waiting: position 1, 10 s"


def test_client_connect_failures_are_cannot_connect() -> None:
    from fraudarena.agents.client import CannotConnect, RoleClient

    async def connect(url: str) -> None:
        async with RoleClient(url, "auditor", open_timeout=5):
            pass

    with pytest.raises(CannotConnect) as refused:
        asyncio.run(connect(f"ws://127.0.0.1:{_free_port()}"))
    assert refused.value.refused and isinstance(refused.value, OSError)
    assert refused.value.reason == "connection refused" and refused.value.url.endswith("/ws/auditor")
    with pytest.raises(CannotConnect, match="not a ws:// or wss:// URL"):
        asyncio.run(connect("http://127.0.0.1:1"))


_TINY = {"matches_per_worker": 2, "rollout_steps": 20, "bc_iterations": 1, "hidden": 8, "minibatch_size": 64,
         "update_epochs": 1, "bc_epochs": 1, "checkpoint_every": 0, "task_ids": ["task_1"], "archive_rate": 0.0}


def _tiny_config(tmp_path: Path) -> str:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(_TINY))
    return str(path)


def test_train_gives_each_run_its_own_directory(tmp_path: Path) -> None:
    """Real one-iteration runs (no Ray): fresh names by default, --run-name kept, --resume goes on in place."""
    runs = str(tmp_path / "runs")
    tiny = ("--config", _tiny_config(tmp_path), "--workers", "0", "--iterations", "1")
    first, second = _invoke("train", *tiny, "--runs-dir", runs), _invoke("train", *tiny, "--runs-dir", runs)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(names) == 2 and all(re.fullmatch(r"selfplay-\d{8}-\d{6}(-\d+)?", n) for n in names)
    assert first.stdout.startswith(f"run {runs}/")
    assert _invoke("train", *tiny, "--runs-dir", runs, "--run-name", "mine").exit_code == 0
    ckpt = tmp_path / "runs" / "mine" / "checkpoints" / "latest"
    assert (ckpt / "learner.pt").is_file()
    resumed = _invoke("train", "--config", _tiny_config(tmp_path), "--workers", "0", "--iterations", "2",
                      "--resume", str(ckpt))
    assert resumed.exit_code == 0, resumed.output  # a resumed run goes on in its own directory
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted([*names, "mine"])
    assert "3 (2 in this run)" in resumed.stdout  # --iterations counts the iterations this run adds


def test_train_ends_with_a_summary_table(tmp_path: Path) -> None:
    out = _invoke("train", "--config", _tiny_config(tmp_path), "--workers", "0", "--iterations", "2",
                  "--runs-dir", str(tmp_path), "--run-name", "r", "--engine", "core")
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert "Training summary" in text and "{" not in text  # a table, not a dict
    for shown in ("run directory", "iterations", "wall time", "matches", "env steps", "last iteration",
                  "fraudarena eval --checkpoint"):
        assert shown in text
    assert _invoke("train", "--engine", "jax").exit_code != 0


def test_train_runs_a_tiny_config_end_to_end(tmp_path: Path) -> None:
    cfg = {"matches_per_worker": 2, "rollout_steps": 30, "bc_iterations": 1, "hidden": 8, "minibatch_size": 64,
           "update_epochs": 1, "bc_epochs": 1, "checkpoint_every": 0, "task_ids": ["task_1"], "archive_rate": 0.0}
    (tmp_path / "tiny.json").write_text(json.dumps(cfg))
    out = run_cli("train", "--config", str(tmp_path / "tiny.json"), "--workers", "0", "--minutes", "0.02",
                  "--iterations", "2", "--runs-dir", str(tmp_path / "runs"))
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("selfplay-") and (run_dir / "checkpoints" / "latest" / "learner.pt").is_file()
    assert re.search(r"^iter 1 \(\d+/1 s\): BC", out.stdout, re.M)  # progress toward the --minutes stop
    assert "Training summary" in out.stdout


def test_serve_archive_flag_reaches_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fraudarena.serve.launcher as launcher

    seen: dict = {}
    monkeypatch.setattr(launcher, "serve_command", lambda **kw: seen.update(kw))
    monkeypatch.chdir(tmp_path)
    out = _invoke("serve", "--no-demo", "--archive", "data/arena.sqlite3")
    assert out.exit_code == 0, out.output
    wanted = str(tmp_path.resolve() / "data" / "arena.sqlite3")
    assert seen["arena_args"] == {"archive_path": wanted}
    cfg = launcher.load_config(None, seen["arena_args"])
    assert str(ArenaSettings(**cfg["applications"][0]["args"]).archive_file()) == wanted
    assert _invoke("serve", "--no-demo").exit_code == 0 and seen["arena_args"] is None  # the config's default


def test_an_unexpected_error_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("applications: [\n  {name: x\n")  # not YAML: the parser's message spans several lines
    out = run_cli("deploy", "--config", str(bad))
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and "FRAUDARENA_DEBUG" in out.stderr
    assert "Traceback" not in out.stderr
