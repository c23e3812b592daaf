"""The ``fraudarena`` command line: one console script for players, researchers and operators.

Commands import their heavy dependencies (Ray, torch, FastAPI) lazily, so ``fraudarena arena ...``
starts fast and works with the base install.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
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


@app.command("serve")
def serve(
    config: Annotated[str | None, typer.Option(help="Serve config (default: the packaged ray_config.yaml)")] = None,
    host: Annotated[str | None, typer.Option(help="HTTP host (default from the config)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default from the config)")] = None,
    address: Annotated[str | None, typer.Option(help="join a running Ray cluster (e.g. auto) instead of "
                                                     "starting a local one")] = None,
    proxy: Annotated[str, typer.Option(help="ingress for the embedded cluster: haproxy|default")] = "haproxy",
    num_cpus: Annotated[int | None, typer.Option(help="CPUs for the embedded Ray")] = None,
    demo: Annotated[bool, typer.Option(help="once up, play a demo match over WebSockets: a scripted "
                                            "Investigator against the house bots")] = True,
    archive: Annotated[str | None, typer.Option(help="SQLite file of finished matches (default: the config's "
                                                     "archive_path, ~/.fraudarena/archive.sqlite3)")] = None,
) -> None:
    """Start the served arena: a local Ray (or --address), the Serve app from ray_config.yaml; Ctrl-C stops."""
    import threading

    from fraudarena.serve.launcher import serve_command

    ready = threading.Event()
    endpoint: dict[str, str] = {}

    def run_demo() -> None:
        ready.wait()
        url = endpoint.get("url")
        if not url:
            return
        console.print("\n[bold]Demo:[/bold] a scripted Investigator joins a new task_1 match over "
                      f"{url}/ws/investigator; the house bots play the Fraudster and the Auditor.")
        try:
            from fraudarena.agents.play_remote import play_remote

            finals = play_remote(url, "investigator", new=True, task_id="task_1", bot="scripted")
        except Exception as exc:  # the server keeps running; the demo is only a first look
            console.print(f"[yellow]demo match failed:[/yellow] {exc}")
            return
        _print_remote_result(finals)
        shown = url.replace("ws://", "http://")
        console.print(f"Replay it move by move at {shown}/ (spectator page). Connect your own agent: "
                      f"fraudarena play --url {url} --new --task task_2 --bot random")

    if demo and address is None:
        http_host = host or "127.0.0.1"
        shown_host = "127.0.0.1" if http_host in ("0.0.0.0", "::") else http_host
        endpoint["url"] = f"ws://{shown_host}:{port or _config_port(config)}"
        threading.Thread(target=run_demo, name="fraudarena-demo", daemon=True).start()
    arena_args = None
    if archive is not None:  # absolute: the archive actor's working directory is not this shell's
        arena_args = {"archive_path": str(Path(archive).expanduser().resolve())}
    serve_command(config=config, host=host, port=port, address=address, proxy=proxy, num_cpus=num_cpus,
                  arena_args=arena_args, ready=ready)


def _config_port(config: str | None) -> int:
    from fraudarena.serve.launcher import load_config

    return int((load_config(config).get("http_options") or {}).get("port", 8000))


def _print_remote_result(finals: dict) -> None:
    """Summarise a match played over WebSockets from the final observations of the seats we played."""
    rec = next((obs["record"] for obs in finals.values() if obs.get("record")), None)
    if rec is None:
        phases = {role: obs.get("phase") for role, obs in finals.items()}
        console.print(f"match not finished: {phases}")
        return
    match_id = next(iter(finals.values())).get("match_id")
    decided = [a for a in rec["ads"] if not a["auto_approved"]]
    console.print(f"match {match_id} ({rec['config']['task_id']}, seed {rec['config']['seed']}): {rec['end_reason']} "
                  f"after round {rec['final_round']}; {len(decided)} of {len(rec['ads'])} ads decided by hand; "
                  f"grader {rec['grader']['score']:.3f}")
    console.print("rewards: " + ", ".join(f"{k} {v:+.3f}" for k, v in rec["rewards"].items())
                  + f" (played here: {', '.join(finals)})")


@app.command("deploy")
def deploy(
    config: Annotated[str | None, typer.Option(help="Serve config (default: the packaged ray_config.yaml)")] = None,
    dashboard: Annotated[str | None, typer.Option(help="dashboard address (default: serve's own default)")] = None,
) -> None:
    """`serve deploy` the arena onto a running `ray start --head` cluster (handles the token-auth trap)."""
    from fraudarena.serve.launcher import deploy_config

    raise typer.Exit(deploy_config(config=config, dashboard_address=dashboard))


@app.command("stop")
def stop(
    address: Annotated[str, typer.Option(help="Ray cluster address")] = "auto",
    instance: Annotated[str, typer.Option(help="arena instance name (ray_config.yaml args.instance)")] = "default",
) -> None:
    """Release an arena's detached actors (they survive `serve shutdown`); the archive stays on disk."""
    from fraudarena.serve.launcher import stop_arena

    stop_arena(address=address, instance=instance)


