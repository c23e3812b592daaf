"""``fraudarena eval``: learned policies against the scripted bots and each other on held-out seeds.

Matchups (Fraudster vs Investigator), all on the same task/seed list so differences are paired:

* ``reactive`` vs ``scripted``  (the baseline: ReactiveFraudster vs ScriptedInvestigator)
* ``reactive`` vs ``learned``   (learned Investigator)
* ``learned``  vs ``scripted``  (learned Fraudster)
* ``learned``  vs ``learned``

The Auditor is always the HeuristicAuditor; bots are seeded as in ``play_match`` (``bot_seed``) and
learned policies act greedily (argmax). Matches are stepped in a vectorised
:class:`~fraudarena.agents.rl.runner.SelfPlayRunner`. The table shows the mean grader score and mean
reward per role with 95% confidence intervals (normal approximation, t-quantile 1.96), plus the paired
differences the training targets are stated in. A PNG shows the run's training curves (from
``metrics.jsonl`` next to the checkpoint) and the evaluation bars.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from fraudarena.agents.rl.neural_policy import load_model, read_meta
from fraudarena.agents.rl.ratings import Elo, investigator_score
from fraudarena.agents.rl.runner import Seat, SelfPlayRunner, _make_bot
from fraudarena.agents.tournament import parse_seeds

MATCHUPS: tuple[tuple[str, str], ...] = (
    ("reactive", "scripted"), ("reactive", "learned"), ("learned", "scripted"), ("learned", "learned"),
)


def mean_ci(xs: list[float] | np.ndarray) -> tuple[float, float]:
    """(mean, half-width of the 95% normal CI)."""
    a = np.asarray(xs, dtype=float)
    if len(a) == 0:
        return float("nan"), float("nan")
    if len(a) == 1:
        return float(a[0]), float("nan")
    return float(a.mean()), float(1.96 * a.std(ddof=1) / math.sqrt(len(a)))


def play_matchup(fraudster: str, investigator: str, tasks: list[str], seeds: list[int],
                 weights: dict[str, dict], hidden: int, parallel: int = 256) -> list[dict[str, Any]]:
    """Play every (task, seed) once with the given seats; returns per-match rows in (task, seed) order."""
    pairs = [(t, s) for t in tasks for s in seeds]
    it = iter(pairs)
    runner = SelfPlayRunner(min(parallel, len(pairs)), tuple(tasks), 0, (), hidden=hidden, shaped_credit=False)
    runner.set_weights({"live": weights} if weights else {})
    runner.set_mode("eval")
    runner.greedy = True
    runner.seed_source = lambda: next(it, None)

    def seat(role: str, name: str, seed: int) -> Seat:
        if name == "learned":
            return Seat(name="learned", policy="live")
        return Seat(name=f"bot:{name}", bot=_make_bot(name, role, seed))

    runner.fixed_seats = lambda seeds_: {
        "fraudster": seat("fraudster", fraudster, seeds_["fraudster"]),
        "investigator": seat("investigator", investigator, seeds_["investigator"]),
        "auditor": Seat(name="bot:heuristic", bot=_make_bot("heuristic", "auditor", seeds_["auditor"])),
    }
    res = runner.run(None)
    rows = [{"task_id": m.task_id, "seed": m.seed, "grader": m.grader, **{f"r_{k}": v for k, v in m.rewards.items()}}
            for m in res.results]
    rows.sort(key=lambda r: (r["task_id"], r["seed"]))
    return rows


def evaluate(checkpoint: str, tasks: list[str], seeds: list[int], parallel: int = 256) -> dict[str, Any]:
    """Play all matchups; returns {"matchups": {...}, "paired": {...}, "elo": {...}, "seconds"}."""
    meta = read_meta(checkpoint)
    hidden = int(meta["config"].get("hidden", 64))
    weights = {role: load_model(checkpoint, role).state_dict() for role in meta["roles"]}
    t0 = time.perf_counter()
    out: dict[str, Any] = {"matchups": {}, "checkpoint": str(checkpoint), "tasks": tasks,
                           "n_seeds": len(seeds)}
    raw: dict[tuple[str, str], list[dict]] = {}
    for f, i in MATCHUPS:
        if (f == "learned" and "fraudster" not in weights) or (i == "learned" and "investigator" not in weights):
            continue
        rows = play_matchup(f, i, tasks, seeds, weights, hidden, parallel)
        raw[(f, i)] = rows
        out["matchups"][f"{f} vs {i}"] = {
            "n": len(rows),
            "grader": mean_ci([r["grader"] for r in rows]),
            "investigator": mean_ci([r["r_investigator"] for r in rows]),
            "fraudster": mean_ci([r["r_fraudster"] for r in rows]),
            "auditor": mean_ci([r["r_auditor"] for r in rows]),
        }
    paired: dict[str, Any] = {}
    base = raw.get(("reactive", "scripted"))
    if base and ("reactive", "learned") in raw:
        d = [a["grader"] - b["grader"] for a, b in zip(raw[("reactive", "learned")], base, strict=True)]
        paired["investigator grader: learned − scripted (vs reactive)"] = mean_ci(d)
    if base and ("learned", "scripted") in raw:
        d = [a["r_fraudster"] - b["r_fraudster"] for a, b in zip(raw[("learned", "scripted")], base, strict=True)]
        paired["fraudster reward: learned − reactive (vs scripted)"] = mean_ci(d)
    out["paired"] = paired
    elo = Elo(k=8)
    for (f, i), rows in raw.items():
        for r in rows:
            elo.update(f, i, investigator_score({"fraudster": r["r_fraudster"], "investigator": r["r_investigator"]}))
    out["elo"] = {k: round(v, 1) for k, v, _ in elo.table()}
    out["seconds"] = time.perf_counter() - t0
    return out


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of an :func:`evaluate` result."""

    def f(mc: tuple[float, float]) -> str:
        return f"{mc[0]:+.3f} ± {mc[1]:.3f}"

    lines = [f"{'fraudster vs investigator':28} {'n':>5}  {'grader':>15}  {'inv reward':>15}  {'fraud reward':>15}"]
    for name, m in result["matchups"].items():
        lines.append(f"{name:28} {m['n']:>5}  {f(m['grader']):>15}  {f(m['investigator']):>15}  "
                     f"{f(m['fraudster']):>15}")
    for name, mc in result.get("paired", {}).items():
        lo, hi = mc[0] - mc[1], mc[0] + mc[1]
        lines.append(f"paired {name}: {f(mc)}  (95% CI [{lo:+.3f}, {hi:+.3f}])")
    if result.get("elo"):
        lines.append("Elo: " + ", ".join(f"{k} {v}" for k, v in result["elo"].items()))
    return "\n".join(lines)


