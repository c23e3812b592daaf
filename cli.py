"""The ``fraudarena`` command line: one console script for players, researchers and operators.

Commands import their heavy dependencies (Ray, torch, FastAPI) lazily, so ``fraudarena arena ...``
starts fast and works with the base install. Every command reports a failure as one ``error: ...`` line
on stderr and a non-zero exit status (2 for a bad option, 1 for anything else); set
``FRAUDARENA_DEBUG=1`` to see the traceback of an unexpected error instead.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fraudarena.agents import known_kinds, make_bot
from fraudarena.arena import TASK_IDS

app = typer.Typer(help="FraudArena: a self-play arena for an adversarial ad-fraud review game.",
                  no_args_is_help=True, add_completion=False)
arena_app = typer.Typer(help="Play matches in-process (no server needed).", no_args_is_help=True)
app.add_typer(arena_app, name="arena")

console = Console()
err_console = Console(stderr=True)

ROLES = ("fraudster", "investigator", "auditor")
FRAUDSTER_KINDS = ("reactive", "camouflage", "random")
INVESTIGATOR_KINDS = ("scripted", "surface_only", "random", "do_nothing", "reject_all", "escalate_all")
USAGE_ERROR = 2
"""Exit status for a bad option value (as click's own usage errors); runtime failures exit 1."""


def bot_kinds(role: str) -> list[str]:
    """The built-in bot kinds that can play ``role``, read from the bot registry (``agents.known_kinds``)."""
    kinds = []
    for kind in known_kinds():
        if kind.endswith("*"):  # a registered prefix such as policy:<checkpoint>
            continue
        try:
            make_bot(kind, role, 0)
        except ValueError:
            continue
        kinds.append(kind)
    return kinds


# Comma-separated (not "a|b|c") so that rich can wrap long lists in --help instead of cutting them.
TASKS_HELP = ", ".join(TASK_IDS)
KINDS_HELP = {role: ", ".join(bot_kinds(role)) for role in ROLES}
LEARNED_KINDS_HELP = "policy:<checkpoint dir>, llm:<model>, rllib:<RLModule dir>"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    one_line = " ".join(message.split())
    err_console.print(f"[red]error:[/red] {escape(one_line)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _check_tasks(task_ids: list[str]) -> None:
    unknown = [t for t in task_ids if t not in TASK_IDS]
    if unknown or not task_ids:
        fail(f"unknown task ids {unknown}; known: {', '.join(TASK_IDS)}", USAGE_ERROR)


def _check_kind(kind: str, role: str) -> None:
    if kind.startswith("policy:"):  # checked when the checkpoint is loaded
        return
    if kind.startswith("rllib:"):  # an RLlib RLModule (needs the rllib extra); loaded when first played
        try:
            from fraudarena.cluster import rllib_env
        except ImportError as exc:
            fail(f"{kind} needs RLlib: pip install 'fraudarena[rllib]' ({exc})", USAGE_ERROR)
        rllib_env.register()
        return
    try:
        make_bot(kind, role, 0)
    except ValueError:
        what = f"bot {kind!r} does not play {role}" if kind in known_kinds() else f"unknown {role} bot {kind!r}"
        fail(f"{what}; {role} bots: {', '.join(bot_kinds(role))} (or {LEARNED_KINDS_HELP})", USAGE_ERROR)


def _parse_seeds(spec: str) -> list[int]:
    from fraudarena.agents.tournament import parse_seeds

    try:
        return parse_seeds(spec)
    except ValueError as exc:
        fail(str(exc), USAGE_ERROR)


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
    task: Annotated[str, typer.Option(help=f"task id: {TASKS_HELP}")] = "task_1",
    seed: Annotated[int, typer.Option(help="match seed")] = 0,
    fraudster: Annotated[str, typer.Option(help=f"fraudster bot: {KINDS_HELP['fraudster']}")] = "reactive",
    investigator: Annotated[str, typer.Option(help=f"investigator bot: {KINDS_HELP['investigator']}, "
                                                   "policy:<checkpoint dir>")] = "scripted",
    auditor: Annotated[str, typer.Option(help=f"auditor bot: {KINDS_HELP['auditor']}")] = "heuristic",
    as_json: Annotated[bool, typer.Option("--json", help="print the match record as canonical JSON")] = False,
) -> None:
    """Play one match with bots and print its record (or a readable summary)."""
    from fraudarena.agents import play_match
    from fraudarena.arena import ArenaError, record_json

    try:
        rec = play_match(task, seed, fraudster=fraudster, investigator=investigator, auditor=auditor)
    except (ArenaError, ValueError) as exc:
        fail(str(exc), USAGE_ERROR)
    if as_json:
        sys.stdout.write(record_json(rec) + "\n")
    else:
        _summary(rec)


class _TournamentProgress:
    """Tournament progress on stderr: a rich bar on a terminal, one plain line per pairing otherwise."""

    def __init__(self, total_matches: int, per_pairing: int) -> None:
        self.total = total_matches
        self.per_pairing = per_pairing
        self.done = 0
        self.progress: Any = None
        if err_console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=err_console, transient=True)
            self.task = self.progress.add_task("tournament", total=total_matches)
            self.progress.start()

    def __call__(self, pairing: Any) -> None:
        self.done += 1
        label = f"{pairing.task_id} {pairing.fraudster} vs {pairing.investigator}"
        if self.progress is not None:
            self.progress.update(self.task, completed=self.done, description=label)
        elif pairing.n == self.per_pairing:
            err_console.print(f"tournament: {self.done}/{self.total} matches ({label} done)", soft_wrap=True,
                              highlight=False)

    def close(self) -> None:
        """Remove the bar (plain lines stay)."""
        if self.progress is not None:
            self.progress.stop()


