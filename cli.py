"""The ``fraudarena`` command line: one console script for players, researchers and operators.

Commands import their heavy dependencies (Ray, torch, FastAPI) lazily, so ``fraudarena arena ...``
starts fast and works with the base install.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="FraudArena: a self-play arena for an adversarial ad-fraud review game.",
                  no_args_is_help=True, add_completion=False)
arena_app = typer.Typer(help="Play matches in-process (no server needed).", no_args_is_help=True)
app.add_typer(arena_app, name="arena")

console = Console()

FRAUDSTER_KINDS = ("reactive", "camouflage", "random")
INVESTIGATOR_KINDS = ("scripted", "surface_only", "random", "do_nothing", "reject_all", "escalate_all")


def _summary(rec: dict) -> None:
    cfg = rec["config"]
    table = Table(title=f"{cfg['task_id']} seed {cfg['seed']}: {rec['end_reason']} after round {rec['final_round']}")
    for col in ("ad", "label", "proposal", "category", "verdict", "conf", "pulls"):
        table.add_column(col)
    for ad in rec["ads"]:
        verdict = ad["final_verdict"] + (" (auto)" if ad["auto_approved"] else "")
        table.add_row(ad["ad_id"], ad["label"], f"slot {ad['slot_index']}" if ad["is_fraudster_proposal"] else "",
                      ad["category"], verdict, f"{ad['confidence']:.2f}", str(len(ad["pulled"])))
    console.print(table)
    g = rec["grader"]
    console.print(f"grader score {g['score']:.3f} (raw {g['raw']:.2f}, baseline {g['baseline']:.2f}, "
                  f"best {g['best']:.2f}); budget used {rec['budget_used']}")
    console.print("rewards: " + ", ".join(f"{k} {v:+.3f}" for k, v in rec["rewards"].items()))


@arena_app.command("play")
def arena_play(
    task: Annotated[str, typer.Option(help="task id")] = "task_1",
    seed: Annotated[int, typer.Option(help="match seed")] = 0,
    fraudster: Annotated[str, typer.Option(help="fraudster bot: " + "|".join(FRAUDSTER_KINDS))] = "reactive",
    investigator: Annotated[str, typer.Option(help="investigator bot: " + "|".join(INVESTIGATOR_KINDS))] = "scripted",
    auditor: Annotated[str, typer.Option(help="auditor bot: heuristic|random")] = "heuristic",
    as_json: Annotated[bool, typer.Option("--json", help="print the match record as canonical JSON")] = False,
) -> None:
    """Play one match with bots and print its record (or a readable summary)."""
    from fraudarena.agents import play_match
    from fraudarena.arena import ArenaError, record_json

    try:
        rec = play_match(task, seed, fraudster=fraudster, investigator=investigator, auditor=auditor)
    except (ArenaError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(record_json(rec) + "\n")
    else:
        _summary(rec)


@arena_app.command("tournament")
def arena_tournament(
    tasks: Annotated[str, typer.Option(help="comma-separated task ids, or 'all'")] = "all",
    seeds: Annotated[str, typer.Option(help="seed range, e.g. 0-199 or 1,2,5-9")] = "0-49",
    fraudsters: Annotated[str, typer.Option(help="comma-separated fraudster bots")] = "reactive,camouflage,random",
    investigators: Annotated[str, typer.Option(help="comma-separated investigator bots")] = ",".join(
        INVESTIGATOR_KINDS),
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Every fraudster bot against every investigator bot; mean grader score and rewards per task."""
    from fraudarena.agents.tournament import parse_seeds, run_tournament
    from fraudarena.arena import TASK_IDS

    task_ids = list(TASK_IDS) if tasks == "all" else [t.strip() for t in tasks.split(",")]
    unknown = [t for t in task_ids if t not in TASK_IDS]
    if unknown:
        console.print(f"[red]error:[/red] unknown task ids {unknown}; known: {', '.join(TASK_IDS)}")
        raise typer.Exit(2)
    seed_list = parse_seeds(seeds)
    results = run_tournament(task_ids, seed_list, fraudsters.split(","), investigators.split(","))
    if as_json:
        print(json.dumps([{
            "task_id": r.task_id, "fraudster": r.fraudster, "investigator": r.investigator, "n": r.n,
            "grader": r.mean(r.grader), "grader_ci95": r.ci95(r.grader),
            "rewards": {k: r.mean(v) for k, v in r.rewards.items()}, "end_reasons": r.end_reasons,
        } for r in results], indent=2))
        return
    table = Table(title=f"Tournament over {len(seed_list)} seeds per pairing (auditor: heuristic)")
    for col in ("task", "fraudster", "investigator", "grader", "± 95%", "R fraudster", "R investigator",
                "R auditor"):
        table.add_column(col, justify="right" if col[0] in "gR±" else "left")
    for r in results:
        table.add_row(r.task_id, r.fraudster, r.investigator, f"{r.mean(r.grader):.3f}", f"{r.ci95(r.grader):.3f}",
                      f"{r.mean(r.rewards['fraudster']):+.3f}", f"{r.mean(r.rewards['investigator']):+.3f}",
                      f"{r.mean(r.rewards['auditor']):.3f}")
    console.print(table)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
