"""The archive of finished matches: a ring buffer of summaries in memory, records in SQLite on disk.

Append and eviction are O(1): summaries live in an ``OrderedDict`` (oldest first) and each row is
addressed by its primary key. Everything appended is committed before ``append`` returns, so a restart
of the process (or of the whole cluster) reopens the same archive; ``capacity`` bounds both the
memory and the file. No Ray here; ``HistoryActor`` wraps it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS archive (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    match_id TEXT NOT NULL UNIQUE,
    summary TEXT NOT NULL,
    record TEXT NOT NULL,
    secret BLOB
)
"""


class ArchiveStore:
    """Finished matches, newest last; the oldest is evicted beyond ``capacity``."""

    def __init__(self, path: str | Path, capacity: int) -> None:
        self.path = Path(path)
        self.capacity = capacity
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(archive)")}
        if "secret" not in columns:  # files written before the admin digest was kept
            self._db.execute("ALTER TABLE archive ADD COLUMN secret BLOB")
        self._index: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        for seq, match_id, summary in self._db.execute("SELECT seq, match_id, summary FROM archive ORDER BY seq"):
            self._index[match_id] = (seq, json.loads(summary))
        self._evict()

    def __len__(self) -> int:
        return len(self._index)

    def append(self, match_id: str, summary: dict[str, Any], record: dict[str, Any],
               secret: bytes | None = None) -> None:
        """Store a finished match (replacing an earlier entry with the same id).

        ``secret`` is the SHA-256 digest of the match's admin token (never the token), so that its
        holder can remove the entry (DELETE /api/v1/matches/{id}).
        """
        with self._lock:
            if match_id in self._index:
                self._delete_locked(match_id)
            cur = self._db.execute("INSERT INTO archive (match_id, summary, record, secret) VALUES (?, ?, ?, ?)",
                                   (match_id, json.dumps(summary), json.dumps(record, sort_keys=True), secret))
            self._index[match_id] = (int(cur.lastrowid or 0), summary)
            self._evict()

    def get(self, match_id: str) -> dict[str, Any] | None:
        """``{"summary", "record"}`` of an archived match, or None."""
        entry = self._index.get(match_id)
        if entry is None:
            return None
        row = self._db.execute("SELECT record FROM archive WHERE seq = ?", (entry[0],)).fetchone()
        return {"summary": entry[1], "record": json.loads(row[0]) if row else None}

    def summary(self, match_id: str) -> dict[str, Any] | None:
        entry = self._index.get(match_id)
        return None if entry is None else entry[1]

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recently archived summaries, newest first."""
        out = []
        for match_id in reversed(self._index):
            if len(out) >= limit:
                break
            out.append(self._index[match_id][1])
        return out

    def secret(self, match_id: str) -> bytes | None:
        entry = self._index.get(match_id)
        if entry is None:
            return None
        row = self._db.execute("SELECT secret FROM archive WHERE seq = ?", (entry[0],)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def remove(self, match_id: str) -> bool:
        with self._lock:
            if match_id not in self._index:
                return False
            self._delete_locked(match_id)
            return True

    def close(self) -> None:
        self._db.close()

    def _delete_locked(self, match_id: str) -> None:
        seq, _ = self._index.pop(match_id)
        self._db.execute("DELETE FROM archive WHERE seq = ?", (seq,))

    def _evict(self) -> None:
        while len(self._index) > self.capacity:
            oldest = next(iter(self._index))
            self._delete_locked(oldest)


def remove_with_token(store: ArchiveStore, match_id: str, admin_token: str | None) -> str:
    """Remove an archived match for the holder of its admin token: ``removed``/``unauthorized``/``unknown``."""
    from fraudarena.served import tokens

    if store.summary(match_id) is None:
        return "unknown"
    if not tokens.matches(admin_token, store.secret(match_id)):
        return "unauthorized"
    store.remove(match_id)
    return "removed"