@arena_app.command("tournament")
def arena_tournament(
    tasks: Annotated[str, typer.Option(help=f"comma-separated task ids ({TASKS_HELP}), or 'all'")] = "all",
    seeds: Annotated[str, typer.Option(help="seeds, e.g. 0-199 or 1,2,5-9")] = "0-49",
    fraudsters: Annotated[str, typer.Option(help=f"comma-separated fraudster bots ({KINDS_HELP['fraudster']})",
                                            show_default=", ".join(FRAUDSTER_KINDS))] = ",".join(FRAUDSTER_KINDS),
    investigators: Annotated[str, typer.Option(
        help=f"comma-separated investigator bots ({KINDS_HELP['investigator']})",
        show_default=", ".join(INVESTIGATOR_KINDS))] = ",".join(INVESTIGATOR_KINDS),
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON")] = False,
) -> None:
    """Every fraudster bot against every investigator bot; mean grader score and rewards per task.

    Progress goes to stderr (a bar on a terminal, a line per pairing when piped); results to stdout.
    """
    from fraudarena.agents.tournament import run_tournament

    task_ids = list(TASK_IDS) if tasks == "all" else [t.strip() for t in tasks.split(",") if t.strip()]
    _check_tasks(task_ids)
    seed_list = _parse_seeds(seeds)
    fraudster_list = [k.strip() for k in fraudsters.split(",") if k.strip()]
    investigator_list = [k.strip() for k in investigators.split(",") if k.strip()]
    for kind in fraudster_list:
        _check_kind(kind, "fraudster")
    for kind in investigator_list:
        _check_kind(kind, "investigator")
    if not fraudster_list or not investigator_list:
        fail("give at least one fraudster and one investigator bot", USAGE_ERROR)
    progress = _TournamentProgress(len(task_ids) * len(fraudster_list) * len(investigator_list) * len(seed_list),
                                   len(seed_list))
    try:
        results = run_tournament(task_ids, seed_list, fraudster_list, investigator_list, on_match=progress)
    finally:
        progress.close()
    if as_json:
        print(json.dumps([{
            "task_id": r.task_id, "fraudster": r.fraudster, "investigator": r.investigator, "n": r.n,
            "grader": r.mean(r.grader), "grader_ci95": r.ci95(r.grader),
            "rewards": {k: r.mean(v) for k, v in r.rewards.items()}, "end_reasons": r.end_reasons,
        } for r in results], indent=2))
        return
    # One table per task keeps every row on one line of an 80-column (or piped) terminal.
    for task_id in task_ids:
        table = Table(title=f"Tournament {task_id}: {len(seed_list)} seeds per pairing, heuristic auditor")
        for col in ("fraudster", "investigator", "grader ±95%", "R fraud", "R inv", "R aud"):
            table.add_column(col, justify="left" if col in ("fraudster", "investigator") else "right",
                             no_wrap=True)
        for r in (r for r in results if r.task_id == task_id):
            table.add_row(r.fraudster, r.investigator, _mean_ci(r.mean(r.grader), r.ci95(r.grader)),
                          f"{r.mean(r.rewards['fraudster']):+.3f}", f"{r.mean(r.rewards['investigator']):+.3f}",
                          f"{r.mean(r.rewards['auditor']):.3f}")
        console.print(table)