@app.command("play")
def play(
    url: Annotated[str, typer.Option(help="server base URL, e.g. ws://127.0.0.1:8000")] = "ws://127.0.0.1:8000",
    role: Annotated[str, typer.Option(help="fraudster|investigator|auditor")] = "investigator",
    match: Annotated[str | None, typer.Option("--match", help="match id to join")] = None,
    token: Annotated[str | None, typer.Option(help="seat token for --match")] = None,
    new: Annotated[bool, typer.Option("--new", help="create a new match (other seats: house bots)")] = False,
    task: Annotated[str, typer.Option(help="task id for --new / --queue")] = "task_1",
    seed: Annotated[int | None, typer.Option(help="seed for --new (default: server-drawn)")] = None,
    bot: Annotated[str, typer.Option(help="bot that plays the seat: scripted|random|policy:<checkpoint>")] = "scripted",
    all_roles: Annotated[bool, typer.Option("--all-roles", help="play all three seats over three sockets")] = False,
    house_bots: Annotated[str, typer.Option(help="with --new: who plays the other seats (scripted|random|none)")
                          ] = "scripted",
    queue: Annotated[bool, typer.Option("--queue", help="take a seat through the server's matchmaking queue")
                     ] = False,
) -> None:
    """Play one seat of a live match over WebSockets with a bot (or all three seats with --all-roles)."""
    from fraudarena.agents.play_remote import play_remote

    if bot.startswith("policy:"):  # a learned policy from a checkpoint directory (needs torch)
        from fraudarena.agents import neural_policy

        neural_policy.register()
    if not (new or match or all_roles or queue):
        console.print("[red]error:[/red] give --match ID --token T, --new, --queue, or --all-roles")
        raise typer.Exit(2)
    finals = play_remote(url, role, match_id=match, token=token, new=new, task_id=task, seed=seed, bot=bot,
                         all_roles=all_roles, house_bots=None if house_bots == "none" else house_bots, queue=queue)
    _print_remote_result(finals)


@app.command("train")
def train(
    config: Annotated[str | None, typer.Option(help="training config file (YAML or JSON)")] = None,
    workers: Annotated[int | None, typer.Option(help="rollout workers")] = None,
    matches_per_worker: Annotated[int | None, typer.Option(help="parallel matches per worker")] = None,
    minutes: Annotated[float | None, typer.Option(help="wall-clock budget")] = None,
    iterations: Annotated[int | None, typer.Option(help="iteration budget")] = None,
    address: Annotated[str | None, typer.Option(help="Ray address (auto = running cluster); default: local")] = None,
    run_name: Annotated[str | None, typer.Option(help="run directory name")] = None,
    runs_dir: Annotated[str | None, typer.Option(help="where run directories go")] = None,
    resume: Annotated[str | None, typer.Option(help="checkpoint directory to resume from")] = None,
) -> None:
    """Self-play PPO training on Ray: rollout workers, a learner, a league; TensorBoard logs + checkpoints."""
    from fraudarena.cluster.trainer import train_command

    summary = train_command(config=config, workers=workers, matches_per_worker=matches_per_worker,
                            minutes=minutes, iterations=iterations, address=address, run_name=run_name,
                            runs_dir=runs_dir, resume=resume)
    console.print(summary)


@app.command("eval")
def evaluate(
    checkpoint: Annotated[str, typer.Option(help="checkpoint directory")],
    tasks: Annotated[str, typer.Option(help="comma-separated task ids")] = "task_3_unseen",
    seeds: Annotated[str, typer.Option(help="held-out seed range")] = "4000-4199",
    out: Annotated[str | None, typer.Option(help="output directory (default: the run directory)")] = None,
) -> None:
    """Evaluate learned policies against the scripted bots and each other; prints a table, writes a PNG."""
    from fraudarena.agents.eval_cli import eval_command

    eval_command(checkpoint, tasks=tasks, seeds=seeds, out=out)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
