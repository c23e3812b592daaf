"""The task grader (docs/rules.md §10.1) and the episode rewards (§10.3).

Both are pure functions of plain match data. Sums run over the published queue in ascending ``ad_id``
order and over verdicts in action order (the implementation's fixed summation order, §11.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .spec import CORRECT_VERDICT, GRADER_MATRIX, VERDICTS, TaskSpec

CAL_BINS: tuple[tuple[float, float], ...] = ((0.0, 0.4), (0.4, 0.7), (0.7, 1.0))


def matrix_value(verdict: str, label: str, severity: float) -> float:
    """M(verdict, label) with the severity bonus for rejecting fraud."""
    value = GRADER_MATRIX[verdict][label]
    if verdict == "reject" and label == "fraud":
        value += 0.1 * severity
    return value


def calibration_bin(confidence: float) -> int:
    """Index of the §10.1 calibration bin holding ``confidence`` ([0,.4), [.4,.7), [.7,1])."""
    if confidence < 0.4:
        return 0
    if confidence < 0.7:
        return 1
    return 2


def expected_calibration_error(verdicts: Sequence[tuple[float, bool]]) -> float:
    """Count-weighted ECE over the three bins; ``verdicts`` = (confidence, correct) pairs."""
    n = len(verdicts)
    if n == 0:
        return 0.0
    sums = [[0, 0.0, 0] for _ in CAL_BINS]  # count, confidence sum, correct count
    for conf, ok in verdicts:
        b = sums[calibration_bin(conf)]
        b[0] += 1
        b[1] += conf
        b[2] += int(ok)
    ece = 0.0
    for count, conf_sum, correct in sums:
        if count:
            ece += (count / n) * abs(conf_sum / count - correct / count)
    return ece


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


@dataclass(frozen=True, slots=True)
class GradedAd:
    """What the grader needs of one published ad."""

    ad_id: str
    label: str
    severity: float
    verdict: str  # final verdict, auto-approvals included


@dataclass(frozen=True, slots=True)
class ManualVerdict:
    """One accepted manual verdict, in action order."""

    ad_id: str
    verdict: str
    confidence: float
    label: str


def grade(task: TaskSpec, queue: Sequence[GradedAd], verdicts: Sequence[ManualVerdict], n_investigate: int,
          used: int, links: Sequence[tuple[str, str]], ring_of: dict[str, str],
          ring_sizes: Sequence[int]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the §10.1 grader. Returns (grader dict, per-link credit rows for the record)."""
    sum_m = 0.0
    best = 0.0
    by_verdict = dict.fromkeys(VERDICTS, 0.0)
    for ad in queue:
        sum_m += matrix_value(ad.verdict, ad.label, ad.severity)
        values = [matrix_value(v, ad.label, ad.severity) for v in VERDICTS]
        best += max(values)
        for v, x in zip(VERDICTS, values, strict=True):
            by_verdict[v] += x
    baseline = max(by_verdict[v] for v in VERDICTS)
    correct = sum(1 for v in verdicts if CORRECT_VERDICT[v.label] == v.verdict)
    eff = correct / max(1, used)
    terms: dict[str, float] = {
        "matrix": sum_m,
        "investigation_cost": -0.01 * n_investigate,
        "efficiency": 0.2 * eff,
    }
    raw = sum_m - 0.01 * n_investigate + 0.2 * eff
    best += 0.2
    if task.calibration_term:
        if len(verdicts) < 3:
            cal = 0.5
        else:
            ece = expected_calibration_error(
                [(v.confidence, CORRECT_VERDICT[v.label] == v.verdict) for v in verdicts])
            cal = max(0.0, 1.0 - 2.0 * ece)
        terms["calibration"] = 0.15 * cal
        raw += 0.15 * cal
        best += 0.15
    link_rows: list[dict[str, Any]] = []
    if task.links_term:
        uf = _UnionFind()
        link_total = 0.0
        for a, b in links:
            ra, rb = ring_of.get(a), ring_of.get(b)
            if ra is not None and ra == rb:
                if uf.find(a) != uf.find(b):
                    uf.union(a, b)
                    link_total += 0.4
                    link_rows.append({"ad_id": a, "linked_ad_id": b, "correct": True, "credited": True})
                else:
                    link_rows.append({"ad_id": a, "linked_ad_id": b, "correct": True, "credited": False})
            else:
                link_total -= 0.25
                link_rows.append({"ad_id": a, "linked_ad_id": b, "correct": False, "credited": False})
        terms["links"] = link_total
        raw += link_total
        best += 0.4 * sum(size - 1 for size in ring_sizes)
    else:
        link_rows = [{"ad_id": a, "linked_ad_id": b, "correct": False, "credited": False} for a, b in links]
    if task.coverage_term:
        cov = 0.1 * min(1.0, len(verdicts) / max(1, len(queue)))
        terms["coverage"] = cov
        raw += cov
        best += 0.1
    denom = best - baseline
    score = min(1.0, max(0.0, (raw - baseline) / denom)) if denom > 0 else 0.0
    return ({"score": score, "raw": raw, "best": best, "baseline": baseline, "terms": terms}, link_rows)


def fraudster_reward(max_proposals: int, proposals: Sequence[tuple[str, float, float]]) -> float:
    """§10.3: proposals = (final verdict, impact, plausibility) of each own proposal."""
    if max_proposals == 0:
        return 0.0
    total = 0.0
    for verdict, impact, plaus in proposals:
        if verdict == "approve":
            total += impact * plaus
        elif verdict == "reject":
            total -= 0.1
    # Clamp away float rounding (e.g. three rejections sum to -0.30000000000000004) so the
    # reward stays inside its stated range [-0.1, 0.95].
    return min(0.95, max(-0.1, total / max_proposals))


def investigator_reward(grader_score: float, submitted_a: set[tuple[Any, ...]],
                        truth_a: set[tuple[Any, ...]]) -> float:
    """§10.3: grader score minus the capped audit penalty for true Track-A flags the Auditor raised."""
    return grader_score - min(0.2, 0.05 * len(submitted_a & truth_a))


def f1_score(submitted: set[tuple[Any, ...]], truth: set[tuple[Any, ...]]) -> float:
    """Auditor reward: F1 with set semantics; 1.0 when both sets are empty."""
    if not submitted and not truth:
        return 1.0
    return 2 * len(submitted & truth) / (len(submitted) + len(truth))
