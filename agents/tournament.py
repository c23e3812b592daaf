"""Round-robin tournaments of in-process bots: mean grader score and rewards per pairing and task."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
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


class SeedSpecError(ValueError):
    """A seed list that :func:`parse_seeds` cannot read; the message says what was wrong."""


def parse_seeds(spec: str) -> list[int]:
    """Parse ``"0-199"``, ``"5"`` or ``"1,2,10-12"`` into a list of seeds.

    Raises :class:`SeedSpecError` (a ``ValueError``) naming the bad part for anything else: a part
    that is not a non-negative integer or ``lo-hi`` range, a range with ``lo > hi``, or no seed at all.
    """
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        where = repr(part) if part == spec.strip() else f"{part!r} in {spec!r}"
        lo, sep, hi = part.partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
            raise SeedSpecError(f"bad seed range {where}: expected seeds like 0-199 or 1,2,5-9")
        if sep:
            first, last = int(lo), int(hi)
            if first > last:
                raise SeedSpecError(f"bad seed range {where}: {first} > {last}")
            seeds.extend(range(first, last + 1))
        else:
            seeds.append(int(lo))
    if not seeds:
        raise SeedSpecError(f"no seeds in {spec!r}: expected seeds like 0-199 or 1,2,5-9")
    return seeds


MatchDone = Callable[[PairingResult], None]
"""Called after every match of a tournament with the pairing it belongs to (``n`` matches played so far)."""


def run_pairing(task_id: str, seeds: Iterable[int], fraudster: str, investigator: str,
                auditor: str = "heuristic", on_match: MatchDone | None = None) -> PairingResult:
    """Play one pairing over ``seeds``; ``on_match`` is called after each match."""
    res = PairingResult(task_id, fraudster, investigator, auditor)
    for seed in seeds:
        rec = play_match(task_id, seed, fraudster=fraudster, investigator=investigator, auditor=auditor)
        res.grader.append(rec["grader"]["score"])
        for role, value in rec["rewards"].items():
            res.rewards[role].append(value)
        res.end_reasons[rec["end_reason"]] = res.end_reasons.get(rec["end_reason"], 0) + 1
        if on_match is not None:
            on_match(res)
    return res


def run_tournament(task_ids: Sequence[str], seeds: Sequence[int], fraudsters: Sequence[str],
                   investigators: Sequence[str], auditor: str = "heuristic",
                   on_match: MatchDone | None = None) -> list[PairingResult]:
    """Every fraudster against every investigator on every task; ``on_match`` reports progress."""
    return [run_pairing(t, seeds, f, i, auditor, on_match)
            for t in task_ids for f in fraudsters for i in investigators]
