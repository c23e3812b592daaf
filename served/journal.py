"""Per-match journals: the append-only log that lets a live match outlive the process that hosts it.

A journal is one file of JSON lines per match (docs/operations.md#faults-and-recovery):

* ``create``: the match id, its parameters (with the seed the match actually drew), the house bots,
  the SHA-256 digests of the seat and admin tokens (never a token) and the creation time;
* ``act``: one accepted action (role, the normalised action, and the seat's ``seq`` when it had one),
  written before the request that caused it is answered;
* ``seat`` / ``left``: which connection holds a seat, so a rebuilt match keeps its sockets.

Lines are written with one ``os.write`` on an ``O_APPEND`` descriptor, so a SIGKILL of the process loses
nothing that was acknowledged (the bytes are in the kernel); ``fsync`` makes them survive a machine
crash too. The arena is deterministic (docs/rules.md §11.3), so ``create`` + the ``act`` lines *are*
the match: ``LiveMatch.from_journal`` replays them. No Ray here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fraudarena.served.settings import ArenaSettings

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def journal_file(directory: Path, match_id: str) -> Path:
    """Where the journal of ``match_id`` lives under ``directory``."""
    if not _SAFE_ID.match(match_id):
        raise ValueError(f"not a match id: {match_id!r}")
    return directory / f"{match_id}.jsonl"


class MatchJournal:
    """The writing end of one match's journal."""

    def __init__(self, path: Path, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, entry: dict[str, Any]) -> None:
        """Append one line; it is in the kernel (and on disk with ``fsync``) when this returns."""
        if self._fd is None:
            return
        line = (json.dumps(entry, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")
        os.write(self._fd, line)
        if self.fsync:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def open_journal(settings: ArenaSettings, match_id: str) -> MatchJournal | None:
    """A new journal for ``match_id`` when ``settings`` name a journal directory (else None)."""
    directory = settings.journal_path()
    return None if directory is None else MatchJournal(journal_file(directory, match_id), settings.journal_fsync)


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The journal's entries; a torn last line (a write cut short) is ignored, anything else raises."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # no newline after it: the write never completed, so it was never acknowledged
                break
            raise
    if not out or out[0].get("t") != "create":
        raise ValueError(f"{path} does not start with a create entry")
    return out


def remove_journal(directory: Path | None, match_id: str) -> None:
    """Delete a match's journal once its archive entry is stored (missing files are fine)."""
    if directory is None:
        return
    with contextlib.suppress(OSError, ValueError):
        journal_file(directory, match_id).unlink()


def pending_journals(directory: Path | None) -> list[str]:
    """Match ids of the journals left in ``directory`` (matches not yet archived), oldest first."""
    if directory is None or not directory.is_dir():
        return []
    files = sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    return [p.stem for p in files if _SAFE_ID.match(p.stem)]
