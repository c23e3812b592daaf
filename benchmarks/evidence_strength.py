"""How informative the evidence is: Bayes accuracy of a fraud-vs-legit call at a 50/50 prior.

Monte Carlo over the engine's own tables (``arena.spec`` surface cues, ``arena.evidence`` targets):
accuracy from surface cues alone, then with 1, 2 and 3 pulls of distinct random targets, plus the
median and 90th percentile of one target's fraud:legit likelihood ratio. Used to tune and document
the evidence tables (docs/rules-changes.md).

    python benchmarks/evidence_strength.py [--samples 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics

from fraudarena.arena import evidence, spec
from fraudarena.arena.rng import pick

FIVE = spec.TARGETS[:5]


def _surface_ll(rng: random.Random, label: str) -> float:
    """log LR(fraud:legit) of one ad's surface cues drawn for ``label``."""
    ll = 0.0
    for table in (spec.GROUP_PROBS, spec.STYLE_PROBS, spec.COUNTRY_GROUP_PROBS):
        k = pick(rng.random(), table[label])
        ll += math.log(table["fraud"][k]) - math.log(table["legit"][k])
    return ll


def _target_ll(rng: random.Random, label: str, target: str, m: int) -> float:
    """log LR(fraud:legit) of one pull of ``target`` on an ad of ``label``."""
    if target == "policy_classifier":
        unsafe = rng.random() < evidence.classifier_unsafe_prob(label, m)
        finding = {"decision": "unsafe" if unsafe else "safe", "markers": ["x"] * m}
    else:
        modes = (label,) * 5
        fields = evidence.draw_fields(rng.random, modes, 1, False)  # type: ignore[arg-type]
        finding = fields[target]
    ll = evidence.finding_log_likelihood(target, finding)
    return ll[1] - ll[0]


def measure(samples: int, seed: int = 0) -> dict[str, object]:
    rng = random.Random(seed)
    correct = [0, 0, 0, 0]
    single_lrs: list[float] = []
    for i in range(samples):
        label = "fraud" if i % 2 else "legit"
        style_pushy = pick(rng.random(), spec.STYLE_PROBS[label]) == 1
        m = rng.randint(1, 2) if style_pushy else 0
        ll = _surface_ll(rng, label)
        targets = rng.sample(spec.TARGETS, 3)
        for k in range(4):
            if k:
                step = _target_ll(rng, label, targets[k - 1], m)
                ll += step
                if k == 1:
                    single_lrs.append(math.exp(abs(step)))
            guess = "fraud" if ll > 0 else "legit"
            correct[k] += guess == label
    lrs = sorted(single_lrs)
    return {
        "accuracy": {"surface": correct[0] / samples, "1 pull": correct[1] / samples,
                     "2 pulls": correct[2] / samples, "3 pulls": correct[3] / samples},
        "one_target_lr_median": statistics.median(lrs),
        "one_target_lr_p90": lrs[int(0.9 * len(lrs))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    res = measure(args.samples)
    if args.json:
        print(json.dumps(res, indent=2))
        return
    acc = res["accuracy"]
    print("Bayes accuracy, fraud vs legit at a 50/50 prior (surface cues + k pulls of random targets)")
    for k, v in acc.items():  # type: ignore[union-attr]
        print(f"  {k:<8} {v:.3f}")
    print(f"one target's LR (symmetric, |log LR|): median {res['one_target_lr_median']:.2f}x, "
          f"90th percentile {res['one_target_lr_p90']:.2f}x")


if __name__ == "__main__":
    main()
