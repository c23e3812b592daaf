"""docs/rules.md §11.2 / §13.8: records are byte-identical across processes and PYTHONHASHSEED; replay is exact."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fraudarena.arena import RefereeEnvironment, record_json, replay

SCRIPT = r"""
import hashlib, sys
from fraudarena.agents import make_bot
from fraudarena.arena import RefereeEnvironment, record_json
out = []
for task_id, seed, kind in [("task_1", 11, "random"), ("task_3", 5, "scripted"), ("task_3_unseen", 2, "random"),
                            ("task_2", 7, "scripted")]:
    env = RefereeEnvironment(task_id, seed=seed)
    bots = {r: make_bot(kind, r, 100 + i) for i, r in enumerate(("fraudster", "investigator", "auditor"))}
    while not env.done:
        role = env.current_role
        env.step(role, bots[role].act(env.observe(role)))
    out.append(record_json(env.record()))
sys.stdout.write("\n".join(out))
"""


def _run(hashseed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120,
                          check=True)
    return proc.stdout.split("\n")


def test_records_identical_across_processes_and_hash_seeds() -> None:
    a = _run("0")
    b = _run("4242")
    assert len(a) == 4
    assert a == b
    for text in a:
        rec = json.loads(text)
        assert rec["rewards"] is not None
        assert record_json(replay(rec).record()) == text


def test_missing_seed_is_drawn_and_recorded() -> None:
    env = RefereeEnvironment("task_1")
    assert isinstance(env.seed, int) and 0 <= env.seed < 2**63
    env2 = RefereeEnvironment("task_1", seed=None)
    assert env2.seed != env.seed  # OS entropy: a collision has probability 2**-63
    while not env.done:
        role = env.current_role
        env.step(role, env.default_action(role))  # type: ignore[arg-type]
    rec = env.record()
    assert rec["config"]["seed"] == env.seed
    assert record_json(replay(rec).record()) == record_json(rec)
    fresh = RefereeEnvironment("task_1", seed=env.seed)
    assert [a["ad_id"] for a in fresh.record()["ads"]] == [a["ad_id"] for a in rec["ads"]]
