"""Balance: the ScriptedInvestigator beats degenerate and weak investigators; some fraudster profits.

Over seeds 0..n-1 of every task, against the ReactiveFraudster, the ScriptedInvestigator's mean grader
score must be ≥ 0.1 above each of do-nothing, reject-all, escalate-all, random and both surface-only
investigators: ``surface_only`` (the scripted belief on surface cues with its argmax verdict rule) and
``surface_ev`` (surface cues with the verdict of highest expected grader value, the best a
non-investigating investigator can do). The rational surface-only investigator (``surface_ev``) must
be clearly (≥ 0.03) above random, and ``surface_only`` must not be below it.
Against the ScriptedInvestigator, some shipped
fraudster strategy (ReactiveFraudster or CamouflageFraudster) must have a positive mean reward on every
task. Both tables are printed (``pytest -s`` or ``-rA``). The default run uses 40 seeds; the
``slow`` variant 200.
"""

from __future__ import annotations

from statistics import fmean

import pytest

from fraudarena.agents import play_match
from fraudarena.arena import spec

INVESTIGATORS = ("scripted", "surface_only", "random", "do_nothing", "reject_all", "escalate_all",
                 "surface_ev")
WEAK = ("surface_only", "surface_ev", "random", "do_nothing", "reject_all", "escalate_all")
FRAUDSTERS = ("reactive", "camouflage")
MARGIN = 0.1
SURFACE_OVER_RANDOM = 0.03


def investigator_table(n_seeds: int) -> dict[str, dict[str, float]]:
    """Mean grader score per (task, investigator) against the ReactiveFraudster."""
    table: dict[str, dict[str, float]] = {}
    for task_id in spec.TASK_IDS:
        table[task_id] = {}
        for inv in INVESTIGATORS:
            scores = [play_match(task_id, seed, fraudster="reactive", investigator=inv,
                                 auditor="heuristic")["grader"]["score"] for seed in range(n_seeds)]
            table[task_id][inv] = fmean(scores)
    return table


def fraudster_table(n_seeds: int) -> dict[str, dict[str, float]]:
    """Mean fraudster reward per (task, strategy) against the ScriptedInvestigator."""
    table: dict[str, dict[str, float]] = {}
    for task_id in spec.TASK_IDS:
        table[task_id] = {}
        for fr in FRAUDSTERS:
            rewards = [play_match(task_id, seed, fraudster=fr, investigator="scripted",
                                  auditor="heuristic")["rewards"]["fraudster"] for seed in range(n_seeds)]
            table[task_id][fr] = fmean(rewards)
    return table


def format_table(title: str, table: dict[str, dict[str, float]]) -> str:
    cols = list(next(iter(table.values())))
    lines = [title, "task".ljust(14) + "".join(c.rjust(14) for c in cols)]
    for task_id, row in table.items():
        lines.append(task_id.ljust(14) + "".join(f"{row[c]:14.3f}" for c in cols))
    return "\n".join(lines)


def check_balance(n_seeds: int) -> None:
    inv = investigator_table(n_seeds)
    fr = fraudster_table(n_seeds)
    print()
    print(format_table(f"mean grader score vs ReactiveFraudster ({n_seeds} seeds)", inv))
    print(format_table(f"mean fraudster reward vs ScriptedInvestigator ({n_seeds} seeds)", fr))
    problems = []
    for task_id, row in inv.items():
        for weak in WEAK:
            if row["scripted"] < row[weak] + MARGIN:
                problems.append(f"{task_id}: scripted {row['scripted']:.3f} < {weak} {row[weak]:.3f} + {MARGIN}")
        if row["surface_ev"] < row["random"] + SURFACE_OVER_RANDOM:
            problems.append(f"{task_id}: surface_ev {row['surface_ev']:.3f} not clearly above random "
                            f"{row['random']:.3f}")
        if row["surface_only"] < row["random"]:
            problems.append(f"{task_id}: surface_only {row['surface_only']:.3f} below random {row['random']:.3f}")
    for task_id, row in fr.items():
        if max(row.values()) <= 0.0:
            problems.append(f"{task_id}: no fraudster strategy has a positive mean reward ({row})")
    assert not problems, "\n".join(problems)


def test_balance_40_seeds() -> None:
    check_balance(40)


@pytest.mark.slow
def test_balance_200_seeds() -> None:
    check_balance(200)
