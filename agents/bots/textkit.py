"""Proposal texts for the house Fraudsters (docs/rules.md §4.5 composer, §10.2 template_repetition).

All texts come from ``fraudarena.arena.texts.compose`` (the same composer that writes organic ads, so
pool membership cannot identify a proposal); repetition is judged by the audit's own
``template_repetition`` check, so the bots never duplicate the rules.

Documented choice: a text seed is ``rng.getrandbits(32)`` of the bot's own ``random.Random``; copy,
targeting and landing blurb of one proposal share that seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from fraudarena.arena import audit, texts


@dataclass(frozen=True, slots=True)
class ProposalTexts:
    """The three texts of one proposal and the seed that composed them."""

    copy: str
    targeting: str
    landing: str
    seed: int


def compose_texts(category: str, seed: int, style: str = "plain") -> ProposalTexts:
    """compose(copy/targeting/landing, category, style, seed)."""
    return ProposalTexts(texts.compose("copy", category, style, seed),
                         texts.compose("targeting", category, style, seed),
                         texts.compose("landing", category, style, seed), seed)


def repeats(copy: str, earlier: Sequence[str]) -> bool:
    """Whether ``copy`` would be a template_repetition after the ``earlier`` copies."""
    return bool(audit.template_repetition(copy, list(earlier)))


def fresh_plain_texts(rng: random.Random, category: str, earlier: Sequence[str], max_redraws: int
                      ) -> ProposalTexts:
    """Plain texts whose copy is no template_repetition of ``earlier`` (≤ ``max_redraws`` redraws)."""
    out = compose_texts(category, rng.getrandbits(32))
    redraws = 0
    while redraws < max_redraws and repeats(out.copy, earlier):
        out = compose_texts(category, rng.getrandbits(32))
        redraws += 1
    return out
