"""``fraudarena serve``: config loading (fast) and the embedded server's start and Ctrl-C stop (slow)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx
import pydantic
import pytest
from serve_helpers import three_socket_match

from fraudarena.serve.baseline import free_port
from fraudarena.serve.haproxy_files import haproxy_processes, in_tree, is_running
from fraudarena.serve.launcher import code_version, load_config
from fraudarena.served.archive_store import ArchiveStore


def test_load_config_validates_args_and_sets_code_version(tmp_path):
    cfg = load_config()
    args = cfg["applications"][0]["args"]
    assert args["code_version"] == code_version() and args["matches_per_actor"] == 1
    assert cfg["applications"][0]["import_path"] == "fraudarena.serve.deployment:build_app"
    assert "runtime_env" not in cfg["applications"][0]
    with pytest.raises(pydantic.ValidationError):
        load_config(None, {"max_live_matchez": 3})


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.serve
def test_embedded_serve_plays_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    code = ("from fraudarena.serve.launcher import serve_command; "
            f"serve_command(host='127.0.0.1', port={port}, num_cpus=2, "
            f"arena_args={{'archive_path': {str(tmp_path / 'a.sqlite3')!r}, 'pool_size': 1, 'instance': 'embedded'}})")
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, start_new_session=True)
    try:
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "OpenEnv" in line:
                break
        assert any(f"ws://127.0.0.1:{port}/ws/investigator" in x for x in seen), "".join(seen)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=30).json()["status"] == "ok"
        ours = [pid for pid, parent, _cfg in haproxy_processes() if in_tree(parent, proc.pid)]
        assert ours, "no HAProxy under the embedded server"
        finals, _ = asyncio.run(three_socket_match(f"ws://127.0.0.1:{port}", "task_1", 2))
        assert finals["fraudster"]["done"]
        proc.send_signal(signal.SIGINT)  # within done_linger_s (60 s) of the match's end
        assert proc.wait(timeout=90) == 0
        assert not [pid for pid in ours if is_running(pid)], "HAProxy outlived the server"
        # nothing finished is lost on a stop: the match was archived when it ended, not after the linger
        store = ArchiveStore(tmp_path / "a.sqlite3", 10_000)
        try:
            entry = store.get(finals["fraudster"]["match_id"])
        finally:
            store.close()
        assert entry is not None and entry["summary"]["status"] == "done"
        assert entry["record"] == finals["fraudster"]["record"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
