"""Benchmark of match journaling (docs/operations.md#faults-and-recovery): what durability costs per action.

Single process, one core; rates use the process CPU time plus wall time (the fsync column is disk-bound).
Plays complete matches on ``LiveMatch`` with three human seats driven by the scripted bots (every action goes
through ``LiveMatch.step``, as a served step does), in four modes measured in the same run:

* ``none``: no journal (the baseline);
* ``journal``: one ``os.write`` per accepted action (survives a process kill);
* ``journal+fsync``: plus ``fsync`` per action (survives a machine crash);
* ``rebuild``: ``LiveMatch.from_journal`` of a finished match's journal (the cost of recovering one match).

    python benchmarks/journal.py [--seconds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from fraudarena.agents import make_bot
from fraudarena.arena.rng import bot_seed
from fraudarena.served.journal import MatchJournal, journal_file, read_journal
from fraudarena.served.live_match import LiveMatch
from fraudarena.served.match_host import default_bot_factory
from fraudarena.served.settings import ArenaSettings

ROLES = ("fraudster", "investigator", "auditor")
SETTINGS = ArenaSettings(archive_path=":memory:")


def play_one(seed: int, directory: Path | None, fsync: bool) -> int:
    """One full match over ``LiveMatch.step``; returns the number of accepted actions."""
    match_id = f"m_{seed}"
    journal = None if directory is None else MatchJournal(journal_file(directory, match_id), fsync)
    match = LiveMatch(match_id, {"task_id": "task_1", "seed": seed}, {}, SETTINGS, 0.0, default_bot_factory,
                      journal=journal)
    for role in ROLES:
        match.join(role, f"c-{role}", match.tokens[role], False, 0.0)
    bots = {r: make_bot("scripted", r, bot_seed("task_1", seed, r)) for r in ROLES}
    seq = 0
    while not match.env.done:
        role = match.env.current_role
        seq += 1
        match.step(role, bots[role].act(match.env.observe(role, text=False)), seq, 1.0)
    match.close_journal()
    return len(match.action_log)


def measure(mode: str, seconds: float, tmp: Path) -> dict[str, Any]:
    directory = None if mode == "none" else tmp / mode
    fsync = mode == "journal+fsync"
    cpu0, wall0 = time.process_time(), time.perf_counter()
    matches = actions = 0
    seed = 0
    while time.perf_counter() - wall0 < seconds:
        actions += play_one(seed, directory, fsync)
        matches += 1
        seed += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"mode": mode, "matches": matches, "actions": actions, "actions_per_cpu_s": actions / cpu,
            "actions_per_wall_s": actions / wall, "us_per_action_wall": 1e6 * wall / actions}


def measure_rebuild(seconds: float, tmp: Path) -> dict[str, Any]:
    directory = tmp / "rebuild"
    actions = play_one(10_000, directory, False)
    entries = read_journal(journal_file(directory, "m_10000"))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    n = 0
    while time.perf_counter() - wall0 < seconds:
        LiveMatch.from_journal(read_journal(journal_file(directory, "m_10000")), SETTINGS, 2.0,
                               default_bot_factory, resume=False)
        n += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"mode": "rebuild", "matches": n, "actions": n * actions, "journal_lines": len(entries),
            "journal_bytes": journal_file(directory, "m_10000").stat().st_size,
            "actions_per_cpu_s": n * actions / cpu, "actions_per_wall_s": n * actions / wall,
            "ms_per_rebuild_wall": 1e3 * wall / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per mode")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        play_one(99_999, None, False)  # warm-up (imports, bot tables)
        rows = [measure(m, args.seconds, tmp) for m in ("none", "journal", "journal+fsync")]
        rows.append(measure_rebuild(args.seconds, tmp))
    base = rows[0]["actions_per_cpu_s"]
    for row in rows:
        row["cpu_ratio_vs_none"] = row["actions_per_cpu_s"] / base
    if args.json:
        print(json.dumps({"rows": rows}, indent=2))
        return
    print(f"{'mode':<15}{'matches':>9}{'actions':>9}{'actions/cpu s':>15}{'actions/wall s':>16}{'cpu vs none':>13}")
    for row in rows:
        print(f"{row['mode']:<15}{row['matches']:>9}{row['actions']:>9}{row['actions_per_cpu_s']:>15.0f}"
              f"{row['actions_per_wall_s']:>16.0f}{row['cpu_ratio_vs_none']:>13.2f}")
    rb = rows[-1]
    print(f"rebuild of one finished match: {rb['ms_per_rebuild_wall']:.1f} ms wall "
          f"({rb['journal_lines']} journal lines, {rb['journal_bytes']} bytes)")


if __name__ == "__main__":
    main()
