"""``HistoryActor``: the one named, detached, restartable actor that owns the archive of finished matches.

A thin Ray wrapper over ``ArchiveStore``; because the store commits to disk on every append, Ray's
automatic restart (or a fresh actor after ``ray stop``) reopens the same archive. Once a match's entry
is stored for good its journal is deleted (docs/operations.md#faults-and-recovery).
"""

from __future__ import annotations

from typing import Any

import ray

from fraudarena.served.archive_store import ArchiveStore, remove_with_token
from fraudarena.served.journal import remove_journal
from fraudarena.served.settings import ArenaSettings


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=3)
class HistoryActor:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = ArenaSettings(**settings)
        self.store = ArchiveStore(self.settings.archive_file(), self.settings.archive_capacity)
        self.journal_dir = self.settings.journal_path(ray_default=True)

    def fingerprint(self) -> str:
        s = self.settings
        return f"{s.archive_file().resolve()}|{s.archive_capacity}|{s.code_version}"

    def append(self, entries: list[dict[str, Any]]) -> int:
        """Store archive entries (committed before this returns).

        An entry marked ``already_archived`` was stored when its match finished and is not written
        again; one marked ``keep_live`` (a match still lingering on its actor) keeps its journal, every
        other entry's journal is deleted.
        """
        for entry in entries:
            if not entry.get("already_archived"):
                self.store.append(entry["match_id"], entry["summary"], entry["record"], entry.get("secret"))
            if not entry.get("keep_live"):
                remove_journal(self.journal_dir, entry["match_id"])
        return len(self.store)

    def get(self, match_id: str) -> dict[str, Any] | None:
        return self.store.get(match_id)

    def summary(self, match_id: str) -> dict[str, Any] | None:
        return self.store.summary(match_id)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return self.store.recent(limit)

    def remove(self, match_id: str, admin_token: str | None) -> str:
        """``removed``, ``unauthorized`` or ``unknown`` (the admin token is checked against its digest)."""
        return remove_with_token(self.store, match_id, admin_token)

    def count(self) -> int:
        return len(self.store)