def _mean_ci(mean: float, half_width: float) -> str:
    """``0.575±0.275``, or just the mean when there is no interval (a single seed)."""
    return f"{mean:.3f}" if math.isnan(half_width) else f"{mean:.3f}±{half_width:.3f}"


@app.command("serve")
def serve(
    config: Annotated[str | None, typer.Option(help="Serve config (default: the packaged ray_config.yaml)")] = None,
    host: Annotated[str | None, typer.Option(help="HTTP host (default from the config)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default from the config)")] = None,
    address: Annotated[str | None, typer.Option(help="join a running Ray cluster (e.g. auto) instead of "
                                                     "starting a local one")] = None,
    proxy: Annotated[str, typer.Option(help="ingress for the embedded cluster: haproxy|default")] = "haproxy",
    num_cpus: Annotated[int | None, typer.Option(help="CPUs for the embedded Ray (default: Ray's choice)")] = None,
    demo: Annotated[bool, typer.Option(help="once up, play a demo match over WebSockets: a scripted "
                                            "Investigator against the house bots")] = True,
    archive: Annotated[str | None, typer.Option(help="SQLite file of finished matches (default: the config's "
                                                     "archive_path, ~/.fraudarena/archive.sqlite3)")] = None,
) -> None:
    """Start the served arena: a local Ray (or --address), the Serve app from ray_config.yaml; Ctrl-C stops."""
    import threading

    from fraudarena.serve.launcher import serve_command

    if proxy not in ("haproxy", "default"):
        fail(f"--proxy must be haproxy or default, not {proxy!r}", USAGE_ERROR)
    if config is not None and not Path(config).is_file():
        fail(f"no config file {config}", USAGE_ERROR)
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
            console.print(f"[yellow]demo match failed:[/yellow] {escape(str(exc))}")
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
                  f"grader {rec['grader']['score']:.3f}", soft_wrap=True)
    console.print("rewards: " + ", ".join(f"{k} {v:+.3f}" for k, v in rec["rewards"].items())
                  + f" (played here: {', '.join(finals)})", soft_wrap=True)


@app.command("deploy")
def deploy(
    config: Annotated[str | None, typer.Option(help="Serve config (default: the packaged ray_config.yaml)")] = None,
    dashboard: Annotated[str | None, typer.Option(help="dashboard address (default: serve's own default)")] = None,
) -> None:
    """`serve deploy` the arena onto a running `ray start --head` cluster (handles the token-auth trap)."""
    from fraudarena.serve.launcher import deploy_config

    if config is not None and not Path(config).is_file():
        fail(f"no config file {config}", USAGE_ERROR)
    code = deploy_config(config=config, dashboard_address=dashboard)
    if code:
        fail(f"serve deploy failed (exit status {code}); is `ray start --head` running?", code)


