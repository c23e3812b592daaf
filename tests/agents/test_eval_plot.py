"""The evaluation figure (``fraudarena eval``'s eval.png): every panel has a title and both axis labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from fraudarena.agents.rl.evaluate import figure, plot

RESULT = {
    "tasks": ["task_1"], "n_seeds": 3,
    "matchups": {"reactive vs scripted": {"n": 3, "grader": (0.4, 0.1), "investigator": (0.4, 0.1),
                                          "fraudster": (-0.05, 0.02), "auditor": (1.0, 0.0)},
                 "reactive vs learned": {"n": 3, "grader": (0.3, 0.1), "investigator": (0.3, 0.1),
                                         "fraudster": (0.01, 0.03), "auditor": (1.0, 0.0)}},
}


def _metrics(tmp_path: Path) -> Path:
    rows = [{"iteration": 1, "bc": 1.0, "teacher/grader": 0.4, "teacher/fraudster_reward": -0.1},
            {"iteration": 2, "bc": 0.0, "investigator/reward": 0.1, "investigator/grader_vs_scripted": 0.2,
             "fraudster/reward": 0.05, "fraudster/reward_vs_scripted": 0.0}]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("with_metrics", [True, False])
def test_every_panel_has_axis_labels(tmp_path: Path, with_metrics: bool) -> None:
    import matplotlib.pyplot as plt

    fig = figure(RESULT, _metrics(tmp_path) if with_metrics else None)
    try:
        assert len(fig.axes) == 3
        for ax in fig.axes:
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), ax.get_title()
    finally:
        plt.close(fig)


def test_plot_writes_the_png(tmp_path: Path) -> None:
    out = plot(RESULT, _metrics(tmp_path), tmp_path / "out" / "eval.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
