"""Named random streams and the draw conventions of docs/rules.md §11.2.

Every random choice in a match comes from ``stream(task_id, seed, name)``: a ``random.Random`` seeded
from a blake2b digest of the stream's key, so a match never depends on Python's salted ``hash()``,
global RNGs, set order or clocks. Every draw is one ``rng.random()`` call.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

B32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
SEED_LIMIT = 1 << 63


def stream_seed(task_id: str, seed: int, name: str) -> int:
    """The 64-bit integer that seeds stream ``name`` of match (task_id, seed)."""
    key = f"fraudarena:v1:{task_id}:{seed}:{name}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def stream(task_id: str, seed: int, name: str) -> random.Random:
    """A fresh ``random.Random`` for the named stream of a match."""
    return random.Random(stream_seed(task_id, seed, name))


def bot_seed(task_id: str, seed: int, role: str) -> int:
    """Seed for the in-process house bot of ``role`` (stream ``bot/<role>``)."""
    return stream_seed(task_id, seed, f"bot/{role}")


def pick(u: float, probs: Sequence[float]) -> int:
    """Smallest i with u < p1 + ... + pi (the last index if rounding leaves u above the sum)."""
    acc = 0.0
    last = len(probs) - 1
    for i, p in enumerate(probs):
        acc += p
        if u < acc:
            return i
    return last


def int_range(u: float, a: int, b: int) -> int:
    """int[a, b] = a + int(u * (b - a + 1))."""
    return a + int(u * (b - a + 1))


def member(u: float, items: Sequence[T]) -> T:
    """member(list) = list[int(u * len)]."""
    return items[int(u * len(items))]


_PAIRS = tuple(a + b for a in B32_ALPHABET for b in B32_ALPHABET)  # 10 bits -> 2 chars


def b32(value: int, n: int) -> str:
    """Write ``value`` as ``n`` base-32 characters, most significant first."""
    if n == 6:
        return _PAIRS[(value >> 20) & 1023] + _PAIRS[(value >> 10) & 1023] + _PAIRS[value & 1023]
    if n == 8:
        return (_PAIRS[(value >> 30) & 1023] + _PAIRS[(value >> 20) & 1023] + _PAIRS[(value >> 10) & 1023]
                + _PAIRS[value & 1023])
    out = []
    for _ in range(n):
        out.append(B32_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))