def figure(result: dict[str, Any], metrics_file: Path | None) -> Any:
    """The evaluation figure (a matplotlib ``Figure``, Agg backend): three labelled panels.

    Left and middle: the Investigator's and the Fraudster's training curves from ``metrics.jsonl`` (if
    ``metrics_file`` exists) against the iteration; right: the evaluation's mean grader score and
    Fraudster reward per matchup with 95% CIs.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    hist: list[dict] = []
    if metrics_file is not None and metrics_file.exists():
        hist = [json.loads(line) for line in metrics_file.read_text().splitlines() if line.strip()]
    ax = axes[0]
    for key, label in (("investigator/grader_vs_scripted", "learned inv grader vs reactive"),
                       ("investigator/reward", "inv reward (live)"), ("teacher/grader", "teacher grader (BC)")):
        pts = [(h["iteration"], h[key]) for h in hist if h.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=label)
    ax.set_title("Investigator during training")
    ax.set_xlabel("training iteration")
    ax.set_ylabel("grader score / reward (mean per iteration)")
    _legend(ax)
    ax = axes[1]
    for key, label in (("fraudster/reward_vs_scripted", "learned fraud reward vs scripted inv"),
                       ("fraudster/reward", "fraud reward (live)"),
                       ("teacher/fraudster_reward", "teacher fraud reward (BC)")):
        pts = [(h["iteration"], h[key]) for h in hist if h.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=label)
    ax.set_title("Fraudster during training")
    ax.set_xlabel("training iteration")
    ax.set_ylabel("Fraudster reward (mean per iteration)")
    _legend(ax)
    ax = axes[2]
    names = list(result["matchups"])
    x = np.arange(len(names))
    for k, (key, label) in enumerate((("grader", "grader"), ("fraudster", "fraudster reward"))):
        means = [result["matchups"][n][key][0] for n in names]
        errs = [result["matchups"][n][key][1] for n in names]
        ax.bar(x + (k - 0.5) * 0.38, means, 0.38, yerr=errs, capsize=3, label=label)
    ax.set_xticks(x, names, rotation=20, fontsize=8)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_title(f"Evaluation on {', '.join(result['tasks'])} ({result['n_seeds']} seeds, 95% CI)")
    ax.set_xlabel("matchup (fraudster vs investigator)")
    ax.set_ylabel("mean over matches (±95% CI)")
    _legend(ax)
    fig.tight_layout()
    return fig


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[0]:  # an empty legend only warns
        ax.legend(fontsize=8)


def plot(result: dict[str, Any], metrics_file: Path | None, out_png: Path) -> Path:
    """Write :func:`figure` as a PNG to ``out_png``; returns the path."""
    fig = figure(result, metrics_file)  # selects the Agg backend before pyplot is imported here
    import matplotlib.pyplot as plt

    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def eval_command(checkpoint: str, tasks: str = "task_3_unseen", seeds: str = "4000-4199",
                 out: str | None = None, parallel: int = 256) -> dict[str, Any]:
    """Evaluate a checkpoint; prints the table, writes ``eval.json`` and ``eval.png`` (into ``out`` or the
    checkpoint's run directory) and returns the result dict (with ``png`` and ``json`` paths)."""
    ckpt = Path(checkpoint)
    task_list = [t.strip() for t in tasks.split(",") if t.strip()]
    result = evaluate(str(ckpt), task_list, parse_seeds(seeds), parallel)
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt
    out_dir = Path(out) if out else run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    png = plot(result, run_dir / "metrics.jsonl", out_dir / "eval.png")
    result["png"] = str(png)
    (out_dir / "eval.json").write_text(json.dumps(result, indent=1))
    result["json"] = str(out_dir / "eval.json")
    print(format_table(result))
    print(f"plot: {png}")
    return result
