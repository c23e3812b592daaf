"""Admission of new matches by memory: the total cap on anonymous (unjoined) matches and a free-memory floor.

The per-client creation rate (``create_per_min``) stops one client; these limits stop many (docs/operations.md
#exposure-hostile-input-and-stock-clients). A match created without a creator seat (``POST /api/v1/matches``)
holds memory until someone joins it or ``unjoined_ttl_s`` frees it, so the number of such matches is capped in
total by what they may cost: ``unjoined_memory_fraction`` of the node's memory over the memory of one live
match (``match_memory_mb``; by default 64 MiB with an actor per match, 2 MiB when K matches share an actor,
measured in docs/operations.md). Every creation is refused while the node has less than
``min_free_memory_mb`` available. Both answer ``capacity`` with a retry hint, never a crash.
"""

from __future__ import annotations

from pathlib import Path

from fraudarena.served.errors import ErrorCode, ProtocolError
from fraudarena.served.settings import ArenaSettings

MIB = 1 << 20
MEMINFO = Path("/proc/meminfo")
# Seat statuses of a match nobody has joined (the house bots' seats count as unjoined).
UNJOINED_STATUSES = frozenset({"empty", "bot"})


def read_meminfo(path: Path = MEMINFO) -> tuple[int, int] | None:
    """(total, available) bytes of this node from ``/proc/meminfo``; None where it cannot be read."""
    try:
        fields = {}
        for line in path.read_text().splitlines():
            name, _, rest = line.partition(":")
            fields[name] = int(rest.split()[0]) * 1024
        return fields["MemTotal"], fields["MemAvailable"]
    except (OSError, KeyError, ValueError, IndexError):
        return None


def is_unjoined(seat_statuses: dict[str, str]) -> bool:
    """Whether no client has ever held a seat of the match (from its public summary's ``seats``)."""
    return all(status in UNJOINED_STATUSES for status in seat_statuses.values())


def match_memory_bytes(settings: ArenaSettings) -> int:
    """What one live match is taken to cost: ``match_memory_mb``, or the measured default for K."""
    if settings.match_memory_mb is not None:
        return int(settings.match_memory_mb * MIB)
    return (64 if settings.matches_per_actor == 1 else 2) * MIB


def unjoined_cap(settings: ArenaSettings, meminfo: tuple[int, int] | None) -> int | None:
    """The most live unjoined matches allowed in total (None: no memory figure, only ``max_live_matches``)."""
    if settings.max_unjoined_matches:
        return settings.max_unjoined_matches
    if meminfo is None:
        return None
    total, _ = meminfo
    return max(1, int(total * settings.unjoined_memory_fraction) // match_memory_bytes(settings))


def check_admission(settings: ArenaSettings, anonymous: bool, unjoined_live: int,
                    meminfo: tuple[int, int] | None = None) -> None:
    """Raise ``ProtocolError(capacity)`` when a new match may not be created now.

    ``anonymous``: the match is created without a creator seat; ``unjoined_live``: live matches nobody has
    joined yet; ``meminfo``: (total, available) bytes, read from this node when not given.
    """
    info = read_meminfo() if meminfo is None else meminfo
    if info is not None and info[1] < settings.min_free_memory_mb * MIB:
        raise ProtocolError(ErrorCode.CAPACITY, f"the server is low on memory ({info[1] // MIB} MiB available, "
                            f"needs {settings.min_free_memory_mb}); try again later", retry_after_ms=10_000)
    if not anonymous:
        return
    cap = unjoined_cap(settings, info)
    if cap is not None and unjoined_live >= cap:
        raise ProtocolError(ErrorCode.CAPACITY, f"{unjoined_live} created matches are waiting for players (at most "
                            f"{cap}); join one or try again later", retry_after_ms=10_000)