@app.command("stop")
def stop(
    address: Annotated[str, typer.Option(help="Ray cluster address")] = "auto",
    instance: Annotated[str, typer.Option(help="arena instance name (ray_config.yaml args.instance)")] = "default",
) -> None:
    """Release an arena's detached actors (they survive `serve shutdown`); the archive stays on disk."""
    from fraudarena.serve.launcher import stop_arena

    try:
        stop_arena(address=address, instance=instance)
    except ConnectionError as exc:
        fail(f"no Ray cluster at {address}: {exc}")


@app.command("play")
def play(
    url: Annotated[str, typer.Option(help="server base URL")] = "ws://127.0.0.1:8000",
    role: Annotated[str, typer.Option(help="|".join(ROLES))] = "investigator",
    match: Annotated[str | None, typer.Option("--match", help="match id to join")] = None,
    token: Annotated[str | None, typer.Option(help="seat token for --match")] = None,
    new: Annotated[bool, typer.Option("--new", help="create a new match (other seats: house bots)")] = False,
    task: Annotated[str, typer.Option(help=f"task id for --new / --queue: {TASKS_HELP}")] = "task_1",
    seed: Annotated[int | None, typer.Option(help="seed for --new (default: server-drawn)")] = None,
    bot: Annotated[str, typer.Option(help="bot that plays the seat (by --role): " + "; ".join(
        f"{r}: {k}" for r, k in KINDS_HELP.items()) + "; any role: " + LEARNED_KINDS_HELP)
                     ] = "scripted",
    llm_url: Annotated[str | None, typer.Option(help="for --bot llm:<model>: the OpenAI-compatible base URL "
                                                     "(default $FRAUDARENA_LLM_URL or http://127.0.0.1:8080/v1)")
                       ] = None,
    all_roles: Annotated[bool, typer.Option("--all-roles", help="play all three seats over three sockets")] = False,
    house_bots: Annotated[str, typer.Option(help="with --new: who plays the other seats (scripted|random|none)")
                          ] = "scripted",
    queue: Annotated[bool, typer.Option("--queue", help="take a seat through the server's matchmaking queue")
                     ] = False,
    queue_wait: Annotated[float, typer.Option(help="with --queue: give up after this many seconds")] = 600.0,
) -> None:
    """Play one seat of a live match over WebSockets with a bot (or all three seats with --all-roles)."""
    from fraudarena.agents.client import CannotConnect, ServerError
    from fraudarena.agents.play_remote import play_remote

    if not (new or match or all_roles or queue):
        fail("give --match ID --token T, --new, --queue, or --all-roles", USAGE_ERROR)
    if role not in ROLES:
        fail(f"unknown role {role!r}; roles: {', '.join(ROLES)}", USAGE_ERROR)
    _check_tasks([task])
    if house_bots not in ("scripted", "random", "none"):
        fail(f"--house-bots must be scripted, random or none, not {house_bots!r}", USAGE_ERROR)
    if llm_url:  # read by the llm: bot kind (agents.llm)
        os.environ["FRAUDARENA_LLM_URL"] = llm_url
    for r in (ROLES if all_roles else (role,)):
        _check_kind(bot, r)
    if bot.startswith(("policy:", "rllib:")):  # a learned policy from a checkpoint directory (needs torch)
        from fraudarena.agents.rl import neural_policy

        neural_policy.register()
        try:
            for r in (ROLES if all_roles else (role,)):
                make_bot(bot, r, 0)
        except (OSError, ValueError) as exc:
            fail(f"cannot load {bot}: {exc}", USAGE_ERROR)
    try:
        finals = play_remote(url, role, match_id=match, token=token, new=new, task_id=task, seed=seed, bot=bot,
                             all_roles=all_roles, house_bots=None if house_bots == "none" else house_bots,
                             queue=queue, queue_wait_s=queue_wait)
    except CannotConnect as exc:
        hint = " — is `fraudarena serve` running?" if exc.refused else ""
        fail(f"cannot connect to {exc.base_url}: {exc.reason}{hint}")
    except ServerError as exc:
        fail(f"the server answered {exc.code}: {exc.message}")
    except TimeoutError:
        fail(f"no seat within {queue_wait:g} s in the queue" if queue else "the server stopped answering")
    _print_remote_result(finals)


