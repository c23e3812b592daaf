"""Learning curves of training runs against wall-clock minutes, on one figure (one line per run).

Reads each run's ``metrics.jsonl`` (``fraudarena train`` writes one line per iteration) and plots, against
the cumulative iteration time, the live policies' reward and grader against the house bots and the rollout
throughput. Usage::

    python benchmarks/plot_runs.py runs/A runs/B --labels "core engine" "python engine" --out docs/img/runs.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PANELS = (
    ("investigator/grader_vs_scripted", "Investigator grader vs ReactiveFraudster"),
    ("investigator/reward_vs_scripted", "Investigator reward vs ReactiveFraudster"),
    ("fraudster/reward_vs_scripted", "Fraudster reward vs ScriptedInvestigator"),
    ("env_steps_per_s", "rollout env steps/s"),
)


def load(run: Path) -> list[dict]:
    """The run's iterations with a ``minutes`` field (cumulative wall-clock minutes at the iteration's end)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    t = 0.0
    for r in rows:
        t += float(r.get("iteration_s", 0.0))
        r["minutes"] = t / 60.0
    return rows


def smooth(values: list[float], k: int = 5) -> list[float]:
    """Trailing mean over ``k`` points (iterations are noisy)."""
    return [sum(values[max(0, i - k + 1): i + 1]) / len(values[max(0, i - k + 1): i + 1]) for i in range(len(values))]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--labels", nargs="*")
    p.add_argument("--out", type=Path, default=Path("runs.png"))
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = args.labels or [r.name for r in args.runs]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 4))
    for run, label in zip(args.runs, labels, strict=True):
        rows = load(run)
        for ax, (key, title) in zip(axes, PANELS, strict=True):
            pts = [(r["minutes"], float(r[key])) for r in rows if key in r and not r.get("bc")]
            if pts:
                ax.plot([x for x, _ in pts], smooth([y for _, y in pts]), label=label)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("wall-clock minutes")
            ax.set_ylabel(key.split("/")[-1].replace("_", " "))
    axes[0].legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
