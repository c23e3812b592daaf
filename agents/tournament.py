"""Round-robin tournaments of in-process bots: mean grader score and rewards per pairing and task."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .play import play_match


@dataclass
class PairingResult:
    """Aggregates of one (task, fraudster, investigator, auditor) pairing over many seeds."""

    task_id: str
    fraudster: str
    investigator: str
    auditor: str
    grader: list[float] = field(default_factory=list)
    rewards: dict[str, list[float]] = field(
        default_factory=lambda: {"fraudster": [], "investigator": [], "auditor": []})
    end_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.grader)

    def mean(self, values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else float("nan")

    def ci95(self, values: Sequence[float]) -> float:
        """Half-width of the normal-approximation 95% confidence interval of the mean."""
        n = len(values)
        if n < 2:
            return float("nan")
        m = self.mean(values)
        var = sum((v - m) ** 2 for v in values) / (n - 1)
        return 1.96 * math.sqrt(var / n)


def parse_seeds(spec: str) -> list[int]:
    """Parse ``"0-199"``, ``"5"`` or ``"1,2,10-12"`` into a list of seeds."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            seeds.extend(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    return seeds


def run_pairing(task_id: str, seeds: Iterable[int], fraudster: str, investigator: str,
                auditor: str = "heuristic") -> PairingResult:
    """Play one pairing over ``seeds``."""
    res = PairingResult(task_id, fraudster, investigator, auditor)
    for seed in seeds:
        rec = play_match(task_id, seed, fraudster=fraudster, investigator=investigator, auditor=auditor)
        res.grader.append(rec["grader"]["score"])
        for role, value in rec["rewards"].items():
            res.rewards[role].append(value)
        res.end_reasons[rec["end_reason"]] = res.end_reasons.get(rec["end_reason"], 0) + 1
    return res


def run_tournament(task_ids: Sequence[str], seeds: Sequence[int], fraudsters: Sequence[str],
                   investigators: Sequence[str], auditor: str = "heuristic") -> list[PairingResult]:
    """Every fraudster against every investigator on every task."""
    return [run_pairing(t, seeds, f, i, auditor) for t in task_ids for f in fraudsters for i in investigators]