def _train_defaults() -> Any:
    from fraudarena.agents.rl.config import TrainConfig

    return TrainConfig()


_TRAIN = _train_defaults()


@app.command("train")
def train(
    config: Annotated[str | None, typer.Option(help="training config file (JSON or TOML); options below "
                                                    "override it")] = None,
    workers: Annotated[int | None, typer.Option(help=f"rollout workers, 0 = no Ray (default: {_TRAIN.num_workers})")
                       ] = None,
    matches_per_worker: Annotated[int | None, typer.Option(
        help=f"parallel matches per worker (default: {_TRAIN.matches_per_worker})")] = None,
    minutes: Annotated[float | None, typer.Option(help="wall-clock budget; the run stops at this or --iterations, "
                                                       "whichever comes first (default: none)")] = None,
    iterations: Annotated[int | None, typer.Option(help=f"iteration budget (default: {_TRAIN.iterations})")
                          ] = None,
    address: Annotated[str | None, typer.Option(help="Ray address (auto = running cluster; default: a "
                                                     "local Ray)")] = None,
    run_name: Annotated[str | None, typer.Option(
        help="run directory name (default: a new selfplay-YYYYmmdd-HHMMSS; with --resume, the checkpoint's run)")
                        ] = None,
    runs_dir: Annotated[str | None, typer.Option(help=f"where run directories go (default: {_TRAIN.runs_dir})")
                        ] = None,
    resume: Annotated[str | None, typer.Option(help="checkpoint directory to resume from, e.g. "
                                                    "runs/<run>/checkpoints/latest")] = None,
    engine: Annotated[str | None, typer.Option(
        help=f"rollout engine for PPO: core (the batched rules core) or python (RefereeEnvironment objects) "
             f"(default: {_TRAIN.engine})")] = None,
) -> None:
    """Self-play PPO training on Ray: rollout workers, a learner, a league; TensorBoard logs + checkpoints."""
    from fraudarena.agents.rl.config import TrainConfig, unique_run_name

    try:
        file_cfg = TrainConfig.load(config) if config else TrainConfig()
    except (OSError, ValueError, TypeError) as exc:
        fail(f"cannot read training config {config}: {exc}", USAGE_ERROR)
    if resume is not None and not (Path(resume) / "learner.pt").is_file():
        fail(f"no resumable checkpoint at {resume} (expected runs/<run>/checkpoints/latest)", USAGE_ERROR)
    if engine is not None and engine not in ("core", "python"):
        fail(f"unknown engine {engine!r}: expected core or python", USAGE_ERROR)
    if run_name is None and not file_cfg.run_name:
        ckpt = Path(resume) if resume else None
        if ckpt is not None and runs_dir is None and ckpt.parent.name == "checkpoints":  # continue that run
            run_name, runs_dir = ckpt.parent.parent.name, str(ckpt.parent.parent.parent)
        else:
            run_name = unique_run_name(runs_dir or file_cfg.runs_dir)
    run_dir = Path(runs_dir or file_cfg.runs_dir) / (run_name or file_cfg.run_name)
    console.print(f"run [bold]{escape(str(run_dir))}[/bold]: checkpoints in {escape(str(run_dir / 'checkpoints'))}"
                  f", curves: tensorboard --logdir {escape(str(run_dir.parent))}", soft_wrap=True, highlight=False)
    from fraudarena.cluster.train_job import train_command

    summary = train_command(config=config, workers=workers, matches_per_worker=matches_per_worker,
                            minutes=minutes, iterations=iterations, address=address, run_name=run_name,
                            runs_dir=runs_dir, resume=resume,
                            overrides={"engine": engine} if engine is not None else None)
    console.print(train_summary_table(summary))
    console.print(f"evaluate: fraudarena eval --checkpoint {escape(summary['checkpoint'])}", soft_wrap=True,
                  highlight=False)


def train_summary_table(summary: dict[str, Any]) -> Table:
    """The end-of-training summary (``Trainer.train``'s dict) as a two-column table."""
    last = summary.get("last") or {}
    seconds = float(summary.get("seconds", 0.0))
    table = Table(title="Training summary", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")  # long paths wrap whole instead of being cut
    new = summary.get("new_iterations")
    its = str(summary.get("iterations", 0))
    if new is not None and new != summary.get("iterations"):
        its += f" ({new} in this run)"
    rows: list[tuple[str, str]] = [
        ("run directory", str(summary.get("run_dir", ""))),
        ("checkpoint", str(summary.get("checkpoint", ""))),
        ("iterations", its),
        ("wall time", f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"),
        ("matches", f"{summary.get('matches', 0):,}"),
        ("env steps", f"{summary.get('env_steps', 0):,}"),
    ]
    if "archive" in summary:
        rows.append(("archive", "sampled matches sent to the served arena" if summary["archive"] else "off"))
    if last:
        rows.append(("last iteration", "behaviour cloning" if last.get("bc") else "PPO"))
    for key, label, fmt in (("env_steps_per_s", "env steps/s", "{:,.0f}"),
                            ("investigator/reward", "investigator reward", "{:+.3f}"),
                            ("fraudster/reward", "fraudster reward", "{:+.3f}"),
                            ("investigator/win_vs_scripted", "investigator wins vs scripted", "{:.1%}"),
                            ("fraudster/win_vs_scripted", "fraudster wins vs scripted", "{:.1%}"),
                            ("investigator/grader_vs_scripted", "investigator grader vs scripted", "{:.3f}"),
                            ("investigator/bc_acc", "investigator BC accuracy", "{:.1%}"),
                            ("fraudster/bc_acc", "fraudster BC accuracy", "{:.1%}"),
                            ("elo/investigator_live", "Elo investigator", "{:.0f}"),
                            ("elo/fraudster_live", "Elo fraudster", "{:.0f}")):
        value = last.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            rows.append((label, fmt.format(value)))
    for label, value in rows:
        table.add_row(label, escape(value))
    return table


@app.command("eval")
def evaluate(
    checkpoint: Annotated[str, typer.Option(help="checkpoint directory, e.g. runs/<run>/checkpoints/latest")],
    tasks: Annotated[str, typer.Option(help=f"comma-separated task ids: {TASKS_HELP}")] = "task_3_unseen",
    seeds: Annotated[str, typer.Option(help="held-out seeds, e.g. 4000-4199 or 1,2,5-9")] = "4000-4199",
    out: Annotated[str | None, typer.Option(help="output directory (default: the run directory)")] = None,
) -> None:
    """Evaluate learned policies against the scripted bots and each other; prints a table, writes a PNG."""
    task_list = [t.strip() for t in tasks.split(",") if t.strip()]
    _check_tasks(task_list)
    _parse_seeds(seeds)
    if not (Path(checkpoint) / "config.json").is_file():
        fail(f"no checkpoint at {checkpoint} (expected a directory like runs/<run>/checkpoints/latest)",
             USAGE_ERROR)
    from fraudarena.agents.rl.evaluate import eval_command

    try:
        eval_command(checkpoint, tasks=tasks, seeds=seeds, out=out)
    except (OSError, ValueError) as exc:
        fail(f"cannot evaluate {checkpoint}: {exc}")


@app.command("exploit")
def exploit(
    checkpoint: Annotated[str, typer.Option(help="checkpoint holding the target policy (runs/<run>/checkpoints/"
                                                 "iter_N), or house|scripted|reactive for the target role's "
                                                 "house bot")],
    target: Annotated[str, typer.Option(help="the frozen role: investigator|fraudster")],
    minutes: Annotated[float, typer.Option(help="wall-clock budget of the best response's training")] = 4.0,
    iterations: Annotated[int | None, typer.Option(help="iteration budget (default: until --minutes)")] = None,
    task: Annotated[str, typer.Option(help=f"training task: {TASKS_HELP}")] = "task_3",
    tasks: Annotated[str, typer.Option(help="held-out evaluation tasks")] = "task_3_unseen",
    seeds: Annotated[str, typer.Option(help="held-out evaluation seeds")] = "4000-4199",
    out: Annotated[str | None, typer.Option(help="run folder (default: runs/exploit-<target>-<time>)")] = None,
    runs_dir: Annotated[str, typer.Option(help="parent of the default run folder")] = "runs",
    workers: Annotated[int, typer.Option(help="Ray rollout workers, 0 = in-process")] = 0,
    config: Annotated[str | None, typer.Option(help="JSON/TOML file of TrainConfig overrides for the best "
                                                    "response")] = None,
    init: Annotated[list[str] | None, typer.Option(help="start the best response from this checkpoint's policy "
                                                        "of its role, or 'bc' (behaviour-cloned from its house "
                                                        "bot: the default); repeat it to train one best "
                                                        "response per start and keep the best")] = None,
    bc_iterations: Annotated[int | None, typer.Option(help="behaviour-cloning iterations first (default: 2 for "
                                                           "the 'bc' start, 0 from a checkpoint)")] = None,
) -> None:
    """Freeze a policy, train a best response against it, report its advantage over the house bots."""
    from fraudarena.agents.rl.exploit import ExploitError, rich_table, run_exploit

    _check_tasks([task, *[t.strip() for t in tasks.split(",") if t.strip()]])
    _parse_seeds(seeds)
    overrides: dict[str, Any] = {}
    if config:
        path = Path(config)
        try:
            import tomllib

            overrides = (tomllib.loads(path.read_text()) if path.suffix == ".toml"
                         else json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            fail(f"cannot read {config}: {exc}", USAGE_ERROR)
    collector_factory = None
    started = False
    if workers > 0:
        from fraudarena.cluster.rollout import RayCollector
        from fraudarena.cluster.train_job import init_ray

        started = init_ray(None, num_cpus=max(2, workers))
        collector_factory = RayCollector
    tty = sys.stderr.isatty()
    try:
        result = run_exploit(checkpoint, target, minutes=minutes, iterations=iterations, task=task,
                             eval_tasks=tasks, seeds=seeds, out=out, runs_dir=runs_dir, workers=workers,
                             init=init, bc_iterations=bc_iterations, collector_factory=collector_factory,
                             overrides=overrides, progress=tty,
                             log=None if tty else (lambda line: print(line, flush=True)))
    except ExploitError as exc:
        fail(str(exc), USAGE_ERROR)
    finally:
        if started:
            import ray

            ray.shutdown()
    console.print(rich_table(result))
    console.print(f"run folder {escape(result['run_dir'])}: exploit.json, exploit.png", soft_wrap=True,
                  highlight=False)


def main() -> None:
    """Console-script entry point: an unexpected error is one ``error:`` line and exit status 1."""
    try:
        app()
    except Exception as exc:  # the commands report expected errors themselves; this is the last resort
        if os.environ.get("FRAUDARENA_DEBUG"):
            raise
        message = " ".join(str(exc).split())  # one line, even for multi-line messages (YAML errors, Ray's)
        err_console.print(f"[red]error:[/red] {escape(type(exc).__name__)}: {escape(message)} "
                          "(FRAUDARENA_DEBUG=1 shows the traceback)", soft_wrap=True, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
